"""SEV-SNP launch MEASUREMENTs computed from source (``referenceValues.snp``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from refkit.manifests.model.common import (
    CONSTRAINT_UNKNOWN,
    SNP_MEASUREMENT_SIZE,
    TOKEN,
    DigestSet,
    Shape,
    Tool,
    digest_map,
    digest_map_json,
    read_enum,
    shape,
    tool,
    tool_json,
)
from refkit.manifests.model.enums import MANIFEST_MODES, SnpMode, SnpProduct, SnpVmm
from refkit.manifests.model.kind import Fact, Kind, View, grouped
from refkit.reader import Obj, merged, put


@dataclass(frozen=True)
class SnpReference:
    """One SEV-SNP launch MEASUREMENT and everything that produced it."""

    shape: Shape
    measurement: str
    mode: SnpMode
    guest_features: int
    product: SnpProduct | None = None
    vcpu_type: str | None = None
    vcpu_signature: int | None = None
    inputs: Mapping[str, DigestSet] | None = None
    computed_by: Tool | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> SnpReference:
        out = cls(
            shape=shape(obj),
            product=read_enum(obj, "product", SnpProduct, required=False),
            measurement=obj.hex("measurement", SNP_MEASUREMENT_SIZE),
            mode=read_enum(obj, "mode", SnpMode),
            guest_features=obj.integer("guestFeatures"),
            vcpu_type=obj.opt_text("vcpuType", pattern=TOKEN),
            vcpu_signature=obj.opt_integer("vcpuSignature", hi=2**32 - 1),
            inputs=digest_map(obj, "inputs"),
            computed_by=tool(obj),
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )
        if out.mode not in MANIFEST_MODES:
            allowed = ", ".join(sorted(m.value for m in MANIFEST_MODES))
            raise obj.fail("mode", f"must be one of: {allowed} (a launch value a manifest records)")
        if out.shape.vmm.type not in {v.value for v in SnpVmm}:
            allowed = ", ".join(v.value for v in SnpVmm)
            raise obj.fail("shape.vmm.type", f"for SNP must be one of: {allowed}")
        return out

    @property
    def key(self) -> str:
        """What identifies this entry among its peers (unique within a manifest)."""
        sig = "-" if self.vcpu_signature is None else hex(self.vcpu_signature)
        return (
            f"snp {self.product or 'any'} {self.shape.label()} mode={self.mode}"
            f" features={self.guest_features:#x} cpu={self.vcpu_type or '-'}/{sig}"
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "shape": self.shape.to_json(),
            "measurement": self.measurement,
            "mode": self.mode.value,
            "guestFeatures": self.guest_features,
        }
        put(out, "product", None if self.product is None else self.product.value)
        put(out, "vcpuType", self.vcpu_type)
        put(out, "vcpuSignature", self.vcpu_signature)
        put(out, "inputs", digest_map_json(self.inputs))
        put(out, "computedBy", tool_json(self.computed_by))
        return merged(out, self.unrecognized)


def input_facts(inputs: Mapping[str, DigestSet] | None, computed_by: Tool | None) -> list[Fact]:
    """``computed by`` and one fact per input digest (shared by every computed kind)."""
    out: list[Fact] = []
    if computed_by is not None:
        out.append(("computed by", str(computed_by)))
    for name in sorted(inputs or {}):
        for i, text in enumerate((inputs or {})[name].texts()):
            out.append((f"input {name}" if i == 0 else "", text))
    return out


def _facts(e: SnpReference) -> list[Fact]:
    cpu = e.vcpu_type or "any"
    if e.vcpu_signature is not None:
        cpu += f" (signature {e.vcpu_signature:#x})"
    return [
        ("product", str(e.product or "any")),
        ("mode", e.mode.value),
        ("shape", e.shape.label(vcpus=False)),
        ("vCPU type", cpu),
        ("guest features", f"{e.guest_features:#x}"),
        *input_facts(e.inputs, e.computed_by),
    ]


def view(entries: Sequence[SnpReference]) -> View:
    return grouped(
        "SEV-SNP launch measurements",
        entries,
        facts=_facts,
        columns=("vCPUs", "MEASUREMENT"),
        rows=lambda e: [(str(e.shape.vcpus), e.measurement)],
    )


KIND: Kind[SnpReference] = Kind(
    container="referenceValues",
    name="snp",
    title="SEV-SNP launch measurements",
    diff_section="measurements",
    parse=SnpReference.parse,
    view=view,
)
