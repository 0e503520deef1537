"""DSSE: PAE known answers, and refkit's envelopes checked by independent implementations."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
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
from tests.signing_support import ASSETS, key, sign, statement

NEEDS_SIGSTORE = "needs sigstore-python (the sigstore extra)"


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
def test_pae_agrees_with_securesystemslib(payload_type: str, payload: bytes) -> None:
    from securesystemslib.dsse import Envelope as SslibEnvelope

    env = SslibEnvelope(payload, payload_type, {})
    assert dsse.pae(payload_type, payload) == env.pae()


@given(st.text(max_size=40).filter(str.isascii), st.binary(max_size=200))
def test_pae_agrees_with_sigstore(payload_type: str, payload: bytes) -> None:
    pytest.importorskip("sigstore", reason=NEEDS_SIGSTORE)
    from sigstore.dsse import _pae as sigstore_pae

    assert dsse.pae(payload_type, payload) == sigstore_pae(payload_type, payload)


def test_sigstore_python_counts_characters_of_a_non_ascii_type() -> None:
    """sigstore-python 4.5.1's PAE uses len(str) for the type (characters, not bytes), which
    differs from the DSSE spec for non-ASCII types; refkit follows the spec (and
    securesystemslib). Harmless for in-toto (an ASCII type); this test notices a change."""
    pytest.importorskip("sigstore", reason=NEEDS_SIGSTORE)
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
    """Differential: refkit's bundle checked by securesystemslib and by a hand-written PAE.

    The envelope goes to securesystemslib as refkit wrote it (it used to need a keyid
    added by hand: securesystemslib matches signatures to keys by keyid)."""
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

    key_id = k.public_key().key_id
    ssl_key = SSlibKey.from_crypto(k.public_key().key, keyid=key_id)
    # (from_dict mutates its argument: give it a copy each time)
    verified = SslibEnvelope.from_dict(copy.deepcopy(env)).verify([ssl_key], 1)
    assert list(verified) == [key_id]
    tampered = dict(copy.deepcopy(env), payloadType="application/json")
    with pytest.raises(VerificationError):
        SslibEnvelope.from_dict(tampered).verify([ssl_key], 1)
    other = SSlibKey.from_crypto(key(kind, 1).public_key().key, keyid=key_id)
    with pytest.raises(VerificationError):
        SslibEnvelope.from_dict(copy.deepcopy(env)).verify([other], 1)
    with pytest.raises(InvalidSignature):
        _independent_verify(k.public_key().pem(), kind, "application/json", payload, sig)


#: The test key's id, computed independently of refkit:
#: ``openssl pkey -pubin -in tests/assets/signing/test-ed25519.key.pub -outform DER | sha256sum``
TEST_ED25519_KEY_ID = "ad1adbbbdf9d9707f93f41475fa2f486fd907783c573e57893d14a86d445126d"


def test_signature_keyid_is_the_key_id() -> None:
    k = keys.load_private_key((ASSETS / "test-ed25519.key").read_bytes(), source="k")
    envelope = dsse.sign_envelope(b"{}", k)
    assert [s.keyid for s in envelope.signatures] == [TEST_ED25519_KEY_ID]
    assert k.public_key().key_id == TEST_ED25519_KEY_ID


@pytest.mark.parametrize(
    "pub", ["test-ed25519.key.pub", "test-p384-encrypted.key.pub"], ids=["ed25519", "p384"]
)
def test_securesystemslib_reads_the_committed_bundle_from_pem(pub: str) -> None:
    """securesystemslib's own Envelope parses the committed bundle's envelope unchanged and
    verifies it with a key loaded from refkit's PEM file (it raised KeyError 'keyid' on
    refkit 0.1.0's bundles)."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.dsse import Envelope as SslibEnvelope
    from securesystemslib.exceptions import VerificationError
    from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]

    doc = json.loads((ASSETS / "release.ed25519.bundle.json").read_bytes())
    envelope = SslibEnvelope.from_dict(doc["dsseEnvelope"])
    pem = (ASSETS / pub).read_bytes()
    key_id = keys.load_public_key(pem, source=pub).key_id
    ssl_key = SSlibKey.from_crypto(load_pem_public_key(pem), keyid=key_id)
    if pub == "test-ed25519.key.pub":
        assert list(envelope.verify([ssl_key], 1)) == [TEST_ED25519_KEY_ID]
        assert envelope.pae() == dsse.pae(doc["dsseEnvelope"]["payloadType"], envelope.payload)
    else:
        with pytest.raises(VerificationError):
            envelope.verify([ssl_key], 1)


def test_bundles_without_keyid_still_verify() -> None:
    """Regression input: refkit 0.1.0 wrote no keyid. Reading stays tolerant of that, and the
    signature is the same one refkit writes now (Ed25519 is deterministic)."""
    old = parse_bundle((ASSETS / "release.ed25519.v0.1.0.bundle.json").read_bytes(), source="o")
    new = parse_bundle((ASSETS / "release.ed25519.bundle.json").read_bytes(), source="n")
    assert old.envelope is not None
    assert new.envelope is not None
    assert [s.keyid for s in old.envelope.signatures] == [""]
    assert [s.keyid for s in new.envelope.signatures] == [TEST_ED25519_KEY_ID]
    assert [s.sig for s in old.envelope.signatures] == [s.sig for s in new.envelope.signatures]
    pub = keys.load_public_key((ASSETS / "test-ed25519.key.pub").read_bytes(), source="pub")
    assert dsse.verify_signature(old.envelope, old.envelope.signatures[0], pub)


def test_keyid_names_the_key_or_is_empty() -> None:
    """The keyid is unsigned: it never selects a key, but a signature whose keyid names
    another key is not this key's (securesystemslib's rule: both tools agree)."""
    k = key(KeyType.ED25519)
    pub = k.public_key()
    envelope = dsse.sign_envelope(b"payload", k)
    sig = envelope.signatures[0].sig
    for name in ["", pub.key_id, keys.cosign_hint(pub), keys.model_signing_hint(pub)]:
        assert dsse.verify_signature(envelope, dsse.Signature(sig, name), pub), name
    for name in ["0" * 64, pub.key_id[:-1] + "0", "k"]:
        if name != pub.key_id:
            assert not dsse.verify_signature(envelope, dsse.Signature(sig, name), pub), name
    other = key(KeyType.ED25519, 1).public_key()
    assert not dsse.verify_signature(envelope, dsse.Signature(sig, other.key_id), other)


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


def test_cli_verifies_bundles_with_and_without_keyid(run_cli: Callable[..., Any]) -> None:
    for name in ("release.ed25519.bundle.json", "release.ed25519.v0.1.0.bundle.json"):
        r = run_cli("manifest", "verify", ASSETS / name, "--key",
                    ASSETS / "test-ed25519.key.pub", "--at", "2026-12-01T00:00:00Z")  # fmt: skip
        assert r.code == 0, (name, r.stderr)
