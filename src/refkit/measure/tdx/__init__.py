"""Intel TDX launch values: MRTD and RTMR0-2, computed from boot artifacts.

* MRTD from the firmware's TDVF metadata (:mod:`.mrtd`), in either page order;
* RTMR1 and RTMR2 of a QEMU direct kernel boot from the kernel, command line and initrd
  (:mod:`.rtmr`);
* RTMR0 from captured platform data or a reference event log, one value per VM shape
  (:mod:`.platform`).

Every register is also returned as its list of :class:`~refkit.measure.events.MeasuredEvent`
(:func:`rtmr_events`) so that ``measure replay --expect`` can name the first event that
differs and the input behind it. Pure: nothing is printed or written.

Assumptions recorded with every value (:class:`TdxResult`): the firmware build (its
digests and TDX metadata), the page order, the load-options variant, the VMM and version
and the shape the platform data belongs to. The kernel is measured as the unmodified file:
QEMU versions that patch the kernel's setup header before the firmware measures it (so
that RTMR1 depends on memory size and initrd) are not modelled.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from refkit.errors import InputError, read_input_file
from refkit.measure.events import MeasuredEvent
from refkit.measure.firmware import parse_firmware
from refkit.measure.pe import MAX_PE_BYTES, authenticode_digests, load_pe
from refkit.measure.tdx.mrtd import PageOrder, compute_mrtd, measured_sections
from refkit.measure.tdx.platform import (
    PlatformRtmr0,
    Shape,
    rtmr0_from_directory,
    rtmr0_from_log,
)
from refkit.measure.tdx.rtmr import LoadOptions, replay_rtmrs, rtmr1_events, rtmr2_events

MAX_FIRMWARE_BYTES = 256 * 1024 * 1024
MAX_INITRD_BYTES = 2 * 1024 * 1024 * 1024

StrPath = str | os.PathLike[str]
_NO_SHAPE = Shape()


@dataclass(frozen=True)
class TdxRequest:
    """What to compute. Paths are files; ``append`` None means no command line."""

    firmware: StrPath
    kernel: StrPath | None = None
    initrd: StrPath | None = None
    append: str | None = None
    page_order: PageOrder = PageOrder.PER_PAGE
    load_options: LoadOptions = LoadOptions.QEMU_OVMF
    platform_data: Sequence[StrPath] = ()
    reference_logs: Sequence[StrPath] = ()
    shape: Shape = _NO_SHAPE


@dataclass(frozen=True)
class InputFile:
    """A measured file: its path as given, size and hex digests."""

    path: str
    size: int
    digests: dict[str, str]


@dataclass(frozen=True)
class Rtmr0Value:
    """RTMR0 for one shape, with the events that produced it."""

    origin: str
    kind: str
    shape: Shape
    value: str
    events: tuple[MeasuredEvent, ...]


@dataclass(frozen=True)
class TdxResult:
    """MRTD, RTMR1/2 (when a kernel is given), RTMR0 per shape, and their provenance."""

    request: TdxRequest
    firmware: InputFile
    firmware_sections: tuple[dict[str, object], ...]
    mrtd: str
    kernel: InputFile | None
    kernel_authenticode: dict[str, str] | None
    initrd: InputFile | None
    rtmr1: str | None
    rtmr2: str | None
    rtmr0: tuple[Rtmr0Value, ...]
    events: tuple[MeasuredEvent, ...] = field(repr=False)
    firmware_flavour: str = ""
    #: things the caller should know about the inputs (not errors)
    notes: tuple[str, ...] = ()


def _input(path: str, data: bytes) -> InputFile:
    return InputFile(
        path,
        len(data),
        {a: hashlib.new(a, data).hexdigest() for a in ("sha256", "sha384")},
    )


def rtmr_events(
    *,
    kernel: StrPath | bytes | None = None,
    initrd: StrPath | bytes | None = None,
    append: str | None = None,
    load_options: LoadOptions = LoadOptions.QEMU_OVMF,
    rtmr0: PlatformRtmr0 | None = None,
) -> list[MeasuredEvent]:
    """The computed events of RTMR0 (when platform data is given), RTMR1 and RTMR2."""
    events: list[MeasuredEvent] = list(rtmr0.events) if rtmr0 is not None else []
    if kernel is not None:
        image = load_pe(kernel, what="kernel")
        digest = authenticode_digests(image, ("sha384",))["sha384"]
        events += rtmr1_events(digest, image.source)
        initrd_digest = initrd_source = None
        if initrd is not None:
            data = (
                initrd
                if isinstance(initrd, bytes)
                else read_input_file(initrd, what="initrd", limit=MAX_INITRD_BYTES)
            )
            initrd_digest = hashlib.sha384(data).digest()
            initrd_source = "<initrd bytes>" if isinstance(initrd, bytes) else os.fspath(initrd)
        events += rtmr2_events(append or "", load_options, initrd_digest, initrd_source)
    elif initrd is not None or append is not None:
        raise InputError("an initrd or a command line needs a kernel")
    return events


def measure(request: TdxRequest) -> TdxResult:
    """Compute everything ``request`` asks for."""
    fw_path = os.fspath(request.firmware)
    fw_data = read_input_file(fw_path, what="firmware", limit=MAX_FIRMWARE_BYTES)
    firmware = parse_firmware(fw_data, source=fw_path)
    sections = measured_sections(firmware)
    mrtd = compute_mrtd(firmware, request.page_order)
    if (request.initrd is not None or request.append is not None) and request.kernel is None:
        raise InputError("an initrd or a command line needs a kernel")
    kernel_file = initrd_file = None
    authenticode = None
    events: list[MeasuredEvent] = []
    rtmr1 = rtmr2 = None
    if request.kernel is not None:
        kpath = os.fspath(request.kernel)
        kdata = read_input_file(kpath, what="kernel", limit=MAX_PE_BYTES)
        kernel_file = _input(kpath, kdata)
        image = load_pe(kdata, what="kernel")
        digests = authenticode_digests(image, ("sha256", "sha384"))
        authenticode = {a: d.hex() for a, d in digests.items()}
        events += rtmr1_events(digests["sha384"], kpath)
        initrd_digest = None
        ipath = None
        if request.initrd is not None:
            ipath = os.fspath(request.initrd)
            idata = read_input_file(ipath, what="initrd", limit=MAX_INITRD_BYTES)
            initrd_file = _input(ipath, idata)
            initrd_digest = bytes.fromhex(initrd_file.digests["sha384"])
        events += rtmr2_events(request.append or "", request.load_options, initrd_digest, ipath)
        values = replay_rtmrs(events)
        rtmr1, rtmr2 = values["rtmr1"], values["rtmr2"]
    platforms = [rtmr0_from_directory(p, firmware) for p in request.platform_data]
    platforms += [rtmr0_from_log(p, request.shape) for p in request.reference_logs]
    rtmr0 = []
    for platform in platforms:
        shape = platform.shape
        if shape == Shape():
            shape = request.shape
        rtmr0.append(
            Rtmr0Value(
                platform.origin,
                platform.kind,
                shape,
                replay_rtmrs(platform.events)["rtmr0"],
                platform.events,
            )
        )
    notes = []
    if not firmware.is_tdx_build:
        notes.append(
            f"{fw_path} also carries SEV metadata with configured sections ({firmware.flavour()}): "
            "check that it is the firmware the TDX guest boots"
        )
    all_events = tuple(e for p in rtmr0[:1] for e in p.events) + tuple(events)
    return TdxResult(
        request=request,
        firmware=_input(fw_path, fw_data),
        firmware_sections=tuple(
            {
                "index": s.number,
                "type": _section_type(s.type_code),
                "gpa": f"{s.gpa:#x}",
                "memSize": s.mem_size,
                "rawSize": s.raw_size,
                "dataOffset": s.data_offset,
                "attributes": f"{s.attributes:#x}",
            }
            for s in sections
        ),
        mrtd=mrtd.hex(),
        kernel=kernel_file,
        kernel_authenticode=authenticode,
        initrd=initrd_file,
        rtmr1=rtmr1,
        rtmr2=rtmr2,
        rtmr0=tuple(rtmr0),
        events=all_events,
        firmware_flavour=firmware.flavour(),
        notes=tuple(notes),
    )


def _section_type(code: int) -> str:
    from refkit.measure.firmware import TdvfSectionType

    try:
        return TdvfSectionType(code).name
    except ValueError:
        return f"unknown type {code:#x}"


__all__ = [
    "LoadOptions",
    "PageOrder",
    "Shape",
    "TdxRequest",
    "TdxResult",
    "compute_mrtd",
    "measure",
    "rtmr_events",
]
