"""The SEV-SNP enums a manifest shares with the measure engine (product, mode, VMM).

Defined once, in the measure package (:mod:`refkit.measure.cpu` for the product,
:mod:`refkit.measure.snp.modes` for modes and VMMs), and imported here under the names
the manifest model has always used. The values are what the manifest's JSON holds; they
never change. A manifest records only the modes in :data:`MANIFEST_MODES` (the engine's
``snp:ovmf-hash`` and ``snp:svsm`` give no launch value a verifier compares).
"""

from __future__ import annotations

from refkit.measure.cpu import SnpProduct
from refkit.measure.snp.modes import MANIFEST_MODES
from refkit.measure.snp.modes import SevMode as SnpMode
from refkit.measure.snp.modes import VmmType as SnpVmm

__all__ = ["MANIFEST_MODES", "SnpMode", "SnpProduct", "SnpVmm"]
