"""A TDX quote against a manifest built from its own values: passes; change one value and
that one check fails, naming it."""

from __future__ import annotations

from typing import Any

import pytest

from refkit.evidence import tdx
from refkit.manifests.model import ReferenceManifest, parse_predicate
from tests.tdx_evidence_support import PHALA_QUOTE, manifest_from, read


def _manifest(predicate: dict[str, Any]) -> ReferenceManifest:
    return parse_predicate(predicate, source="test manifest")


def _evidence(parts: tuple[str, ...] = PHALA_QUOTE) -> tdx.TdxEvidence:
    return tdx.parse(read(parts), source=parts[-1])


def _fails(results: tuple[Any, ...]) -> dict[str, Any]:
    return {r.code: r for r in results if r.fails}


def test_manifest_of_the_quotes_own_values_passes() -> None:
    ev = _evidence()
    results = tdx.compare(ev, _manifest(manifest_from(tdx.measured(ev))))
    assert _fails(results) == {}
    codes = {r.code for r in results}
    assert {
        "tdx.reference.match",
        "tdx.debug.off",
        "tdx.td-attributes.valid",
        "tdx.mrseam.allowed",
        "tdx.xfam.match",
        "tdx.td-attributes.match",
        "tdx.mrconfigid.match",
    } <= codes


@pytest.mark.parametrize(
    ("register", "code"),
    [("MRTD", "tdx.mrtd.mismatch")] + [(f"RTMR{i}", "tdx.rtmr.mismatch") for i in range(4)],
)
def test_one_changed_register_fails_that_check(register: str, code: str) -> None:
    ev = _evidence()
    values = dict(tdx.measured(ev))
    values[register] = "ab" * 48
    fails = _fails(tdx.compare(ev, _manifest(manifest_from(values))))
    assert list(fails) == [code]
    assert fails[code].check == register
    assert fails[code].expected == "ab" * 48
    assert fails[code].actual == tdx.measured(ev)[register]


def test_rtmr_subset_is_enough() -> None:
    ev = _evidence()
    predicate = manifest_from(tdx.measured(ev))
    predicate["referenceValues"]["tdx"][0]["rtmrs"] = {"1": tdx.measured(ev)["RTMR1"]}
    assert _fails(tdx.compare(ev, _manifest(predicate))) == {}


def test_second_entry_for_another_shape_matches() -> None:
    ev = _evidence()
    predicate = manifest_from(tdx.measured(ev))
    entry = dict(predicate["referenceValues"]["tdx"][0])
    other = dict(entry, mrtd="cd" * 48, shape=dict(entry["shape"], vcpus=8))
    predicate["referenceValues"]["tdx"] = [other, entry]
    results = tdx.compare(ev, _manifest(predicate))
    assert _fails(results) == {}
    match = next(r for r in results if r.code == "tdx.reference.match")
    assert "4 vCPU" in match.message


def test_mrseam_not_allowed() -> None:
    ev = _evidence()
    values = dict(tdx.measured(ev), MRSEAM="11" * 48)
    assert list(_fails(tdx.compare(ev, _manifest(manifest_from(values))))) == [
        "tdx.mrseam.not-allowed"
    ]


@pytest.mark.parametrize(
    ("field", "code"), [("XFAM", "tdx.xfam.mismatch"), ("MRCONFIGID", "tdx.mrconfigid.mismatch")]
)
def test_declared_value_mismatch(field: str, code: str) -> None:
    ev = _evidence()
    values = dict(tdx.measured(ev))
    size = len(values[field]) // 2
    values[field] = "01" * size if values[field] != "01" * size else "02" * size
    assert list(_fails(tdx.compare(ev, _manifest(manifest_from(values))))) == [code]


def test_debug_guest_fails_the_comparison() -> None:
    ev = _evidence(("tdx", "v4-b.quote.bin"))
    assert ev.debug
    predicate = manifest_from(tdx.measured(ev))
    # a declared tdAttributes may not allow DEBUG (the manifest model refuses it)
    del predicate["declared"]["tdx"][0]["tdAttributes"]
    fails = _fails(tdx.compare(ev, _manifest(predicate)))
    assert list(fails) == ["tdx.debug.on"]


def test_sept_ve_disable_clear_fails_as_dcap_qvl_would() -> None:
    # go-tdx-guest's SPR sample has TD_ATTRIBUTES 0000004000000000: PKS set, SEPT_VE clear
    ev = _evidence(("tdx", "spr-v4-a.quote.bin"))
    fails = _fails(tdx.compare(ev, _manifest(manifest_from(tdx.measured(ev)))))
    assert list(fails) == ["tdx.td-attributes.invalid"]
    assert "SEPT_VE_DISABLE" in fails["tdx.td-attributes.invalid"].message


def test_service_td_bound_fails() -> None:
    ev = _evidence(("tdx", "v5-b.quote.bin"))  # MRSERVICETD 383c87d3... (non-zero)
    fails = _fails(tdx.compare(ev, _manifest(manifest_from(tdx.measured(ev)))))
    assert list(fails) == ["tdx.td-attributes.invalid"]
    assert "MRSERVICETD" in fails["tdx.td-attributes.invalid"].message


def test_tcb_evaluation_data_number() -> None:
    ev = _evidence()
    manifest = _manifest(manifest_from(tdx.measured(ev), minTcbEvaluationDataNumber=17))
    codes = {r.code: r for r in tdx.compare(ev, manifest)}
    assert "tdx.tcb-eval.not-checked" in codes
    assert codes["tdx.tcb-eval.not-checked"].fails  # declared: required
    assert "tdx.tcb-eval.sufficient" in {
        r.code for r in tdx.compare(ev, manifest, tcb_evaluation_data_number=17)
    }
    assert "tdx.tcb-eval.too-old" in _fails(
        tdx.compare(ev, manifest, tcb_evaluation_data_number=16)
    )


def test_manifest_without_tdx_values() -> None:
    ev = _evidence()
    predicate = manifest_from(tdx.measured(ev))
    del predicate["referenceValues"]["tdx"]
    del predicate["declared"]["tdx"]
    fails = _fails(tdx.compare(ev, _manifest(predicate)))
    assert set(fails) == {"tdx.reference.absent", "tdx.declared.absent"}


def test_no_mrconfigid_policy_is_not_required() -> None:
    ev = _evidence()
    predicate = manifest_from(tdx.measured(ev))
    predicate["referenceValues"]["policies"] = [{"name": "snp-only", "hostData": "00" * 32}]
    results = tdx.compare(ev, _manifest(predicate))
    assert _fails(results) == {}
    assert "tdx.mrconfigid.not-declared" in {r.code for r in results}
