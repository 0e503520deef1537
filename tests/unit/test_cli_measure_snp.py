"""`refkit measure snp` as users call it: exit codes, messages, text and JSON output."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refkit.errors import InputError
from refkit.measure.snp import parse_vcpu_counts
from tests import firmware_factory as ff
from tests.shared import vector

Runner = Callable[..., Any]


@pytest.fixture
def ovmf(tmp_path: Path) -> Path:
    p = tmp_path / "ovmf.fd"
    p.write_bytes(ff.Image(pages=8).build())
    return p


@pytest.fixture
def kernel(tmp_path: Path) -> Path:
    p = tmp_path / "vmlinuz"
    p.write_bytes(b"MZ" + bytes(5000))
    return p


BASE = ["measure", "snp", "--mode", "snp", "--vcpu-type", "EPYC-v4"]


def test_single_count_prints_measurement_alone(run_cli: Runner, ovmf: Path) -> None:
    r = run_cli(*BASE, "--vcpus", "2", "--ovmf", ovmf)
    assert r.code == 0, r.stderr
    assert len(bytes.fromhex(r.stdout.strip())) == 48


def test_many_counts_one_line_each(run_cli: Runner, ovmf: Path) -> None:
    r = run_cli(*BASE, "--vcpus", "1-3,8", "--ovmf", ovmf)
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2", "3", "8"]
    single = run_cli(*BASE, "--vcpus", "8", "--ovmf", ovmf).stdout.strip()
    assert lines[-1].split()[1] == single


def test_base64_output(run_cli: Runner, ovmf: Path) -> None:
    hex_out = run_cli(*BASE, "--vcpus", "2", "--ovmf", ovmf).stdout.strip()
    b64 = run_cli(*BASE, "--vcpus", "2", "--ovmf", ovmf, "--output-format", "base64").stdout.strip()
    assert base64.b64decode(b64) == bytes.fromhex(hex_out)


def test_json_records_inputs(run_cli: Runner, ovmf: Path, kernel: Path) -> None:
    r = run_cli(
        *BASE, "--vcpus", "1,4", "--ovmf", ovmf, "--kernel", kernel, "--append", "", "--json"
    )
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["mode"] == "snp"
    assert doc["vmmType"] == "QEMU"
    assert doc["vcpuType"] == "EPYC-v4"
    assert doc["vcpuSignature"] == "0x800f12"  # DOMAIN.md §2: EPYC-v4 = 0x800f12
    assert doc["guestFeatures"] == "0x1"
    import hashlib

    assert doc["firmware"]["sha256"] == hashlib.sha256(ovmf.read_bytes()).hexdigest()
    assert doc["firmware"]["sha384"] == hashlib.sha384(ovmf.read_bytes()).hexdigest()
    assert doc["kernel"]["sha256"] == hashlib.sha256(kernel.read_bytes()).hexdigest()
    assert doc["kernelHashesTable"]["kernelSha256"] == doc["kernel"]["sha256"]
    assert doc["kernelHashesTable"]["initrdSha256"] == hashlib.sha256(b"").hexdigest()
    assert doc["kernelHashesTable"]["cmdlineSha256"] == hashlib.sha256(b"\0").hexdigest()
    assert doc["cmdline"] == {"given": True, "value": ""}
    assert [m["vcpus"] for m in doc["measurements"]] == [1, 4]
    for m in doc["measurements"]:
        assert base64.b64decode(m["measurementBase64"]).hex() == m["measurement"]
    assert {s["type"] for s in doc["sections"]} >= {"SNP_KERNEL_HASHES", "SNP_SECRETS"}
    assert doc["pageCounts"]["VMSA"] == 4


def test_explain_lists_sections(run_cli: Runner, ovmf: Path) -> None:
    r = run_cli(*BASE, "--vcpus", "2", "--ovmf", ovmf, "--explain")
    assert r.code == 0, r.stderr
    for word in ("SNP_SEC_MEM", "SNP_SECRETS", "CPUID", "SVSM_CAA", "SNP_KERNEL_HASHES", "VMSA"):
        assert word in r.stdout


def test_ovmf_hash_mode_and_back(run_cli: Runner, ovmf: Path) -> None:
    h = run_cli("measure", "snp", "--mode", "snp:ovmf-hash", "--ovmf", ovmf).stdout.strip()
    full = run_cli(*BASE, "--vcpus", "3", "--ovmf", ovmf).stdout
    seeded = run_cli(*BASE, "--vcpus", "3", "--ovmf", ovmf, "--snp-ovmf-hash", h).stdout
    assert full == seeded


def test_dump_vmsa(run_cli: Runner, ovmf: Path, tmp_path: Path) -> None:
    out = tmp_path / "vmsa"
    r = run_cli(*BASE, "--vcpus", "3", "--ovmf", ovmf, "--dump-vmsa", "--dump-vmsa-dir", out)
    assert r.code == 0, r.stderr
    pages = [(out / f"vmsa{i}.bin").read_bytes() for i in range(3)]
    assert all(len(p) == 4096 for p in pages)
    assert pages[0] != pages[1] == pages[2]
    # Same again: identical files are fine. Different contents are not overwritten.
    assert (
        run_cli(*BASE, "--vcpus", "3", "--ovmf", ovmf, "--dump-vmsa", "--dump-vmsa-dir", out).code
        == 0
    )
    (out / "vmsa1.bin").write_bytes(b"precious")
    r = run_cli(*BASE, "--vcpus", "3", "--ovmf", ovmf, "--dump-vmsa", "--dump-vmsa-dir", out)
    assert r.code == 2
    assert "not overwriting" in r.stderr
    assert (out / "vmsa1.bin").read_bytes() == b"precious"
    assert (
        run_cli(
            *BASE, "--vcpus", "3", "--ovmf", ovmf, "--dump-vmsa", "--dump-vmsa-dir", out, "--force"
        ).code
        == 0
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vcpus", "0"], "out of range"),
        (["--vcpus", "513"], "out of range"),
        (["--vcpus", "8-2"], "runs backwards"),
        (["--vcpus", "two"], "cannot read vCPU count"),
        (["--vcpus", "2", "--vcpu-sig", "0x10"], "give only one of"),
        (["--vcpus", "2", "--vmm-type", "xen"], "unknown vmm type"),
        (["--vcpus", "2", "--guest-features", "zz"], "not an integer"),
        (["--vcpus", "2", "--snp-ovmf-hash", "nothex"], "not hexadecimal"),
        (["--vcpus", "2", "--initrd", "x"], "--initrd needs --kernel"),
        (["--vcpus", "2", "--vars-size", "4096"], "belong to mode snp:svsm"),
    ],
)
def test_usage_errors_exit_2(run_cli: Runner, ovmf: Path, args: list[str], message: str) -> None:
    r = run_cli(*BASE, "--ovmf", ovmf, *args)
    assert r.code == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""


def test_unknown_vcpu_type_lists_valid_ones(run_cli: Runner, ovmf: Path) -> None:
    r = run_cli(
        "measure", "snp", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v9", "--ovmf", ovmf
    )
    assert r.code == 2
    assert "EPYC-Milan" in r.stderr
    assert "EPYC-Turin" in r.stderr


def test_missing_ovmf_exit_2(run_cli: Runner, tmp_path: Path) -> None:
    r = run_cli(*BASE, "--vcpus", "1", "--ovmf", tmp_path / "missing.fd")
    assert r.code == 2
    assert "OVMF firmware not found" in r.stderr


@pytest.mark.vectors
def test_tdx_firmware_refused_exit_2(run_cli: Runner) -> None:
    r = run_cli(*BASE, "--vcpus", "1", "--ovmf", vector("firmware", "OVMF.inteltdx.ms.fd"))
    assert r.code == 2
    assert "Intel TDX build" in r.stderr
    assert "ovmf-amdsev" in r.stderr


@given(st.lists(st.integers(1, 512), min_size=1, max_size=30))
def test_vcpu_count_lists(counts: list[int]) -> None:
    assert parse_vcpu_counts(",".join(map(str, counts))) == tuple(sorted(set(counts)))


@given(st.integers(1, 512), st.integers(1, 512))
def test_vcpu_ranges(a: int, b: int) -> None:
    lo, hi = min(a, b), max(a, b)
    assert parse_vcpu_counts(f"{lo}-{hi}") == tuple(range(lo, hi + 1))


@given(st.text(max_size=20))
def test_vcpu_parser_never_crashes(text: str) -> None:
    try:
        counts = parse_vcpu_counts(text)
    except InputError:
        return
    assert all(1 <= n <= 512 for n in counts)


def test_cli_mode_names_match_engine() -> None:
    from refkit.cli.measure.snp import MODES
    from refkit.measure.snp import SevMode

    assert tuple(m.value for m in SevMode) == MODES
