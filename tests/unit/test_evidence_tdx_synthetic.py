"""TCB evaluation paths Intel's signed collateral cannot show (revocations, OutOfDate
levels, advisories, module and QE identities, expired CRLs), under a synthetic Intel-shaped
PKI, each differential against dcap-qvl's verify_with_root_ca with the same root."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refkit.errors import ParseError
from refkit.evidence import tdx
from tests.shared import FUZZ_EXAMPLES
from tests.tdx_evidence_support import (
    PHALA_TIME,
    epoch,
    phala_documents,
    pki,
    synthetic_collateral,
    synthetic_quote,
)

pytestmark = pytest.mark.peer

STATUSES = (
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
)


def _peer(quote: bytes, collateral: bytes, at: datetime) -> Any:
    dcap_qvl = pytest.importorskip("dcap_qvl", reason="dcap-qvl (the peer) is not installed")
    try:
        col = dcap_qvl.QuoteCollateralV3.from_json(collateral.decode())
        return dcap_qvl.verify_with_root_ca(quote, col, pki().root_der, epoch(at))
    except Exception as exc:
        return exc


def _ours(quote: bytes, collateral: bytes, at: datetime) -> tdx.TdxVerification:
    ev = tdx.parse(quote, source="synthetic")
    return tdx.TdxVerifier().evaluate(ev, intel_root=pki().root_pem, collateral=collateral, at=at)


def _agree(quote: bytes, collateral: bytes, at: datetime = PHALA_TIME) -> tuple[Any, set[str]]:
    """Both verdicts; asserts refkit fails where dcap-qvl raises, and equal status and
    advisory IDs where it does not."""
    peer = _peer(quote, collateral, at)
    ours = _ours(quote, collateral, at)
    fails = {r.code for r in ours.results if r.fails}
    if isinstance(peer, Exception):
        assert fails, f"dcap-qvl raised {peer!r}, refkit passed"
        return peer, fails
    assert ours.tcb is not None, fails
    assert (ours.tcb.status, list(ours.tcb.advisory_ids)) == (peer.status, peer.advisory_ids)
    assert fails <= {"tdx.tcb.out-of-date"}, fails
    return peer, fails


def test_baseline_is_up_to_date() -> None:
    p = pki()
    peer, fails = _agree(synthetic_quote(p), synthetic_collateral(p))
    assert peer.status == "UpToDate"
    assert fails == set()


def test_revoked_pck_leaf() -> None:
    p = pki()
    peer, fails = _agree(
        synthetic_quote(p), synthetic_collateral(p, revoked_by_ca=(p.leaf.serial_number,))
    )
    assert isinstance(peer, Exception)
    assert fails == {"tdx.collateral.revoked"}


def test_revoked_intermediate() -> None:
    p = pki()
    peer, fails = _agree(
        synthetic_quote(p), synthetic_collateral(p, revoked_by_root=(p.ca.serial_number,))
    )
    assert isinstance(peer, Exception)
    assert fails == {"tdx.collateral.revoked"}


def test_revoked_tcb_signer() -> None:
    p = pki()
    peer, fails = _agree(
        synthetic_quote(p), synthetic_collateral(p, revoked_by_root=(p.tcb.serial_number,))
    )
    assert isinstance(peer, Exception)
    assert fails == {"tdx.collateral.revoked"}


def test_expired_crl() -> None:
    p = pki()
    col = synthetic_collateral(p, crl_next_update=datetime(2025, 6, 1, tzinfo=PHALA_TIME.tzinfo))
    peer, fails = _agree(synthetic_quote(p), col)
    assert isinstance(peer, Exception)
    assert fails == {"tdx.collateral.crl-invalid"}


def _levels(tcb: dict[str, Any], status: str, advisories: list[str]) -> dict[str, Any]:
    out = copy.deepcopy(tcb)
    for level in out["tcbLevels"]:
        level["tcbStatus"] = status
        level["advisoryIDs"] = advisories
    return out


@pytest.mark.parametrize("status", STATUSES)
def test_every_platform_status(status: str) -> None:
    p = pki()
    tcb, _qe = phala_documents()
    col = synthetic_collateral(p, tcb_info=_levels(tcb, status, ["INTEL-SA-00001"]))
    peer, fails = _agree(synthetic_quote(p), col)
    if status == "Revoked":
        assert isinstance(peer, Exception)
        assert fails == {"tdx.tcb.revoked"}
    else:
        assert peer.advisory_ids == ["INTEL-SA-00001"]


def test_qe_and_module_statuses_merge() -> None:
    p = pki()
    tcb, qe = phala_documents()
    tcb = copy.deepcopy(tcb)
    qe = copy.deepcopy(qe)
    # the Phala body's TEE_TCB_SVN is 06 01 ...: module version 1, ISVSVN 6
    ident = next(i for i in tcb["tdxModuleIdentities"] if i["id"] == "TDX_01")
    ident["tcbLevels"] = [
        {"tcb": {"isvsvn": 7}, "tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": "UpToDate"},
        {
            "tcb": {"isvsvn": 6},
            "tcbDate": "2024-01-01T00:00:00Z",
            "tcbStatus": "OutOfDate",
            "advisoryIDs": ["INTEL-SA-00002"],
        },
    ]
    qe["tcbLevels"] = [
        {
            "tcb": {"isvsvn": 1},
            "tcbDate": "2024-01-01T00:00:00Z",
            "tcbStatus": "OutOfDate",
            "advisoryIDs": ["INTEL-SA-00003", "INTEL-SA-00002"],
        }
    ]
    peer, fails = _agree(synthetic_quote(p), synthetic_collateral(p, tcb_info=tcb, qe_identity=qe))
    assert peer.status == "OutOfDate"
    assert peer.advisory_ids == ["INTEL-SA-00002", "INTEL-SA-00003"]
    assert fails == {"tdx.tcb.out-of-date"}


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        (lambda t, q: t.update(fmspc="00606A000000"), "tdx.tcb.fmspc-mismatch"),
        (lambda t, q: t["tdxModule"].update(mrsigner="11" * 48), None),
        (lambda t, q: t.update(tdxModuleIdentities=[]), None),
        (lambda t, q: q.update(isvprodid=9), "tdx.qe-identity.mismatch"),
        (lambda t, q: q.update(mrsigner="00" * 32), "tdx.qe-identity.mismatch"),
        (lambda t, q: q.update(id="QE"), "tdx.collateral.kind-mismatch"),
        (lambda t, q: t.update(version=2), "tdx.collateral.kind-mismatch"),
        (lambda t, q: q["tcbLevels"][0]["tcb"].update(isvsvn=99), "tdx.qe-identity.mismatch"),
        (lambda t, q: t.update(nextUpdate="2025-06-19T23:00:00Z"), "tdx.collateral.outside-window"),
    ],
)
def test_edited_documents(edit: Any, code: str | None) -> None:
    p = pki()
    tcb, qe = (copy.deepcopy(d) for d in phala_documents())
    edit(tcb, qe)
    peer, fails = _agree(synthetic_quote(p), synthetic_collateral(p, tcb_info=tcb, qe_identity=qe))
    if code is not None:
        assert isinstance(peer, Exception)
        assert code in fails


_level = st.fixed_dictionaries(
    {
        "sgx": st.integers(0, 6),
        "pce": st.integers(9, 13),
        "tdx": st.integers(0, 8),
        "status": st.sampled_from(STATUSES),
        "adv": st.lists(st.sampled_from(["INTEL-SA-1", "INTEL-SA-2", "INTEL-SA-3"]), max_size=2),
    }
)


@settings(
    max_examples=FUZZ_EXAMPLES // 3, suppress_health_check=[HealthCheck.too_slow], deadline=None
)
@given(
    st.lists(_level, min_size=1, max_size=5),
    st.lists(st.tuples(st.integers(0, 9), st.sampled_from(STATUSES)), min_size=0, max_size=3),
    st.lists(st.tuples(st.integers(0, 9), st.sampled_from(STATUSES)), min_size=1, max_size=3),
    st.integers(0, 9),
    st.sampled_from([0, 1, 3, 5]),
)
def test_random_tcb_levels_equal_dcap_qvl(
    levels: list[dict[str, Any]],
    module: list[tuple[int, str]],
    qe_levels: list[tuple[int, str]],
    module_svn: int,
    module_version: int,
) -> None:
    p = pki()
    tcb, qe = (copy.deepcopy(d) for d in phala_documents())
    template = tcb["tcbLevels"][0]
    tcb["tcbLevels"] = []
    for lv in levels:
        new = copy.deepcopy(template)
        sgx = [
            dict(c, svn=lv["sgx"] if i < 3 else c["svn"])
            for i, c in enumerate(new["tcb"]["sgxtcbcomponents"])
        ]
        tdx_c = [
            dict(c, svn=lv["tdx"] if i == 0 else c["svn"])
            for i, c in enumerate(new["tcb"]["tdxtcbcomponents"])
        ]
        new["tcb"].update(sgxtcbcomponents=sgx, tdxtcbcomponents=tdx_c, pcesvn=lv["pce"])
        new.update(tcbStatus=lv["status"], advisoryIDs=lv["adv"])
        tcb["tcbLevels"].append(new)
    ident = next(i for i in tcb["tdxModuleIdentities"] if i["id"] == "TDX_01")
    if module:
        ident["tcbLevels"] = [
            {
                "tcb": {"isvsvn": svn},
                "tcbDate": "2024-01-01T00:00:00Z",
                "tcbStatus": s,
                "advisoryIDs": [f"MOD-{svn}"],
            }
            for svn, s in module
        ]
    qe["tcbLevels"] = [
        {
            "tcb": {"isvsvn": svn},
            "tcbDate": "2024-01-01T00:00:00Z",
            "tcbStatus": s,
            "advisoryIDs": [f"QE-{svn}"],
        }
        for svn, s in qe_levels
    ]
    from refkit.evidence.tdx.quote import parse_quote
    from tests.tdx_evidence_support import PHALA_QUOTE, read

    body = bytearray(parse_quote(read(PHALA_QUOTE), source="phala").body.raw)
    body[0], body[1] = module_svn, module_version  # TEE_TCB_SVN: module ISVSVN, version
    try:
        _agree(
            synthetic_quote(p, body=bytes(body)),
            synthetic_collateral(p, tcb_info=tcb, qe_identity=qe),
        )
    except ParseError:
        pytest.fail("refkit refused collateral the peer reads")
