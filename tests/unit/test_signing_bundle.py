"""Sigstore bundles: refkit's output format, strict parsing, other producers, fuzzing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError
from refkit.manifests.constants import BUNDLE_MEDIA_TYPE
from refkit.manifests.signing import keys
from refkit.manifests.signing.bundle import (
    Bundle,
    CertificateMaterial,
    PublicKeyHint,
    parse_bundle,
)
from refkit.manifests.signing.keys import KeyType
from tests.shared import vector
from tests.unit.test_signing_helpers import ASSETS, key, sign, statement


def test_golden_bundle_is_reproduced_bit_for_bit() -> None:
    """Ed25519 is deterministic: re-signing the fixture gives the committed bundle."""
    k = keys.load_private_key((ASSETS / "test-ed25519.key").read_bytes(), source="k")
    golden = (ASSETS / "release.ed25519.bundle.json").read_bytes()
    assert sign((ASSETS / "release.json").read_bytes(), k) == golden


@pytest.mark.parametrize("kind", list(KeyType))
def test_refkit_bundle_shape(kind: KeyType) -> None:
    k = key(kind)
    data = sign(statement(), k)
    doc = json.loads(data)
    assert doc["mediaType"] == BUNDLE_MEDIA_TYPE
    assert doc["verificationMaterial"] == {
        "publicKey": {"hint": keys.cosign_hint(k.public_key())},
        "tlogEntries": [],
    }
    assert doc["dsseEnvelope"]["payloadType"] == "application/vnd.in-toto+json"
    assert doc["dsseEnvelope"]["signatures"][0]["keyid"] == k.public_key().key_id
    assert len(doc["dsseEnvelope"]["signatures"]) == 1
    assert data.endswith(b"}\n")
    b = parse_bundle(data, source="b")
    assert isinstance(b.material, PublicKeyHint)
    assert b.envelope is not None
    assert b.envelope.payload == statement()


@pytest.mark.parametrize("kind", list(KeyType))
def test_sigstore_models_reads_refkit_bundles(kind: KeyType) -> None:
    """Differential: the protobuf-specs Bundle model parses refkit's bundle the same way."""
    from sigstore_models.bundle.v1 import Bundle as ModelBundle

    k = key(kind)
    data = sign(statement(), k)
    m = ModelBundle.from_json(data.decode())
    assert m.media_type == BUNDLE_MEDIA_TYPE
    assert m.verification_material.public_key is not None
    assert m.verification_material.public_key.hint == keys.cosign_hint(k.public_key())
    assert m.dsse_envelope is not None
    assert m.dsse_envelope.payload == statement()
    sig = m.dsse_envelope.signatures[0].sig
    ours = parse_bundle(data, source="b").envelope
    assert ours is not None
    assert sig == ours.signatures[0].sig


@pytest.mark.vectors
@pytest.mark.parametrize(
    ("parts", "keyless", "has_envelope"),
    [
        (("sigstore", "a.dsse.staging-rekor-v2.txt.sigstore.json"), True, True),
        (("sigstore", "bundle_v3_github.whl.sigstore"), True, False),
        (("model-signing", "v1.1.0-elliptic-key", "model.sig"), False, True),
        (("model-signing", "v1.1.0-certificate", "model.sig"), True, True),
        (("model-signing", "v1.1.0-sigstore", "model.sig"), True, True),
    ],
)
def test_real_bundles_parse(parts: tuple[str, ...], keyless: bool, has_envelope: bool) -> None:
    b = parse_bundle(vector(*parts).read_bytes(), source=parts[-1])
    assert b.keyless is keyless
    assert (b.envelope is not None) is has_envelope
    if isinstance(b.material, CertificateMaterial):
        from cryptography import x509

        x509.load_der_x509_certificate(b.material.certificates[0])


def _valid() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(sign(statement(), key(KeyType.ECDSA_P256)))
    return doc


def _edit(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node: Any = doc
    steps = path.split(".")
    for s in steps[:-1]:
        node = node[int(s)] if s.isdigit() else node[s]
    last: Any = int(steps[-1]) if steps[-1].isdigit() else steps[-1]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("mediaType", "application/json", "unsupported bundle media type"),
        ("mediaType", _DELETE, "expected a string"),
        ("extra", 1, "unknown key 'extra'"),
        ("verificationMaterial.extra", 1, "unknown key 'extra'"),
        ("verificationMaterial.publicKey", _DELETE, "exactly one of publicKey"),
        ("verificationMaterial.certificate", {"rawBytes": "AAAA"}, "exactly one of publicKey"),
        ("verificationMaterial.publicKey.hint", 5, "expected a string"),
        ("verificationMaterial.tlogEntries", {}, "expected an array"),
        ("dsseEnvelope", _DELETE, "exactly one of dsseEnvelope"),
        ("messageSignature", {}, "exactly one of dsseEnvelope"),
        ("dsseEnvelope.payload", "not base64!", "not valid base64"),
        ("dsseEnvelope.payload", "AB==", "canonical base64"),
        ("dsseEnvelope.payload", "QQ", "not valid base64"),
        ("dsseEnvelope.payloadType", "", "empty payload type"),
        ("dsseEnvelope.signatures", [], "non-empty array"),
        ("dsseEnvelope.signatures.0.sig", "", "empty signature"),
        ("dsseEnvelope.signatures.0.other", "x", "unknown key 'other'"),
        ("dsseEnvelope.signatures.0.keyid", 3, "expected a string"),
    ],
)
def test_malformed_bundles_are_parse_errors(path: str, value: Any, message: str) -> None:
    data = json.dumps(_edit(_valid(), path, value)).encode()
    with pytest.raises(ParseError, match=message) as err:
        parse_bundle(data, source="bad.json")
    assert "bad.json" in err.value.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"mediaType": "a", "mediaType": "b"}', "duplicate JSON key 'mediaType'"),
        (b"[1, 2]", "expected a JSON object"),
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b"{", "invalid JSON"),
        (b'{"mediaType": NaN}', "invalid JSON"),
    ],
)
def test_bad_json_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_bundle(data, source="bad.json")


def test_absurd_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import refkit.manifests.signing.bundle as bundle_module

    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", 1000)
    with pytest.raises(InputError, match="more than the limit"):
        parse_bundle(b" " * 1001, source="big.json")


def _result_or_typed_error(data: bytes) -> None:
    try:
        b = parse_bundle(data, source="fuzz")
    except InputError:
        return
    assert isinstance(b, Bundle)


@given(st.binary(max_size=400))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _result_or_typed_error(data)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.sampled_from(
        [
            "mediaType",
            "verificationMaterial",
            "verificationMaterial.publicKey",
            "verificationMaterial.publicKey.hint",
            "verificationMaterial.tlogEntries",
            "dsseEnvelope",
            "dsseEnvelope.payload",
            "dsseEnvelope.payloadType",
            "dsseEnvelope.signatures",
            "dsseEnvelope.signatures.0",
            "dsseEnvelope.signatures.0.sig",
            "dsseEnvelope.signatures.0.keyid",
        ]
    ),
    _JSON,
)
def test_fuzz_mutated_fields(path: str, value: Any) -> None:
    _result_or_typed_error(json.dumps(_edit(_valid(), path, value)).encode())


@given(st.data())
def test_fuzz_mutated_bytes(data: st.DataObject) -> None:
    raw = bytearray(sign(statement(), key(KeyType.ED25519)))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    _result_or_typed_error(bytes(raw))


def test_base64_alphabet_variants_are_refused() -> None:
    doc = _valid()
    payload = base64.b64decode(doc["dsseEnvelope"]["payload"])
    doc["dsseEnvelope"]["payload"] = base64.urlsafe_b64encode(payload + b"\xfb\xff").decode()
    with pytest.raises(ParseError, match="base64"):
        parse_bundle(json.dumps(doc).encode(), source="b")
