"""DSSE: PAE known answers, and refkit's envelopes checked by independent implementations."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given
from hypothesis import strategies as st

from refkit.manifests.signing import dsse, keys
from refkit.manifests.signing.bundle import parse_bundle
from refkit.manifests.signing.keys import KeyType
from tests.shared import vector
from tests.unit.test_signing_helpers import key, sign, statement


def test_pae_known_answer_from_the_dsse_spec() -> None:
    # secure-systems-lab/dsse protocol.md, "Test vectors"
    assert (
        dsse.pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert dsse.pae("", b"") == b"DSSEv1 0  0 "


def test_pae_counts_bytes_not_characters() -> None:
    assert dsse.pae("t\u00e9", b"\xff") == b"DSSEv1 3 t\xc3\xa9 1 \xff"


@given(st.text(max_size=40), st.binary(max_size=200))
def test_pae_agrees_with_securesystemslib_and_sigstore(payload_type: str, payload: bytes) -> None:
    from securesystemslib.dsse import Envelope as SslibEnvelope
    from sigstore.dsse import _pae as sigstore_pae

    env = SslibEnvelope(payload, payload_type, {})
    assert dsse.pae(payload_type, payload) == env.pae()
    if payload_type.isascii():
        assert dsse.pae(payload_type, payload) == sigstore_pae(payload_type, payload)


def test_sigstore_python_counts_characters_of_a_non_ascii_type() -> None:
    """sigstore-python 4.5.1's PAE uses len(str) for the type (characters, not bytes), which
    differs from the DSSE spec for non-ASCII types; refkit follows the spec (and
    securesystemslib). Harmless for in-toto (an ASCII type); this test notices a change."""
    from sigstore.dsse import _pae as sigstore_pae

    assert sigstore_pae("\u00e9", b"") == b"DSSEv1 1 \xc3\xa9 0 "
    assert dsse.pae("\u00e9", b"") == b"DSSEv1 2 \xc3\xa9 0 "


def _independent_verify(
    pub_pem: bytes, kind: KeyType, payload_type: str, payload: bytes, sig: bytes
) -> None:
    """A second PAE and signature check, written from the spec with cryptography only."""
    t = payload_type.encode()
    message = b"DSSEv1 " + str(len(t)).encode() + b" " + t + b" "
    message += str(len(payload)).encode() + b" " + payload
    pub = serialization.load_pem_public_key(pub_pem)
    if kind is KeyType.ED25519:
        assert isinstance(pub, ed25519.Ed25519PublicKey)
        pub.verify(sig, message)
    else:
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        algo = hashes.SHA256() if kind is KeyType.ECDSA_P256 else hashes.SHA384()
        pub.verify(sig, message, ec.ECDSA(algo))


@pytest.mark.parametrize("kind", list(KeyType))
def test_refkit_bundles_verify_independently(kind: KeyType) -> None:
    """Differential: refkit's bundle checked by securesystemslib and by a hand-written PAE."""
    from securesystemslib.dsse import Envelope as SslibEnvelope
    from securesystemslib.exceptions import VerificationError
    from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]

    k = key(kind)
    data = statement()
    doc: dict[str, Any] = json.loads(sign(data, k))
    env = doc["dsseEnvelope"]
    payload = base64.b64decode(env["payload"])
    sig = base64.b64decode(env["signatures"][0]["sig"])
    assert payload == data
    _independent_verify(k.public_key().pem(), kind, env["payloadType"], payload, sig)

    ssl_key = SSlibKey.from_crypto(k.public_key().key, keyid="k")
    ssl_env = dict(env, signatures=[dict(env["signatures"][0], keyid="k")])
    # (from_dict mutates its argument: give it a copy each time)
    verified = SslibEnvelope.from_dict(copy.deepcopy(ssl_env)).verify([ssl_key], 1)
    assert list(verified) == ["k"]
    tampered = dict(copy.deepcopy(ssl_env), payloadType="application/json")
    with pytest.raises(VerificationError):
        SslibEnvelope.from_dict(tampered).verify([ssl_key], 1)
    other = SSlibKey.from_crypto(key(kind, 1).public_key().key, keyid="k")
    with pytest.raises(VerificationError):
        SslibEnvelope.from_dict(copy.deepcopy(ssl_env)).verify([other], 1)
    with pytest.raises(InvalidSignature):
        _independent_verify(k.public_key().pem(), kind, "application/json", payload, sig)


@pytest.mark.vectors
def test_another_producers_key_bundle_verifies_with_refkit_dsse() -> None:
    """model_signing v1.1.0's key-based bundle (ECDSA P-384) through refkit's parser/PAE."""
    b = parse_bundle(
        vector("model-signing", "v1.1.0-elliptic-key", "model.sig").read_bytes(), source="ms"
    )
    pub = keys.load_public_key(
        vector("model-signing", "keys", "certificate", "signing-key-pub.pem").read_bytes(),
        source="pub",
    )
    assert b.envelope is not None
    assert pub.key_type is KeyType.ECDSA_P384
    assert dsse.verify_signature(b.envelope, b.envelope.signatures[0], pub)
    wrong = dsse.Envelope(b.envelope.payload + b" ", b.envelope.payload_type, ())
    assert not dsse.verify_signature(wrong, b.envelope.signatures[0], pub)
    statement_doc = json.loads(b.envelope.payload)
    assert statement_doc["predicateType"] == "https://model_signing/signature/v1.0"
