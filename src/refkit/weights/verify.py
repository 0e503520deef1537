"""Verify a signed model: the signature, then the signed manifest, then every file.

The steps, each a :class:`~refkit.verification.Result` with a ``weights.*`` code:

1. **Signature.** The bundle (any producer's Sigstore bundle, model_signing's included) is
   verified with what the caller trusts, one of:
   a public key (:class:`TrustKey`: DSSE signature over PAE; the bundle's hint is
   unsigned and only named in messages), a certificate chain (:class:`TrustChain`: the
   bundle's leaf certificate must chain to one of the given certificates, every
   certificate valid at the leaf's notBefore (model_signing's rule: the signing time),
   issuers CA certificates, the leaf allowed to sign; then the DSSE signature with the
   leaf's key), or a Sigstore identity (:class:`TrustSigstore`: sigstore-python, offline,
   with a pinned trusted root). A signature that fails stops here: an unverified payload
   is never read.
2. **Manifest.** The payload is parsed strictly as an OMS statement
   (:func:`refkit.weights.oms.parse_statement`); its subject, the files digest, must be
   the SHA-256 over the resource digests in the order the predicate gives them.
3. **Files.** The model directory is digested again with the manifest's own parameters
   (method, hash type, shard size, symlink policy, its ignore paths plus the caller's and
   the signature file when it lies inside the directory), never from a cache, and compared
   file by file: each changed, missing or extra file is its own failing result.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from refkit.errors import InputError, UnsupportedInput
from refkit.manifests.signing.bundle import Bundle, CertificateMaterial, PublicKeyHint, parse_bundle
from refkit.manifests.signing.dsse import Envelope, verify_signature
from refkit.manifests.signing.keys import PublicKey, describe_hint, hints_of
from refkit.verification import PinnedRoot, Result, SignerKey, SigstoreSigner, Verdict
from refkit.weights.digest import Progress, digest_model
from refkit.weights.oms import (
    PAYLOAD_TYPE,
    ModelManifest,
    Resource,
    files_digest_of,
    parse_statement,
)

CHECK_SIGNATURE = "signature"
CHECK_CHAIN = "certificate chain"
CHECK_MANIFEST = "files digest"
CHECK_FILES = "model files"


@dataclass(frozen=True)
class TrustKey:
    key: PublicKey
    source: str


@dataclass(frozen=True)
class TrustChain:
    """Trusted certificates (PEM bytes of one or more files, roots and intermediates)."""

    pem: bytes
    source: str


@dataclass(frozen=True)
class TrustSigstore:
    identity: str
    issuer: str
    trusted_root: bytes
    root_source: str


Trust = TrustKey | TrustChain | TrustSigstore


def verify_model(
    root: Path,
    bundle_data: bytes,
    *,
    source: str,
    trust: Trust,
    ignore: Sequence[str] = (),
    signature_path: Path | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    on_total: Progress | None = None,
) -> Verdict:
    """Every result of verifying the model directory ``root`` against a signed manifest."""
    bundle = parse_bundle(bundle_data, source=source)
    envelope = bundle.envelope
    if envelope is None:
        raise InputError(
            f"{source}: signs a message, not a DSSE envelope; a model signature carries "
            "its manifest in a DSSE envelope"
        )
    subject = f"model {root}"
    signed, results = _check_signature(bundle, envelope, trust)
    if signed is None:
        return Verdict(subject, tuple(results))
    payload_type, payload = signed
    if payload_type != PAYLOAD_TYPE:
        raise InputError(f"{source}: payload type {payload_type!r} is not an in-toto statement")
    manifest = parse_statement(payload, source=f"{source} (payload)", check_subject=False)

    computed = files_digest_of(manifest.resources)
    if computed == manifest.files_digest:
        results.append(
            Result.of(
                "weights.manifest.files-digest-match",
                f"files digest {computed} covers the {len(manifest.resources)} resources",
                check=CHECK_MANIFEST,
                expected=manifest.files_digest,
                actual=computed,
            )
        )
    else:
        results.append(
            Result.of(
                "weights.manifest.files-digest-mismatch",
                "the subject digest is not the SHA-256 over the resource digests",
                check=CHECK_MANIFEST,
                expected=manifest.files_digest,
                actual=computed,
            )
        )

    extra_ignore = list(ignore)
    if signature_path is not None:
        try:
            rel = Path(os.path.abspath(signature_path)).relative_to(os.path.abspath(root))
            extra_ignore.append(rel.as_posix())
        except ValueError:
            pass
    local = digest_model(
        root,
        algorithm=manifest.hash_type,
        shard_size=manifest.shard_size,
        ignore=[*manifest.ignore_paths, *extra_ignore],
        ignore_git=False,
        allow_symlinks=manifest.allow_symlinks,
        workers=workers,
        progress=progress,
        on_total=on_total,
    )
    results.extend(compare_files(manifest, local))
    facts = {
        "model": manifest.name,
        "filesDigest": manifest.files_digest,
        "serialization": manifest.serialization(),
        "resources": len(manifest.resources),
    }
    return Verdict(subject, tuple(results), facts)


def compare_files(signed: ModelManifest, local: ModelManifest) -> list[Result]:
    """One failing result per changed, missing or extra file; one pass when all match."""
    want = signed.files()
    have = local.files()
    out: list[Result] = []
    for path, resources in want.items():
        got = have.get(path)
        if got is None:
            out.append(
                Result.of(
                    "weights.file.missing",
                    "is signed but absent",
                    check=CHECK_FILES,
                    subject=path,
                )
            )
        elif [(r.name, r.digest) for r in got] != [(r.name, r.digest) for r in resources]:
            out.append(
                Result.of(
                    "weights.file.changed",
                    "has other content than the signed digests",
                    check=CHECK_FILES,
                    subject=path,
                    expected=_digest_text(resources),
                    actual=_digest_text(got),
                )
            )
    for path in have:
        if path not in want:
            out.append(
                Result.of(
                    "weights.file.extra",
                    "is present but not signed",
                    check=CHECK_FILES,
                    subject=path,
                )
            )
    if not out:
        out.append(
            Result.of(
                "weights.files.match",
                f"all {len(want)} files have the signed digests; none missing or extra",
                check=CHECK_FILES,
                expected=signed.files_digest,
                actual=local.files_digest,
            )
        )
    return out


def _digest_text(rs: Sequence[Resource]) -> str:
    if len(rs) == 1:
        return rs[0].digest
    return (
        f"{len(rs)} shards, "
        + ",".join(r.digest[:16] for r in rs[:4])
        + (",..." if len(rs) > 4 else "")
    )


# ---------------------------------------------------------------------------------------
# Step 1: the signature


def _check_signature(
    bundle: Bundle, envelope: Envelope, trust: Trust
) -> tuple[tuple[str, bytes] | None, list[Result]]:
    if isinstance(trust, TrustKey):
        return _with_key(bundle, envelope, trust)
    if isinstance(trust, TrustChain):
        return _with_chain(bundle, envelope, trust)
    return _with_sigstore(bundle, trust)


def _with_key(
    bundle: Bundle, envelope: Envelope, trust: TrustKey
) -> tuple[tuple[str, bytes] | None, list[Result]]:
    key = trust.key
    anchor = SignerKey(trust.source, key.key_type.value, key.key_id)
    if not isinstance(bundle.material, PublicKeyHint):
        return None, [
            Result.of(
                "weights.signature.invalid",
                "the bundle carries a certificate, not a public-key hint: verify it with "
                "its certificate chain or Sigstore identity",
                check=CHECK_SIGNATURE,
                anchor=anchor,
            )
        ]
    if any(verify_signature(envelope, s, key) for s in envelope.signatures):
        return (envelope.payload_type, envelope.payload), [
            Result.of(
                "weights.signature.valid",
                f"signed by {key.label}",
                check=CHECK_SIGNATURE,
                anchor=anchor,
            )
        ]
    hint = bundle.material.hint
    why = ""
    if hint and hint not in hints_of(key):
        why = f" (the bundle names another key: {describe_hint(hint)})"
    return None, [
        Result.of(
            "weights.signature.invalid",
            f"no signature verifies with {key.label}{why}",
            check=CHECK_SIGNATURE,
            anchor=anchor,
        )
    ]


def _with_sigstore(
    bundle: Bundle, trust: TrustSigstore
) -> tuple[tuple[str, bytes] | None, list[Result]]:
    from refkit.manifests.signing.keyless import (
        KeylessVerificationFailed,
        SigstoreIdentity,
        TrustedRoot,
        verify_keyless,
    )

    identity = SigstoreIdentity(trust.identity, trust.issuer)
    root = PinnedRoot(trust.root_source, hashlib.sha256(trust.trusted_root).hexdigest())
    anchor = SigstoreSigner(str(identity), trust.identity, trust.issuer, root)
    if not bundle.keyless:
        return None, [
            Result.of(
                "weights.signature.invalid",
                "the bundle names a public key, not a Sigstore certificate",
                check=CHECK_SIGNATURE,
                anchor=anchor,
            )
        ]
    try:
        got = verify_keyless(bundle, TrustedRoot(trust.root_source, trust.trusted_root), identity)
    except KeylessVerificationFailed as exc:
        return None, [
            Result.of(
                "weights.signature.invalid", exc.message, check=CHECK_SIGNATURE, anchor=anchor
            )
        ]
    assert got.payload is not None and got.payload_type is not None
    return (got.payload_type, got.payload), [
        Result.of(
            "weights.signature.valid",
            f"signed by {identity}",
            check=CHECK_SIGNATURE,
            anchor=anchor,
        )
    ]


def _with_chain(
    bundle: Bundle, envelope: Envelope, trust: TrustChain
) -> tuple[tuple[str, bytes] | None, list[Result]]:
    try:
        anchors = x509.load_pem_x509_certificates(trust.pem)
    except ValueError as exc:
        raise InputError(f"{trust.source}: not PEM certificates ({exc})") from None
    if not isinstance(bundle.material, CertificateMaterial):
        return None, [
            Result.of(
                "weights.signature.invalid",
                "the bundle names a public key, not a certificate chain",
                check=CHECK_SIGNATURE,
            )
        ]
    try:
        chain = [x509.load_der_x509_certificate(c) for c in bundle.material.certificates]
    except ValueError as exc:
        raise InputError(f"{bundle.source}: a certificate is not DER X.509 ({exc})") from None
    leaf = chain[0]
    problem, anchor_cert = _chain_problem(leaf, chain[1:], anchors)
    anchor = (
        PinnedRoot(
            anchor_cert.subject.rfc4514_string() or "trusted certificate",
            hashlib.sha256(anchor_cert.public_bytes(Encoding.DER)).hexdigest(),
        )
        if anchor_cert is not None
        else None
    )
    subject = leaf.subject.rfc4514_string() or "signing certificate"
    if problem is not None:
        return None, [
            Result.of(
                "weights.certificate.chain-invalid",
                problem,
                check=CHECK_CHAIN,
                subject=subject,
                anchor=anchor,
            )
        ]
    results = [
        Result.of(
            "weights.certificate.chain-valid",
            "chains to a trusted certificate",
            check=CHECK_CHAIN,
            subject=subject,
            anchor=anchor,
        )
    ]
    try:
        key = PublicKey.from_object(leaf.public_key(), source=f"{bundle.source} certificate")
    except UnsupportedInput as exc:
        results.append(
            Result.of(
                "weights.signature.invalid", exc.message, check=CHECK_SIGNATURE, anchor=anchor
            )
        )
        return None, results
    if any(verify_signature(envelope, s, key) for s in envelope.signatures):
        results.append(
            Result.of(
                "weights.signature.valid",
                f"signed by the key of certificate {subject}",
                check=CHECK_SIGNATURE,
                anchor=anchor,
            )
        )
        return (envelope.payload_type, envelope.payload), results
    results.append(
        Result.of(
            "weights.signature.invalid",
            f"no signature verifies with the key of certificate {subject}",
            check=CHECK_SIGNATURE,
            anchor=anchor,
        )
    )
    return None, results


def _chain_problem(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
) -> tuple[str | None, x509.Certificate | None]:
    """Why the leaf does not chain to an anchor (None if it does), and the anchor reached."""
    at: datetime = leaf.not_valid_before_utc
    anchor_ders = {a.public_bytes(Encoding.DER) for a in anchors}
    pool = [*intermediates, *anchors]
    if not _may_sign(leaf):
        return "the signing certificate allows neither digital signatures nor code signing", None
    current = leaf
    for _depth in range(10):
        name = current.subject.rfc4514_string()
        if not current.not_valid_before_utc <= at <= current.not_valid_after_utc:
            return f"{name} was not valid at {at.isoformat()}", None
        if current.public_bytes(Encoding.DER) in anchor_ders:
            return None, current
        issuer = next((c for c in pool if c is not current and _issued(current, c)), None)
        if issuer is None:
            return f"no trusted or bundled certificate issued {name}", None
        try:
            ca = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            ca = False
        if not ca:
            return f"{issuer.subject.rfc4514_string()} is not a CA certificate", None
        current = issuer
    return "the certificate chain is longer than 10", None


def _issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if issuer.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _may_sign(leaf: x509.Certificate) -> bool:
    """model_signing's rule: key usage digitalSignature, or extended key usage codeSigning."""
    try:
        if leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CODE_SIGNING in usage
