"""The TDX measurement document: what ``refkit measure tdx --json`` prints, read back.

:func:`result_json` writes it from a :class:`~refkit.measure.tdx.TdxResult`;
:func:`parse_measured` reads it back, strictly (unknown top-level fields refused, every
value type-checked, each failure a ParseError naming the field), into a
:class:`TdxMeasured` for the manifest converter (:mod:`refkit.manifests.measured`).

Every value carries what it assumes: the firmware build (path, size, digests, TDVF
sections), the page order, the load-options variant, the kernel as measured (unmodified
file), and per RTMR0 value its origin (platform-data directory or reference log) and the
VM shape (vCPUs, memory, VMM and version) it belongs to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from refkit.measure.events import event_json

if TYPE_CHECKING:
    from refkit.measure.tdx import InputFile, TdxResult

KIND = "tdx"
TOOL_NAME = "refkit"
#: How the kernel is measured (see refkit.measure.tdx): recorded with RTMR1.
KERNEL_MEASURED_AS = "authenticode of the unmodified kernel file"
_TOP_FIELDS = (
    "tool", "kind", "firmware", "pageOrder", "mrtd", "kernel", "initrd", "cmdline",
    "kernelMeasuredAs", "rtmr1", "rtmr2", "rtmr0", "shape", "events", "notes",
)  # fmt: skip


def _file(item: InputFile | None, extra: Mapping[str, Any] | None = None) -> Any:
    if item is None:
        return None
    out: dict[str, Any] = {"path": item.path, "size": item.size, **item.digests}
    out.update(extra or {})
    return out


def result_json(result: TdxResult) -> dict[str, Any]:
    from refkit import __version__

    req = result.request
    return {
        "tool": {"name": TOOL_NAME, "version": __version__},
        "kind": KIND,
        "firmware": _file(
            result.firmware,
            {"tdvfSections": list(result.firmware_sections), "flavour": result.firmware_flavour},
        ),
        "notes": list(result.notes),
        "pageOrder": req.page_order.value,
        "mrtd": result.mrtd,
        "kernel": _file(result.kernel, {"authenticode": result.kernel_authenticode}),
        "initrd": _file(result.initrd),
        "cmdline": None
        if result.kernel is None
        else {
            "given": req.append is not None,
            "value": req.append or "",
            "loadOptions": req.load_options.value,
        },
        "kernelMeasuredAs": None if result.kernel is None else KERNEL_MEASURED_AS,
        "rtmr1": result.rtmr1,
        "rtmr2": result.rtmr2,
        "shape": req.shape.to_json(),
        "rtmr0": [
            {
                "origin": v.origin,
                "kind": v.kind,
                "shape": v.shape.to_json(),
                "value": v.value,
                "events": [event_json(e) for e in v.events],
            }
            for v in result.rtmr0
        ],
        "events": [event_json(e) for e in result.events if e.register != "rtmr0"],
    }


def dumps(document: Any) -> bytes:
    """Sorted keys, two-space indent, UTF-8, final newline (as ``measure snp``)."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


# -- reading ---------------------------------------------------------------------------


class ShapeValue(NamedTuple):
    vcpus: int | None
    memory_mib: int | None
    vmm: str | None
    vmm_version: str | None


class Rtmr0Measured(NamedTuple):
    origin: str
    kind: str
    shape: ShapeValue
    value: str


class TdxMeasured(NamedTuple):
    source: str
    tool_name: str
    tool_version: str
    page_order: str
    firmware_path: str
    firmware_digests: Mapping[str, str]
    mrtd: str
    kernel_path: str | None
    kernel_digests: Mapping[str, str] | None
    initrd_path: str | None
    initrd_digests: Mapping[str, str] | None
    cmdline: str | None
    load_options: str | None
    rtmr1: str | None
    rtmr2: str | None
    shape: ShapeValue
    rtmr0: tuple[Rtmr0Measured, ...]


def _shape(obj: Any) -> ShapeValue:
    vcpus = obj.opt_integer("vcpus", lo=1, hi=4096) if obj.value.get("vcpus") is not None else None
    memory = (
        obj.opt_integer("memoryMiB", lo=1, hi=2**40)
        if obj.value.get("memoryMiB") is not None
        else None
    )
    vmm = obj.opt_text("vmm") if obj.value.get("vmm") is not None else None
    version = obj.opt_text("vmmVersion") if obj.value.get("vmmVersion") is not None else None
    for key in ("vcpus", "memoryMiB", "vmm", "vmmVersion"):
        obj.raw(key)
    obj.refuse_rest()
    return ShapeValue(vcpus, memory, vmm, version)


def _digests(obj: Any) -> Mapping[str, str]:
    return MappingProxyType({"sha256": obj.hex("sha256", 32), "sha384": obj.hex("sha384", 48)})


def parse_measured(value: Any, *, source: str) -> TdxMeasured:
    """Read a TDX measurement document (parsed JSON); every failure is a ParseError."""
    from refkit.reader import Obj, fail

    doc = Obj(value, source=source, path="$")
    tool = doc.obj("tool")
    if tool.text("name") != TOOL_NAME:
        raise fail(source, "$.tool.name", "not a refkit measurement document")
    if doc.text("kind") != KIND:
        raise doc.fail("kind", "not a TDX measurement document")
    firmware = doc.obj("firmware")
    kernel = doc.opt_obj("kernel") if doc.value.get("kernel") is not None else None
    initrd = doc.opt_obj("initrd") if doc.value.get("initrd") is not None else None
    cmdline = doc.opt_obj("cmdline") if doc.value.get("cmdline") is not None else None

    def rtmr(key: str) -> str | None:
        return None if doc.value.get(key) is None else doc.hex(key, 48)

    def one(item: Any, path: str) -> Rtmr0Measured:
        obj = Obj(item, source=source, path=path)
        out = Rtmr0Measured(
            obj.text("origin"), obj.text("kind"), _shape(obj.obj("shape")), obj.hex("value", 48)
        )
        obj.raw("events")
        obj.refuse_rest()
        return out

    out = TdxMeasured(
        source=source,
        tool_name=TOOL_NAME,
        tool_version=tool.text("version"),
        page_order=doc.text("pageOrder"),
        firmware_path=firmware.text("path"),
        firmware_digests=_digests(firmware),
        mrtd=doc.hex("mrtd", 48),
        kernel_path=None if kernel is None else kernel.text("path"),
        kernel_digests=None if kernel is None else _digests(kernel),
        initrd_path=None if initrd is None else initrd.text("path"),
        initrd_digests=None if initrd is None else _digests(initrd),
        cmdline=None
        if cmdline is None
        else cmdline.text("value")
        if cmdline.value.get("value")
        else "",
        load_options=None if cmdline is None else cmdline.text("loadOptions"),
        rtmr1=rtmr("rtmr1"),
        rtmr2=rtmr("rtmr2"),
        shape=_shape(doc.obj("shape")),
        rtmr0=doc.items("rtmr0", one),
    )
    for key in _TOP_FIELDS:
        doc.raw(key)
    doc.refuse_rest(hint="this is not a TDX measurement document as refkit writes it")
    return out
