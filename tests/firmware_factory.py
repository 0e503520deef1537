"""Build synthetic OVMF-style images for tests: a body, a footer GUID table, SEV metadata.

The layout follows refkit.measure.firmware's docstring (edk2's ResetVectorVtf0.asm and
OvmfSevMetadata.asm). These images let differential tests reach corners the one real
firmware in ../shared/vectors does not (other section orders, SVSM images, other sizes).
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

from refkit.guid import guid_bytes_le
from refkit.measure import firmware as fw

PAGE = 4096


@dataclass
class Section:
    gpa: int
    size: int
    type_code: int


@dataclass
class Image:
    pages: int = 16
    seed: int = 0
    reset_eip: int | None = 0x80B004
    hashes_table_gpa: int | None = 0x810C00
    sections: list[Section] = field(
        default_factory=lambda: [
            Section(0x800000, 0x9000, 1),
            Section(0x80D000, 0x1000, 2),
            Section(0x80E000, 0x1000, 3),
            Section(0x80F000, 0x1000, 4),
            Section(0x810000, 0x1000, 0x10),
        ]
    )
    with_sev_metadata: bool = True
    extra_entries: list[tuple[str, bytes]] = field(default_factory=list)
    svsm_info: int | None = None

    def build(self) -> bytes:
        rng = random.Random(self.seed)
        size = self.pages * PAGE
        body = bytearray(rng.randbytes(size))
        entries: list[tuple[str, bytes]] = list(self.extra_entries)
        meta_at = None
        if self.with_sev_metadata:
            meta = struct.pack(
                "<4sIII", b"ASEV", 16 + 12 * len(self.sections), 1, len(self.sections)
            )
            for s in self.sections:
                meta += struct.pack("<III", s.gpa, s.size, s.type_code)
            meta_at = size - 2 * PAGE  # somewhere inside the image, well before the footer
            body[meta_at : meta_at + len(meta)] = meta
            entries.append((fw.SEV_METADATA_GUID, struct.pack("<I", size - meta_at)))
        if self.reset_eip is not None:
            entries.append((fw.SEV_ES_RESET_BLOCK_GUID, struct.pack("<I", self.reset_eip)))
        if self.hashes_table_gpa is not None:
            entries.append(
                (fw.SEV_HASH_TABLE_RV_GUID, struct.pack("<II", self.hashes_table_gpa, 0x400))
            )
        if self.svsm_info is not None:
            entries.append((fw.SVSM_INFO_GUID, struct.pack("<I", self.svsm_info)))
        table = footer_table(entries)
        end = size - 32
        body[end - len(table) : end] = table
        return bytes(body)


def entry(guid: str, data: bytes) -> bytes:
    return data + struct.pack("<H", len(data) + 18) + guid_bytes_le(guid)


def footer_table(entries: list[tuple[str, bytes]]) -> bytes:
    """Entries in file order, then the footer header (u16 total size, footer GUID)."""
    body = b"".join(entry(g, d) for g, d in entries)
    return body + struct.pack("<H", len(body) + 18) + guid_bytes_le(fw.FOOTER_TABLE_GUID)


def svsm_image(*, pages: int, seed: int, info: int, base: int = 0x10000) -> bytes:
    """A Coconut-SVSM-like image: SVSM info entry, no reset block, four SEV sections."""
    return Image(
        pages=pages,
        seed=seed,
        svsm_info=info,
        reset_eip=None,
        hashes_table_gpa=None,
        sections=[
            Section(base, 0x3000, 1),
            Section(base + 0x3000, 0x1000, 2),
            Section(base + 0x4000, 0x1000, 3),
            Section(base + 0x5000, 0x2000, 4),
        ],
    ).build()
