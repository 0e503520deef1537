"""Signing a reference manifest: canonical statement in, Sigstore bundle v0.3 JSON out.

Steps: (1) the statement must be byte-for-byte RFC 8785 canonical JSON, so that every
co-signer signs the same bytes and a verifier can compare payloads byte for byte; (2) it
must be an in-toto Statement v1 carrying this project's predicate; (3) it is wrapped in a
DSSE envelope (``application/vnd.in-toto+json``, one signature over the PAE) and (4) put in
a bundle: with a key, a key-based bundle whose public-key hint is computed by a hint
function (cosign's by default); keyless, the bundle sigstore-python returns.

Co-signing: each signer runs this on the same statement and publishes its own bundle.
"""

from __future__ import annotations

from refkit.errors import InputError, InternalError
from refkit.manifests.canonical import require_canonical
from refkit.manifests.signing.bundle import dump_bundle, key_bundle, parse_bundle
from refkit.manifests.signing.dsse import sign_envelope
from refkit.manifests.signing.keyless import KeylessSigner
from refkit.manifests.signing.keys import HintFunction, PrivateKey, cosign_hint
from refkit.manifests.statement import load_statement


def sign_manifest(
    statement: bytes,
    *,
    source: str,
    key: PrivateKey | None = None,
    keyless: KeylessSigner | None = None,
    hint: HintFunction = cosign_hint,
) -> bytes:
    """Sign ``statement`` with ``key`` or through ``keyless``; returns the bundle's bytes."""
    if (key is None) == (keyless is None):
        raise InputError("sign with exactly one of a key or keyless Sigstore")
    # (1) canonical bytes, (2) a refkit manifest, valid by the published JSON Schema too
    # (signing is where a malformed manifest must stop; verify skips the schema for speed)
    require_canonical(statement, source=source)
    load_statement(statement, source=source)
    if key is not None:
        # (3) DSSE over the exact bytes, (4) a key-based bundle v0.3
        envelope = sign_envelope(statement, key)
        return dump_bundle(key_bundle(envelope, hint(key.public_key())))
    assert keyless is not None
    raw = keyless.sign_dsse(statement)
    bundle = parse_bundle(raw, source="the Sigstore signer's bundle")
    if bundle.envelope is None or bundle.envelope.payload != statement:
        raise InternalError("the keyless signer returned a bundle over other bytes")
    return raw
