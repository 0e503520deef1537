"""Reader for the common ar(5) archive format, as used by Debian packages (deb(5)).

Layout (ar(5), the "common" / System V-GNU variant without symbol or long-name tables)::

    offset 0   8 bytes  global magic "!<arch>\\n"
    then, for each member:
      +0   16  name, ASCII, padded with spaces; GNU ar may end it with "/"
      +16  12  modification time, decimal
      +28   6  owner id, decimal
      +34   6  group id, decimal
      +40   8  file mode, octal
      +48  10  size of the data in bytes, decimal
      +58   2  end of header "`\\n"
      +60      data, then one "\\n" pad byte if the size is odd

Invariants: the reader never reads member data, only headers (it seeks over data), so an
archive of any size is listed in constant memory; every member lies entirely inside the
file; numeric fields are plain ASCII numbers (space padded), nothing else. GNU long-name
and symbol tables (``//``, ``/``) and BSD long names (``#1/``) are refused: deb(5) members
have short names. Every failure is a :class:`~refkit.errors.ParseError` naming the source
and the offset of the offending header.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO, Final

from refkit.errors import Location, ParseError

MAGIC: Final = b"!<arch>\n"
HEADER_SIZE: Final = 60
_FMAG: Final = b"`\n"
#: Most members one archive may have; a deb has three (plus reserved "_" members).
MAX_MEMBERS: Final = 64


@dataclass(frozen=True)
class ArMember:
    """One member of an ar archive: its header fields and where its data lies."""

    name: str
    header_offset: int
    data_offset: int
    size: int
    mtime: int
    uid: int
    gid: int
    mode: int


def _number(raw: bytes, base: int, what: str, source: str, offset: int) -> int:
    text = raw.rstrip(b" ")
    if not text:
        # An empty uid/gid/mtime field is accepted by GNU ar and dpkg and means zero.
        if what in ("mtime", "uid", "gid"):
            return 0
        raise ParseError(f"empty {what} field in ar header", location=Location(source, offset))
    digits = b"0123456789" if base == 10 else b"01234567"
    if any(byte not in digits for byte in text):
        raise ParseError(
            f"{what} field {raw!r} is not a {'decimal' if base == 10 else 'octal'} number",
            location=Location(source, offset),
        )
    return int(text, base)


def read_members(stream: BinaryIO, *, source: str) -> tuple[ArMember, ...]:
    """List the members of an ar archive read from a seekable binary stream.

    The stream's position on return is unspecified. The archive's total size is taken
    from the stream (seek to the end), so a member running past the end is detected.
    """
    try:
        end = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        magic = stream.read(len(MAGIC))
    except OSError as exc:
        raise ParseError(f"cannot read: {exc}", location=Location(source, 0)) from exc
    if magic != MAGIC:
        raise ParseError(
            "not an ar archive (no !<arch> magic)",
            location=Location(source, 0),
            hint="a Debian package (.deb) is an ar archive; is this the right file?",
        )
    members: list[ArMember] = []
    offset = len(MAGIC)
    while offset < end:
        if len(members) >= MAX_MEMBERS:
            raise ParseError(f"more than {MAX_MEMBERS} members", location=Location(source, offset))
        stream.seek(offset)
        header = stream.read(HEADER_SIZE)
        if len(header) < HEADER_SIZE:
            raise ParseError(
                f"truncated ar member header ({len(header)} of {HEADER_SIZE} bytes)",
                location=Location(source, offset),
            )
        if header[58:60] != _FMAG:
            raise ParseError("bad ar member header terminator", location=Location(source, offset))
        raw_name = header[0:16].rstrip(b" ")
        if raw_name.endswith(b"/") and raw_name not in (b"/", b"//"):
            raw_name = raw_name[:-1]
        if not raw_name or raw_name in (b"/", b"//") or raw_name.startswith(b"#1/"):
            raise ParseError(
                f"unsupported ar member name {header[0:16]!r} (symbol or long-name table)",
                location=Location(source, offset),
            )
        if any(byte < 0x21 or byte > 0x7E or byte == 0x2F for byte in raw_name):
            raise ParseError(
                f"ar member name {header[0:16]!r} is not printable ASCII without '/'",
                location=Location(source, offset),
            )
        size = _number(header[48:58], 10, "size", source, offset)
        data_offset = offset + HEADER_SIZE
        if data_offset + size > end:
            raise ParseError(
                f"member {raw_name.decode()!r} of {size} bytes runs past the end of the "
                f"archive ({end} bytes)",
                location=Location(source, offset),
            )
        members.append(
            ArMember(
                name=raw_name.decode("ascii"),
                header_offset=offset,
                data_offset=data_offset,
                size=size,
                mtime=_number(header[16:28], 10, "mtime", source, offset),
                uid=_number(header[28:34], 10, "uid", source, offset),
                gid=_number(header[34:40], 10, "gid", source, offset),
                mode=_number(header[40:48], 8, "mode", source, offset),
            )
        )
        offset = data_offset + size + (size & 1)
    return tuple(members)
