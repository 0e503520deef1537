"""Walking a model directory: which files a model manifest covers, and the refusals.

Rules (the same files as model_signing 1.1.1 picks, with clearer refusals):

* the model is a directory (a single file is refused: model_signing names it ``.``);
* every regular file below the root, hidden ones included; directories, empty ones
  included, contribute only their files;
* ignored: a path equal to an ignore entry or below it (entries are relative POSIX paths,
  as model_signing takes them; an entry with ``*``, ``?`` or ``[`` is also matched as a
  glob against the whole relative path);
* symbolic links are refused unless allowed; an allowed link must resolve to a regular
  file inside the model directory (never followed outside it; loops and dangling links
  are refused); a link to a directory is refused (model_signing silently skips its
  content, which would leave files unsigned);
* devices, FIFOs and sockets are refused; so are names that are not valid UTF-8 (a name
  must be the same string on every verifier's machine).

Each file is returned with the ``stat`` identity taken while walking (size, mtime_ns,
inode, device): hashing compares it again before and after reading.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from refkit.errors import InputError, input_os_error


class TreeError(InputError):
    """The model directory holds something a model manifest cannot cover."""


@dataclass(frozen=True)
class FileEntry:
    """A file to hash: its manifest name, the path to open, and its identity."""

    name: str  # POSIX path relative to the model root
    path: str  # what to open (a symlink's resolved target)
    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, name: str, path: str, info: os.stat_result) -> FileEntry:
        return cls(name, path, info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev)

    def same_file(self, info: os.stat_result) -> bool:
        return (info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev) == (
            self.size,
            self.mtime_ns,
            self.inode,
            self.device,
        )


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def normalise_ignore(entries: Iterable[str]) -> tuple[str, ...]:
    """Ignore entries as relative POSIX paths (``./a/`` → ``a``); ``..`` entries and
    absolute paths outside the model are dropped by the caller."""
    out = []
    for entry in entries:
        parts = [p for p in entry.replace(os.sep, "/").split("/") if p not in ("", ".")]
        if parts:
            out.append("/".join(parts))
    return tuple(dict.fromkeys(out))


def is_ignored(name: str, ignore: Iterable[str]) -> bool:
    for entry in ignore:
        if name == entry or name.startswith(entry + "/"):
            return True
        if _is_glob(entry) and fnmatch.fnmatchcase(name, entry):
            return True
    return False


def _utf8_name(parent: str, raw: str, root: Path) -> str:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(raw)
        where = f"{parent}/" if parent else ""
        raise TreeError(
            f"{root}: the name {where}{shown!r} is not valid UTF-8",
            hint="rename the file: a model manifest names files as UTF-8 text",
        ) from None
    return raw


def walk(
    root: Path, *, ignore: Iterable[str] = (), allow_symlinks: bool = False
) -> list[FileEntry]:
    """Every file of the model directory ``root``, unsorted."""
    ignore = tuple(ignore)
    try:
        top = os.lstat(root)
    except OSError as exc:
        raise input_os_error(exc, root, what="model directory") from exc
    if stat.S_ISLNK(top.st_mode):
        raise TreeError(f"{root}: the model path is a symbolic link; give the directory itself")
    if not stat.S_ISDIR(top.st_mode):
        raise TreeError(
            f"{root}: not a directory",
            hint="a model is a directory; put a single-file model in one",
        )
    real_root = os.path.realpath(root)
    found: list[FileEntry] = []
    stack: list[tuple[str, str]] = [("", os.fspath(root))]
    while stack:
        rel_dir, directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            raise input_os_error(exc, directory, what="model directory") from exc
        for entry in entries:
            name = _utf8_name(rel_dir, entry.name, root)
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if is_ignored(rel, ignore):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as exc:
                raise input_os_error(exc, entry.path) from exc
            mode = info.st_mode
            if stat.S_ISDIR(mode):
                stack.append((rel, entry.path))
            elif stat.S_ISREG(mode):
                found.append(FileEntry.of(rel, entry.path, info))
            elif stat.S_ISLNK(mode):
                found.append(_symlink(root, real_root, rel, entry.path, allow_symlinks))
            else:
                raise TreeError(
                    f"{root}: {rel} is a special file (device, FIFO or socket)",
                    hint="a model holds regular files only; remove it or ignore its path",
                )
    return found


def _symlink(root: Path, real_root: str, rel: str, path: str, allowed: bool) -> FileEntry:
    if not allowed:
        raise TreeError(
            f"{root}: {rel} is a symbolic link",
            hint="replace it with the file, ignore its path, or allow symbolic links",
        )
    try:
        target = os.path.realpath(path, strict=True)
    except OSError as exc:
        raise TreeError(
            f"{root}: {rel} is a dangling or looping symbolic link ({exc.strerror})"
        ) from None
    if os.path.commonpath([real_root, target]) != real_root:
        raise TreeError(
            f"{root}: {rel} is a symbolic link that leaves the model directory",
            hint="a model's files must all be inside its directory",
        )
    try:
        info = os.stat(target)
    except OSError as exc:
        raise input_os_error(exc, path) from exc
    if stat.S_ISDIR(info.st_mode):
        raise TreeError(
            f"{root}: {rel} is a symbolic link to a directory, which is not followed",
            hint="replace it with the directory, or ignore its path",
        )
    if not stat.S_ISREG(info.st_mode):
        raise TreeError(f"{root}: {rel} links to a special file (device, FIFO or socket)")
    return FileEntry.of(rel, target, info)
