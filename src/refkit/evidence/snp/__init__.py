"""AMD SEV-SNP evidence: parse reports (v2-v5, Azure HCL), verify them, compare them.

The family's interface (docs/evidence-snp.md):

- :func:`looks_like` / :func:`parse`: bytes into a frozen :class:`SnpEvidence`;
- :func:`verify`: authenticity only (chain to the pinned ARK, signature, TCB and hwID
  binding, key type, validity at a time, CRL), through a :class:`SnpVerifier` that caches
  chains for services and benchmarks;
- :func:`compare`: the checks against a reference manifest;
- :func:`show` / :func:`measured`: every parsed field, or the few printed without a
  manifest, as JSON-able values;
- :mod:`refkit.evidence.snp.fetch`: the only code that reaches AMD's key distribution
  service.

Nothing here prints or reaches the network (except ``fetch``, with an opener passed in).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from refkit.evidence.snp.authenticity import SnpVerifier
from refkit.evidence.snp.evidence import SnpEvidence, looks_like, parse
from refkit.evidence.snp.hcl import HclReport
from refkit.evidence.snp.policy import compare
from refkit.evidence.snp.report import SnpReport, TcbVersion
from refkit.evidence.snp.show import measured, show
from refkit.measure.cpu import SnpProduct
from refkit.verification import Result

__all__ = [
    "HclReport",
    "SnpEvidence",
    "SnpReport",
    "SnpVerifier",
    "TcbVersion",
    "compare",
    "looks_like",
    "measured",
    "parse",
    "product",
    "show",
    "verify",
]

_DEFAULT = SnpVerifier()


def verify(
    evidence: SnpEvidence,
    *,
    certificates: Sequence[bytes],
    crls: Sequence[bytes] = (),
    at: datetime,
) -> tuple[Result, ...]:
    """Authenticity of ``evidence`` with AMD's pinned roots (:meth:`SnpVerifier.verify`)."""
    return _DEFAULT.verify(evidence, certificates=certificates, crls=crls, at=at)


def product(evidence: SnpEvidence, *, certificates: Sequence[bytes]) -> SnpProduct | None:
    """The report's product: CPUID (v3+) or the VCEK's product name (v2); pass it to
    :func:`compare` so that a v2 report meets its product's declared values."""
    return _DEFAULT.product(evidence, certificates=certificates)
