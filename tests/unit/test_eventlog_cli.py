"""``refkit measure replay``: exit codes, text and JSON, --expect, --expect-file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.eventlog_support import (
    CCEL_DIR,
    EV_EFI_ACTION,
    Ev,
    boot_events,
    build_log,
    expected_registers,
    quote_rtmrs,
)
from tests.manifest_support import example_statement
from tests.shared import vector

Runner = Callable[..., Any]


@pytest.fixture
def ccel() -> Path:
    return vector(*CCEL_DIR, "ccel_data.dat")


@pytest.fixture
def rtmrs() -> list[str]:
    return quote_rtmrs(vector(*CCEL_DIR, "cos-113-tdx-quote.dat").read_bytes())


def test_text_lists_events_registers_and_command_line(run_cli: Runner, ccel: Path) -> None:
    r = run_cli("measure", "replay", ccel)
    assert r.code == 0, r.stderr
    assert "ccel, banks sha384, 43 events" in r.stdout
    assert "Calling EFI Application from Boot Option" in r.stdout
    assert "kernel command line: /syslinux/vmlinuz.A" in r.stdout
    assert "registers (sha384):" in r.stdout


def test_expect_quote_values_pass(run_cli: Runner, ccel: Path, rtmrs: list[str]) -> None:
    args = [a for i, v in enumerate(rtmrs) for a in ("--expect", f"rtmr{i}={v}")]
    r = run_cli("measure", "replay", ccel, "--no-events", *args)
    assert r.code == 0, r.stderr
    assert r.stdout.count("PASS  eventlog.register.match") == 4
    assert "VERIFIED" in r.stdout


def test_expect_mismatch_exits_1(run_cli: Runner, ccel: Path, rtmrs: list[str]) -> None:
    r = run_cli("measure", "replay", ccel, "--expect", f"rtmr2={rtmrs[1]}")
    assert r.code == 1
    assert "FAIL  eventlog.register.mismatch" in r.stdout
    assert "20 logged events fed it" in r.stdout
    assert f"expected {rtmrs[1]}, log has {rtmrs[2]}" in r.stdout
    assert "eventlog.register.mismatch" in r.stderr
    assert "Traceback" not in r.stderr


def test_json_document_and_verdict(run_cli: Runner, ccel: Path, rtmrs: list[str]) -> None:
    r = run_cli("measure", "replay", ccel, "--json", "--expect", f"rtmr1={rtmrs[1]}")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["format"] == "ccel"
    assert doc["registers"]["sha384"] == {f"rtmr{i}": v for i, v in enumerate(rtmrs)}
    assert len(doc["events"]) == 44
    assert doc["events"][0]["extended"] is False
    assert doc["events"][15]["eventType"] == "EV_EFI_ACTION"
    assert doc["events"][15]["source"] == "log offset 0x24a2"
    assert doc["verdict"]["ok"] is True
    assert doc["commandLines"][0].startswith("/syslinux/vmlinuz.A")


def test_replay_json_is_an_expectation_file(run_cli: Runner, ccel: Path, tmp_path: Path) -> None:
    ref = tmp_path / "ref.json"
    ref.write_text(run_cli("measure", "replay", ccel, "--json").stdout)
    r = run_cli("measure", "replay", ccel, "--no-events", "--expect-file", ref)
    assert r.code == 0, r.stdout + r.stderr
    assert r.stdout.count("PASS  eventlog.events.match") == 3  # rtmr0-2 have events


def test_reference_log_names_the_first_differing_event(run_cli: Runner, tmp_path: Path) -> None:
    events = boot_events()
    reference = tmp_path / "known-good.bin"
    reference.write_bytes(build_log(events, ("sha256",)))
    changed = list(events)
    changed[5] = Ev(4, EV_EFI_ACTION, b"Exit Boot Services Invocation, differently")
    live = tmp_path / "live.bin"
    live.write_bytes(build_log(changed, ("sha256",)))
    r = run_cli("measure", "replay", live, "--no-events", "--expect-file", reference)
    assert r.code == 1
    line = next(x for x in r.stdout.splitlines() if "eventlog.event.differs" in x)
    assert "sha256:pcr4: event 2 of pcr4 differs" in line
    assert "Exit Boot Services Invocation, differently" in line
    assert "Exit Boot Services Invocation'" in line  # the reference's event, quoted
    assert "PASS  eventlog.events.match" in r.stdout  # pcr0, pcr7, pcr8 are equal


def test_manifest_expectation(
    run_cli: Runner, ccel: Path, rtmrs: list[str], tmp_path: Path
) -> None:
    statement = example_statement()
    statement["predicate"]["referenceValues"]["tdx"][0]["rtmrs"] = {
        str(i): v for i, v in enumerate(rtmrs)
    }
    manifest = tmp_path / "release.json"
    manifest.write_text(json.dumps(statement))
    r = run_cli("measure", "replay", ccel, "--no-events", "--expect-file", manifest)
    assert r.code == 0, r.stdout + r.stderr
    assert "tdx 4 vCPU" in r.stdout
    # the golden manifest's own values are not this boot's
    r = run_cli(
        "measure",
        "replay",
        ccel,
        "--no-events",
        "--expect-file",
        Path(__file__).parent.parent / "assets" / "manifests" / "release.json",
    )
    assert r.code == 1
    assert r.stdout.count("eventlog.register.mismatch") == 3  # rtmr3 is zero in both


def test_manifest_without_vtpm_values_for_a_tpm_log(run_cli: Runner, tmp_path: Path) -> None:
    statement = example_statement()
    del statement["predicate"]["referenceValues"]["vtpm"]
    manifest = tmp_path / "release.json"
    manifest.write_text(json.dumps(statement))
    log = tmp_path / "log.bin"
    log.write_bytes(build_log(boot_events(), ("sha256",)))
    r = run_cli("measure", "replay", log, "--expect-file", manifest)
    assert r.code == 2
    assert "no vTPM reference values" in r.stderr


def test_tpm_log_against_manifest_vtpm_values(run_cli: Runner, tmp_path: Path) -> None:
    events = boot_events()
    statement = example_statement()
    pcr4 = expected_registers(events, "sha256")["pcr4"]
    statement["predicate"]["referenceValues"]["vtpm"] = [{"bank": "sha256", "pcrs": {"4": pcr4}}]
    manifest = tmp_path / "release.json"
    manifest.write_text(json.dumps(statement))
    log = tmp_path / "log.bin"
    log.write_bytes(build_log(events, ("sha256",)))
    r = run_cli("measure", "replay", log, "--expect-file", manifest)
    assert r.code == 0, r.stdout + r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expect", "rtmr9=00"], "not REGISTER=HEX"),
        (["--expect", "pcr7=zz"], "not hex"),
        (["--bank", "sha512"], "no sha512 bank"),
    ],
)
def test_usage_and_input_errors_exit_2(
    run_cli: Runner, ccel: Path, args: list[str], message: str
) -> None:
    r = run_cli("measure", "replay", ccel, *args)
    assert r.code == 2, r.stdout
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_tpm_log_read_as_ccel_is_refused(run_cli: Runner) -> None:
    log = vector("eventlog", "cos-85-amd-sev.bin")
    r = run_cli("measure", "replay", log, "--format", "ccel")
    assert r.code == 2
    assert "MR index 0 is MRTD" in r.stderr


def test_truncated_log_names_the_offset(run_cli: Runner, tmp_path: Path) -> None:
    data = build_log(boot_events(), ("sha256",))
    log = tmp_path / "cut.bin"
    log.write_bytes(data[:-3])
    r = run_cli("measure", "replay", log)
    assert r.code == 2
    assert f"{log}, offset 0x" in r.stderr
    assert "truncated" in r.stderr or "runs past the end" in r.stderr


def test_missing_log_exits_2(run_cli: Runner, tmp_path: Path) -> None:
    r = run_cli("measure", "replay", tmp_path / "nope.bin")
    assert r.code == 2
    assert "not found" in r.stderr


def test_tdx_measure_document_as_expectation(run_cli: Runner, ccel: Path, tmp_path: Path) -> None:
    """End to end with `measure tdx --json`: RTMR0 taken from the same boot's log matches
    event by event; RTMR1 computed for another kernel (direct boot) does not, and the
    first differing event is named with the kernel file that fed the computed one."""
    from tests.measure_support import build_pe

    kernel = tmp_path / "vmlinuz.efi"
    kernel.write_bytes(build_pe([(".text", b"\x90" * 5000)]))
    measured = run_cli(
        "measure", "tdx", "--firmware", vector("firmware", "OVMF.inteltdx.ms.fd"),
        "--kernel", kernel, "--append", "console=ttyS0", "--rtmr0-from-log", ccel,
        "--vcpus", "4", "--json",
    )  # fmt: skip
    assert measured.code == 0, measured.stderr
    document = tmp_path / "tdx.json"
    document.write_text(measured.stdout)
    r = run_cli("measure", "replay", ccel, "--no-events", "--expect-file", document)
    assert r.code == 1
    lines = r.stdout.splitlines()
    assert any("PASS  eventlog.events.match" in x and "rtmr0:" in x for x in lines)
    assert any("PASS  eventlog.register.match" in x and "rtmr0:" in x for x in lines)
    differs = next(x for x in lines if "eventlog.event.differs" in x and "rtmr1:" in x)
    assert "event 1 of rtmr1 differs" in differs
    assert "(log offset 0x24a2)" in differs  # GRUB boot: the EFI action comes first
    assert f"({kernel})" in differs  # the computed event's input
