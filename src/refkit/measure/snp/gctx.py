"""The SEV-SNP launch digest: a SHA-384 chain over PAGE_INFO structures.

AMD SEV-SNP Firmware ABI Specification (publication 56860), section 8.17.2, table 67
"Layout of the PAGE_INFO structure" (0x70 bytes, little-endian)::

    0x00  DIGEST_CUR   48  the launch digest so far
    0x30  CONTENTS     48  SHA-384 of the page (NORMAL, VMSA) or zero
    0x60  LENGTH       u16 0x70
    0x62  PAGE_TYPE    u8  see :class:`PageType`
    0x63  IMI_PAGE     u8  0
    0x64  VMPL3_PERMS  u8  0
    0x65  VMPL2_PERMS  u8  0
    0x66  VMPL1_PERMS  u8  0
    0x67  reserved     u8  0
    0x68  GPA          u64

Each measured page replaces the digest with SHA-384(PAGE_INFO). The digest starts as 48
zero bytes, or as a pre-computed value (the OVMF launch digest published separately).
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections import Counter
from functools import partial

from refkit.errors import InternalError

DIGEST_SIZE = 48
ZERO_DIGEST = bytes(DIGEST_SIZE)
PAGE_SIZE = 4096
#: The VMSA page is recorded at GPA (u64)-1, page-aligned, bits above 51 cleared.
VMSA_GPA = 0xFFFFFFFFF000

_TAIL = struct.Struct("<HBBBBBBQ")  # LENGTH, PAGE_TYPE, IMI, VMPL3, VMPL2, VMPL1, rsvd, GPA


class PageType(enum.IntEnum):
    """SNP_LAUNCH_UPDATE page types (SNP ABI specification, table 69)."""

    NORMAL = 1
    VMSA = 2
    ZERO = 3
    UNMEASURED = 4
    SECRETS = 5
    CPUID = 6


class LaunchDigest:
    """Running SEV-SNP launch digest. Counts pages by type for ``--explain``."""

    __slots__ = ("_ld", "counts")

    def __init__(self, seed: bytes = ZERO_DIGEST) -> None:
        if len(seed) != DIGEST_SIZE:
            raise InternalError(f"launch digest seed must be {DIGEST_SIZE} bytes")
        self._ld = seed
        self.counts: Counter[PageType] = Counter()

    @property
    def digest(self) -> bytes:
        return self._ld

    def copy(self) -> LaunchDigest:
        other = LaunchDigest(self._ld)
        other.counts = Counter(self.counts)
        return other

    def update(self, page_type: PageType, gpa: int, contents: bytes) -> None:
        self._ld = hashlib.sha384(
            self._ld + contents + _TAIL.pack(0x70, page_type, 0, 0, 0, 0, 0, gpa)
        ).digest()
        self.counts[page_type] += 1

    def normal_pages(self, gpa: int, page_digests: list[bytes]) -> None:
        """Measure pages whose SHA-384 digests were computed beforehand, from ``gpa`` on."""
        ld = self._ld
        pack = _TAIL.pack
        sha384 = hashlib.sha384
        for i, contents in enumerate(page_digests):
            ld = sha384(
                ld + contents + pack(0x70, PageType.NORMAL, 0, 0, 0, 0, 0, gpa + i * PAGE_SIZE)
            ).digest()
        self._ld = ld
        self.counts[PageType.NORMAL] += len(page_digests)

    def data_pages(self, gpa: int, data: bytes) -> None:
        """Measure ``data`` (a whole number of pages) as NORMAL pages from ``gpa`` on."""
        self.normal_pages(gpa, page_digests(data))

    def blank_pages(self, page_type: PageType, gpa: int, size: int) -> None:
        """Measure ``size`` bytes of ZERO or UNMEASURED pages (contents field all zero)."""
        for offset in range(0, size, PAGE_SIZE):
            self.update(page_type, gpa + offset, ZERO_DIGEST)

    def vmsa_page(self, page_digest: bytes) -> None:
        self.update(PageType.VMSA, VMSA_GPA, page_digest)


def page_digests(data: bytes, *, threads: int = 2) -> list[bytes]:
    """SHA-384 of each 4 KiB page of ``data`` (whose length is a multiple of 4 KiB).

    hashlib releases the GIL while it hashes a page, so large images are split between
    ``threads`` threads; the order of the result is the order of the pages.
    """
    if len(data) % PAGE_SIZE:
        raise InternalError("page data is not a whole number of pages")
    pages = len(data) // PAGE_SIZE
    if threads <= 1 or pages < 256:
        return _page_digests(memoryview(data), 0, pages)
    from refkit.hashing import run_parallel

    step = -(-pages // threads)
    view = memoryview(data)
    tasks = [
        partial(_page_digests, view, lo, min(lo + step, pages)) for lo in range(0, pages, step)
    ]
    parts: list[list[bytes]] = run_parallel(tasks)
    return [digest for part in parts for digest in part]


def _page_digests(view: memoryview, first: int, end: int) -> list[bytes]:
    sha384 = hashlib.sha384
    return [sha384(view[i * PAGE_SIZE : (i + 1) * PAGE_SIZE]).digest() for i in range(first, end)]
