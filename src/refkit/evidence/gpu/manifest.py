"""GPU evidence against the signed reference manifest's ``referenceValues.gpu`` entries.

An entry applies to a device when its ``model`` names the device's chip: the chip itself
(``GH100``, ``GB100``, ``LS10``) or a product built on it (``H100``, ``H200``, ``H800``,
``H20`` → GH100; ``B100``, ``B200`` → GB100; ``NVSwitch`` → LS10). Of the entries that
apply, the one with fewest failures is reported (ties: manifest order), so a manifest can
allow several driver/VBIOS combinations as several entries. Each list the entry gives is
checked; a list it omits is not a constraint:

- ``driverVersions`` / ``vbiosVersions``: the report's versions (case-insensitive);
- ``rimIds``: every RIM id derivable from the report is listed;
- ``rimDigests``: the RIMs used for the comparison are the documents pinned;
- ``measurements``: each pinned SPDM block has one of the accepted values;
- ``ccMode``: the SPDM report does not state it, so "not checked" (not required).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from types import MappingProxyType

from refkit.evidence.gpu import rim as _rim
from refkit.evidence.gpu.evidence import GpuEvidence
from refkit.manifests.model.gpu import KIND, GpuReference
from refkit.manifests.model.predicate import ReferenceManifest
from refkit.verification import Result

MODEL_CHIPS = MappingProxyType(
    {
        "GH100": "GH100",
        "H100": "GH100",
        "H200": "GH100",
        "H800": "GH100",
        "H20": "GH100",
        "GB100": "GB100",
        "B100": "GB100",
        "B200": "GB100",
        "LS10": "LS10",
        "NVSWITCH": "LS10",
    }
)

CHECK = "GPU reference values"


def chip_of(model: str) -> str:
    return MODEL_CHIPS.get(model.upper().replace("-", "").replace("_", ""), model.upper())


def _rim_ids_by_kind(evidence: GpuEvidence) -> dict[str, str]:
    ids = evidence.rim_ids
    out: dict[str, str] = {}
    for rid in ids:
        if rid.startswith("NV_GPU_DRIVER_"):
            out[_rim.KIND_DRIVER] = rid
        elif rid.startswith("NV_GPU_VBIOS_"):
            out[_rim.KIND_VBIOS] = rid
        elif rid.startswith("NV_SWITCH_BIOS_"):
            out[_rim.KIND_SWITCH_BIOS] = rid
    return out


def _in(value: str | None, allowed: Sequence[str]) -> bool:
    return value is not None and value.lower() in {a.lower() for a in allowed}


def _entry_results(
    evidence: GpuEvidence, entry: GpuReference, rims_used: Sequence[_rim.Rim]
) -> list[Result]:
    who = f"{evidence.kind} {evidence.source} vs {entry.key}"
    out: list[Result] = [
        Result.of(
            "gpu.manifest.model.match",
            f"{evidence.chip} is a {entry.model}",
            check=CHECK,
            subject=who,
            expected=entry.model,
            actual=evidence.chip,
        )
    ]
    for allowed, actual, what, (code_ok, code_bad) in (
        (
            entry.driver_versions,
            evidence.driver_version,
            "driver",
            ("gpu.manifest.driver.match", "gpu.manifest.driver.mismatch"),
        ),
        (
            entry.vbios_versions,
            evidence.vbios_version,
            "VBIOS",
            ("gpu.manifest.vbios.match", "gpu.manifest.vbios.mismatch"),
        ),
    ):
        if allowed is None:
            continue
        ok = _in(actual, allowed)
        out.append(
            Result.of(
                code_ok if ok else code_bad,
                f"{what} version {actual or '(absent)'}",
                check=CHECK,
                subject=who,
                expected=", ".join(allowed),
                actual=actual,
            )
        )
    if entry.rim_ids is not None:
        ids = evidence.rim_ids
        missing = [i for i in ids if not _in(i, entry.rim_ids)]
        ok = bool(ids) and not missing
        out.append(
            Result.of(
                "gpu.manifest.rim-id.match" if ok else "gpu.manifest.rim-id.mismatch",
                "RIM ids of the report" if ids else "the report carries no RIM id",
                check=CHECK,
                subject=who,
                expected=", ".join(entry.rim_ids),
                actual=", ".join(missing or ids) or None,
            )
        )
    if entry.rim_digests:
        by_kind = _rim_ids_by_kind(evidence)
        for used in rims_used:
            rid = by_kind.get(used.kind)
            pinned = next(
                (d for k, d in entry.rim_digests.items() if rid and k.lower() == rid.lower()), None
            )
            if pinned is None:
                continue
            got = {
                alg: hashlib.new(alg, used.data).hexdigest()
                for alg in pinned.digests
                if alg in hashlib.algorithms_available
            }
            ok = bool(got) and all(pinned.digests[a] == v for a, v in got.items())
            out.append(
                Result.of(
                    "gpu.manifest.rim-digest.match" if ok else "gpu.manifest.rim-digest.mismatch",
                    f"RIM {rid} ({used.source})",
                    check=CHECK,
                    subject=who,
                    expected=str(pinned),
                    actual=", ".join(f"{a}:{v}" for a, v in sorted(got.items())),
                )
            )
    if entry.measurements:
        blocks = evidence.blocks()
        bad = []
        for index, values in sorted(entry.measurements.items(), key=lambda kv: int(kv[0])):
            value = blocks.get(int(index))
            if value is None or value.hex() not in values:
                bad.append((index, values, value))
        for index, values, value in bad:
            out.append(
                Result.of(
                    "gpu.manifest.measurements.mismatch",
                    f"block {index} is none of the manifest's values",
                    check=CHECK,
                    subject=who,
                    expected=" | ".join(values),
                    actual=value.hex() if value is not None else "(block absent)",
                )
            )
        if not bad:
            out.append(
                Result.of(
                    "gpu.manifest.measurements.match",
                    f"{len(entry.measurements)} pinned blocks match",
                    check=CHECK,
                    subject=who,
                )
            )
    out.append(
        Result.of(
            "gpu.manifest.cc-mode.not-checked",
            f"the manifest requires CC mode {entry.cc_mode!r}; an SPDM report does not state "
            "it (a device outside CC mode does not produce this evidence)",
            check=CHECK,
            subject=who,
            expected=entry.cc_mode,
            required=False,
        )
    )
    return out


def compare(
    evidence: GpuEvidence, manifest: ReferenceManifest, *, rims_used: Sequence[_rim.Rim] = ()
) -> tuple[Result, ...]:
    """The manifest checks for one device (see the module doc)."""
    entries = manifest.of(KIND)
    who = f"{evidence.kind} {evidence.source}"
    if not entries:
        return (
            Result.of(
                "gpu.manifest.absent",
                "the manifest lists no GPU reference values: GPU evidence cannot be accepted",
                check=CHECK,
                subject=who,
            ),
        )
    chip = evidence.chip
    applicable = [e for e in entries if chip is not None and chip_of(e.model) == chip]
    if not applicable:
        return (
            Result.of(
                "gpu.manifest.model.mismatch",
                "the device is no model the manifest allows",
                check=CHECK,
                subject=who,
                expected=", ".join(sorted({e.model for e in entries})),
                actual=chip or "(unknown: no device chain)",
            ),
        )
    scored = []
    for order, entry in enumerate(applicable):
        results = _entry_results(evidence, entry, rims_used)
        scored.append((sum(1 for r in results if r.fails), order, results))
    scored.sort(key=lambda s: s[:2])
    return tuple(scored[0][2])
