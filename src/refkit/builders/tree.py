"""Deterministic file trees for the builders: safe extraction, normalised modes, sorted
walks and a reproducible tar writer.

Every builder that archives or images a tree goes through this module, so that one set of
rules decides what a tree may hold and how its metadata is fixed:

* **modes**: directories 0755; regular files 0755 when the source has any execute bit,
  else 0644; symbolic links 0777 (Linux ignores a link's mode). Set-uid, set-gid and
  sticky bits are dropped: a git checkout's modes follow the umask, and a root file system
  built from packages without maintainer scripts has no business with set-uid programs.
* **names**: relative POSIX paths, valid UTF-8, without ``..``, empty or ``.`` components;
  walks and archives list them in code-point order (which is UTF-8 byte order), parents
  before children.
* **types**: regular files, directories and symbolic links. Device files, FIFOs and
  sockets are refused. Hard links become separate copies (an inode number is an accident
  of the build machine). A symbolic link whose target, read lexically from the link's
  directory (an absolute target from the tree's root, as a chroot reads it), leaves the
  tree is refused; so is any entry that would be written through a link already in the
  tree.
* **metadata in archives**: owner and group 0 with empty names, every mtime the build's
  ``SOURCE_DATE_EPOCH``, no access or change times, no extended attributes.

Extraction never follows a link: every file is created with ``O_EXCL | O_NOFOLLOW`` below
directories this module created itself.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Final, Literal

from refkit.errors import EnvironmentProblem, InputError, Location, ParseError, input_os_error
from refkit.inputs.errors import UnsafeArchive
from refkit.inputs.lock import normalize_member_path

Kind = Literal["file", "dir", "symlink"]

DIR_MODE: Final = 0o755
EXEC_MODE: Final = 0o755
FILE_MODE: Final = 0o644
LINK_MODE: Final = 0o777
#: Most entries one archive or tree may have (memory for the index stays bounded).
MAX_ENTRIES: Final = 1_000_000
_CHUNK: Final = 1 << 20
_TAR_ERRORS: Final = (tarfile.TarError, EOFError, OSError, ValueError, UnicodeError)


def normalised_mode(kind: Kind, mode: int) -> int:
    """The mode an entry of ``kind`` gets whatever its source mode (module docstring)."""
    if kind == "dir":
        return DIR_MODE
    if kind == "symlink":
        return LINK_MODE
    return EXEC_MODE if mode & 0o111 else FILE_MODE


def link_escapes(path: str, target: str) -> bool:
    """Whether the symbolic link ``path`` (relative to the tree root) pointing at
    ``target`` leaves the tree when read lexically (absolute targets from the root)."""
    if not target or "\x00" in target:
        return True
    base = [] if target.startswith("/") else path.split("/")[:-1]
    depth = len(base)
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        else:
            depth += 1
    return False


def resolve_lexically(path: str, target: str) -> str:
    """The tree path a link at ``path`` names (lexically; ``""`` is the root). Assumes
    :func:`link_escapes` is false."""
    start = "" if target.startswith("/") else posixpath.dirname(path)
    joined = posixpath.normpath(posixpath.join("/", start, target))
    return joined.lstrip("/")


@dataclass(frozen=True)
class Node:
    """One entry of a tree as the builders archive it."""

    path: str
    kind: Kind
    mode: int
    size: int = 0
    target: str = ""
    source: Path | None = None
    """The file holding a regular file's bytes."""


def _utf8(name: str, where: Path) -> None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{where}: a name is not valid UTF-8 ({name.encode('utf-8', 'surrogateescape')!r})",
            hint="a name must be the same string on every machine that rebuilds the artifact",
        ) from None


def walk(root: Path) -> list[Node]:
    """Every entry below ``root`` (not the root itself), sorted, with normalised modes.

    Refuses devices, FIFOs, sockets, non-UTF-8 names and links that leave the tree
    (:class:`InputError`, exit 2)."""
    nodes: list[Node] = []

    def visit(directory: Path, prefix: str) -> None:
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            raise input_os_error(exc, directory, what="directory") from exc
        for name in names:
            _utf8(name, directory)
            full = directory / name
            rel = f"{prefix}{name}"
            try:
                info = os.lstat(full)
            except OSError as exc:
                raise input_os_error(exc, full) from exc
            if len(nodes) >= MAX_ENTRIES:
                raise InputError(f"{root}: more than {MAX_ENTRIES} entries")
            if stat.S_ISDIR(info.st_mode):
                nodes.append(Node(rel, "dir", DIR_MODE))
                visit(full, rel + "/")
            elif stat.S_ISREG(info.st_mode):
                mode = normalised_mode("file", info.st_mode)
                nodes.append(Node(rel, "file", mode, info.st_size, source=full))
            elif stat.S_ISLNK(info.st_mode):
                target = os.readlink(full)
                _utf8(target, full)
                if link_escapes(rel, target):
                    raise UnsafeArchive(f"{full}: the link to {target!r} leaves the tree")
                nodes.append(Node(rel, "symlink", LINK_MODE, target=target))
            else:
                raise UnsafeArchive(
                    f"{full}: a device file, FIFO or socket cannot be part of an artifact"
                )

    visit(root, "")
    return nodes


# ---------------------------------------------------------------------------------------
# extraction


class Extractor:
    """Writes entries into the empty directory ``dest`` under the module's rules.

    Names go through ``rename`` (e.g. the merged-/usr mapping) after they were checked.
    Entries from several archives may be merged: a directory may come more than once, a
    symbolic link more than once with the same target; anything else named twice is a
    conflict naming both origins (:class:`InputError`)."""

    def __init__(self, dest: Path, *, rename: Callable[[str], str] | None = None) -> None:
        self.dest = dest
        self.rename = rename or (lambda name: name)
        #: path -> (kind, origin, link target)
        self.entries: dict[str, tuple[Kind, str, str]] = {}

    def _check_parents(self, path: str, origin: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(len(parts)):
            parent = "/".join(parts[: i + 1])
            known = self.entries.get(parent)
            if known is None:
                (self.dest / parent).mkdir(mode=DIR_MODE, exist_ok=True)
                self.entries[parent] = ("dir", origin, "")
            elif known[0] != "dir":
                raise UnsafeArchive(
                    f"{origin}: {path!r} would be written through {parent!r}, a "
                    f"{known[0]} from {known[1]}"
                )

    def _claim(self, path: str, kind: Kind, origin: str, target: str = "") -> bool:
        """Record ``path``; False when it is already there identically (nothing to do)."""
        if len(self.entries) >= MAX_ENTRIES:
            raise InputError(f"{origin}: more than {MAX_ENTRIES} entries")
        known = self.entries.get(path)
        if known is not None:
            if known[0] == kind and kind in ("dir", "symlink") and known[2] == target:
                return False
            raise InputError(
                f"{origin}: {path!r} is also a {known[0]} from {known[1]}; which one counts "
                "is ambiguous",
                hint="remove one of the two inputs, or build them as separate artifacts",
            )
        self._check_parents(path, origin)
        self.entries[path] = (kind, origin, target)
        return True

    def directory(self, name: str, origin: str) -> None:
        path = self.rename(name)
        if self._claim(path, "dir", origin):
            (self.dest / path).mkdir(mode=DIR_MODE)

    def symlink(self, name: str, target: str, origin: str) -> None:
        path = self.rename(name)
        if link_escapes(path, target):
            raise UnsafeArchive(f"{origin}: the link {name!r} -> {target!r} leaves the tree")
        if self._claim(path, "symlink", origin, target):
            os.symlink(target, self.dest / path)

    def file(self, name: str, data: IO[bytes], mode: int, origin: str) -> None:
        path = self.rename(name)
        self._claim(path, "file", origin)
        target = self.dest / path
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o600)
        try:
            with os.fdopen(fd, "wb", closefd=False) as out:
                while chunk := data.read(_CHUNK):
                    out.write(chunk)
            os.fchmod(fd, normalised_mode("file", mode))
        finally:
            os.close(fd)

    def hardlink(self, name: str, target: str, origin: str) -> None:
        """A hard link becomes a copy of the file it names (already extracted)."""
        known = self.entries.get(self.rename(target))
        if known is None or known[0] != "file":
            raise UnsafeArchive(
                f"{origin}: the hard link {name!r} names {target!r}, which is not a regular "
                "file extracted before it"
            )
        source = self.dest / self.rename(target)
        with open(source, "rb") as data:
            self.file(name, data, os.stat(source).st_mode, origin)

    def add(self, name: str, info: tarfile.TarInfo, tar: tarfile.TarFile, origin: str) -> None:
        """One checked tar entry (``name`` already normalised)."""
        if info.isdir():
            self.directory(name, origin)
        elif info.issym():
            self.symlink(name, info.linkname, origin)
        elif info.islnk():
            linked = normalize_member_path(info.linkname)
            if linked is None:
                raise UnsafeArchive(
                    f"{origin}: the hard link {name!r} names {info.linkname!r}, outside the tree"
                )
            self.hardlink(name, linked, origin)
        elif info.isreg():
            data = tar.extractfile(info)
            assert data is not None  # a regular member always has data
            self.file(name, data, info.mode, origin)
        else:
            raise UnsafeArchive(
                f"{origin}: {name!r} is a device file, FIFO or socket; refusing the archive",
                hint="an artifact holds regular files, directories and symbolic links only",
            )


def checked_entries(
    archive: Path, *, source: str | None = None
) -> Iterator[tuple[str, tarfile.TarInfo, tarfile.TarFile]]:
    """Each entry of the tar archive (plain, gzip, bzip2 or xz) as (normalised name,
    info, open tar). Absolute names and ``..`` refuse the archive; so does a name that
    appears twice (which copy counts is ambiguous)."""
    shown = source or str(archive)
    seen: set[str] = set()
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for info in tar:
                name = normalize_member_path(info.name)
                if name is None:
                    if info.name in (".", "./") and info.isdir():
                        continue
                    raise UnsafeArchive(
                        f"{shown}: member {info.name!r} is not a safe relative path",
                        hint="an archive whose paths leave its root is refused as a whole",
                    )
                if name in seen:
                    raise UnsafeArchive(f"{shown}: holds {name!r} twice")
                seen.add(name)
                if len(seen) > MAX_ENTRIES:
                    raise UnsafeArchive(f"{shown}: more than {MAX_ENTRIES} entries")
                yield name, info, tar
    except FileNotFoundError as exc:
        raise input_os_error(exc, archive) from exc
    except _TAR_ERRORS as exc:
        raise ParseError(
            f"not a valid tar archive: {exc}", location=Location(shown), hint=None
        ) from exc


def extract_tar(archive: Path, dest: Path, *, source: str | None = None) -> None:
    """Extract the tar ``archive`` into the empty directory ``dest`` safely (module
    docstring); malformed archives are a :class:`ParseError`, unsafe ones
    :class:`UnsafeArchive` (both exit 2)."""
    shown = source or str(archive)
    extractor = Extractor(dest)
    for name, info, tar in checked_entries(archive, source=shown):
        try:
            extractor.add(name, info, tar, shown)
        except _TAR_ERRORS as exc:
            if isinstance(exc, OSError) and exc.errno is not None and exc.filename:
                raise EnvironmentProblem(f"cannot extract {name!r}: {exc}") from exc
            raise ParseError(
                f"member {name!r} cannot be read: {exc}", location=Location(shown)
            ) from exc


def tree_of(path: Path, workdir: Path, *, source: str) -> Path:
    """A directory holding the tree ``path`` names: the directory itself, or a tar
    archive extracted into ``workdir`` (which must not exist yet)."""
    if path.is_dir():
        return path
    workdir.mkdir(mode=DIR_MODE)
    extract_tar(path, workdir, source=source)
    return workdir


def fix_metadata(root: Path, epoch: int) -> None:
    """Set normalised modes and the epoch as every mtime on a tree this process wrote
    (for tree-shaped outputs)."""
    times = (epoch * 10**9, epoch * 10**9)
    for node in reversed(walk(root)):
        target = root / node.path
        if node.kind != "symlink":
            os.chmod(target, node.mode)
        os.utime(target, ns=times, follow_symlinks=False)
    os.chmod(root, DIR_MODE)
    os.utime(root, ns=times)


# ---------------------------------------------------------------------------------------
# tar writer


def _tar_info(node: Node, epoch: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(node.path)
    info.mode = node.mode
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = epoch
    if node.kind == "dir":
        info.type = tarfile.DIRTYPE
    elif node.kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = node.target
    else:
        info.type = tarfile.REGTYPE
        info.size = node.size
    return info


def write_tar(nodes: Iterable[Node], out: BinaryIO, *, epoch: int) -> None:
    """A reproducible POSIX (pax) tar of ``nodes`` (sorted by the caller, e.g.
    :func:`walk`) to ``out``: fixed owners and times, normalised modes, no pax times.
    A file whose size changed since the walk is refused."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for node in nodes:
            info = _tar_info(node, epoch)
            if node.kind != "file":
                tar.addfile(info)
                continue
            assert node.source is not None
            try:
                with open(node.source, "rb") as data:
                    if os.fstat(data.fileno()).st_size != node.size:
                        raise InputError(f"{node.source}: the file changed during the build")
                    tar.addfile(info, data)
            except OSError as exc:
                raise input_os_error(exc, node.source) from exc
