"""`refkit evidence verify` for a whole machine on the real vectors: NVIDIA GPU and NVSwitch
evidence with NVIDIA's RIMs (../shared/vectors/nvidia, at the time PROVENANCE.md gives),
alone and beside a real SNP report, the CPU-GPU binding, receipts, show and exit codes.
Also the two SNP/TDX adapter gaps (a v2 report's product, TDX's TCB evaluation number)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import gpu_support as gs
from tests.evidence_support import signed_manifest, snp_values_of
from tests.shared import vector

Run = Callable[..., Any]
pytestmark = pytest.mark.vectors

#: PROVENANCE.md, nvidia/: every positive passes and every negative fails at this time.
AT = "2025-03-01T00:00:00Z"
#: PROVENANCE.md: nvtrust's fixed test nonce, the h100-545 report's request nonce.
NONCE_545 = gs.NONCE_545.hex()


def _rims(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "rims"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(gs.nv(name), folder)
    (folder / "README.txt").write_text("not a RIM: ignored\n")
    return folder


def _h100(tmp_path: Path, *rims: str) -> list[Any]:
    report, chain = gs.H100_545
    folder = _rims(tmp_path, *(rims or (gs.DRIVER_RIM, gs.VBIOS_RIM)))
    return ["--gpu-evidence", gs.nv(report), "--gpu-certs", gs.nv(chain), "--rims", folder]


def _snp_a() -> list[Any]:
    return [
        vector("snp", "milan-v2-a.report.bin"),
        "--vcek", vector("snp", "milan-v2-a.vcek.der"),
        "--certs", vector("amd"),
    ]  # fmt: skip


def _failing(doc: dict[str, Any]) -> list[str]:
    return [x["code"] for x in doc["results"] if not x["ok"]]


def test_h100_complete_positive_alone(run_cli: Run, tmp_path: Path) -> None:
    r = run_cli("evidence", "verify", *_h100(tmp_path), "--gpu-nonce", NONCE_545,
                "--at", AT, "--json")  # fmt: skip
    assert r.code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    codes = [x["code"] for x in doc["results"]]
    # PROVENANCE.md: the report against its two RIMs has 0 mismatches.
    assert "gpu.measurements.match" in codes
    assert "gpu.measurements.mismatch" not in codes
    assert "gpu.nonce.match" in codes
    assert "gpu.binding.not-checked" in codes
    facts = doc["facts"]
    assert facts["family"] == "gpu"
    assert facts["evidence"] is None
    gpu = facts["gpu"]
    assert gpu["nonce"] == NONCE_545
    assert sorted(r["version"] for r in gpu["rims"]) == ["545.00", "96.00.5E.00.01"]
    assert gpu["devices"][0]["driver"] == "545.00"
    assert facts["measured"]["gpu[0] chip"] == "GH100"


def test_without_gpu_nonce_freshness_is_reported_not_required(run_cli: Run, tmp_path: Path) -> None:
    r = run_cli("evidence", "verify", *_h100(tmp_path), "--at", AT)
    assert r.code == 0, r.stdout + r.stderr
    assert "gpu.nonce.not-given" in r.stdout


def test_another_gpu_nonce_fails(run_cli: Run, tmp_path: Path) -> None:
    r = run_cli("evidence", "verify", *_h100(tmp_path), "--gpu-nonce", "00" * 32,
                "--at", AT, "--json")  # fmt: skip
    assert r.code == 1, r.stdout + r.stderr
    assert _failing(json.loads(r.stdout)) == ["gpu.nonce.mismatch"]


def test_switch_with_its_2024_rim(run_cli: Run, tmp_path: Path) -> None:
    report, chain = gs.LS10
    r = run_cli("evidence", "verify", "--gpu-evidence", gs.nv(report), "--gpu-certs",
                gs.nv(chain), "--rims", _rims(tmp_path, gs.SWITCH_RIM_2024), "--at", AT,
                "--json")  # fmt: skip
    assert r.code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert "gpu.measurements.match" in [x["code"] for x in doc["results"]]
    assert doc["facts"]["gpu"]["devices"][0]["kind"] == "switch"


def test_switch_rim_signed_2026_fails_at_the_common_time(run_cli: Run, tmp_path: Path) -> None:
    report, chain = gs.LS10
    r = run_cli("evidence", "verify", "--gpu-evidence", gs.nv(report), "--gpu-certs",
                gs.nv(chain), "--rims", _rims(tmp_path, gs.SWITCH_RIM_2026), "--at", AT,
                "--json")  # fmt: skip
    assert r.code == 1, r.stdout + r.stderr
    assert "gpu.rim.chain.expired" in _failing(json.loads(r.stdout))


def test_prod_vbios_rim_names_indexes_1_2_3_9(run_cli: Run, tmp_path: Path) -> None:
    r = run_cli("evidence", "verify", *_h100(tmp_path, gs.DRIVER_RIM, gs.VBIOS_PROD_RIM),
                "--at", AT, "--json")  # fmt: skip
    assert r.code == 1, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert set(_failing(doc)) == {"gpu.measurements.mismatch"}
    named = sorted(
        int(x["message"].split("RIM index ")[1].split(" ")[0])
        for x in doc["results"]
        if x["code"] == "gpu.measurements.mismatch"
    )
    assert named == [1, 2, 3, 9]  # PROVENANCE.md


def test_missing_rims_is_exit_3_naming_fetch(run_cli: Run) -> None:
    report, chain = gs.H100_545
    r = run_cli("evidence", "verify", "--gpu-evidence", gs.nv(report), "--gpu-certs",
                gs.nv(chain), "--at", AT)  # fmt: skip
    assert r.code == 3, r.stdout + r.stderr
    assert "refkit evidence fetch --rim-id NV_GPU_DRIVER_GH100_545.00" in r.stderr
    assert "--rim-id NV_GPU_VBIOS_1010_0200_882_96005E0001" in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_device_chain_is_exit_3(run_cli: Run, tmp_path: Path) -> None:
    r = run_cli("evidence", "verify", "--gpu-evidence", gs.nv(gs.H100_545[0]), "--rims",
                _rims(tmp_path, gs.DRIVER_RIM, gs.VBIOS_RIM), "--at", AT)  # fmt: skip
    assert r.code == 3, r.stdout + r.stderr


def test_malformed_gpu_evidence_is_exit_2(run_cli: Run, tmp_path: Path) -> None:
    text = gs.read(gs.H100_545[0]).strip()
    bad = tmp_path / "short.txt"
    bad.write_bytes(text[:200])
    r = run_cli("evidence", "verify", "--gpu-evidence", bad, "--gpu-certs",
                gs.nv(gs.H100_545[1]), "--at", AT)  # fmt: skip
    assert r.code == 2, r.stdout + r.stderr
    assert str(bad) in r.stderr
    assert "Traceback" not in r.stderr


def test_usage_errors(run_cli: Run, tmp_path: Path) -> None:
    assert run_cli("evidence", "verify", "--at", AT).code == 2
    r = run_cli("evidence", "verify", *_h100(tmp_path), "--nonce", "00", "--at", AT)
    assert r.code == 2
    assert "--gpu-nonce" in r.stderr
    r = run_cli("evidence", "verify", *_snp_a(), "--rims", tmp_path, "--at", AT)
    assert r.code == 2
    assert "--gpu-evidence" in r.stderr
    r = run_cli("evidence", "verify", *_h100(tmp_path), "--gpu-nonce", "xyz", "--at", AT)
    assert r.code == 2


def test_cpu_and_gpu_without_a_manifest(run_cli: Run, tmp_path: Path) -> None:
    r = run_cli("evidence", "verify", *_snp_a(), *_h100(tmp_path), "--gpu-nonce", NONCE_545,
                "--at", AT, "--json")  # fmt: skip
    assert r.code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    codes = [x["code"] for x in doc["results"]]
    assert "snp.signature.valid" in codes or any(c.startswith("snp.") for c in codes)
    assert "gpu.measurements.match" in codes
    assert "evidence.gpu.binding.not-declared" in codes
    assert doc["facts"]["family"] == "snp+gpu"


def _with_gpu(report: bytes, *, binding: bool) -> Callable[[dict[str, Any]], None]:
    def edit(pred: dict[str, Any]) -> None:
        snp_values_of(report, pred)
        entry: dict[str, Any] = {
            "model": "H100",
            "ccMode": "on",
            "driverVersions": ["545.00"],
            "vbiosVersions": ["96.00.5E.00.01"],
        }
        if binding:
            entry["binding"] = "report-data-sha512"
        pred["referenceValues"]["gpu"] = [entry]

    return edit


def test_manifest_with_gpu_entries_and_no_binding_passes(run_cli: Run, tmp_path: Path) -> None:
    report = vector("snp", "milan-v2-a.report.bin").read_bytes()
    options = signed_manifest(tmp_path, _with_gpu(report, binding=False))
    r = run_cli("evidence", "verify", *_snp_a(), *_h100(tmp_path), *options,
                "--gpu-nonce", NONCE_545, "--at", AT, "--json")  # fmt: skip
    assert r.code == 0, r.stdout + r.stderr
    codes = [x["code"] for x in json.loads(r.stdout)["results"]]
    assert "gpu.manifest.driver.allowed" in codes or any(
        c.startswith("gpu.manifest.") for c in codes
    )


def test_declared_binding_fails_on_the_real_report(run_cli: Run, tmp_path: Path) -> None:
    # The honest negative: milan-v2-a's REPORT_DATA is not SHA-512 over the GPU digests.
    report = vector("snp", "milan-v2-a.report.bin").read_bytes()
    options = signed_manifest(tmp_path, _with_gpu(report, binding=True))
    r = run_cli("evidence", "verify", *_snp_a(), *_h100(tmp_path), *options,
                "--gpu-nonce", NONCE_545, "--at", AT, "--json")  # fmt: skip
    assert r.code == 1, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert _failing(doc) == ["gpu.binding.mismatch"]
    binding = next(x for x in doc["results"] if x["code"] == "gpu.binding.mismatch")
    assert binding["actual"] == report[0x50:0x90].hex()  # REPORT_DATA at 0x50 in the report
    # GPUs alone against that manifest: the binding is required and cannot be checked.
    r = run_cli("evidence", "verify", *_h100(tmp_path), *options, "--gpu-nonce", NONCE_545,
                "--at", AT, "--json")  # fmt: skip
    assert r.code == 1
    assert _failing(json.loads(r.stdout)) == ["gpu.binding.not-checked"]
    # The CPU alone against it: the GPU evidence the manifest binds is missing.
    r = run_cli("evidence", "verify", *_snp_a(), *options, "--at", AT, "--json")
    assert r.code == 1
    assert _failing(json.loads(r.stdout)) == ["evidence.gpu.missing"]


def test_receipts_replay_the_machine(run_cli: Run, tmp_path: Path) -> None:
    receipt = tmp_path / "gpu.json"
    r = run_cli("evidence", "verify", *_h100(tmp_path), "--gpu-nonce", NONCE_545,
                "--at", AT, "--receipt", receipt)  # fmt: skip
    assert r.code == 0, r.stdout + r.stderr
    doc = json.loads(receipt.read_bytes())
    assert doc["evidence"] is None
    assert len(doc["gpu"]["evidence"]) == 1
    assert len(doc["gpu"]["rims"]) == 2
    assert doc["gpu"]["nonce"] == NONCE_545
    r = run_cli("evidence", "verify-receipt", receipt)
    assert r.code == 0, r.stdout + r.stderr
    assert "evidence.receipt.reproduced" in r.stdout

    report = vector("snp", "milan-v2-a.report.bin").read_bytes()
    options = signed_manifest(tmp_path, _with_gpu(report, binding=True))
    machine = tmp_path / "machine.json"
    r = run_cli("evidence", "verify", *_snp_a(), *_h100(tmp_path), *options, "--gpu-nonce",
                NONCE_545, "--at", AT, "--receipt", machine)  # fmt: skip
    assert r.code == 1
    r = run_cli("evidence", "verify-receipt", machine, "--json")
    assert r.code == 1  # the recorded verdict was a no, and it reproduces
    assert "evidence.receipt.reproduced" in [x["code"] for x in json.loads(r.stdout)["results"]]

    # A RIM changed inside the receipt: its digest no longer matches.
    altered = json.loads(receipt.read_bytes())
    altered["gpu"]["rims"][0]["base64"] = altered["gpu"]["rims"][1]["base64"]
    bad = tmp_path / "altered.json"
    bad.write_text(json.dumps(altered))
    r = run_cli("evidence", "verify-receipt", bad)
    assert r.code == 1
    assert "evidence.receipt.digest-mismatch" in r.stdout


def test_show_reads_gpu_reports_and_rims(run_cli: Run) -> None:
    r = run_cli("evidence", "show", gs.nv(gs.H100_545[0]), "--json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["family"] == "gpu"
    device = doc["fields"]["devices"][0]
    assert device["driverVersion"] == "545.00"
    assert device["nonce"] == NONCE_545
    r = run_cli("evidence", "show", gs.nv(gs.VBIOS_RIM), "--json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["family"] == "rim"
    assert doc["fields"]["version"] == "96.00.5E.00.01"
    assert len(doc["fields"]["activeIndexes"]) == 12  # PROVENANCE.md: 12 active indexes
    r = run_cli("evidence", "show", gs.nv(gs.LS10[0]))
    assert r.code == 0
    assert "switch" in r.stdout


def test_verify_rim_is_registered(run_cli: Run) -> None:
    r = run_cli("evidence", "verify-rim", gs.nv(gs.DRIVER_RIM), "--at", AT)
    assert r.code == 0, r.stdout + r.stderr
    r = run_cli("evidence", "verify-rim", gs.nv(gs.SWITCH_RIM_2026), "--at", AT)
    assert r.code == 1


# ---------------------------------------------------------------------------------------
# The adapter gaps of the SNP and TDX families


def test_v2_report_meets_its_products_declared_values(run_cli: Run, tmp_path: Path) -> None:
    # milan-v2-a is a v2 report (no CPUID): its product comes from the VCEK.
    report = vector("snp", "milan-v2-a.report.bin").read_bytes()
    assert int.from_bytes(report[:4], "little") == 2
    options = signed_manifest(tmp_path, lambda p: snp_values_of(report, p))
    r = run_cli("evidence", "verify", *_snp_a(), *options, "--at", AT, "--json")
    assert r.code == 0, r.stdout + r.stderr
    codes = [x["code"] for x in json.loads(r.stdout)["results"]]
    assert "snp.declared.absent" not in codes

    def genoa(pred: dict[str, Any]) -> None:
        snp_values_of(report, pred)
        pred["declared"]["snp"][0]["product"] = "Genoa"

    r = run_cli("evidence", "verify", *_snp_a(), *signed_manifest(tmp_path, genoa, name="g"),
                "--at", AT, "--json")  # fmt: skip
    assert r.code == 1
    assert "snp.declared.absent" in _failing(json.loads(r.stdout))


def _tdx_values(minimum: int) -> Callable[[dict[str, Any]], None]:
    from refkit.evidence import tdx

    quote = tdx.parse(vector("tdx", "phala", "v4.quote.bin").read_bytes(), source="q")
    m = tdx.measured(quote)

    def edit(pred: dict[str, Any]) -> None:
        pred["referenceValues"].pop("policies", None)
        pred["referenceValues"]["tdx"][0]["mrtd"] = m["MRTD"]
        pred["referenceValues"]["tdx"][0]["rtmrs"] = [m[f"RTMR{i}"] for i in range(4)]
        declared = pred["declared"]["tdx"]
        declared["mrSeams"] = [m["MRSEAM"]]
        declared["xfam"] = m["XFAM"]
        declared["minTcbEvaluationDataNumber"] = minimum

    return edit


def test_tdx_minimum_tcb_evaluation_number(run_cli: Run, tmp_path: Path) -> None:
    collateral = vector("tdx", "phala", "v4.collateral.json")
    # The collateral's own number, read from its tcb_info document (17 for this vector).
    tcb_info = json.loads(json.loads(collateral.read_bytes())["tcb_info"])
    number = tcb_info["tcbEvaluationDataNumber"]
    at = "2025-06-20T00:00:00Z"  # PROVENANCE.md: UpToDate at this time (dcap-qvl)
    quote = vector("tdx", "phala", "v4.quote.bin")
    for minimum, code, expect in ((number, 0, "pass"), (number + 1, 1, "fail")):
        options = signed_manifest(tmp_path, _tdx_values(minimum), name=f"t{minimum}")
        r = run_cli("evidence", "verify", quote, "--collateral", collateral, *options,
                    "--at", at, "--json")  # fmt: skip
        assert r.code == code, (expect, r.stdout + r.stderr)
        doc = json.loads(r.stdout)
        tcb = [x for x in doc["results"] if x["code"].startswith("tdx.tcb-eval.")]
        assert [x["code"] for x in tcb] == (
            ["tdx.tcb-eval.sufficient"] if expect == "pass" else ["tdx.tcb-eval.too-old"]
        )
        assert tcb[0]["actual"] == str(number)
