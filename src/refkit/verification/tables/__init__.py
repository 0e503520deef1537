"""The code tables, one module per capability; :mod:`refkit.verification.codes` joins them.

Adding a capability's codes: a new module here with ``TABLE``, listed in :data:`ALL`, then
regenerate docs/codes.md (``python -m refkit.verification > docs/codes.md``).
"""

from __future__ import annotations

from refkit.verification.tables import (
    eventlog,
    evidence,
    evidence_gpu,
    evidence_snp,
    evidence_tdx,
    inputs,
    manifest,
    verity,
    weights,
)

ALL = (
    manifest.TABLE,
    inputs.TABLE,
    evidence.TABLE,
    evidence_snp.TABLE,
    evidence_tdx.TABLE,
    evidence_gpu.TABLE,
    weights.TABLE,
    verity.TABLE,
    eventlog.TABLE,
)
