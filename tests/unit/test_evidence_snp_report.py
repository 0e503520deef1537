"""SEV-SNP report and Azure HCL parsing: real vectors, every refusal, fuzzing."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import ParseError, RefkitError
from refkit.evidence import snp
from refkit.evidence.snp.report import SigningKey, decode_tcb
from refkit.measure.cpu import SnpProduct
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug, vector
from tests.snp_evidence_support import (
    AT,
    CHIP_ID,
    CLAIMS,
    REPORTS,
    TURIN_TCB,
    claims_report_data,
    hcl_wrap,
    make_pki,
    make_report,
    real,
)


@pytest.mark.parametrize("name", REPORTS)
def test_real_reports_parse_every_field_at_its_offset(name: str) -> None:
    data = vector("snp", f"{name}.report.bin").read_bytes()
    assert snp.looks_like(data)
    ev = snp.parse(data, source=name)
    r = ev.report
    # Second, independent reading of the same bytes (DOMAIN.md section 6 offsets).
    version, _svn, policy = struct.unpack_from("<IIQ", data, 0)
    assert (r.version, r.policy) == (version, policy)
    assert r.measurement == data[0x90:0xC0]
    assert r.report_data == data[0x50:0x90] == ev.report_data
    assert r.host_data == data[0xC0:0xE0]
    assert r.chip_id == data[0x1A0:0x1E0]
    assert r.reported_tcb_raw == data[0x180:0x188]
    assert r.signature_r == data[0x2A0:0x2E8]
    assert r.signature_s == data[0x2E8:0x330]
    assert r.signed_bytes == data[:0x2A0]
    assert r.signing_key is SigningKey.VCEK
    assert ev.hcl is None
    assert ev.kind == "snp-report"
    # go-sev-guest's attestation.bin (milan-v2-b) has policy 0xb0000: DEBUG (bit 19) set.
    # PROVENANCE.md does not say so; the policy bytes do.
    assert ev.debug is (name == "milan-v2-b") is bool(policy & (1 << 19))


def test_v5_report_names_its_product_and_v2_does_not() -> None:
    v5 = snp.parse(vector("snp", "gcp-milan-v5.report.bin").read_bytes(), source="v5")
    # CPUID bytes 19 01 01 (family 0x19 model 1): Milan, as the vector's name and VCEK say.
    assert v5.report.cpuid == (0x19, 0x01, 0x01)
    assert v5.product is SnpProduct.MILAN
    assert v5.report.current_mit_vector == 0xB == v5.report.launch_mit_vector
    v2 = snp.parse(vector("snp", "milan-v2-a.report.bin").read_bytes(), source="v2")
    assert v2.product is None
    assert v2.report.cpuid is None
    assert v2.report.current_mit_vector is None


def test_milan_tcb_layout_matches_the_vcek() -> None:
    """The gcp VCEK's extensions (blSPL 4, teeSPL 0, snpSPL 27, ucodeSPL 222, read with
    cryptography in the chain test) are REPORTED_TCB's bytes 0, 1, 6, 7."""
    v5 = snp.parse(vector("snp", "gcp-milan-v5.report.bin").read_bytes(), source="v5")
    tcb = v5.report.tcb("reported", SnpProduct.MILAN)
    assert tcb.components() == {"bootloader": 4, "tee": 0, "snp": 27, "microcode": 222}


def test_turin_tcb_layout_is_fmc_first() -> None:
    raw = bytes([1, 2, 3, 4, 0, 0, 0, 5])
    assert decode_tcb(raw, SnpProduct.TURIN).components() == TURIN_TCB
    assert decode_tcb(raw, SnpProduct.GENOA).components() == {
        "bootloader": 1,
        "tee": 2,
        "snp": 0,
        "microcode": 5,
    }


def test_synthetic_turin_report_parses_with_its_product() -> None:
    data = make_report(make_pki(SnpProduct.TURIN))
    ev = snp.parse(data, source="synthetic turin")
    assert ev.product is SnpProduct.TURIN
    assert ev.report.tcb("reported", ev.product).components() == TURIN_TCB


def _patched(offset: int, value: bytes) -> bytes:
    data = bytearray(vector("snp", "gcp-milan-v5.report.bin").read_bytes())
    data[offset : offset + len(value)] = value
    return bytes(data)


@pytest.mark.parametrize(
    ("offset", "value", "words"),
    [
        pytest.param(0, struct.pack("<I", 1), "version 1", id="version-1"),
        pytest.param(0, struct.pack("<I", 6), "version 6", id="version-6"),
        pytest.param(0x34, struct.pack("<I", 2), "not ECDSA P-384", id="signature-algo"),
        pytest.param(0x08, struct.pack("<Q", 0x10000), "bit 17", id="policy-bit-17-clear"),
        pytest.param(
            0x08, struct.pack("<Q", 0x30000 | 1 << 40), "reserved bits", id="policy-reserved"
        ),
        pytest.param(0x48, struct.pack("<I", 3 << 2), "signing key 3", id="signing-key-3"),
        pytest.param(0x48, struct.pack("<I", 1 << 9), "reserved bits", id="signer-reserved"),
        pytest.param(0x4C, b"\x01", "reserved", id="reserved-4c"),
        pytest.param(0x18B, b"\x01", "reserved", id="reserved-18b"),
        pytest.param(0x208, b"\x01", "reserved", id="reserved-208"),
        pytest.param(0x1EB, b"\x01", "reserved", id="version-reserved"),
        pytest.param(0x183, b"\x01", "TCB", id="tcb-reserved"),
        pytest.param(0x2A0 + 144, b"\x01", "SIGNATURE", id="signature-reserved"),
    ],
)
def test_malformed_reports_are_typed_errors_naming_the_offset(
    offset: int, value: bytes, words: str
) -> None:
    with pytest.raises(ParseError) as info:
        snp.parse(_patched(offset, value), source="r.bin")
    assert words in str(info.value)
    assert info.value.location.source == "r.bin"
    assert info.value.location.offset == offset


@pytest.mark.parametrize(("size", "offset"), [(100, 100), (1183, 1183), (1185, 1184), (0, 0)])
def test_wrong_sizes_are_typed_errors(size: int, offset: int) -> None:
    data = (vector("snp", "gcp-milan-v5.report.bin").read_bytes() + bytes(8))[:size]
    with pytest.raises(ParseError, match="1184") as info:
        snp.parse(data, source="r.bin")
    assert info.value.location.offset == offset
    assert not snp.looks_like(data)


def test_v2_report_refuses_v3_and_v5_fields() -> None:
    v2 = bytearray(vector("snp", "milan-v2-a.report.bin").read_bytes())
    with_cpuid = bytes(v2[:0x188]) + b"\x19" + bytes(v2[0x189:])
    with pytest.raises(ParseError, match="no CPUID"):
        snp.parse(with_cpuid, source="v2")
    with_mit = bytes(v2[:0x200]) + b"\x01" + bytes(v2[0x201:])
    with pytest.raises(ParseError, match="no mitigation"):
        snp.parse(with_mit, source="v2")


# --- Azure HCL ------------------------------------------------------------------------------


def test_synthetic_hcl_report_parses_with_its_claims() -> None:
    """SYNTHETIC: a test-key report inside an HCL wrapper laid out as az-cvm-vtpm's."""
    pki = make_pki()
    inner = make_report(pki, report_data=claims_report_data(CLAIMS))
    data = hcl_wrap(inner, CLAIMS)
    assert len(data) == 2600
    assert snp.looks_like(data)
    ev = snp.parse(data, source="hcl.bin")
    assert ev.kind == "azure-hcl-report"
    assert ev.hcl is not None
    assert ev.report.raw == inner
    assert ev.hcl.runtime_claims == CLAIMS
    assert ev.hcl.claims_digest == hashlib.sha256(CLAIMS).digest()
    assert ev.hcl.claims_json()["keys"][0]["kid"] == "HCLAkPub"


@pytest.mark.parametrize(
    ("offset", "value", "words"),
    [
        (0x4C8, struct.pack("<I", 4), "TDX"),
        (0x4CC, struct.pack("<I", 9), "hash type"),
        (0x4D0, struct.pack("<I", 5000), "claims size"),
        (0x8, struct.pack("<I", 7), "report size"),
        (0x14, b"\x01", "reserved"),
        (2599, b"\x01", "padding"),
        (0x20, struct.pack("<I", 9), "version 9"),
    ],
)
def test_malformed_hcl_reports_are_typed_errors(offset: int, value: bytes, words: str) -> None:
    data = bytearray(hcl_wrap(make_report(make_pki()), CLAIMS))
    data[offset : offset + len(value)] = value
    with pytest.raises(ParseError, match=words) as info:
        snp.parse(bytes(data), source="hcl.bin")
    assert info.value.location.offset is not None


def test_hcl_inner_report_errors_name_the_offset_in_the_wrapper() -> None:
    data = bytearray(hcl_wrap(make_report(make_pki()), CLAIMS))
    data[0x20 + 0x34] = 2  # SIGNATURE_ALGO of the inner report
    with pytest.raises(ParseError) as info:
        snp.parse(bytes(data), source="hcl.bin")
    assert info.value.location.offset == 0x20 + 0x34


# --- fuzzing --------------------------------------------------------------------------------


def _parse_or_typed(data: bytes, certificates: list[bytes] | None = None) -> None:
    """Parse (and, given certificates, verify): a typed error or results, nothing else."""
    try:
        ev = snp.parse(data, source="fuzz")
        if certificates is not None:
            snp.verify(ev, certificates=certificates, at=AT)
    except RefkitError as exc:
        assert_not_a_bug(exc)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=3000))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _parse_or_typed(data)


def _bases() -> dict[str, bytes]:
    return {
        "real": vector("snp", "gcp-milan-v5.report.bin").read_bytes(),
        "hcl": hcl_wrap(make_report(make_pki()), CLAIMS),
    }


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(
    st.sampled_from(["real", "hcl"]),
    st.lists(st.tuples(st.integers(0, 2599), st.integers(0, 255)), max_size=8),
    st.integers(-40, 40),
)
def test_fuzz_mutations_of_real_and_hcl_reports(
    which: str, edits: list[tuple[int, int]], resize: int
) -> None:
    data = bytearray(_bases()[which])
    for offset, value in edits:
        if offset < len(data):
            data[offset] = value
    data = data[: len(data) + resize] if resize < 0 else data + bytes(resize)
    _report, vcek, ask_ark = real("gcp-milan-v5")
    _parse_or_typed(bytes(data), [vcek, ask_ark])


def test_chip_id_constant_is_64_bytes() -> None:
    assert len(CHIP_ID) == 64
