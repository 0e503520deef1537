"""Safe, selective extraction of files from Debian binary packages (deb(5)), in Python.

A ``.deb`` is an ar(5) archive (see :mod:`refkit.inputs.ar`) whose members are, in this
order: ``debian-binary`` (the format version, ``2.0\\n``), ``control.tar[.<comp>]`` and
``data.tar[.<comp>]``; members named ``_*`` may sit between them and anything after the
data member is ignored (deb(5)). ``<comp>`` is ``gz``, ``xz``, ``bz2``, ``lzma``, ``zst`` or
nothing. The data member is a tar archive of the package's files, with names like
``./usr/share/ovmf/OVMF.amdsev.fd``.

Invariants:

* only the requested members are written, and only to the sinks the caller handed in:
  nothing is ever created from a member's name, so no archive can write outside them;
* every member name in the data archive is checked: an absolute name, a ``..`` component
  or a name that appears twice makes the whole archive refused (:class:`UnsafeArchive`),
  whether or not it was requested;
* a requested member that is a symlink or hard link is followed *inside the package*
  (absolute targets are taken relative to the package root, as a chroot would); a target
  that leaves the root, a loop, or a target that is not a regular file is refused; device
  files, FIFOs and directories are refused;
* memory and output are bounded whatever the archive: long-name and pax headers over
  :data:`MAX_TAR_HEADER_DATA`, more than :data:`MAX_TAR_ENTRIES` entries and sparse members
  are refused before tarfile buffers them, a requested member larger than the caller's
  limit is refused before any of it is written, and decompression stops at
  :data:`MAX_EXPANSION` times the compressed size (decompression bombs);
* the tar stream is read sequentially (one pass; a second one only when a requested member
  was a link), so memory stays constant whatever the package size;
* every malformed-archive failure (ar, compression, tar) is a
  :class:`~refkit.errors.ParseError` naming the file and the offset of the member.

The caller verifies the ``.deb``'s sha256 *before* calling this module, and the extracted
digests it returns *after*: this module decides what bytes a member holds, not whether they
are the pinned ones.
"""

from __future__ import annotations

import bz2
import gzip
import importlib
import io
import lzma
import posixpath
import tarfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Final, cast

from refkit.errors import EnvironmentProblem, InputError, Location, ParseError
from refkit.hashing import StreamHasher
from refkit.inputs.ar import ArMember, read_members
from refkit.inputs.errors import MemberTooLarge, UnsafeArchive
from refkit.inputs.lock import normalize_member_path

#: Compression suffixes of control.tar / data.tar that deb(5) allows.
COMPRESSIONS: Final = ("", ".gz", ".xz", ".bz2", ".lzma", ".zst")
#: How many symlinks or hard links one requested path may pass through.
MAX_LINK_HOPS: Final = 16
#: Largest control file read by :func:`read_control`.
MAX_CONTROL_BYTES: Final = 1024 * 1024
#: Largest GNU long-name or pax extended header (bytes): tarfile reads each one whole into
#: memory, so its size is checked before it is read. Real ones hold a path or a few xattrs.
MAX_TAR_HEADER_DATA: Final = 1024 * 1024
#: Most bytes a compressed tar member may expand to: this many times its compressed size, or
#: MIN_EXPANSION_BUDGET if that is more. Bounds the time a decompression bomb can take (1 GiB
#: of zeros is 785 bytes of bz2); real packages expand less than a hundredfold.
MAX_EXPANSION: Final = 1000
MIN_EXPANSION_BUDGET: Final = 1024**3
#: Most entries one tar archive may have: tarfile keeps every entry it read in memory (about
#: 0.5 KiB each), and so does the index of the data archive.
MAX_TAR_ENTRIES: Final = 1_000_000
_CHUNK: Final = 1024 * 1024

# Decompressors and tarfile signal malformed data with any of these.
_FORMAT_ERRORS: Final = (
    tarfile.TarError,
    EOFError,
    lzma.LZMAError,
    zlib.error,
    OSError,
    ValueError,
    UnicodeError,
)


@dataclass(frozen=True)
class DebLayout:
    """The members of a ``.deb`` that matter, found and checked."""

    version: str
    control: ArMember
    data: ArMember

    @property
    def data_compression(self) -> str:
        return self.data.name[len("data.tar") :]


@dataclass(frozen=True)
class Extracted:
    """What was written for one requested path."""

    path: str
    """The requested path."""
    member: str
    """The regular-file member whose bytes were written (differs for links)."""
    size: int
    sha256: str


class _SinkError(Exception):
    """Writing to a caller's sink failed: an environment problem, not a bad archive."""


def read_layout(stream: BinaryIO, *, source: str) -> DebLayout:
    """Check the deb(5) member order and the format version; find control and data."""
    members = read_members(stream, source=source)
    names = [m.name for m in members]
    if not members or members[0].name != "debian-binary":
        raise ParseError(
            f"first member is {names[0] if names else 'missing'}, not debian-binary",
            location=Location(source, members[0].header_offset if members else 8),
            hint="this is an ar archive but not a Debian package",
        )
    first = members[0]
    if first.size > 64:
        raise ParseError("debian-binary member is too large", location=Location(source, 8))
    stream.seek(first.data_offset)
    version = stream.read(first.size)
    if not version.startswith(b"2.") or not version.endswith(b"\n"):
        raise ParseError(
            f"unsupported deb format version {version!r} (expected 2.x)",
            location=Location(source, first.data_offset),
        )
    # deb(5): control.tar then data.tar, "_"-prefixed members may come between, and
    # members after data.tar are ignored.
    found: list[ArMember] = []
    for member in members[1:]:
        if len(found) == 2:
            break
        if member.name.startswith("_"):
            continue
        want = ("control", "data")[len(found)]
        if member.name not in {f"{want}.tar{c}" for c in COMPRESSIONS}:
            raise ParseError(
                f"member {member.name!r} where {want}.tar was expected",
                location=Location(source, member.header_offset),
            )
        found.append(member)
    control = found[0] if found else None
    data = found[1] if len(found) == 2 else None
    if control is None or data is None:
        raise ParseError(
            f"missing {'control.tar' if control is None else 'data.tar'} member",
            location=Location(source),
        )
    return DebLayout(version=version.decode("ascii", "replace").strip(), control=control, data=data)


class _Window(io.RawIOBase):
    """A read-only view of ``[offset, offset + size)`` of a seekable stream."""

    def __init__(self, stream: BinaryIO, offset: int, size: int) -> None:
        super().__init__()
        self._stream = stream
        self._start = offset
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._size - self._pos)
        if want <= 0:
            return 0
        self._stream.seek(self._start + self._pos)
        data = self._stream.read(want)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


class _Budget(io.RawIOBase):
    """Reads a decompressed stream, refusing the archive beyond a number of bytes."""

    def __init__(self, inner: BinaryIO, budget: int, what: str) -> None:
        super().__init__()
        self._inner = inner
        self._left = budget
        self._budget = budget
        self._what = what

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(min(len(view), self._left + 1))
        if len(data) > self._left:
            raise UnsafeArchive(
                f"{self._what} expands to more than {self._budget} bytes; refusing a "
                "decompression bomb",
                hint="a package with members refkit cannot read safely is refused as a whole",
            )
        self._left -= len(data)
        view[: len(data)] = data
        return len(data)


def _decompressed(stream: BinaryIO, member: ArMember, suffix: str, *, source: str) -> BinaryIO:
    raw = io.BufferedReader(_Window(stream, member.data_offset, member.size), _CHUNK)
    if suffix == "":
        return raw
    budget = max(MIN_EXPANSION_BUDGET, MAX_EXPANSION * member.size)
    return cast(
        BinaryIO,
        io.BufferedReader(
            _Budget(_decompressor(raw, suffix), budget, f"{source}: {member.name}"), _CHUNK
        ),
    )


def _decompressor(raw: BinaryIO, suffix: str) -> BinaryIO:
    if suffix == ".gz":
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if suffix == ".xz":
        return cast(BinaryIO, lzma.LZMAFile(raw, mode="rb", format=lzma.FORMAT_XZ))
    if suffix == ".lzma":
        return cast(BinaryIO, lzma.LZMAFile(raw, mode="rb", format=lzma.FORMAT_ALONE))
    if suffix == ".bz2":
        return cast(BinaryIO, bz2.BZ2File(raw, mode="rb"))
    if suffix == ".zst":
        return _zstd_reader(raw)
    raise InputError(f"unknown compression {suffix!r}")  # read_layout allows no other


class _MappedErrors(io.RawIOBase):
    """A reader whose decoder-specific exceptions become ValueError (a format error)."""

    def __init__(self, inner: Any, errors: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self._inner = inner
        self._errors = errors

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._inner.read(len(view))
        except self._errors as exc:
            raise ValueError(f"zstd: {exc}") from exc
        view[: len(data)] = data
        return len(data)


def _zstd_reader(raw: BinaryIO) -> BinaryIO:
    """zstd from the standard library (Python 3.14+) or the zstandard module, if present."""
    module: Any
    try:
        module = importlib.import_module("compression.zstd")
        inner: Any = module.ZstdFile(raw, mode="rb")
    except ImportError:
        try:
            module = importlib.import_module("zstandard")
        except ImportError:
            raise EnvironmentProblem(
                "this package's archive is zstd-compressed, and this Python has no zstd decoder",
                hint="use Python 3.14 or later, or install the zstandard module",
            ) from None
        inner = module.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    mapped = _MappedErrors(inner, (module.ZstdError,))
    return cast(BinaryIO, io.BufferedReader(mapped, _CHUNK))


class _Refused(Exception):
    """Raised from inside tarfile's header parsing; becomes :class:`UnsafeArchive`."""


_HEADER_DATA_TYPES: Final = frozenset(
    {
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
    }
)


class _BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses, before tarfile reads them, headers it would hold in memory
    unbounded: oversized long-name and pax headers, and GNU sparse members (whose extension
    blocks tarfile accumulates, and whose declared size would be produced as zeros; dpkg
    never builds them)."""

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _HEADER_DATA_TYPES and self.size > MAX_TAR_HEADER_DATA:
            raise _Refused(
                f"has an extended header of {self.size} bytes (more than {MAX_TAR_HEADER_DATA})"
            )
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise _Refused(f"member {self.name!r} is a sparse file; refusing it")
        result: tarfile.TarInfo = super()._proc_member(archive)  # type: ignore[misc]
        return result


def _iter_tar(
    stream: BinaryIO, member: ArMember, *, source: str
) -> Iterator[tuple[str, tarfile.TarInfo, tarfile.TarFile]]:
    """Each entry of a tar member as (normalised name, info, open tar); names are checked."""
    suffix = member.name[member.name.index(".tar") + len(".tar") :]
    seen: set[str] = set()
    try:
        yield from _checked_entries(stream, member, suffix, seen, source=source)
    except _Refused as exc:
        raise UnsafeArchive(
            f"{source}: {member.name} {exc}",
            hint="a package with members refkit cannot read safely is refused as a whole",
        ) from None


def _checked_entries(
    stream: BinaryIO, member: ArMember, suffix: str, seen: set[str], *, source: str
) -> Iterator[tuple[str, tarfile.TarInfo, tarfile.TarFile]]:
    decompressed = _decompressed(stream, member, suffix, source=source)
    with tarfile.open(fileobj=decompressed, mode="r|", tarinfo=_BoundedTarInfo) as tar:
        for info in tar:
            if len(seen) >= MAX_TAR_ENTRIES:
                raise _Refused(f"has more than {MAX_TAR_ENTRIES} entries")
            if info.sparse is not None:
                raise _Refused(f"member {info.name!r} is a sparse file; refusing it")
            name = normalize_member_path(info.name)
            if name is None:
                if info.name in (".", "./") and info.isdir():
                    continue
                raise UnsafeArchive(
                    f"{source}: {member.name} member {info.name!r} is not a safe relative path",
                    hint="a package whose paths leave its root is refused as a whole",
                )
            if name in seen:
                raise UnsafeArchive(
                    f"{source}: {member.name} holds {name!r} twice; which one counts is ambiguous"
                )
            seen.add(name)
            yield name, info, tar


def _copy(
    tar: tarfile.TarFile,
    info: tarfile.TarInfo,
    sinks: Sequence[BinaryIO],
    *,
    limit: int | None = None,
    source_name: str = "",
) -> tuple[int, str]:
    if limit is not None and info.size > limit:
        # A regular (non-sparse) member holds exactly info.size bytes: refuse before copying.
        raise MemberTooLarge(
            f"{source_name}: member {info.name!r} holds {info.size} bytes, more than "
            f"{limit}; not extracted",
            size=info.size,
            limit=limit,
        )
    source = tar.extractfile(info)
    assert source is not None  # a regular file always has data
    digest = StreamHasher()
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        for sink in sinks:
            try:
                sink.write(chunk)
            except OSError as exc:
                raise _SinkError(str(exc)) from exc
    return digest.size, digest.hexdigest()


@dataclass(frozen=True)
class _Entry:
    kind: str
    """"file", "symlink", "hardlink", "dir" or "special"."""
    link: str


def _kind(info: tarfile.TarInfo) -> str:
    if info.isreg():
        return "file"
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    if info.isdir():
        return "dir"
    return "special"


def _pass(
    stream: BinaryIO,
    layout: DebLayout,
    wanted: Mapping[str, Sequence[BinaryIO]],
    *,
    source: str,
    limits: Mapping[str, int] | None = None,
) -> tuple[dict[str, _Entry], dict[str, tuple[int, str]]]:
    """One read of the data archive: index every entry, copy the wanted regular files
    (each at most ``limits[name]`` bytes, when given)."""
    index: dict[str, _Entry] = {}
    written: dict[str, tuple[int, str]] = {}
    bounds = limits or {}
    try:
        for name, info, tar in _iter_tar(stream, layout.data, source=source):
            kind = _kind(info)
            index[name] = _Entry(kind, info.linkname)
            if kind == "file" and name in wanted:
                written[name] = _copy(
                    tar, info, wanted[name], limit=bounds.get(name), source_name=source
                )
    except _SinkError as exc:
        raise EnvironmentProblem(f"cannot write an extracted file: {exc}") from exc
    except _FORMAT_ERRORS as exc:
        raise ParseError(
            f"{layout.data.name} is not a valid compressed tar archive: {exc}",
            location=Location(source, layout.data.data_offset),
        ) from exc
    return index, written


def _resolve(path: str, index: Mapping[str, _Entry], *, source: str) -> str:
    """The regular-file member that ``path`` names, following links inside the package."""
    current = path
    for _hop in range(MAX_LINK_HOPS + 1):
        entry = index.get(current)
        if entry is None:
            if current == path:
                raise InputError(
                    f"{source}: the package has no member {path!r}",
                    hint="list its files with `dpkg-deb -c` and correct the lock's path",
                )
            raise UnsafeArchive(f"{source}: {path!r} links to {current!r}, which is not in it")
        if entry.kind == "file":
            return current
        if entry.kind == "symlink":
            base = "" if entry.link.startswith("/") else posixpath.dirname(current)
            joined = posixpath.normpath(posixpath.join(base, entry.link.lstrip("/")))
            target = normalize_member_path(joined)
            if target is None:
                raise UnsafeArchive(
                    f"{source}: {current!r} is a symlink to {entry.link!r}, "
                    "which leaves the package"
                )
            current = target
        elif entry.kind == "hardlink":
            target = normalize_member_path(entry.link)
            if target is None:
                raise UnsafeArchive(
                    f"{source}: {current!r} is a hard link to {entry.link!r}, "
                    "which leaves the package"
                )
            current = target
        elif entry.kind == "dir":
            raise InputError(f"{source}: {current!r} is a directory, not a file")
        else:
            raise UnsafeArchive(
                f"{source}: {current!r} is a device file or FIFO; refusing to extract it"
            )
    raise UnsafeArchive(f"{source}: {path!r} passes through more than {MAX_LINK_HOPS} links")


def extract_files(
    stream: BinaryIO,
    sinks: Mapping[str, BinaryIO],
    *,
    source: str,
    limits: Mapping[str, int] | None = None,
) -> dict[str, Extracted]:
    """Write the bytes of each requested member of a ``.deb`` to its sink.

    ``sinks`` maps a normalised member path (``usr/share/ovmf/OVMF.amdsev.fd``) to a
    writable binary stream; returns, per requested path, the resolved member, size and
    sha256 of what was written. ``limits`` maps a requested path to the most bytes it may
    hold: a larger member raises :class:`MemberTooLarge` before anything of it is written.
    Raises before returning if any requested path is missing, unsafe, too large or not (a
    link to) a regular file; sinks may then hold partial data, which the caller discards.
    """
    for path in sinks:
        if normalize_member_path(path) != path:
            raise InputError(f"requested member {path!r} is not a normalised relative path")
    bounds = dict(limits or {})
    layout = read_layout(stream, source=source)
    first = {path: [sink] for path, sink in sinks.items()}
    index, written = _pass(stream, layout, first, source=source, limits=bounds)
    resolved = {path: _resolve(path, index, source=source) for path in sinks}
    second: dict[str, list[BinaryIO]] = {}
    second_limits: dict[str, int] = {}
    for path, member in resolved.items():
        if path not in written:
            second.setdefault(member, []).append(sinks[path])
            if path in bounds:
                second_limits[member] = min(bounds[path], second_limits.get(member, bounds[path]))
    if second:
        _index, written_second = _pass(stream, layout, second, source=source, limits=second_limits)
        written.update(written_second)
    result: dict[str, Extracted] = {}
    for path, member in resolved.items():
        size, sha256 = written[path] if path in written else written[member]
        result[path] = Extracted(path=path, member=member, size=size, sha256=sha256)
    return result


def read_control(stream: BinaryIO, *, source: str) -> dict[str, str]:
    """The fields of the package's ``control`` file (deb-control(5)), first paragraph.

    Continuation lines are joined with newlines; field names keep their case.
    """
    layout = read_layout(stream, source=source)
    buffer = io.BytesIO()
    found = False
    try:
        for name, info, tar in _iter_tar(stream, layout.control, source=source):
            if name == "control" and info.isreg():
                if info.size > MAX_CONTROL_BYTES:
                    raise InputError(f"{source}: control file of {info.size} bytes is too large")
                _copy(tar, info, [buffer])
                found = True
                break
    except _FORMAT_ERRORS as exc:
        raise ParseError(
            f"{layout.control.name} is not a valid compressed tar archive: {exc}",
            location=Location(source, layout.control.data_offset),
        ) from exc
    if not found:
        raise ParseError("control archive has no control file", location=Location(source))
    return parse_control(buffer.getvalue(), source=source)


def parse_control(data: bytes, *, source: str) -> dict[str, str]:
    """Parse one deb822 paragraph (deb-control(5)) into an ordered field mapping."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(
            "control file is not UTF-8", location=Location(source, exc.start)
        ) from None
    fields: dict[str, str] = {}
    last: str | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            if fields:
                break
            continue
        if line[0] in " \t":
            if last is None:
                raise ParseError(
                    "continuation line before any field",
                    location=Location(source, field=f"line {number}"),
                )
            fields[last] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key:
            raise ParseError(
                f"not a 'Field: value' line: {line[:60]!r}",
                location=Location(source, field=f"line {number}"),
            )
        if key in fields:
            raise ParseError(
                f"field {key!r} appears twice", location=Location(source, field=f"line {number}")
            )
        fields[key] = value.strip()
        last = key
    return fields


def data_entries(
    stream: BinaryIO, *, source: str
) -> Iterator[tuple[str, tarfile.TarInfo, tarfile.TarFile]]:
    """Every entry of the package's data archive, in archive order, as (normalised name,
    info, open tar); names are checked as for :func:`extract_files` (absolute names, ``..``
    and duplicates refuse the whole package). A regular file's bytes are read with
    ``tar.extractfile(info)`` before the next entry is taken. For whole-tree extraction
    (:mod:`refkit.builders.rootfs`), which applies its own rules to types and links."""
    layout = read_layout(stream, source=source)
    try:
        yield from _iter_tar(stream, layout.data, source=source)
    except _FORMAT_ERRORS as exc:
        raise ParseError(
            f"{layout.data.name} is not a valid compressed tar archive: {exc}",
            location=Location(source, layout.data.data_offset),
        ) from exc
