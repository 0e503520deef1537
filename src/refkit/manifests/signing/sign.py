"""Signing a reference manifest: canonical statement in, Sigstore bundle v0.3 JSON out.

Steps: (1) the statement must be byte-for-byte RFC 8785 canonical JSON, so that every
co-signer signs the same bytes and a verifier can compare payloads byte for byte; (2) it
must be an in-toto Statement v1 of an accepted predicate type, valid by refkit's reader
of that type; (3) it is wrapped in a
DSSE envelope (``application/vnd.in-toto+json``, one signature over the PAE) and (4) put in
a bundle: with a key, a key-based bundle whose public-key hint is computed by a hint
function (cosign's by default); keyless, the bundle sigstore-python returns.

Co-signing: each signer runs this on the same statement and publishes its own bundle.

Predicate types: refkit signs only what it can validate (:data:`SIGNABLE_PREDICATE_TYPES`:
its reference manifest and the SLSA VSA that ``manifest export --format vsa`` writes), and
only the types the caller accepts, by default the reference manifest alone. A statement of
a signable type the caller did not accept raises
:class:`~refkit.manifests.statement.PredicateNotAccepted`, so nothing is signed by accident;
any other type is refused as not a refkit manifest.
"""

from __future__ import annotations

from collections.abc import Collection

from refkit.errors import InputError, InternalError
from refkit.manifests.canonical import require_canonical
from refkit.manifests.constants import PREDICATE_TYPE
from refkit.manifests.exports.vsa import VSA_PREDICATE_TYPE, read_vsa
from refkit.manifests.signing.bundle import dump_bundle, key_bundle, parse_bundle
from refkit.manifests.signing.dsse import sign_envelope
from refkit.manifests.signing.keyless import KeylessSigner
from refkit.manifests.signing.keys import HintFunction, PrivateKey, cosign_hint
from refkit.manifests.statement import PredicateNotAccepted, load_statement

#: Predicate types refkit can validate, and so sign.
SIGNABLE_PREDICATE_TYPES = (PREDICATE_TYPE, VSA_PREDICATE_TYPE)


def check_signable(accepted: Collection[str]) -> None:
    """Refuse an accepted predicate type that refkit cannot validate before signing."""
    if not accepted:
        raise InputError("no predicate type is accepted for signing")
    for ptype in accepted:
        if ptype not in SIGNABLE_PREDICATE_TYPES:
            raise InputError(
                f"refkit cannot validate statements of predicate type {ptype[:200]!r}, "
                "so it does not sign them",
                hint=f"it signs {' and '.join(SIGNABLE_PREDICATE_TYPES)}",
            )


def sign_manifest(
    statement: bytes,
    *,
    source: str,
    key: PrivateKey | None = None,
    keyless: KeylessSigner | None = None,
    hint: HintFunction = cosign_hint,
    predicate_types: Collection[str] = (PREDICATE_TYPE,),
) -> bytes:
    """Sign ``statement`` with ``key`` or through ``keyless``; returns the bundle's bytes.

    ``predicate_types`` are the statement types accepted (see the module docstring).
    """
    if (key is None) == (keyless is None):
        raise InputError("sign with exactly one of a key or keyless Sigstore")
    check_signable(predicate_types)
    # (1) canonical bytes, (2) a statement of an accepted type, valid by its reader: a
    # refkit manifest by the published JSON Schema too (signing is where a malformed
    # manifest must stop; verify skips the schema for speed)
    value = require_canonical(statement, source=source)
    found = value.get("predicateType") if isinstance(value, dict) else None
    if found in SIGNABLE_PREDICATE_TYPES and found not in predicate_types:
        assert isinstance(found, str)
        raise PredicateNotAccepted(found, predicate_types, source=source, doing=" for signing")
    if found == VSA_PREDICATE_TYPE:
        read_vsa(statement, source=source)
    elif PREDICATE_TYPE in predicate_types:
        load_statement(statement, source=source)  # refuses other types, naming the type
    else:
        shown = found[:200] if isinstance(found, str) else "none"
        raise InputError(
            f"{source}: predicate type {shown!r} is not accepted for signing "
            f"(accepted: {', '.join(sorted(predicate_types))})"
        )
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
