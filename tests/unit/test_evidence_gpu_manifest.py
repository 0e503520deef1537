"""GPU evidence against the signed reference manifest's ``gpu`` entries (the kind that
issue 13 finalises), and the binding the manifest declares."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from refkit.errors import ParseError
from refkit.evidence import gpu
from refkit.manifests.model.predicate import ReferenceManifest, parse_predicate
from tests import gpu_support as gs
from tests.manifest_support import example_statement

pytestmark = pytest.mark.vectors


def _manifest(*entries: dict[str, Any]) -> ReferenceManifest:
    statement = example_statement()
    pred = statement["predicate"]
    pred["referenceValues"]["gpu"] = list(entries)
    if not entries:
        del pred["referenceValues"]["gpu"]
    return parse_predicate(pred, source="m.json")


def _h100() -> gpu.GpuEvidence:
    (ev,) = gpu.parse(gs.read(gs.H100_545[0]), source="r", chain=gs.read(gs.H100_545[1]))
    return ev


def _codes(ev: gpu.GpuEvidence, m: ReferenceManifest, **kw: Any) -> list[str]:
    return gs.codes(gpu.compare(ev, m, **kw))


def test_allowed_versions_and_rim_ids_pass() -> None:
    m = _manifest(
        {
            "model": "H100",
            "ccMode": "on",
            "driverVersions": ["545.00"],
            "vbiosVersions": ["96.00.5e.00.01"],
            "rimIds": ["NV_GPU_DRIVER_GH100_545.00", "NV_GPU_VBIOS_1010_0200_882_96005E0001"],
        }
    )
    got = _codes(_h100(), m)
    assert got == [
        "gpu.manifest.model.match",
        "gpu.manifest.driver.match",
        "gpu.manifest.vbios.match",
        "gpu.manifest.rim-id.match",
        "gpu.manifest.cc-mode.not-checked",
    ]
    assert not any(r.fails for r in gpu.compare(_h100(), m))


def test_other_versions_fail_and_name_both_sides() -> None:
    m = _manifest(
        {
            "model": "H100",
            "ccMode": "on",
            "driverVersions": ["550.90.07"],
            "rimIds": ["NV_GPU_DRIVER_GH100_550.90.07"],
        }
    )
    results = {r.code: r for r in gpu.compare(_h100(), m)}
    assert results["gpu.manifest.driver.mismatch"].expected == "550.90.07"
    assert results["gpu.manifest.driver.mismatch"].actual == "545.00"
    assert "gpu.manifest.rim-id.mismatch" in results


def test_model_and_absent_entries() -> None:
    assert _codes(_h100(), _manifest({"model": "B200", "ccMode": "on"})) == [
        "gpu.manifest.model.mismatch"
    ]
    assert _codes(_h100(), _manifest()) == ["gpu.manifest.absent"]
    (sw,) = gpu.parse(gs.read(gs.LS10[0]), source="s", chain=gs.read(gs.LS10[1]))
    assert (
        _codes(sw, _manifest({"model": "NVSwitch", "ccMode": "ppcie"}))[0]
        == "gpu.manifest.model.match"
    )


def test_best_entry_is_reported() -> None:
    m = _manifest(
        {"model": "H100", "ccMode": "on", "driverVersions": ["550.90.07"]},
        {"model": "H200", "ccMode": "on", "driverVersions": ["545.00"]},
    )
    assert "gpu.manifest.driver.match" in _codes(_h100(), m)


def test_pinned_measurements_and_rim_digests() -> None:
    ev = _h100()
    block7 = ev.blocks()[7].hex()
    good = _manifest({"model": "GH100", "ccMode": "on", "measurements": {"7": [block7, "00" * 48]}})
    assert "gpu.manifest.measurements.match" in _codes(ev, good)
    bad = _manifest(
        {"model": "GH100", "ccMode": "on", "measurements": {"7": ["00" * 48], "65": ["11" * 48]}}
    )
    results = [r for r in gpu.compare(ev, bad) if r.code == "gpu.manifest.measurements.mismatch"]
    assert [r.actual for r in results] == [block7, "(block absent)"]

    vbios = gpu.parse_rim(gs.read(gs.VBIOS_RIM), source="v")
    digest = hashlib.sha256(gs.read(gs.VBIOS_RIM)).hexdigest()  # second computation
    pinned = _manifest(
        {
            "model": "H100",
            "ccMode": "on",
            "rimDigests": {"NV_GPU_VBIOS_1010_0200_882_96005E0001": {"sha256": digest}},
        }
    )
    assert "gpu.manifest.rim-digest.match" in _codes(ev, pinned, rims_used=[vbios])
    prod = gpu.parse_rim(gs.read(gs.VBIOS_PROD_RIM), source="p")
    assert "gpu.manifest.rim-digest.mismatch" in _codes(ev, pinned, rims_used=[prod])


def test_binding_field_round_trips_and_is_enforced() -> None:
    entry = {"model": "H100", "ccMode": "on", "binding": "report-data-sha512"}
    m = _manifest(entry)
    (ref,) = m.reference_values.of(gpu_kind())
    assert ref.binding == "report-data-sha512"
    assert ref.to_json()["binding"] == "report-data-sha512"
    with pytest.raises(ParseError):
        _manifest({**entry, "binding": "rtmr3"})
    ev = _h100()
    verifier = gpu.GpuVerifier(
        at=gs.AT,
        rims=[gpu.parse_rim(gs.read(n), source=n) for n in (gs.DRIVER_RIM, gs.VBIOS_RIM)],
    )
    alone = verifier.verify_all([ev], nonce=gs.NONCE_545, manifest=m)
    assert [r.code for r in alone.failures] == ["gpu.binding.not-checked"]
    bound = verifier.verify_all(
        [ev], nonce=gs.NONCE_545, manifest=m, cpu_report_data=gpu.expected_report_data([ev])
    )
    assert bound.ok, [r.text for r in bound.failures]
    wrong = verifier.verify_all([ev], nonce=gs.NONCE_545, manifest=m, cpu_report_data=bytes(64))
    assert [r.code for r in wrong.failures] == ["gpu.binding.mismatch"]


def gpu_kind() -> Any:
    from refkit.manifests.model.gpu import KIND

    return KIND
