"""SPDM GET_MEASUREMENTS parsing, opaque TLVs, FWID extensions and the input formats:
the real nvidia/ vectors (PROVENANCE.md states their fields), typed refusals of bad
input, and hypothesis fuzzing of every parser."""

from __future__ import annotations

import base64
import contextlib
import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import ParseError
from refkit.evidence import gpu
from refkit.evidence.gpu import certs, spdm
from tests import gpu_support as gs
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug

pytestmark = pytest.mark.vectors


def _raw(name: str) -> bytes:
    return bytes.fromhex(gs.read(name).decode().strip())


def test_h100_545_fields_match_provenance() -> None:
    (ev,) = gpu.parse(gs.read(gs.H100_545[0]), source="r", chain=gs.read(gs.H100_545[1]))
    m = ev.measurements
    # PROVENANCE.md: 64 blocks of 48-byte SHA-384, record length 3520, request nonce
    # 4cff7f53…51af2e, driver 545.00, VBIOS 96.00.5E.00.01, no FWID.
    assert len(m.blocks) == 64
    assert all(len(b.value) == 48 for b in m.blocks)
    assert [b.number for b in m.blocks] == list(range(1, 65))
    assert m.nonce == gs.NONCE_545
    assert ev.driver_version == "545.00"
    assert ev.vbios_version == "96.00.5E.00.01"
    assert ev.fwid is None
    assert ev.kind == "gpu"
    assert ev.chip == "GH100"
    # PROVENANCE.md: the VBIOS RIM id NV_GPU_VBIOS_1010_0200_882_96005E0001.
    assert ev.rim_ids == ("NV_GPU_DRIVER_GH100_545.00", "NV_GPU_VBIOS_1010_0200_882_96005E0001")
    assert len(m.signature) == 96
    assert len(ev.raw) == len(m.signed) + 96


def test_h100_550_and_switch_fields() -> None:
    (ev,) = gpu.parse(gs.read(gs.H100_550[0]), source="r", chain=gs.read(gs.H100_550[1]))
    assert ev.driver_version == "550.90.07"
    assert ev.vbios_version == "96.00.9F.00.01"
    assert ev.fwid is not None
    assert len(ev.fwid) == 48
    assert ev.nonce.hex().startswith(gs.NONCE_550_PREFIX)
    (sw,) = gpu.parse(gs.read(gs.LS10[0]), source="s", chain=gs.read(gs.LS10[1]))
    # PROVENANCE.md: NVSwitch, 31 blocks, BIOS 96.10.55.00.01 (ASCII), no FWID.
    assert sw.kind == "switch"
    assert sw.chip == "LS10"
    assert len(sw.measurements.blocks) == 31
    assert sw.vbios_version == "96.10.55.00.01"
    assert sw.driver_version is None
    assert sw.fwid is None
    assert sw.nonce.hex().startswith(gs.NONCE_550_PREFIX)


def test_json_evidence_list_shapes_give_the_same_evidence() -> None:
    report = _raw(gs.H100_545[0])
    chain = gs.read(gs.H100_545[1])
    item = {
        "evidence": base64.b64encode(report).decode(),
        "certificate": base64.b64encode(chain).decode(),
        "arch": "HOPPER",
    }
    (hex_ev,) = gpu.parse(gs.read(gs.H100_545[0]), source="h", chain=chain)
    for doc in (
        [item, item],
        {"nonce": gs.NONCE_545.hex(), "evidence_list": [item], "arch": "HOPPER"},
    ):
        evs = gpu.parse(json.dumps(doc).encode(), source="j")
        assert all(e.raw == hex_ev.raw and e.certificates == hex_ev.certificates for e in evs)
        assert evs[0].arch == "HOPPER"
        assert gpu.looks_like(json.dumps(doc).encode())
    assert gpu.looks_like(gs.read(gs.H100_545[0]))
    assert gpu.looks_like(report)
    assert not gpu.looks_like(b"<SoftwareIdentity/>")


@pytest.mark.parametrize(
    "doc",
    [
        b"[",
        b"{}",
        b"[]",
        b'[{"evidence": 5}]',
        b'[{"evidence": "!!"}]',
        b'{"evidence_list": 3}',
        b"[1]",
    ],
)
def test_bad_json_lists_are_parse_errors(doc: bytes) -> None:
    with pytest.raises(ParseError):
        gpu.parse(doc, source="j")


def test_every_truncation_is_a_parse_error_naming_an_offset() -> None:
    raw = _raw(gs.LS10[0])
    for cut in range(len(raw)):
        with pytest.raises(ParseError) as info:
            spdm.parse(raw[:cut], source="r")
        assert info.value.location.source == "r"
        assert info.value.location.offset is not None


def _patched(raw: bytes, at: int, value: bytes) -> bytes:
    return raw[:at] + value + raw[at + len(value) :]


@pytest.mark.parametrize(
    ("at", "value", "words"),
    [
        (0, b"\x12", "SPDM version"),
        (1, b"\xe1", "GET_MEASUREMENTS"),
        (2, b"\x00", "no signature"),
        (37, b"\x10", "SPDM version"),
        (38, b"\x61", "MEASUREMENTS"),
        (41, b"\x3f", "NumberOfBlocks"),  # 63 blocks claimed, 64 present
        (42, b"\xc1\x0d\x00", "truncated block header"),  # record length 3521
        (42, b"\xbf\x0d\x00", "block 64: size 51 overruns"),  # record length 3519
    ],
)
def test_header_and_count_disagreements_are_typed(at: int, value: bytes, words: str) -> None:
    raw = _raw(gs.H100_545[0])
    with pytest.raises(ParseError, match=words):
        spdm.parse(_patched(raw, at, value), source="r")


def test_opaque_tlv_overrun_and_block_size_disagreement() -> None:
    raw = _raw(gs.H100_545[0])
    m = spdm.parse(raw, source="r")
    first = m.opaque[0]
    bad = _patched(raw, first.offset + 2, struct.pack("<H", 0xFFF0))
    with pytest.raises(ParseError, match="overruns the opaque data"):
        spdm.parse(bad, source="r")
    # block 1's DMTF value size (offset 45+4+1) disagrees with the block size
    with pytest.raises(ParseError, match="disagrees"):
        spdm.parse(_patched(raw, 45 + 5, b"\x2f"), source="r")


def test_vbios_version_forms() -> None:
    # PROVENANCE.md's worked example.
    assert spdm.vbios_version(bytes.fromhex("005e009601000000")) == "96.00.5E.00.01"
    assert spdm.vbios_version(b"96.10.55.00.01") == "96.10.55.00.01"
    assert spdm.vbios_version(None) is None


def test_hopper_fwid_extension_of_real_leaves() -> None:
    for _report, chain in (gs.H100_550, gs.H100_545, gs.LS10):
        leaf = certs.load_certificates(gs.read(chain), source="c")[0]
        found = certs.leaf_fwid(leaf)
        assert found is not None
        assert found[0] == certs.OID_HOPPER_FWID
        assert len(found[1]) == 48
    (ev,) = gpu.parse(gs.read(gs.H100_550[0]), source="r", chain=gs.read(gs.H100_550[1]))
    leaf = ev.certificates[0]
    assert certs.leaf_fwid(leaf) == (certs.OID_HOPPER_FWID, ev.fwid)


def test_dice_tcbinfo_fwid() -> None:
    # A TcbInfo built by hand (TCG DICE: SEQUENCE { vendor [0], fwids [6] { SEQUENCE {
    # OID sha384, OCTET STRING } } }); the reader must return fwids[0].digest.
    digest = bytes(range(48))
    oid = bytes.fromhex("0609608648016503040202")
    fwid = b"\x30" + bytes([len(oid) + 50]) + oid + b"\x04\x30" + digest
    fwids = b"\xa6" + bytes([len(fwid)]) + fwid
    vendor = b"\x80\x06NVIDIA"
    body = vendor + fwids
    ext = b"\x30" + bytes([len(body)]) + body
    assert certs.dice_fwid(ext) == digest
    with pytest.raises(certs.DerError):
        certs.dice_fwid(b"\x30\x08" + vendor)


# ---------------------------------------------------------------------------------------
# Fuzzing


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_spdm_parse(data: bytes) -> None:
    try:
        spdm.parse(data, source="f")
    except ParseError:
        pass
    except Exception as exc:  # pragma: no cover - the failure is the bug report
        assert_not_a_bug(exc)
        raise


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4200), st.integers(1, 255)), min_size=1, max_size=4))
def test_fuzz_mutated_real_report(flips: list[tuple[int, int]]) -> None:
    raw = bytearray(_raw(gs.H100_545[0]))
    for at, x in flips:
        raw[at % len(raw)] ^= x
    with contextlib.suppress(ParseError):
        spdm.parse(bytes(raw), source="f")


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_tlvs(data: bytes) -> None:
    try:
        fields = spdm.parse_tlvs(data, source="f")
    except ParseError:
        return
    assert sum(4 + len(f.value) for f in fields) == len(data)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 8))
def test_fuzz_record(data: bytes, count: int) -> None:
    try:
        blocks = spdm.parse_record(data, count, source="f")
    except ParseError:
        return
    assert len(blocks) == count


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_cert_extensions(data: bytes) -> None:
    for reader in (certs.hopper_fwid, certs.dice_fwid):
        with contextlib.suppress(certs.DerError):
            reader(data)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_json_and_hex_inputs(data: bytes) -> None:
    for doc in (data, b"[" + data, data.hex().encode()):
        with contextlib.suppress(ParseError):
            gpu.parse(doc, source="f")


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3519), st.integers(1, 255)), max_size=3))
def test_fast_record_path_agrees_with_the_general_parser(flips: list[tuple[int, int]]) -> None:
    raw = _raw(gs.H100_545[0])
    record = bytearray(raw[45 : 45 + 3520])
    for at, x in flips:
        record[at] ^= x
    try:
        general: object = spdm.parse_record_general(bytes(record), 64, source="f")
    except ParseError:
        general = None
    assert spdm._uniform(bytes(record), 64) in (None, general)
    if general is not None and all(len(b.value) == 48 for b in general):  # type: ignore[attr-defined]
        assert spdm._uniform(bytes(record), 64) == general
