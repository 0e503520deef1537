"""What every kind of reference value provides, and the registry's building blocks.

A *kind* (SEV-SNP measurements, TDX registers, vTPM PCRs, policy hashes, GPU values,
model weights, declared SNP and TDX values) is one module of this package holding one
frozen entry class and one :class:`Kind` describing it:

- where its list lives (``referenceValues.snp``, ``declared.tdx``, ``models``);
- ``parse``: one entry from its JSON object (the entry class has ``to_json``);
- ``normalise``: the entry with every order-free list in canonical order;
- the entry's ``key``: unique among its peers (the parse refuses duplicates) and the
  item name ``manifest diff`` matches entries by;
- ``view``: the rows ``manifest show`` prints, grouped (:class:`View`, plain data: the CLI
  renders it);
- ``diff_section``: the section of ``manifest diff`` its changes are listed under.

:mod:`refkit.manifests.model.registry` lists every kind once; the containers
(``ReferenceValues``, ``Declared``), the authoring normaliser, ``show``, ``diff`` and the
exports iterate over it. Adding a kind: docs/decisions/0007-manifest-kinds.md.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from refkit.reader import Obj, fail


class Entry(Protocol):
    """One reference value: a frozen dataclass with a key and a JSON form."""

    @property
    def key(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=Entry)


@dataclass(frozen=True)
class Block:
    """Entries that share ``facts`` (shown once) and differ only in their ``rows``."""

    facts: tuple[tuple[str, str], ...]
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class View:
    """What ``manifest show`` prints for one section: a title and its blocks."""

    title: str
    blocks: tuple[Block, ...]
    #: How many entries the view shows (0: not a list of entries).
    count: int = 0


Fact = tuple[str, str]


def grouped(
    title: str,
    entries: Iterable[T],
    *,
    facts: Callable[[T], Sequence[Fact]],
    columns: tuple[str, ...],
    rows: Callable[[T], Iterable[Sequence[str]]],
) -> View:
    """A view whose blocks group the entries with equal ``facts`` (in first-seen order).

    Linear: one dictionary lookup per entry.
    """
    groups: dict[tuple[Fact, ...], list[tuple[str, ...]]] = {}
    count = 0
    for entry in entries:
        count += 1
        groups.setdefault(tuple(facts(entry)), []).extend(tuple(r) for r in rows(entry))
    return View(title, tuple(Block(f, columns, tuple(r)) for f, r in groups.items()), count)


def _same(entry: T) -> T:
    return entry


@dataclass(frozen=True)
class Kind(Generic[T]):
    """One kind of reference value (see the module docstring)."""

    container: str
    """``referenceValues``, ``declared``, or ``""`` for a list at the predicate's top."""
    name: str
    """The JSON key of its list inside the container."""
    title: str
    diff_section: str
    parse: Callable[[Obj], T]
    view: Callable[[Sequence[T]], View]
    normalise: Callable[[T], T] = _same
    read_legacy: Callable[[Obj], tuple[T, ...] | None] | None = None
    """Reads an older spelling of the list (schema 1.0), if the kind had one."""

    @property
    def path(self) -> str:
        """Where the list lives in the predicate: ``referenceValues.snp``."""
        return f"{self.container}.{self.name}" if self.container else self.name

    def read(self, container: Obj) -> tuple[T, ...] | None:
        """The kind's entries from its container object (None if absent); keys unique."""
        if self.read_legacy is not None:
            legacy = self.read_legacy(container)
            if legacy is not None:
                return legacy
        entries = container.objs(self.name, self.parse)
        unique(container, self.name, entries)
        return entries

    def write(self, entries: Sequence[T]) -> list[dict[str, Any]]:
        return [e.to_json() for e in entries]


def unique(obj: Obj, key: str, items: Sequence[Entry] | None) -> None:
    """Refuse two entries with the same key (linear: one dictionary)."""
    seen: dict[Hashable, int] = {}
    for i, item in enumerate(items or ()):
        k = item.key
        if k in seen:
            raise fail(
                obj.source,
                f"{obj.at(key)}[{i}]",
                f"duplicates {obj.at(key)}[{seen[k]}] ({k})",
                hint="each entry must differ in what keys it (shape, product, bank, name ...)",
            )
        seen[k] = i
