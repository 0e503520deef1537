"""The one routine that reads and digests a file, importable in a few milliseconds.

Only standard-library modules that Python loads anyway (hashlib, mmap, os, stat) are
imported, so the console script can start hashing before click is loaded
(:mod:`refkit._console`). :func:`refkit.hashing.digest_file` builds on it.

The file is memory-mapped and each hash consumes it in a single call: hashlib then holds
no GIL for the whole file, so other threads keep running, and nothing is copied. Files that
cannot be mapped (empty ones, pipes) are read in large chunks. Raises OSError unchanged.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
from collections.abc import Sequence

_CHUNK = 1 << 24


def digest_path(path: str | os.PathLike[str], algorithms: Sequence[str]) -> tuple[int, list[bytes]]:
    """Size and digests (one per algorithm, in order) of the file at ``path``."""
    hashers = [hashlib.new(a) for a in algorithms]
    with open(path, "rb") as fh:
        info = os.fstat(fh.fileno())
        if info.st_size > 0 and stat.S_ISREG(info.st_mode):
            size = info.st_size
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                for h in hashers:
                    h.update(mapped)
        else:
            size = 0
            while chunk := fh.read(_CHUNK):
                for h in hashers:
                    h.update(chunk)
                size += len(chunk)
    return size, [h.digest() for h in hashers]
