"""``refkit weights``: digest, sign and verify model weights (OpenSSF model signing format).

Each command parses its options, calls one library function (:mod:`refkit.weights`) and
renders the result: text or ``--json`` on stdout, progress (bytes/s) on stderr. The verity
disk commands (``disk``, ``bind``) live in :mod:`refkit.cli.weights_disk`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from refkit.cli._lazy import LazyGroup
from refkit.cli._options import json_option
from refkit.cli._output import emit_json, emit_text, state
from refkit.errors import InputError

_dir = click.Path(exists=False, file_okay=False, path_type=Path)
_file = click.Path(dir_okay=False, path_type=Path)

_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30}


def _size(text: str) -> int:
    """``1000000``, ``100M``, ``1GiB``: bytes (decimal K/M/G, binary Ki/Mi/Gi)."""
    t = text.strip().lower().removesuffix("b")
    digits = t.rstrip("kmgi")
    unit = t[len(digits) :]
    if not digits.isdigit() or unit not in _UNITS:
        raise click.BadParameter(f"{text!r} is not a size (e.g. 1000000, 500M, 1GiB)")
    value = int(digits) * _UNITS[unit]
    if value < 1:
        raise click.BadParameter("must be at least 1 byte")
    return value


class _SizeType(click.ParamType[int, Any]):
    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        return _size(str(value))


algorithm_option = click.option(
    "--algorithm",
    type=click.Choice(["sha256", "blake2", "blake3", "sha384"]),
    default="sha256",
    show_default=True,
    help="Hash of each file or shard (blake2 is recorded as blake2b, as model_signing names "
    "it; model_signing 1.1.1 verifies only sha256 and blake3 manifests).",
)
shard_option = click.option(
    "--shard-size",
    type=_SizeType(),
    default=None,
    help="Hash files in shards of this many bytes (model_signing's 'shards' serialization; "
    "its default is 1000000000). Without it, one digest per file.",
)
ignore_option = click.option(
    "--ignore-paths",
    "ignore_paths",
    multiple=True,
    metavar="PATH",
    help="Leave out this path (relative to DIR; a directory leaves out all below it; "
    "* ? [ ] match as a glob). Repeatable.",
)
symlink_option = click.option(
    "--allow-symlinks",
    is_flag=True,
    help="Hash symbolic links to files inside DIR as their target's content (refused "
    "otherwise; never followed outside DIR).",
)
git_option = click.option(
    "--ignore-git-paths/--no-ignore-git-paths",
    default=True,
    show_default=True,
    help="Leave out .git, .gitattributes, .github and .gitignore, as model_signing does.",
)
workers_option = click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Hashing threads (default: CPUs)."
)


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "disk": ("refkit.cli.weights_disk", "disk"),
        "bind": ("refkit.cli.weights_disk", "bind"),
    },
)
def weights() -> None:
    """Model weights: files digest (OpenSSF model signing) and verity disk identities.

    \b
    The files digest is the subject of a model manifest (per-file or per-shard digests),
    signed and verified interoperably with model_signing. The verity root identifies a
    deterministic EROFS disk of the same files (weights disk). They are different values.
    """


class _Rate:
    """Progress on stderr: a bar, bytes hashed and bytes/s, redrawn at most 4 times a
    second on a terminal; one summary line otherwise. Silenced by -q."""

    def __init__(self, what: str) -> None:
        self.enabled = not state().quiet
        self.tty = sys.stderr.isatty()
        self.done = 0
        self.total = 0
        self.started = time.monotonic()
        self.last = 0.0
        self.what = what

    def set_total(self, total: int) -> None:
        self.total = total

    def __call__(self, count: int) -> None:
        self.done += count
        if not (self.enabled and self.tty):
            return
        now = time.monotonic()
        if now - self.last >= 0.25:
            self.last = now
            click.echo(f"\r{self.what}: {self._text(now)}   ", err=True, nl=False)

    def _text(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = f"{self.done / 1e6:,.1f} MB, {self.done / elapsed / 1e6:,.1f} MB/s"
        if not self.total:
            return rate
        share = min(self.done / self.total, 1.0)
        filled = int(share * 24)
        return f"[{'#' * filled}{'.' * (24 - filled)}] {share:4.0%} {rate}"

    def finish(self) -> None:
        if not self.enabled or (self.done == 0 and not self.tty):
            return
        now = time.monotonic()
        prefix = "\r" if self.tty else ""
        click.echo(
            f"{prefix}{self.what}: {self._text(now)} in {now - self.started:.2f} s   ", err=True
        )


def _digest(
    model_dir: Path,
    *,
    algorithm: str,
    shard_size: int | None,
    ignore_paths: tuple[str, ...],
    allow_symlinks: bool,
    ignore_git: bool,
    workers: int | None,
    cache_path: Path | None = None,
    what: str = "hashed",
    name: str | None = None,
) -> Any:
    from refkit.weights.digest import digest_model

    cache = None
    if cache_path is not None:
        from refkit.weights.cache import DigestCache

        cache = DigestCache(cache_path)
    rate = _Rate(what)
    manifest = digest_model(
        model_dir,
        algorithm=algorithm,
        shard_size=shard_size,
        ignore=ignore_paths,
        ignore_git=ignore_git,
        allow_symlinks=allow_symlinks,
        workers=workers,
        progress=rate,
        on_total=rate.set_total,
        cache=cache,
        name=name,
    )
    rate.finish()
    if cache is not None:
        cache.save()
    return manifest


@weights.command("digest")
@click.argument("model_dir", metavar="DIR", type=_dir)
@shard_option
@algorithm_option
@ignore_option
@git_option
@symlink_option
@workers_option
@click.option(
    "--cache",
    "cache_path",
    type=_file,
    default=None,
    help="Incremental cache file (opt-in): files whose path, size, mtime, inode and device "
    "are unchanged since the last run are not read again; the output lists them.",
)
@click.option(
    "--name",
    "model_name",
    default=None,
    help="The model's name in the manifest (default: DIR's name, as model_signing does); "
    "`manifest build --add-model` matches it with the YAML's models[].name.",
)
@click.option(
    "-o",
    "--output",
    type=_file,
    default=None,
    help="Also write the model manifest (the in-toto statement, canonical JSON) here.",
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@json_option
def digest_command(
    model_dir: Path,
    shard_size: int | None,
    algorithm: str,
    ignore_paths: tuple[str, ...],
    ignore_git_paths: bool,
    allow_symlinks: bool,
    workers: int | None,
    cache_path: Path | None,
    model_name: str | None,
    output: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Digest every file (or shard) of the model in DIR: the files digest and its manifest.

    Prints the files digest (SHA-256 over the per-file digests, the subject of the OpenSSF
    model signing manifest) and the parameters that produced it; --json prints the record
    that `refkit manifest build --add-model` reads, with the whole statement.

    \b
    Example:
      refkit weights digest ./all-MiniLM-L6-v2 --shard-size 100M --json > model.digest.json
    """
    from refkit.weights.oms import statement_bytes

    manifest = _digest(
        model_dir,
        algorithm=algorithm,
        shard_size=shard_size,
        # files refkit writes inside DIR would otherwise be digested (and change each run)
        ignore_paths=(
            *ignore_paths,
            *(
                rel
                for p in (cache_path, output)
                if p is not None
                for rel in _relative_ignore(model_dir, p)
            ),
        ),
        allow_symlinks=allow_symlinks,
        ignore_git=ignore_git_paths,
        workers=workers,
        cache_path=cache_path,
        name=model_name,
    )
    if output is not None:
        from refkit.atomic import write_file

        write_file(output, statement_bytes(manifest) + b"\n", force=force)
    if as_json:
        emit_json(manifest.to_json())
        return
    lines = [
        f"model: {manifest.name}",
        f"files digest: sha256:{manifest.files_digest}",
        f"serialization: {_serialization_text(manifest.serialization())}",
        f"resources: {len(manifest.resources)}",
    ]
    if cache_path is not None:
        lines.append(f"from cache: {len(manifest.cached)} file(s)")
        lines.extend(f"  {name}" for name in manifest.cached)
    emit_text("\n".join(lines))


def _serialization_text(ser: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in ser.items() if k != "ignore_paths"]
    if ser.get("ignore_paths"):
        parts.append("ignore_paths=" + ",".join(ser["ignore_paths"]))
    return " ".join(parts)


def _relative_ignore(model_dir: Path, path: Path) -> list[str]:
    """``path`` (a file refkit writes) relative to DIR, when it is inside DIR."""
    try:
        return [Path(os.path.abspath(path)).relative_to(os.path.abspath(model_dir)).as_posix()]
    except ValueError:
        return []


@weights.command("sign")
@click.argument("model_dir", metavar="DIR", type=_dir)
@click.option(
    "--key",
    "key_path",
    type=_file,
    required=True,
    help="PEM private key (ECDSA P-256 or P-384: model_signing verifies no other type).",
)
@click.option(
    "--passphrase-env",
    default="REFKIT_KEY_PASSPHRASE",
    show_default=True,
    metavar="NAME",
    help="Environment variable holding an encrypted key's passphrase.",
)
@click.option(
    "-o",
    "--output",
    type=_file,
    required=True,
    help="Signature bundle to write (Sigstore bundle v0.3 JSON); left out of the digest "
    "when inside DIR.",
)
@shard_option
@algorithm_option
@ignore_option
@git_option
@symlink_option
@workers_option
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@json_option
def sign_command(
    model_dir: Path,
    key_path: Path,
    passphrase_env: str,
    output: Path,
    shard_size: int | None,
    algorithm: str,
    ignore_paths: tuple[str, ...],
    ignore_git_paths: bool,
    allow_symlinks: bool,
    workers: int | None,
    force: bool,
    as_json: bool,
) -> None:
    """Digest the model in DIR and sign its manifest with a local key.

    The bundle carries model_signing's public-key hint, so `model_signing verify key`
    accepts it, as does `refkit weights verify --public-key`.

    \b
    Example:
      refkit weights sign ./model --key release.key -o model.sig
    """
    from refkit.atomic import check_target, write_file
    from refkit.cli._keys import load_signing_key
    from refkit.weights.signing import sign_model

    check_target(output, force=force)
    key = load_signing_key(key_path, passphrase_env)
    manifest = _digest(
        model_dir,
        algorithm=algorithm,
        shard_size=shard_size,
        ignore_paths=(*ignore_paths, *_relative_ignore(model_dir, output)),
        allow_symlinks=allow_symlinks,
        ignore_git=ignore_git_paths,
        workers=workers,
    )
    bundle = sign_model(manifest, key, source=str(key_path))
    write_file(output, bundle, force=force)
    signer = key.public_key().label
    if as_json:
        emit_json(
            {
                "model": manifest.name,
                "filesDigest": {"algorithm": "sha256", "digest": manifest.files_digest},
                "signature": str(output),
                "signer": signer,
                "serialization": manifest.serialization(),
            }
        )
        return
    emit_text(
        f"signed {manifest.name}: files digest sha256:{manifest.files_digest}\n"
        f"signer: {signer}\nsignature: {output}"
    )


@weights.command("verify")
@click.argument("model_dir", metavar="DIR", type=_dir)
@click.option(
    "--signature",
    "signature",
    type=_file,
    required=True,
    help="The signature bundle (model_signing's model.sig, or refkit weights sign's).",
)
@click.option("--public-key", type=_file, default=None, help="Trusted PEM public key.")
@click.option(
    "--certificate-chain",
    "certificate_chain",
    type=_file,
    multiple=True,
    help="Trusted PEM certificates (root and intermediates) the signing certificate must "
    "chain to. Repeatable.",
)
@click.option("--identity", default=None, help="Sigstore: the signer's certificate identity.")
@click.option("--issuer", default=None, help="Sigstore: the identity's OIDC issuer URL.")
@click.option(
    "--trusted-root",
    type=_file,
    default=None,
    help="Sigstore: the trusted root JSON (pinned; verification is offline).",
)
@ignore_option
@workers_option
@json_option
def verify_command(
    model_dir: Path,
    signature: Path,
    public_key: Path | None,
    certificate_chain: tuple[Path, ...],
    identity: str | None,
    issuer: str | None,
    trusted_root: Path | None,
    ignore_paths: tuple[str, ...],
    workers: int | None,
    as_json: bool,
) -> None:
    """Verify the signed model manifest and every file of DIR against it.

    Checks the signature with exactly one trust source (--public-key, --certificate-chain,
    or --identity with --issuer and --trusted-root), then digests DIR again with the
    signed parameters (never from a cache) and names each changed, missing or extra file.
    Exit 0 if all pass, 1 if any check fails, 2 for unreadable input.

    \b
    Example:
      refkit weights verify ./model --signature model.sig --public-key release.key.pub
    """
    from refkit.errors import read_input_file
    from refkit.manifests.signing.keys import MAX_KEY_BYTES, load_public_key
    from refkit.weights import verify as wv

    chosen = [
        name
        for name, given in (
            ("--public-key", public_key is not None),
            ("--certificate-chain", bool(certificate_chain)),
            ("--identity/--issuer/--trusted-root", any((identity, issuer, trusted_root))),
        )
        if given
    ]
    if len(chosen) != 1:
        raise InputError(
            "give exactly one trust source: --public-key, --certificate-chain, or "
            "--identity with --issuer and --trusted-root"
            + (f" (got {', '.join(chosen)})" if chosen else "")
        )
    trust: wv.Trust
    if public_key is not None:
        key = load_public_key(
            read_input_file(public_key, what="public key", limit=MAX_KEY_BYTES),
            source=str(public_key),
        )
        trust = wv.TrustKey(key, str(public_key))
    elif certificate_chain:
        pem = b"".join(
            read_input_file(p, what="certificate chain", limit=1 << 20) for p in certificate_chain
        )
        trust = wv.TrustChain(pem, ", ".join(map(str, certificate_chain)))
    else:
        if not (identity and issuer and trusted_root):
            raise InputError("Sigstore verification needs --identity, --issuer and --trusted-root")
        trust = wv.TrustSigstore(
            identity,
            issuer,
            read_input_file(trusted_root, what="trusted root", limit=16 << 20),
            str(trusted_root),
        )
    data = read_input_file(signature, what="signature", limit=256 << 20)
    rate = _Rate("verified")
    verdict = wv.verify_model(
        model_dir,
        data,
        source=str(signature),
        trust=trust,
        ignore=ignore_paths,
        signature_path=signature,
        workers=workers,
        progress=rate,
        on_total=rate.set_total,
    )
    rate.finish()
    from refkit.cli._report import emit_report

    shown = {"model": "model", "filesDigest": "files digest", "resources": "resources"}
    facts = [(shown[k], str(v)) for k, v in verdict.facts.items() if k in shown]
    if "serialization" in verdict.facts:
        facts.append(("serialization", _serialization_text(verdict.facts["serialization"])))
    emit_report(verdict, as_json=as_json, facts=facts)
    verdict.raise_for_failure()
