"""Event logs: parse TCG2 crypto-agile and TDX CCEL logs, replay them, explain mismatches.

- :mod:`.log`: the strict structural parser (:func:`parse_log`, :func:`read_log`) into
  :class:`EventLog` / :class:`LogEvent`; every event also in the shared shape
  :class:`~refkit.measure.events.MeasuredEvent` (``LogEvent.measured()``);
- :mod:`.decode`, :mod:`.devicepath`: each event's data in words (UEFI variables, load
  options, device paths, GPT, EFI actions, GRUB and systemd command lines);
- :mod:`.replay`: register values per bank (:func:`replay_log`);
- :mod:`.expect`: ``--expect``: :func:`check` against register values and computed
  events, :func:`first_difference` naming the first differing event;
- :mod:`.document`: the ``--json`` document.

Pure, except :func:`read_log` and :func:`load_expectation`, which read one file each.
"""

from __future__ import annotations

from refkit.measure.eventlog.decode import Decoded, decode_event
from refkit.measure.eventlog.document import log_document
from refkit.measure.eventlog.expect import (
    Difference,
    Expectation,
    check,
    event_from_json,
    first_difference,
    load_expectation,
    parse_expect,
)
from refkit.measure.eventlog.log import (
    MAX_EVENTS,
    MAX_LOG_BYTES,
    EventLog,
    LogEvent,
    LogFormat,
    SpecId,
    parse_log,
    read_log,
)
from refkit.measure.eventlog.replay import initial_value, replay_log, replayable_banks

__all__ = [
    "MAX_EVENTS",
    "MAX_LOG_BYTES",
    "Decoded",
    "Difference",
    "EventLog",
    "Expectation",
    "LogEvent",
    "LogFormat",
    "SpecId",
    "check",
    "decode_event",
    "event_from_json",
    "first_difference",
    "initial_value",
    "load_expectation",
    "log_document",
    "parse_expect",
    "parse_log",
    "read_log",
    "replay_log",
    "replayable_banks",
]
