"""The SEV measurement document: what ``refkit measure snp --json`` prints, read back.

One module defines the document's field names both ways: :func:`result_json` writes it
from a :class:`~refkit.measure.snp.launch.SnpResult`, :func:`parse_measured` reads it back
into a :class:`SnpMeasured` value (what ``refkit manifest build --add-snp`` and
:mod:`refkit.manifests.measured` consume). The CLI only prints what it is given.

Reading is strict: every field the reader uses is type-checked (hex in the exact form
the writer produces: ``0x`` then lower-case ASCII hex digits, no ``_``, no sign), unknown
top-level and per-measurement fields are refused (refkit owns this format, so an unknown
field is a typo or a newer refkit), and every failure is a
:class:`~refkit.errors.ParseError` naming the field (exit 2). Documents larger than
:data:`MAX_MEASURED_BYTES` are refused before they are read whole.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from refkit.measure.cpu import SnpProduct, product_of_signature
from refkit.measure.snp.modes import SevMode, VmmType

if TYPE_CHECKING:
    from refkit.hashing import FileDigest
    from refkit.measure.snp.launch import SnpResult
    from refkit.reader import Obj

# The reader (refkit.reader) is imported when a document is read, not when one is
# written: `measure snp --json` starts no faster than it must.

#: Largest measurement document read back (64 vCPU counts take about 30 KiB).
MAX_MEASURED_BYTES = 16 * 1024 * 1024
#: The producer named in ``tool.name``.
TOOL_NAME = "refkit"

_HEX_INT = re.compile(r"0x[0-9a-f]{1,16}")
_TOP_FIELDS = (
    "tool",
    "mode",
    "vmmType",
    "vcpuType",
    "vcpuSignature",
    "product",
    "guestFeatures",
    "firmware",
    "kernel",
    "initrd",
    "cmdline",
    "kernelHashesTable",
    "svsm",
    "varsSize",
    "measurements",
    "sections",
    "pageCounts",
)


# -- writing ---------------------------------------------------------------------------


def _digest_doc(fd: FileDigest | None, *, extra: dict[str, Any] | None = None) -> Any:
    if fd is None:
        return None
    doc: dict[str, Any] = {"path": fd.path, "size": fd.size}
    doc.update({alg: value.hex() for alg, value in sorted(fd.digests.items())})
    doc.update(extra or {})
    return doc


def result_json(result: SnpResult) -> dict[str, Any]:
    """The measurement document of ``result`` (a JSON object)."""
    from refkit import __version__

    req = result.request
    kh = result.kernel_hashes
    features = result.guest_features_used
    return {
        "tool": {"name": TOOL_NAME, "version": __version__},
        "mode": req.mode.value,
        "vmmType": req.vmm_type.peer_name,
        "vcpuType": req.vcpu_type,
        "vcpuSignature": None if req.vcpu_sig is None else f"{req.vcpu_sig:#x}",
        "product": None if result.product is None else result.product.value,
        # The SEV_FEATURES actually written into the VMSA pages (seves uses 0, snp:svsm
        # always 0x1, sev has no VMSA).
        "guestFeatures": None if features is None else f"{features:#x}",
        "firmware": _digest_doc(
            result.ovmf,
            extra={
                "flavour": result.firmware_flavour,
                "launchDigestGiven": req.ovmf_hash.hex() if req.ovmf_hash else None,
            },
        ),
        "kernel": _digest_doc(result.kernel),
        "initrd": _digest_doc(result.initrd),
        "cmdline": None
        if req.kernel is None
        else {"given": req.append is not None, "value": req.append or ""},
        "kernelHashesTable": None
        if kh is None
        else {
            "gpa": f"{kh.table_gpa:#x}",
            "kernelSha256": kh.kernel_sha256.hex(),
            "initrdSha256": kh.initrd_sha256.hex(),
            "cmdlineSha256": kh.cmdline_sha256.hex(),
            "tableSha256": kh.table_sha256.hex(),
        },
        "svsm": _digest_doc(result.svsm),
        "varsSize": req.vars_size,
        "measurements": [
            {
                "vcpus": m.vcpus,
                "measurement": m.digest.hex(),
                "measurementBase64": base64.b64encode(m.digest).decode("ascii"),
            }
            for m in result.measurements
        ],
        "sections": [
            {
                "index": s.number,
                "type": s.type_name,
                "gpa": f"{s.gpa:#x}",
                "size": s.size,
                "measuredAs": s.page_type,
                "pages": s.pages,
                "note": s.note,
            }
            for s in result.sections
        ],
        "pageCounts": result.page_counts,
    }


def dumps(document: Any) -> bytes:
    """The document as printed: sorted keys, two-space indent, UTF-8, final newline."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


# -- reading ---------------------------------------------------------------------------


class MeasuredInput(NamedTuple):
    """A measured file as the document names it: its path as given and hex digests."""

    path: str
    digests: Mapping[str, str]


class MeasuredValue(NamedTuple):
    """One launch measurement (hex); ``vcpus`` is None in modes without vCPU state."""

    vcpus: int | None
    measurement: str


class SnpMeasured(NamedTuple):
    """What a measurement document says, checked: the input of the manifest converter."""

    source: str
    tool_name: str
    tool_version: str
    mode: SevMode
    vmm: VmmType
    vcpu_type: str | None
    vcpu_signature: int | None
    product: SnpProduct | None
    guest_features: int | None
    firmware: MeasuredInput | None
    kernel: MeasuredInput | None
    initrd: MeasuredInput | None
    #: kernel, initrd and cmdline SHA-256 (hex) as placed in the hashes table
    kernel_hashes: Mapping[str, str] | None
    measurements: tuple[MeasuredValue, ...]


def _nullable_text(obj: Obj, key: str) -> str | None:
    """A string field that the writer sets to null when it does not apply."""
    if obj.value.get(key) is None:
        obj.raw(key)
        return None
    return obj.text(key)


def _hex_int(obj: Obj, key: str, *, bits: int) -> int | None:
    value = _nullable_text(obj, key)
    if value is None:
        return None
    if not _HEX_INT.fullmatch(value) or int(value, 16) >> bits:
        raise obj.fail(key, f"{value[:40]!r} is not 0x followed by lower-case hex ({bits} bits)")
    return int(value, 16)


def _input(obj: Obj, key: str, algorithms: tuple[str, ...]) -> MeasuredInput | None:
    from refkit.reader import Obj

    item = obj.raw(key)
    if item is None:
        return None
    inner = Obj(item, source=obj.source, path=obj.at(key))
    return MeasuredInput(
        path=inner.text("path"),
        digests=MappingProxyType(
            {a: inner.hex(a, 32 if a == "sha256" else 48) for a in algorithms}
        ),
    )


def _measurement(mode: SevMode, source: str) -> Any:
    from refkit.reader import Obj

    def one(value: Any, path: str) -> MeasuredValue:
        obj = Obj(value, source=source, path=path)
        vcpus = None
        if mode.uses_vmsa or obj.value.get("vcpus") is not None:
            vcpus = obj.integer("vcpus", lo=1, hi=512)
        obj.raw("vcpus")
        digest = obj.hex("measurement")
        obj.raw("measurementBase64")
        obj.refuse_rest()
        return MeasuredValue(vcpus, digest)

    return one


def parse_measured(value: Any, *, source: str) -> SnpMeasured:
    """Read a measurement document (parsed JSON); every failure is a ParseError."""
    from refkit.reader import Obj, fail

    doc = Obj(value, source=source, path="$")
    tool = doc.obj("tool")
    tool_name = tool.text("name")
    if tool_name != TOOL_NAME:
        raise fail(source, "$.tool.name", "not a refkit measurement document")
    tool_version = tool.text("version")
    mode_text = doc.text("mode")
    try:
        mode = SevMode(mode_text)
    except ValueError:
        raise doc.fail("mode", f"unknown mode {mode_text[:40]!r}") from None
    vmm_text = doc.text("vmmType")
    try:
        vmm = VmmType.parse(vmm_text)
    except ValueError:
        raise doc.fail("vmmType", f"unknown VMM type {vmm_text[:40]!r}") from None
    signature = _hex_int(doc, "vcpuSignature", bits=32)
    product_text = _nullable_text(doc, "product")
    if product_text is None:
        # Documents from before the field: the product follows from the signature alone.
        product = product_of_signature(signature)
    else:
        try:
            product = SnpProduct(product_text)
        except ValueError:
            raise doc.fail("product", f"unknown product {product_text[:40]!r}") from None
    table_value = doc.raw("kernelHashesTable")  # null without a kernel
    kernel_hashes = None
    if table_value is not None:
        table = Obj(table_value, source=source, path=doc.at("kernelHashesTable"))
        kernel_hashes = MappingProxyType(
            {name: table.hex(f"{name}Sha256", 32) for name in ("kernel", "initrd", "cmdline")}
        )
    out = SnpMeasured(
        source=source,
        tool_name=tool_name,
        tool_version=tool_version,
        mode=mode,
        vmm=vmm,
        vcpu_type=_nullable_text(doc, "vcpuType"),
        vcpu_signature=signature,
        product=product,
        guest_features=_hex_int(doc, "guestFeatures", bits=64),
        firmware=_input(doc, "firmware", ("sha256", "sha384")),
        kernel=_input(doc, "kernel", ("sha256",)),
        initrd=_input(doc, "initrd", ("sha256",)),
        kernel_hashes=kernel_hashes,
        measurements=doc.items("measurements", _measurement(mode, source)),
    )
    for key in _TOP_FIELDS:
        doc.raw(key)  # informational fields: present in the document, not needed here
    doc.refuse_rest(hint="this is not a measurement document as refkit writes it")
    return out


def measured_of(result: SnpResult) -> SnpMeasured:
    """The value a measurement document of ``result`` reads back as."""
    return parse_measured(result_json(result), source="<measurement>")
