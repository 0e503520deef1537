"""AMD SEV / SEV-ES / SEV-SNP launch measurements (library API).

>>> from refkit.measure.snp import SnpRequest, SevMode, measure  # doctest: +SKIP
>>> result = measure(SnpRequest(mode=SevMode.SNP, ovmf=Path("OVMF.amdsev.fd"),
...                             vcpus=(1, 2, 4), vcpu_type="EPYC-v4"))
>>> [m.digest.hex() for m in result.measurements]
>>> result.to_json()  # the document `refkit measure snp --json` prints

Pure: takes paths and bytes, returns frozen values, never writes files or prints.

The engine (:mod:`.launch`) is imported on first use of one of its names, so that
:mod:`.modes` (the enums the manifest model shares) imports without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from refkit.measure.cpu import CPU_TYPES, SnpProduct, cpu_signature, resolve_signature
from refkit.measure.snp.modes import MANIFEST_MODES, SevMode, VmmType

if TYPE_CHECKING:
    from refkit.measure.snp.document import SnpMeasured, parse_measured
    from refkit.measure.snp.launch import (
        MAX_CMDLINE_BYTES,
        MAX_FIRMWARE_BYTES,
        MAX_INITRD_BYTES,
        MAX_KERNEL_BYTES,
        MAX_VCPUS,
        Measurement,
        SectionReport,
        SnpRequest,
        SnpResult,
        measure,
        parse_vcpu_counts,
    )

_LAZY = {
    "MAX_CMDLINE_BYTES": "launch",
    "MAX_FIRMWARE_BYTES": "launch",
    "MAX_INITRD_BYTES": "launch",
    "MAX_KERNEL_BYTES": "launch",
    "MAX_VCPUS": "launch",
    "Measurement": "launch",
    "SectionReport": "launch",
    "SnpRequest": "launch",
    "SnpResult": "launch",
    "measure": "launch",
    "parse_vcpu_counts": "launch",
    "SnpMeasured": "document",
    "parse_measured": "document",
}


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where == "launch":
        from refkit.measure.snp import launch

        value = getattr(launch, name)
    elif where == "document":
        from refkit.measure.snp import document

        value = getattr(document, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "CPU_TYPES",
    "MANIFEST_MODES",
    "MAX_CMDLINE_BYTES",
    "MAX_FIRMWARE_BYTES",
    "MAX_INITRD_BYTES",
    "MAX_KERNEL_BYTES",
    "MAX_VCPUS",
    "Measurement",
    "SectionReport",
    "SevMode",
    "SnpMeasured",
    "SnpProduct",
    "SnpRequest",
    "SnpResult",
    "VmmType",
    "cpu_signature",
    "measure",
    "parse_measured",
    "parse_vcpu_counts",
    "resolve_signature",
]
