"""The content-addressed download cache: every pinned input fetched once, kept by sha256.

Layout: ``<root>/sha256/<first two hex digits>/<sha256>``, one file per content, mode 0444.
The root defaults to ``$XDG_CACHE_HOME/refkit/inputs`` (``~/.cache/refkit/inputs`` when
the variable is unset or not an absolute path, as the XDG base directory specification
says). Every fetch shares it: deleting an output folder no longer means downloading again.

Invariants:

* an entry is written only through :mod:`refkit.atomic` (temporary file, then rename), and
  only after the bytes streamed into it had the pinned size and sha256: an interrupted or
  wrong download never appears under a digest's name;
* nothing read from the cache is trusted: :meth:`InputCache.open` hashes the entry again
  through the handle the caller reads; an entry with other bytes (disk corruption, a user's
  edit) is removed and reported as absent, so the next source refills it;
* two processes adding the same content both succeed (the second rename replaces an
  identical file).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO, Final

from refkit.atomic import Batch, write_error
from refkit.errors import EnvironmentProblem
from refkit.hashing import StreamHasher
from refkit.inputs.errors import DigestMismatch
from refkit.inputs.store import open_verified

#: Mode of cache entries: read-only, so a builder cannot change a cached input in place.
ENTRY_MODE: Final = 0o444
_CHUNK: Final = 1024 * 1024


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/refkit/inputs``, or ``~/.cache/refkit/inputs``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME", "")
    if not base or not os.path.isabs(base):  # the spec: relative values are ignored
        home = env.get("HOME") or os.path.expanduser("~")
        base = os.path.join(home, ".cache")
    return Path(base, "refkit", "inputs")


class InputCache:
    """Pinned bytes by sha256 under one directory; see the module docstring."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def open(self, sha256: str, size: int) -> BinaryIO | None:
        """The entry open for reading, verified through that handle; None if absent or
        corrupt (a corrupt entry is removed)."""
        path = self.path_for(sha256)
        try:
            return open_verified(path, sha256=sha256, size=size, what="cached input")
        except FileNotFoundError:
            return None
        except DigestMismatch:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        except OSError:
            return None  # unreadable: treated as absent, the next source decides

    def lookup(self, sha256: str, size: int) -> Path | None:
        """The entry's path once its bytes were checked, or None."""
        handle = self.open(sha256, size)
        if handle is None:
            return None
        handle.close()
        return self.path_for(sha256)

    def add(self, source: BinaryIO, sha256: str, size: int, *, what: str) -> Path:
        """Copy ``source`` (from its current position) into the cache, checking size and
        sha256 while copying; raise :class:`DigestMismatch` (nothing kept) if they differ."""
        path = self.path_for(sha256)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EnvironmentProblem(
                f"cannot create the input cache {path.parent}: {exc.strerror or exc}",
                hint="set XDG_CACHE_HOME to a writable directory",
            ) from exc
        hasher = StreamHasher()
        try:
            with Batch() as batch:
                sink = batch.add(path, mode=ENTRY_MODE, replace=True)
                while chunk := source.read(_CHUNK):
                    hasher.update(chunk)
                    if hasher.size > size:
                        break
                    sink.write(chunk)
                got = hasher.hexdigest()
                if hasher.size != size or got != sha256:
                    shown = f"more than {size}" if hasher.size > size else str(hasher.size)
                    raise DigestMismatch(
                        f"{what} has {shown} bytes, sha256 {got}; pinned: {size} bytes, "
                        f"sha256 {sha256}"
                    )
                batch.commit()
        except OSError as exc:
            raise write_error(exc, path) from exc
        return path

    def add_file(self, path: Path, sha256: str, size: int, *, what: str) -> Path:
        """:meth:`add` from a file (a download in a temporary place, a mirror's copy)."""
        try:
            with path.open("rb") as handle:
                return self.add(handle, sha256, size, what=what)
        except FileNotFoundError as exc:
            raise DigestMismatch(f"{what}: {path} vanished before it was cached") from exc
