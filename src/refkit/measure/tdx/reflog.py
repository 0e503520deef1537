"""A minimal reader of a captured TDX event log (CCEL, TCG2 crypto-agile form), enough to
take one RTMR's events from a reference boot.

The full parser and ``measure replay`` live in :mod:`refkit.measure.eventlog`; this reader
only serves ``--rtmr0-from-log``: it reads the events, keeps their SHA-384 digests and
maps the CC measurement-register index (1-4) to RTMR0-3 (UEFI spec 2.10, EFI_CC
measurement protocol: MR index 0 is MRTD, 1..4 are RTMR0..3).

Layout (TCG PC Client Platform Firmware Profile, section 10.2)::

    TCG_PCR_EVENT (first, SHA-1 form): u32 index, u32 type, 20-byte digest, u32 size, data
        data = TCG_EfiSpecIDEvent: "Spec ID Event03\\0", u32 platformClass, u8 minor,
               u8 major, u8 errata, u8 uintnSize, u32 numberOfAlgorithms,
               {u16 algorithmId, u16 digestSize}[n], u8 vendorInfoSize, vendorInfo
    TCG_PCR_EVENT2 (every later event): u32 index, u32 type, u32 count,
        {u16 algorithmId, digest}[count], u32 size, data

A CCEL area is padded after the last event with 0xFF (or zero) bytes: an event index of
0xFFFFFFFF or an all-zero event header ends the log.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from refkit.errors import Location, ParseError

#: TCG algorithm IDs (TCG Algorithm Registry) of the banks a CCEL log may carry.
ALGORITHMS = {0x0004: "sha1", 0x000B: "sha256", 0x000C: "sha384", 0x000D: "sha512"}
EV_NO_ACTION = 0x3
MAX_EVENTS = 100_000
MAX_EVENT_DATA = 16 * 1024 * 1024

EVENT_TYPES = {
    0x1: "EV_POST_CODE",
    0x3: "EV_NO_ACTION",
    0x4: "EV_SEPARATOR",
    0x5: "EV_ACTION",
    0x6: "EV_EVENT_TAG",
    0x7: "EV_S_CRTM_CONTENTS",
    0x8: "EV_S_CRTM_VERSION",
    0xD: "EV_IPL",
    0xE: "EV_IPL_PARTITION_DATA",
    0x80000001: "EV_EFI_VARIABLE_DRIVER_CONFIG",
    0x80000002: "EV_EFI_VARIABLE_BOOT",
    0x80000003: "EV_EFI_BOOT_SERVICES_APPLICATION",
    0x80000004: "EV_EFI_BOOT_SERVICES_DRIVER",
    0x80000005: "EV_EFI_RUNTIME_SERVICES_DRIVER",
    0x80000006: "EV_EFI_GPT_EVENT",
    0x80000007: "EV_EFI_ACTION",
    0x80000008: "EV_EFI_PLATFORM_FIRMWARE_BLOB",
    0x80000009: "EV_EFI_HANDOFF_TABLES",
    0x8000000A: "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
    0x8000000B: "EV_EFI_HANDOFF_TABLES2",
    0x800000E0: "EV_EFI_VARIABLE_AUTHORITY",
}


class LoggedEvent(NamedTuple):
    offset: int
    mr_index: int
    event_type: int
    digests: dict[str, bytes]
    data: bytes

    @property
    def type_name(self) -> str:
        return EVENT_TYPES.get(self.event_type, f"{self.event_type:#x}")


def _fail(source: str, offset: int, message: str) -> ParseError:
    return ParseError(message, location=Location(source, offset, "event log"))


def read_log(data: bytes, *, source: str) -> list[LoggedEvent]:
    """Every event of a TCG2 crypto-agile log (the first, SHA-1-form header included)."""
    if len(data) < 32:
        raise _fail(source, 0, "event log is shorter than its first event header")
    index, etype = struct.unpack_from("<II", data, 0)
    size = int.from_bytes(data[28:32], "little")
    if etype != EV_NO_ACTION or 32 + size > len(data):
        raise _fail(source, 0, "first event is not a Spec ID event (not a crypto-agile log)")
    spec = data[32 : 32 + size]
    if not spec.startswith(b"Spec ID Event03\0") or len(spec) < 28:
        raise _fail(source, 32, "first event is not a 'Spec ID Event03' header")
    count = int.from_bytes(spec[24:28], "little")
    if 28 + 4 * count > len(spec):
        raise _fail(source, 32 + 24, f"{count} algorithms do not fit the Spec ID event")
    sizes: dict[int, int] = {}
    for i in range(count):
        alg, dsize = struct.unpack_from("<HH", spec, 28 + 4 * i)
        sizes[alg] = dsize
        expected = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}.get(
            ALGORITHMS.get(alg, ""), dsize
        )
        if dsize != expected:
            raise _fail(source, 32 + 28 + 4 * i, f"algorithm {alg:#x} with digest size {dsize}")
    events = [LoggedEvent(0, index, etype, {"sha1": data[8:28]}, spec)]
    at = 32 + size
    while at + 12 <= len(data):
        index, etype, ndigests = struct.unpack_from("<III", data, at)
        if index == 0xFFFFFFFF or (index, etype, ndigests) == (0, 0, 0):
            break
        if len(events) > MAX_EVENTS:
            raise _fail(source, at, f"more than {MAX_EVENTS} events")
        start = at
        at += 12
        if ndigests > len(sizes) or ndigests == 0:
            raise _fail(source, start + 8, f"event carries {ndigests} digests")
        digests: dict[str, bytes] = {}
        for _ in range(ndigests):
            if at + 2 > len(data):
                raise _fail(source, at, "truncated event")
            alg = int.from_bytes(data[at : at + 2], "little")
            if alg not in sizes:
                raise _fail(source, at, f"digest algorithm {alg:#x} is not in the log header")
            dsize = sizes[alg]
            if at + 2 + dsize > len(data):
                raise _fail(source, at, "truncated event digest")
            digests[ALGORITHMS.get(alg, f"alg-{alg:#x}")] = data[at + 2 : at + 2 + dsize]
            at += 2 + dsize
        if at + 4 > len(data):
            raise _fail(source, at, "truncated event")
        dlen = int.from_bytes(data[at : at + 4], "little")
        if dlen > MAX_EVENT_DATA or at + 4 + dlen > len(data):
            raise _fail(source, at, f"event data of {dlen} bytes runs past the end of the log")
        events.append(LoggedEvent(start, index, etype, digests, data[at + 4 : at + 4 + dlen]))
        at += 4 + dlen
    tail = data[at:]
    if tail.strip(b"\xff") and tail.strip(b"\0"):
        # not padding: an event cut short (or bytes after the end marker)
        raise _fail(source, at, "truncated event, or data after the last event")
    return events
