"""Fail closed (issue 11 item 3, docs/decisions/0005-fail-closed.md).

Take a valid manifest, add an unknown field inside a constraint (or bump the minor schema
version) and see the parse refuse it with a stable code; read for display, it is kept.
An older reader must not pass what a newer constraint would fail.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
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
    from refkit.manifests.model import SCHEMA_MINOR

    newer = f"1.{SCHEMA_MINOR + 1}"
    doc = example_statement()
    doc["predicate"]["schemaVersion"] = newer
    with pytest.raises(NotUnderstood) as info:
        parse_statement(doc, source="t.json")
    assert info.value.code == "manifest.schema.newer"
    with for_display():
        assert parse_statement(doc, source="t.json").predicate.schema_version == newer


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


# ------------------------------------------------------------------ through manifest verify
# A newer release signs a constraint this refkit does not know (or a newer minor schema
# version): the signature is fine, and verification must still say no, with the code,
# because passing would ignore what the newer rule checks. The bundles are made with
# refkit's DSSE and bundle writers directly: `manifest sign` itself refuses to sign what
# it does not understand.


def _signed(tmp_path: Path, statement: dict[str, Any]) -> tuple[Path, Path]:
    from refkit.manifests.canonical import canonical_dumps
    from refkit.manifests.signing.bundle import dump_bundle, key_bundle
    from refkit.manifests.signing.dsse import sign_envelope
    from refkit.manifests.signing.keys import KeyType, cosign_hint, generate

    key = generate(KeyType.ED25519)
    envelope = sign_envelope(canonical_dumps(statement), key)
    bundle = tmp_path / "newer.bundle.json"
    bundle.write_bytes(dump_bundle(key_bundle(envelope, cosign_hint(key.public_key()))))
    pub = tmp_path / "newer.pub"
    pub.write_bytes(key.public_key().pem())
    return bundle, pub


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (
            lambda p: p["referenceValues"]["snp"][0].update(minimumFirmwareBuild=21),
            "manifest.constraint.unknown",
        ),
        (
            lambda p: p["declared"]["snp"][0].update(allowedHosts=["a"]),
            "manifest.constraint.unknown",
        ),
        (lambda p: p.update(schemaVersion="1.99"), "manifest.schema.newer"),
    ],
)
def test_manifest_verify_refuses_what_it_does_not_understand(
    tmp_path: Path, run_cli: Callable[..., Any], change: Callable[[dict[str, Any]], Any], code: str
) -> None:
    statement = example_statement()
    # the unchanged manifest verifies (so the refusal below is the change's doing)
    bundle, pub = _signed(tmp_path, statement)
    ok = run_cli("manifest", "verify", bundle, "--key", pub, "--at", "2026-06-01T00:00:00Z")
    assert ok.code == 0, ok.stdout + ok.stderr
    change(statement["predicate"])
    bundle, pub = _signed(tmp_path, statement)
    r = run_cli(
        "manifest", "verify", bundle, "--key", pub, "--at", "2026-06-01T00:00:00Z", "--json"
    )
    assert r.code == 1, r.stdout + r.stderr
    failing = [c["code"] for c in json.loads(r.stdout)["checks"] if not c["ok"]]
    assert failing == [code]
