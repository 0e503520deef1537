"""Expected workload-policy hashes, SNP HOST_DATA and TDX MRCONFIGID (``policies``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from refkit.manifests.model.common import (
    CONSTRAINT_UNKNOWN,
    NAME,
    SNP_HOST_DATA_SIZE,
    TDX_MR_SIZE,
)
from refkit.manifests.model.kind import Kind, View, grouped
from refkit.reader import Obj, merged, put


@dataclass(frozen=True)
class PolicyHash:
    """A workload policy's expected hash, as SNP HOST_DATA and/or TDX MRCONFIGID carry it."""

    name: str
    host_data: str | None = None
    mr_config_id: str | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> PolicyHash:
        out = cls(
            name=obj.text("name", pattern=NAME),
            host_data=obj.opt_hex("hostData", SNP_HOST_DATA_SIZE),
            mr_config_id=obj.opt_hex("mrConfigId", TDX_MR_SIZE),
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )
        if out.host_data is None and out.mr_config_id is None:
            raise obj.fail(None, "needs hostData, mrConfigId or both")
        return out

    @property
    def key(self) -> str:
        return f"policy {self.name}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        put(out, "hostData", self.host_data)
        put(out, "mrConfigId", self.mr_config_id)
        return merged(out, self.unrecognized)


def _rows(e: PolicyHash) -> Iterable[Sequence[str]]:
    rows: list[Sequence[str]] = []
    if e.host_data is not None:
        rows.append((e.name, "HOST_DATA (SNP)", e.host_data))
    if e.mr_config_id is not None:
        rows.append((e.name if not rows else "", "MRCONFIGID (TDX)", e.mr_config_id))
    return rows


def view(entries: Sequence[PolicyHash]) -> View:
    return grouped(
        "Policy hashes", entries, facts=lambda e: (), columns=("name", "field", "value"), rows=_rows
    )


KIND: Kind[PolicyHash] = Kind(
    container="referenceValues",
    name="policies",
    title="Policy hashes",
    diff_section="measurements",
    parse=PolicyHash.parse,
    view=view,
)
