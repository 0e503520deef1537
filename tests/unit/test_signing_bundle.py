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
from tests.signing_support import ASSETS, key, sign, statement

NEEDS_SIGSTORE = "needs sigstore-python (the sigstore extra)"


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
    pytest.importorskip("sigstore_models", reason=NEEDS_SIGSTORE)
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


# --- cost bounds: padding refkit does not read is refused before it is parsed -------------


def _padded(field: str, size: int) -> bytes:
    """The committed key-based bundle with ``field``'s array padded with ``{}`` to ``size``."""
    golden = (ASSETS / "release.ed25519.bundle.json").read_bytes()
    doc = json.loads(golden)
    marker = "@PAD@"
    if field == "tlogEntries":
        doc["verificationMaterial"]["tlogEntries"] = [marker]
    elif field == "signatures":
        doc["dsseEnvelope"]["signatures"].append(marker)
    else:
        doc[field] = [marker]
    text = json.dumps(doc, separators=(",", ":")).encode()
    head, _, tail = text.partition(f'"{marker}"'.encode())
    count = (size - len(head) - len(tail)) // 3
    return head + b"{}," * (count - 1) + b"{}" + tail


def test_a_64_mib_bundle_padded_with_empty_tlog_entries_is_refused_cheaply() -> None:
    """Issue 11 item 9: 27 s and 3.3 GB before; now refused before the JSON parser runs."""
    import time
    import tracemalloc

    data = _padded("tlogEntries", 64 * 1024 * 1024)
    assert len(data) > 63 * 1024 * 1024
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ParseError, match="more than 10000 JSON strings") as err:
            parse_bundle(data, source="padded.json")
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.exit_code == 2
    assert "padded.json" in err.value.diagnostics()
    assert elapsed < 10, elapsed  # generous for a loaded 2-core machine; about 0.1 s idle
    assert peak < 2 * len(data), peak


@pytest.mark.parametrize("field", ["tlogEntries", "signatures", "extra"])
def test_padding_anywhere_is_refused_before_parsing(
    field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import refkit.manifests.signing.bundle as bundle_module

    def no_parse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the JSON parser ran")

    monkeypatch.setattr(bundle_module, "loads_strict", no_parse)
    with pytest.raises(ParseError, match="JSON strings, arrays, objects and elements"):
        parse_bundle(_padded(field, 200_000), source="padded.json")


def test_a_large_ignored_string_parses_in_bounded_memory() -> None:
    """What the count lets through costs memory linear in the size (a few times it)."""
    import tracemalloc

    doc = json.loads((ASSETS / "release.ed25519.bundle.json").read_bytes())
    doc["verificationMaterial"]["tlogEntries"] = [{"kindVersion": "A" * (16 * 1024 * 1024)}]
    data = json.dumps(doc).encode()
    tracemalloc.start()
    try:
        b = parse_bundle(data, source="big.json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert b.tlog_entries == 1
    assert peak < 4 * len(data), peak


def test_too_many_tlog_entries_are_refused() -> None:
    doc = _valid()
    doc["verificationMaterial"]["tlogEntries"] = [{}] * 33
    with pytest.raises(ParseError, match="33 transparency-log entries") as err:
        parse_bundle(json.dumps(doc).encode(), source="b.json")
    assert "verificationMaterial.tlogEntries" in err.value.diagnostics()
    doc["verificationMaterial"]["tlogEntries"] = [{}] * 32
    assert parse_bundle(json.dumps(doc).encode(), source="b.json").tlog_entries == 32


def _reference_count(value: Any) -> int:
    """Strings (keys too), arrays, objects and element separators of a parsed value: a
    second computation of what the pre-parse count counts."""
    if isinstance(value, dict):
        inner = sum(1 + _reference_count(v) for v in value.values())
        return 1 + max(len(value) - 1, 0) + inner
    if isinstance(value, list):
        return 1 + max(len(value) - 1, 0) + sum(_reference_count(v) for v in value)
    return 1 if isinstance(value, str) else 0


@given(_JSON, st.booleans())
def test_value_count_agrees_with_the_parsed_structure(value: Any, pretty: bool) -> None:
    from refkit.manifests.signing.bundle import _count_values

    text = json.dumps(value, indent=1 if pretty else None, ensure_ascii=False)
    assert _count_values(text.encode(), 10**9) == _reference_count(value)


@pytest.mark.vectors
@pytest.mark.parametrize(
    "parts",
    [
        ("sigstore", "a.dsse.staging-rekor-v2.txt.sigstore.json"),
        ("sigstore", "bundle_v3_github.whl.sigstore"),
        ("model-signing", "v1.1.0-sigstore", "model.sig"),
    ],
)
def test_real_bundles_are_far_below_the_value_limit(parts: tuple[str, ...]) -> None:
    from refkit.manifests.signing.bundle import MAX_BUNDLE_VALUES, _count_values

    data = vector(*parts).read_bytes()
    assert _count_values(data, 10**9) == _reference_count(json.loads(data)) < 200
    assert MAX_BUNDLE_VALUES >= 50 * 200


def test_value_count_is_linear_on_unterminated_escaped_strings() -> None:
    """Every quote of '"\\"\\"\\"...' opens a string that never ends: a search restarted
    at each quote would be quadratic, a backtracking repeat would keep state per escape
    (it took 0.5 GB for 8 MB); the anchored possessive pass does neither."""
    import time
    import tracemalloc

    from refkit.manifests.signing.bundle import _count_values

    data = b'{"a":"' + b'\\"' * (4 * 1024 * 1024)
    tracemalloc.start()
    started = time.monotonic()
    try:
        assert _count_values(data, 10) == 2  # '{' and the key; the value never ends
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 10
    assert peak < 1024 * 1024, peak
    with pytest.raises(ParseError, match="invalid JSON"):
        parse_bundle(data, source="u.json")
    assert _count_values(data + b'"}', 10) == 3


def test_strings_without_structure_are_counted_too() -> None:
    """Strings count, so a run of them (not JSON, but the count runs first) stops early."""
    from refkit.manifests.signing.bundle import _count_values

    assert _count_values(b'"a""b"' * 1_000_000, 100) == 101
