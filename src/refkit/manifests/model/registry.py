"""Every kind of reference value, registered once (see :mod:`.kind`).

The order is the order ``manifest show`` prints them in and ``diff`` lists them in.
Adding a kind: write its module, add its ``KIND`` to :data:`KINDS`
(docs/decisions/0007-manifest-kinds.md). Everything else asks :func:`kinds` at run time,
so :func:`registered` (tests) can add one without touching any other module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from refkit.manifests.model import declared_snp, declared_tdx, gpu, models, policies, snp, tdx, vtpm
from refkit.manifests.model.kind import Kind

#: The built-in kinds, in display order.
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

_active: list[Kind[Any]] = list(KINDS)


def kinds() -> tuple[Kind[Any], ...]:
    """The kinds in force."""
    return tuple(_active)


def kinds_in(container: str) -> tuple[Kind[Any], ...]:
    """The kinds whose lists live in ``container`` (``""``: the predicate's top)."""
    return tuple(k for k in _active if k.container == container)


@contextlib.contextmanager
def registered(kind: Kind[Any]) -> Iterator[None]:
    """``kind`` is in force inside (a test of the registry, or a prototype kind)."""
    if any(k.container == kind.container and k.name == kind.name for k in _active):
        raise ValueError(f"a kind {kind.path} is already registered")
    _active.append(kind)
    try:
        yield
    finally:
        _active.remove(kind)
