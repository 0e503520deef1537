"""The TCG2 crypto-agile event log and its TDX form (CCEL): strict structural parsing.

Layout (TCG PC Client Platform Firmware Profile 1.05, sections 10.2.1-10.2.2; all
little-endian). The log starts with one SHA-1 format TCG_PCR_EVENT::

    0x00 u32 pcrIndex   0x04 u32 eventType (EV_NO_ACTION)   0x08 digest[20] (zero)
    0x1C u32 eventSize  0x20 TCG_EfiSpecIDEvent:
         char signature[16] "Spec ID Event03\\0"; u32 platformClass;
         u8 specVersionMinor, specVersionMajor, specErrata, uintnSize (1: 32-bit, 2: 64-bit);
         u32 numberOfAlgorithms; {u16 algorithmId, u16 digestSize}[n];
         u8 vendorInfoSize; u8 vendorInfo[]

then TCG_PCR_EVENT2 records::

    u32 pcrIndex; u32 eventType; TPML_DIGEST_VALUES {u32 count; {u16 hashAlg; digest}[count]};
    u32 eventSize; u8 event[eventSize]

The TDX form (CCEL, the ACPI "CC Event Log"; TDX guest-host communication spec and UEFI
2.10 section 38.4) is the same byte layout, SHA-384 only, with the pcrIndex field holding a
TDX measurement-register index: 0 MRTD (never extended by an event), 1-4 RTMR0-3. The
header event carries index 1 there (EDK2 maps PCR 0 to RTMR0). A CCEL log area is larger
than its log; the rest is filled with 0xFF.

Invariants (fail closed: never a plausible wrong value):
- every event names only algorithms the header declared, each exactly once, and carries all
  of them: a bank that misses an event would replay to a wrong value;
- the header's digest sizes are the registry's sizes; an unknown algorithm is refused;
- registers are PCR 0-23 (TCG2) or MR 1-4 (CCEL);
- the log ends at the end of the input, or where the rest is an unused log area: all
  0xFF, or 12 or more zero bytes (a digest count of zero, which no event has); anything
  else after the last event is parsed, and refused when it is not a whole event;
- at most :data:`MAX_LOG_BYTES` and :data:`MAX_EVENTS`.
Every failure is a :class:`~refkit.errors.ParseError` naming the source and the offset.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from refkit.errors import Location, ParseError, read_input_file
from refkit.measure.eventlog._cursor import Cursor
from refkit.measure.eventlog.decode import Decoded, decode_event
from refkit.measure.eventlog.spec import (
    ALGORITHMS,
    EV_NO_ACTION,
    Algorithm,
    event_type_name,
)
from refkit.measure.events import MeasuredEvent

MAX_LOG_BYTES = 64 * 1024 * 1024
MAX_EVENTS = 200_000
MAX_ALGORITHMS = 16
PCR_COUNT = 24
RTMR_COUNT = 4
SPEC_ID_SIGNATURE = b"Spec ID Event03\0"
_MIN_ZERO_TAIL = 12  # pcrIndex, eventType, digests.count: a count of 0 is no event


class LogFormat(enum.StrEnum):
    """How the register index of an event is read: TPM PCRs or TDX MR indexes."""

    TCG2 = "tcg2"
    CCEL = "ccel"
    AUTO = "auto"


@dataclass(frozen=True)
class SpecId:
    """The TCG_EfiSpecIDEvent of the header."""

    platform_class: int
    version: tuple[int, int, int]  # major, minor, errata
    uintn_size: int
    algorithms: tuple[Algorithm, ...]
    vendor_info: bytes

    @property
    def banks(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.algorithms)


@dataclass(frozen=True)
class LogEvent:
    """One event as logged: where it is, which register, its digests and its data."""

    number: int  # 0 is the header event
    offset: int
    mr_index: int  # the raw pcrIndex field
    register: str  # "pcr7", "rtmr1"
    event_type: int
    digests: Mapping[str, bytes]
    data: bytes = field(repr=False)
    data_offset: int = 0
    uintn: int = field(default=8, repr=False)

    @property
    def type_name(self) -> str:
        return event_type_name(self.event_type)

    @property
    def extended(self) -> bool:
        """Whether the event extends its register (EV_NO_ACTION events do not)."""
        return self.event_type != EV_NO_ACTION

    @cached_property
    def decoded(self) -> Decoded:
        return decode_event(self.event_type, self.data, uintn=self.uintn, offset=self.data_offset)

    @property
    def source(self) -> str:
        return f"log offset {self.offset:#x}"

    def measured(self) -> MeasuredEvent:
        """The shared shape (:class:`~refkit.measure.events.MeasuredEvent`)."""
        return MeasuredEvent(
            register=self.register,
            event_type=self.type_name,
            digests=MappingProxyType({b: d.hex() for b, d in self.digests.items()}),
            description=self.decoded.description,
            source=self.source,
            data=self.data,
        )


@dataclass(frozen=True)
class EventLog:
    """A parsed event log: the header, every event in order, and where the log ended."""

    source: str
    format: LogFormat
    spec_id: SpecId
    events: tuple[LogEvent, ...]  # events[0] is the header
    end: int  # offset just after the last event
    size: int  # size of the input (end + unused log area)

    @property
    def banks(self) -> tuple[str, ...]:
        return self.spec_id.banks

    @property
    def startup_locality(self) -> int | None:
        """The locality an EV_NO_ACTION StartupLocality event in PCR 0 gives (PFP 10.4.5.3)."""
        if self.format is not LogFormat.TCG2:
            return None
        for e in self.events[1:]:
            if e.event_type == EV_NO_ACTION and e.mr_index == 0:
                value = e.decoded.fields.get("startupLocality")
                if isinstance(value, int):
                    return value
        return None

    def measured_events(self) -> tuple[MeasuredEvent, ...]:
        """Every extending event in the shared shape (EV_NO_ACTION left out)."""
        return tuple(e.measured() for e in self.events[1:] if e.extended)

    @property
    def command_lines(self) -> tuple[str, ...]:
        """The kernel command lines the log records, in order."""
        return tuple(line for e in self.events[1:] if (line := e.decoded.command_line) is not None)


def read_log(path: str | os.PathLike[str], *, log_format: LogFormat = LogFormat.AUTO) -> EventLog:
    """Read and parse an event log file (at most :data:`MAX_LOG_BYTES`)."""
    data = read_input_file(path, what="event log", limit=MAX_LOG_BYTES)
    return parse_log(data, source=os.fspath(path), log_format=log_format)


def parse_log(
    data: bytes, *, source: str = "<event log>", log_format: LogFormat = LogFormat.AUTO
) -> EventLog:
    """Parse a TCG2 crypto-agile or CCEL event log; see the module docstring."""
    if len(data) > MAX_LOG_BYTES:
        raise ParseError(
            f"{len(data)} bytes is more than an event log may hold ({MAX_LOG_BYTES})",
            location=Location(source),
        )
    c = Cursor(data, source=source)
    header_index, spec_id, header_data, data_offset = _header(c)
    fmt = _resolve_format(log_format, header_index, spec_id, c)
    header = LogEvent(
        number=0,
        offset=0,
        mr_index=header_index,
        register=_register(fmt, header_index, c, 0, header=True),
        event_type=EV_NO_ACTION,
        digests=MappingProxyType({"sha1": bytes(20)}),
        data=header_data,
        data_offset=data_offset,
        uintn=_uintn(spec_id, c),
    )
    events = [header]
    uintn = header.uintn
    by_id = {a.alg_id: a for a in spec_id.algorithms}
    while c.remaining:
        if _unused(data, c.pos):
            break
        if len(events) > MAX_EVENTS:
            raise c.fail(f"more than {MAX_EVENTS} events")
        events.append(_event(c, len(events), fmt, by_id, uintn))
    return EventLog(
        source=source,
        format=fmt,
        spec_id=spec_id,
        events=tuple(events),
        end=c.pos,
        size=len(data),
    )


def _unused(data: bytes, pos: int) -> bool:
    """Whether everything from ``pos`` on is an unused log area: all 0xFF (no event starts
    with such a register index), or at least 12 zero bytes (no event has zero digests).
    Fewer zero bytes may be a truncated event of PCR 0, and are parsed as one (refused)."""
    first = data[pos]
    if first not in (0x00, 0xFF) or (first == 0 and len(data) - pos < _MIN_ZERO_TAIL):
        return False
    rest = memoryview(data)[pos:]
    return rest == bytes([first]) * len(rest)


def _header(c: Cursor) -> tuple[int, SpecId, bytes, int]:
    index = c.u32("pcrIndex")
    event_type = c.u32("eventType")
    c.take(20, "digest")
    size = c.u32("eventSize")
    start = c.pos
    if event_type != EV_NO_ACTION:
        raise c.fail(
            f"the first event is {event_type_name(event_type)}, not the EV_NO_ACTION header "
            "of a crypto-agile log (a SHA-1-only TCG 1.2 log is not supported)",
            field="eventType",
            at=4,
        )
    body = Cursor(c.take(size, "Spec ID event"), source=c.source, base=start)
    signature = body.take(16, "signature")
    if signature != SPEC_ID_SIGNATURE:
        raise body.fail(
            f"header signature is {signature!r}, not 'Spec ID Event03' "
            "(not a crypto-agile TCG2 log)",
            field="signature",
            at=0,
        )
    platform_class = body.u32("platformClass")
    minor = body.u8("specVersionMinor")
    major = body.u8("specVersionMajor")
    errata = body.u8("specErrata")
    uintn = body.u8("uintnSize")
    count_at = body.pos
    count = body.u32("numberOfAlgorithms")
    if not 1 <= count <= MAX_ALGORITHMS:
        raise body.fail(
            f"numberOfAlgorithms is {count}, expected 1 to {MAX_ALGORITHMS}",
            field="numberOfAlgorithms",
            at=count_at,
        )
    algorithms: list[Algorithm] = []
    for i in range(count):
        at = body.pos
        alg_id = body.u16(f"algorithms[{i}].algorithmId")
        digest_size = body.u16(f"algorithms[{i}].digestSize")
        alg = ALGORITHMS.get(alg_id)
        if alg is None:
            raise body.fail(f"unknown hash algorithm {alg_id:#06x}", field="algorithmId", at=at)
        if digest_size != alg.size:
            raise body.fail(
                f"{alg.name} digest size is {digest_size} in the header, but {alg.name} "
                f"digests are {alg.size} bytes",
                field="digestSize",
                at=at + 2,
            )
        if alg in algorithms:
            raise body.fail(f"{alg.name} is listed twice", field="algorithmId", at=at)
        algorithms.append(alg)
    vendor = body.take(body.u8("vendorInfoSize"), "vendorInfo")
    if body.remaining:
        raise body.fail(f"{body.remaining} bytes after the Spec ID event's vendor info")
    spec = SpecId(platform_class, (major, minor, errata), uintn, tuple(algorithms), vendor)
    return index, spec, c.data[start : start + size], start


def _uintn(spec: SpecId, c: Cursor) -> int:
    if spec.uintn_size == 1:
        return 4
    if spec.uintn_size == 2:
        return 8
    raise c.fail(f"uintnSize is {spec.uintn_size}, expected 1 or 2", field="uintnSize", at=0x37)


def _resolve_format(fmt: LogFormat, header_index: int, spec: SpecId, c: Cursor) -> LogFormat:
    if fmt is not LogFormat.AUTO:
        return fmt
    if header_index == 0:
        return LogFormat.TCG2
    if header_index == 1 and spec.banks == ("sha384",):
        return LogFormat.CCEL
    raise c.fail(
        f"header event register index {header_index} is neither a TPM log's (0) nor a "
        "TDX CCEL log's (1 with SHA-384 only)",
        field="pcrIndex",
        at=0,
    )


def _register(fmt: LogFormat, index: int, c: Cursor, at: int, *, header: bool = False) -> str:
    if fmt is LogFormat.TCG2:
        if index < PCR_COUNT:
            return f"pcr{index}"
        raise c.fail(f"PCR index {index} is not 0-{PCR_COUNT - 1}", field="pcrIndex", at=at)
    if 1 <= index <= RTMR_COUNT:
        return f"rtmr{index - 1}"
    if index == 0 and header:
        return "mrtd"
    what = "MRTD, which no event extends" if index == 0 else "no TDX register"
    raise c.fail(f"MR index {index} is {what} (RTMR0-3 are 1-4)", field="pcrIndex", at=at)


def _event(
    c: Cursor, number: int, fmt: LogFormat, by_id: Mapping[int, Algorithm], uintn: int
) -> LogEvent:
    offset = c.pos
    index = c.u32("pcrIndex")
    event_type = c.u32("eventType")
    count_at = c.pos
    count = c.u32("digests.count")
    if count != len(by_id):
        raise c.fail(
            f"event {number} carries {count} digests, the header declares {len(by_id)} banks",
            field="digests.count",
            at=count_at,
        )
    digests: dict[str, bytes] = {}
    for i in range(count):
        at = c.pos
        alg_id = c.u16(f"digests[{i}].hashAlg")
        alg = by_id.get(alg_id)
        if alg is None:
            known = ALGORITHMS.get(alg_id)
            what = (
                f"{known.name} is not one of the header's banks"
                if known
                else (f"unknown hash algorithm {alg_id:#06x}")
            )
            raise c.fail(f"event {number}: {what}", field="hashAlg", at=at)
        if alg.name in digests:
            raise c.fail(f"event {number}: {alg.name} digest given twice", field="hashAlg", at=at)
        digests[alg.name] = c.take(alg.size, f"{alg.name} digest")
    size_at = c.pos
    size = c.u32("eventSize")
    if size > c.remaining:
        raise c.fail(
            f"event {number}: eventSize {size} runs past the end ({c.remaining} bytes remain)",
            field="eventSize",
            at=size_at,
        )
    register = (
        _register(fmt, index, c, offset)
        if event_type != EV_NO_ACTION
        else (_no_action_register(fmt, index))
    )
    data_offset = c.pos
    data = c.take(size, "event data")
    return LogEvent(
        number=number,
        offset=offset,
        mr_index=index,
        register=register,
        event_type=event_type,
        digests=MappingProxyType(digests),
        data=data,
        data_offset=data_offset,
        uintn=uintn,
    )


def _no_action_register(fmt: LogFormat, index: int) -> str:
    """EV_NO_ACTION extends nothing; its index is informational (any value is accepted)."""
    if fmt is LogFormat.TCG2:
        return f"pcr{index}"
    return f"rtmr{index - 1}" if 1 <= index <= RTMR_COUNT else f"mr{index}"
