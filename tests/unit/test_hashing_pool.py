"""refkit.hashing: the bounded pool, stream digests, and run_parallel (issue 11, item 5)."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from refkit import hashing
from refkit.hashing import StreamHasher, digest_stream, map_ordered, run_parallel, sha256_stream


def test_map_ordered_keeps_order_whatever_finishes_first() -> None:
    def slow_first(i: int) -> int:
        time.sleep(0.02 if i % 3 == 0 else 0)
        return i * i

    assert list(map_ordered(slow_first, range(50), workers=4)) == [i * i for i in range(50)]


def test_map_ordered_bounds_threads_and_tasks_in_flight() -> None:
    # run_parallel started one thread per task: 20,000 weight shards meant 20,000 threads.
    # Here 20,000 tasks run on 3 threads with at most 6 submitted and not yet consumed.
    lock = threading.Lock()
    submitted = 0
    threads: set[int] = set()

    def items() -> object:
        nonlocal submitted
        for i in range(20_000):
            with lock:
                submitted += 1
            yield i

    def work(i: int) -> int:
        threads.add(threading.get_ident())
        return i

    consumed = 0
    for got in map_ordered(work, items(), workers=3, in_flight=6):  # type: ignore[arg-type]
        assert got == consumed
        consumed += 1
        with lock:
            assert submitted - consumed <= 6
    assert consumed == 20_000
    assert len(threads) <= 3


def test_map_ordered_raises_the_first_error_and_cancels_the_rest() -> None:
    ran: list[int] = []

    def work(i: int) -> int:
        ran.append(i)
        if i == 5:
            raise ValueError("shard 5 is unreadable")
        return i

    got: list[int] = []

    def consume() -> None:
        got.extend(map_ordered(work, range(10_000), workers=2, in_flight=4))

    with pytest.raises(ValueError, match="shard 5"):
        consume()
    assert got == [0, 1, 2, 3, 4]  # results before the failing one, in order
    assert len(ran) < 100  # the rest were never started


def test_map_ordered_abandoned_stops_and_joins_its_threads() -> None:
    started: list[int] = []
    release = threading.Event()

    def work(i: int) -> int:
        started.append(i)
        if i > 0:
            release.wait(5)
        return i

    before = threading.active_count()
    results = map_ordered(work, range(1000), workers=2, in_flight=4)
    assert next(results) == 0
    release.set()
    results.close()  # the consumer stops early: no further task starts, threads end
    assert threading.active_count() == before
    assert len(started) <= 5


def test_map_ordered_in_threads_does_not_load_concurrent_futures() -> None:
    """Importing concurrent.futures (it loads logging) was 7% of digesting 2 GiB."""
    import subprocess
    import sys

    code = (
        "import sys; from refkit.hashing import map_ordered; "
        "assert list(map_ordered(abs, [-1, -2], workers=2)) == [1, 2]; "
        "print('concurrent.futures' in sys.modules, 'logging' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


def test_map_ordered_in_processes() -> None:
    # A second, independent computation: hashlib in this process.
    chunks = [bytes([i]) * 10_000 for i in range(8)]
    expected = [hashlib.sha256(c).hexdigest() for c in chunks]
    assert list(map_ordered(_sha256_hex, chunks, workers=2, processes=True)) == expected


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fail_on_three(i: int) -> int:
    if i == 3:
        raise ValueError(f"task {i} failed in pid {os.getpid()}")
    return i * 2


def _die_on_two(i: int) -> int:
    if i == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # as a SIGBUS from a truncated mapping would
    return i


def test_map_ordered_in_processes_raises_the_workers_error_in_order() -> None:
    got: list[int] = []
    with pytest.raises(ValueError, match="task 3 failed in pid") as info:
        got.extend(map_ordered(_fail_on_three, range(100), workers=2, processes=True))
    assert got == [0, 2, 4]
    assert str(os.getpid()) not in str(info.value)  # it came from a worker


def test_map_ordered_in_processes_reports_a_dead_worker() -> None:
    with pytest.raises(hashing.WorkerDied, match="ended before returning"):
        list(map_ordered(_die_on_two, range(10), workers=2, processes=True))


def test_map_ordered_in_processes_refuses_a_task_that_carries_its_data() -> None:
    with pytest.raises(ValueError, match="not the data"):
        list(map_ordered(_sha256_hex, [bytes(1 << 20)], workers=2, processes=True))


def test_map_ordered_in_processes_abandoned_leaves_no_worker() -> None:
    results = map_ordered(
        _sha256_hex, [bytes([i % 256]) * 1000 for i in range(500)], workers=2, processes=True
    )
    assert next(results) == hashlib.sha256(bytes(1000)).hexdigest()
    results.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every worker was reaped


def test_map_ordered_refuses_no_workers() -> None:
    with pytest.raises(ValueError, match="workers"):
        list(map_ordered(str, [1], workers=0))


def test_run_parallel_order_errors_and_nesting() -> None:
    tasks: list[Callable[[], int]] = [lambda i=i: i for i in range(10)]  # type: ignore[misc]
    assert run_parallel(tasks, workers=2) == list(range(10))

    def nested() -> list[int]:  # a task that itself fans out must not wait on itself
        return run_parallel([lambda: 1, lambda: 2], workers=2)

    assert run_parallel([nested, nested], workers=2) == [[1, 2], [1, 2]]

    def boom() -> int:
        raise KeyError("second")

    with pytest.raises(KeyError, match="second"):
        run_parallel([lambda: 0, boom, lambda: 2])


def test_stream_digests_and_limit() -> None:
    data = os.urandom(3 * hashing.STREAM_CHUNK + 17)
    assert sha256_stream(io.BytesIO(data)) == (len(data), hashlib.sha256(data).hexdigest())
    got = digest_stream(io.BytesIO(data), ("sha256", "sha384"))
    assert got.digests["sha384"] == hashlib.sha384(data).digest()
    # limit: stops one chunk past it, never reads the whole stream
    limited = digest_stream(io.BytesIO(data), limit=10)
    assert 10 < limited.size <= hashing.STREAM_CHUNK
    hasher = StreamHasher()
    hasher.update(data[:5])
    hasher.update(memoryview(data)[5:])
    assert (hasher.size, hasher.hexdigest()) == (len(data), hashlib.sha256(data).hexdigest())


def test_dead_code_is_gone() -> None:
    assert not hasattr(hashing.FileDigest, "hex")
