"""What changed between two reference manifests, grouped the way a reviewer reads it.

Sections, in this order: ``release``, ``artifacts`` (subjects, by name), ``measurements``
(computed SNP/TDX/vTPM values and policy hashes), ``gpu``, ``platform`` (declared values),
``models``, ``provenance``, ``other`` (schema version and fields refkit does not know).
Each kind of reference value names its section and its item key (the entry's ``key``)
in the registry (:mod:`refkit.manifests.model.registry`). Within an item, nested objects
are compared field by field (``digest.sha256``); lists are compared whole.

Pure: compares two :class:`~refkit.manifests.statement.Statement` values, reads no file.
Deterministic: changes are sorted by section order, then items in natural order (digit
runs as numbers: "2 vCPU" before "10 vCPU"), then field. Entries are matched by their
key, so reordering a list is not a change. Linear in the number of entries (plus the
sort).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from refkit.manifests.authoring import natural_key
from refkit.manifests.model.registry import kinds
from refkit.manifests.statement import Statement

SECTIONS = (
    "release",
    "artifacts",
    "measurements",
    "gpu",
    "platform",
    "models",
    "provenance",
    "other",
)


class ChangeKind(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class Change:
    """One difference. ``field`` is None when a whole item was added or removed."""

    section: str
    item: str
    field: str | None
    kind: ChangeKind
    before: Any = None
    after: Any = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"item": self.item, "change": self.kind.value}
        if self.field is not None:
            out["field"] = self.field
        if self.kind is not ChangeKind.ADDED:
            out["before"] = self.before
        if self.kind is not ChangeKind.REMOVED:
            out["after"] = self.after
        return out


@dataclass(frozen=True)
class ManifestDiff:
    old: str
    new: str
    changes: tuple[Change, ...]

    @property
    def differs(self) -> bool:
        return bool(self.changes)

    def by_section(self) -> dict[str, list[Change]]:
        out: dict[str, list[Change]] = {}
        for change in self.changes:
            out.setdefault(change.section, []).append(change)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "identical": not self.differs,
            "sections": {s: [c.to_json() for c in cs] for s, cs in self.by_section().items()},
        }


def _label(statement: Statement) -> str:
    release = statement.predicate.release
    return f"{release.name} {release.version}"


def _items(statement: Statement) -> dict[str, dict[str, Any]]:
    """section → item key → JSON value of that item."""
    pred = statement.predicate
    rv = pred.reference_values
    sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    sections["release"]["release"] = pred.release.to_json()
    for subject in statement.subjects:
        value = subject.to_json()
        value.pop("name")
        sections["artifacts"][subject.name] = value
    present = {
        **{(k, "referenceValues"): None for k in rv.lists},
        **{(k, "declared"): None for k in (pred.declared.lists if pred.declared else {})},
        **{(k, ""): None for k in pred.top},
    }
    for kind in kinds():
        items = sections[kind.diff_section]
        entries = pred.of(kind)
        for entry in entries:
            items[entry.key] = entry.to_json()
        if not entries and (kind.name, kind.container) in present:
            items[kind.path] = []  # an empty list is not the same bytes as none
    for key, value in rv.unrecognized.items():
        sections["measurements"][f"referenceValues.{key}"] = value
    declared = pred.declared
    if declared is not None:
        for key, value in declared.unrecognized.items():
            sections["platform"][f"declared.{key}"] = value
    if pred.provenance is not None:
        sections["provenance"]["provenance"] = pred.provenance.to_json()
    sections["other"]["schemaVersion"] = pred.schema_version
    for key, value in pred.unrecognized.items():
        sections["other"][f"predicate.{key}"] = value
    for key, value in statement.unrecognized.items():
        sections["other"][key] = value
    return sections


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            yield from _flatten(value[key], f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, value


def _compare(section: str, item: str, before: Any, after: Any) -> Iterable[Change]:
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        if before != after:
            yield Change(section, item, None, ChangeKind.CHANGED, before, after)
        return
    old = dict(_flatten(before))
    new = dict(_flatten(after))
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            yield Change(section, item, path, ChangeKind.REMOVED, old[path], None)
        elif path not in old:
            yield Change(section, item, path, ChangeKind.ADDED, None, new[path])
        elif old[path] != new[path]:
            yield Change(section, item, path, ChangeKind.CHANGED, old[path], new[path])


def diff_statements(old: Statement, new: Statement) -> ManifestDiff:
    """Every difference from ``old`` to ``new``, grouped by section."""
    a, b = _items(old), _items(new)
    changes: list[Change] = []
    for section in SECTIONS:
        before, after = a[section], b[section]
        for item in sorted(before.keys() | after.keys(), key=natural_key):
            if item not in after:
                changes.append(Change(section, item, None, ChangeKind.REMOVED, before[item]))
            elif item not in before:
                changes.append(Change(section, item, None, ChangeKind.ADDED, None, after[item]))
            elif before[item] != after[item]:  # most items are equal: one C-speed check
                changes.extend(_compare(section, item, before[item], after[item]))
    return ManifestDiff(_label(old), _label(new), tuple(changes))
