"""Global CLI state carried in click's context object."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CliState:
    """Options given before the command name (``refkit -v measure snp ...``)."""

    verbose: int = 0
    quiet: bool = False
