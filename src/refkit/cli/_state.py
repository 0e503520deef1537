"""Global CLI state carried in click's context object."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from refkit._console import Prefetch


class CliState(NamedTuple):
    """Options given before the command name (``refkit -v measure snp ...``), and what the
    console script prepared before click loaded (the digests it started computing)."""

    verbose: int = 0
    quiet: bool = False
    prefetch: Prefetch | None = None
