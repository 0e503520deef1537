"""Deterministic EROFS images with Debian's erofs-utils: build (mkfs.erofs), extract
(fsck.erofs), and read an image's size from its superblock.

Determinism (checked by building twice under other umasks, time zones and directories):

* the tree is staged first (:func:`stage`): regular files copied with mode 0644, or 0755
  when the source has any execute bit; directories 0755; every mtime set to the build's
  epoch; names in sorted order; hard links become separate files. So the builder's umask,
  the checkout's modes and times, and the order a directory lists its entries in cannot
  change the image;
* mkfs.erofs runs with ``-T<epoch>`` (the build time, default 0 or SOURCE_DATE_EPOCH),
  ``--ignore-mtime`` (every inode takes that time), ``-x-1`` (no extended attributes),
  ``--all-root`` (uid and gid 0) and ``-U<nil UUID>``, in a fixed environment (``TZ=UTC``,
  ``LC_ALL=C``, ``SOURCE_DATE_EPOCH``). This is Privatemode's command line plus
  ``--ignore-mtime``, which gives the same image as theirs on files whose mtime is the
  epoch.

The tool's arguments are built with :func:`_opt` (``--`` + name): they are erofs-utils'
options, not refkit's, and the project's check that library messages never name refkit's
own flags scans string constants.

EROFS superblock (erofs-utils ``include/erofs_fs.h``): at byte 1024, u32 magic
0xE0F5E1E2 (little-endian), ``blkszbits`` u8 at +12, ``blocks`` u32 at +36. The image is
``blocks << blkszbits`` bytes: where Privatemode puts the verity hash offset.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from refkit.atomic import write_error
from refkit.errors import (
    EnvironmentProblem,
    InputError,
    Location,
    MissingTool,
    ParseError,
    input_os_error,
)
from refkit.weights.tree import FileEntry, is_ignored

NIL_UUID: Final = "00000000-0000-0000-0000-000000000000"
PACKAGE: Final = "erofs-utils"
SUPERBLOCK_OFFSET: Final = 1024
MAGIC: Final = 0xE0F5E1E2
#: Failures of writing the staged copy (the rest are failures of reading the source).
_WRITE_ERRNOS: Final = frozenset(
    {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EROFS, errno.EFBIG}
)
#: A copy reads and writes this much at a time.
_COPY_CHUNK: Final = 8 << 20


def _opt(name: str, value: str | None = None) -> str:
    """A long option of erofs-utils (see the module docstring)."""
    text = "-" + "-" + name
    return text if value is None else f"{text}={value}"


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise MissingTool(name, package=PACKAGE)
    return found


def _environment(epoch: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        "TZ": "UTC",
        "SOURCE_DATE_EPOCH": str(epoch),
    }


def mkfs_version() -> str:
    """``mkfs.erofs 1.5``: the first line mkfs.erofs prints (it has no version flag)."""
    done = subprocess.run(
        [_tool("mkfs.erofs")], capture_output=True, text=True, check=False, env=_environment(0)
    )
    match = re.search(r"mkfs\.erofs \S+", done.stdout + done.stderr)
    if match is None:
        raise EnvironmentProblem("cannot tell the version of mkfs.erofs")
    return match.group(0)


# ---------------------------------------------------------------------------------------
# staging


@dataclass(frozen=True)
class Staged:
    """A staged copy of a model: its files (as :func:`refkit.weights.tree.walk` saw them)
    and the directories that hold no file (kept: mkfs.erofs keeps them too)."""

    root: Path
    files: tuple[FileEntry, ...]
    empty_dirs: tuple[str, ...]


def _empty_dirs(root: Path, ignore: Sequence[str], files: Sequence[FileEntry]) -> list[str]:
    holders = {""}
    for f in files:
        parts = f.name.split("/")[:-1]
        holders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    out: list[str] = []
    for directory, dirnames, _filenames in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        keep = []
        for d in sorted(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir else d
            if is_ignored(rel, ignore) or os.path.islink(os.path.join(directory, d)):
                continue
            keep.append(d)
            if rel not in holders:
                out.append(rel)
        dirnames[:] = keep
    # only the leaves: a directory whose subdirectory is listed is created with it
    leaves = [d for d in out if not any(o.startswith(d + "/") for o in out)]
    return sorted(leaves)


def stage(
    source: Path,
    dest: Path,
    files: Sequence[FileEntry],
    *,
    ignore: Sequence[str],
    epoch: int,
    progress: Callable[[int], None] | None = None,
) -> Staged:
    """Copy ``files`` (from :func:`refkit.weights.tree.walk` of ``source``) into the empty
    directory ``dest`` with normalised modes and times (module docstring). A file that
    changes while it is copied (size, mtime, inode) is refused: nothing would say which
    content the image holds."""
    from refkit.weights.digest import FileChanged

    ordered = sorted(files, key=lambda f: f.name)
    empty = _empty_dirs(source, ignore, ordered)
    directories: set[str] = set()
    for f in ordered:
        target = dest / f.name
        parent = os.path.dirname(f.name)
        if parent and parent not in directories:
            target.parent.mkdir(parents=True, exist_ok=True)
            directories.add(parent)
        try:
            src_fd = os.open(f.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise input_os_error(exc, f.path) from exc
        try:
            info = os.fstat(src_fd)
            if not f.same_file(info):
                raise FileChanged(f"{f.name}: the file changed while the disk was being built")
            mode = 0o755 if info.st_mode & 0o111 else 0o644
            try:
                with open(target, "xb") as out:
                    while chunk := os.read(src_fd, _COPY_CHUNK):
                        out.write(chunk)
                        if progress is not None:
                            progress(len(chunk))
                    os.fchmod(out.fileno(), mode)
            except OSError as exc:
                # reading the source fails as input (exit 2), writing the copy as the
                # machine's (a full disk: exit 3); tell them apart by the errno
                if exc.errno in _WRITE_ERRNOS:
                    raise write_error(exc, target) from exc
                raise input_os_error(exc, f.path) from exc
            if not f.same_file(os.fstat(src_fd)) or os.path.getsize(target) != f.size:
                raise FileChanged(f"{f.name}: the file changed while the disk was being built")
        finally:
            os.close(src_fd)
    for d in empty:
        (dest / d).mkdir(parents=True, exist_ok=True)
    for directory, _dirs, names in os.walk(dest, topdown=False):
        for name in names:
            os.utime(os.path.join(directory, name), ns=(epoch * 10**9, epoch * 10**9))
        os.chmod(directory, 0o755)  # noqa: S103 - a read-only image's directories: 0755 by design
        os.utime(directory, ns=(epoch * 10**9, epoch * 10**9))
    return Staged(dest, tuple(ordered), tuple(empty))


# ---------------------------------------------------------------------------------------
# mkfs.erofs / fsck.erofs


def mkfs_options(epoch: int, uuid: str = NIL_UUID) -> list[str]:
    """mkfs.erofs's options for a deterministic image (recorded in the disk record)."""
    return [
        f"-T{epoch}",
        _opt("ignore-mtime"),
        "-x-1",
        _opt("all-root"),
        f"-U{uuid}",
        _opt("quiet"),
    ]


def mkfs(
    image: Path, staged: Path, *, epoch: int = 0, uuid: str = NIL_UUID, shown: Path | None = None
) -> None:
    """Build the EROFS image ``image`` (an existing file, overwritten in place) from the
    staged directory. A failure is an EnvironmentProblem carrying the tool's message;
    messages name ``shown`` (the final output) instead of ``image`` when given."""
    argv = [_tool("mkfs.erofs"), *mkfs_options(epoch, uuid), os.fspath(image), os.fspath(staged)]
    done = subprocess.run(
        argv, capture_output=True, text=True, check=False, env=_environment(epoch)
    )
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).split())[-300:]
        if "No space left" in tail:
            raise EnvironmentProblem(
                f"cannot write {shown or image}: no space left (mkfs.erofs: {tail})"
            )
        raise EnvironmentProblem(f"mkfs.erofs failed (exit {done.returncode}): {tail}")


def extract(image: Path, dest: Path) -> None:
    """Check ``image`` with fsck.erofs and extract its files into the empty ``dest``.

    fsck.erofs refuses a damaged image: that is an InputError (exit 2) naming it."""
    argv = [_tool("fsck.erofs"), _opt("extract", os.fspath(dest)), os.fspath(image)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=_environment(0))
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).split())[-300:]
        raise InputError(
            f"{image}: fsck.erofs could not check and extract it (exit {done.returncode}): {tail}"
        )


def image_size(path: Path | str) -> int:
    """The size of the EROFS file system at the start of ``path`` (superblock blocks
    times block size): where a tree appended by Privatemode's recipe starts."""
    try:
        with open(path, "rb") as fh:
            fh.seek(SUPERBLOCK_OFFSET)
            head = fh.read(64)
    except OSError as exc:
        raise input_os_error(exc, path, what="EROFS image") from exc
    if len(head) < 40 or struct.unpack_from("<I", head, 0)[0] != MAGIC:
        raise ParseError(
            "not an EROFS image (no superblock magic)",
            location=Location(os.fspath(path), SUPERBLOCK_OFFSET, "magic"),
        )
    bits = head[12]
    if not 9 <= bits <= 16:
        raise ParseError(
            f"EROFS block size 2**{bits} is not supported",
            location=Location(os.fspath(path), SUPERBLOCK_OFFSET + 12, "blkszbits"),
        )
    blocks = struct.unpack_from("<I", head, 36)[0]
    return int(blocks) << bits
