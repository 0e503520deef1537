"""``refkit weights disk`` and ``refkit weights bind``: the verity disk of a model, and the
proof that a disk holds a manifest's files. Loaded lazily by the ``weights`` group.

Each command parses its options, calls one library function (:func:`refkit.weights.disk.
build_disk`, :func:`refkit.weights.bind.bind`) and renders the result.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from refkit.cli._options import json_option
from refkit.cli._output import emit_json, emit_text, state
from refkit.cli.weights import algorithm_option, shard_option
from refkit.errors import InputError

_dir = click.Path(file_okay=False, path_type=Path)
_file = click.Path(dir_okay=False, path_type=Path)


class Stages:
    """Progress on stderr, one stage at a time (copy, digest, verity): bytes and MB/s,
    redrawn at most 4 times a second on a terminal; silent otherwise and with -q."""

    def __init__(self) -> None:
        self.enabled = not state().quiet and sys.stderr.isatty()
        self.stage = ""
        self.done = 0
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, stage: str, count: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if stage != self.stage:
            self.stage, self.done, self.started = stage, 0, now
        self.done += count
        if now - self.last >= 0.25:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9) / 1e6
            click.echo(
                f"\r{stage}: {self.done / 1e6:,.1f} MB, {rate:,.1f} MB/s   ", err=True, nl=False
            )

    def finish(self) -> None:
        if self.enabled and self.stage:
            click.echo("", err=True)


def _salt(value: str) -> bytes:
    from refkit.weights.verity import parse_salt

    try:
        return parse_salt(value)
    except InputError as exc:
        raise click.BadParameter(exc.message, param_hint="--salt") from None


def _epoch() -> int:
    text = os.environ.get("SOURCE_DATE_EPOCH")
    if text is None:
        return 0
    from refkit.times import from_epoch_text

    return int(from_epoch_text(text, source="SOURCE_DATE_EPOCH").timestamp())


@click.command("disk", context_settings={"max_content_width": 100})
@click.argument("model_dir", metavar="DIR", type=_dir)
@click.option("-o", "--output", type=_file, required=True, help="The disk image to write.")
@click.option(
    "--salt",
    default="00",
    show_default=True,
    metavar="HEX|-",
    help="dm-verity salt: hex, or - for none. 00 is Privatemode's; Tinfoil uses the sha256 "
    "of name@revision.",
)
@click.option(
    "--uuid",
    default="00000000-0000-0000-0000-000000000000",
    show_default=True,
    help="UUID in the verity superblock (the EROFS UUID is always the nil UUID).",
)
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="PATH",
    help="Leave this path (relative to DIR, or a glob) out of the disk; repeatable. git's "
    "paths (.git, .gitattributes, .github, .gitignore) are always left out.",
)
@click.option(
    "--hash-file",
    type=_file,
    help="Write the verity hash area to this file instead of appending it to the image.",
)
@click.option("--name", help="The model's name (default: the directory's name); recorded.")
@click.option("--source", "model_source", help="Where the model comes from (recorded), e.g. a URL.")
@click.option(
    "--revision", "commit_hash", help="The model's revision, e.g. a git commit (recorded)."
)
@shard_option
@algorithm_option
@click.option("--force", is_flag=True, help="Replace existing output files.")
@json_option
def disk(
    model_dir: Path,
    output: Path,
    salt: str,
    uuid: str,
    excludes: tuple[str, ...],
    hash_file: Path | None,
    name: str | None,
    model_source: str | None,
    commit_hash: str | None,
    shard_size: int | None,
    algorithm: str,
    force: bool,
    as_json: bool,
) -> None:
    """Build a deterministic verity disk of the model in DIR.

    \b
    An EROFS image of the files (mkfs.erofs from erofs-utils: modes normalised to
    0644/0755, fixed times from SOURCE_DATE_EPOCH or 0, root owner, nil UUID), with a
    dm-verity hash tree appended at the image's size (or in --hash-file), computed by
    refkit and bit-identical to veritysetup format's. Prints the record: the verity root,
    the files digest of the same files (a model manifest's subject; --shard-size and
    --algorithm as weights digest takes them), and every parameter.

    \b
    Examples:
      refkit weights disk ./all-MiniLM-L6-v2 -o model.img --revision c9745ed1
      refkit weights disk ./model -o model.img --hash-file model.hash --salt - --json
    """
    from refkit.weights.disk import build_disk
    from refkit.weights.verity import parse_uuid

    try:
        parse_uuid(uuid)
    except InputError as exc:
        raise click.BadParameter(exc.message, param_hint="--uuid") from None
    progress = Stages()
    record = build_disk(
        model_dir,
        output,
        salt=_salt(salt),
        uuid=uuid,
        exclude=excludes,
        hash_file=hash_file,
        model_source=model_source,
        commit_hash=commit_hash,
        name=name,
        files_algorithm=algorithm,
        shard_size=shard_size,
        epoch=_epoch(),
        force=force,
        progress=progress,
    )
    progress.finish()
    doc = record.to_json()
    if as_json:
        emit_json(doc)
        return
    emit_text(
        "\n".join(
            [
                f"disk: {doc['image']}"
                + (f" (hash area in {doc['hashFile']})" if doc["hashFile"] else ""),
                f"verity root: {doc['verityRoot']}",
                f"files digest: sha256:{doc['filesDigest']['digest']} ({doc['fileCount']} files)",
                f"hash offset: {doc['hashOffset']}",
                f"salt: {doc['salt']}  uuid: {doc['uuid']}",
                f"image sha256: {doc['imageSha256']}",
                f"erofs: {doc['erofs_version']}",
            ]
        )
    )


@click.command("bind", context_settings={"max_content_width": 100})
@click.argument("image", type=_file)
@click.option(
    "--manifest",
    "manifest_path",
    type=_file,
    required=True,
    help="The model manifest: an OMS statement, the weights digest --json record, or a "
    "signature bundle (its signature is not checked here: use weights verify).",
)
@click.option(
    "--root-hash",
    metavar="HEX",
    help="Expected verity root: the disk's stored tree and root are checked first.",
)
@click.option(
    "--hash-offset",
    type=click.IntRange(min=0),
    metavar="N",
    help="Where the hash area starts (default: the EROFS size, where weights disk puts it).",
)
@click.option("--hash-file", type=_file, help="The hash area, when it was written apart.")
@json_option
def bind(
    image: Path,
    manifest_path: Path,
    root_hash: str | None,
    hash_offset: int | None,
    hash_file: Path | None,
    as_json: bool,
) -> None:
    """Prove that the verity disk IMAGE holds exactly the files of a model manifest.

    \b
    The disk is checked and extracted with fsck.erofs (erofs-utils) into a temporary
    directory, digested with the manifest's parameters, and compared file by file:
    missing, extra and changed files are named (exit 1). With --root-hash, the disk's
    verity tree and root are checked first, so the files are bound to that root.

    \b
    Examples:
      refkit weights bind model.img --manifest model.oms.json --root-hash 5e1c...
    """
    from refkit.cli._report import emit_report
    from refkit.weights.bind import bind as bind_disk

    expected = None
    if root_hash is not None:
        try:
            expected = bytes.fromhex(root_hash)
        except ValueError:
            raise click.BadParameter(
                f"{root_hash[:80]!r} is not hex digits", param_hint="--root-hash"
            ) from None
    progress = Stages()
    verdict = bind_disk(
        image,
        manifest_path,
        expected_root=expected,
        hash_offset=hash_offset,
        hash_file=hash_file,
        progress=progress,
    )
    progress.finish()
    facts = [(k, str(v)) for k, v in verdict.facts.items() if k != "serialization"]
    emit_report(verdict, as_json=as_json, facts=facts)
    verdict.raise_for_failure()
