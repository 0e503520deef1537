"""RTMR0: the platform data a host captures, read from a directory or a reference log.

RTMR0 depends on what the VMM hands the firmware (the TD HOB with the memory map, the ACPI
tables QEMU generates for the vCPU count and devices, the UEFI variables), not only on
boot artifacts. A host captures them once per VM shape; refkit computes RTMR0 from them
and names the file behind every event.

Platform-data directory (every name fixed; documented in docs/tdx-uki.md)::

    td_hob.bin                    the TD HOB list as the firmware received it (required)
    cfv.bin                       the configuration firmware volume; default: the CFV
                                  section of the firmware image (TDVF metadata)
    SecureBoot.bin PK.bin KEK.bin db.bin dbx.bin
                                  each variable's data; a missing file is a variable
                                  that does not exist (measured with no data)
    acpi/                         the ACPI blobs OVMF measures ("ACPI DATA"), in the
                                  order of their file names (prefix them 1-, 2-, ...)
    BootOrder.bin, Boot####.bin   boot variables, measured BootOrder first, then each
                                  Boot#### in BootOrder's order (optional)
    shape.json                    {"vcpus": N, "memoryMiB": M, "vmm": "QEMU",
                                   "vmmVersion": "9.2.0"} (optional; recorded)

Event order (as in the CCEL log of a real TDX boot): TD HOB (EV_EFI_HANDOFF_TABLES2), CFV
(EV_EFI_PLATFORM_FIRMWARE_BLOB2), SecureBoot, PK, KEK, db, dbx
(EV_EFI_VARIABLE_DRIVER_CONFIG), separator, ACPI data (EV_PLATFORM_CONFIG_FLAGS), boot
variables (EV_EFI_VARIABLE_BOOT). Newer OVMF releases (2025.05 and later) log more
events; for those, take RTMR0 from a captured reference log (:func:`rtmr0_from_log`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

from refkit.errors import InputError, Location, ParseError, read_input_file
from refkit.measure.events import MeasuredEvent
from refkit.measure.firmware import Firmware, TdvfSectionType
from refkit.measure.tdx.mrtd import section_bytes
from refkit.measure.tdx.rtmr import (
    EFI_GLOBAL_VARIABLE,
    EFI_IMAGE_SECURITY_DATABASE,
    event,
    separator,
    sha384,
    variable_data,
)

SECURE_BOOT_VARIABLES = (
    ("SecureBoot", EFI_GLOBAL_VARIABLE),
    ("PK", EFI_GLOBAL_VARIABLE),
    ("KEK", EFI_GLOBAL_VARIABLE),
    ("db", EFI_IMAGE_SECURITY_DATABASE),
    ("dbx", EFI_IMAGE_SECURITY_DATABASE),
)
MAX_PLATFORM_FILE = 64 * 1024 * 1024
MAX_LOG_BYTES = 64 * 1024 * 1024
_SHAPE_FIELDS = {"vcpus": int, "memoryMiB": int, "vmm": str, "vmmVersion": str}


class Shape(NamedTuple):
    """The VM shape a platform capture or reference log belongs to (as declared)."""

    vcpus: int | None = None
    memory_mib: int | None = None
    vmm: str | None = None
    vmm_version: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "vcpus": self.vcpus,
            "memoryMiB": self.memory_mib,
            "vmm": self.vmm,
            "vmmVersion": self.vmm_version,
        }


class PlatformRtmr0(NamedTuple):
    """RTMR0's events for one shape, and where they came from."""

    origin: str
    kind: str  # "platform-data" or "reference-log"
    shape: Shape
    events: tuple[MeasuredEvent, ...]


def _read(path: Path, what: str) -> bytes:
    return read_input_file(path, what=what, limit=MAX_PLATFORM_FILE)


def read_shape(path: Path) -> Shape:
    data = _read(path, "shape file")
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"not JSON: {exc}", location=Location(str(path))) from None
    if not isinstance(value, dict):
        raise ParseError("expected a JSON object", location=Location(str(path)))
    for key, item in value.items():
        kind = _SHAPE_FIELDS.get(key)
        if kind is None:
            raise ParseError(
                f"unknown field {key!r} (known: {', '.join(_SHAPE_FIELDS)})",
                location=Location(str(path), None, key),
            )
        if not isinstance(item, kind) or isinstance(item, bool):
            raise ParseError(f"expected {kind.__name__}", location=Location(str(path), None, key))
    return Shape(
        value.get("vcpus"), value.get("memoryMiB"), value.get("vmm"), value.get("vmmVersion")
    )


def _describe(path: Path, data: bytes) -> str:
    return f"{path} (sha256 {hashlib.sha256(data).hexdigest()})"


def rtmr0_from_directory(folder: str | os.PathLike[str], firmware: Firmware) -> PlatformRtmr0:
    """RTMR0's events from a platform-data directory (see the module docstring)."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"platform data {root} is not a directory")
    events: list[MeasuredEvent] = []
    hob_path = root / "td_hob.bin"
    if not hob_path.exists():
        raise InputError(
            f"platform data {root} has no td_hob.bin",
            hint="capture the TD HOB the firmware receives for this VM shape (docs/tdx-uki.md)",
        )
    hob = _read(hob_path, "TD HOB")
    events.append(
        event("rtmr0", "EV_EFI_HANDOFF_TABLES2", hob, "TD HOB (TdxTable)", _describe(hob_path, hob))
    )
    cfv_path = root / "cfv.bin"
    if cfv_path.exists():
        cfv = _read(cfv_path, "CFV")
        cfv_source = _describe(cfv_path, cfv)
    else:
        found = section_bytes(firmware, TdvfSectionType.CFV)
        if found is None:
            raise InputError(
                f"the firmware has no CFV section and {root} has no cfv.bin",
                hint="capture the configuration firmware volume as cfv.bin",
            )
        cfv = found
        cfv_source = f"CFV section of {firmware.source}"
    events.append(
        event(
            "rtmr0",
            "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
            cfv,
            "configuration firmware volume",
            cfv_source,
        )
    )
    for name, guid in SECURE_BOOT_VARIABLES:
        path = root / f"{name}.bin"
        data = _read(path, f"variable {name}") if path.exists() else b""
        source = _describe(path, data) if path.exists() else f"{path} absent: variable not set"
        events.append(
            event(
                "rtmr0",
                "EV_EFI_VARIABLE_DRIVER_CONFIG",
                variable_data(guid, name, data),
                f"Secure Boot variable {name}",
                source,
            )
        )
    events.append(separator("rtmr0"))
    acpi = root / "acpi"
    if acpi.is_dir():
        for path in sorted(acpi.iterdir(), key=lambda p: p.name):
            blob = _read(path, "ACPI data")
            events.append(
                event(
                    "rtmr0",
                    "EV_PLATFORM_CONFIG_FLAGS",
                    b"ACPI DATA",
                    f"ACPI data {path.name}",
                    _describe(path, blob),
                    digest_of=blob,
                )
            )
    events.extend(_boot_variables(root))
    shape_path = root / "shape.json"
    shape = read_shape(shape_path) if shape_path.exists() else Shape()
    return PlatformRtmr0(str(root), "platform-data", shape, tuple(events))


def _boot_variables(root: Path) -> list[MeasuredEvent]:
    order_path = root / "BootOrder.bin"
    if not order_path.exists():
        return []
    order = _read(order_path, "BootOrder")
    if len(order) % 2:
        raise ParseError("BootOrder has an odd length", location=Location(str(order_path)))
    out = [
        event(
            "rtmr0",
            "EV_EFI_VARIABLE_BOOT",
            variable_data(EFI_GLOBAL_VARIABLE, "BootOrder", order),
            "boot variable BootOrder",
            _describe(order_path, order),
            digest_of=order,
        )
    ]
    for i in range(0, len(order), 2):
        name = f"Boot{int.from_bytes(order[i : i + 2], 'little'):04X}"
        path = root / f"{name}.bin"
        if not path.exists():
            raise InputError(f"BootOrder names {name} but {path} is missing")
        data = _read(path, name)
        out.append(
            event(
                "rtmr0",
                "EV_EFI_VARIABLE_BOOT",
                variable_data(EFI_GLOBAL_VARIABLE, name, data),
                f"boot variable {name}",
                _describe(path, data),
                digest_of=data,
            )
        )
    return out


def log_events(data: bytes, *, source: str) -> list[MeasuredEvent]:
    """Every measured event of a CCEL log (EV_NO_ACTION skipped), as MeasuredEvents, read
    by the one event-log parser (:mod:`refkit.measure.eventlog`)."""
    from refkit.measure.eventlog.log import LogFormat, parse_log

    log = parse_log(data, source=source, log_format=LogFormat.CCEL)
    out = []
    for item in log.events[1:]:
        if not item.extended:
            continue
        digest = item.digests.get("sha384")
        if digest is None:
            raise ParseError(
                "event without a SHA-384 digest", location=Location(source, item.offset)
            )
        out.append(
            MeasuredEvent(
                register=item.register,
                event_type=item.type_name,
                digests={"sha384": digest.hex()},
                description=_log_description(item.type_name, item.data),
                source=f"{source} offset {item.offset:#x}",
                data=item.data,
            )
        )
    return out


def _log_description(type_name: str, data: bytes) -> str:
    if type_name in ("EV_EFI_ACTION", "EV_PLATFORM_CONFIG_FLAGS") or re.fullmatch(
        rb"[ -~]{1,80}\0?", data
    ):
        return data.rstrip(b"\0").decode("ascii", "replace")
    return type_name


def rtmr0_from_log(path: str | os.PathLike[str], shape: Shape) -> PlatformRtmr0:
    """RTMR0's events as a captured reference log (CCEL) records them."""
    data = read_input_file(path, what="reference event log", limit=MAX_LOG_BYTES)
    source = os.fspath(path)
    events = tuple(e for e in log_events(data, source=source) if e.register == "rtmr0")
    if not events:
        raise InputError(f"{source}: the event log has no RTMR0 events")
    return PlatformRtmr0(source, "reference-log", shape, events)


__all__ = [
    "PlatformRtmr0",
    "Shape",
    "log_events",
    "rtmr0_from_directory",
    "rtmr0_from_log",
    "sha384",
]
