"""Reference values from ``refkit measure ... --json`` output, for the authoring form.

A release engineer measures (``refkit measure snp --vcpus 1-64 --json > snp.json``) and
builds the manifest (``refkit manifest build release.yaml --add-snp snp.json``) without
copying 48-byte hex values by hand. This module turns one measurement document into
authoring-form SNP reference values (one per vCPU count, with the digests of the inputs
that produced them and the tool that computed them) and the subjects they name
(firmware, kernel, initrd), and merges them into an authoring document.

Pure: takes parsed JSON, returns new dicts; every failure is a ParseError naming the field.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from refkit.errors import InputError, Location, ParseError

#: SNP modes a manifest records (SVSM and the OVMF-only digest are not launch values).
_MODES = {"snp", "seves", "sev"}
_PRODUCTS = (("EPYC-Milan", "Milan"), ("EPYC-Genoa", "Genoa"), ("EPYC-Turin", "Turin"))


def _fail(source: str, field: str, message: str) -> ParseError:
    return ParseError(message, location=Location(source, field=field))


def _get(doc: Any, key: str, source: str, path: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        raise _fail(source, f"{path}.{key}", "missing")
    value = doc[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise _fail(source, f"{path}.{key}", f"has the wrong type ({type(value).__name__})")
    return value


def _digests(doc: Any, source: str, path: str, algorithms: tuple[str, ...]) -> dict[str, str]:
    return {a: _get(doc, a, source, path, str) for a in algorithms}


def snp_values(doc: Any, *, source: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(SNP reference values, subjects) from one ``refkit measure snp --json`` document."""
    tool = _get(doc, "tool", source, "$", dict)
    if tool.get("name") != "refkit":
        raise _fail(source, "$.tool.name", "not a refkit measurement document")
    mode = _get(doc, "mode", source, "$", str)
    if mode not in _MODES:
        raise _fail(source, "$.mode", f"mode {mode} gives no launch measurement a manifest records")
    firmware = _get(doc, "firmware", source, "$", dict)
    inputs: dict[str, dict[str, str]] = {
        "ovmf": _digests(firmware, source, "$.firmware", ("sha256", "sha384"))
    }
    subjects = [
        {
            "name": os.path.basename(_get(firmware, "path", source, "$.firmware", str)),
            "kind": "firmware",
            "digest": inputs["ovmf"],
        }
    ]
    table = doc.get("kernelHashesTable")
    if table is not None:
        for name, key in (
            ("kernel", "kernelSha256"),
            ("initrd", "initrdSha256"),
            ("cmdline", "cmdlineSha256"),
        ):
            inputs[name] = {"sha256": _get(table, key, source, "$.kernelHashesTable", str)}
        for name in ("kernel", "initrd"):
            item = doc.get(name)
            if isinstance(item, dict):
                subjects.append(
                    {
                        "name": os.path.basename(_get(item, "path", source, f"$.{name}", str)),
                        "kind": name,
                        "digest": {"sha256": _get(item, "sha256", source, f"$.{name}", str)},
                    }
                )
    vmm = _get(doc, "vmmType", source, "$", str).lower()
    vcpu_type = doc.get("vcpuType")
    signature = doc.get("vcpuSignature")
    raw_features = doc.get("guestFeatures")  # None where the mode has no VMSA (sev)
    features = int(raw_features, 16) if isinstance(raw_features, str) else 0
    version = _get(tool, "version", source, "$.tool", str)
    values = []
    for i, m in enumerate(_get(doc, "measurements", source, "$", list)):
        path = f"$.measurements[{i}]"
        # SEV measures no vCPU state: its value holds for any count; the shape needs one.
        vcpus = _get(m, "vcpus", source, path, int) if mode != "sev" else 1
        entry: dict[str, Any] = {
            "shape": {"vcpus": vcpus, "vmm": {"type": vmm}},
            "measurement": _get(m, "measurement", source, path, str),
            "mode": mode,
            "guestFeatures": features,
            "computedBy": {"name": "refkit", "version": version},
            "inputs": copy.deepcopy(inputs),
        }
        if isinstance(vcpu_type, str):
            entry["vcpuType"] = vcpu_type
            for prefix, product in _PRODUCTS:
                if vcpu_type.startswith(prefix):
                    entry["product"] = product
        if isinstance(signature, str):
            entry["vcpuSignature"] = int(signature, 16)
        values.append(entry)
    if not values:
        raise _fail(source, "$.measurements", "holds no measurement")
    return values, subjects


def add_snp_values(document: dict[str, Any], measured: Any, *, source: str) -> dict[str, Any]:
    """A copy of an authoring document with the values and subjects of ``measured`` added.

    A subject already listed under the same name must carry the same digests.
    """
    values, subjects = snp_values(measured, source=source)
    out = copy.deepcopy(document)
    refs = out.setdefault("referenceValues", {})
    if not isinstance(refs, dict):
        raise InputError(f"{source}: referenceValues in the YAML is not a mapping")
    snp = refs.setdefault("snp", [])
    if not isinstance(snp, list):
        raise InputError(f"{source}: referenceValues.snp in the YAML is not a list")
    snp.extend(values)
    listed = out.setdefault("subjects", [])
    if not isinstance(listed, list):
        raise InputError(f"{source}: subjects in the YAML is not a list")
    by_name = {s.get("name"): s for s in listed if isinstance(s, dict)}
    for subject in subjects:
        known = by_name.get(subject["name"])
        if known is None:
            listed.append(subject)
            by_name[subject["name"]] = subject
        elif known.get("digest") != subject["digest"]:
            raise InputError(
                f"{source}: subject {subject['name']!r} is listed with other digests than "
                "the measured input",
                hint="the manifest would name one file and measure another: fix one of them",
            )
    return out
