"""The JSON document of ``refkit measure replay --json`` (docs/eventlog.md).

Its ``events`` (with ``"extended": false`` on EV_NO_ACTION events) and ``registers`` are
what :func:`refkit.measure.eventlog.expect.load_expectation` reads back, so one replay's
output can be the expectation of another (a known-good boot as the reference).
"""

from __future__ import annotations

from typing import Any

from refkit.measure.eventlog.log import EventLog
from refkit.measure.eventlog.replay import Values
from refkit.measure.events import event_json

DOCUMENT_VERSION = 1


def log_document(log: EventLog, values: Values) -> dict[str, Any]:
    spec = log.spec_id
    events = []
    for e in log.events:
        item = event_json(e.measured())
        item.update(
            {
                "number": e.number,
                "offset": e.offset,
                "mrIndex": e.mr_index,
                "eventTypeValue": e.event_type,
                "extended": e.extended and e.number > 0,
                "dataSize": len(e.data),
                "data": dict(e.decoded.fields),
            }
        )
        events.append(item)
    return {
        "version": DOCUMENT_VERSION,
        "source": log.source,
        "format": log.format.value,
        "specId": {
            "platformClass": spec.platform_class,
            "specVersion": ".".join(str(v) for v in spec.version),
            "uintnSize": spec.uintn_size,
            "algorithms": [
                {"name": a.name, "id": a.alg_id, "size": a.size} for a in spec.algorithms
            ],
        },
        "banks": list(log.banks),
        "logEnd": log.end,
        "size": log.size,
        "startupLocality": log.startup_locality,
        "events": events,
        "registers": {bank: dict(regs) for bank, regs in values.items()},
        "commandLines": list(log.command_lines),
    }
