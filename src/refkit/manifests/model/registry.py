"""Every kind of reference value, registered once (see :mod:`.kind`).

The order is the order ``manifest show`` prints them in and ``diff`` lists them in.
Adding a kind: write its module, add its ``KIND`` here (docs/decisions/0007).
"""

from __future__ import annotations

from typing import Any

from refkit.manifests.model import declared_snp, declared_tdx, gpu, models, policies, snp, tdx, vtpm
from refkit.manifests.model.kind import Kind

KINDS: tuple[Kind[Any], ...] = (
    snp.KIND,
    tdx.KIND,
    vtpm.KIND,
    policies.KIND,
    gpu.KIND,
    declared_snp.KIND,
    declared_tdx.KIND,
    models.KIND,
)

CONTAINERS = ("referenceValues", "declared", "")


def kinds_in(container: str) -> tuple[Kind[Any], ...]:
    return tuple(k for k in KINDS if k.container == container)
