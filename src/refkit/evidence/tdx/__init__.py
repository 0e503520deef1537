"""Intel TDX quotes (v4 and v5, TDX 1.0 and 1.5 bodies) as attestation evidence.

- :func:`looks_like` / :func:`parse`: bytes into a frozen :class:`TdxEvidence`
  (:mod:`.quote` holds the byte layout);
- :func:`verify` / :class:`TdxVerifier`: authenticity (PCK chain to the pinned Intel SGX
  Root CA, QE report signature and binding, quote signature) and, with collateral in
  dcap-qvl's JSON shape, the TCB status with its advisory IDs (:mod:`.verification`);
- :func:`compare`: the quote against a reference manifest (:mod:`.policy`);
- :func:`show` / :func:`measured`: every parsed field, or the few measured values;
- :mod:`.fetch`: the only network code, Intel's provisioning service into the collateral
  JSON (its opener is a parameter).

Every answer is a :class:`~refkit.verification.Result` with a ``tdx.*`` code
(verification/tables/evidence_tdx.py). Nothing here prints or reaches the network.
"""

from __future__ import annotations

from refkit.evidence.tdx.fields import measured, show
from refkit.evidence.tdx.model import TdxEvidence, looks_like, parse
from refkit.evidence.tdx.policy import compare
from refkit.evidence.tdx.verification import TdxVerification, TdxVerifier, verify

__all__ = [
    "TdxEvidence",
    "TdxVerification",
    "TdxVerifier",
    "compare",
    "looks_like",
    "measured",
    "parse",
    "show",
    "verify",
]
