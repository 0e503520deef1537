"""The names SEV measurement shares with the manifest: guest modes and VMM types.

Defined once here and imported by the manifest model (which records launch values) and by
the engine (which computes them). This module imports only :mod:`enum`, so importing it
does not load the engine.
"""

from __future__ import annotations

import enum


class SevMode(enum.StrEnum):
    """Guest modes, named as sev-snp-measure names them (``--mode``).

    ``sev``, ``seves`` and ``snp`` give a launch value a manifest records
    (:data:`MANIFEST_MODES`); ``snp:ovmf-hash`` (the OVMF pages alone) and ``snp:svsm``
    exist only in the engine.
    """

    SEV = "sev"
    SEV_ES = "seves"
    SNP = "snp"
    SNP_OVMF_HASH = "snp:ovmf-hash"
    SNP_SVSM = "snp:svsm"

    @property
    def uses_vmsa(self) -> bool:
        """Whether the mode measures one VMSA page per vCPU."""
        return self in (SevMode.SEV_ES, SevMode.SNP, SevMode.SNP_SVSM)

    @property
    def in_manifest(self) -> bool:
        """Whether a reference manifest records this mode's launch value."""
        return self in MANIFEST_MODES


#: The modes whose launch value a reference manifest records.
MANIFEST_MODES = frozenset({SevMode.SNP, SevMode.SEV_ES, SevMode.SEV})


class VmmType(enum.StrEnum):
    """The hypervisor whose reset state the VMSA reproduces.

    The value is the manifest's spelling (``shape.vmm.type``: lower case);
    :attr:`peer_name` is sev-snp-measure's (``QEMU``), which ``measure snp`` prints and its
    JSON holds. :meth:`parse` reads either.
    """

    QEMU = "qemu"
    EC2 = "ec2"
    GCE = "gce"

    @property
    def peer_name(self) -> str:
        """The name sev-snp-measure's ``--vmm-type`` uses."""
        return "QEMU" if self is VmmType.QEMU else self.value

    @classmethod
    def parse(cls, name: str) -> VmmType:
        """The VMM for a name in either spelling (ASCII case ignored); ValueError if none."""
        if name.isascii():
            for member in cls:
                if member.value == name.lower():
                    return member
        raise ValueError(name)
