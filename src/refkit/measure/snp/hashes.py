"""The SEV kernel hashes table that QEMU places in guest memory for direct kernel boot.

Layout (QEMU ``target/i386/sev.c``, ``SevHashTable``; GUIDs in ../shared/DOMAIN.md §2),
little-endian, padded to a multiple of 16 bytes (168 → 176)::

    GUID 9438d606-4f22-4cc9-b479-a793d411fd21   u16 length 168
    GUID 97d02dd8-... (cmdline)  u16 50  SHA-256 of the command line + NUL
    GUID 44baf731-... (initrd)   u16 50  SHA-256 of the initrd (of b"" when none)
    GUID 4de79437-... (kernel)   u16 50  SHA-256 of the kernel file as given

An empty command line and no command line both hash the single byte NUL, as QEMU does.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from refkit.errors import InternalError
from refkit.guid import guid_bytes_le

TABLE_GUID = guid_bytes_le("9438d606-4f22-4cc9-b479-a793d411fd21")
KERNEL_GUID = guid_bytes_le("4de79437-abd2-427f-b835-d5b172d2045b")
INITRD_GUID = guid_bytes_le("44baf731-3a2f-4bd7-9af1-41e29169781d")
CMDLINE_GUID = guid_bytes_le("97d02dd8-bd20-4c94-aa78-e7714d36ab2a")

_ENTRY_LEN = 16 + 2 + 32
_TABLE_LEN = 16 + 2 + 3 * _ENTRY_LEN  # 168
PADDED_TABLE_LEN = (_TABLE_LEN + 15) & ~15  # 176
PAGE_SIZE = 4096


def cmdline_bytes(append: str | None) -> bytes:
    """The bytes QEMU hashes for a kernel command line: UTF-8 text plus NUL."""
    return (append or "").encode("utf-8") + b"\x00"


class KernelHashes(NamedTuple):
    """The three SHA-256 digests that go into the table."""

    kernel: bytes
    initrd: bytes
    cmdline: bytes

    def table(self) -> bytes:
        """The padded 176-byte hashes table."""

        def entry(guid: bytes, digest: bytes) -> bytes:
            if len(digest) != 32:
                raise InternalError("kernel hashes must be SHA-256 digests")
            return guid + _ENTRY_LEN.to_bytes(2, "little") + digest

        body = (
            TABLE_GUID
            + _TABLE_LEN.to_bytes(2, "little")
            + entry(CMDLINE_GUID, self.cmdline)
            + entry(INITRD_GUID, self.initrd)
            + entry(KERNEL_GUID, self.kernel)
        )
        return body + bytes(PADDED_TABLE_LEN - len(body))

    def page(self, offset: int) -> bytes:
        """A 4 KiB page holding the table at ``offset`` (the table GPA's offset in its page)."""
        if not 0 <= offset <= PAGE_SIZE - PADDED_TABLE_LEN:
            raise InternalError(f"hashes table offset {offset:#x} does not fit in a page")
        table = self.table()
        return bytes(offset) + table + bytes(PAGE_SIZE - offset - len(table))


def empty_sha256() -> bytes:
    return hashlib.sha256(b"").digest()
