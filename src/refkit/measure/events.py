"""Measured events: the one shape in which refkit states *why* a register has its value.

Whatever extends a TPM PCR or a TDX RTMR (computed from boot artifacts by
``refkit.measure.tdx`` / ``refkit.measure.uki``, or read from a captured event log by
``refkit.measure.eventlog``) is described as a sequence of :class:`MeasuredEvent`. Replay
and ``--expect`` compare two such sequences register by register and name the first event
whose digest differs, with the input that fed the computed one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: Digest sizes of the banks refkit replays, by hashlib name.
BANK_SIZES: Mapping[str, int] = MappingProxyType(
    {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}
)


@dataclass(frozen=True)
class MeasuredEvent:
    """One extend of one register.

    ``register`` is ``"pcr0"`` ... ``"pcr23"`` or ``"rtmr0"`` ... ``"rtmr3"``; ``digests``
    maps a bank (hashlib name) to the hex digest extended; ``event_type`` is the TCG
    event type name (``EV_EFI_ACTION``, ...); ``description`` says in words what was
    measured; ``source`` names the input that fed a computed event (a file with its
    sha256, an option, a platform-data file), or the log offset of a logged one.
    """

    register: str
    event_type: str
    digests: Mapping[str, str]
    description: str
    source: str | None = None
    data: bytes | None = field(default=None, repr=False, compare=False)


def extend(value: bytes, digest: bytes, algorithm: str) -> bytes:
    """One extend: H(value || digest)."""
    return hashlib.new(algorithm, value + digest).digest()


def replay(events: Iterable[MeasuredEvent], bank: str) -> dict[str, str]:
    """The register values (hex) that ``events`` produce in ``bank``, each register
    starting at zero; events without a digest in that bank are skipped."""
    size = BANK_SIZES[bank]
    values: dict[str, bytes] = {}
    for event in events:
        digest = event.digests.get(bank)
        if digest is None:
            continue
        current = values.get(event.register, bytes(size))
        values[event.register] = extend(current, bytes.fromhex(digest), bank)
    return {register: value.hex() for register, value in sorted(values.items())}


def event_json(event: MeasuredEvent) -> dict[str, Any]:
    """The one JSON form of a measured event, written by every ``measure ... --json``
    document and read back by :func:`refkit.measure.eventlog.event_from_json`."""
    return {
        "register": event.register,
        "eventType": event.event_type,
        "digests": dict(sorted(event.digests.items())),
        "description": event.description,
        "source": event.source,
    }
