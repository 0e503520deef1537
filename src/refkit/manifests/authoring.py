"""From the YAML authoring form to a validated, normalised, canonical statement.

The authoring form (docs/manifests.md, *The YAML authoring form*) is the predicate's JSON
data model with three conveniences for people:

- ``subjects`` sits beside the predicate fields, each with a top-level ``kind`` (the
  statement carries it as ``annotations.kind``);
- ``release.created`` may be left out and supplied at build time (see :func:`choose_created`);
- ``schemaVersion`` and ``provenance.refkitVersion`` may be left out; refkit fills them.

Determinism: :func:`build_statement` sorts everything whose order carries no meaning
(subjects by name; reference values, declared values, models and pinned inputs by their
key; allow-lists by value), so the same content always gives the same canonical bytes,
whatever order the author wrote it in. It never reads the clock: the creation time comes
from the document, an explicit option or ``SOURCE_DATE_EPOCH``, or the build fails.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from typing import Any

from refkit.errors import InputError, ParseError
from refkit.manifests.constants import PREDICATE_TYPE, STATEMENT_TYPE
from refkit.manifests.model import SCHEMA_VERSION
from refkit.manifests.statement import Statement, parse_statement
from refkit.reader import Obj, fail, json_copy
from refkit.times import format_time, from_epoch_text, parse_time

_SUBJECT_FIELDS = ("name", "kind", "digest", "uri", "mediaType", "annotations")


def choose_created(
    *, option: str | None, document: str | None, source_date_epoch: str | None
) -> tuple[str, str]:
    """The release creation time and where it came from, by documented precedence.

    1. ``--created`` (an explicit option wins: the build command says it overrides);
    2. ``release.created`` in the document;
    3. the ``SOURCE_DATE_EPOCH`` environment variable (integer seconds since 1970, UTC);
    4. otherwise :class:`~refkit.errors.InputError`: refkit never takes the clock silently.
    """
    if option is not None:
        parse_time(option, source="command line", path="--created")
        return option, "--created"
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
        hint="set release.created in the YAML, pass --created YYYY-MM-DDTHH:MM:SSZ, "
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
    predicate.setdefault("schemaVersion", SCHEMA_VERSION)
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
    """
    value = authoring_to_statement_json(
        document, source=source, created=created, refkit_version=refkit_version
    )
    release = value["predicate"].get("release")
    if isinstance(release, dict) and "created" not in release:
        raise InputError(
            f"{source}: no release creation time",
            hint="set release.created, pass --created, or export SOURCE_DATE_EPOCH",
        )
    return normalise(parse_statement(value, source=source))


def natural_key(text: str) -> tuple[tuple[tuple[int, int | str], ...], str]:
    """Sort key reading digit runs as numbers: "4 vCPU" before "32 vCPU".

    The text itself breaks ties ("7" and "07"), so the order is total and the canonical
    form never depends on the order entries were written in.
    """
    parts = tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part
    )
    return parts, text


def _sorted(items: tuple[Any, ...] | None, key: Any) -> tuple[Any, ...] | None:
    return None if items is None else tuple(sorted(items, key=key))


def _set(items: tuple[str, ...] | None) -> tuple[str, ...] | None:
    return None if items is None else tuple(sorted(set(items)))


def normalise(statement: Statement) -> Statement:
    """Sort every list whose order carries no meaning (see the module docstring)."""
    rep = dataclasses.replace
    p = statement.predicate
    rv = p.reference_values
    by_key = lambda e: natural_key(e.key)  # noqa: E731
    rv = rep(
        rv,
        snp=_sorted(rv.snp, by_key),
        tdx=_sorted(rv.tdx, by_key),
        vtpm=_sorted(rv.vtpm, by_key),
        policies=_sorted(rv.policies, by_key),
        gpu=_sorted(
            None
            if rv.gpu is None
            else tuple(
                rep(
                    g,
                    driver_versions=_set(g.driver_versions),
                    vbios_versions=_set(g.vbios_versions),
                    rim_ids=_set(g.rim_ids),
                )
                for g in rv.gpu
            ),
            by_key,
        ),
    )
    declared = p.declared
    if declared is not None:
        snp = None
        if declared.snp is not None:
            snp = tuple(
                sorted(
                    (rep(d, allowed_chip_ids=_set(d.allowed_chip_ids)) for d in declared.snp),
                    key=by_key,
                )
            )
        tdx = declared.tdx
        if tdx is not None:
            tdx = rep(
                tdx,
                mr_seams=tuple(sorted(set(tdx.mr_seams))),
                allowed_piids=_set(tdx.allowed_piids),
            )
        declared = rep(declared, snp=snp, tdx=tdx)
    models = _sorted(p.models, by_key)
    provenance = p.provenance
    if provenance is not None:
        provenance = rep(provenance, inputs=_sorted(provenance.inputs, by_key))
    predicate = rep(p, reference_values=rv, declared=declared, models=models, provenance=provenance)
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


def _walk(value: Any, path: str) -> Iterator[str]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        unrec = getattr(value, "unrecognized", None)
        if isinstance(unrec, Mapping):
            yield from (f"{path}.{k}" for k in unrec)
        for f in dataclasses.fields(value):
            if f.name != "unrecognized":
                yield from _walk(getattr(value, f.name), f"{path}.{_json_name(f.name)}")
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    elif isinstance(value, Mapping):
        for k, item in value.items():
            if dataclasses.is_dataclass(item):
                yield from _walk(item, f"{path}.{k}")


def example_yaml() -> str:
    """The commented authoring template that ``refkit manifest example`` writes."""
    from importlib import resources

    return (
        resources.files("refkit.manifests.schema")
        .joinpath("example-release.yaml")
        .read_text(encoding="utf-8")
    )
