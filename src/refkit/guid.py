"""GUIDs as EFI stores them (mixed-endian ``bytes_le``), without importing :mod:`uuid`.

EFI_GUID is {u32 data1, u16 data2, u16 data3, u8 data4[8]} with the first three fields
little-endian. refkit names GUIDs by their canonical lower-case string everywhere.
"""

from __future__ import annotations


def guid_bytes_le(text: str) -> bytes:
    """``"96b582de-1fb2-45f7-baea-a366c55a082d"`` → its 16-byte EFI encoding."""
    raw = bytes.fromhex(text.replace("-", ""))
    if len(raw) != 16 or text.count("-") != 4:
        raise ValueError(f"not a GUID: {text!r}")
    return raw[3::-1] + raw[5:3:-1] + raw[7:5:-1] + raw[8:]


def guid_str(data: bytes) -> str:
    """The canonical string of a 16-byte EFI-encoded GUID."""
    if len(data) != 16:
        raise ValueError("a GUID is 16 bytes")
    raw = data[3::-1] + data[5:3:-1] + data[7:5:-1] + data[8:]
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
