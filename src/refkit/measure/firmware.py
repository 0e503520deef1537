"""OVMF firmware tables: the footer GUID table, the SEV metadata and the TDX (TDVF) metadata.

Pure parsing: takes the firmware's bytes, returns frozen values, never touches files.
Every failure is a :class:`~refkit.errors.ParseError` naming the firmware and the offset.

Layouts (all little-endian), as OVMF's reset vector lays them out
(edk2 ``OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm`` and ``X64/OvmfSevMetadata.asm``;
the GUIDs are listed in ../shared/DOMAIN.md section 2):

Footer GUID table, read backwards from 32 bytes before the end of the image::

    EOF-32-18  u16 total size of the table (including this 18-byte header)
    EOF-32-16  GUID 96b582de-1fb2-45f7-baea-a366c55a082d (bytes_le)
    before it: entries, each  data || u16 size (data + 18) || GUID, walked from the end

SEV metadata, at ``EOF - u32`` given by footer entry dc886566-...::

    0x00 "ASEV"   0x04 u32 size   0x08 u32 version (1)   0x0C u32 number of sections
    0x10 sections: {u32 gpa, u32 size, u32 type}

TDX metadata ("TDVF" descriptor), at ``EOF - u32`` given by footer entry e47a6535-...::

    0x00 "TDVF"   0x04 u32 length   0x08 u32 version (1)   0x0C u32 number of sections
    0x10 sections (32 bytes): {u32 data_offset, u32 raw_size, u64 gpa, u64 mem_size,
                               u32 type, u32 attributes}

Invariants: unknown footer GUIDs are kept but otherwise ignored (as OVMF does); an SEV
metadata section of unknown type is refused by the measurement code, which names it;
a GUID the measurement relies on that appears twice is refused (ambiguous).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from refkit.errors import Location, ParseError
from refkit.guid import guid_str

PAGE_SIZE = 4096
FOUR_GIB = 1 << 32

FOOTER_TABLE_GUID = "96b582de-1fb2-45f7-baea-a366c55a082d"
SEV_ES_RESET_BLOCK_GUID = "00f771de-1a7e-4fcb-890e-68c77e2fb44e"
SEV_HASH_TABLE_RV_GUID = "7255371f-3a3b-4b04-927b-1da6efa8d454"
SEV_SECRET_BLOCK_GUID = "4c2eb361-7d9b-4cc3-8081-127c90d3d294"  # noqa: S105 (a GUID)
SEV_METADATA_GUID = "dc886566-984a-4798-a75e-5585a7bf67cc"
TDX_METADATA_GUID = "e47a6535-984a-4798-865e-4685a7bf8ec2"
SVSM_INFO_GUID = "a789a612-0597-4c4b-a49f-cbb1fe9d1ddd"
IGVM_PARAMETERS_GUID = "784fa70e-3176-4677-8a20-04b68699e374"

KNOWN_GUIDS: Mapping[str, str] = MappingProxyType(
    {
        FOOTER_TABLE_GUID: "footer table",
        SEV_ES_RESET_BLOCK_GUID: "SEV-ES reset block",
        SEV_HASH_TABLE_RV_GUID: "SEV hashes table",
        SEV_SECRET_BLOCK_GUID: "SEV secret block",
        SEV_METADATA_GUID: "SEV metadata offset",
        TDX_METADATA_GUID: "TDX metadata offset",
        SVSM_INFO_GUID: "SVSM info",
        IGVM_PARAMETERS_GUID: "IGVM parameter list",
    }
)

_ENTRY_HEADER = 18  # u16 size + 16-byte GUID
_FOOTER_GAP = 32  # the table ends 32 bytes before the end of the image
_TABLE_HEADER = struct.Struct("<4sIII")  # magic, size (TDVF: length), version, count
_SEV_SECTION = struct.Struct("<III")
_TDVF_SECTION = struct.Struct("<IIQQII")


class SevSectionType(enum.IntEnum):
    """SEV metadata section types (edk2 OvmfSevMetadata.asm; SVSM_CAA from Coconut-SVSM)."""

    SNP_SEC_MEM = 1
    SNP_SECRETS = 2
    CPUID = 3
    SVSM_CAA = 4
    SNP_KERNEL_HASHES = 0x10


class TdvfSectionType(enum.IntEnum):
    """TDVF section types (Intel TDX Virtual Firmware Design Guide, table 3-3)."""

    BFV = 0
    CFV = 1
    TD_HOB = 2
    TEMP_MEM = 3
    PERM_MEM = 4
    PAYLOAD = 5
    PAYLOAD_PARAM = 6


class SevSection(NamedTuple):
    """One SEV metadata section. ``type_code`` is the raw value (may be unknown)."""

    number: int
    gpa: int
    size: int
    type_code: int

    @property
    def kind(self) -> SevSectionType | None:
        try:
            return SevSectionType(self.type_code)
        except ValueError:
            return None

    @property
    def type_name(self) -> str:
        kind = self.kind
        return kind.name if kind is not None else f"unknown type {self.type_code:#x}"


class TdvfSection(NamedTuple):
    """One TDVF metadata section."""

    number: int
    data_offset: int
    raw_size: int
    gpa: int
    mem_size: int
    type_code: int
    attributes: int


class Firmware(NamedTuple):
    """A parsed OVMF-style image. ``data`` is the whole image as loaded."""

    source: str
    data: bytes
    footer: Mapping[str, bytes]
    sev_sections: tuple[SevSection, ...] | None
    tdvf_sections: tuple[TdvfSection, ...] | None

    def __repr__(self) -> str:
        return f"Firmware(source={self.source!r}, size={len(self.data)}, {self.flavour()})"

    @property
    def size(self) -> int:
        return len(self.data)

    def gpa(self, end: int = FOUR_GIB) -> int:
        """Guest physical address of the first byte when the image ends at ``end``."""
        return end - len(self.data)

    def footer_u32(self, guid: str) -> int | None:
        """The first u32 of a footer entry, or None when the entry is absent."""
        entry = self.footer.get(guid)
        if entry is None:
            return None
        if len(entry) < 4:
            raise ParseError(
                f"footer entry {guid} ({KNOWN_GUIDS.get(guid, 'unknown')}) is shorter than 4 bytes",
                location=Location(self.source),
            )
        return int.from_bytes(entry[:4], "little")

    @property
    def sev_es_reset_eip(self) -> int | None:
        return self.footer_u32(SEV_ES_RESET_BLOCK_GUID)

    @property
    def hashes_table_gpa(self) -> int | None:
        return self.footer_u32(SEV_HASH_TABLE_RV_GUID)

    @property
    def has_kernel_hashes_table(self) -> bool:
        """QEMU's notion (``sev_hashes_table_supported``): the entry exists and is non-zero."""
        gpa = self.hashes_table_gpa
        return gpa is not None and gpa != 0

    @property
    def empty_sev_sections(self) -> tuple[SevSection, ...]:
        """SEV metadata sections of size 0: the build did not configure them.

        Debian's Intel TDX build (OVMF.inteltdx.ms.fd) carries an "ASEV" table whose SVSM_CAA
        and last SNP_SEC_MEM sections are zero-sized at GPA 0 and whose kernel hashes entry
        is 0: it was built without SEV support, although parts of the table look real.
        """
        return tuple(s for s in self.sev_sections or () if s.size == 0)

    @property
    def is_tdx_build(self) -> bool:
        """TDX metadata, and SEV metadata that is absent or has unconfigured sections."""
        return self.tdvf_sections is not None and (
            self.sev_sections is None or bool(self.empty_sev_sections)
        )

    def flavour(self) -> str:
        """A short description of which metadata the image carries, for messages."""
        parts = []
        if self.sev_sections is not None:
            empty = len(self.empty_sev_sections)
            parts.append(f"SEV metadata with {empty} empty sections" if empty else "SEV metadata")
        if self.tdvf_sections is not None:
            parts.append("TDX metadata")
        if not parts:
            parts.append("no SEV or TDX metadata")
        return ", ".join(parts)


def parse_firmware(data: bytes, *, source: str) -> Firmware:
    """Parse an OVMF image's footer table and the metadata tables it points to."""
    footer = _parse_footer(data, source)
    sev = _parse_sev_metadata(data, source, footer) if SEV_METADATA_GUID in footer else None
    tdvf = _parse_tdvf_metadata(data, source, footer) if TDX_METADATA_GUID in footer else None
    return Firmware(
        source=source,
        data=data,
        footer=MappingProxyType(footer),
        sev_sections=sev,
        tdvf_sections=tdvf,
    )


def check_page_layout(data: bytes, *, source: str, end: int = FOUR_GIB) -> None:
    """Refuse an image that cannot be loaded page by page below ``end``."""
    if len(data) == 0:
        raise ParseError("empty firmware image", location=Location(source))
    if len(data) % PAGE_SIZE:
        raise ParseError(
            f"size {len(data)} is not a multiple of the 4096-byte page size",
            location=Location(source),
        )
    if len(data) > end:
        raise ParseError(
            f"image of {len(data)} bytes does not fit below GPA {end:#x}",
            location=Location(source),
        )


def _parse_footer(data: bytes, source: str) -> dict[str, bytes]:
    size = len(data)
    header_at = size - _FOOTER_GAP - _ENTRY_HEADER
    if header_at < 0:
        return {}
    guid = guid_str(data[header_at + 2 : header_at + _ENTRY_HEADER])
    if guid != FOOTER_TABLE_GUID:
        return {}
    total = int.from_bytes(data[header_at : header_at + 2], "little")
    if total < _ENTRY_HEADER:
        raise ParseError(
            f"footer table size {total} is smaller than its own 18-byte header",
            location=Location(source, header_at),
        )
    table_start = header_at - (total - _ENTRY_HEADER)
    if table_start < 0:
        raise ParseError(
            f"footer table of {total} bytes runs past the start of the image (truncated?)",
            location=Location(source, header_at),
        )
    entries: dict[str, bytes] = {}
    end = header_at  # entries end where the footer header starts
    while end - table_start >= _ENTRY_HEADER:
        entry_guid = guid_str(data[end - 16 : end])
        entry_size = int.from_bytes(data[end - _ENTRY_HEADER : end - 16], "little")
        if entry_size < _ENTRY_HEADER or end - entry_size < table_start:
            raise ParseError(
                f"footer entry {entry_guid} has invalid size {entry_size}",
                location=Location(source, end - _ENTRY_HEADER),
            )
        if entry_guid in entries:
            raise ParseError(
                f"footer entry {entry_guid} appears twice",
                location=Location(source, end - _ENTRY_HEADER),
            )
        entries[entry_guid] = bytes(data[end - entry_size : end - _ENTRY_HEADER])
        end -= entry_size
    if end != table_start:
        raise ParseError(
            f"{end - table_start} stray bytes at the start of the footer table",
            location=Location(source, table_start),
        )
    return entries


def _table_start(data: bytes, source: str, footer: Mapping[str, bytes], guid: str) -> int:
    entry = footer[guid]
    if len(entry) < 4:
        raise ParseError(
            f"footer entry {guid} ({KNOWN_GUIDS[guid]}) is shorter than 4 bytes",
            location=Location(source),
        )
    offset = int.from_bytes(entry[:4], "little")
    start = len(data) - offset
    if offset == 0 or start < 0 or start + 16 > len(data):
        raise ParseError(
            f"{KNOWN_GUIDS[guid]} points outside the image (offset from end {offset:#x})",
            location=Location(source),
        )
    return start


def _read_table(
    data: bytes,
    source: str,
    footer: Mapping[str, bytes],
    guid: str,
    magic: bytes,
    entry: struct.Struct,
) -> list[tuple[int, ...]]:
    """The entries of a metadata table with a {magic, u32 size, u32 version 1, u32 count}
    header (the SEV "ASEV" and the TDX "TDVF" tables share this shape)."""
    start = _table_start(data, source, footer, guid)
    signature, size, version, count = _TABLE_HEADER.unpack_from(data, start)
    what = "SEV metadata" if magic == b"ASEV" else "TDX metadata"
    loc = Location(source, start, what)
    if signature != magic:
        raise ParseError(f"bad {what} signature {signature!r}, expected {magic!r}", location=loc)
    if version != 1:
        raise ParseError(f"unsupported {what} version {version}", location=loc)
    needed = _TABLE_HEADER.size + count * entry.size
    if size < needed or start + size > len(data):
        raise ParseError(
            f"{what} size {size} does not hold {count} sections inside the image", location=loc
        )
    first = start + _TABLE_HEADER.size
    return [entry.unpack_from(data, first + i * entry.size) for i in range(count)]


def _parse_sev_metadata(
    data: bytes, source: str, footer: Mapping[str, bytes]
) -> tuple[SevSection, ...]:
    rows = _read_table(data, source, footer, SEV_METADATA_GUID, b"ASEV", _SEV_SECTION)
    return tuple(SevSection(i, *row) for i, row in enumerate(rows))


def _parse_tdvf_metadata(
    data: bytes, source: str, footer: Mapping[str, bytes]
) -> tuple[TdvfSection, ...]:
    rows = _read_table(data, source, footer, TDX_METADATA_GUID, b"TDVF", _TDVF_SECTION)
    return tuple(TdvfSection(i, *row) for i, row in enumerate(rows))
