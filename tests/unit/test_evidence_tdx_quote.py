"""TDX quote parser: every real quote parses, fields equal dcap-qvl's parse, and every
malformed input is a typed ParseError naming the offset."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refkit.errors import ParseError
from refkit.evidence import tdx
from refkit.evidence.tdx.quote import MAX_QUOTE_SIZE, parse_quote
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug
from tests.tdx_evidence_support import PHALA_QUOTE, QUOTES, read


@pytest.mark.parametrize("parts", QUOTES, ids=lambda p: p[-1])
def test_every_real_quote_parses(parts: tuple[str, ...]) -> None:
    data = read(parts)
    assert tdx.looks_like(data)
    ev = tdx.parse(data, source=parts[-1])
    q = ev.quote
    assert q.version in (4, 5)
    # the signed region ends at the body: header 48 (+6 for v5) + body 584/648
    body = 648 if q.body_type == 3 else 584
    assert len(q.signed) == 48 + (6 if q.version == 5 else 0) + body
    assert q.pck_chain_pem.count(b"BEGIN CERTIFICATE") == 3
    assert len(q.raw) + len(q.trailing) == len(data)


@pytest.mark.peer
@pytest.mark.parametrize("parts", QUOTES, ids=lambda p: p[-1])
def test_fields_equal_dcap_qvl_parse(parts: tuple[str, ...]) -> None:
    dcap_qvl = pytest.importorskip("dcap_qvl", reason="dcap-qvl (the peer) is not installed")
    data = read(parts)
    peer = dcap_qvl.parse_quote(data)
    ours = tdx.parse(data, source=parts[-1]).quote
    assert peer.header.version == ours.header.version
    assert peer.header.qe_svn == ours.header.qe_svn
    assert peer.header.pce_svn == ours.header.pce_svn
    assert bytes(peer.header.qe_vendor_id) == ours.header.qe_vendor_id
    assert bytes(peer.header.user_data) == ours.header.user_data
    report = peer.report
    body = ours.body
    for name in (
        "tee_tcb_svn",
        "mr_seam",
        "mr_signer_seam",
        "seam_attributes",
        "td_attributes",
        "xfam",
        "mr_config_id",
        "mr_owner",
        "mr_owner_config",
        "report_data",
    ):
        assert bytes(getattr(report, name)) == getattr(body, name), name
    assert bytes(report.mr_td) == body.mr_td
    rtmrs = (report.rt_mr0, report.rt_mr1, report.rt_mr2, report.rt_mr3)
    assert tuple(bytes(r) for r in rtmrs) == body.rtmrs
    if ours.body_type == 3:
        assert bytes(report.tee_tcb_svn2) == body.tee_tcb_svn2
        assert bytes(report.mr_service_td) == body.mr_service_td


def test_debug_and_report_data() -> None:
    # PROVENANCE-independent facts read from the bytes: v4-b's TD_ATTRIBUTES byte 0 is 1.
    debug = tdx.parse(read(("tdx", "v4-b.quote.bin")), source="v4-b")
    assert debug.debug
    assert debug.quote.body.td_attributes[0] == 1
    plain = tdx.parse(read(PHALA_QUOTE), source="phala")
    assert not plain.debug
    data = read(PHALA_QUOTE)
    assert plain.report_data == data[48 + 0x208 : 48 + 0x208 + 64]


def test_ccel_quote_report_data_is_the_nonce() -> None:
    from tests.shared import vector

    nonce = vector("tdx", "ccel-gcp", "nonce.dat").read_bytes()
    ev = tdx.parse(read(("tdx", "ccel-gcp", "cos-113-tdx-quote.dat")), source="gcp")
    assert ev.report_data == nonce


def test_every_truncation_is_a_parse_error() -> None:
    data = tdx.parse(read(PHALA_QUOTE), source="x").quote.raw
    for size in range(len(data)):
        with pytest.raises(ParseError) as info:
            parse_quote(data[:size], source="cut")
        assert info.value.location.source == "cut"
        assert info.value.location.offset is not None


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "words"),
    [
        (0, "<H", 3, "version 3"),
        (0, "<H", 6, "version 6"),
        (2, "<H", 3, "attestation key type 3"),
        (4, "<I", 0, "is not TDX"),
    ],
)
def test_unknown_header_values_are_refused(offset: int, fmt: str, value: int, words: str) -> None:
    data = bytearray(read(PHALA_QUOTE))
    struct.pack_into(fmt, data, offset, value)
    assert not tdx.looks_like(bytes(data))
    with pytest.raises(ParseError, match=words) as info:
        parse_quote(bytes(data), source="q")
    assert info.value.location.offset == offset


def test_v5_unknown_body_type_and_wrong_size() -> None:
    data = bytearray(read(("tdx", "v5-a.quote.bin")))
    bad = bytearray(data)
    struct.pack_into("<H", bad, 48, 1)  # an SGX enclave report body: not TDX
    with pytest.raises(ParseError, match="body type 1"):
        parse_quote(bytes(bad), source="q")
    bad = bytearray(data)
    struct.pack_into("<I", bad, 50, 584)  # a TDX 1.0 size for a TDX 1.5 body
    with pytest.raises(ParseError, match="does not match body type"):
        parse_quote(bytes(bad), source="q")


def test_certification_data_types_are_checked() -> None:
    q = tdx.parse(read(PHALA_QUOTE), source="x").quote
    data = bytearray(q.raw)
    outer = len(q.signed) + 4 + 128
    bad = bytearray(data)
    struct.pack_into("<H", bad, outer, 5)
    with pytest.raises(ParseError, match="not 6"):
        parse_quote(bytes(bad), source="q")
    inner = outer + 6 + 384 + 64 + 2 + len(q.qe_auth_data)
    bad = bytearray(data)
    struct.pack_into("<H", bad, inner, 4)
    with pytest.raises(ParseError, match="not 5"):
        parse_quote(bytes(bad), source="q")
    bad = bytearray(data)
    struct.pack_into("<I", bad, len(q.signed), len(data))  # signature data overruns
    with pytest.raises(ParseError, match="truncated"):
        parse_quote(bytes(bad), source="q")


def test_oversized_quote_is_refused() -> None:
    data = read(PHALA_QUOTE) + bytes(MAX_QUOTE_SIZE)
    with pytest.raises(ParseError, match="oversized"):
        parse_quote(data, source="q")


def test_trailing_bytes_are_kept_apart() -> None:
    # go-tdx-guest's SPR sample ends in a text line after the signature data
    ev = tdx.parse(read(("tdx", "spr-v4-a.quote.bin")), source="spr")
    assert ev.quote.trailing.strip() == b"extra bytes(only for testing purpose)"
    assert tdx.show(ev)["trailingBytes"] == len(ev.quote.trailing)


def _parse_or_typed(data: bytes) -> None:
    try:
        parse_quote(data, source="fuzz")
    except ParseError as exc:
        assert_not_a_bug(exc)


@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=6000))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _parse_or_typed(data)


@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.sampled_from(QUOTES),
    st.lists(st.tuples(st.integers(0, 5100), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 5100),
)
def test_fuzz_mutated_real_quotes(
    parts: tuple[str, ...], edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(read(parts))
    for offset, value in edits:
        if offset < len(data):
            data[offset] = value
    _parse_or_typed(bytes(data[: max(cut, 48)]))
    _parse_or_typed(bytes(data))


@pytest.mark.parametrize("parts", QUOTES, ids=lambda p: p[-1])
def test_show_and_measured_are_json(parts: tuple[str, ...]) -> None:
    import json

    ev = tdx.parse(read(parts), source=parts[-1])
    shown = json.loads(json.dumps(tdx.show(ev)))
    assert shown["body"]["mrTd"] == ev.quote.body.mr_td.hex()
    assert [c["subject"] for c in shown["pck"]["certificates"]][-1] == "Intel SGX Root CA"
    assert len(bytes.fromhex(shown["pck"]["sgxExtension"]["fmspc"])) == 6
    measured = tdx.measured(ev)
    assert measured["RTMR3"] == shown["body"]["rtmrs"]["3"]
    assert ("mrServiceTd" in shown["body"]) == (ev.quote.body_type == 3)
