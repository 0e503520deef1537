"""The UKI/vTPM measurement document: what ``refkit measure uki --json`` prints, read back.

:func:`result_json` writes it from a :class:`~refkit.measure.uki.PcrPrediction` and the
inputs; :func:`parse_measured` reads it back strictly into a :class:`VtpmMeasured` for the
manifest converter. Every value records the stub rules (systemd version), the bank, the
inputs' digests (the UKI file or each part) and the boot phase PCR 11 is given for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from refkit.measure.events import event_json
from refkit.measure.tdx.document import dumps

if TYPE_CHECKING:
    from refkit.measure.uki import PcrPrediction, Uki

KIND = "vtpm-uki"
TOOL_NAME = "refkit"
__all__ = ["dumps", "parse_measured", "result_json"]
_TOP_FIELDS = (
    "tool",
    "kind",
    "uki",
    "parts",
    "stubVersion",
    "rules",
    "banks",
    "pcrs",
    "pcr11Phases",
    "events",
)


def result_json(uki: Uki, prediction: PcrPrediction, uki_path: str | None) -> dict[str, Any]:
    from refkit import __version__

    uki_doc = None
    if uki.image is not None:
        data = uki.image.data
        uki_doc = {
            "path": uki_path or uki.image.source,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "sha384": hashlib.sha384(data).hexdigest(),
        }
    return {
        "tool": {"name": TOOL_NAME, "version": __version__},
        "kind": KIND,
        "uki": uki_doc,
        "parts": {
            name: {
                "source": part.source,
                "size": len(part.data),
                "sha256": hashlib.sha256(part.data).hexdigest(),
            }
            for name, part in sorted(uki.parts.items())
            if name in prediction.rules.sections or name == ".linux"
        },
        "stubVersion": uki.stub_version,
        "rules": prediction.rules.value,
        "banks": list(prediction.banks),
        # final values (after every boot phase for PCR 11), per bank
        "pcrs": {
            bank: {
                k: v
                for k, v in (
                    ("4", None if prediction.pcr4 is None else prediction.pcr4[bank]),
                    ("9", None if prediction.pcr9 is None else prediction.pcr9[bank]),
                    ("11", prediction.pcr11[bank][-1][1]),
                )
                if v is not None
            }
            for bank in prediction.banks
        },
        "pcr11Phases": {
            bank: [{"phase": p, "value": v} for p, v in prediction.pcr11[bank]]
            for bank in prediction.banks
        },
        "events": [event_json(e) for e in prediction.events],
    }


class VtpmMeasured(NamedTuple):
    source: str
    tool_version: str
    rules: str
    uki_path: str | None
    uki_digests: Mapping[str, str] | None
    parts: Mapping[str, Mapping[str, str]]
    pcrs: Mapping[str, Mapping[str, str]]


def parse_measured(value: Any, *, source: str) -> VtpmMeasured:
    from refkit.reader import Obj, fail

    doc = Obj(value, source=source, path="$")
    tool = doc.obj("tool")
    if tool.text("name") != TOOL_NAME:
        raise fail(source, "$.tool.name", "not a refkit measurement document")
    if doc.text("kind") != KIND:
        raise doc.fail("kind", "not a UKI/vTPM measurement document")
    uki = doc.opt_obj("uki") if doc.value.get("uki") is not None else None
    sizes = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}
    pcrs_obj = doc.obj("pcrs")
    pcrs: dict[str, Mapping[str, str]] = {}
    for bank in list(pcrs_obj.value):
        if bank not in sizes:
            raise pcrs_obj.fail(bank[:20], "unknown bank")
        bank_obj = pcrs_obj.obj(bank)
        values = {}
        for index in list(bank_obj.value):
            if index not in ("4", "9", "11"):
                raise bank_obj.fail(index[:8], "unexpected PCR")
            values[index] = bank_obj.hex(index, sizes[bank])
        bank_obj.refuse_rest()
        pcrs[bank] = MappingProxyType(values)
    parts_obj = doc.obj("parts")
    parts = {}
    for name in list(parts_obj.value):
        part = parts_obj.obj(name)
        parts[name] = MappingProxyType({"sha256": part.hex("sha256", 32)})
        part.raw("source")
        part.raw("size")
        part.refuse_rest()
    out = VtpmMeasured(
        source=source,
        tool_version=tool.text("version"),
        rules=doc.text("rules"),
        uki_path=None if uki is None else uki.text("path"),
        uki_digests=None
        if uki is None
        else MappingProxyType({"sha256": uki.hex("sha256", 32), "sha384": uki.hex("sha384", 48)}),
        parts=MappingProxyType(parts),
        pcrs=MappingProxyType(pcrs),
    )
    for key in _TOP_FIELDS:
        doc.raw(key)
    doc.refuse_rest(hint="this is not a UKI measurement document as refkit writes it")
    return out
