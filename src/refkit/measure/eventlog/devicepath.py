"""UEFI device paths to text, for the common nodes (UEFI 2.10 section 10.3).

A device path is a list of nodes ``{u8 type, u8 subtype, u16 length (incl. this header),
data}`` ending with the end node (type 0x7F, subtype 0xFF). Nodes refkit knows are written
as the UEFI text form names them (``PciRoot(0x0)/Pci(0x3,0x0)/HD(1,GPT,...)/\\EFI\\BOOT\\
BOOTX64.EFI``); others as ``Path(type,subtype,hexdata)``, so nothing is dropped.

:func:`device_path_text` never raises on the data itself: a node that runs past the end is
reported inside the text (``<truncated ...>``). It is a description, not a digest input.
"""

from __future__ import annotations

from refkit.guid import guid_str

_END = 0x7F


def _u(data: bytes, start: int, size: int) -> int:
    return int.from_bytes(data[start : start + size], "little")


def _utf16z(data: bytes) -> str:
    text = data.decode("utf-16-le", errors="replace")
    return text.split("\0", 1)[0]


def _node(kind: int, sub: int, d: bytes) -> str:
    if kind == 0x01:  # hardware
        if sub == 0x01 and len(d) >= 2:
            return f"Pci({d[1]:#x},{d[0]:#x})"
        if sub == 0x03 and len(d) >= 20:
            return f"MemoryMapped({_u(d, 0, 4)},{_u(d, 4, 8):#x},{_u(d, 12, 8):#x})"
        if sub == 0x04 and len(d) >= 16:
            return f"VenHw({guid_str(d[:16])}{',' + d[16:].hex() if d[16:] else ''})"
    elif kind == 0x02:  # ACPI
        if sub == 0x01 and len(d) >= 8:
            hid, uid = _u(d, 0, 4), _u(d, 4, 4)
            if hid == 0x0A0341D0:
                return f"PciRoot({uid:#x})"
            if hid == 0x0A0841D0:
                return f"PcieRoot({uid:#x})"
            return f"Acpi({_eisa(hid)},{uid:#x})"
    elif kind == 0x03:  # messaging
        if sub == 0x02 and len(d) >= 4:
            return f"Scsi({_u(d, 0, 2):#x},{_u(d, 2, 2):#x})"
        if sub == 0x05 and len(d) >= 2:
            return f"USB({d[0]:#x},{d[1]:#x})"
        if sub == 0x0B and len(d) >= 33:
            return f"MAC({d[:6].hex()},{d[32]:#x})"
        if sub == 0x12 and len(d) >= 6:
            return f"Sata({_u(d, 0, 2):#x},{_u(d, 2, 2):#x},{_u(d, 4, 2):#x})"
        if sub == 0x17 and len(d) >= 12:
            return f"NVMe({_u(d, 0, 4):#x},{'-'.join(f'{b:02X}' for b in d[4:12])})"
        if sub == 0x18:
            return f"Uri({d.decode('ascii', errors='replace')})"
        if sub == 0x0A and len(d) >= 16:
            return f"VenMsg({guid_str(d[:16])}{',' + d[16:].hex() if d[16:] else ''})"
    elif kind == 0x04:  # media
        if sub == 0x01 and len(d) >= 38:
            part, start, size = _u(d, 0, 4), _u(d, 4, 8), _u(d, 12, 8)
            fmt, sig_type = d[36], d[37]
            if sig_type == 0x02:
                sig = guid_str(d[20:36])
                return f"HD({part},GPT,{sig},{start:#x},{size:#x})"
            if sig_type == 0x01:
                return f"HD({part},MBR,{_u(d, 20, 4):#010x},{start:#x},{size:#x})"
            return f"HD({part},{fmt:#x},{sig_type:#x},{start:#x},{size:#x})"
        if sub == 0x02 and len(d) >= 20:
            return f"CDROM({_u(d, 0, 4):#x},{_u(d, 4, 8):#x},{_u(d, 12, 8):#x})"
        if sub == 0x03 and len(d) >= 16:
            return f"VenMedia({guid_str(d[:16])}{',' + d[16:].hex() if d[16:] else ''})"
        if sub == 0x04:
            return _utf16z(d)
        if sub == 0x06 and len(d) >= 16:
            return f"FvFile({guid_str(d[:16])})"
        if sub == 0x07 and len(d) >= 16:
            return f"Fv({guid_str(d[:16])})"
        if sub == 0x08 and len(d) >= 20:
            return f"Offset({_u(d, 4, 8):#x},{_u(d, 12, 8):#x})"
    return f"Path({kind},{sub},{d.hex()})"


def _eisa(hid: int) -> str:
    """An EISA id (compressed PNP name) as text, e.g. PNP0A03."""
    if hid & 0xFFFF != 0x41D0:
        return f"{hid:#x}"
    return f"PNP{hid >> 16:04X}"


def device_path_text(data: bytes) -> str:
    """The text form of a device path (nodes joined by ``/``; instances by ``,``)."""
    parts: list[str] = []
    instance: list[str] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 4:
            instance.append(f"<truncated node at {pos:#x}>")
            break
        kind, sub, length = data[pos], data[pos + 1], _u(data, pos + 2, 2)
        if length < 4 or pos + length > len(data):
            instance.append(f"<bad node length {length} at {pos:#x}>")
            break
        body = data[pos + 4 : pos + length]
        pos += length
        if kind == _END:
            parts.append("/".join(instance))
            instance = []
            if sub == 0xFF:
                break
            continue  # 0x01: end of this instance, another follows
        instance.append(_node(kind, sub, body))
    if instance:
        parts.append("/".join(instance))
    return ",".join(parts)
