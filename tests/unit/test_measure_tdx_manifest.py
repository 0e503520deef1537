"""``refkit measure tdx`` on the command line, and TDX/vTPM values into the manifest:
``manifest build --add-tdx``, ``--add-vtpm`` and the generic ``--add`` (which also takes
``measure snp`` output)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import InputError, ParseError
from refkit.manifests.measured import add_any_measurement, measurement_kind, tdx_values
from refkit.manifests.model import tdx as tdx_kind
from refkit.manifests.model import vtpm as vtpm_kind
from refkit.manifests.statement import load_statement
from tests import firmware_factory as ff
from tests import measure_support as ms
from tests.shared import vector

Runner = Callable[..., Any]

RELEASE_YAML = """\
schemaVersion: "1.1"
release:
  name: demo
  version: 1.2.3
  created: "2026-01-01T00:00:00Z"
  source: {repository: https://example.org/r, commit: "0123456789abcdef0123456789abcdef01234567"}
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {
        "firmware": tmp_path / "tdx.fd",
        "kernel": tmp_path / "vmlinuz",
        "initrd": tmp_path / "initrd.img",
        "uki": tmp_path / "uki.efi",
        "yaml": tmp_path / "release.yaml",
    }
    out["firmware"].write_bytes(ms.tdvf_firmware(64 * 1024))
    kernel = ms.build_pe([(".text", b"k" * 300)])
    out["kernel"].write_bytes(kernel)
    out["initrd"].write_bytes(b"initrd")
    out["uki"].write_bytes(
        ms.build_pe(
            [(".linux", kernel), (".cmdline", b"ro"), (".sdmagic", b"systemd-stub 257.1 ##")]
        )
    )
    out["yaml"].write_text(RELEASE_YAML)
    return out


def _tdx_json(run_cli: Runner, files: dict[str, Path], *extra: str) -> dict[str, Any]:
    r = run_cli(
        "measure", "tdx", "--firmware", files["firmware"], "--kernel", files["kernel"],
        "--initrd", files["initrd"], "--append", "console=ttyS0", "--json", *extra,
    )  # fmt: skip
    assert r.code == 0, r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def test_cli_text_and_json_agree(run_cli: Runner, files: dict[str, Path]) -> None:
    doc = _tdx_json(run_cli, files, "--vcpus", "2")
    r = run_cli("measure", "tdx", "--firmware", files["firmware"])
    assert r.code == 0
    assert r.stdout.strip() == f"MRTD  {doc['mrtd']}"
    assert doc["pageOrder"] == "per-page"
    assert doc["cmdline"] == {"given": True, "value": "console=ttyS0", "loadOptions": "qemu-ovmf"}
    assert doc["kernel"]["authenticode"]["sha384"]
    assert doc["shape"]["vcpus"] == 2
    assert [e["register"] for e in doc["events"]] == ["rtmr1"] * 5 + ["rtmr2"] * 2
    other = _tdx_json(run_cli, files, "--page-order", "add-all-first")
    assert other["mrtd"] != doc["mrtd"]
    assert other["rtmr1"] == doc["rtmr1"]


def test_cli_errors_are_exit_2(run_cli: Runner, files: dict[str, Path], tmp_path: Path) -> None:
    plain = tmp_path / "plain.fd"
    plain.write_bytes(ff.Image(pages=8).build())  # SEV metadata only
    r = run_cli("measure", "tdx", "--firmware", plain)
    assert r.code == 2
    assert "no TDX metadata" in r.stderr
    r = run_cli("measure", "tdx", "--firmware", files["firmware"], "--initrd", files["initrd"])
    assert r.code == 2
    assert "--initrd needs --kernel" in r.stderr
    r = run_cli("measure", "tdx", "--firmware", files["firmware"], "--kernel", files["initrd"])
    assert r.code == 2
    assert "no MZ header" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("measure", "tdx", "--firmware", files["firmware"], "--platform-data", tmp_path)
    assert r.code == 2
    assert "td_hob.bin" in r.stderr


def test_rtmr0_log_cli(run_cli: Runner, files: dict[str, Path]) -> None:
    log = vector("tdx", "ccel-gcp", "ccel_data.dat")
    doc = _tdx_json(run_cli, files, "--rtmr0-from-log", str(log), "--vcpus", "4")
    (rtmr0,) = doc["rtmr0"]
    assert rtmr0["kind"] == "reference-log"
    assert rtmr0["shape"]["vcpus"] == 4
    assert rtmr0["events"][0]["eventType"] == "EV_EFI_HANDOFF_TABLES2"


def test_build_add_tdx_and_vtpm(run_cli: Runner, files: dict[str, Path], tmp_path: Path) -> None:
    log = vector("tdx", "ccel-gcp", "ccel_data.dat")
    tdx = tmp_path / "tdx.json"
    tdx.write_text(
        json.dumps(
            _tdx_json(
                run_cli,
                files,
                "--rtmr0-from-log",
                str(log),
                "--vcpus",
                "4",
                "--vmm-version",
                "9.2.0",
            )
        )
    )
    r = run_cli("measure", "uki", files["uki"], "--json")
    assert r.code == 0, r.stderr
    uki = tmp_path / "uki.json"
    uki.write_text(r.stdout)
    out = tmp_path / "release.json"
    r = run_cli("manifest", "build", files["yaml"], "--add-tdx", tdx, "--add-vtpm", uki, "-o", out)
    assert r.code == 0, r.stderr
    statement = load_statement(out.read_bytes(), source="release.json", require_canonical=True)
    (value,) = statement.predicate.of(tdx_kind.KIND)
    doc = json.loads(tdx.read_text())
    assert value.mrtd == doc["mrtd"]
    assert dict(value.rtmrs) == {
        "0": doc["rtmr0"][0]["value"],
        "1": doc["rtmr1"],
        "2": doc["rtmr2"],
    }
    assert value.shape.vcpus == 4
    assert str(value.shape.vmm) == "qemu 9.2.0"
    vtpm = statement.predicate.of(vtpm_kind.KIND)
    udoc = json.loads(uki.read_text())
    assert {v.bank.value: dict(v.pcrs) for v in vtpm} == udoc["pcrs"]
    # the generic --add recognises both, and --add-tdx refuses a UKI document
    out2 = tmp_path / "release2.json"
    r = run_cli("manifest", "build", files["yaml"], "--add", tdx, "--add", uki, "-o", out2)
    assert r.code == 0, r.stderr
    assert out2.read_bytes() == out.read_bytes()
    r = run_cli("manifest", "build", files["yaml"], "--add-tdx", uki, "-o", tmp_path / "x.json")
    assert r.code == 2
    assert "not tdx" in r.stderr


def test_generic_add_takes_snp(run_cli: Runner, tmp_path: Path) -> None:
    ovmf = tmp_path / "OVMF.fd"
    ovmf.write_bytes(ff.Image(pages=8).build())
    r = run_cli(
        "measure", "snp", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-Genoa",
        "--ovmf", ovmf, "--json",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    value = json.loads(r.stdout)
    assert measurement_kind(value) == "snp"
    doc = add_any_measurement({}, value, source="snp.json")
    assert len(doc["referenceValues"]["snp"]) == 1


def test_converter_refusals(run_cli: Runner, files: dict[str, Path]) -> None:
    doc = _tdx_json(run_cli, files)
    with pytest.raises(ParseError, match="vCPU count"):
        tdx_values(doc, source="t.json")  # no shape given: a manifest entry needs one
    doc["shape"]["vcpus"] = 2
    values, subjects = tdx_values(doc, source="t.json")
    assert values[0]["rtmrs"].keys() == {"1", "2"}
    assert {s["kind"] for s in subjects} == {"firmware", "kernel", "initrd"}
    doc["extra"] = 1
    with pytest.raises(ParseError, match="extra"):
        tdx_values(doc, source="t.json")
    with pytest.raises(InputError, match="not a measurement document"):
        measurement_kind({"kind": "weird"})
    mrtd_only = json.loads(
        run_cli("measure", "tdx", "--firmware", files["firmware"], "--json", "--vcpus", "1").stdout
    )
    with pytest.raises(ParseError, match="MRTD only"):
        tdx_values(mrtd_only, source="m.json")


def test_same_kernel_from_snp_and_tdx_is_one_subject(
    run_cli: Runner, files: dict[str, Path]
) -> None:
    doc = _tdx_json(run_cli, files, "--vcpus", "1")
    kernel = doc["kernel"]
    listed = {
        "subjects": [{"name": "vmlinuz", "kind": "kernel", "digest": {"sha256": kernel["sha256"]}}]
    }
    out = add_any_measurement(listed, doc, source="tdx.json")
    (subject,) = [s for s in out["subjects"] if s["name"] == "vmlinuz"]
    assert subject["digest"] == {"sha256": kernel["sha256"], "sha384": kernel["sha384"]}
    listed["subjects"][0]["digest"] = {"sha256": "00" * 32}
    with pytest.raises(InputError, match="other digests"):
        add_any_measurement(listed, doc, source="tdx.json")


def test_sev_firmware_with_tdvf_table_gets_a_warning(run_cli: Runner) -> None:
    # Debian's OVMF.amdsev.fd carries a TDVF descriptor too (DOMAIN 2): MRTD is computed
    # but the user is told the image is an SEV build.
    r = run_cli("measure", "tdx", "--firmware", vector("firmware", "OVMF.amdsev.fd"))
    assert r.code == 0
    assert "also carries SEV metadata" in r.stderr
    r = run_cli("measure", "tdx", "--firmware", vector("firmware", "OVMF.inteltdx.ms.fd"))
    assert r.code == 0
    assert r.stderr == ""
