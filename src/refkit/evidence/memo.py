"""The one bounded memory the evidence verifiers keep between evidences.

A verifier of a fleet meets the same certificate chains, collateral, CRLs and firmware
again and again; it keeps what it computed from them (parsed chains, signature checks,
results that depend only on those values) in a :class:`Memo` per kind, keyed by the
values read. Thread-safe: a read is a single dict lookup (atomic in CPython), writers
take a lock, and a value computed twice by two threads is the same value. Bounded: when
full it starts again empty (the working set of a verifier is small).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

_MISSING = object()


class Memo:
    """A bounded, thread-safe map from a key to a value made on first use."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._data: dict[Hashable, object] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The value for ``key``, made by ``make()`` (outside the lock) when absent."""
        found = self._data.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        value = make()
        with self._lock:
            if len(self._data) >= self._limit:
                self._data.clear()
            self._data[key] = value
        return value
