"""Expected vTPM PCR values of one bank (``referenceValues.vtpm``)."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from refkit.manifests.model.common import (
    CONSTRAINT_UNKNOWN,
    DigestSet,
    EventLogRef,
    Shape,
    Tool,
    digest_map,
    digest_map_json,
    event_log,
    opt_shape,
    read_enum,
    tool,
    tool_json,
)
from refkit.manifests.model.kind import Fact, Kind, View, grouped
from refkit.manifests.model.snp import input_facts
from refkit.reader import Obj, check_hex, merged, put, type_name

_PCR_INDEX = re.compile(r"[0-9]|1[0-9]|2[0-3]")


class PcrBank(enum.StrEnum):
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"

    @property
    def size(self) -> int:
        return {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}[self.value]


@dataclass(frozen=True)
class VtpmReference:
    """Expected vTPM PCR values of one bank: ``{"4": hex, "11": hex}``."""

    bank: PcrBank
    pcrs: Mapping[str, str]
    shape: Shape | None = None
    inputs: Mapping[str, DigestSet] | None = None
    computed_by: Tool | None = None
    event_log: EventLogRef | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> VtpmReference:
        bank: PcrBank = read_enum(obj, "bank", PcrBank)
        pcr_obj = obj.obj("pcrs")
        pcrs: dict[str, str] = {}
        for index, hexval in pcr_obj.value.items():
            if not _PCR_INDEX.fullmatch(index):
                raise pcr_obj.fail(index[:8], "is not a PCR index 0-23 (written as a string)")
            if not isinstance(hexval, str):
                raise pcr_obj.fail(index, f"expected a hex string, found {type_name(hexval)}")
            pcrs[index] = check_hex(
                hexval, source=obj.source, path=pcr_obj.at(index), size=bank.size
            )
        if not pcrs:
            raise obj.fail("pcrs", "needs at least one PCR")
        return cls(
            bank=bank,
            pcrs=pcrs,
            shape=opt_shape(obj),
            inputs=digest_map(obj, "inputs"),
            computed_by=tool(obj),
            event_log=event_log(obj),
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )

    @property
    def key(self) -> str:
        return f"vtpm {self.bank} {self.shape.label() if self.shape else 'any shape'}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bank": self.bank.value, "pcrs": dict(self.pcrs)}
        put(out, "shape", None if self.shape is None else self.shape.to_json())
        put(out, "inputs", digest_map_json(self.inputs))
        put(out, "computedBy", tool_json(self.computed_by))
        put(out, "eventLog", None if self.event_log is None else self.event_log.to_json())
        return merged(out, self.unrecognized)


def _facts(e: VtpmReference) -> list[Fact]:
    out: list[Fact] = [("bank", e.bank.value)]
    out.append(("shape", "any" if e.shape is None else e.shape.label(vcpus=False)))
    if e.event_log is not None:
        out.append(("event log", str(e.event_log)))
    return out + input_facts(e.inputs, e.computed_by)


def _rows(e: VtpmReference) -> Iterable[Sequence[str]]:
    vcpus = "any" if e.shape is None else str(e.shape.vcpus)
    return [(vcpus if n == 0 else "", i, e.pcrs[i]) for n, i in enumerate(sorted(e.pcrs, key=int))]


def view(entries: Sequence[VtpmReference]) -> View:
    return grouped(
        "vTPM PCRs", entries, facts=_facts, columns=("vCPUs", "PCR", "value"), rows=_rows
    )


KIND: Kind[VtpmReference] = Kind(
    container="referenceValues",
    name="vtpm",
    title="vTPM PCRs",
    diff_section="measurements",
    parse=VtpmReference.parse,
    view=view,
)
