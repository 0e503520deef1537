"""The code tables, one module per capability; :mod:`refkit.verification.codes` joins them.

Adding a capability's codes: a new module here with ``TABLE``, listed in :data:`ALL`, then
regenerate docs/codes.md (``python -m refkit.verification > docs/codes.md``).
"""

from __future__ import annotations

from refkit.verification.tables import evidence_gpu, inputs, manifest

ALL = (manifest.TABLE, inputs.TABLE, evidence_gpu.TABLE)
