"""`refkit manifest show` and `diff`: library diff semantics and CLI exit codes/messages."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode
from refkit.manifests.canonical import canonical_dumps
from refkit.manifests.diff import ChangeKind, diff_statements
from refkit.manifests.statement import parse_statement
from tests.manifest_support import ASSETS, example_statement

RELEASE = ASSETS / "release.json"


def _write(tmp: Path, name: str, doc: dict[str, Any]) -> Path:
    path = tmp / name
    path.write_bytes(canonical_dumps(doc))
    return path


def _changed() -> dict[str, Any]:
    doc = example_statement()
    pred = doc["predicate"]
    pred["release"]["version"] = "1.1.0"
    doc["subject"][1]["digest"]["sha256"] = "ee" * 32  # ghcr.io/example/vllm
    doc["subject"].append(
        {"name": "new.img", "digest": {"sha256": "ff" * 32}, "annotations": {"kind": "other"}}
    )
    pred["referenceValues"]["snp"][0]["measurement"] = "cc" * 48
    del pred["referenceValues"]["snp"][1]
    pred["declared"]["snp"][0]["minimumTcb"]["microcode"] = 120
    pred["models"][0]["verity"]["rootHash"] = "dd" * 32
    pred["x-new"] = True
    return doc


def test_identical_has_no_changes() -> None:
    a = parse_statement(example_statement(), source="a")
    result = diff_statements(a, a)
    assert not result.differs
    assert result.to_json()["identical"] is True


def test_reordering_is_not_a_change() -> None:
    doc = example_statement()
    other = copy.deepcopy(doc)
    other["subject"].reverse()
    other["predicate"]["referenceValues"]["snp"].reverse()
    a = parse_statement(doc, source="a")
    b = parse_statement(other, source="b")
    assert not diff_statements(a, b).differs


def test_changes_are_grouped() -> None:
    a = parse_statement(example_statement(), source="a")
    b = parse_statement(_changed(), source="b")
    result = diff_statements(a, b)
    sections = result.by_section()
    assert list(sections) == [
        "release",
        "artifacts",
        "measurements",
        "platform",
        "models",
        "other",
    ]
    (release,) = sections["release"]
    assert (release.field, release.before, release.after) == ("version", "1.0.0", "1.1.0")
    kinds = {(c.item, c.kind) for c in sections["artifacts"]}
    assert ("new.img", ChangeKind.ADDED) in kinds
    assert ("ghcr.io/example/vllm", ChangeKind.CHANGED) in kinds
    assert any(
        c.kind is ChangeKind.REMOVED and "8 vCPU" in c.item for c in sections["measurements"]
    )
    assert any(c.field == "measurement" for c in sections["measurements"])
    assert sections["platform"][0].field == "minimumTcb.microcode"
    assert sections["models"][0].field == "verity.rootHash"
    assert sections["other"][0].item == "predicate.x-new"
    doc = result.to_json()
    assert doc["identical"] is False
    assert doc["old"] == "example-inference-service 1.0.0"
    assert doc["new"] == "example-inference-service 1.1.0"


def test_cli_diff_exit_codes(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    a = _write(tmp_path, "a.json", example_statement())
    b = _write(tmp_path, "b.json", _changed())
    r = run_cli("manifest", "diff", a, a)
    assert r.code == 0
    assert "no differences" in r.stdout
    r = run_cli("manifest", "diff", a, a, "--exit-code")
    assert r.code == 0
    r = run_cli("manifest", "diff", a, b)
    assert r.code == 0
    assert "artifacts:" in r.stdout
    assert "~ example-inference-service" not in r.stdout
    assert "+ new.img" in r.stdout
    r = run_cli("manifest", "diff", a, b, "--exit-code")
    assert r.code == ExitCode.VERIFICATION_FAILED
    r = run_cli("manifest", "diff", a, b, "--json")
    assert r.code == 0
    doc = json.loads(r.stdout)
    assert set(doc["sections"]) >= {"release", "artifacts", "measurements"}


def test_cli_diff_bad_input_is_2(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    a = _write(tmp_path, "a.json", example_statement())
    bad = tmp_path / "bad.json"
    bad.write_text('{"_type": 1, "_type": 2}', encoding="utf-8")
    r = run_cli("manifest", "diff", a, bad, "--exit-code")
    assert r.code == ExitCode.BAD_INPUT
    assert "duplicate JSON key" in r.stderr
    r = run_cli("manifest", "diff", a, tmp_path / "missing.json")
    assert r.code == ExitCode.BAD_INPUT
    assert "not found" in r.stderr


def test_cli_show_table(run_cli: Callable[..., Any]) -> None:
    r = run_cli("manifest", "show", RELEASE)
    assert r.code == 0
    for needle in (
        "Release",
        "example-inference-service",
        "SEV-SNP launch measurements",
        "TDX measurements",
        "RTMR3",
        "Declared SEV-SNP platform values",
        "Declared TDX platform values",
        "MRSEAM",
        "all-MiniLM-L6-v2",
        "Provenance",
        "input ovmf",
    ):
        assert needle in r.stdout, needle
    assert r.stderr == ""


def test_cli_show_json(run_cli: Callable[..., Any]) -> None:
    r = run_cli("manifest", "show", RELEASE, "--json")
    assert r.code == 0
    doc = json.loads(r.stdout)
    assert doc["statement"] == json.loads(RELEASE.read_bytes())
    assert doc["fromBundle"] is False
    assert doc["signatureVerified"] is False
    assert doc["canonical"] is True
    assert doc["unrecognized"] == []


def test_cli_show_notes_non_canonical_and_unknown(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    doc = example_statement()
    doc["predicate"]["x-extra"] = 1
    path = tmp_path / "pretty.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    r = run_cli("manifest", "show", path)
    assert r.code == 0
    assert "not in canonical form" in r.stderr
    assert "x-extra" in r.stdout


def test_cli_show_other_predicate_names_it(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    doc = example_statement()
    doc["predicateType"] = "https://slsa.dev/provenance/v1"
    path = _write(tmp_path, "slsa.json", doc)
    r = run_cli("manifest", "show", path)
    assert r.code == ExitCode.BAD_INPUT
    assert "https://slsa.dev/provenance/v1" in r.stderr


def test_cli_show_bundle(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    signing = pytest.importorskip("refkit.manifests.signing.sign")
    keys = pytest.importorskip("refkit.manifests.signing.keys")
    key = keys.generate(keys.KeyType.ED25519)
    bundle = signing.sign_manifest(RELEASE.read_bytes(), source="release.json", key=key)
    path = tmp_path / "release.bundle.json"
    path.write_bytes(bundle)
    r = run_cli("manifest", "show", path)
    assert r.code == 0, r.stderr
    assert "NOT verified" in r.stderr
    assert "example-inference-service" in r.stdout
    r = run_cli("manifest", "show", path, "--json")
    doc = json.loads(r.stdout)
    assert doc["fromBundle"] is True
    assert doc["signatureVerified"] is False
    assert doc["statement"] == json.loads(RELEASE.read_bytes())
    r = run_cli("manifest", "diff", path, RELEASE, "--exit-code")
    assert r.code == 0
