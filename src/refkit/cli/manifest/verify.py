"""``refkit manifest verify``: check signed manifests against trusted signers and a policy."""

from __future__ import annotations

from pathlib import Path

import click

from refkit.cli._options import json_option
from refkit.cli._report import emit_report
from refkit.errors import InputError, ParseError, read_input_file
from refkit.manifests.constants import MAX_DOCUMENT_BYTES, PREDICATE_TYPE
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
    TrustedRootNeeded,
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
@click.option(
    "--predicate-type",
    "predicate_types",
    multiple=True,
    metavar="URI",
    help="Accept statements of this predicate type (repeat); without --policy. Default: "
    "only refkit reference manifests. For another type (e.g. an SLSA VSA) signatures, "
    "threshold and type are verified; expiry, release name and rollback are not checked.",
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
    predicate_types: tuple[str, ...],
    as_json: bool,
) -> None:
    """Verify the signed reference manifest in BUNDLE... (one bundle per signer).

    \b
    All bundles must carry the same statement. Distinct trusted signers are counted
    against the threshold; then the predicate type, expiry and anti-rollback are checked.
    Each check is printed with its code (docs/codes.md): PASS, FAIL or SKIP (not checked).
    Exit codes: 0 verified, 1 verification failed (bad or untrusted signature, too few
    signers, wrong identity, expired, rolled back, a predicate type not accepted, a
    manifest this refkit does not understand, or a required check that could not be
    made), 2 bad input, 3 environment (sigstore-python missing for a keyless bundle,
    stdout closed), 4 a bug in refkit.

    \b
    Examples:
      refkit manifest verify release.bundle.json --key release.key.pub
      refkit manifest verify a.bundle.json b.bundle.json --policy trust.yaml --json
      refkit manifest verify vsa.bundle.json --key ci.key.pub \\
          --predicate-type https://slsa.dev/verification_summary/v1
      refkit manifest verify ci.bundle.json --trusted-root trusted_root.json \\
          --identity https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.0.0 \\
          --issuer https://token.actions.githubusercontent.com
    """
    policy = _policy(policy_path, keys, identities, issuers, threshold, predicate_types)
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
    try:
        result = verify_manifest(
            [(str(b), read_input_file(b, what="bundle", limit=MAX_BUNDLE_BYTES)) for b in bundles],
            policy,
            at=at,
            at_source=at_source,
            trusted_root=root,
            min_version=min_version,
            min_version_origin="--min-version",
            previous=prev,
        )
    except TrustedRootNeeded as exc:
        raise InputError(
            exc.message, hint="give --trusted-root FILE (or trusted-root in the policy file)"
        ) from None
    emit_report(
        result.verdict,
        as_json=as_json,
        document=result.to_json(),
        facts=_facts(result),
        notes=[
            f"{b.source}: {b.detail} (not counted: the threshold was met without it)"
            for b in result.unused_bundles
        ],
    )
    result.raise_for_failure()


def _policy(
    policy_path: Path | None,
    keys: tuple[Path, ...],
    identities: tuple[str, ...],
    issuers: tuple[str, ...],
    threshold: int | None,
    predicate_types: tuple[str, ...],
) -> TrustPolicy:
    if policy_path is not None:
        if keys or identities or issuers or threshold is not None or predicate_types:
            raise InputError(
                "--policy names the trusted signers, threshold and accepted types: do not "
                "combine it with --key, --identity, --issuer, --threshold or --predicate-type"
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
    if not signers:
        raise InputError(
            "no trusted signers",
            hint="give --key, --identity/--issuer or a --policy file naming signers",
        )
    if any(not t for t in predicate_types):
        raise InputError(
            "--predicate-type needs a URI, for example https://slsa.dev/verification_summary/v1"
        )
    return TrustPolicy(
        signers=tuple(signers),
        threshold=threshold or 1,
        predicate_types=tuple(dict.fromkeys(predicate_types)) or (PREDICATE_TYPE,),
    )


def _facts(result: VerificationResult) -> list[tuple[str, str]]:
    facts = [("payload sha256", str(result.payload_sha256))]
    if result.predicate_type is not None:
        facts.append(("predicate type", result.predicate_type))
    facts.append(
        (
            "signers verified",
            f"{len(result.verified_signers)} of {result.trusted_signers} trusted, "
            f"{result.threshold} required"
            + (f" ({', '.join(result.verified_signers)})" if result.verified_signers else ""),
        )
    )
    if result.missing_signers and result.bundles:
        facts.append(("not signed by", ", ".join(result.missing_signers)))
    facts.append(("time", f"{format_time(result.at)} ({result.at_source})"))
    return facts
