"""Accepted NVIDIA GPU state (``referenceValues.gpu``).

Versions and RIM ids say which NVIDIA RIMs (reference integrity manifests) apply; since
schema 1.1 an entry can also pin digests: ``rimDigests`` (``{rim id: DigestSet}``, the RIM
documents' bytes, so a verifier offline can check it holds the same RIMs) and
``measurements`` (``{"index": [hex, ...]}``, the accepted alternatives per SPDM measurement
block, for releases that publish the values themselves rather than rely on NVIDIA's RIMs).
``binding`` (schema 1.2, optional) declares how the CPU evidence commits to the GPU
evidence: ``report-data-sha512`` = the CPU REPORT_DATA is SHA-512 over the sorted SHA-256
digests of the GPU reports (docs/evidence-gpu.md); a verifier then refuses GPU evidence
without a CPU evidence bound to it. ``refkit.evidence.gpu.manifest`` checks evidence
against these entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from refkit.manifests.model.common import (
    CONSTRAINT_UNKNOWN,
    TOKEN,
    DigestSet,
    as_list,
    digest_map,
    digest_map_json,
    sorted_set,
)
from refkit.manifests.model.kind import Fact, Kind, View, grouped
from refkit.reader import Obj, check_hex, merged, put, type_name

_BLOCK_INDEX = re.compile(r"0|[1-9][0-9]{0,2}")
_MAX_BLOCK = 254  # SPDM measurement block indices 1-254 (0 is the "count" request)
_MAX_DIGEST_BYTES = 64
#: How the CPU evidence binds the GPU evidence (docs/evidence-gpu.md, *Binding*).
BINDING_REPORT_DATA = "report-data-sha512"
BINDING = re.compile(BINDING_REPORT_DATA)


def _measurements(obj: Obj) -> Mapping[str, tuple[str, ...]] | None:
    sub = obj.opt_obj("measurements")
    if sub is None:
        return None
    out: dict[str, tuple[str, ...]] = {}
    for index, values in sub.value.items():
        if not _BLOCK_INDEX.fullmatch(index) or int(index) > _MAX_BLOCK:
            raise sub.fail(index[:8], f"is not a measurement block index 0-{_MAX_BLOCK}")
        if not isinstance(values, list) or not values:
            raise sub.fail(index, f"expected a non-empty list of hex, found {type_name(values)}")
        items = []
        for i, v in enumerate(values):
            where = f"{sub.at(index)}[{i}]"
            if not isinstance(v, str) or not v:
                raise sub.fail(f"{index}[{i}]", f"expected a hex string, found {type_name(v)}")
            check_hex(v, source=obj.source, path=where)
            if len(v) > 2 * _MAX_DIGEST_BYTES:
                raise sub.fail(f"{index}[{i}]", f"is longer than {_MAX_DIGEST_BYTES} bytes")
            items.append(v)
        out[index] = tuple(items)
    return out


@dataclass(frozen=True)
class GpuReference:
    """Accepted GPU model, CC mode, driver/VBIOS versions, RIM ids and digests."""

    model: str
    cc_mode: str
    driver_versions: tuple[str, ...] | None = None
    vbios_versions: tuple[str, ...] | None = None
    rim_ids: tuple[str, ...] | None = None
    rim_digests: Mapping[str, DigestSet] | None = None
    measurements: Mapping[str, tuple[str, ...]] | None = None
    binding: str | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> GpuReference:
        return cls(
            model=obj.text("model", pattern=TOKEN),
            cc_mode=obj.text("ccMode", pattern=re.compile(r"on|off|devtools|ppcie")),
            driver_versions=obj.text_list("driverVersions", pattern=TOKEN),
            vbios_versions=obj.text_list("vbiosVersions", pattern=TOKEN),
            rim_ids=obj.text_list("rimIds", pattern=TOKEN),
            rim_digests=digest_map(obj, "rimDigests"),
            measurements=_measurements(obj),
            binding=obj.opt_text("binding", pattern=BINDING),
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )

    @property
    def key(self) -> str:
        return f"gpu {self.model} cc={self.cc_mode}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "ccMode": self.cc_mode}
        put(out, "driverVersions", as_list(self.driver_versions))
        put(out, "vbiosVersions", as_list(self.vbios_versions))
        put(out, "rimIds", as_list(self.rim_ids))
        put(out, "rimDigests", digest_map_json(self.rim_digests))
        if self.measurements is not None:
            out["measurements"] = {k: list(v) for k, v in self.measurements.items()}
        put(out, "binding", self.binding)
        return merged(out, self.unrecognized)


def normalise(g: GpuReference) -> GpuReference:
    measurements = g.measurements
    if measurements is not None:
        measurements = {k: tuple(sorted(set(v))) for k, v in measurements.items()}
    return replace(
        g,
        driver_versions=sorted_set(g.driver_versions),
        vbios_versions=sorted_set(g.vbios_versions),
        rim_ids=sorted_set(g.rim_ids),
        measurements=measurements,
    )


def _facts(g: GpuReference) -> list[Fact]:
    return [
        ("model", g.model),
        ("CC mode", g.cc_mode),
        ("drivers", ", ".join(g.driver_versions or ()) or "-"),
        ("VBIOS", ", ".join(g.vbios_versions or ()) or "-"),
        ("binding", g.binding or "-"),
    ]


def _rows(g: GpuReference) -> Iterable[Sequence[str]]:
    rows: list[Sequence[str]] = [("RIM id", r) for r in g.rim_ids or ()]
    for rim, digest in sorted((g.rim_digests or {}).items()):
        rows += [(f"RIM {rim}", text) for text in digest.texts()]
    for index in sorted(g.measurements or {}, key=int):
        rows += [(f"block {index}", v) for v in (g.measurements or {})[index]]
    return rows


def view(entries: Sequence[GpuReference]) -> View:
    return grouped("GPU", entries, facts=_facts, columns=("what", "value"), rows=_rows)


KIND: Kind[GpuReference] = Kind(
    container="referenceValues",
    name="gpu",
    title="GPU",
    diff_section="gpu",
    parse=GpuReference.parse,
    view=view,
    normalise=normalise,
)
