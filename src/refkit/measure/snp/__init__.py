"""AMD SEV / SEV-ES / SEV-SNP launch measurements (library API).

>>> from refkit.measure.snp import SnpRequest, SevMode, measure  # doctest: +SKIP
>>> result = measure(SnpRequest(mode=SevMode.SNP, ovmf=Path("OVMF.amdsev.fd"),
...                             vcpus=(1, 2, 4), vcpu_sig=CPU_TYPES["EPYC-v4"]))
>>> [m.digest.hex() for m in result.measurements]

Pure: takes paths and bytes, returns frozen values, never writes files or prints.
"""

from refkit.measure.cpu import CPU_TYPES, cpu_signature, resolve_signature
from refkit.measure.snp.launch import (
    MAX_VCPUS,
    Measurement,
    SectionReport,
    SevMode,
    SnpRequest,
    SnpResult,
    measure,
    ovmf_launch_digest,
    parse_vcpu_counts,
)
from refkit.measure.snp.vmsa import VmmType

__all__ = [
    "CPU_TYPES",
    "MAX_VCPUS",
    "Measurement",
    "SectionReport",
    "SevMode",
    "SnpRequest",
    "SnpResult",
    "VmmType",
    "cpu_signature",
    "measure",
    "ovmf_launch_digest",
    "parse_vcpu_counts",
    "resolve_signature",
]
