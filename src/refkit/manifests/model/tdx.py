"""Intel TDX MRTD and RTMR values computed from source (``referenceValues.tdx``).

RTMRs are an indexed map ``{"0": hex, ..., "3": hex}`` (schema 1.1): a release may
declare any non-empty subset, e.g. only RTMR3 where a runtime event log defines it, or
RTMR1-2 where the VMM's ACPI tables (RTMR0) are not reproducible. The schema 1.0 spelling,
a list of exactly four values RTMR0-3, is still read and means the full map.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from refkit.manifests.model.common import (
    CONSTRAINT_UNKNOWN,
    TDX_MR_SIZE,
    DigestSet,
    EventLogRef,
    Shape,
    Tool,
    digest_map,
    digest_map_json,
    event_log,
    shape,
    tool,
    tool_json,
)
from refkit.manifests.model.kind import Fact, Kind, View, grouped
from refkit.manifests.model.snp import input_facts
from refkit.reader import Obj, check_hex, merged, put, type_name

RTMR_COUNT = 4
_RTMR_INDEX = re.compile(r"[0-3]")


def _rtmrs(obj: Obj) -> dict[str, str]:
    value = obj.raw("rtmrs", True)
    where = obj.at("rtmrs")
    if isinstance(value, list):  # schema 1.0: RTMR0-3 in order
        if len(value) != RTMR_COUNT:
            raise obj.fail("rtmrs", f"needs exactly {RTMR_COUNT} values (RTMR0-3) as a list")
        items = {str(i): v for i, v in enumerate(value)}
        paths = {str(i): f"{where}[{i}]" for i in range(RTMR_COUNT)}
    elif isinstance(value, dict):
        if not value:
            raise obj.fail("rtmrs", "needs at least one RTMR")
        items = dict(value)
        paths = {k: f"{where}.{k}" for k in value}
    else:
        raise obj.fail("rtmrs", f"expected an object {{index: hex}}, found {type_name(value)}")
    out: dict[str, str] = {}
    for index in sorted(items):
        if not _RTMR_INDEX.fullmatch(index):
            raise obj.fail(f"rtmrs.{index[:8]}", "is not an RTMR index 0-3 (written as a string)")
        hexval = items[index]
        if not isinstance(hexval, str):
            raise obj.fail(f"rtmrs.{index}", f"expected a hex string, found {type_name(hexval)}")
        out[index] = check_hex(hexval, source=obj.source, path=paths[index], size=TDX_MR_SIZE)
    return out


@dataclass(frozen=True)
class TdxReference:
    """One TDX MRTD and RTMR set for a shape (RTMR0 depends on the VMM's ACPI tables)."""

    shape: Shape
    mrtd: str
    rtmrs: Mapping[str, str]
    inputs: Mapping[str, DigestSet] | None = None
    computed_by: Tool | None = None
    event_log: EventLogRef | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> TdxReference:
        return cls(
            shape=shape(obj),
            mrtd=obj.hex("mrtd", TDX_MR_SIZE),
            rtmrs=_rtmrs(obj),
            inputs=digest_map(obj, "inputs"),
            computed_by=tool(obj),
            event_log=event_log(obj),
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )

    @property
    def key(self) -> str:
        return f"tdx {self.shape.label()}"

    def rtmr(self, index: int) -> str | None:
        """RTMR ``index``'s expected value, None when the release does not declare it."""
        return self.rtmrs.get(str(index))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "shape": self.shape.to_json(),
            "mrtd": self.mrtd,
            "rtmrs": dict(self.rtmrs),
        }
        put(out, "inputs", digest_map_json(self.inputs))
        put(out, "computedBy", tool_json(self.computed_by))
        put(out, "eventLog", None if self.event_log is None else self.event_log.to_json())
        return merged(out, self.unrecognized)


def _facts(e: TdxReference) -> list[Fact]:
    out: list[Fact] = [("shape", e.shape.label(vcpus=False))]
    if e.event_log is not None:
        out.append(("event log", str(e.event_log)))
    return out + input_facts(e.inputs, e.computed_by)


def _rows(e: TdxReference) -> Iterable[Sequence[str]]:
    rows: list[Sequence[str]] = [(str(e.shape.vcpus), "MRTD", e.mrtd)]
    rows += [("", f"RTMR{i}", e.rtmrs[i]) for i in sorted(e.rtmrs)]
    return rows


def view(entries: Sequence[TdxReference]) -> View:
    return grouped(
        "TDX measurements",
        entries,
        facts=_facts,
        columns=("vCPUs", "register", "value"),
        rows=_rows,
    )


KIND: Kind[TdxReference] = Kind(
    container="referenceValues",
    name="tdx",
    title="TDX measurements",
    diff_section="measurements",
    parse=TdxReference.parse,
    view=view,
)
