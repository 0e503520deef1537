"""The one digest engine: file, byte and stream digests, and a bounded worker pool.

Every digest of a file's content in refkit is computed here (ADR 0001; ADR 0008):

* :func:`digest_file`: a whole file, memory-mapped and hashed in one call per algorithm
  (:mod:`refkit._fasthash`), never copied into memory;
* :func:`digest_stream` / :func:`sha256_stream`: what is left in an open stream, in fixed
  chunks, stopping one byte past a ``limit`` (inputs that must not be read unbounded);
* :class:`StreamHasher`: an incremental digest for code that copies bytes somewhere and
  hashes them on the way (archive extraction).

Parallel work goes through :func:`map_ordered`, a bounded pool: a fixed number of workers
and a fixed number of tasks in flight, so tens of thousands of tasks (weight shards) run
in bounded memory; results come back in the order of the inputs, whatever finishes first;
the first error is raised and the tasks not yet started are cancelled. Threads are the
default: hashlib releases the GIL while it hashes a buffer of 2 KiB or more, so hashing
threads use every core. ``processes=True`` runs picklable functions in forked worker
processes, for work that holds the GIL (parsing, pure-Python loops). Neither mode imports
concurrent.futures (ADR 0018). :func:`run_parallel` is the
small-batch form for a handful of heterogeneous tasks.

A :class:`FileDigester` lets a caller hand over digests computed earlier (the console
script's prefetch).

:func:`new_hasher` names every algorithm refkit hashes with (hashlib's, and ``blake3``
from the blake3 package, multithreaded on request); :func:`digest_region` hashes one
byte range of an open file (a weight shard) through a fixed-size buffer, with ``pread``
rather than a memory map, so a file truncated while it is read gives a short read (an
error the caller reports), never a SIGBUS.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import mmap
import os
import signal
import struct
import threading
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, Protocol, TypeVar

from refkit._fasthash import digest_path
from refkit.errors import input_os_error

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

T = TypeVar("T")
R = TypeVar("R")

#: Chunk size of stream hashing: large enough that hashlib drops the GIL, small enough
#: that many concurrent streams stay in bounded memory.
STREAM_CHUNK = 1 << 20


def default_workers() -> int:
    """The number of CPUs this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        return max(1, os.cpu_count() or 1)


class Hasher(Protocol):
    """What hashlib's objects and blake3's share: update with bytes, then digest."""

    def update(self, data: bytes | bytearray | memoryview, /) -> Any: ...

    def digest(self) -> bytes: ...


#: Buffer of :func:`digest_region`: one per running task, so memory stays bounded.
REGION_BUFFER = 1 << 22


def new_hasher(algorithm: str, *, threads: int = 1) -> Hasher:
    """A fresh hash object: a hashlib name, or ``blake3`` (``threads`` other than 1 lets the
    blake3 package hash one large buffer on that many threads; -1: as many as it sees fit).
    Raises ValueError for unknown names."""
    if algorithm == "blake3":
        import blake3

        return blake3.blake3(max_threads=threads)
    return hashlib.new(algorithm)


class RegionChanged(Exception):
    """The file ended before the region did: it shrank while it was read."""


def digest_region(
    fd: int,
    start: int,
    end: int,
    algorithm: str,
    *,
    threads: int = 1,
    progress: Callable[[int], None] | None = None,
    buffer_size: int = REGION_BUFFER,
) -> bytes:
    """The digest of bytes ``[start, end)`` of the open file ``fd``, read with ``pread`` in
    ``buffer_size`` pieces (hashlib drops the GIL for each piece). ``progress`` gets the
    count of bytes hashed after each piece. Raises :class:`RegionChanged` on a short read
    and OSError unchanged."""
    hasher = new_hasher(algorithm, threads=threads)
    # A page-aligned buffer (anonymous mmap), not a bytearray: a large bytearray's data
    # starts 16 bytes into a page, and the kernel's copy from the page cache into a
    # destination 8 or 16 bytes off the source's alignment ran at a fifth of its speed
    # (1.7 against 9-10 GB/s, measured on this project's machines).
    with mmap.mmap(-1, min(buffer_size, max(end - start, 1))) as buffer:
        view = memoryview(buffer)
        try:
            offset = start
            while offset < end:
                want = min(len(buffer), end - offset)
                got = os.preadv(fd, [view[:want]], offset)
                if got <= 0:
                    raise RegionChanged(f"end of file at offset {offset}, expected {end}")
                hasher.update(view[:got])
                offset += got
                if progress is not None:
                    progress(got)
        finally:
            view.release()
    return hasher.digest()


class FileDigest(NamedTuple):
    """A file's size and its digests, keyed by hashlib algorithm name."""

    path: str
    size: int
    digests: dict[str, bytes]


def digest_file(
    path: str | os.PathLike[str], algorithms: Sequence[str] = ("sha256",), *, what: str = "file"
) -> FileDigest:
    """Digest a file with each algorithm, reading it once (see :mod:`refkit._fasthash`)."""
    try:
        size, digests = digest_path(path, algorithms)
    except OSError as exc:
        raise input_os_error(exc, path, what=what) from exc
    return FileDigest(os.fspath(path), size, dict(zip(algorithms, digests, strict=True)))


def digest_bytes(
    data: bytes, algorithms: Sequence[str] = ("sha256",), *, path: str = ""
) -> FileDigest:
    return FileDigest(path, len(data), {a: hashlib.new(a, data).digest() for a in algorithms})


def digest_stream(
    stream: BinaryIO,
    algorithms: Sequence[str] = ("sha256",),
    *,
    limit: int | None = None,
    path: str = "",
) -> FileDigest:
    """Size and digests of everything left in ``stream``, read in :data:`STREAM_CHUNK`
    pieces. With ``limit``, stops after ``limit + 1`` bytes: a size above ``limit`` says
    "too large" without reading the rest (a device, a growing file). Raises OSError."""
    hashers = [hashlib.new(a) for a in algorithms]
    size = 0
    while chunk := stream.read(STREAM_CHUNK):
        for h in hashers:
            h.update(chunk)
        size += len(chunk)
        if limit is not None and size > limit:
            break
    return FileDigest(path, size, {a: h.digest() for a, h in zip(algorithms, hashers, strict=True)})


def sha256_stream(stream: BinaryIO, *, limit: int | None = None) -> tuple[int, str]:
    """Size and hex sha256 of everything left in ``stream``; see :func:`digest_stream`."""
    got = digest_stream(stream, ("sha256",), limit=limit)
    return got.size, got.digests["sha256"].hex()


class StreamHasher:
    """sha256 and size of bytes seen one chunk at a time (hash while copying)."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self._sha256.update(chunk)
        self.size += len(chunk)

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


def map_ordered(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int | None = None,
    in_flight: int | None = None,
    processes: bool = False,
) -> Generator[R, None, None]:
    """``fn`` over ``items`` in a bounded pool; results in input order, lazily.

    At most ``workers`` (default: the CPUs available) run at once, and at most
    ``in_flight`` (default: twice the workers) are submitted and not yet consumed, so
    neither ``items`` nor the results are held whole: memory is bounded whatever their
    number. The first error (in input order) is raised; tasks not started are cancelled.
    With ``processes``, ``fn`` and the items must be picklable, and each item small
    (:data:`MAX_TASK_BYTES` pickled): it travels through a pipe to a forked worker.
    """
    count = workers if workers is not None else default_workers()
    if count < 1:
        raise ValueError("workers must be at least 1")
    window = in_flight if in_flight is not None else 2 * count
    if window < 1:
        raise ValueError("in_flight must be at least 1")
    if not processes:
        return _map_threads(fn, items, count, window)
    return _map_processes(fn, items, count, window)


class WorkerDied(RuntimeError):
    """A worker process ended without returning its task's result (killed, or a SIGBUS
    from a file truncated under a memory map)."""


def _map_processes(
    fn: Callable[[T], R], items: Iterable[T], count: int, window: int
) -> Generator[R, None, None]:
    if hasattr(os, "fork"):
        return _map_forked(fn, items, count, window)
    return _map_executor(fn, items, count, window)  # pragma: no cover - no fork


_HEADER = struct.Struct("<Q")


#: The largest pickled task sent to a worker: a task message must fit in the pipe's
#: buffer (64 KiB on Linux), or the parent could block writing a task while the worker
#: blocks writing a result. Tasks name their work (a path, offsets), they do not carry it.
MAX_TASK_BYTES = 48 * 1024


def _send(fd: int, obj: object, *, limit: int | None = None) -> None:
    import pickle  # here: 5 ms that only process pools need

    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if limit is not None and len(data) > limit:
        raise ValueError(
            f"a process task pickles to {len(data)} bytes, more than {limit}: pass what "
            "names the work (a path, offsets), not the data"
        )
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> Any:
    """One message, or raise EOFError when the other end closed first. Messages come
    only from this process or its forked workers."""
    import pickle

    def exactly(n: int) -> bytes:
        parts = []
        while n:
            part = os.read(fd, min(n, 1 << 20))
            if not part:
                raise EOFError
            parts.append(part)
            n -= len(part)
        return b"".join(parts)

    (size,) = _HEADER.unpack(exactly(_HEADER.size))
    return pickle.loads(exactly(size))  # noqa: S301 - from our own worker or parent


def _serve(fn: Callable[[Any], Any], tasks: int, results: int) -> None:
    """A forked worker: (index, item) in, (index, ok, value) out, until the parent closes."""
    while True:
        try:
            index, item = _receive(tasks)
        except EOFError:
            return
        try:
            outcome: tuple[int, bool, Any] = (index, True, fn(item))
        except BaseException as exc:  # raised to the consumer, in input order
            outcome = (index, False, exc)
        try:
            _send(results, outcome)
        except Exception as exc:  # the value or error could not be pickled
            _send(results, (index, False, RuntimeError(f"task {index}: {exc!r}")))


def _map_forked(
    fn: Callable[[T], R], items: Iterable[T], count: int, window: int
) -> Generator[R, None, None]:
    """:func:`map_ordered` in forked worker processes, each with a pipe for its tasks and
    one for its results; a task goes to a worker with fewer than two unfinished, so a slow
    core gets less. Only os, pickle and select are used: ProcessPoolExecutor first imports
    concurrent.futures and multiprocessing (55 ms, 7% of a 1 GiB verity tree)."""
    import pickle  # noqa: F401 - for _send and _receive, loaded before forking
    import select

    workers: list[tuple[int, int, int]] = []  # (pid, task fd, result fd)
    busy: dict[int, int] = {}  # result fd -> unfinished tasks
    done: dict[int, tuple[bool, Any]] = {}
    source = iter(items)
    submitted = consumed = 0
    exhausted = False
    poller = select.poll()
    try:
        while True:
            while not exhausted and submitted - consumed < window:
                free = [w for w in workers if busy[w[2]] < 2]
                if not free and len(workers) >= count:
                    break
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                if not free:
                    workers.append(_fork_worker(fn, inherited=workers))
                    busy[workers[-1][2]] = 0
                    poller.register(workers[-1][2], select.POLLIN)
                    free = [workers[-1]]
                target = min(free, key=lambda w: busy[w[2]])
                _send(target[1], (submitted, item), limit=MAX_TASK_BYTES)
                busy[target[2]] += 1
                submitted += 1
            if consumed == submitted:
                return
            while consumed not in done:
                for fd, _event in poller.poll():
                    try:
                        index, ok, value = _receive(fd)
                    except EOFError:
                        raise WorkerDied(
                            "a worker process ended before returning its result"
                        ) from None
                    busy[fd] -= 1
                    done[index] = (ok, value)
            ok, value = done.pop(consumed)
            consumed += 1
            if not ok:
                raise value
            yield value
    finally:
        for pid, tasks, _results in workers:
            os.close(tasks)  # the worker's next read sees the end and it returns
            if submitted != consumed:  # stopped early: unfinished tasks are not waited for
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for pid, _tasks, results in workers:
            os.waitpid(pid, 0)
            os.close(results)


def _fork_worker(
    fn: Callable[[Any], Any], *, inherited: Sequence[tuple[int, int, int]]
) -> tuple[int, int, int]:
    task_read, task_write = os.pipe()
    result_read, result_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: serve, then leave without running the parent's cleanup
        code = 0
        try:
            os.close(task_write)
            os.close(result_read)
            for _pid, tasks, results in inherited:  # the other workers' pipes: a copy
                os.close(tasks)  # held here would keep their task pipe from ending
                os.close(results)
            _serve(fn, task_read, result_write)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(task_read)
    os.close(result_write)
    return pid, task_write, result_read


def _map_executor(
    fn: Callable[[T], R], items: Iterable[T], count: int, window: int
) -> Generator[R, None, None]:  # pragma: no cover - platforms without fork
    # Imported here: concurrent.futures loads logging and multiprocessing (55 ms).
    from concurrent.futures import ProcessPoolExecutor

    executor: Executor = ProcessPoolExecutor(max_workers=count)
    pending: collections.deque[Future[R]] = collections.deque()
    source = iter(items)
    try:
        for item in source:
            pending.append(executor.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)


def _map_threads(
    fn: Callable[[T], R], items: Iterable[T], count: int, window: int
) -> Generator[R, None, None]:
    """:func:`map_ordered` in threads, with :mod:`threading` alone: importing
    concurrent.futures (it loads logging) took 60 ms, 7% of digesting 2 GiB."""
    cond = threading.Condition()
    todo: collections.deque[tuple[int, T]] = collections.deque()
    done: dict[int, tuple[bool, Any]] = {}
    closing = False

    def work() -> None:
        while True:
            with cond:
                while not todo and not closing:
                    cond.wait()
                if closing:
                    return
                index, item = todo.popleft()
            try:
                outcome: tuple[bool, Any] = (True, fn(item))
            except BaseException as exc:  # raised to the consumer, in input order
                outcome = (False, exc)
            with cond:
                done[index] = outcome
                cond.notify_all()

    threads: list[threading.Thread] = []
    source = iter(items)
    submitted = consumed = 0
    exhausted = False
    try:
        while True:
            while not exhausted and submitted - consumed < window:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                with cond:
                    todo.append((submitted, item))
                    cond.notify()
                submitted += 1
                if len(threads) < count:
                    thread = threading.Thread(target=work, daemon=True, name="refkit-hash")
                    thread.start()
                    threads.append(thread)
            if consumed == submitted:
                return
            with cond:
                while consumed not in done:
                    cond.wait()
                ok, value = done.pop(consumed)
            consumed += 1
            if not ok:
                raise value
            yield value
    finally:
        with cond:
            closing = True  # tasks not started are dropped; running ones finish
            todo.clear()
            cond.notify_all()
        for thread in threads:
            thread.join()


def run_parallel(tasks: Sequence[Callable[[], Any]], *, workers: int | None = None) -> list[Any]:
    """Run a few callables at once; return their results in order; re-raise the first error.

    The calling thread and at most ``workers - 1`` more threads (default: the CPUs
    available) take the tasks in order; after an error no further task is started. Each
    call has its own threads, so a task may itself call :func:`run_parallel` without
    waiting on a worker it occupies. Only :mod:`threading` is used: ``measure snp`` calls
    this, and its start-up time is benchmarked (concurrent.futures imports logging).
    """
    if len(tasks) <= 1:
        return [t() for t in tasks]
    count = workers if workers is not None else default_workers()
    results: list[Any] = [None] * len(tasks)
    errors: list[BaseException | None] = [None] * len(tasks)
    lock = threading.Lock()
    next_index = 0
    failed = False

    def work() -> None:
        nonlocal next_index, failed
        while True:
            with lock:
                if failed or next_index >= len(tasks):
                    return
                i = next_index
                next_index += 1
            try:
                results[i] = tasks[i]()
            except BaseException as exc:  # handed to the caller below
                errors[i] = exc
                with lock:
                    failed = True

    helpers = [
        threading.Thread(target=work, daemon=True, name="refkit-task")
        for _ in range(max(1, min(count, len(tasks))) - 1)
    ]
    for thread in helpers:
        thread.start()
    work()
    for thread in helpers:
        thread.join()
    for exc in errors:
        if exc is not None:
            raise exc
    return results


class FileDigester(Protocol):
    """Something that returns a file's digests (computing them, or having them already)."""

    def digest(self, path: str | os.PathLike[str], *, what: str) -> FileDigest: ...


class DirectDigester:
    """Computes digests when asked, in the calling thread."""

    def __init__(self, algorithms: Sequence[str] = ("sha256",)) -> None:
        self.algorithms = tuple(algorithms)

    def digest(self, path: str | os.PathLike[str], *, what: str) -> FileDigest:
        return digest_file(path, self.algorithms, what=what)


class PrefetchedDigester:
    """Serves digests that a :class:`~refkit._console.Prefetch` computed in threads.

    Only the exact paths prefetched are served from it; anything else, and any path whose
    prefetch failed, is digested again here so that errors carry refkit's wording.
    """

    def __init__(
        self, results: Callable[[str], tuple[int, list[bytes]] | None], algorithms: Sequence[str]
    ) -> None:
        self._results = results
        self.algorithms = tuple(algorithms)

    def digest(self, path: str | os.PathLike[str], *, what: str) -> FileDigest:
        got = self._results(os.fspath(path))
        if got is None:
            return digest_file(path, self.algorithms, what=what)
        size, digests = got
        return FileDigest(os.fspath(path), size, dict(zip(self.algorithms, digests, strict=True)))
