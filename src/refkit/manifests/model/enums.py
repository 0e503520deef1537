"""The SEV-SNP enums a manifest shares with the measure engine (product, mode, VMM).

Kept in one small module on purpose: the measure engine has enums for the same things,
and unifying the two means replacing the definitions here with imports from there. The
values are what the manifest's JSON holds; they never change.
"""

from __future__ import annotations

import enum


class SnpProduct(enum.StrEnum):
    """AMD EPYC generations, spelled as AMD's key distribution service and Contrast do."""

    MILAN = "Milan"
    GENOA = "Genoa"
    TURIN = "Turin"


class SnpMode(enum.StrEnum):
    """The guest type a launch digest was computed for (sev-snp-measure ``--mode``)."""

    SNP = "snp"
    SEV_ES = "seves"
    SEV = "sev"


class SnpVmm(enum.StrEnum):
    """VMM flavours whose VMSA register defaults differ (sev-snp-measure ``--vmm-type``)."""

    QEMU = "qemu"
    EC2 = "ec2"
    GCE = "gce"


__all__ = ["SnpMode", "SnpProduct", "SnpVmm"]
