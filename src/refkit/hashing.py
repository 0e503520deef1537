"""File digests, computed once per input and in parallel where it pays.

hashlib releases the GIL while it hashes large buffers, so hashing several inputs in
threads uses every core (two on the project's machines). Files are read through
:func:`hashlib.file_digest` in chunks, never whole into memory unless the caller needs the
bytes anyway. Order of results is the order of the tasks, whatever finishes first.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from refkit.errors import input_os_error

T = TypeVar("T")


@dataclass(frozen=True)
class FileDigest:
    """A file's size and its digests, keyed by hashlib algorithm name."""

    path: str
    size: int
    digests: dict[str, bytes]

    def hex(self, algorithm: str) -> str:
        return self.digests[algorithm].hex()


def digest_file(
    path: Path | str, algorithms: Sequence[str] = ("sha256",), *, what: str = "file"
) -> FileDigest:
    """Digest a file with each algorithm in one pass over its bytes."""
    p = Path(path)
    hashers = [hashlib.new(a) for a in algorithms]
    size = 0
    try:
        with p.open("rb") as fh:
            if len(hashers) == 1:
                hashers[0] = hashlib.file_digest(fh, algorithms[0])
                size = fh.tell()
            else:
                buf = bytearray(1 << 20)
                view = memoryview(buf)
                while n := fh.readinto(buf):
                    for h in hashers:
                        h.update(view[:n])
                    size += n
    except OSError as exc:
        raise input_os_error(exc, p, what=what) from exc
    return FileDigest(
        str(p), size, {a: h.digest() for a, h in zip(algorithms, hashers, strict=True)}
    )


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
