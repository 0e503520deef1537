"""refkit.measure.tdx: MRTD, RTMR0-2 and their events.

Real data decides: MRTD of Debian's OVMF.inteltdx.ms.fd (../shared/vectors/firmware) in
both page orders, each equal to a second computation in the test
(measure_support.independent_mrtd: finds the TDVF table by signature and builds every
PAGE.ADD / MR.EXTEND record itself); RTMR1/RTMR2 for the mirrored trixie kernel, equal to
extends computed in the test from the pefile-based Authenticode; RTMR0 taken from the real
CCEL log of a TDX boot (../shared/vectors/tdx/ccel-gcp) equal to RTMR0 of the quote from
the same boot; and the Secure Boot and boot-variable events refkit computes from variable
files equal, digest for digest, to the events of that log.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError, UnsupportedInput
from refkit.measure.eventlog.log import LogFormat, parse_log
from refkit.measure.firmware import parse_firmware
from refkit.measure.tdx import (
    LoadOptions,
    PageOrder,
    Shape,
    TdxRequest,
    compute_mrtd,
    measure,
    rtmr_events,
)
from refkit.measure.tdx.platform import log_events, rtmr0_from_directory
from refkit.measure.tdx.rtmr import replay_rtmrs, variable_data
from tests import measure_support as ms
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug, vector

# MRTD of OVMF.inteltdx.ms.fd (ovmf-inteltdx 2026.08+ds-2, sha256 a265075b...). Both values
# are also recomputed by measure_support.independent_mrtd in test_mrtd_real_firmware.
MRTD_PER_PAGE = (
    "a7a1f751abc454f9cbab198ca8d2edb2821935df525c74182b5e776cb0929e8c"
    "59aefecce725b0d08a5e9d3d3183bd08"
)
MRTD_ADD_ALL_FIRST = (
    "f501c367e6557fa53f8fec655067c530e8a85f3c8895e3a9ac06a25c0d367a45"
    "d39345eadd64bc390c8d23259fec2818"
)
# RTMR1 of the trixie 6.12.107 cloud kernel (direct boot): recomputed in
# test_rtmr1_rtmr2_real_kernel from the pefile-based Authenticode and the fixed events.
RTMR1_TRIXIE = (
    "77ec4f2c75e1f25365ff6400aa6f599736cc0f6ab85b1379bbb4cd34cad28b71"
    "6b0805750258d471b132abb2ea76450d"
)
QUOTE_BODY = 0x30
RTMR0_AT = QUOTE_BODY + 0x148


def _firmware_path() -> Path:
    return vector("firmware", "OVMF.inteltdx.ms.fd")


def _quote_rtmrs() -> list[str]:
    # TDX quote v4: TD report body at 0x30, RTMR0-3 at body offsets 0x148.. (DOMAIN 6)
    quote = vector("tdx", "ccel-gcp", "cos-113-tdx-quote.dat").read_bytes()
    assert quote[:2] == b"\x04\x00"
    return [quote[RTMR0_AT + 48 * i : RTMR0_AT + 48 * (i + 1)].hex() for i in range(4)]


def test_mrtd_real_firmware_both_orders() -> None:
    data = _firmware_path().read_bytes()
    firmware = parse_firmware(data, source="OVMF.inteltdx.ms.fd")
    per_page = compute_mrtd(firmware, PageOrder.PER_PAGE).hex()
    add_first = compute_mrtd(firmware, PageOrder.ADD_ALL_FIRST).hex()
    assert per_page == MRTD_PER_PAGE == ms.independent_mrtd(data, per_page=True).hex()
    assert add_first == MRTD_ADD_ALL_FIRST == ms.independent_mrtd(data, per_page=False).hex()
    assert per_page != add_first


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mrtd_synthetic_firmware_equals_independent(seed: int) -> None:
    size = 64 * 1024
    top = (1 << 32) - size
    sections = [
        (0x4000, 0xC000, top + 0x4000, 0xC000, 0, 1),
        (0, 0x3000, top, 0x4000, 1, 1),  # raw smaller than memory: zero-padded
        (0, 0, 0x800000, 0x1000, 2, 0),
        (0, 0, 0x900000, 0x2000, 3, 2),  # PAGE_AUG: not added at build time
    ]
    data = ms.tdvf_firmware(size, sections=sections, seed=seed)
    firmware = parse_firmware(data, source="synthetic")
    for order, per_page in ((PageOrder.PER_PAGE, True), (PageOrder.ADD_ALL_FIRST, False)):
        assert compute_mrtd(firmware, order) == ms.independent_mrtd(data, per_page=per_page)


def test_firmware_without_tdx_metadata_is_refused() -> None:
    data = bytes(64 * 1024)
    with pytest.raises(UnsupportedInput, match="no TDX metadata"):
        compute_mrtd(parse_firmware(data, source="plain.fd"))


def test_tdvf_section_outside_image_is_a_parse_error() -> None:
    size = 64 * 1024
    data = ms.tdvf_firmware(size, sections=[(size - 0x1000, 0x2000, 0, 0x2000, 0, 1)])
    with pytest.raises(ParseError, match="does not fit"):
        compute_mrtd(parse_firmware(data, source="bad.fd"))


def test_rtmr1_rtmr2_real_kernel(tmp_path: Path) -> None:
    kernel = ms.deb_member(ms.TRIXIE_KERNEL)
    initrd = tmp_path / "initrd"
    initrd.write_bytes(b"refkit test initrd\n" * 100)
    cmdline = "console=ttyS0 root=/dev/vda"
    result = measure(
        TdxRequest(firmware=_firmware_path(), kernel=kernel, initrd=initrd, append=cmdline)
    )
    # Second computation: Authenticode from pefile's offsets, the events extended by hand.
    authenticode = ms.pefile_authenticode(kernel.read_bytes(), "sha384")
    h = hashlib.sha384
    rtmr1 = ms.extend_sha384(
        [
            authenticode,
            h(b"Calling EFI Application from Boot Option").digest(),
            h(bytes(4)).digest(),
            h(b"Exit Boot Services Invocation").digest(),
            h(b"Exit Boot Services Returned with Success").digest(),
        ]
    )
    options = (cmdline + " initrd=initrd").encode("utf-16-le") + b"\0\0"
    rtmr2 = ms.extend_sha384([h(options).digest(), h(initrd.read_bytes()).digest()])
    assert result.rtmr1 == rtmr1.hex() == RTMR1_TRIXIE
    assert result.rtmr2 == rtmr2.hex()
    assert result.mrtd == MRTD_PER_PAGE
    assert result.kernel_authenticode is not None
    assert result.kernel_authenticode["sha384"] == authenticode.hex()


def test_load_option_variants_are_distinct_and_named() -> None:
    assert LoadOptions.QEMU_OVMF.text("a b", True) == "a b initrd=initrd"
    assert LoadOptions.INITRD_FIRST.text("a b", True) == "initrd=initrd a b"
    assert LoadOptions.VERBATIM.text("a b", True) == "a b"
    assert LoadOptions.QEMU_OVMF.text("", False) is None  # OVMF passes no load options
    events = rtmr_events(
        kernel=ms.build_pe([(".text", b"k" * 100)]),
        initrd=b"i",
        append="x",
        load_options=LoadOptions.INITRD_FIRST,
    )
    first = next(e for e in events if e.register == "rtmr2")
    assert first.data == "initrd=initrd x".encode("utf-16-le") + b"\0\0"
    assert "initrd-first" in first.description


def test_rtmr_events_name_their_inputs(tmp_path: Path) -> None:
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(ms.build_pe([(".text", b"k" * 100)]))
    events = rtmr_events(kernel=kernel, initrd=b"i", append="")
    assert [e.register for e in events] == ["rtmr1"] * 5 + ["rtmr2"] * 2
    assert events[0].source == str(kernel)
    assert events[0].event_type == "EV_EFI_BOOT_SERVICES_APPLICATION"
    with pytest.raises(InputError, match="needs a kernel"):
        rtmr_events(initrd=b"i")


def test_rtmr0_from_reference_log_equals_quote() -> None:
    log = vector("tdx", "ccel-gcp", "ccel_data.dat")
    result = measure(
        TdxRequest(firmware=_firmware_path(), reference_logs=[log], shape=Shape(vcpus=4, vmm="gce"))
    )
    (value,) = result.rtmr0
    assert value.value == _quote_rtmrs()[0]
    assert value.kind == "reference-log"
    assert value.shape.vcpus == 4
    assert all(e.source and "offset" in e.source for e in value.events)


def test_whole_ccel_log_replays_to_the_quote() -> None:
    data = vector("tdx", "ccel-gcp", "ccel_data.dat").read_bytes()
    values = replay_rtmrs(log_events(data, source="ccel"))
    assert [values[f"rtmr{i}"] for i in range(4)] == _quote_rtmrs()


def _log_variables(kind: str) -> list[tuple[str, bytes, str]]:
    data = vector("tdx", "ccel-gcp", "ccel_data.dat").read_bytes()
    out = []
    for event in parse_log(data, source="ccel", log_format=LogFormat.CCEL).events:
        if event.type_name == kind and event.mr_index == 1:
            names = int.from_bytes(event.data[16:24], "little")
            size = int.from_bytes(event.data[24:32], "little")
            name = event.data[32 : 32 + 2 * names].decode("utf-16-le")
            value = event.data[32 + 2 * names : 32 + 2 * names + size]
            out.append((name, value, event.digests["sha384"].hex()))
    return out


def test_platform_data_variable_events_equal_the_real_log(tmp_path: Path) -> None:
    # The variables' data are taken from the real log's events; refkit re-encodes them
    # (UEFI_VARIABLE_DATA) and digests them by its rules: every digest must equal the
    # logged one, in the logged order.
    secure = _log_variables("EV_EFI_VARIABLE_DRIVER_CONFIG")
    boot = _log_variables("EV_EFI_VARIABLE_BOOT")
    assert [n for n, _, _ in secure] == ["SecureBoot", "PK", "KEK", "db", "dbx"]
    for name, value, _ in secure + boot:
        (tmp_path / f"{name}.bin").write_bytes(value)
    (tmp_path / "td_hob.bin").write_bytes(b"hob")
    firmware = parse_firmware(_firmware_path().read_bytes(), source="fw")
    got = rtmr0_from_directory(tmp_path, firmware)
    computed = [
        e.digests["sha384"]
        for e in got.events
        if e.event_type in ("EV_EFI_VARIABLE_DRIVER_CONFIG", "EV_EFI_VARIABLE_BOOT")
    ]
    assert computed == [d for _, _, d in secure + boot]
    kinds = [e.event_type for e in got.events]
    assert kinds.index("EV_SEPARATOR") == 7  # HOB, CFV, five variables, separator
    cfv = next(e for e in got.events if e.event_type == "EV_EFI_PLATFORM_FIRMWARE_BLOB2")
    assert cfv.source == "CFV section of fw"


def test_platform_data_directory_errors(tmp_path: Path) -> None:
    firmware = parse_firmware(_firmware_path().read_bytes(), source="fw")
    with pytest.raises(InputError, match=r"td_hob\.bin"):
        rtmr0_from_directory(tmp_path, firmware)
    (tmp_path / "td_hob.bin").write_bytes(b"h")
    (tmp_path / "BootOrder.bin").write_bytes(struct.pack("<H", 7))
    with pytest.raises(InputError, match="Boot0007"):
        rtmr0_from_directory(tmp_path, firmware)
    (tmp_path / "BootOrder.bin").unlink()
    (tmp_path / "shape.json").write_text('{"vcpus": "four"}')
    with pytest.raises(ParseError, match="expected int"):
        rtmr0_from_directory(tmp_path, firmware)
    (tmp_path / "shape.json").write_text('{"vcpus": 8, "vmm": "QEMU", "vmmVersion": "9.2.0"}')
    acpi = tmp_path / "acpi"
    acpi.mkdir()
    (acpi / "2-rsdp").write_bytes(b"r")
    (acpi / "1-tables").write_bytes(b"t")
    got = rtmr0_from_directory(tmp_path, firmware)
    assert got.shape.vcpus == 8
    acpi_events = [e for e in got.events if e.event_type == "EV_PLATFORM_CONFIG_FLAGS"]
    assert [e.digests["sha384"] for e in acpi_events] == [
        hashlib.sha384(b"t").hexdigest(),
        hashlib.sha384(b"r").hexdigest(),
    ]


def test_variable_data_layout() -> None:
    # UEFI_VARIABLE_DATA of SecureBoot=1 as the real log carries it (first event data).
    secure = _log_variables("EV_EFI_VARIABLE_DRIVER_CONFIG")[0]
    encoded = variable_data("8be4df61-93ca-11d2-aa0d-00e098032b8c", "SecureBoot", secure[1])
    assert hashlib.sha384(encoded).hexdigest() == secure[2]


def test_truncated_and_bogus_reference_logs_are_parse_errors() -> None:
    # --rtmr0-from-log reads the log with the one event-log parser: its refusals reach
    # log_events unchanged (the parser's own cases are in test_eventlog_bad.py).
    data = vector("tdx", "ccel-gcp", "ccel_data.dat").read_bytes()
    for cut in (10, 40, 0x60, 0x130, 0x2184):
        with pytest.raises(ParseError):
            log_events(data[:cut], source="cut")
    with pytest.raises(ParseError):
        log_events(b"\0" * 64, source="zeros")
    bad = bytearray(data)
    bad[0x41 + 8] = 9  # digest count of the first event
    with pytest.raises(ParseError, match="digest"):
        log_events(bytes(bad), source="bad")


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0x600), st.integers(0, 255)), max_size=6))
def test_fuzz_reference_log_reader(edits: list[tuple[int, int]]) -> None:
    data = bytearray(vector("tdx", "ccel-gcp", "ccel_data.dat").read_bytes()[:0x700])
    data += b"\xff" * 64
    for at, value in edits:
        data[at] = value
    try:
        log_events(bytes(data), source="fuzz")
    except InputError as exc:
        assert_not_a_bug(exc)
