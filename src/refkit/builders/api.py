"""The one interface of every builder, and the registry the recipe reader looks names up in.

A builder turns resolved inputs into one artifact (a file, or a directory for tree-shaped
artifacts), deterministically: the same inputs, parameters, builder version and
``SOURCE_DATE_EPOCH`` give the same bytes whatever the umask, locale, time zone, user,
build directory or file-system order. The orchestrator (``refkit.builders.rebuild``)
resolves inputs, gives each build a fresh private work directory and a staging path for
the output, then places the output atomically and records an in-toto link.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol


@dataclass(frozen=True)
class BuildContext:
    """What a builder may read and where it writes.

    - ``inputs``: each named input of the artifact, resolved to a verified local path (a
      pinned file, a file or directory of the repository, or another artifact's output).
    - ``params``: the recipe's parameters for this artifact, already validated against the
      builder's schema fragment (plain JSON values).
    - ``output``: the path to create (it does not exist yet; the orchestrator moves it into
      place only after the builder returned).
    - ``workdir``: an empty private directory, removed afterwards.
    - ``source_date_epoch``: every timestamp the artifact holds.
    - ``progress``: called with a short message and optional (done, total) counts.
    """

    name: str
    inputs: Mapping[str, Path]
    params: Mapping[str, Any]
    output: Path
    workdir: Path
    source_date_epoch: int
    progress: Callable[[str, int | None, int | None], None] = lambda _m, _d, _t: None


@dataclass(frozen=True)
class Built:
    """What a builder reports: facts about the artifact beyond its bytes (e.g. an OCI
    manifest digest and diff_ids, a verity root, a PCR 11 prediction), JSON values with
    sorted keys, and the external tools it ran with their versions."""

    facts: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    tools: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class Builder(Protocol):
    """A named, versioned builder. ``version`` changes whenever its output for the same
    inputs could change: it is part of the cache key and of the in-toto link."""

    name: str
    version: str
    #: JSON Schema (draft 2020-12) of this builder's ``params`` in a recipe.
    params_schema: Mapping[str, Any]
    #: Whether the output is a directory tree rather than one file.
    tree_output: bool

    def build(self, ctx: BuildContext) -> Built: ...


#: name -> builder; each builder module adds itself with :func:`register`.
BUILDERS: dict[str, Builder] = {}


def register(builder: Builder) -> Builder:
    if builder.name in BUILDERS:
        raise ValueError(f"builder {builder.name!r} registered twice")
    BUILDERS[builder.name] = builder
    return builder


def load_builders() -> Mapping[str, Builder]:
    """Import every builder module (each registers itself) and return the registry."""
    import importlib

    for module in ("rootfs", "oci", "initrd", "uki", "erofs", "verity", "nix"):
        try:
            importlib.import_module(f"refkit.builders.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"refkit.builders.{module}":
                raise
    return MappingProxyType(BUILDERS)
