"""Authoring → statement: `refkit manifest example` and `build`, creation time, output files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from refkit.errors import ExitCode, InputError
from refkit.manifests.authoring import (
    build_statement,
    choose_created,
    example_yaml,
    unrecognized_fields,
)
from refkit.manifests.canonical import is_canonical
from refkit.manifests.files import write_output
from refkit.yamlio import load_yaml
from tests.manifest_support import ASSETS

RELEASE_YAML = ASSETS / "release.yaml"


def _doc() -> Any:
    return load_yaml(RELEASE_YAML.read_bytes(), source="release.yaml")


def _build(doc: Any, created: str | None = None) -> bytes:
    return build_statement(
        doc, source="t.yaml", created=created, refkit_version="0.1.0"
    ).canonical_bytes()


def test_golden_build() -> None:
    assert _build(_doc()) == (ASSETS / "release.json").read_bytes()


def test_order_of_lists_does_not_change_the_bytes() -> None:
    doc = _doc()
    shuffled = _doc()
    shuffled["subjects"].reverse()
    shuffled["referenceValues"]["snp"].reverse()
    shuffled["declared"]["tdx"]["mrSeams"] = [*doc["declared"]["tdx"]["mrSeams"]] * 2
    shuffled["referenceValues"]["gpu"][0]["driverVersions"] = ["550.90.07", "550.90.07"]
    assert _build(shuffled) == _build(doc)


def test_key_order_and_comments_do_not_change_the_bytes() -> None:
    doc = _doc()
    text = yaml.safe_dump(doc, sort_keys=True)
    again = load_yaml("# a comment\n" + text, source="again.yaml")
    assert _build(again) == _build(doc)


@pytest.mark.parametrize(
    ("option", "document", "env", "expect", "origin"),
    [
        ("2026-05-01T00:00:00Z", "2026-01-01T00:00:00Z", "0", "2026-05-01T00:00:00Z", "--created"),
        (None, "2026-01-01T00:00:00Z", "0", "2026-01-01T00:00:00Z", "release.created"),
        (None, None, "1700000000", "2023-11-14T22:13:20Z", "SOURCE_DATE_EPOCH"),
        (None, None, " 0 ", "1970-01-01T00:00:00Z", "SOURCE_DATE_EPOCH"),
    ],
)
def test_created_precedence(
    option: str | None, document: str | None, env: str, expect: str, origin: str
) -> None:
    assert choose_created(option=option, document=document, source_date_epoch=env) == (
        expect,
        origin,
    )


@pytest.mark.parametrize(
    ("option", "env", "needle"),
    [
        (None, None, "no release creation time"),
        (None, "yesterday", "SOURCE_DATE_EPOCH"),
        (None, "-5", "SOURCE_DATE_EPOCH"),
        ("2026-05-01", None, "RFC 3339"),
    ],
)
def test_created_refusals(option: str | None, env: str | None, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        choose_created(option=option, document=None, source_date_epoch=env)


def test_unrecognized_fields_are_reported_in_authoring_terms() -> None:
    doc = _doc()
    doc["declard"] = {}
    doc["referenceValues"]["snp"][0]["shape"]["memoryMB"] = 1
    doc["subjects"][0]["sha"] = "x"
    statement = build_statement(doc, source="t", created=None, refkit_version="0.1.0")
    paths = unrecognized_fields(statement)
    assert "$.declard" in paths
    assert "$.referenceValues.snp[0].shape.memoryMB" in paths
    assert any(p.startswith("$.subjects[") and p.endswith(".sha") for p in paths)


def test_kind_given_twice_is_refused() -> None:
    doc = _doc()
    doc["subjects"][0]["annotations"] = {"kind": "other"}
    with pytest.raises(InputError, match="kind once"):
        build_statement(doc, source="t", created=None, refkit_version="0.1.0")


def test_example_template_builds_and_matches_golden_input() -> None:
    text = example_yaml()
    statement = build_statement(
        load_yaml(text, source="example"), source="example", created=None, refkit_version="0"
    )
    assert statement.predicate.reference_values.snp
    assert text.startswith("# refkit reference manifest")


# ----------------------------------------------------------------------------- files


def test_write_output_never_clobbers(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_output(target, b"one")
    with pytest.raises(InputError, match="exists"):
        write_output(target, b"two")
    assert target.read_bytes() == b"one"
    write_output(target, b"two", force=True)
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temp files left


def test_write_output_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        write_output(tmp_path / "missing" / "x.json", b"")
    with pytest.raises(InputError, match="directory"):
        write_output(tmp_path, b"")


# ----------------------------------------------------------------------------- CLI


def test_cli_example_then_build(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    yml = tmp_path / "release.yaml"
    r = run_cli("manifest", "example", "-o", yml)
    assert r.code == 0
    assert "refkit manifest build" in r.stderr
    out = tmp_path / "release.json"
    r = run_cli("manifest", "build", yml, "-o", out)
    assert r.code == 0, r.stderr
    assert is_canonical(out.read_bytes(), source="out")
    assert r.stdout == ""
    # again: refuses to overwrite, keeps the file
    before = out.read_bytes()
    r = run_cli("manifest", "build", yml, "-o", out)
    assert r.code == ExitCode.BAD_INPUT
    assert "exists" in r.stderr
    assert "--force" in r.stderr
    assert out.read_bytes() == before
    r = run_cli("manifest", "example", "-o", yml)
    assert r.code == ExitCode.BAD_INPUT


def test_cli_example_to_stdout(run_cli: Callable[..., Any]) -> None:
    r = run_cli("manifest", "example")
    assert r.code == 0
    assert r.stdout == example_yaml()


def test_cli_build_created_sources(
    tmp_path: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _doc()
    del doc["release"]["created"]
    yml = tmp_path / "r.yaml"
    yml.write_text(yaml.safe_dump(doc), encoding="utf-8")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    r = run_cli("manifest", "build", yml, "-o", tmp_path / "a.json")
    assert r.code == ExitCode.BAD_INPUT
    assert "no release creation time" in r.stderr
    assert not (tmp_path / "a.json").exists()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    r = run_cli("manifest", "build", yml, "-o", tmp_path / "b.json", "--json")
    assert r.code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["created"] == "2026-01-01T00:00:00Z"
    assert summary["createdFrom"] == "SOURCE_DATE_EPOCH"
    r = run_cli(
        "manifest", "build", yml, "-o", tmp_path / "c.json", "--created", "2026-02-02T00:00:00Z"
    )
    assert r.code == 0
    c = json.loads((tmp_path / "c.json").read_bytes())
    assert c["predicate"]["release"]["created"] == "2026-02-02T00:00:00Z"


def test_cli_build_bad_yaml_is_exit_2(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    cases = {
        "anchor.yaml": "release: &r {}\n",
        "dup.yaml": "release: {}\nrelease: {}\n",
        "tag.yaml": "release: !!python/name:os.system {}\n",
        "list.yaml": "- 1\n",
        "bad.yaml": "release: [\n",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        r = run_cli("manifest", "build", path, "-o", tmp_path / "out.json")
        assert r.code == ExitCode.BAD_INPUT, (name, r.stderr)
        assert name in r.stderr
        assert "Traceback" not in r.stderr
    r = run_cli("manifest", "build", tmp_path / "missing.yaml", "-o", tmp_path / "o.json")
    assert r.code == ExitCode.BAD_INPUT
    assert not (tmp_path / "out.json").exists()


def test_cli_build_invalid_value_names_the_field(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    doc = _doc()
    doc["referenceValues"]["snp"][0]["measurement"] = "AB" * 48
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    r = run_cli("manifest", "build", path, "-o", tmp_path / "o.json")
    assert r.code == ExitCode.BAD_INPUT
    assert "$.predicate.referenceValues.snp[0].measurement" in r.stderr
    assert "lower case" in r.stderr


def test_cli_build_unquoted_hex_gets_a_hint(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    text = RELEASE_YAML.read_text(encoding="utf-8").replace(
        '"0123456789abcdef0123456789abcdef01234567"', "1234567890123456789012345678901234567890"
    )
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    r = run_cli("manifest", "build", path, "-o", tmp_path / "o.json")
    assert r.code == ExitCode.BAD_INPUT
    assert "quote it" in r.stderr


def test_cli_build_unknown_fields(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    doc = _doc()
    doc["declard"] = {"x": 1}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    r = run_cli("manifest", "build", path, "-o", tmp_path / "o.json")
    assert r.code == 0
    assert "$.declard" in r.stderr
    r = run_cli("manifest", "build", path, "-o", tmp_path / "p.json", "--strict")
    assert r.code == ExitCode.BAD_INPUT
    assert not (tmp_path / "p.json").exists()


def test_cli_build_to_stdout(run_cli: Callable[..., Any]) -> None:
    r = run_cli("manifest", "build", RELEASE_YAML, "-o", "-")
    assert r.code == 0
    assert r.stdout.encode() == (ASSETS / "release.json").read_bytes()
    r = run_cli("manifest", "build", RELEASE_YAML, "-o", "-", "--json")
    assert r.code == ExitCode.BAD_INPUT


def test_cli_build_output_dir_missing(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    r = run_cli("manifest", "build", RELEASE_YAML, "-o", tmp_path / "no" / "o.json")
    assert r.code == ExitCode.BAD_INPUT
    assert "does not exist" in r.stderr
    assert os.listdir(tmp_path) == []
