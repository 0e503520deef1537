"""TDX collateral: TCB status and advisory IDs equal dcap-qvl's, and refkit fails wherever
dcap-qvl raises, over every quote/collateral/time combination built here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refkit.errors import ParseError
from refkit.evidence import tdx
from refkit.evidence.tdx.collateral import parse_collateral
from refkit.evidence.tdx.verification import TcbStatus
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug
from tests.tdx_evidence_support import (
    PHALA_COLLATERAL,
    PHALA_QUOTE,
    PHALA_TIME,
    QUOTES,
    epoch,
    read,
)

# Times around the Phala collateral's windows (read from its TCB info and QE identity:
# issued 2025-06-19T10:16:03Z / 10:32:27Z, next update 2025-07-19T10:16:03Z / 10:32:27Z).
TIMES = (
    datetime(2024, 1, 1, tzinfo=UTC),
    datetime(2025, 6, 19, 10, 16, 2, tzinfo=UTC),
    datetime(2025, 6, 19, 10, 20, tzinfo=UTC),
    datetime(2025, 6, 19, 10, 32, 27, tzinfo=UTC),
    PHALA_TIME,
    datetime(2025, 7, 1, tzinfo=UTC),
    datetime(2025, 7, 19, 10, 16, 3, tzinfo=UTC),
    datetime(2025, 7, 19, 10, 16, 4, tzinfo=UTC),
    datetime(2025, 7, 19, 10, 40, tzinfo=UTC),
    datetime(2026, 6, 1, tzinfo=UTC),
)

_VERIFIER = tdx.TdxVerifier()


def _dcap(quote: bytes, collateral: bytes, at: datetime) -> Any:
    """dcap-qvl's verdict: its VerifiedReport, or the exception it raised."""
    dcap_qvl = pytest.importorskip("dcap_qvl", reason="dcap-qvl (the peer) is not installed")
    try:
        col = dcap_qvl.QuoteCollateralV3.from_json(collateral.decode("utf-8", "replace"))
        return dcap_qvl.verify(quote, col, epoch(at))
    except Exception as exc:
        return exc


def _refkit(quote: bytes, collateral: bytes, at: datetime) -> tdx.TdxVerification | ParseError:
    try:
        ev = tdx.parse(quote, source="quote")
        return _VERIFIER.evaluate(ev, collateral=collateral, at=at)
    except ParseError as exc:
        assert_not_a_bug(exc)
        return exc


# Checks dcap-qvl's verify does not make (compare makes them): TD attributes, debug.
_OURS_ONLY = {"tdx.tcb.out-of-date"}


def _agree(quote: bytes, collateral: bytes, at: datetime) -> str:
    peer = _dcap(quote, collateral, at)
    ours = _refkit(quote, collateral, at)
    if isinstance(peer, Exception):
        failed = isinstance(ours, ParseError) or any(r.fails for r in ours.results)
        assert failed, f"dcap-qvl raised {peer!r} but refkit passed"
        return "both-fail"
    assert not isinstance(ours, ParseError), f"refkit refused what dcap-qvl accepted: {ours}"
    assert ours.tcb is not None, [r.text for r in ours.results if r.fails]
    assert ours.tcb.status == peer.status
    assert list(ours.tcb.advisory_ids) == list(peer.advisory_ids)
    unexpected = {r.code for r in ours.results if r.fails} - _OURS_ONLY
    assert unexpected == set(), unexpected
    return str(peer.status)


@pytest.mark.peer
def test_phala_pair_is_up_to_date() -> None:
    quote, col = read(PHALA_QUOTE), read(PHALA_COLLATERAL)
    assert _agree(quote, col, PHALA_TIME) == "UpToDate"  # PROVENANCE.md
    ours = _refkit(quote, col, PHALA_TIME)
    assert isinstance(ours, tdx.TdxVerification)
    assert ours.tcb_evaluation_data_number == 17  # the TCB info's field
    assert "tdx.tcb.up-to-date" in {r.code for r in ours.results}


@pytest.mark.peer
@pytest.mark.parametrize("at", TIMES, ids=lambda t: t.isoformat())
@pytest.mark.parametrize("parts", QUOTES, ids=lambda p: p[-1])
def test_every_quote_at_every_time(parts: tuple[str, ...], at: datetime) -> None:
    _agree(read(parts), read(PHALA_COLLATERAL), at)


def test_outside_the_window_fails_and_says_so() -> None:
    quote, col = read(PHALA_QUOTE), read(PHALA_COLLATERAL)
    for at in (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 8, 1, tzinfo=UTC)):
        ours = _refkit(quote, col, at)
        assert isinstance(ours, tdx.TdxVerification)
        codes = {r.code for r in ours.results if r.fails}
        assert "tdx.collateral.outside-window" in codes


def _mutations() -> list[tuple[str, bytes]]:
    base = json.loads(read(PHALA_COLLATERAL))
    out: list[tuple[str, bytes]] = []

    def add(name: str, doc: dict[str, Any]) -> None:
        out.append((name, json.dumps(doc).encode()))

    for key, value in base.items():
        doc = dict(base)
        if key.endswith("_chain"):
            # swap in another issuer chain (the PCK CRL signer for the TCB signer, ...)
            other = (
                "tcb_info_issuer_chain"
                if key != "tcb_info_issuer_chain"
                else "pck_crl_issuer_chain"
            )
            if base[other] != value:  # the TCB info and QE identity signer may be one
                doc[key] = base[other]
                add(f"{key}:swapped", doc)
            doc = dict(base)
            doc[key] = value.replace("MII", "MIJ", 1)
            add(f"{key}:corrupt", doc)
        elif key in ("tcb_info", "qe_identity"):
            for old, new in (
                ("UpToDate", "OutOfDate"),
                ('"version":3', '"version":2'),
                ('"version":2', '"version":3'),
                ("2025-07-19", "2025-08-19"),
                ("B0C06F000000", "B0C06F000001"),
                ('"isvprodid":2', '"isvprodid":3'),
                ('"svn":2', '"svn":1'),
                ("DC9E2A7C", "DC9E2A7D"),
            ):
                if old in value:
                    doc = dict(base)
                    doc[key] = value.replace(old, new, 1)
                    add(f"{key}:{old}->{new}", doc)
        else:  # hex: signatures and CRLs
            for at in (0, 40, len(value) // 2, len(value) - 2):
                doc = dict(base)
                flipped = format(int(value[at : at + 2], 16) ^ 1, "02x")
                doc[key] = value[:at] + flipped + value[at + 2 :]
                add(f"{key}:byte{at // 2}", doc)
        doc = {k: v for k, v in base.items() if k != key}
        add(f"{key}:missing", doc)
    return out


@pytest.mark.peer
@pytest.mark.parametrize(
    ("name", "collateral"), _mutations(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_mutated_collateral_fails_in_both(name: str, collateral: bytes) -> None:
    if name.startswith("pck_crl_issuer_chain:"):
        # dcap-qvl never reads this chain (it checks the PCK CRL with the PCK chain's
        # intermediate); refkit also checks it, so only refkit must refuse a broken one
        ours = _refkit(read(PHALA_QUOTE), collateral, PHALA_TIME)
        if not isinstance(ours, ParseError):
            fails = {r.code for r in ours.results if r.fails}
            assert name.endswith(":missing") or fails == {"tdx.collateral.chain-invalid"}, fails
        return
    outcome = _agree(read(PHALA_QUOTE), collateral, PHALA_TIME)
    # every mutation breaks a signature, a chain, a CRL or the shape: Intel's collateral
    # cannot be re-signed, so both must refuse it
    assert outcome == "both-fail", name


def test_every_collateral_result_names_the_root() -> None:
    ours = _refkit(read(PHALA_QUOTE), read(PHALA_COLLATERAL), PHALA_TIME)
    assert isinstance(ours, tdx.TdxVerification)
    anchored = {r.code for r in ours.results if r.anchor is not None}
    assert {"tdx.collateral.signatures-valid", "tdx.collateral.crls-valid"} <= anchored


def test_cache_is_keyed_by_bytes_not_identity() -> None:
    verifier = tdx.TdxVerifier()
    col = read(PHALA_COLLATERAL)
    ev = tdx.parse(read(PHALA_QUOTE), source="q")
    a = verifier.evaluate(ev, collateral=col, at=PHALA_TIME)
    b = verifier.evaluate(ev, collateral=bytes(bytearray(col)), at=PHALA_TIME)
    assert a.results == b.results
    # a time-dependent answer is not cached: the same bytes later fail the window
    late = verifier.evaluate(ev, collateral=col, at=PHALA_TIME + timedelta(days=60))
    assert "tdx.collateral.outside-window" in {r.code for r in late.results if r.fails}


def test_status_merge_follows_intels_convergence() -> None:
    # Intel QVL's convergence of a platform status with an OutOfDate QE/module status,
    # written out by hand (the synthetic-PKI tests hold dcap-qvl to the same table)
    out = TcbStatus("OutOfDate", ("INTEL-SA-00001",))
    for platform, merged in (
        ("UpToDate", "OutOfDate"),
        ("SWHardeningNeeded", "OutOfDate"),
        ("ConfigurationNeeded", "OutOfDateConfigurationNeeded"),
        ("ConfigurationAndSWHardeningNeeded", "OutOfDateConfigurationNeeded"),
        ("OutOfDateConfigurationNeeded", "OutOfDateConfigurationNeeded"),
    ):
        assert TcbStatus(platform, ()).merge(out).status == merged
    assert TcbStatus("SWHardeningNeeded", ()).merge(TcbStatus("UpToDate", ())).status == (
        "SWHardeningNeeded"
    )
    assert TcbStatus("UpToDate", ()).merge(TcbStatus("Revoked", ())).status == "Revoked"
    c = TcbStatus("SWHardeningNeeded", ("INTEL-SA-00002", "INTEL-SA-00001"))
    assert out.merge(c).advisory_ids == ("INTEL-SA-00001", "INTEL-SA-00002")


def test_level_matching_takes_the_first_level_met_in_canonical_order() -> None:
    from refkit.evidence.tdx.collateral import parse_tcb_info
    from refkit.evidence.tdx.pck import PckExtension
    from refkit.evidence.tdx.verification import _platform_level

    base = json.loads(json.loads(read(PHALA_COLLATERAL))["tcb_info"])
    levels = base["tcbLevels"]

    def level(sgx: int, pce: int, tdx_svn: int, status: str) -> dict[str, Any]:
        return {
            "tcb": {
                "sgxtcbcomponents": [{"svn": sgx}] * 16,
                "pcesvn": pce,
                "tdxtcbcomponents": [{"svn": tdx_svn}] * 16,
            },
            "tcbDate": "2024-01-01T00:00:00Z",
            "tcbStatus": status,
            "advisoryIDs": [status],
        }

    # listed lowest first: the canonical order must still pick the highest level met
    base["tcbLevels"] = [
        level(1, 1, 1, "OutOfDate"),
        level(2, 2, 2, "SWHardeningNeeded"),
        level(3, 3, 3, "UpToDate"),
    ]
    info = parse_tcb_info(json.dumps(base), source="t")

    def pck(svn: int, pce: int) -> PckExtension:
        return PckExtension(b"", (svn,) * 16, pce, bytes([svn] * 16), b"\0\0", b"\0" * 6, 0)

    assert _platform_level(info, pck(3, 3), bytes([3] * 16))[0] == TcbStatus(
        "UpToDate", ("UpToDate",)
    )
    assert _platform_level(info, pck(3, 2), bytes([3] * 16))[0] == TcbStatus(
        "SWHardeningNeeded", ("SWHardeningNeeded",)
    )
    assert _platform_level(info, pck(9, 9), bytes([1] * 16))[0] == TcbStatus(
        "OutOfDate", ("OutOfDate",)
    )
    assert _platform_level(info, pck(0, 9), bytes([9] * 16))[0] is None
    assert len(levels) > 0


@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_fuzz_collateral_reader(data: st.DataObject) -> None:
    base = json.loads(read(PHALA_COLLATERAL))
    choice = data.draw(st.integers(0, 3))
    if choice == 0:
        raw = data.draw(st.binary(max_size=400))
    elif choice == 1:
        key = data.draw(st.sampled_from(sorted(base)))
        base[key] = data.draw(
            st.one_of(st.text(max_size=60), st.integers(), st.none(), st.lists(st.integers()))
        )
        raw = json.dumps(base).encode()
    elif choice == 2:
        key = data.draw(st.sampled_from(["tcb_info", "qe_identity"]))
        inner = json.loads(base[key])
        field = data.draw(st.sampled_from(sorted(inner)))
        inner[field] = data.draw(
            st.one_of(st.text(max_size=30), st.integers(-5, 2**40), st.none(), st.just([{}]))
        )
        base[key] = json.dumps(inner)
        raw = json.dumps(base).encode()
    else:
        buf = bytearray(read(PHALA_COLLATERAL))
        for _ in range(data.draw(st.integers(1, 5))):
            buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
        raw = bytes(buf)
    try:
        parse_collateral(bytes(raw), source="fuzz")
    except ParseError as exc:
        assert_not_a_bug(exc)


@settings(
    max_examples=FUZZ_EXAMPLES // 3, suppress_health_check=[HealthCheck.too_slow], deadline=None
)
@given(st.lists(st.tuples(st.integers(0, 16071), st.integers(0, 255)), min_size=1, max_size=4))
def test_fuzz_verify_with_mutated_collateral(edits: list[tuple[int, int]]) -> None:
    original = read(PHALA_COLLATERAL)
    raw = bytearray(original)
    for offset, value in edits:
        raw[offset % len(raw)] = value
    ours = _refkit(read(PHALA_QUOTE), bytes(raw), PHALA_TIME)
    if isinstance(ours, tdx.TdxVerification) and bytes(raw) != original:
        # a change that still parses: either it only touched JSON framing the reader does
        # not keep (whitespace), or some check fails
        reparsed = parse_collateral(bytes(raw), source="x")
        base = parse_collateral(original, source="y")
        changed = (
            reparsed.tcb_info_text != base.tcb_info_text
            or reparsed.qe_identity_text != base.qe_identity_text
            or reparsed.tcb_info_signature != base.tcb_info_signature
            or reparsed.qe_identity_signature != base.qe_identity_signature
        )
        if changed:
            assert any(r.fails for r in ours.results)


def test_verification_never_reaches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("verification tried to open a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    ev = tdx.parse(read(PHALA_QUOTE), source="phala")  # a fresh verifier: nothing cached
    ours = tdx.TdxVerifier().evaluate(ev, collateral=read(PHALA_COLLATERAL), at=PHALA_TIME)
    assert ours.tcb is not None
    assert ours.tcb.status == "UpToDate"
