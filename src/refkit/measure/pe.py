"""PE/COFF images: a strict parser, section contents, and the Authenticode digest.

What UEFI firmware measures when it loads an EFI application (TDX RTMR1, TPM PCR 4) is
the image's *Authenticode* digest, and systemd-stub measures the UKI's sections (PCR 11),
so both need the same careful reading of a PE file.

Layout (Microsoft PE/COFF specification, sections 2-4; all little-endian)::

    0x00        "MZ"                        DOS header
    0x3C        u32 e_lfanew                offset of the PE signature
    e_lfanew    "PE\\0\\0"
    +4          COFF file header (20 bytes): u16 machine, u16 NumberOfSections,
                u32 time, u32 symtab, u32 nsyms, u16 SizeOfOptionalHeader, u16 flags
    +24         optional header: u16 magic 0x10b (PE32) or 0x20b (PE32+)
                +64  u32 CheckSum
                +60  u32 SizeOfHeaders
                +92 (PE32) / +108 (PE32+)  u32 NumberOfRvaAndSizes
                +96 (PE32) / +112 (PE32+)  data directories, 8 bytes each; index 4 is the
                     certificate table {u32 file offset, u32 size} (a *file* offset)
    then        section table, 40 bytes per section: name[8], u32 VirtualSize,
                u32 VirtualAddress, u32 SizeOfRawData, u32 PointerToRawData, ...

Authenticode digest (Windows Authenticode PE Signature Format, "Calculating the PE image
hash"): hash the headers up to SizeOfHeaders except the CheckSum field and the
certificate-table directory entry; then every section's raw data in file order; then the
bytes after the last section up to the certificate table (or the end of the file), never
the certificate table itself. One code path serves every hashlib algorithm (UEFI uses
SHA-256 for PCR 4 on most firmware, TDX uses SHA-384 for RTMR1).

Invariants: every structure is bounds-checked against the file; sections whose raw data
or virtual ranges overlap, a certificate table that is not the file's last data or not
8-byte aligned, and truncated headers are refused with a :class:`~refkit.errors.ParseError`
naming the file and offset. Nothing is guessed.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from refkit.errors import InputError, Location, ParseError, read_input_file

#: Largest PE image read (a kernel or UKI with a large initrd is well below).
MAX_PE_BYTES = 1 << 30
#: The PE specification's limit on NumberOfSections.
MAX_SECTIONS = 96

_COFF = struct.Struct("<HHIIIHH")
_SECTION = struct.Struct("<8sIIIIIIHHI")
PE32 = 0x10B
PE32_PLUS = 0x20B


@dataclass(frozen=True)
class Section:
    """One section-table entry (``name`` decoded; ``index`` in table order)."""

    index: int
    name: str
    virtual_size: int
    virtual_address: int
    raw_size: int
    raw_offset: int


@dataclass(frozen=True)
class PeImage:
    """A parsed PE image. ``data`` is the whole file."""

    source: str
    data: bytes
    magic: int
    checksum_offset: int
    cert_dir_offset: int | None
    size_of_headers: int
    sections: tuple[Section, ...]
    #: (file offset, size) of the certificate table, None when absent
    cert_table: tuple[int, int] | None

    def __repr__(self) -> str:
        names = ",".join(s.name for s in self.sections)
        return f"PeImage({self.source!r}, {len(self.data)} bytes, sections {names})"

    @property
    def section_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sections)

    def find(self, name: str) -> Section | None:
        """The first section called ``name``; None when absent."""
        for section in self.sections:
            if section.name == name:
                return section
        return None

    def section_data(self, section: Section) -> bytes:
        """A section's contents as loaded in memory: ``VirtualSize`` bytes, its raw data
        cut to that size or zero-padded up to it (what systemd-stub measures)."""
        raw = self.data[section.raw_offset : section.raw_offset + section.raw_size]
        if section.virtual_size <= len(raw):
            return raw[: section.virtual_size]
        return raw + bytes(section.virtual_size - len(raw))

    def authenticode(self, algorithm: str = "sha256") -> bytes:
        """The Authenticode digest with ``algorithm`` (see the module docstring)."""
        return authenticode_digests(self, (algorithm,))[algorithm]


def authenticode_digests(image: PeImage, algorithms: Iterable[str]) -> Mapping[str, bytes]:
    """The Authenticode digest in each algorithm, computed over the same byte ranges."""
    hashers = [hashlib.new(a) for a in algorithms]
    view = memoryview(image.data)
    for start, end in _authenticode_ranges(image):
        chunk = view[start:end]
        for h in hashers:
            h.update(chunk)
    return MappingProxyType({h.name: h.digest() for h in hashers})


def _authenticode_ranges(image: PeImage) -> list[tuple[int, int]]:
    """The file ranges the Authenticode digest covers, in hashing order."""
    ranges = [(0, image.checksum_offset)]
    after_checksum = image.checksum_offset + 4
    if image.cert_dir_offset is None:
        ranges.append((after_checksum, image.size_of_headers))
    else:
        ranges.append((after_checksum, image.cert_dir_offset))
        ranges.append((image.cert_dir_offset + 8, image.size_of_headers))
    end = image.size_of_headers
    for section in sorted(image.sections, key=lambda s: s.raw_offset):
        if section.raw_size == 0:
            continue
        ranges.append((section.raw_offset, section.raw_offset + section.raw_size))
        end = max(end, section.raw_offset + section.raw_size)
    stop = len(image.data) if image.cert_table is None else image.cert_table[0]
    if stop > end:
        ranges.append((end, stop))
    return ranges


def _fail(source: str, offset: int | None, message: str, field: str | None = None) -> ParseError:
    return ParseError(message, location=Location(source, offset, field))


def _u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "little")


def _u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "little")


def parse_pe(data: bytes, *, source: str) -> PeImage:
    """Parse ``data`` as a PE image; every failure is a ParseError naming ``source``."""
    size = len(data)
    if size < 0x40 or data[:2] != b"MZ":
        raise _fail(source, 0, "not a PE image (no MZ header)", "DOS header")
    pe_at = _u32(data, 0x3C)
    if pe_at + 24 > size:
        raise _fail(source, 0x3C, f"PE header offset {pe_at:#x} is past the end (truncated?)")
    if data[pe_at : pe_at + 4] != b"PE\0\0":
        raise _fail(source, pe_at, "no PE signature at e_lfanew", "PE signature")
    _machine, nsections, _time, _symtab, _nsyms, opt_size, _flags = _COFF.unpack_from(
        data, pe_at + 4
    )
    opt_at = pe_at + 24
    if nsections > MAX_SECTIONS:
        raise _fail(source, pe_at + 6, f"{nsections} sections, more than {MAX_SECTIONS}")
    if opt_size < 2 or opt_at + opt_size > size:
        raise _fail(source, pe_at + 20, f"optional header of {opt_size} bytes is truncated")
    magic = _u16(data, opt_at)
    if magic not in (PE32, PE32_PLUS):
        raise _fail(source, opt_at, f"unknown optional header magic {magic:#x}", "Magic")
    dirs_at = opt_at + (96 if magic == PE32 else 112)
    count_at = dirs_at - 4
    if dirs_at > opt_at + opt_size:
        raise _fail(source, opt_at, f"optional header of {opt_size} bytes is too short")
    ndirs = _u32(data, count_at)
    if dirs_at + 8 * ndirs > opt_at + opt_size:
        raise _fail(
            source,
            count_at,
            f"{ndirs} data directories do not fit the optional header",
            "NumberOfRvaAndSizes",
        )
    size_of_headers = _u32(data, opt_at + 60)
    table_at = opt_at + opt_size
    table_end = table_at + _SECTION.size * nsections
    if table_end > size:
        raise _fail(source, table_at, "section table is truncated")
    if not table_end <= size_of_headers <= size:
        raise _fail(
            source,
            opt_at + 60,
            f"SizeOfHeaders {size_of_headers:#x} does not cover the section table "
            f"(ends {table_end:#x}) or runs past the end of the file",
            "SizeOfHeaders",
        )
    cert_dir_at: int | None = None
    cert_table: tuple[int, int] | None = None
    if ndirs > 4:
        cert_dir_at = dirs_at + 4 * 8
        cert_offset, cert_size = _u32(data, cert_dir_at), _u32(data, cert_dir_at + 4)
        if cert_size:
            cert_table = (cert_offset, cert_size)
    sections = _sections(data, source, table_at, nsections, size_of_headers)
    if cert_table is not None:
        _check_cert_table(
            data, source, cert_dir_at or 0, cert_table, sections, size_of_headers, size
        )
    return PeImage(
        source=source,
        data=data,
        magic=magic,
        checksum_offset=opt_at + 64,
        cert_dir_offset=cert_dir_at,
        size_of_headers=size_of_headers,
        sections=sections,
        cert_table=cert_table,
    )


def _sections(
    data: bytes, source: str, table_at: int, count: int, size_of_headers: int
) -> tuple[Section, ...]:
    out: list[Section] = []
    for i in range(count):
        at = table_at + i * _SECTION.size
        raw_name, vsize, vaddr, rsize, roff, *_rest = _SECTION.unpack_from(data, at)
        name = raw_name.rstrip(b"\0").decode("latin-1")
        where = f"section {i} ({name!r})"
        if rsize and (roff < size_of_headers or roff + rsize > len(data)):
            raise _fail(
                source,
                at,
                f"{where}: raw data {roff:#x}+{rsize:#x} lies outside the file body "
                f"(headers end {size_of_headers:#x}, file {len(data):#x}; truncated?)",
            )
        if vsize > MAX_PE_BYTES:
            raise _fail(source, at + 8, f"{where}: VirtualSize {vsize:#x} is absurd")
        out.append(Section(i, name, vsize, vaddr, rsize, roff))
    by_raw = sorted((s for s in out if s.raw_size), key=lambda s: s.raw_offset)
    for a, b in itertools.pairwise(by_raw):
        if a.raw_offset + a.raw_size > b.raw_offset:
            raise _fail(
                source,
                table_at + b.index * _SECTION.size,
                f"sections {a.name!r} and {b.name!r} overlap in the file",
            )
    by_va = sorted((s for s in out if s.virtual_size), key=lambda s: s.virtual_address)
    for a, b in itertools.pairwise(by_va):
        if a.virtual_address + a.virtual_size > b.virtual_address:
            raise _fail(
                source,
                table_at + b.index * _SECTION.size,
                f"sections {a.name!r} and {b.name!r} overlap in memory",
            )
    return tuple(out)


def _check_cert_table(
    data: bytes,
    source: str,
    dir_at: int,
    table: tuple[int, int],
    sections: tuple[Section, ...],
    size_of_headers: int,
    size: int,
) -> None:
    offset, length = table
    end_of_sections = max(
        [size_of_headers, *(s.raw_offset + s.raw_size for s in sections if s.raw_size)]
    )
    if offset % 8 or offset < end_of_sections or offset + length != size:
        raise _fail(
            source,
            dir_at,
            f"bogus certificate table {offset:#x}+{length:#x}: it must be 8-byte aligned, "
            f"after the last section ({end_of_sections:#x}) and end the file ({size:#x})",
            "certificate table",
        )
    # WIN_CERTIFICATE entries: {u32 dwLength, u16 revision, u16 type, data}, each padded
    # to 8 bytes. Only their framing is checked: the digest never covers them.
    at = offset
    while at < offset + length:
        if at + 8 > offset + length:
            raise _fail(source, at, "certificate table ends inside an entry header")
        entry = int.from_bytes(data[at : at + 4], "little")
        if entry < 8 or at + entry > offset + length:
            raise _fail(source, at, f"certificate entry length {entry} does not fit the table")
        at += (entry + 7) & ~7


def load_pe(path: str | os.PathLike[str] | bytes, *, what: str = "PE image") -> PeImage:
    """Read and parse a PE file (or bytes)."""
    if isinstance(path, bytes):
        if len(path) > MAX_PE_BYTES:
            raise InputError(f"{what} of {len(path)} bytes is larger than {MAX_PE_BYTES}")
        return parse_pe(path, source=f"<{what} bytes>")
    data = read_input_file(path, what=what, limit=MAX_PE_BYTES)
    return parse_pe(data, source=os.fspath(path))
