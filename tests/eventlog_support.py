"""Event logs for the eventlog tests: a synthesizer of TCG2 / CCEL logs from known events,
an independent replay of those events, and readers of the real vectors' reference values.

The synthesizer writes the byte layouts of the TCG PC Client PFP (section 10.2) directly
with struct, not through refkit; :func:`expected_registers` replays the known events with
hashlib alone. Tests compare refkit's parse-and-replay of the bytes with that.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ALG_IDS = {"sha1": 0x4, "sha256": 0xB, "sha384": 0xC, "sha512": 0xD}
SIZES = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}
EV_NO_ACTION = 0x3
EV_SEPARATOR = 0x4
EV_IPL = 0xD
EV_EFI_ACTION = 0x80000007
EV_EFI_VARIABLE_DRIVER_CONFIG = 0x80000001

CCEL_DIR = ("tdx", "ccel-gcp")
TCG2_LOGS = ("cos-85-amd-sev.bin", "cos-101-amd-sev.bin", "ubuntu-2104-no-secure-boot.bin")
#: TD report body at 0x30 of a v4 quote; RTMR0-3 at these body offsets (DOMAIN.md section 6).
QUOTE_BODY = 0x30
QUOTE_RTMRS = (0x148, 0x178, 0x1A8, 0x1D8)


@dataclass(frozen=True)
class Ev:
    """One synthesized event: register index, type, data; digests default to H(data)."""

    index: int
    event_type: int
    data: bytes
    digests: Mapping[str, bytes] = field(default_factory=dict)

    def digest(self, bank: str) -> bytes:
        return self.digests.get(bank) or hashlib.new(bank, self.data).digest()


def spec_id_event(
    banks: Sequence[str],
    *,
    index: int = 0,
    uintn: int = 2,
    sizes: Mapping[str, int] | None = None,
    alg_ids: Mapping[str, int] | None = None,
    count: int | None = None,
) -> bytes:
    """The SHA-1 format TCG_PCR_EVENT holding a TCG_EfiSpecIDEvent (PFP 10.2.1)."""
    sizes = {**SIZES, **(sizes or {})}
    ids = {**ALG_IDS, **(alg_ids or {})}
    body = b"Spec ID Event03\0" + struct.pack("<IBBBB", 0, 0, 2, 0, uintn)
    body += struct.pack("<I", len(banks) if count is None else count)
    for b in banks:
        body += struct.pack("<HH", ids[b], sizes[b])
    body += b"\0"  # vendorInfoSize
    return struct.pack("<II", index, EV_NO_ACTION) + bytes(20) + struct.pack("<I", len(body)) + body


def event2(ev: Ev, banks: Sequence[str]) -> bytes:
    """One TCG_PCR_EVENT2 (PFP 10.2.2)."""
    out = struct.pack("<III", ev.index, ev.event_type, len(banks))
    for b in banks:
        out += struct.pack("<H", ALG_IDS[b]) + ev.digest(b)
    return out + struct.pack("<I", len(ev.data)) + ev.data


def build_log(
    events: Iterable[Ev], banks: Sequence[str], *, header_index: int = 0, padding: bytes = b""
) -> bytes:
    out = spec_id_event(banks, index=header_index)
    for ev in events:
        out += event2(ev, banks)
    return out + padding


def expected_registers(
    events: Iterable[Ev], bank: str, *, name: str = "pcr", offset: int = 0
) -> dict[str, str]:
    """An independent replay: register ``name + (index - offset)``, extended with
    hashlib in order, EV_NO_ACTION skipped, StartupLocality honoured for PCR 0."""
    values: dict[int, bytes] = {}
    for ev in events:
        if ev.event_type == EV_NO_ACTION:
            if ev.index == 0 and ev.data.startswith(b"StartupLocality\0"):
                values[0] = bytes(SIZES[bank] - 1) + ev.data[16:17]
            continue
        current = values.get(ev.index, bytes(SIZES[bank]))
        values[ev.index] = hashlib.new(bank, current + ev.digest(bank)).digest()
    return {f"{name}{i - offset}": v.hex() for i, v in sorted(values.items())}


def boot_events() -> list[Ev]:
    """A small, plausible boot: variables, separators, actions, a GRUB command line."""
    sb = (
        bytes.fromhex("61dfe48bca93d211aa0d00e098032b8c")
        + struct.pack("<QQ", 10, 1)
        + "SecureBoot".encode("utf-16-le")
        + b"\x01"
    )
    return [
        Ev(7, EV_EFI_VARIABLE_DRIVER_CONFIG, sb),
        Ev(7, EV_SEPARATOR, bytes(4)),
        Ev(0, EV_SEPARATOR, bytes(4)),
        Ev(4, EV_EFI_ACTION, b"Calling EFI Application from Boot Option"),
        Ev(8, EV_IPL, b"kernel_cmdline: /vmlinuz root=/dev/sda1 ro\0"),
        Ev(4, EV_EFI_ACTION, b"Exit Boot Services Invocation"),
    ]


def quote_rtmrs(quote: bytes) -> list[str]:
    """RTMR0-3 of a v4 TDX quote, read at the documented offsets."""
    return [quote[QUOTE_BODY + o : QUOTE_BODY + o + 48].hex() for o in QUOTE_RTMRS]


def tpm2_eventlog(path: Path) -> dict[str, object]:
    """tpm2_eventlog's YAML for a log (the peer); skips when the tool is absent."""
    tool = shutil.which("tpm2_eventlog")
    if tool is None:
        pytest.skip("needs tpm2_eventlog (Debian tpm2-tools), the peer for TCG2 replay")
    out = subprocess.run([tool, str(path)], capture_output=True, check=True, timeout=60).stdout
    # BaseLoader: every scalar a string, so 0x... digests and PCR numbers stay text
    doc = yaml.load(out, Loader=yaml.BaseLoader)
    assert isinstance(doc, dict)
    return doc


def peer_pcrs(doc: Mapping[str, object]) -> dict[str, dict[str, str]]:
    """tpm2_eventlog's ``pcrs`` section as {bank: {"pcrN": hex}}."""
    pcrs = doc["pcrs"]
    assert isinstance(pcrs, dict)
    return {
        bank: {f"pcr{int(k)}": v.removeprefix("0x") for k, v in regs.items()}
        for bank, regs in pcrs.items()
    }
