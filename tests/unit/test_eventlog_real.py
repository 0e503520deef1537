"""The real logs: the GCP TDX CCEL log against its quote, the TCG2 logs against
tpm2_eventlog (Debian tpm2-tools 5.4, the peer), and the recorded command lines."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from refkit.measure.eventlog import LogFormat, read_log, replay_log
from tests.eventlog_support import (
    CCEL_DIR,
    TCG2_LOGS,
    peer_pcrs,
    quote_rtmrs,
    tpm2_eventlog,
)
from tests.shared import vector

pytestmark = pytest.mark.vectors


def test_ccel_replays_to_the_quote_of_the_same_boot() -> None:
    log = read_log(vector(*CCEL_DIR, "ccel_data.dat"))
    quote = vector(*CCEL_DIR, "cos-113-tdx-quote.dat").read_bytes()
    assert log.format is LogFormat.CCEL
    assert log.banks == ("sha384",)
    expected = quote_rtmrs(quote)  # read from the quote at the documented offsets
    assert dict(replay_log(log)["sha384"]) == {f"rtmr{i}": v for i, v in enumerate(expected)}
    # RTMR3 is zero at boot and no event of this log extends it
    assert expected[3] == "00" * 48


def test_ccel_events_and_decoded_data() -> None:
    log = read_log(vector(*CCEL_DIR, "ccel_data.dat"))
    # 43 events after the header; the rest of the 256 KiB log area is 0xFF
    assert len(log.events) == 44
    assert log.end == 0x46B5
    assert log.size == 262144
    extended = [e for e in log.events if e.extended]
    assert all(e.number > 0 for e in extended)
    words = [e.decoded.description for e in log.events]
    assert words[1].startswith("TdxTable: ")
    assert "SecureBoot (8be4df61-93ca-11d2-aa0d-00e098032b8c) = 00" in words
    assert any(
        w.startswith("Boot0001 (") and "PciRoot(0x0)/Pci(0x4,0x0)/NVMe(0x1," in w for w in words
    )
    assert "Calling EFI Application from Boot Option" in words
    assert "Exit Boot Services Returned with Success" in words
    assert any(w.endswith("\\EFI\\BOOT\\grub-lakitu.efi") for w in words)
    assert [e.register for e in log.events if e.type_name == "EV_EFI_ACTION"] == ["rtmr1"] * 3
    (line,) = log.command_lines
    assert line.startswith("/syslinux/vmlinuz.A init=/usr/lib/systemd/systemd rootwait ro")


@pytest.mark.peer
def test_tpm2_eventlog_cannot_read_ccel_but_refkit_does() -> None:
    tool = shutil.which("tpm2_eventlog")
    if tool is None:
        pytest.skip("needs tpm2_eventlog (Debian tpm2-tools)")
    path = vector(*CCEL_DIR, "ccel_data.dat")
    run = subprocess.run([tool, str(path)], capture_output=True, timeout=60, check=False)
    assert run.returncode != 0  # "bad pcrIndex for EV_NO_ACTION event": the header has MR 1
    assert read_log(path).format is LogFormat.CCEL


@pytest.mark.peer
@pytest.mark.parametrize("name", TCG2_LOGS)
def test_tcg2_replay_equals_tpm2_eventlog_every_bank(name: str) -> None:
    path = vector("eventlog", name)
    log = read_log(path)
    assert log.format is LogFormat.TCG2
    assert log.end == log.size  # parsed completely, to the last byte
    assert log.banks == ("sha1", "sha256", "sha384")
    ours = {bank: dict(regs) for bank, regs in replay_log(log).items()}
    assert ours == peer_pcrs(tpm2_eventlog(path))


@pytest.mark.peer
@pytest.mark.parametrize("name", TCG2_LOGS)
def test_tcg2_events_equal_tpm2_eventlog_event_by_event(name: str) -> None:
    path = vector("eventlog", name)
    log = read_log(path)
    peer = tpm2_eventlog(path)["events"]
    assert isinstance(peer, list)
    assert len(peer) == len(log.events)
    for ours, theirs in zip(log.events, peer, strict=True):
        assert int(theirs["EventNum"]) == ours.number
        assert int(theirs["PCRIndex"]) == ours.mr_index
        assert theirs["EventType"] == ours.type_name
        assert int(theirs["EventSize"]) == len(ours.data)
        if ours.number == 0:
            continue
        digests = {d["AlgorithmId"]: d["Digest"] for d in theirs["Digests"]}
        assert digests == {b: d.hex() for b, d in ours.digests.items()}
        event = theirs.get("Event")
        if isinstance(event, dict) and "UnicodeName" in event:  # UEFI variables
            assert ours.decoded.fields["name"] == event["UnicodeName"]
            assert ours.decoded.fields["vendor"] == event["VariableName"]
        if isinstance(event, dict) and "DevicePath" in event and int(event["LengthOfDevicePath"]):
            assert ours.decoded.fields["imageLength"] == int(event["ImageLengthInMemory"])
        if isinstance(event, dict) and "String" in event:  # EV_IPL / actions as text
            text = event["String"].strip('"').removesuffix("\\0")
            if "\n" not in text:  # the peer quotes line breaks in its own way
                assert ours.decoded.description == text


def test_cos85_command_line_as_provenance_records() -> None:
    log = read_log(vector("eventlog", "cos-85-amd-sev.bin"))
    (line,) = log.command_lines
    # PROVENANCE.md, eventlog/: as google/go-eventlog records it
    assert line.startswith(
        "/syslinux/vmlinuz.A init=/usr/lib/systemd/systemd boot=local rootwait ro noresume "
        "noswap loglevel=7 noinitrd console=ttyS0"
    )
    assert "root_hexdigest=795872ee03859c10dfcc4d67b4b96c85094b340c2d8784783abc2fa12a6ed671" in line


@pytest.mark.parametrize("name", TCG2_LOGS)
def test_every_tcg2_log_yields_one_kernel_command_line(name: str) -> None:
    log = read_log(vector("eventlog", name))
    (line,) = log.command_lines
    assert "/vmlinuz" in line.split()[0]


def test_parse_and_replay_is_fast() -> None:
    paths = [vector("eventlog", n) for n in TCG2_LOGS] + [vector(*CCEL_DIR, "ccel_data.dat")]
    start = time.perf_counter()
    for path in paths:
        replay_log(read_log(path))
    elapsed = time.perf_counter() - start
    # about 2 ms a log on the development machine; a generous bound against regressions
    assert elapsed < 2.0, elapsed


def test_authority_events_name_the_certificate() -> None:
    log = read_log(vector("eventlog", "cos-85-amd-sev.bin"))
    authority = [e for e in log.events if e.type_name == "EV_EFI_VARIABLE_AUTHORITY"]
    # shim logs the bare DER certificate from db that authorised grub (tpm2_eventlog shows
    # the same bytes as VariableData); its subject, as cryptography reads it
    assert authority
    assert authority[0].decoded.fields["certificate"].startswith("CN=UEFI DB Key v10,")
