"""``--expect``: compare a replayed log with expected register values or computed events.

Two kinds of expectation, combinable (:class:`Expectation`):

- **register values** (``rtmr1`` = hex, ``sha256:pcr11`` = hex, or a manifest's TDX/vTPM
  reference values): each is compared with the replayed register. On a mismatch the
  result lists the logged events that fed the register, since any of them may be the one;
- **computed events** (refkit's own computation from the boot artifacts, e.g.
  ``refkit.measure.tdx.rtmr_events(...)``, a measure document's ``events``, or the events
  of a reference log captured from a known-good boot): the register value they replay to
  is expected, and :func:`first_difference` names the first logged event whose digest
  differs from the computed one, with the input that fed the computed event.

Pure: no I/O except :func:`load_expectation`, which reads one file.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from refkit.errors import InputError, Location, ParseError, read_input_file
from refkit.measure.eventlog.log import MAX_LOG_BYTES, EventLog, LogFormat, parse_log
from refkit.measure.eventlog.replay import _order, initial_value, replay_log
from refkit.measure.eventlog.spec import BANKS
from refkit.measure.events import MeasuredEvent
from refkit.reader import Obj, check_hex, type_name
from refkit.verification import Result, Verdict

_REGISTER = re.compile(r"(pcr(?:[0-9]|1[0-9]|2[0-3])|rtmr[0-3])")
_BY_SIZE = {20: "sha1", 32: "sha256", 48: "sha384", 64: "sha512"}
_LISTED = 6  # feeding events named in a mismatch message


@dataclass(frozen=True)
class Difference:
    """Where a register's logged events first part from the computed ones.

    ``position`` counts the register's extending events from 0; ``logged`` is None when
    the log has fewer events than computed, ``computed`` None when it has more."""

    register: str
    bank: str
    position: int
    logged: MeasuredEvent | None
    computed: MeasuredEvent | None

    @property
    def text(self) -> str:
        n = self.position + 1
        if self.logged is None and self.computed is not None:
            return (
                f"event {n} of {self.register} is missing from the log: expected "
                f"{_event_words(self.computed)}"
            )
        if self.computed is None and self.logged is not None:
            return (
                f"the log has more {self.register} events than computed, from event {n}: "
                f"{_event_words(self.logged)}"
            )
        assert self.logged is not None and self.computed is not None
        return (
            f"event {n} of {self.register} differs: logged {_event_words(self.logged)}, "
            f"expected {_event_words(self.computed)}"
        )


def _event_words(e: MeasuredEvent) -> str:
    where = f" ({e.source})" if e.source else ""
    return f"{e.event_type} {e.description!r}{where}"


def first_difference(
    logged: Sequence[MeasuredEvent],
    computed: Sequence[MeasuredEvent],
    register: str,
    bank: str,
) -> Difference | None:
    """The first event of ``register`` whose ``bank`` digest differs between the logged and
    the computed sequence (events without a digest in that bank are skipped), or where one
    sequence ends before the other; None when both extend the register identically."""
    mine = [e for e in logged if e.register == register and bank in e.digests]
    theirs = [e for e in computed if e.register == register and bank in e.digests]
    for i in range(max(len(mine), len(theirs))):
        a = mine[i] if i < len(mine) else None
        b = theirs[i] if i < len(theirs) else None
        if a is None or b is None or a.digests[bank].lower() != b.digests[bank].lower():
            return Difference(register, bank, i, a, b)
    return None


@dataclass(frozen=True)
class Expectation:
    """What a log should replay to: register values ``{(bank, register): hex}`` and/or the
    computed events, and where they came from (``origin``)."""

    origin: str
    values: Mapping[tuple[str, str], str] = field(default_factory=dict)
    events: tuple[MeasuredEvent, ...] = ()

    def merged(self, other: Expectation) -> Expectation:
        return Expectation(
            f"{self.origin}; {other.origin}",
            {**self.values, **other.values},
            self.events + other.events,
        )


def parse_expect(text: str) -> tuple[tuple[str, str], str]:
    """``REG=HEX`` or ``BANK:REG=HEX`` → ((bank, register), hex). The bank defaults to the
    one whose digest size the value has (RTMRs are SHA-384)."""
    reg, sep, value = text.partition("=")
    bank: str | None = None
    if ":" in reg:
        bank, _, reg = reg.partition(":")
    reg, value = reg.strip().lower(), value.strip().lower().removeprefix("0x")
    where = Location("expected value", field=text[:40])
    if not sep or not _REGISTER.fullmatch(reg):
        raise ParseError(
            f"{text[:60]!r} is not REGISTER=HEX (registers pcr0-pcr23, rtmr0-rtmr3)",
            location=where,
        )
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ParseError(f"{reg}: the value is not hex", location=where) from None
    if bank is None:
        bank = "sha384" if reg.startswith("rtmr") else _BY_SIZE.get(len(raw))
        if bank is None:
            raise ParseError(
                f"{reg}: a {len(raw)}-byte value is no bank's digest size", location=where
            )
    bank = bank.strip().lower()
    alg = BANKS.get(bank)
    if alg is None:
        raise ParseError(f"unknown bank {bank[:20]!r}", location=where)
    if len(raw) != alg.size:
        raise ParseError(f"{reg}: {len(raw)} bytes is not a {bank} value", location=where)
    return (bank, reg), raw.hex()


# -- checking -------------------------------------------------------------------------------


def check(log: EventLog, expectations: Sequence[Expectation]) -> Verdict:
    """The verdict of ``log`` against the best of ``expectations`` (a manifest may offer
    several entries, one per shape: the log passes when it matches one of them)."""
    if not expectations:
        raise InputError("nothing to compare the log with")
    verdicts = [_check_one(log, e) for e in expectations]
    passing = next((v for v in verdicts if v.ok), None)
    if passing is not None:
        return passing
    return max(verdicts, key=lambda v: v.counts()["pass"])


def _check_one(log: EventLog, expectation: Expectation) -> Verdict:
    logged = log.measured_events()
    replayed = replay_log(log)
    results: list[Result] = []
    wanted: dict[tuple[str, str], str] = {}
    computed_regs = sorted(
        {(b, e.register) for e in expectation.events for b in e.digests},
        key=lambda k: (k[0], _order(k[1])),
    )
    for bank, reg in computed_regs:
        if bank in log.banks:
            wanted[(bank, reg)] = _replay_events(log, expectation.events, reg, bank)
    if computed_regs and not any(b in log.banks for b, _ in computed_regs):
        # none of the computed banks is in the log: say so instead of checking nothing
        for bank, reg in computed_regs:
            wanted[(bank, reg)] = _replay_events(log, expectation.events, reg, bank)
    wanted.update(expectation.values)
    for (bank, reg), expected in sorted(
        wanted.items(), key=lambda kv: (kv[0][0], _order(kv[0][1]))
    ):
        subject = f"{bank}:{reg}" if reg.startswith("pcr") else reg
        if bank not in log.banks:
            results.append(
                Result.of(
                    "eventlog.bank.absent",
                    f"the log has no {bank} bank (it has {', '.join(log.banks)})",
                    check="register value",
                    subject=subject,
                    expected=expected,
                )
            )
            continue
        actual = replayed.get(bank, {}).get(reg) or initial_value(log, reg, bank).hex()
        feeding = [e for e in logged if e.register == reg]
        if actual == expected:
            results.append(
                Result.of(
                    "eventlog.register.match",
                    f"replays to the expected value ({len(feeding)} events)",
                    check="register value",
                    subject=subject,
                    expected=expected,
                    actual=actual,
                )
            )
        else:
            results.append(
                Result.of(
                    "eventlog.register.mismatch",
                    f"replays to another value than expected; {_feeding_words(feeding)}",
                    check="register value",
                    subject=subject,
                    expected=expected,
                    actual=actual,
                )
            )
    for bank, reg in computed_regs:
        if bank not in log.banks:
            continue
        subject = f"{bank}:{reg}" if reg.startswith("pcr") else reg
        diff = first_difference(logged, expectation.events, reg, bank)
        if diff is None:
            n = sum(1 for e in expectation.events if e.register == reg and bank in e.digests)
            results.append(
                Result.of(
                    "eventlog.events.match",
                    f"the log's {n} events equal the computed ones",
                    check="events",
                    subject=subject,
                )
            )
            continue
        code = (
            "eventlog.event.missing"
            if diff.logged is None
            else "eventlog.event.extra"
            if diff.computed is None
            else "eventlog.event.differs"
        )
        results.append(
            Result.of(
                code,
                diff.text,
                check="events",
                subject=subject,
                expected=None if diff.computed is None else diff.computed.digests[bank],
                actual=None if diff.logged is None else diff.logged.digests[bank],
            )
        )
    facts = {"expected from": expectation.origin, "log": log.source, "format": log.format.value}
    return Verdict(f"event log {log.source}", tuple(results), facts)


def _replay_events(log: EventLog, events: Iterable[MeasuredEvent], reg: str, bank: str) -> str:
    value = initial_value(log, reg, bank) if bank in log.banks else bytes(BANKS[bank].size)
    for e in events:
        if e.register == reg and bank in e.digests:
            value = hashlib.new(bank, value + bytes.fromhex(e.digests[bank])).digest()
    return value.hex()


def _feeding_words(events: Sequence[MeasuredEvent]) -> str:
    if not events:
        return "no logged event extends it"
    named = ", ".join(
        f"{e.event_type} {e.description[:60]!r} ({e.source})" for e in events[:_LISTED]
    )
    more = f" and {len(events) - _LISTED} more" if len(events) > _LISTED else ""
    return f"{len(events)} logged events fed it: {named}{more}"


# -- expectation documents ------------------------------------------------------------------


def event_from_json(value: Any, path: str, *, source: str) -> MeasuredEvent | None:
    """A measured event from its JSON form; None for a logged event that extends nothing
    (``"extended": false``, as ``replay --json`` marks EV_NO_ACTION events)."""
    obj = Obj(value, source=source, path=path)
    extended = obj.raw("extended")
    if extended is False:
        return None
    register = obj.text("register")
    if not _REGISTER.fullmatch(register):
        raise obj.fail("register", f"{register[:20]!r} is not pcr0-pcr23 or rtmr0-rtmr3")
    digests_obj = obj.obj("digests")
    digests: dict[str, str] = {}
    for bank, hexval in digests_obj.value.items():
        alg = BANKS.get(bank)
        if alg is None:
            raise digests_obj.fail(bank[:20], "is not a known bank")
        if not isinstance(hexval, str):
            raise digests_obj.fail(bank, f"expected a hex string, found {type_name(hexval)}")
        digests[bank] = check_hex(hexval, source=source, path=digests_obj.at(bank), size=alg.size)
    description = obj.raw("description") or ""
    origin = obj.raw("source")
    if not isinstance(description, str) or not (origin is None or isinstance(origin, str)):
        raise obj.fail("description", "description and source are strings")
    event_type = obj.text("eventType")
    obj.rest()  # other fields (offsets, decoded data) are informational
    return MeasuredEvent(
        register=register,
        event_type=event_type,
        digests=MappingProxyType(digests),
        description=description,
        source=origin,
    )


def _quote_expectation(data: bytes, source: str) -> Expectation | None:
    """A TDX quote (v4/v5, recognised by its header) expects its RTMR0-3 in the SHA-384
    bank: "does this log explain this quote?". None when ``data`` is not a quote."""
    from refkit.evidence import tdx

    if not tdx.looks_like(data):
        return None
    quote = tdx.parse(data, source=source).quote
    values = {("sha384", f"rtmr{i}"): value.hex() for i, value in enumerate(quote.body.rtmrs)}
    return Expectation(f"the RTMRs of TDX quote {source}", MappingProxyType(values))


def load_expectation(
    path: str | os.PathLike[str], *, log_format: LogFormat
) -> tuple[Expectation, ...]:
    """Read an expectation file: a reference event log (binary), a refkit manifest
    (statement or bundle: its TDX or vTPM reference values, one expectation per entry), or
    a JSON document with ``events`` (measured events) and/or ``registers``
    (``{bank: {register: hex}}``), such as ``refkit measure replay --json`` prints."""
    source = os.fspath(path)
    data = read_input_file(path, what="expectation file", limit=MAX_LOG_BYTES)
    if data.lstrip()[:1] != b"{":
        quoted = _quote_expectation(data, source)
        if quoted is not None:
            return (quoted,)
        ref = parse_log(data, source=source)
        return (Expectation(f"reference event log {source}", events=ref.measured_events()),)
    from refkit.manifests.canonical import loads_strict

    value = loads_strict(data, source=source, max_bytes=MAX_LOG_BYTES)
    if isinstance(value, dict) and ("_type" in value or "mediaType" in value):
        return _manifest_expectations(data, source, log_format)
    obj = Obj(value, source=source, path="$")
    events = obj.raw("events")
    values: dict[tuple[str, str], str] = {}
    parsed: tuple[MeasuredEvent, ...] = ()
    if events is not None:
        items = obj.items("events", lambda v, p: event_from_json(v, p, source=source))
        parsed = tuple(e for e in items if e is not None)
    registers = obj.raw("registers")
    if registers is not None:
        banks = obj.obj("registers")
        for bank in banks.value:
            alg = BANKS.get(bank)
            if alg is None:
                raise banks.fail(bank[:20], "is not a known bank")
            regs_obj = banks.obj(bank)
            for reg, hexval in regs_obj.value.items():
                if not _REGISTER.fullmatch(reg) or not isinstance(hexval, str):
                    raise regs_obj.fail(reg[:20], "expected a register name and a hex value")
                values[(bank, reg)] = check_hex(
                    hexval, source=source, path=regs_obj.at(reg), size=alg.size
                )
    variants = _rtmr0_variants(obj, source)
    if not parsed and not values and not variants:
        raise ParseError(
            "holds neither events nor registers to expect",
            location=Location(source),
            hint="give a manifest, a reference event log, or a document with events",
        )
    if variants:
        # a TDX measure document: one candidate per RTMR0 value (one per VM shape), each
        # with the document's RTMR1/RTMR2 events
        return tuple(
            Expectation(f"{source}: RTMR0 {label}", MappingProxyType(values), parsed + extra)
            for label, extra in variants
        )
    return (Expectation(source, MappingProxyType(values), parsed),)


def _rtmr0_variants(obj: Obj, source: str) -> list[tuple[str, tuple[MeasuredEvent, ...]]]:
    """The ``rtmr0`` entries of a ``refkit measure tdx --json`` document that carry events:
    (origin and shape in words, events)."""
    entries = obj.raw("rtmr0")
    if not isinstance(entries, list):
        return []
    out = []
    for i, entry in enumerate(entries):
        item = obj.child(entry, f"{obj.at('rtmr0')}[{i}]")
        if item.raw("events") is None:
            continue
        events = item.items("events", lambda v, p: event_from_json(v, p, source=source))
        origin = item.raw("origin")
        shape = item.raw("shape")
        label = f"from {origin}" if isinstance(origin, str) else f"entry {i}"
        if isinstance(shape, dict):
            label += " " + json_words(shape)
        out.append((label, tuple(e for e in events if e is not None)))
    return out


def json_words(value: Mapping[str, Any]) -> str:
    """A compact one-line rendering of a small JSON object (shape descriptions)."""
    return "(" + ", ".join(f"{k} {v}" for k, v in sorted(value.items()) if v is not None) + ")"


def _manifest_expectations(
    data: bytes, source: str, log_format: LogFormat
) -> tuple[Expectation, ...]:
    from refkit.manifests.files import load_statement_or_bundle
    from refkit.manifests.model import tdx, vtpm

    loaded = load_statement_or_bundle(data, source=source)
    values = loaded.statement.predicate.reference_values
    out: list[Expectation] = []
    if log_format is LogFormat.CCEL:
        for entry in values.of(tdx.KIND):
            regs = {("sha384", f"rtmr{i}"): v for i, v in sorted(entry.rtmrs.items())}
            out.append(Expectation(f"{source}: {entry.key}", MappingProxyType(regs)))
    else:
        for ventry in values.of(vtpm.KIND):
            regs = {(ventry.bank.value, f"pcr{i}"): v for i, v in ventry.pcrs.items()}
            out.append(Expectation(f"{source}: {ventry.key}", MappingProxyType(regs)))
    if not out:
        kind = "TDX" if log_format is LogFormat.CCEL else "vTPM"
        raise InputError(
            f"{source} holds no {kind} reference values to compare a {log_format.value} log with"
        )
    return tuple(out)
