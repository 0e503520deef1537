"""MRTD: the TD build-time measurement of a TDX firmware image (TDVF).

The VMM adds the firmware's TDVF sections to the TD page by page before the TD starts;
the TDX module folds every TDH.MEM.PAGE.ADD and TDH.MR.EXTEND into one running SHA-384
(Intel TDX Module ABI specification, TDH.MEM.PAGE.ADD and TDH.MR.EXTEND; the section
table is in the TDX Virtual Firmware Design Guide, section 11, read by
:mod:`refkit.measure.firmware`):

* PAGE.ADD of the page at GPA ``g``: a 128-byte buffer ``"MEM.PAGE.ADD"`` zero-padded to
  16 bytes, ``u64 g`` at offset 16, zeros after;
* MR.EXTEND of the 256-byte chunk at GPA ``g``: a 128-byte buffer ``"MR.EXTEND"``
  zero-padded to 16 bytes, ``u64 g`` at 16, zeros after; then the chunk's 256 bytes.

Sections with the PAGE_AUG attribute (bit 1) are not added at build time; only sections
with MR_EXTEND (bit 0) are extended (16 chunks per page). Two orders exist
(:class:`PageOrder`): QEMU 9 and later (with upstream KVM) extend each page right after
adding it; earlier out-of-tree QEMU/KVM stacks added every page of every section first and
extended afterwards. The order changes MRTD; it is a parameter, recorded with the value.

The TD HOB and temporary memory are added (zero pages), not extended, so MRTD does not
depend on the vCPU count or memory size.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Iterator, Sequence

from refkit.errors import Location, ParseError, UnsupportedInput
from refkit.measure.firmware import PAGE_SIZE, Firmware, TdvfSection, TdvfSectionType

ATTR_MR_EXTEND = 1 << 0
ATTR_PAGE_AUG = 1 << 1
_CHUNK = 256
_ADD = b"MEM.PAGE.ADD".ljust(16, b"\0")
_EXTEND = b"MR.EXTEND".ljust(16, b"\0")
_TAIL = bytes(128 - 24)
_GPA = struct.Struct("<Q")


class PageOrder(enum.Enum):
    """When the VMM extends a page relative to adding the others."""

    #: add a page, extend it, then the next page (QEMU 9+, upstream KVM): the default
    PER_PAGE = "per-page"
    #: add every page of every section first, then extend (QEMU 8 / older TDX stacks)
    ADD_ALL_FIRST = "add-all-first"


def _add(gpa: int) -> bytes:
    return _ADD + _GPA.pack(gpa) + _TAIL


def _extend_records(gpa: int, page: bytes) -> bytes:
    return b"".join(
        _EXTEND + _GPA.pack(gpa + off) + _TAIL + page[off : off + _CHUNK]
        for off in range(0, PAGE_SIZE, _CHUNK)
    )


def measured_sections(firmware: Firmware) -> tuple[TdvfSection, ...]:
    """The TDVF sections, checked: refuses firmware without TDX metadata and sections
    that do not fit the image or are not page-aligned."""
    sections = firmware.tdvf_sections
    if sections is None:
        raise UnsupportedInput(
            f"{firmware.source}: firmware has no TDX metadata (TDVF descriptor); "
            f"it carries {firmware.flavour()}",
            hint="use a TDX build of OVMF such as Debian's OVMF.inteltdx.ms.fd",
        )
    if not sections:
        raise ParseError(
            "TDX metadata lists no sections", location=Location(firmware.source, None, "TDVF")
        )
    for s in sections:
        where = Location(firmware.source, None, f"TDVF section {s.number}")
        if s.gpa % PAGE_SIZE or s.mem_size % PAGE_SIZE:
            raise ParseError(
                f"GPA {s.gpa:#x} or size {s.mem_size:#x} is not page-aligned", location=where
            )
        if s.raw_size > s.mem_size or s.data_offset + s.raw_size > firmware.size:
            raise ParseError(
                f"raw data {s.data_offset:#x}+{s.raw_size:#x} does not fit the image "
                f"or the section's {s.mem_size:#x} bytes",
                location=where,
            )
        if s.attributes & ~(ATTR_MR_EXTEND | ATTR_PAGE_AUG):
            raise ParseError(f"unknown attributes {s.attributes:#x}", location=where)
        if s.attributes & ATTR_MR_EXTEND and s.attributes & ATTR_PAGE_AUG:
            raise ParseError("section is both extended and added late (PAGE_AUG)", location=where)
    return sections


def _pages(firmware: Firmware, s: TdvfSection) -> Iterator[tuple[int, bytes]]:
    data = firmware.data
    for i in range(s.mem_size // PAGE_SIZE):
        off = i * PAGE_SIZE
        raw = data[s.data_offset + off : s.data_offset + min(off + PAGE_SIZE, s.raw_size)]
        if off >= s.raw_size:
            raw = b""
        yield s.gpa + off, raw.ljust(PAGE_SIZE, b"\0")


def compute_mrtd(firmware: Firmware, order: PageOrder = PageOrder.PER_PAGE) -> bytes:
    """MRTD of ``firmware`` in the given page order (48 bytes)."""
    sections = [s for s in measured_sections(firmware) if not s.attributes & ATTR_PAGE_AUG]
    h = hashlib.sha384()
    if order is PageOrder.PER_PAGE:
        for s in sections:
            extend = bool(s.attributes & ATTR_MR_EXTEND)
            for gpa, page in _pages(firmware, s) if extend else _gpas(s):
                h.update(_add(gpa))
                if extend:
                    h.update(_extend_records(gpa, page))
    else:
        for s in sections:
            for gpa in range(s.gpa, s.gpa + s.mem_size, PAGE_SIZE):
                h.update(_add(gpa))
        for s in sections:
            if s.attributes & ATTR_MR_EXTEND:
                for gpa, page in _pages(firmware, s):
                    h.update(_extend_records(gpa, page))
    return h.digest()


def _gpas(s: TdvfSection) -> Iterator[tuple[int, bytes]]:
    for gpa in range(s.gpa, s.gpa + s.mem_size, PAGE_SIZE):
        yield gpa, b""


def section_bytes(firmware: Firmware, kind: TdvfSectionType) -> bytes | None:
    """The raw bytes of the first section of ``kind`` (the CFV, for RTMR0), or None."""
    found: Sequence[TdvfSection] = [
        s for s in measured_sections(firmware) if s.type_code == kind.value
    ]
    if not found:
        return None
    s = found[0]
    return firmware.data[s.data_offset : s.data_offset + s.raw_size]
