"""Times as refkit reads and writes them: RFC 3339, UTC, whole seconds.

One module for every time in refkit's inputs and outputs, so that a manifest, a trust
policy, a command-line option and a JSON report spell and read time the same way.

- :func:`format_time` is the one form refkit writes: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole
  seconds; sub-second parts are dropped, never rounded up).
- :func:`parse_time` reads exactly that form (what signed documents hold: one spelling per
  instant, so canonical bytes stay canonical).
- :func:`parse_rfc3339` reads any RFC 3339 section 5.6 ``date-time`` with an explicit
  offset, for people typing a time on the command line; the result is in UTC.
- :func:`from_epoch_text` reads ``SOURCE_DATE_EPOCH`` (ASCII decimal seconds).

Every failure is a :class:`~refkit.errors.ParseError` naming the source and field; digits
are ASCII only (``str.isdigit`` and ``\\d`` would take superscripts and other scripts).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from refkit.errors import Location, ParseError

_UTC_Z = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
#: RFC 3339 section 5.6 ``date-time`` with a required offset (ASCII digits only).
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_EPOCH = re.compile(r"(0|[1-9][0-9]{0,11})")


def _fail(source: str, path: str, message: str, hint: str | None = None) -> ParseError:
    return ParseError(message, location=Location(source, field=path), hint=hint)


def format_time(value: datetime) -> str:
    """``value`` in UTC as ``YYYY-MM-DDTHH:MM:SSZ`` (the one form refkit writes)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, *, source: str, path: str) -> datetime:
    """Parse the one form refkit writes: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    if not _UTC_Z.fullmatch(text):
        raise _fail(
            source,
            path,
            f"{text[:80]!r} is not an RFC 3339 UTC time of the form YYYY-MM-DDTHH:MM:SSZ",
            hint="write times in UTC with a trailing Z and whole seconds",
        )
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise _fail(source, path, f"{text!r} is not a valid date and time") from None


def parse_rfc3339(value: str, *, source: str, field: str) -> datetime:
    """An RFC 3339 date-time with an explicit offset ("Z" or "+hh:mm"), in UTC.

    Only RFC 3339: ``datetime.fromisoformat`` alone also takes ISO 8601 week dates, the
    basic format and reduced precision. A time that exists in its own zone but not in UTC
    (year 9999 at -01:00) is refused here rather than overflowing later comparisons.
    """
    parsed = None
    if _RFC3339.fullmatch(value):
        try:
            parsed = datetime.fromisoformat(value.upper()).astimezone(UTC)
        except (ValueError, OverflowError):
            parsed = None
    if parsed is None:
        raise _fail(source, field, f"{value[:80]!r} is not an RFC 3339 date-time with a time zone")
    return parsed


def from_epoch_text(text: str, *, source: str) -> datetime:
    """Seconds since the Unix epoch as ``SOURCE_DATE_EPOCH`` spells them (ASCII decimal),
    refused unless they name a time from 1970 to 9999."""
    if not _EPOCH.fullmatch(text):
        raise _fail(source, "value", f"{text[:40]!r} is not a whole number of seconds (ASCII)")
    try:
        value = datetime.fromtimestamp(int(text), tz=UTC)
    except (ValueError, OverflowError, OSError):
        value = None
    if value is None or value.year > 9999:
        raise _fail(source, "value", f"{text} seconds is not a time before the year 10000")
    return value
