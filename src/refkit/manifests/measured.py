"""Manifest reference values from SEV measurements: the one measure → manifest converter.

A release engineer measures (``refkit measure snp --vcpus 1-64 --json -o snp.json``) and
builds the manifest (``refkit manifest build release.yaml --add-snp snp.json``) without
copying 48-byte hex values by hand. :func:`snp_values` turns one measurement, given as the
engine's result (:class:`~refkit.measure.snp.SnpResult`), as its document read back
(:class:`~refkit.measure.snp.document.SnpMeasured`) or as the parsed JSON, into
authoring-form SNP reference values (one per vCPU count, with the digests of the inputs
that produced them and the tool that computed them) and the subjects they name (firmware,
kernel, initrd). :func:`add_snp_values` merges them into an authoring document;
:func:`load_measurement` reads a measurement file with a size limit.

The document's field names live in :mod:`refkit.measure.snp.document` alone; the enums
(mode, VMM, product) in :mod:`refkit.measure.snp.modes` and :mod:`refkit.measure.cpu`.
The product is the one the measurement recorded (or, for documents from before that
field, the one its vCPU signature names): never guessed from a CPU name.

Pure: returns new dicts; every failure is an InputError (ParseError naming the field).
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any

from refkit.errors import InputError, Location, ParseError, read_input_file
from refkit.measure.snp.document import (
    MAX_MEASURED_BYTES,
    SnpMeasured,
    measured_of,
    parse_measured,
)

if TYPE_CHECKING:
    from refkit.measure.snp.launch import SnpResult

__all__ = [
    "MAX_MEASURED_BYTES",
    "add_any_measurement",
    "add_snp_values",
    "add_tdx_values",
    "add_vtpm_values",
    "load_measurement",
    "load_measurement_json",
    "snp_values",
]


def load_measurement(path: str | os.PathLike[str]) -> SnpMeasured:
    """Read a ``refkit measure snp --json`` file (at most :data:`MAX_MEASURED_BYTES`).

    A larger file, or one that never ends (``/dev/zero``), is refused after reading one
    byte past the limit; every failure is an InputError (exit 2).
    """
    from refkit.manifests.canonical import loads_strict

    source = os.fspath(path)
    data = read_input_file(path, what="measurement JSON", limit=MAX_MEASURED_BYTES)
    return parse_measured(loads_strict(data, source=source), source=source)


def _as_measured(measured: Any, source: str) -> SnpMeasured:
    if isinstance(measured, SnpMeasured):
        return measured
    from refkit.measure.snp.launch import SnpResult

    if isinstance(measured, SnpResult):
        return measured_of(measured)
    return parse_measured(measured, source=source)


def snp_values(
    measured: SnpMeasured | SnpResult | Any, *, source: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(SNP reference values, subjects) in the authoring form, from one measurement."""
    m = _as_measured(measured, source or "<measurement>")
    src = source or m.source

    def fail(field: str, message: str) -> ParseError:
        return ParseError(message, location=Location(src, field=field))

    if not m.mode.in_manifest:
        raise fail("$.mode", f"mode {m.mode.value} gives no launch measurement a manifest records")
    if m.firmware is None:
        raise fail(
            "$.firmware",
            "missing: the measurement carries no input digests, so the manifest could not "
            "say what produced it (measure with input digests)",
        )
    inputs: dict[str, dict[str, str]] = {"ovmf": dict(m.firmware.digests)}
    subjects = [
        {
            "name": os.path.basename(m.firmware.path),
            "kind": "firmware",
            "digest": dict(m.firmware.digests),
        }
    ]
    if m.kernel_hashes is not None:
        for name in ("kernel", "initrd", "cmdline"):
            inputs[name] = {"sha256": m.kernel_hashes[name]}
        for kind, item in (("kernel", m.kernel), ("initrd", m.initrd)):
            if item is not None:
                subjects.append(
                    {
                        "name": os.path.basename(item.path),
                        "kind": kind,
                        "digest": dict(item.digests),
                    }
                )
    values = []
    for i, value in enumerate(m.measurements):
        # SEV measures no vCPU state: its value holds for any count; the shape needs one.
        vcpus = value.vcpus if m.mode.uses_vmsa else 1
        if vcpus is None:
            raise fail(f"$.measurements[{i}].vcpus", "is required")
        entry: dict[str, Any] = {
            "shape": {"vcpus": vcpus, "vmm": {"type": m.vmm.value}},
            "measurement": value.measurement,
            "mode": m.mode.value,
            "guestFeatures": m.guest_features or 0,
            "computedBy": {"name": m.tool_name, "version": m.tool_version},
            "inputs": copy.deepcopy(inputs),
        }
        if m.vcpu_type is not None:
            entry["vcpuType"] = m.vcpu_type
        if m.product is not None:
            entry["product"] = m.product.value
        if m.vcpu_signature is not None:
            entry["vcpuSignature"] = m.vcpu_signature
        values.append(entry)
    if not values:
        raise fail("$.measurements", "holds no measurement")
    return values, subjects


def add_snp_values(
    document: dict[str, Any], measured: SnpMeasured | SnpResult | Any, *, source: str
) -> dict[str, Any]:
    """A copy of an authoring document with the values and subjects of ``measured`` added.

    ``measured`` is a measurement (see :func:`snp_values`); ``source`` names it in
    messages. A subject already listed under the same name (the kernel that a TDX
    measurement named too) must carry the same digest in every algorithm both give.
    """
    values, subjects = snp_values(measured, source=source)
    return _merge(document, "snp", values, subjects, source=source)


# -- TDX and vTPM measurements (``--add-tdx``, ``--add-vtpm``, ``--add``) ----------------


def _merge(
    document: dict[str, Any],
    kind: str,
    values: list[dict[str, Any]],
    subjects: list[dict[str, Any]],
    *,
    source: str,
) -> dict[str, Any]:
    """A copy of ``document`` with ``values`` under referenceValues.<kind> and the
    subjects added (a subject already listed must carry the same digests)."""
    out = copy.deepcopy(document)
    refs = out.setdefault("referenceValues", {})
    if not isinstance(refs, dict):
        raise InputError(f"{source}: referenceValues in the YAML is not a mapping")
    listed_values = refs.setdefault(kind, [])
    if not isinstance(listed_values, list):
        raise InputError(f"{source}: referenceValues.{kind} in the YAML is not a list")
    listed_values.extend(values)
    listed = out.setdefault("subjects", [])
    if not isinstance(listed, list):
        raise InputError(f"{source}: subjects in the YAML is not a list")
    by_name = {s.get("name"): s for s in listed if isinstance(s, dict)}
    for subject in subjects:
        known = by_name.get(subject["name"])
        if known is None:
            listed.append(subject)
            by_name[subject["name"]] = subject
            continue
        # The same file named by two measurements (the kernel of SNP and TDX): the
        # digests must agree in every algorithm both give; the union is kept.
        digest = known.get("digest")
        common = set(digest) & set(subject["digest"]) if isinstance(digest, dict) else set()
        if not common or any(digest[a] != subject["digest"][a] for a in common):  # type: ignore[index]
            raise InputError(
                f"{source}: subject {subject['name']!r} is listed with other digests than "
                "the measured input",
                hint="the manifest would name one file and measure another: fix one of them",
            )
        assert isinstance(digest, dict)
        digest.update({a: v for a, v in subject["digest"].items() if a not in digest})
    return out


def _subject(path: str, kind: str, digests: Any) -> dict[str, Any]:
    return {"name": os.path.basename(path), "kind": kind, "digest": dict(digests)}


def tdx_values(measured: Any, *, source: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(TDX reference values, subjects) from a ``measure tdx --json`` document (parsed
    JSON or :class:`~refkit.measure.tdx.document.TdxMeasured`): one value per RTMR0 shape,
    or one for the declared shape when RTMR0 was not computed."""
    from refkit.measure.tdx.document import ShapeValue, TdxMeasured, parse_measured

    m = measured if isinstance(measured, TdxMeasured) else parse_measured(measured, source=source)
    inputs: dict[str, dict[str, str]] = {"firmware": dict(m.firmware_digests)}
    subjects = [_subject(m.firmware_path, "firmware", m.firmware_digests)]
    for name, path, digests in (
        ("kernel", m.kernel_path, m.kernel_digests),
        ("initrd", m.initrd_path, m.initrd_digests),
    ):
        if path is not None and digests is not None:
            inputs[name] = dict(digests)
            subjects.append(_subject(path, name, digests))

    def shape_json(shape: ShapeValue, where: str) -> dict[str, Any]:
        vcpus = shape.vcpus or m.shape.vcpus
        if vcpus is None:
            raise ParseError(
                "the measurement names no vCPU count, which a manifest's shape needs",
                location=Location(source, field=where),
                hint="measure again with the vCPU count (or put it in the platform data's "
                "shape.json)",
            )
        vmm: dict[str, Any] = {"type": shape.vmm or m.shape.vmm or "qemu"}
        version = shape.vmm_version or m.shape.vmm_version
        if version is not None:
            vmm["version"] = version
        out: dict[str, Any] = {"vcpus": vcpus, "vmm": vmm}
        memory = shape.memory_mib or m.shape.memory_mib
        if memory is not None:
            out["memoryMiB"] = memory
        return out

    base: dict[str, str] = {}
    if m.rtmr1 is not None and m.rtmr2 is not None:
        base = {"1": m.rtmr1, "2": m.rtmr2}
    computed_by = {"name": m.tool_name, "version": m.tool_version}
    values: list[dict[str, Any]] = []
    for i, rtmr0 in enumerate(m.rtmr0):
        values.append(
            {
                "shape": shape_json(rtmr0.shape, f"$.rtmr0[{i}].shape"),
                "mrtd": m.mrtd,
                "rtmrs": {"0": rtmr0.value, **base},
                "computedBy": computed_by,
                "inputs": copy.deepcopy(inputs),
            }
        )
    if not values:
        if not base:
            raise ParseError(
                "the measurement holds MRTD only: a TDX reference value needs at least one RTMR",
                location=Location(source, field="$.rtmr1"),
                hint="measure with the kernel (RTMR1-2) or platform data (RTMR0)",
            )
        values.append(
            {
                "shape": shape_json(m.shape, "$.shape"),
                "mrtd": m.mrtd,
                "rtmrs": base,
                "computedBy": computed_by,
                "inputs": copy.deepcopy(inputs),
            }
        )
    return values, subjects


def vtpm_values(measured: Any, *, source: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(vTPM reference values, one per bank, and subjects) from ``measure uki --json``."""
    from refkit.measure.uki_document import VtpmMeasured, parse_measured

    m = measured if isinstance(measured, VtpmMeasured) else parse_measured(measured, source=source)
    inputs: dict[str, dict[str, str]] = {}
    subjects: list[dict[str, Any]] = []
    if m.uki_path is not None and m.uki_digests is not None:
        inputs["uki"] = dict(m.uki_digests)
        subjects.append(_subject(m.uki_path, "uki", m.uki_digests))
    else:
        for name, digests in m.parts.items():
            inputs[name.lstrip(".")] = dict(digests)
    values = [
        {
            "bank": bank,
            "pcrs": dict(pcrs),
            "computedBy": {"name": "refkit", "version": m.tool_version},
            "inputs": copy.deepcopy(inputs),
        }
        for bank, pcrs in sorted(m.pcrs.items())
    ]
    if not values:
        raise ParseError("holds no PCR value", location=Location(source, field="$.pcrs"))
    return values, subjects


def add_tdx_values(document: dict[str, Any], measured: Any, *, source: str) -> dict[str, Any]:
    values, subjects = tdx_values(measured, source=source)
    return _merge(document, "tdx", values, subjects, source=source)


def add_vtpm_values(document: dict[str, Any], measured: Any, *, source: str) -> dict[str, Any]:
    values, subjects = vtpm_values(measured, source=source)
    return _merge(document, "vtpm", values, subjects, source=source)


def measurement_kind(value: Any) -> str:
    """Which measure command wrote a parsed document: ``snp``, ``tdx`` or ``vtpm``."""
    if isinstance(value, dict):
        kind = value.get("kind")
        if kind == "tdx":
            return "tdx"
        if kind == "vtpm-uki":
            return "vtpm"
        if kind is None and "mode" in value:
            return "snp"
    raise InputError(
        "not a measurement document refkit recognises (an SNP, TDX or UKI measurement)"
    )


def load_measurement_json(path: str | os.PathLike[str]) -> Any:
    """A measurement file's parsed JSON (size-limited, strict)."""
    from refkit.manifests.canonical import loads_strict

    data = read_input_file(path, what="measurement JSON", limit=MAX_MEASURED_BYTES)
    return loads_strict(data, source=os.fspath(path))


def add_any_measurement(
    document: dict[str, Any], value: Any, *, source: str, expect: str | None = None
) -> dict[str, Any]:
    """Add any measure output (SNP, TDX, vTPM), recognised by its fields; ``expect``
    refuses a document of another kind (``--add-tdx`` given an SNP file)."""
    kind = measurement_kind(value)
    if expect is not None and kind != expect:
        raise InputError(f"{source}: is a {kind} measurement, not {expect}")
    if kind == "snp":
        return add_snp_values(document, parse_measured(value, source=source), source=source)
    if kind == "tdx":
        return add_tdx_values(document, value, source=source)
    return add_vtpm_values(document, value, source=source)
