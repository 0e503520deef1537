"""The one way refkit writes an output file: atomically, never through a link, never clobbering.

Every file refkit writes (statements, bundles, exports, keys, locks, extracted inputs,
VMSA dumps) goes through this module:

* the bytes go to a temporary file beside the target, with a random name, created with
  ``O_CREAT | O_EXCL | O_NOFOLLOW`` (a name planted in advance, or a symlink planted under
  it, makes the create fail; nothing is ever written through a link), mode 0600 until the
  requested mode is set with ``fchmod``; the file is flushed and ``fsync``-ed;
* it is then put in place: without ``force`` by ``link`` (which fails if the name exists
  by then, so nothing appearing meanwhile is clobbered), with ``force`` by ``rename``
  (which replaces a symlinked target's *link*, never the file it points at);
* a reader therefore sees the old file or the new one, never half of one, and a crash
  leaves at most a ``.NAME.XXXX.tmp`` file behind, never a truncated target.

:func:`write_files` writes several files as a unit (a key and its ``.pub``, a set of VMSA
pages): every target is checked before any is written, every temporary file is written
before any is put in place, and a failure while placing takes back the files this call
already linked. "All or nothing" holds as far as the file system allows: a rename that
fails after an earlier one succeeded (with ``force``) cannot restore the replaced file.

:class:`Batch` is the streaming form (downloads, extraction): add a target, write to the
handle it returns, then :meth:`Batch.commit`.

One error mapping, used by every command (README, *Exit codes*):

==========================================================  =========================
what went wrong                                             error (exit code)
==========================================================  =========================
the output directory does not exist or is not a directory   :class:`InputError` (2)
the target exists and ``force`` was not given               :class:`TargetExists` (2)
a directory (or other non-file) is in the target's place    :class:`InputError` (2)
permission denied, read-only file system                    :class:`EnvironmentProblem` (3)
disk full (ENOSPC), quota exceeded (EDQUOT), other I/O      :class:`EnvironmentProblem` (3)
==========================================================  =========================

Messages name the path and never a CLI flag; the hint for :class:`TargetExists` says
"replace" in words the CLI can map to ``--force``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final

from refkit.errors import EnvironmentProblem, InputError, RefkitError

#: Mode of files written without an explicit one.
DEFAULT_MODE: Final = 0o644

_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)


class TargetExists(InputError):
    """The target already exists and replacing it was not asked for."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(
            f"{path} already exists; not overwriting it",
            hint="choose another name, or ask to replace it",
        )
        self.path = Path(path)


def write_error(exc: OSError, path: Path | str) -> RefkitError:
    """The typed error for an OS failure while writing ``path`` (see the module table)."""
    reason = exc.strerror or str(exc)
    directory = _directory(Path(path))
    if exc.errno == errno.ENOENT:
        return InputError(f"output directory {directory} does not exist")
    if exc.errno == errno.ENOTDIR:
        return InputError(f"output directory {directory} is not a directory")
    if exc.errno == errno.EISDIR:
        return InputError(f"cannot write {path}: it is a directory")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return EnvironmentProblem(f"cannot write {path}: permission denied")
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return EnvironmentProblem(f"cannot write {path}: no space left ({reason})")
    if exc.errno == errno.EROFS:
        return EnvironmentProblem(f"cannot write {path}: read-only file system")
    return EnvironmentProblem(f"cannot write {path}: {reason}")


def check_target(path: Path | str, *, force: bool) -> None:
    """Refuse a target that cannot be written: missing directory, a directory or other
    non-file in its place, or an existing file without ``force``. Follows no link."""
    target = Path(path)
    if not target.name or target.name in (".", ".."):
        raise InputError(f"cannot write {os.fspath(path)!r}: not a file name")
    directory = _directory(target)
    try:
        dir_mode = os.stat(directory).st_mode
    except OSError as exc:
        raise write_error(exc, target) from None
    if not stat.S_ISDIR(dir_mode):
        raise InputError(f"output directory {directory} is not a directory")
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise write_error(exc, target) from None
    if stat.S_ISDIR(mode):
        raise InputError(f"cannot write {target}: it is a directory")
    if not force:
        raise TargetExists(target)
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise InputError(f"cannot write {target}: it is not a regular file; not replacing it")


def _directory(target: Path) -> Path:
    return target.parent if str(target.parent) else Path(".")


class _Staged:
    """A temporary file beside its target, open for writing."""

    def __init__(self, target: Path, mode: int, replace: bool) -> None:
        self.target = target
        self.mode = mode
        self.replace = replace
        directory = _directory(target)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
        for _attempt in range(100):
            name = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
            try:
                fd = os.open(name, flags, 0o600)
            except FileExistsError:
                continue
            except OSError as exc:
                raise write_error(exc, target) from None
            break
        else:  # pragma: no cover - 100 collisions of 48 random bits
            raise EnvironmentProblem(f"cannot create a temporary file beside {target}")
        self.temp = name
        self.handle: BinaryIO = os.fdopen(fd, "wb")
        self.placed = False

    def finish(self) -> None:
        """Flush, fsync, set the mode, close."""
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            os.fchmod(self.handle.fileno(), self.mode)
        finally:
            self.handle.close()

    def place(self) -> None:
        if self.replace:
            os.replace(self.temp, self.target)
        else:
            try:
                os.link(self.temp, self.target, follow_symlinks=False)
            except FileExistsError:
                raise TargetExists(self.target) from None
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                # A file system without hard links: check, then rename (a small window).
                if os.path.lexists(self.target):
                    raise TargetExists(self.target) from None
                os.replace(self.temp, self.target)
        self.placed = True

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(OSError):
            os.unlink(self.temp)


class Batch:
    """Files written as a unit, streaming: :meth:`add` a target, write to the handle it
    returns, then :meth:`commit`. Leaving the ``with`` block without committing (or on an
    error) removes every temporary file and leaves the targets as they were."""

    def __init__(self) -> None:
        self._staged: list[_Staged] = []

    def __enter__(self) -> Batch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()

    def add(self, path: Path | str, *, mode: int = DEFAULT_MODE, replace: bool = False) -> BinaryIO:
        """A handle to write ``path``'s new content into. ``replace`` allows an existing
        file at ``path`` to be replaced; the caller checks targets first
        (:func:`check_target`) when it wants every refusal before any work."""
        staged = _Staged(Path(path), mode, replace)
        self._staged.append(staged)
        return staged.handle

    def temp_path(self, handle: BinaryIO) -> Path:
        """The temporary file behind a handle from :meth:`add`, for an external program
        that writes the content by name (mkfs.erofs). The program must write into that
        file (open it, never replace or unlink it); the batch still owns, places or
        removes it."""
        for staged in self._staged:
            if staged.handle is handle:
                return staged.temp
        raise ValueError("not a handle of this batch")

    def commit(self) -> None:
        """Put every file in place, or none of those this batch would have created."""
        current: _Staged | None = None
        try:
            for staged in self._staged:
                current = staged
                staged.finish()
            for staged in self._staged:
                current = staged
                staged.place()
        except OSError as exc:
            self._take_back()
            target = current.target if current is not None else "output"
            raise write_error(exc, target) from exc
        except BaseException:
            self._take_back()
            raise
        finally:
            self.discard()

    def _take_back(self) -> None:
        """Remove the targets this batch created by link (never a replaced file)."""
        for staged in self._staged:
            if staged.placed and not staged.replace:
                with contextlib.suppress(OSError):
                    if os.path.samestat(os.lstat(staged.target), os.lstat(staged.temp)):
                        os.unlink(staged.target)

    def discard(self) -> None:
        """Remove every temporary file (the placed targets stay)."""
        for staged in self._staged:
            staged.discard()
        self._staged.clear()


def write_files(files: Sequence[tuple[Path | str, bytes, int]], *, force: bool = False) -> None:
    """Write ``(path, data, mode)`` files as a unit; see the module docstring.

    Every target is checked (:func:`check_target`) before any is written; with ``force``
    existing regular files (or links, which are replaced, not followed) are replaced.
    """
    paths = [Path(p) for p, _data, _mode in files]
    if len({os.path.abspath(p) for p in paths}) != len(paths):
        raise InputError("the same output file is named twice: " + ", ".join(map(str, paths)))
    for path in paths:
        check_target(path, force=force)
    with Batch() as batch:
        for path, (_p, data, mode) in zip(paths, files, strict=True):
            handle = batch.add(path, mode=mode, replace=force)
            try:
                handle.write(data)
            except OSError as exc:
                raise write_error(exc, path) from exc
        batch.commit()


def write_file(
    path: Path | str, data: bytes, *, mode: int = DEFAULT_MODE, force: bool = False
) -> None:
    """Write one file atomically; refuse to replace an existing one unless ``force``."""
    write_files([(path, data, mode)], force=force)


@contextlib.contextmanager
def open_output(
    path: Path | str, *, mode: int = DEFAULT_MODE, force: bool = False
) -> Iterator[BinaryIO]:
    """Stream one file's content: checked first, placed when the block ends without error."""
    check_target(path, force=force)
    with Batch() as batch:
        handle = batch.add(path, mode=mode, replace=force)
        try:
            yield handle
        except OSError as exc:
            raise write_error(exc, path) from exc
        batch.commit()
