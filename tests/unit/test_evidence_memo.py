"""refkit.evidence.memo: the one bounded memory the evidence verifiers keep."""

from __future__ import annotations

import threading
from functools import partial

import pytest

from refkit.evidence.memo import Memo


def test_a_value_is_made_once_per_key_and_the_memory_is_bounded() -> None:
    made: list[str] = []
    memo = Memo(limit=3)

    def make(key: str) -> str:
        made.append(key)
        return key.upper()

    for key in ["a", "b", "a", "c", "b"]:
        assert memo.get(key, partial(make, key)) == key.upper()
    assert made == ["a", "b", "c"]
    memo.get("d", partial(make, "d"))  # full: starts again empty, then holds d
    memo.get("a", partial(make, "a"))
    assert made == ["a", "b", "c", "d", "a"]


def test_a_failure_is_not_remembered() -> None:
    memo = Memo(limit=8)

    def fail() -> int:
        raise ValueError("material missing")

    with pytest.raises(ValueError, match="missing"):
        memo.get("k", fail)
    assert memo.get("k", lambda: 7) == 7


def test_every_thread_gets_the_value() -> None:
    memo = Memo(limit=64)
    seen: list[object] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        seen.append(memo.get("key", lambda: ("value",)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8
    assert all(v == ("value",) for v in seen)
