"""Errors shared by the evidence families."""

from __future__ import annotations

from refkit.errors import EnvironmentProblem


class MaterialMissing(EnvironmentProblem):
    """A certificate, CRL or collateral that verification needs was not supplied (exit 3).

    Verification never fetches: the message names what is missing and ``hint`` names the
    ``refkit evidence fetch`` call (or the option) that supplies it.
    """
