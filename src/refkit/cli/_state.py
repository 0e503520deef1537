"""Global CLI state carried in click's context object."""

from __future__ import annotations

from typing import NamedTuple


class CliState(NamedTuple):
    """Options given before the command name (``refkit -v measure snp ...``)."""

    verbose: int = 0
    quiet: bool = False
