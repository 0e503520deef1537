"""Fail closed (issue 11 item 3, docs/decisions/0005-fail-closed.md).

Take a valid manifest, add an unknown field inside a constraint (or bump the minor schema
version) and see the parse refuse it with a stable code; read for display, it is kept.
An older reader must not pass what a newer constraint would fail.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from refkit.errors import NotUnderstood
from refkit.manifests.authoring import build_statement, unrecognized_fields
from refkit.manifests.statement import for_display, parse_statement
from tests.manifest_support import example_statement

#: Every constraint object of the golden manifest (JSON paths below the predicate).
CONSTRAINTS = [
    ("referenceValues",),
    ("referenceValues", "snp", 0),
    ("referenceValues", "snp", 0, "shape"),
    ("referenceValues", "snp", 0, "shape", "vmm"),
    ("referenceValues", "snp", 0, "computedBy"),
    ("referenceValues", "tdx", 0),
    ("referenceValues", "tdx", 0, "eventLog"),
    ("referenceValues", "vtpm", 0),
    ("referenceValues", "policies", 0),
    ("referenceValues", "gpu", 0),
    ("declared",),
    ("declared", "snp", 0),
    ("declared", "snp", 0, "minimumTcb"),
    ("declared", "tdx", 0),
    ("models", 0),
    ("models", 0, "fileDigestRoot"),
    ("models", 0, "verity"),
]


def _at(doc: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    node: Any = doc["predicate"]
    for part in path:
        node = node[part]
    return node


def _with_event_log(doc: dict[str, Any]) -> dict[str, Any]:
    doc["predicate"]["referenceValues"]["tdx"][0]["eventLog"] = {"digest": {"sha256": "ab" * 32}}
    doc["predicate"]["referenceValues"]["snp"][0]["computedBy"] = {"name": "t", "version": "1"}
    return doc


@pytest.mark.parametrize("path", CONSTRAINTS, ids=lambda p: ".".join(map(str, p)))
def test_unknown_field_in_a_constraint_is_refused(path: tuple[str | int, ...]) -> None:
    doc = _with_event_log(example_statement())
    parse_statement(doc, source="t.json")  # valid as is
    _at(doc, path)["minimumSvnNew"] = 7  # e.g. a constraint a newer release adds
    with pytest.raises(NotUnderstood) as info:
        parse_statement(doc, source="t.json")
    assert info.value.code == "manifest.constraint.unknown"
    assert "minimumSvnNew" in str(info.value)
    where = ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")
    assert info.value.location.field == f"$.predicate.{where}.minimumSvnNew"
    # read for display: kept (and reported), never silently dropped
    with for_display():
        shown = parse_statement(copy.deepcopy(doc), source="t.json")
    assert shown.to_json() == doc
    assert any(p.endswith(".minimumSvnNew") for p in unrecognized_fields(shown))


def test_informational_parts_keep_unknown_fields() -> None:
    doc = example_statement()
    doc["predicate"]["release"]["x-note"] = "kept"
    doc["predicate"]["models"][0]["source"]["x-mirror"] = "kept"
    doc["predicate"]["provenance"]["x-ci"] = {"run": 1}
    doc["predicate"]["x-top"] = 1
    assert parse_statement(doc, source="t.json").to_json() == doc


def test_newer_minor_is_refused_with_its_code() -> None:
    doc = example_statement()
    doc["predicate"]["schemaVersion"] = "1.2"
    with pytest.raises(NotUnderstood) as info:
        parse_statement(doc, source="t.json")
    assert info.value.code == "manifest.schema.newer"
    with for_display():
        assert parse_statement(doc, source="t.json").predicate.schema_version == "1.2"


def test_build_refuses_unknown_constraint_fields_in_yaml_terms() -> None:
    from refkit.manifests.authoring import example_yaml
    from refkit.yamlio import load_yaml
    from tests.manifest_support import strip_placeholders

    doc = strip_placeholders(load_yaml(example_yaml(), source="t.yaml"))
    doc["referenceValues"]["snp"][0]["minimumSvnNew"] = 1
    with pytest.raises(NotUnderstood) as info:
        build_statement(doc, source="t.yaml", created=None, refkit_version="0.1.0")
    assert info.value.code == "manifest.constraint.unknown"
    assert info.value.location.field == "referenceValues.snp[0].minimumSvnNew"
