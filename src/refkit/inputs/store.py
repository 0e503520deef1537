"""A content-addressed view of local directories: find a file by its sha256.

Any number of directories (a mirror such as ``../shared/inputs``, a download cache, a USB
stick) are searched in the order given; file names do not matter, only bytes do.

Invariants:

* indexing is by size first: a directory is walked once (lazily, the first time a lookup
  reaches it) to map file sizes to paths, and only files whose size equals the pinned size
  are ever hashed; each directory is walked only if no earlier one had the file;
* nothing wrong is cached: a digest is remembered together with the file's identity
  (device, inode, size, modification and change times), and is recomputed when any of
  them changed;
* a hit is never trusted on its own: :func:`open_verified` hashes the file again through
  the very handle that the caller then reads, so a file replaced after the lookup is caught;
* directory symlinks are not followed (no loops, no escaping the given trees); file
  symlinks are; unreadable entries are skipped and reported, never fatal.

This module reads files only; it never writes.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from refkit.hashing import sha256_stream
from refkit.inputs.errors import DigestMismatch

__all__ = ["LocalHit", "LocalStore", "NotRegularFile", "open_regular", "open_verified"]
__all__ += ["sha256_stream"]  # re-exported for callers written before refkit.hashing had it


@dataclass(frozen=True)
class LocalHit:
    """A file whose bytes have the requested sha256."""

    path: Path
    directory: Path
    """The search directory (as given) under which it was found."""


@dataclass(frozen=True)
class _Identity:
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


def _identity(st: os.stat_result) -> _Identity:
    return _Identity(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass
class LocalStore:
    """Finds files by (size, sha256) under a list of directories; see the module doc."""

    directories: Sequence[Path]
    on_skip: Callable[[Path, str], None] | None = None
    """Told about every directory or file that could not be read (path, reason)."""
    _by_size: dict[Path, dict[int, list[Path]]] = field(default_factory=dict, repr=False)
    _digests: dict[Path, tuple[_Identity, str]] = field(default_factory=dict, repr=False)

    def find(self, sha256: str, size: int) -> LocalHit | None:
        """The first file, in directory order, with this size and sha256; None if none."""
        for directory in self.directories:
            for path in self._index(directory).get(size, ()):
                if self._digest(path, size) == sha256:
                    return LocalHit(path=path, directory=directory)
        return None

    def _skip(self, path: Path, reason: str) -> None:
        if self.on_skip is not None:
            self.on_skip(path, reason)

    def _index(self, directory: Path) -> dict[int, list[Path]]:
        cached = self._by_size.get(directory)
        if cached is not None:
            return cached
        by_size: dict[int, list[Path]] = {}
        for path, st in self._walk(directory):
            by_size.setdefault(st.st_size, []).append(path)
        for paths in by_size.values():
            paths.sort()  # a stable, chosen order: the first match is reproducible
        self._by_size[directory] = by_size
        return by_size

    def _walk(self, directory: Path) -> Iterable[tuple[Path, os.stat_result]]:
        try:
            mode: int | None = os.stat(directory).st_mode
        except (FileNotFoundError, NotADirectoryError):
            mode = None
        except OSError as exc:  # e.g. a parent without search permission
            self._skip(directory, exc.strerror or str(exc))
            return
        if mode is None or not stat.S_ISDIR(mode):
            self._skip(directory, "does not exist" if mode is None else "not a directory")
            return

        def on_error(exc: OSError) -> None:
            self._skip(Path(exc.filename or directory), exc.strerror or str(exc))

        for root, _dirs, files in os.walk(directory, onerror=on_error, followlinks=False):
            for name in files:
                path = Path(root, name)
                try:
                    st = path.stat()  # follows a file symlink
                except OSError as exc:
                    self._skip(path, exc.strerror or str(exc))
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield path, st

    def _digest(self, path: Path, size: int) -> str | None:
        try:
            with open_regular(path) as handle:
                identity = _identity(os.fstat(handle.fileno()))
                if identity.size != size:
                    return None
                cached = self._digests.get(path)
                if cached is not None and cached[0] == identity:
                    return cached[1]
                read, digest = sha256_stream(handle, limit=size)
                after = _identity(os.fstat(handle.fileno()))
        except OSError as exc:
            self._skip(path, exc.strerror or str(exc))
            return None
        if read != size or after != identity:
            return None  # changed while being read: neither use nor cache it
        self._digests[path] = (identity, digest)
        return digest


class NotRegularFile(OSError):
    """A FIFO, device or directory where a regular file was expected."""


def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` (following a file symlink) for reading, without ever blocking: a FIFO
    or device put in place of a file is refused with :class:`NotRegularFile`, not waited
    on (the open is non-blocking, the type is checked on the open handle)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_verified(path: Path, *, sha256: str, size: int, what: str) -> BinaryIO:
    """Open ``path``, check its size and sha256 through that handle, return it at offset 0.

    Raises :class:`DigestMismatch` if the bytes are not the pinned ones; the caller then
    reads exactly the bytes that were checked (short of someone rewriting the file in
    place, which the pinned digests of everything extracted from it would reveal).
    """
    handle = open_regular(path)
    try:
        read, digest = sha256_stream(handle, limit=size)
        if read != size or digest != sha256:
            actual = f"more than {size} bytes" if read > size else f"{read} bytes, sha256 {digest}"
            raise DigestMismatch(
                f"{what} {path} does not have the pinned content: {actual}; "
                f"pinned: {size} bytes, sha256 {sha256}"
            )
        handle.seek(0)
        return handle
    except BaseException:
        handle.close()
        raise
