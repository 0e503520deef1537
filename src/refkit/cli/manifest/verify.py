"""``refkit manifest verify``: check signed manifests against trusted signers and a policy."""

from __future__ import annotations

from pathlib import Path

import click

from refkit.cli._options import json_option
from refkit.cli._output import emit_json, emit_text
from refkit.errors import InputError, ParseError, read_input_file
from refkit.manifests.constants import MAX_DOCUMENT_BYTES
from refkit.manifests.signing.bundle import MAX_BUNDLE_BYTES
from refkit.manifests.signing.keyless import SigstoreIdentity, TrustedRoot
from refkit.manifests.signing.keys import MAX_KEY_BYTES, load_public_key
from refkit.manifests.signing.policy import (
    MAX_POLICY_BYTES,
    IdentitySigner,
    KeySigner,
    Signer,
    TrustPolicy,
    key_signer_name,
    parse_policy,
)
from refkit.manifests.signing.verify import (
    VerificationResult,
    clock,
    previous_release,
    verify_manifest,
)
from refkit.times import format_time, parse_rfc3339

_path = click.Path(dir_okay=False, path_type=Path)


@click.command()
@click.argument("bundles", nargs=-1, required=True, type=_path)
@click.option("--key", "keys", multiple=True, type=_path, help="Trusted PEM public key (repeat).")
@click.option(
    "--identity",
    "identities",
    multiple=True,
    metavar="ID",
    help="Trusted Sigstore identity (certificate SAN); repeat, each with an --issuer.",
)
@click.option(
    "--issuer", "issuers", multiple=True, metavar="URL", help="OIDC issuer of each --identity."
)
@click.option(
    "--trusted-root",
    type=_path,
    help="Sigstore trusted-root JSON for keyless bundles (verification is offline).",
)
@click.option(
    "--policy",
    "policy_path",
    type=_path,
    help="Trust-policy YAML (signers, threshold, accepted types); see docs/signing.md.",
)
@click.option(
    "--threshold",
    type=click.IntRange(min=1),
    help="Distinct trusted signers required (without --policy; default 1).",
)
@click.option("--min-version", metavar="V", help="Refuse releases older than V (SemVer).")
@click.option(
    "--previous",
    type=_path,
    help="A previously trusted manifest or bundle: same release name, not an older version.",
)
@click.option(
    "--at",
    "at_text",
    metavar="TIME",
    help="Verification time for expiry checks (RFC 3339, e.g. 2026-01-31T12:00:00Z); "
    "default: the clock.",
)
@json_option
def verify(
    bundles: tuple[Path, ...],
    keys: tuple[Path, ...],
    identities: tuple[str, ...],
    issuers: tuple[str, ...],
    trusted_root: Path | None,
    policy_path: Path | None,
    threshold: int | None,
    min_version: str | None,
    previous: Path | None,
    at_text: str | None,
    as_json: bool,
) -> None:
    """Verify the signed reference manifest in BUNDLE... (one bundle per signer).

    \b
    All bundles must carry the same statement. Distinct trusted signers are counted
    against the threshold; then the predicate type, expiry and anti-rollback are checked.
    Exit codes: 0 verified, 1 verification failed (bad or untrusted signature, too few
    signers, wrong identity, expired, rolled back, not a refkit manifest), 2 bad input,
    3 environment (sigstore-python missing for a keyless bundle, stdout closed), 4 a
    bug in refkit.

    \b
    Examples:
      refkit manifest verify release.bundle.json --key release.key.pub
      refkit manifest verify a.bundle.json b.bundle.json --policy trust.yaml --json
      refkit manifest verify ci.bundle.json --trusted-root trusted_root.json \\
          --identity https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.0.0 \\
          --issuer https://token.actions.githubusercontent.com
    """
    policy = _policy(policy_path, keys, identities, issuers, threshold)
    root_path = trusted_root or (
        Path(policy.trusted_root_path) if policy.trusted_root_path else None
    )
    root = (
        TrustedRoot(
            str(root_path),
            read_input_file(root_path, what="trusted root", limit=MAX_DOCUMENT_BYTES),
        )
        if root_path is not None
        else None
    )
    if at_text is not None:
        try:
            at, at_source = parse_rfc3339(at_text, source="--at", field="time"), "--at"
        except ParseError as exc:
            raise InputError(
                f"--at {exc.reason}", hint="for example --at 2026-12-01T00:00:00Z"
            ) from None
    else:
        at, at_source = clock(), "clock"
    prev = None
    if previous is not None:
        data = read_input_file(previous, what="previous manifest", limit=MAX_DOCUMENT_BYTES)
        prev = previous_release(data, source=str(previous))
    result = verify_manifest(
        [(str(b), read_input_file(b, what="bundle", limit=MAX_BUNDLE_BYTES)) for b in bundles],
        policy,
        at=at,
        at_source=at_source,
        trusted_root=root,
        min_version=min_version,
        previous=prev,
    )
    if as_json:
        emit_json(result.to_json())
    else:
        emit_text(_render(result))
    result.raise_for_failure()


def _policy(
    policy_path: Path | None,
    keys: tuple[Path, ...],
    identities: tuple[str, ...],
    issuers: tuple[str, ...],
    threshold: int | None,
) -> TrustPolicy:
    if policy_path is not None:
        if keys or identities or issuers or threshold is not None:
            raise InputError(
                "--policy names the trusted signers and threshold: "
                "do not combine it with --key, --identity, --issuer or --threshold"
            )
        data = read_input_file(policy_path, what="trust policy", limit=MAX_POLICY_BYTES)
        return parse_policy(
            data,
            source=str(policy_path),
            read=lambda p: read_input_file(Path(p), what="public key", limit=MAX_KEY_BYTES),
            base_dir=policy_path.parent,
        )
    if len(identities) != len(issuers):
        raise InputError("give one --issuer for each --identity, in the same order")
    signers: list[Signer] = []
    for path in keys:
        key = load_public_key(
            read_input_file(path, what="public key", limit=MAX_KEY_BYTES), source=str(path)
        )
        if any(isinstance(s, KeySigner) and s.key == key for s in signers):
            continue  # the same key given twice is one signer
        signers.append(KeySigner(key_signer_name(key), key))
    for ident, iss in zip(identities, issuers, strict=True):
        signers.append(IdentitySigner(ident, SigstoreIdentity(ident, iss)))
    return TrustPolicy(signers=tuple(signers), threshold=threshold or 1)


def _render(result: VerificationResult) -> str:
    lines = []
    rel = result.release
    what = f"{rel.name} {rel.version}" if rel else "manifest"
    lines.append(f"{'VERIFIED' if result.ok else 'FAILED'}: {what}")
    if result.failure:
        lines.append(f"  reason: {result.failure}")
    lines.append(f"  payload sha256: {result.payload_sha256}")
    lines.append(
        f"  signers verified: {len(result.verified_signers)} of {result.trusted_signers} "
        f"trusted, {result.threshold} required"
        + (f" ({', '.join(result.verified_signers)})" if result.verified_signers else "")
    )
    if result.missing_signers and result.bundles:
        lines.append(f"  not signed by: {', '.join(result.missing_signers)}")
    for b in result.bundles:
        lines.append(f"  {'ok  ' if b.ok else 'FAIL'} {b.source}: {b.detail}")
    for c in result.checks:
        lines.append(f"  {'ok  ' if c.ok else 'FAIL'} {c.check}: {c.detail}")
    lines.append(f"  time: {format_time(result.at)} ({result.at_source})")
    return "\n".join(lines)
