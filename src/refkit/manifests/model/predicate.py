"""The predicate: release, the kinds' lists (through the registry), provenance.

Schema versions (docs/manifests.md, *Compatibility*): refkit writes
:data:`SCHEMA_VERSION`. It reads every ``1.x`` up to the minor it knows; a higher minor
(a newer release may have added a constraint this refkit would skip) is refused with
``manifest.schema.newer`` unless the caller reads for display only (``strict=False``:
``manifest show`` and ``diff``, which then keep what they do not know and warn).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar, cast

from refkit.errors import Location, NotUnderstood
from refkit.manifests.model.common import CONSTRAINT_UNKNOWN
from refkit.manifests.model.declared_snp import SnpDeclared, for_product
from refkit.manifests.model.enums import SnpProduct
from refkit.manifests.model.kind import Entry, Kind
from refkit.manifests.model.models import ModelWeights
from refkit.manifests.model.registry import kinds, kinds_in
from refkit.manifests.model.release import Provenance, Release
from refkit.reader import Obj, merged

#: The schema version refkit writes (docs/manifests.md, *What changed in 1.2*).
SCHEMA_VERSION = "1.2"
SCHEMA_MAJOR = 1
SCHEMA_MINOR = 2
#: Stable code of the refusal of a manifest newer than this refkit (docs/codes.md).
SCHEMA_NEWER = "manifest.schema.newer"
_SCHEMA_VERSION = re.compile(r"(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})")

T = TypeVar("T", bound=Entry)


def schema_minor(version: str) -> int:
    """The minor number of a ``1.x`` version string refkit has already accepted."""
    return int(version.partition(".")[2])


def is_newer(version: str) -> bool:
    """Whether a manifest's schema version is newer than this refkit knows."""
    return schema_minor(version) > SCHEMA_MINOR


@dataclass(frozen=True)
class KindLists:
    """The lists of the kinds that live in one container, keyed by kind name.

    A kind's list is present (possibly empty) exactly when the JSON has it.
    """

    lists: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    container = ""

    @classmethod
    def read(cls, obj: Obj) -> dict[str, tuple[Any, ...]]:
        out: dict[str, tuple[Any, ...]] = {}
        for kind in kinds_in(cls.container):
            entries = kind.read(obj)
            if entries is not None:
                out[kind.name] = entries
        return out

    @classmethod
    def parse(cls, obj: Obj) -> Self:
        """Every registered kind of the container; the container is a constraint, so a
        field no kind reads is refused (fail closed, ADR 0005)."""
        lists = cls.read(obj)
        return cls(lists, obj.closed(code=CONSTRAINT_UNKNOWN))

    def of(self, kind: Kind[T]) -> tuple[T, ...]:
        """The entries of ``kind`` (empty if absent)."""
        return cast("tuple[T, ...]", self.lists.get(kind.name, ()))

    def has(self, kind: Kind[Any]) -> bool:
        return kind.name in self.lists

    def entries(self) -> tuple[Any, ...]:
        """Every entry of every kind, in registry order."""
        return tuple(e for k in kinds_in(self.container) for e in self.of(k))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind in kinds_in(self.container):
            if kind.name in self.lists:
                out[kind.name] = kind.write(self.lists[kind.name])
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class ReferenceValues(KindLists):
    """Values computed from source (``referenceValues``): a constraint, read closed."""

    container = "referenceValues"


@dataclass(frozen=True)
class Declared(KindLists):
    """Values a release engineer declares (``declared``): a constraint, read closed."""

    container = "declared"

    def for_product(self, product: SnpProduct | None) -> SnpDeclared | None:
        """The declared SNP values for ``product``: its own entry, else the one for any."""
        from refkit.manifests.model import declared_snp

        return for_product(self.of(declared_snp.KIND), product)


@dataclass(frozen=True)
class ReferenceManifest:
    """The predicate of a refkit reference manifest (``predicate`` of the statement)."""

    release: Release
    reference_values: ReferenceValues
    schema_version: str = SCHEMA_VERSION
    declared: Declared | None = None
    provenance: Provenance | None = None
    #: Lists of the kinds that live at the predicate's top (``models``), by kind name.
    top: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @property
    def models(self) -> tuple[ModelWeights, ...] | None:
        value = self.top.get("models")
        return None if value is None else cast("tuple[ModelWeights, ...]", value)

    def of(self, kind: Kind[T]) -> tuple[T, ...]:
        """The entries of ``kind`` wherever it lives (empty if absent)."""
        if kind.container == "referenceValues":
            return self.reference_values.of(kind)
        if kind.container == "declared":
            return () if self.declared is None else self.declared.of(kind)
        return cast("tuple[T, ...]", self.top.get(kind.name, ()))

    def kinds(self) -> Iterator[tuple[Kind[Any], tuple[Any, ...]]]:
        """Every registered kind with its entries (only the kinds present)."""
        for kind in kinds():
            entries = self.of(kind)
            if entries:
                yield kind, entries

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": self.schema_version,
            "release": self.release.to_json(),
            "referenceValues": self.reference_values.to_json(),
        }
        if self.declared is not None:
            out["declared"] = self.declared.to_json()
        for kind in kinds_in(""):
            if kind.name in self.top:
                out[kind.name] = kind.write(self.top[kind.name])
        if self.provenance is not None:
            out["provenance"] = self.provenance.to_json()
        return merged(out, self.unrecognized)


def with_lists(
    manifest: ReferenceManifest, lists: Mapping[Kind[Any], Sequence[Any]]
) -> ReferenceManifest:
    """``manifest`` with the given kinds' entries replaced (present kinds only)."""
    from dataclasses import replace

    def merged_lists(container: str, old: Mapping[str, tuple[Any, ...]]) -> dict[str, Any]:
        new = dict(old)
        for kind, entries in lists.items():
            if kind.container == container and kind.name in new:
                new[kind.name] = tuple(entries)
        return new

    rv = replace(
        manifest.reference_values,
        lists=merged_lists("referenceValues", manifest.reference_values.lists),
    )
    declared = manifest.declared
    if declared is not None:
        declared = replace(declared, lists=merged_lists("declared", declared.lists))
    return replace(
        manifest, reference_values=rv, declared=declared, top=merged_lists("", manifest.top)
    )


def parse_predicate(
    value: Any,
    *,
    source: str,
    path: str = "$.predicate",
    schema: bool = True,
    strict: bool = True,
) -> ReferenceManifest:
    """Validate a predicate (semantic checks, then the JSON Schema) and build the model.

    ``strict=False`` reads for display only: a newer minor schema version and unknown
    fields inside constraints are kept instead of refused (never use it to decide).
    Raises :class:`~refkit.errors.ParseError` naming the field path on any failure,
    :class:`~refkit.errors.NotUnderstood` (``manifest.schema.newer``,
    ``manifest.constraint.unknown``) for what this refkit cannot interpret.
    """
    from refkit.manifests.schema import validate_predicate

    obj = Obj(value, source=source, path=path, lenient=not strict)
    version = obj.text("schemaVersion")
    match = _SCHEMA_VERSION.fullmatch(version)
    if match is None:
        raise obj.fail("schemaVersion", f"{version[:40]!r} is not MAJOR.MINOR")
    if int(match.group(1)) != SCHEMA_MAJOR:
        raise obj.fail(
            "schemaVersion",
            f"schema version {version} is not supported (this refkit reads {SCHEMA_MAJOR}.x)",
            hint="use a refkit release that supports this manifest's schema version",
        )
    if strict and int(match.group(2)) > SCHEMA_MINOR:
        raise NotUnderstood(
            f"schema version {version} is newer than this refkit knows ({SCHEMA_VERSION}): "
            "it may hold constraints this refkit would not check",
            location=Location(source, field=obj.at("schemaVersion")),
            code=SCHEMA_NEWER,
            hint="use a refkit release that knows this schema version",
        )
    release = Release.parse(obj.obj("release"))
    reference_values = ReferenceValues.parse(obj.obj("referenceValues"))
    declared_obj = obj.opt_obj("declared")
    declared = None if declared_obj is None else Declared.parse(declared_obj)
    top: dict[str, tuple[Any, ...]] = {}
    for kind in kinds_in(""):
        entries = kind.read(obj)
        if entries is not None:
            top[kind.name] = entries
    provenance_obj = obj.opt_obj("provenance")
    out = ReferenceManifest(
        schema_version=version,
        release=release,
        reference_values=reference_values,
        declared=declared,
        top=top,
        provenance=None if provenance_obj is None else Provenance.parse(provenance_obj),
        unrecognized=obj.rest(),
    )
    if not reference_values.entries() and not out.models:
        raise obj.fail("referenceValues", "holds no reference value and there are no models")
    # The published schema is checked too, after the semantic checks (whose messages are
    # the more helpful): a document refkit accepts always follows the schema it ships.
    if schema:
        validate_predicate(value, source=source, path=path)
    return out
