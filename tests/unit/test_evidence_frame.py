"""The evidence frame against fake families: dispatch, the manifest gate, REPORT_DATA,
debug guests, missing material, thread safety, receipts and their replay."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime
from functools import cache
from pathlib import Path, PurePath
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refkit.errors import ExitCode, InputError, ParseError, RefkitError
from refkit.evidence.errors import MaterialMissing
from refkit.evidence.families import Blob, Family, Material
from refkit.evidence.receipt import parse_receipt, receipt_bytes, replay_receipt
from refkit.evidence.verify import (
    EvidenceVerifier,
    ManifestInput,
    ReportDataCheck,
    TrustInput,
    VerifyOptions,
    trust_from_policy,
    verify_evidence,
)
from refkit.manifests.canonical import canonical_dumps
from refkit.manifests.signing.keys import KeyType
from tests.evidence_support import (
    AT,
    SIGNING_RELEASE,
    install_fakes,
    make_evidence,
    public_pem,
    vcek_key,
)
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug
from tests.signing_support import key, sign


@pytest.fixture
def fake_families(monkeypatch: pytest.MonkeyPatch) -> tuple[Family, ...]:
    return install_fakes(monkeypatch)


WHEN = datetime(2026, 12, 1, tzinfo=UTC)
VCEK = Material(certificates=(Blob("vcek.pem", public_pem(vcek_key())),))


@cache
def _bundle(index: int = 0) -> tuple[bytes, bytes]:
    """A bundle of the signing tests' manifest, signed by test key ``index``; and its key."""
    k = key(KeyType.ECDSA_P256, index)
    return sign(SIGNING_RELEASE.read_bytes(), k), k.public_key().pem()


def _manifest(index: int = 0, trusted: int = 0) -> ManifestInput:
    bundle, _ = _bundle(index)
    _, pub = _bundle(trusted)
    return ManifestInput(
        bundles=(Blob("release.bundle.json", bundle),),
        trust=TrustInput(keys=(Blob("release.pub", pub),)),
    )


def _codes(outcome_results: object) -> list[str]:
    return [r.code for r in outcome_results]  # type: ignore[attr-defined]


def _verify(fams: tuple[Family, ...], data: bytes, **kw: object) -> tuple[bool, list[str], object]:
    options = VerifyOptions(at=WHEN, **kw)  # type: ignore[arg-type]
    out = verify_evidence(data, source="ev.bin", options=options, families=fams)
    return out.ok, _codes(out.verdict.results), out


def test_unknown_bytes_are_malformed_input(fake_families: tuple[Family, ...]) -> None:
    with pytest.raises(ParseError) as err:
        verify_evidence(
            b"\x00" * 64, source="x.bin", options=VerifyOptions(at=WHEN), families=fake_families
        )
    assert err.value.exit_code == ExitCode.BAD_INPUT
    assert err.value.location.offset == 0
    assert "x.bin" in err.value.message


def test_authenticity_only(fake_families: tuple[Family, ...]) -> None:
    ok, codes, out = _verify(fake_families, make_evidence(), material=VCEK)
    assert ok
    assert codes == [
        "fake.signature.verified",
        "evidence.freshness.unchecked",
        "evidence.manifest.absent",
    ]
    facts = out.verdict.facts  # type: ignore[attr-defined]
    assert facts["family"] == "snp"
    assert facts["measured"]["MEASUREMENT"] == make_evidence()[0x49:0x79].hex()
    assert facts["verifiedAt"] == AT
    assert facts["warnings"] == []


def test_tdx_family_dispatch(fake_families: tuple[Family, ...]) -> None:
    ok, codes, out = _verify(fake_families, make_evidence("tdx"))
    assert ok
    assert codes[0] == "fake.signature.verified"
    assert out.family == "tdx"  # type: ignore[attr-defined]


def test_a_flipped_byte_fails(fake_families: tuple[Family, ...]) -> None:
    data = bytearray(make_evidence())
    data[0x50] ^= 1
    ok, codes, _ = _verify(fake_families, bytes(data), material=VCEK)
    assert not ok
    assert "fake.signature.invalid" in codes


def test_missing_material_is_exit_3(fake_families: tuple[Family, ...]) -> None:
    with pytest.raises(MaterialMissing) as err:
        _verify(fake_families, make_evidence())
    assert err.value.exit_code == ExitCode.ENVIRONMENT


def test_unused_material_is_named(fake_families: tuple[Family, ...]) -> None:
    m = Material(certificates=VCEK.certificates, collateral=Blob("c.json", b"{}"))
    _, _, out = _verify(fake_families, make_evidence(), material=m)
    assert out.verdict.facts["unusedMaterial"] == ["collateral"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("check", "code"),
    [
        (ReportDataCheck(bytes(range(8)), exact=False), "evidence.nonce.match"),
        (ReportDataCheck(bytes(range(64)), exact=False), "evidence.nonce.match"),
        (ReportDataCheck(bytes(range(1, 9)), exact=False), "evidence.nonce.mismatch"),
        (ReportDataCheck(bytes(range(64)), exact=True), "evidence.report-data.match"),
        (ReportDataCheck(bytes(63) + b"\x01", exact=True), "evidence.report-data.mismatch"),
    ],
)
def test_report_data(fake_families: tuple[Family, ...], check: ReportDataCheck, code: str) -> None:
    ok, codes, _ = _verify(fake_families, make_evidence(), material=VCEK, report_data=check)
    assert code in codes
    assert "evidence.freshness.unchecked" not in codes
    assert ok is code.endswith(".match")


@pytest.mark.parametrize(("size", "exact"), [(0, False), (65, False), (32, True), (65, True)])
def test_report_data_sizes_refused(size: int, exact: bool) -> None:
    with pytest.raises(InputError):
        ReportDataCheck(bytes(size), exact=exact)


def test_trusted_manifest_is_compared(fake_families: tuple[Family, ...]) -> None:
    ok, codes, out = _verify(fake_families, make_evidence(), material=VCEK, manifest=_manifest())
    assert ok, out
    assert codes[0] == "manifest.signature.verified"
    assert "fake.measurement.match" in codes
    assert "evidence.manifest.absent" not in codes
    assert out.verdict.facts["manifest"]["release"] == "example-service 1.2.0"  # type: ignore[attr-defined]


def test_other_measurement_fails_naming_the_check(fake_families: tuple[Family, ...]) -> None:
    ev = make_evidence(measurement=bytes(48))
    ok, _, out = _verify(fake_families, ev, material=VCEK, manifest=_manifest())
    assert not ok
    failing = [r.code for r in out.verdict.failures]  # type: ignore[attr-defined]
    assert failing == ["fake.measurement.mismatch"]


def test_untrusted_manifest_is_refused_and_not_compared(
    fake_families: tuple[Family, ...],
) -> None:
    ok, codes, _ = _verify(
        fake_families, make_evidence(), material=VCEK, manifest=_manifest(index=1, trusted=0)
    )
    assert not ok
    assert "manifest.signer.untrusted" in codes
    assert "evidence.manifest.refused" in codes
    assert not any(c.startswith("fake.measurement") for c in codes)
    assert "fake.signature.verified" in codes  # authenticity is still reported


def test_expired_manifest_is_refused(fake_families: tuple[Family, ...]) -> None:
    options = VerifyOptions(
        at=datetime(2027, 3, 1, tzinfo=UTC), material=VCEK, manifest=_manifest()
    )
    out = verify_evidence(make_evidence(), source="e", options=options, families=fake_families)
    codes = _codes(out.verdict.results)
    assert "manifest.expired" in codes
    assert "evidence.manifest.refused" in codes


def test_unsigned_manifest_is_refused(fake_families: tuple[Family, ...]) -> None:
    _, pub = _bundle()
    m = ManifestInput(
        bundles=(Blob("release.json", SIGNING_RELEASE.read_bytes()),),
        trust=TrustInput(keys=(Blob("k.pub", pub),)),
    )
    ok, codes, _ = _verify(fake_families, make_evidence(), material=VCEK, manifest=m)
    assert not ok
    assert "evidence.manifest.unsigned" in codes
    assert not any(c.startswith("fake.measurement") for c in codes)


def test_trust_policy_with_threshold(tmp_path: Path, fake_families: tuple[Family, ...]) -> None:
    b0, p0 = _bundle(0)
    b1, p1 = _bundle(1)
    (tmp_path / "a.pub").write_bytes(p0)
    (tmp_path / "b.pub").write_bytes(p1)
    policy = b"version: 1\nthreshold: 2\nsigners:\n  - key: a.pub\n  - key: b.pub\n"
    source = str(tmp_path / "trust.yaml")
    trust = trust_from_policy(policy, source=source, read=lambda p: Path(p).read_bytes())
    assert sorted(b.source for b in trust.files) == sorted(
        str(PurePath(tmp_path) / n) for n in ("a.pub", "b.pub")
    )
    both = ManifestInput((Blob("a.json", b0), Blob("b.json", b1)), trust)
    ok, codes, _ = _verify(fake_families, make_evidence(), material=VCEK, manifest=both)
    assert ok
    assert "manifest.threshold.met" in codes
    one = ManifestInput((Blob("a.json", b0),), trust)
    ok, codes, _ = _verify(fake_families, make_evidence(), material=VCEK, manifest=one)
    assert not ok
    assert "manifest.threshold.unmet" in codes


def test_debug_guest_warns_and_fails_a_manifest(fake_families: tuple[Family, ...]) -> None:
    ev = make_evidence(debug=True)
    ok, _, out = _verify(fake_families, ev, material=VCEK)
    assert ok  # authentic
    warnings = out.warnings  # type: ignore[attr-defined]
    assert len(warnings) == 1
    assert "DEBUG GUEST" in warnings[0]
    assert out.verdict.facts["debug"] is True  # type: ignore[attr-defined]
    ok, codes, _ = _verify(fake_families, ev, material=VCEK, manifest=_manifest())
    assert not ok
    assert "fake.debug.refused" in codes


def test_manifest_without_values_for_the_family(fake_families: tuple[Family, ...]) -> None:
    doc = json.loads(SIGNING_RELEASE.read_bytes())
    del doc["predicate"]["referenceValues"]["snp"]
    k = key(KeyType.ECDSA_P256, 0)
    bundle = sign(canonical_dumps(doc), k)
    m = ManifestInput(
        (Blob("b.json", bundle),), TrustInput(keys=(Blob("k", k.public_key().pem()),))
    )
    ok, codes, _ = _verify(fake_families, make_evidence(), material=VCEK, manifest=m)
    assert not ok
    assert "evidence.compare.empty" in codes


def test_one_verifier_many_threads(fake_families: tuple[Family, ...]) -> None:
    verifier = EvidenceVerifier(fake_families)
    manifest = _manifest()
    cases = [
        (
            make_evidence(
                measurement=bytes([i]) * 48 if i % 3 else make_evidence()[0x49:0x79],
                report_data=bytes([i]) * 64,
            ),
            i,
        )
        for i in range(12)
    ]

    def run(data: bytes, i: int) -> tuple[bool, tuple[str, ...]]:
        options = VerifyOptions(
            at=WHEN,
            material=VCEK,
            manifest=manifest,
            report_data=ReportDataCheck(bytes([i]) * 8, exact=False),
        )
        out = verifier.verify(data, source=f"e{i}", options=options)
        return out.ok, tuple(r.code for r in out.verdict.results)

    expected = [run(d, i) for d, i in cases]
    assert any(ok for ok, _ in expected)
    assert not all(ok for ok, _ in expected)
    got: dict[int, list[tuple[bool, tuple[str, ...]]]] = {}
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            got[t] = [run(d, i) for d, i in cases for _ in range(3)][::3]
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert all(v == expected for v in got.values())


# ---------------------------------------------------------------------------------------
# Receipts


def _receipt(fams: tuple[Family, ...], **kw: object) -> bytes:
    data = kw.pop("data", make_evidence())
    assert isinstance(data, bytes)
    options = VerifyOptions(at=WHEN, at_source="--at", **kw)  # type: ignore[arg-type]
    out = verify_evidence(data, source="ev.bin", options=options, families=fams)
    return receipt_bytes(data, source="ev.bin", options=options, outcome=out)


def test_receipt_round_trip(fake_families: tuple[Family, ...]) -> None:
    ev = make_evidence()
    data = _receipt(
        fake_families,
        data=ev,
        material=VCEK,
        manifest=_manifest(),
        report_data=ReportDataCheck(bytes(range(4)), exact=False),
    )
    assert data == _receipt(  # deterministic: canonical JSON of the same facts
        fake_families,
        data=ev,
        material=VCEK,
        manifest=_manifest(),
        report_data=ReportDataCheck(bytes(range(4)), exact=False),
    )
    from refkit.manifests.canonical import is_canonical

    assert is_canonical(data.rstrip(b"\n"), source="receipt")
    replay = replay_receipt(data, source="r.json", families=fake_families)
    assert replay.ok
    assert replay.verdict.results[-1].code == "evidence.receipt.reproduced"
    assert replay.receipt.options.at == WHEN


def test_receipt_of_a_no_reproduces_but_fails(fake_families: tuple[Family, ...]) -> None:
    data = _receipt(
        fake_families,
        data=make_evidence(measurement=bytes(48)),
        material=VCEK,
        manifest=_manifest(),
    )
    replay = replay_receipt(data, source="r.json", families=fake_families)
    assert not replay.ok
    assert replay.verdict.results[-1].code == "evidence.receipt.reproduced"


def _edit(data: bytes, change: object) -> bytes:
    doc = json.loads(data)
    change(doc)  # type: ignore[operator]
    return canonical_dumps(doc)


def test_tampered_receipts_are_detected(fake_families: tuple[Family, ...]) -> None:
    data = _receipt(fake_families, material=VCEK, manifest=_manifest())

    def swap_evidence(doc: dict) -> None:  # type: ignore[type-arg]
        other = make_evidence(measurement=bytes(48))
        doc["evidence"]["base64"] = base64.b64encode(other).decode()
        doc["evidence"]["sha256"] = Blob("", other).sha256

    def later(doc: dict) -> None:  # type: ignore[type-arg]
        doc["verifiedAt"] = "2027-03-01T00:00:00Z"  # after the manifest expired

    def bytes_only(doc: dict) -> None:  # type: ignore[type-arg]
        doc["evidence"]["base64"] = base64.b64encode(make_evidence(debug=True)).decode()

    for change, code in (
        (swap_evidence, "evidence.receipt.verdict-differs"),
        (later, "evidence.receipt.verdict-differs"),
        (bytes_only, "evidence.receipt.digest-mismatch"),
    ):
        replay = replay_receipt(_edit(data, change), source="r.json", families=fake_families)
        assert not replay.ok
        assert replay.verdict.results[-1].code == code, change


def test_receipt_holds_the_policy_files(tmp_path: Path, fake_families: tuple[Family, ...]) -> None:
    b0, p0 = _bundle(0)
    (tmp_path / "a.pub").write_bytes(p0)
    trust = trust_from_policy(
        b"version: 1\nsigners:\n  - key: a.pub\n",
        source=str(tmp_path / "trust.yaml"),
        read=lambda p: Path(p).read_bytes(),
    )
    data = _receipt(fake_families, material=VCEK, manifest=ManifestInput((Blob("b", b0),), trust))
    (tmp_path / "a.pub").unlink()  # the replay needs nothing but the receipt
    replay = replay_receipt(data, source="r.json", families=fake_families)
    assert replay.ok
    assert replay.verdict.results[-1].code == "evidence.receipt.reproduced"


def test_receipt_refuses_unknown_fields(fake_families: tuple[Family, ...]) -> None:
    data = _receipt(fake_families, material=VCEK)
    for change in (
        lambda d: d.update(extra=1),
        lambda d: d["material"].update(extra=1),
        lambda d: d["evidence"].update(base64="@@"),
        lambda d: d.update(_type="https://example/other"),
        lambda d: d["verdict"]["results"][0].update(code="fake.nope"),
    ):
        with pytest.raises(ParseError):
            parse_receipt(_edit(data, change), source="r.json")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.fixture
def sample_receipt(fake_families: tuple[Family, ...]) -> bytes:
    return _receipt(fake_families, material=VCEK, manifest=_manifest())


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.data())
def test_fuzz_receipt_reader(
    fake_families: tuple[Family, ...], sample_receipt: bytes, data: st.DataObject
) -> None:
    base = sample_receipt
    choice = data.draw(st.integers(0, 3))
    blob: bytes
    if choice == 0:
        blob = data.draw(st.binary(max_size=2000))
    elif choice == 1:
        mutable = bytearray(base)
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(mutable) - 1))
            mutable[i] = data.draw(st.integers(0, 255))
        blob = bytes(mutable)
    elif choice == 2:
        blob = base[: data.draw(st.integers(0, len(base)))]
    else:
        # A structural change: one value anywhere in the document replaced.
        doc = json.loads(base)
        node: Any = doc
        while isinstance(node, dict | list) and node and data.draw(st.booleans()):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            k = data.draw(st.sampled_from(keys))
            child = node[k]
            if not isinstance(child, dict | list) or not child:
                node[k] = data.draw(_JSON)
                break
            node = child
        else:
            if isinstance(node, dict):
                node[data.draw(st.text(max_size=8))] = data.draw(_JSON)
        blob = json.dumps(doc).encode()
    try:
        replay_receipt(bytes(blob), source="fuzz.json", families=fake_families)
    except RefkitError as exc:
        assert_not_a_bug(exc)
