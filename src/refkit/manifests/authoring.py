"""From the YAML authoring form to a validated, normalised, canonical statement.

The authoring form (docs/manifests.md, *The YAML authoring form*) is the predicate's JSON
data model with three conveniences for people:

- ``subjects`` sits beside the predicate fields, each with a top-level ``kind`` (the
  statement carries it as ``annotations.kind``);
- ``release.created`` may be left out and supplied at build time (see :func:`choose_created`);
- ``schemaVersion`` and ``provenance.refkitVersion`` may be left out; refkit fills them;
  an older ``1.x`` is raised to :data:`~refkit.manifests.model.SCHEMA_VERSION` (every 1.0
  document is a valid 1.1 document, and the statement is written in the 1.1 forms);
- values copied from ``refkit manifest example`` carry ``placeholder: true``; the build
  refuses every object still marked, naming all of them (:func:`placeholders`).

Errors name YAML paths (``release.version``, ``referenceValues.snp[0].measurement``),
not the statement's (``$.predicate...``), which the YAML file does not have.

Determinism: :func:`build_statement` sorts everything whose order carries no meaning
(subjects by name; reference values, declared values, models and pinned inputs by their
key; allow-lists by value), so the same content always gives the same canonical bytes,
whatever order the author wrote it in. It never reads the clock: the creation time comes
from the document, an explicit option or ``SOURCE_DATE_EPOCH``, or the build fails.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from refkit.errors import InputError, Location, NotUnderstood, ParseError
from refkit.manifests.constants import PREDICATE_TYPE, STATEMENT_TYPE
from refkit.manifests.model import SCHEMA_VERSION
from refkit.manifests.model.predicate import schema_minor, with_lists
from refkit.manifests.model.registry import kinds
from refkit.manifests.statement import Statement, parse_statement
from refkit.reader import Obj, fail, json_copy
from refkit.times import format_time, from_epoch_text, parse_time

_DIGITS = re.compile(r"([0-9]+)")  # ASCII digits only: "²" and "٣" are text here
_SUBJECT_FIELDS = ("name", "kind", "digest", "uri", "mediaType", "annotations")


def choose_created(
    *, option: str | None, document: str | None, source_date_epoch: str | None
) -> tuple[str, str]:
    """The release creation time and where it came from, by documented precedence.

    1. ``option``, a time the caller gives explicitly (it wins: it overrides);
    2. ``release.created`` in the document;
    3. the ``SOURCE_DATE_EPOCH`` environment variable (integer seconds since 1970, UTC);
    4. otherwise :class:`~refkit.errors.InputError`: refkit never takes the clock silently.
    """
    if option is not None:
        parse_time(option, source="the explicit creation time", path="value")
        return option, "explicit"
    if document is not None:
        return document, "release.created"
    if source_date_epoch is not None:
        try:
            when = from_epoch_text(source_date_epoch.strip(), source="SOURCE_DATE_EPOCH")
        except ParseError as exc:
            raise InputError(
                f"SOURCE_DATE_EPOCH={source_date_epoch[:40]!r}: {exc.reason}",
                hint="see https://reproducible-builds.org/specs/source-date-epoch/",
            ) from None
        return format_time(when), "SOURCE_DATE_EPOCH"
    raise InputError(
        "no release creation time",
        hint="set release.created in the YAML, give the creation time explicitly, "
        "or export SOURCE_DATE_EPOCH (refkit never uses the current time silently)",
    )


def authoring_to_statement_json(
    document: Any, *, source: str, created: str | None, refkit_version: str
) -> dict[str, Any]:
    """Turn the authoring form into statement JSON (not yet validated or normalised)."""
    top = Obj(document, source=source, path="$")
    raw_subjects = top.raw("subjects", True)
    if not isinstance(raw_subjects, list):
        raise top.fail("subjects", "expected a list of artifacts")
    subjects = [_subject(v, f"$.subjects[{i}]", source) for i, v in enumerate(raw_subjects)]
    predicate = {k: json_copy(v) for k, v in top.value.items() if k != "subjects"}
    version = predicate.setdefault("schemaVersion", SCHEMA_VERSION)
    older = isinstance(version, str) and re.fullmatch(r"1\.(0|[1-9][0-9]{0,5})", version)
    if older and schema_minor(version) < schema_minor(SCHEMA_VERSION):
        predicate["schemaVersion"] = SCHEMA_VERSION
    release = predicate.get("release")
    if isinstance(release, dict) and created is not None:
        release["created"] = created
    provenance = predicate.setdefault("provenance", {})
    if isinstance(provenance, dict):
        provenance.setdefault("refkitVersion", refkit_version)
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def _subject(value: Any, path: str, source: str) -> dict[str, Any]:
    obj = Obj(value, source=source, path=path)
    kind = obj.text("kind")
    out = {k: json_copy(v) for k, v in obj.value.items() if k != "kind"}
    annotations = out.get("annotations", {})
    if not isinstance(annotations, dict):
        raise fail(source, f"{path}.annotations", "expected an object")
    if "kind" in annotations:
        raise fail(source, f"{path}.annotations.kind", "give the kind once, as subjects[].kind")
    out["annotations"] = {"kind": kind, **annotations}
    return out


def build_statement(
    document: Any,
    *,
    source: str,
    created: str | None,
    refkit_version: str,
) -> Statement:
    """Authoring form → validated, normalised :class:`Statement`.

    ``created`` replaces ``release.created`` when given (see :func:`choose_created`).
    Refuses values still marked as placeholders, all of them at once.
    """
    marked = placeholders(document)
    if marked:
        shown = ", ".join(marked[:20]) + (
            f" and {len(marked) - 20} more" if len(marked) > 20 else ""
        )
        raise InputError(
            f"{source}: {len(marked)} placeholder value(s) from `refkit manifest example` "
            f"are still in the file: {shown}",
            hint="replace each with your release's real value and delete its "
            "`placeholder: true` line (or delete the entry)",
        )
    try:
        value = authoring_to_statement_json(
            document, source=source, created=created, refkit_version=refkit_version
        )
        release = value["predicate"].get("release")
        if isinstance(release, dict) and "created" not in release:
            raise InputError(
                f"{source}: no release creation time",
                hint="set release.created, give the creation time explicitly, "
                "or export SOURCE_DATE_EPOCH",
            )
        return normalise(parse_statement(value, source=source, schema=True, strict=True))
    except ParseError as exc:
        raise _in_yaml_terms(exc) from None


def placeholders(document: Any) -> list[str]:
    """YAML paths of every object in ``document`` that still has a ``placeholder`` key."""
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            if "placeholder" in node:
                found.append(path or "(top level)")
            for key, child in node.items():
                stack.append((child, f"{path}.{key}" if path else str(key)))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                stack.append((child, f"{path}[{i}]"))
    return sorted(found, key=natural_key)


def yaml_path(field: str) -> str:
    """A statement path (``$.predicate.release.version``) in authoring-form terms."""
    if field == "$" or field == "$.predicate":
        return "(top level)"
    for prefix in ("$.predicate.", "$."):
        if field.startswith(prefix):
            field = field[len(prefix) :]
            break
    match = re.match(r"subjects?(\[\d+\])(.*)", field)
    if match:
        rest = match.group(2)
        rest = ".kind" if rest == ".annotations.kind" else rest
        return f"subjects{match.group(1)}{rest}"
    return field


def _in_yaml_terms(exc: ParseError) -> ParseError:
    loc = exc.location
    if loc.field is None:
        return exc
    where = Location(loc.source, loc.offset, yaml_path(loc.field))
    if isinstance(exc, NotUnderstood):
        return NotUnderstood(exc.reason, location=where, code=exc.code, hint=exc.hint)
    return ParseError(exc.reason, location=where, hint=exc.hint)


def natural_key(text: str) -> tuple[tuple[tuple[int, int | str], ...], str]:
    """Sort key reading digit runs as numbers: "4 vCPU" before "32 vCPU".

    The text itself breaks ties ("7" and "07"), so the order is total and the canonical
    form never depends on the order entries were written in.
    """
    parts = tuple(
        (0, int(part)) if _DIGITS.fullmatch(part) else (1, part)
        for part in _DIGITS.split(text)
        if part
    )
    return parts, text


def _sorted(items: tuple[Any, ...] | None, key: Any) -> tuple[Any, ...] | None:
    return None if items is None else tuple(sorted(items, key=key))


def normalise(statement: Statement) -> Statement:
    """Sort every list whose order carries no meaning (see the module docstring).

    Each kind normalises its own entries (its allow-lists); entries are sorted by key.
    """
    rep = dataclasses.replace
    p = statement.predicate
    by_key = lambda e: natural_key(e.key)  # noqa: E731
    lists = {kind: sorted((kind.normalise(e) for e in p.of(kind)), key=by_key) for kind in kinds()}
    p = with_lists(p, lists)
    provenance = p.provenance
    if provenance is not None:
        provenance = rep(provenance, inputs=_sorted(provenance.inputs, by_key))
    predicate = rep(p, provenance=provenance)
    subjects = tuple(sorted(statement.subjects, key=lambda s: s.name))
    return rep(statement, subjects=subjects, predicate=predicate)


def unrecognized_fields(statement: Statement) -> list[str]:
    """Paths (in the authoring form) of fields refkit does not know.

    They are kept and signed, but in a hand-written file they are usually a typo.
    """
    paths = [*_walk(statement.predicate, "$")]
    for i, subject in enumerate(statement.subjects):
        paths.extend(_walk(subject, f"$.subjects[{i}]"))
    paths.extend(f"$.{k}" for k in statement.unrecognized)
    return sorted(paths)


def _json_name(name: str) -> str:
    if name == "memory_mib":
        return "memoryMiB"
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_FIELDS: dict[type, tuple[tuple[str, str], ...] | None] = {}


def _fields(kind: type) -> tuple[tuple[str, str], ...] | None:
    """(attribute, JSON name) of a dataclass's fields (None: not a dataclass), cached."""
    if kind not in _FIELDS:
        _FIELDS[kind] = (
            tuple(
                (f.name, _json_name(f.name))
                for f in dataclasses.fields(kind)
                if f.name != "unrecognized"
            )
            if dataclasses.is_dataclass(kind)
            else None
        )
    return _FIELDS[kind]


#: Fields holding the kinds' lists by kind name: their keys are the JSON names.
_KIND_LISTS = ("lists", "top")
_LEAVES = (str, int, enum.Enum, datetime)


def _walk(value: Any, path: str) -> Iterator[str]:
    """Paths of unknown fields below ``value`` (iterative, linear in the model's size)."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, tuple):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))
            continue
        if isinstance(node, dict):
            stack.extend((item, f"{where}.{k}") for k, item in node.items())
            continue
        fields = _fields(type(node))
        if fields is None:
            continue
        unrec = getattr(node, "unrecognized", None)
        if unrec:
            yield from (f"{where}.{k}" for k in unrec)
        for name, json_name in fields:
            child = getattr(node, name)
            if child is None or isinstance(child, _LEAVES):
                continue
            if name in _KIND_LISTS:
                stack.extend((items, f"{where}.{k}") for k, items in child.items())
            else:
                stack.append((child, f"{where}.{json_name}"))


def example_yaml() -> str:
    """The commented authoring template that ``refkit manifest example`` writes."""
    from importlib import resources

    return (
        resources.files("refkit.manifests.schema")
        .joinpath("example-release.yaml")
        .read_text(encoding="utf-8")
    )
