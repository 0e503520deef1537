"""Replay: the register values a log's events produce, per bank.

Each register starts at zero (TCG2 PCR 0 starts at the locality of a StartupLocality
EV_NO_ACTION event when the log has one: PFP 10.4.5.3; H-CRTM logs are not modelled) and
is extended, in log order, with every event's digest except EV_NO_ACTION's:
``value = H(value || digest)``. RTMRs (CCEL) are SHA-384 and start at zero.

The result holds the registers that at least one event extends, and for a CCEL log all
of RTMR0-3 (a TDX report always carries the four); :func:`initial_value` gives the value
of a register no event extends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType

from refkit.measure.eventlog.log import EventLog, LogFormat
from refkit.measure.eventlog.spec import BANKS

Values = Mapping[str, Mapping[str, str]]  # bank → register → hex


def replayable_banks(log: EventLog) -> tuple[str, ...]:
    """The log's banks this Python can hash (all of sha1/sha256/sha384/sha512)."""
    return tuple(b for b in log.banks if BANKS[b].replayable)


def initial_value(log: EventLog, register: str, bank: str) -> bytes:
    value = bytearray(BANKS[bank].size)
    locality = log.startup_locality
    if register == "pcr0" and locality is not None:
        value[-1] = locality
    return bytes(value)


def replay_log(log: EventLog, banks: tuple[str, ...] | None = None) -> Values:
    """``{bank: {register: hex}}`` for every replayable bank (or those asked for)."""
    out: dict[str, Mapping[str, str]] = {}
    for bank in replayable_banks(log) if banks is None else banks:
        values: dict[str, bytes] = {}
        if log.format is LogFormat.CCEL:
            values = {f"rtmr{i}": initial_value(log, f"rtmr{i}", bank) for i in range(4)}
        for event in log.events[1:]:
            if not event.extended:
                continue
            current = values.get(event.register)
            if current is None:
                current = initial_value(log, event.register, bank)
            values[event.register] = hashlib.new(bank, current + event.digests[bank]).digest()
        out[bank] = MappingProxyType(
            {r: v.hex() for r, v in sorted(values.items(), key=lambda kv: _order(kv[0]))}
        )
    return MappingProxyType(out)


def _order(register: str) -> tuple[str, int]:
    """pcr2 before pcr10; rtmr0 before rtmr3."""
    name = register.rstrip("0123456789")
    return (name, int(register[len(name) :] or 0))
