"""Verification codes of `refkit measure replay --expect`: event-log replay."""

from __future__ import annotations

from refkit.verification.codes import CodeInfo, Outcome

_P, _F = Outcome.PASS, Outcome.FAIL

TABLE: tuple[CodeInfo, ...] = (
    CodeInfo(
        "eventlog.register.match",
        _P,
        "a register replayed from the event log equals the expected value",
    ),
    CodeInfo(
        "eventlog.register.mismatch",
        _F,
        "a register replayed from the event log differs from the expected value "
        "(the message lists the logged events that fed it)",
    ),
    CodeInfo(
        "eventlog.bank.absent",
        _F,
        "a value is expected in a hash bank the event log does not carry",
    ),
    CodeInfo(
        "eventlog.events.match",
        _P,
        "a register's logged events carry the same digests, in the same order, as the "
        "computed events",
    ),
    CodeInfo(
        "eventlog.event.differs",
        _F,
        "the first logged event whose digest differs from the computed event at its "
        "place (both named, with the input that fed the computed one)",
    ),
    CodeInfo(
        "eventlog.event.missing",
        _F,
        "the log ends a register's events before an event that was computed for it",
    ),
    CodeInfo(
        "eventlog.event.extra",
        _F,
        "the log extends a register with more events than were computed for it",
    ),
)
