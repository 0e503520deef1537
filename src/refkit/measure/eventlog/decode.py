"""Event data in words: what each logged event says was measured.

The event data is what the firmware or boot loader *says* it measured; the digest is what
was extended. For most types the two are linked only by the firmware's honesty, so the
decoded data is a description, never an input to replay. Layouts (all little-endian),
from the TCG PC Client Platform Firmware Profile 1.05 (PFP) and UEFI 2.10:

- UEFI_VARIABLE_DATA (PFP 10.4.3), EV_EFI_VARIABLE_*::

      GUID VariableName; u64 UnicodeNameLength (chars); u64 VariableDataLength;
      CHAR16 UnicodeName[]; u8 VariableData[]

  Boot#### data is an EFI_LOAD_OPTION (UEFI 3.1.3): u32 Attributes, u16
  FilePathListLength, CHAR16 Description (NUL-terminated), device path, optional data.
- UEFI_IMAGE_LOAD_EVENT (PFP 10.2.3), EV_EFI_BOOT_SERVICES_*/RUNTIME_SERVICES_DRIVER::

      u64 ImageLocationInMemory; UINTN ImageLengthInMemory; UINTN ImageLinkTimeAddress;
      UINTN LengthOfDevicePath; device path

  (UINTN is 4 or 8 bytes as the Spec ID event's uintnSize says: 1 or 2.)
- UEFI_GPT_DATA (PFP 10.4.4), EV_EFI_GPT_EVENT: the 92-byte GPT header, u64
  NumberOfPartitions, then entries of the header's SizeOfPartitionEntry.
- UEFI_PLATFORM_FIRMWARE_BLOB(2), UEFI_HANDOFF_TABLE_POINTERS(2) (PFP 10.4.2, 10.4.5):
  the *2 forms start with u8 size and a description (e.g. TDX's ``TdxTable``, ``Fv(...)``).
- EV_EFI_ACTION, EV_ACTION: ASCII. EV_IPL: GRUB logs ASCII ``grub_cmd: ...`` and
  ``kernel_cmdline: ...`` (NUL-terminated); systemd-stub logs its command line as UTF-16.
- EV_EVENT_TAG (PFP 10.4.2.1): u32 taggedEventID, u32 taggedEventDataSize, data.

:func:`decode_event` never raises: data that does not fit its type's layout is described
as malformed (the log's *structure* is checked strictly in :mod:`.log`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from refkit.errors import ParseError
from refkit.guid import guid_str
from refkit.measure.eventlog._cursor import Cursor
from refkit.measure.eventlog.devicepath import device_path_text
from refkit.measure.eventlog.spec import event_type_name

#: Well-known UEFI variable vendor GUIDs.
EFI_GLOBAL_VARIABLE = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
EFI_IMAGE_SECURITY_DATABASE = "d719b2cb-3d3a-4596-a3bc-dad00e67656f"
EFI_CERT_X509 = "a5c059a1-94e4-4aa7-87b5-ab155c2bf072"
EFI_CERT_SHA256 = "c1c41626-504c-4092-aca9-41f936934328"

KERNEL_CMDLINE_PREFIX = "kernel_cmdline: "

_SHORT = 32  # bytes of unknown data shown in hex


@dataclass(frozen=True)
class Decoded:
    """One event's data in words (``description``) and as JSON values (``fields``).

    ``command_line`` is the kernel command line when the event records one."""

    description: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    command_line: str | None = None


def one_line(text: str) -> str:
    """``text`` on one line: line breaks written as ``\\n`` (descriptions stay one line)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _printable(text: str) -> bool:
    return all(c.isprintable() or c in "\t\n\r" for c in text)


def _ascii(data: bytes) -> str | None:
    """The data as text when it is printable ASCII (trailing NULs dropped), else None."""
    stripped = data.rstrip(b"\0")
    if not stripped:
        return None
    try:
        text = stripped.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if _printable(text) else None


def _utf16(data: bytes) -> str | None:
    """The data as UTF-16LE text when it plausibly is (even length, printable), else None."""
    if len(data) < 2 or len(data) % 2:
        return None
    try:
        text = data.decode("utf-16-le").rstrip("\0")
    except UnicodeDecodeError:
        return None
    return text if text and _printable(text) else None


def _hex_short(data: bytes) -> str:
    if len(data) <= _SHORT:
        return data.hex() or "(empty)"
    return f"{data[:_SHORT].hex()}... ({len(data)} bytes)"


def _opaque(name: str, data: bytes) -> Decoded:
    text = _ascii(data)
    if text is not None:
        return Decoded(text, {"text": text})
    text = _utf16(data)
    if text is not None:
        return Decoded(text, {"text": text})
    return Decoded(f"{name} data {_hex_short(data)}", {"size": len(data)})


def _utf16z(data: bytes) -> str:
    return data.decode("utf-16-le", errors="replace").split("\0", 1)[0]


# -- UEFI variables -------------------------------------------------------------------------


def _variable(c: Cursor, event: str) -> Decoded:
    vendor = guid_str(c.take(16, "VariableName"))
    name_len = c.u64("UnicodeNameLength")
    data_len = c.u64("VariableDataLength")
    name = c.take(2 * name_len, "UnicodeName").decode("utf-16-le", errors="replace")
    value = c.take(data_len, "VariableData")
    fields: dict[str, Any] = {"vendor": vendor, "name": name, "size": data_len}
    detail = _variable_detail(name, vendor, value, event, fields)
    return Decoded(f"{name} ({vendor}){detail}", fields)


def _variable_detail(
    name: str, vendor: str, value: bytes, event: str, fields: dict[str, Any]
) -> str:
    if vendor == EFI_GLOBAL_VARIABLE and name == "BootOrder" and len(value) % 2 == 0:
        order = [
            f"Boot{int.from_bytes(value[i : i + 2], 'little'):04X}" for i in range(0, len(value), 2)
        ]
        fields["bootOrder"] = order
        return ": " + ",".join(order)
    if vendor == EFI_GLOBAL_VARIABLE and len(name) == 8 and name.startswith("Boot"):
        option = _load_option(value)
        if option is not None:
            fields.update(option)
            return f": {option['description']} {option['devicePath']}".rstrip()
    if event == "EV_EFI_VARIABLE_AUTHORITY" and vendor == EFI_IMAGE_SECURITY_DATABASE:
        # the db entry that authorised an image: EFI_SIGNATURE_DATA (owner GUID, then the
        # certificate or hash) as the PFP says, or the bare certificate as shim logs it
        cert = value if value[:2] == b"\x30\x82" else value[16:]
        if len(value) >= 16 and value[:2] != b"\x30\x82":
            fields["owner"] = guid_str(value[:16])
        subject = _certificate_subject(cert)
        if subject is not None:
            fields["certificate"] = subject
            return f": certificate {subject}"
        return f": authority entry of {len(value)} bytes"
    if name in ("PK", "KEK", "db", "dbx", "dbt", "dbr") or name.startswith("MokList"):
        count = _signature_count(value)
        if count is not None:
            fields["signatures"] = count
            return f": {count} signature(s) in {len(value)} bytes"
    if len(value) <= 8:
        fields["value"] = value.hex()
        return f" = {value.hex() or '(empty)'}"
    return f": {len(value)} bytes"


def _certificate_subject(der: bytes) -> str | None:
    """The subject of a DER X.509 certificate, None when it is not one."""
    if der[:2] != b"\x30\x82":
        return None
    try:
        from cryptography import x509

        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:
        return None


def _load_option(value: bytes) -> dict[str, Any] | None:
    if len(value) < 6:
        return None
    attributes = int.from_bytes(value[:4], "little")
    path_len = int.from_bytes(value[4:6], "little")
    rest = value[6:]
    end = next((i for i in range(0, len(rest) - 1, 2) if rest[i : i + 2] == b"\0\0"), None)
    if end is None or end + 2 + path_len > len(rest):
        return None
    description = rest[:end].decode("utf-16-le", errors="replace")
    path = rest[end + 2 : end + 2 + path_len]
    optional = rest[end + 2 + path_len :]
    out: dict[str, Any] = {
        "attributes": attributes,
        "description": description,
        "devicePath": device_path_text(path),
    }
    if optional:
        out["optionalData"] = _hex_short(optional)
    return out


def _signature_count(value: bytes) -> int | None:
    """Entries in a list of EFI_SIGNATURE_LIST (UEFI 32.4.1), None if it is not one."""
    pos = count = 0
    while pos < len(value):
        if len(value) - pos < 28:
            return None
        list_size = int.from_bytes(value[pos + 16 : pos + 20], "little")
        header_size = int.from_bytes(value[pos + 20 : pos + 24], "little")
        sig_size = int.from_bytes(value[pos + 24 : pos + 28], "little")
        if list_size < 28 + header_size or pos + list_size > len(value) or sig_size == 0:
            return None
        count += (list_size - 28 - header_size) // sig_size
        pos += list_size
    return count


# -- images, GPT, blobs, tables -------------------------------------------------------------


def _image(c: Cursor, uintn: int) -> Decoded:
    location = c.u64("ImageLocationInMemory")
    length = c.uint(uintn, "ImageLengthInMemory")
    link = c.uint(uintn, "ImageLinkTimeAddress")
    path_len = c.uint(uintn, "LengthOfDevicePath")
    path = device_path_text(c.take(path_len, "DevicePath"))
    fields = {
        "imageLocation": location,
        "imageLength": length,
        "linkTimeAddress": link,
        "devicePath": path,
    }
    return Decoded(path or f"image at {location:#x} ({length} bytes), no device path", fields)


def _gpt(c: Cursor) -> Decoded:
    header = c.take(92, "EFI_PARTITION_TABLE_HEADER")
    if header[:8] != b"EFI PART":
        raise c.fail("GPT header signature is not 'EFI PART'", field="Signature")
    disk = guid_str(header[56:72])
    entry_size = int.from_bytes(header[84:88], "little")
    count = c.u64("NumberOfPartitions")
    if entry_size < 128 or count * entry_size > c.remaining:
        raise c.fail(f"{count} partition entries of {entry_size} bytes do not fit")
    names = []
    for i in range(count):
        entry = c.take(entry_size, f"Partitions[{i}]")
        names.append(_utf16z(entry[56:128]) or guid_str(entry[:16]))
    fields = {"diskGuid": disk, "partitions": names}
    return Decoded(f"GPT disk {disk}: {count} partition(s): {', '.join(names)}", fields)


def _blob(c: Cursor, described: bool) -> Decoded:
    desc = c.take(c.u8("BlobDescriptionSize"), "BlobDescription") if described else b""
    base = c.u64("BlobBase")
    length = c.u64("BlobLength")
    text = _ascii(desc) or (desc.hex() if desc else "")
    fields: dict[str, Any] = {"base": base, "length": length}
    if text:
        fields["description"] = text
    where = f"{length:#x} bytes at {base:#x}"
    return Decoded(f"{text}: {where}" if text else f"firmware blob of {where}", fields)


def _tables(c: Cursor, described: bool, uintn: int) -> Decoded:
    desc = c.take(c.u8("TableDescriptionSize"), "TableDescription") if described else b""
    count = c.uint(uintn, "NumberOfTables")
    if count * (16 + uintn) > c.remaining:
        raise c.fail(f"{count} tables do not fit in the event data", field="NumberOfTables")
    tables = [
        f"{guid_str(c.take(16, 'VendorGuid'))}@{c.uint(uintn, 'VendorTable'):#x}"
        for _ in range(count)
    ]
    text = _ascii(desc) or (desc.hex() if desc else "")
    fields: dict[str, Any] = {"tables": tables}
    if text:
        fields["description"] = text
    body = ", ".join(tables) if tables else "no tables"
    return Decoded(f"{text}: {body}" if text else f"handoff tables: {body}", fields)


def _separator(data: bytes) -> Decoded:
    value = int.from_bytes(data, "little") if len(data) == 4 else None
    if value == 0:
        return Decoded("separator", {"value": 0})
    if value == 0xFFFFFFFF:
        return Decoded("separator (error)", {"value": value})
    return Decoded(f"separator {_hex_short(data)}", {"size": len(data)})


def _no_action(data: bytes) -> Decoded:
    if data.startswith(b"StartupLocality\0") and len(data) == 17:
        return Decoded(f"startup locality {data[16]}", {"startupLocality": data[16]})
    signature = data[:16].split(b"\0", 1)[0]
    text = _ascii(signature)
    if text:
        return Decoded(f"{text} (not extended)", {"signature": text, "size": len(data)})
    return Decoded(f"not extended: {_hex_short(data)}", {"size": len(data)})


def _ipl(data: bytes) -> Decoded:
    text = _ascii(data)
    if text is not None:
        if text.startswith(KERNEL_CMDLINE_PREFIX):
            line = text[len(KERNEL_CMDLINE_PREFIX) :]
            return Decoded(text, {"text": text}, command_line=line)
        return Decoded(text, {"text": text})
    text = _utf16(data)
    if text is not None:
        return Decoded(text, {"text": text, "encoding": "utf-16le"}, command_line=text)
    return Decoded(f"IPL data {_hex_short(data)}", {"size": len(data)})


#: Tagged events of the Linux EFI stub (include/linux/efi.h), PCR 9 (RTMR2 on TDX): the
#: digest is of the initrd / of the UTF-16 load options; the text is not in the log.
KNOWN_TAGS = {
    0x8F3B22EC: "Linux initrd",
    0x8F3B22ED: "kernel load options (the command line; its text is not logged)",
}


def _tagged(c: Cursor) -> Decoded:
    tag = c.u32("taggedEventID")
    body = c.take(c.u32("taggedEventDataSize"), "taggedEventData")
    text = _ascii(body) or _utf16(body)
    fields: dict[str, Any] = {"tag": f"{tag:#010x}", "size": len(body)}
    if text is not None:
        fields["text"] = text
    shown = text if text is not None else _hex_short(body)
    known = KNOWN_TAGS.get(tag)
    if known is not None:
        fields["meaning"] = known
        return Decoded(f"{known} [{shown}]", fields)
    return Decoded(f"tag {tag:#010x}: {shown}", fields)


def decode_event(event_type: int, data: bytes, *, uintn: int = 8, offset: int = 0) -> Decoded:
    """Describe one event's data; ``offset`` is where the data starts in the log (used in
    descriptions of malformed data). Never raises."""
    name = event_type_name(event_type)
    c = Cursor(data, source="event data", base=offset)
    try:
        decoded = _decode(name, data, c, uintn)
    except ParseError as exc:
        return Decoded(f"malformed {name} data: {exc.reason}", {"malformed": exc.reason})
    if "\n" in decoded.description or "\r" in decoded.description:
        return Decoded(one_line(decoded.description), decoded.fields, decoded.command_line)
    return decoded


def _decode(name: str, data: bytes, c: Cursor, uintn: int) -> Decoded:
    if name.startswith("EV_EFI_VARIABLE"):
        return _variable(c, name)
    if name in (
        "EV_EFI_BOOT_SERVICES_APPLICATION",
        "EV_EFI_BOOT_SERVICES_DRIVER",
        "EV_EFI_RUNTIME_SERVICES_DRIVER",
    ):
        return _image(c, uintn)
    if name in ("EV_EFI_GPT_EVENT", "EV_EFI_GPT_EVENT2"):
        return _gpt(c)
    if name == "EV_EFI_PLATFORM_FIRMWARE_BLOB":
        return _blob(c, described=False)
    if name == "EV_EFI_PLATFORM_FIRMWARE_BLOB2":
        return _blob(c, described=True)
    if name == "EV_EFI_HANDOFF_TABLES":
        return _tables(c, described=False, uintn=uintn)
    if name == "EV_EFI_HANDOFF_TABLES2":
        return _tables(c, described=True, uintn=uintn)
    if name == "EV_SEPARATOR":
        return _separator(data)
    if name == "EV_NO_ACTION":
        return _no_action(data)
    if name == "EV_IPL":
        return _ipl(data)
    if name == "EV_EVENT_TAG":
        return _tagged(c)
    if name in ("EV_EFI_ACTION", "EV_ACTION"):
        text = _ascii(data)
        return Decoded(text, {"text": text}) if text else _opaque(name, data)
    return _opaque(name, data)
