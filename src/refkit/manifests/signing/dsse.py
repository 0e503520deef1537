"""DSSE (Dead Simple Signing Envelope) v1: pre-authentication encoding and envelopes.

Spec: secure-systems-lab/dsse, ``protocol.md`` and ``envelope.md``. A signature covers

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

where SP is one space (0x20) and LEN is the length in bytes as ASCII decimal without
leading zeros. The type is UTF-8 encoded. Signing the PAE instead of the payload binds the
payload type and makes the encoding unambiguous.

Invariants: the payload is carried as exact bytes (never re-serialised), so the signed
bytes are the bytes a verifier sees. An envelope holds any number of signatures in this
model, but refkit writes one per envelope (one signer per bundle: sigstore-python refuses
DSSE envelopes with several signatures); :func:`verify_signature` checks one at a time.

Key ids: the spec makes a signature's ``keyid`` optional and unsigned, but DSSE tools
(securesystemslib, in-toto) match signatures to keys by it and fail on a missing one. refkit
writes the signer's key id, the hex SHA-256 of its DER SubjectPublicKeyInfo
(:attr:`~refkit.manifests.signing.keys.PublicKey.key_id`, what ``refkit keygen`` prints),
and never trusts it: the key comes from the verifier's policy. A verifier reads it only
the way securesystemslib does, so that both give the same answer: a signature whose keyid
is not empty and is not one of the key's names (:func:`~refkit.manifests.signing.keys.names_of`:
the key id or a bundle hint) is not that key's signature. An envelope without keyids
(refkit 0.1.0, cosign and model_signing write none or empty ones) verifies as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from refkit.manifests.constants import IN_TOTO_PAYLOAD_TYPE
from refkit.manifests.signing.keys import PrivateKey, PublicKey, names_of


def pae(payload_type: str, payload: bytes) -> bytes:
    """The DSSE v1 pre-authentication encoding of ``payload`` with ``payload_type``."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    """One DSSE signature: the raw signature bytes and the (unsigned, optional) key id."""

    sig: bytes
    keyid: str = ""


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope: payload bytes, payload type, signatures (in envelope order)."""

    payload: bytes
    payload_type: str
    signatures: tuple[Signature, ...]

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)


def sign_envelope(
    payload: bytes, key: PrivateKey, *, payload_type: str = IN_TOTO_PAYLOAD_TYPE
) -> Envelope:
    """A one-signature envelope over ``payload``, its ``keyid`` the signer's key id."""
    signature = Signature(key.sign(pae(payload_type, payload)), key.public_key().key_id)
    return Envelope(payload, payload_type, (signature,))


def verify_signature(envelope: Envelope, signature: Signature, key: PublicKey) -> bool:
    """Whether ``signature`` is ``key``'s valid signature over the envelope's PAE, and its
    ``keyid``, if any, names ``key`` (see the module docstring)."""
    if signature.keyid and signature.keyid not in names_of(key):
        return False
    return key.verify(signature.sig, envelope.pae())
