"""File digests, computed once per input and in parallel where it pays.

hashlib releases the GIL while it hashes large buffers, so hashing several inputs in
threads uses every core (two on the project's machines). Files are memory-mapped and
hashed in one call each (:mod:`refkit._fasthash`), never copied into memory. Results come
back in the order of the tasks, whatever finishes first. A :class:`FileDigester` lets a
caller hand over digests computed earlier (the console script's prefetch).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from refkit._fasthash import digest_path
from refkit.errors import input_os_error


class FileDigest(NamedTuple):
    """A file's size and its digests, keyed by hashlib algorithm name."""

    path: str
    size: int
    digests: dict[str, bytes]

    def hex(self, algorithm: str) -> str:
        return self.digests[algorithm].hex()


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


def run_parallel(tasks: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run callables in threads; return their results in order; re-raise the first error."""
    if len(tasks) <= 1:
        return [t() for t in tasks]
    results: list[Any] = [None] * len(tasks)
    errors: list[BaseException | None] = [None] * len(tasks)

    def work(i: int) -> None:
        try:
            results[i] = tasks[i]()
        except BaseException as exc:  # handed to the caller below
            errors[i] = exc

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(1, len(tasks))]
    for t in threads:
        t.start()
    work(0)
    for t in threads:
        t.join()
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
