"""Authoring → statement: `refkit manifest example` and `build`, creation time, output files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from refkit.errors import ExitCode, InputError, ParseError
from refkit.manifests.authoring import (
    build_statement,
    choose_created,
    example_yaml,
    unrecognized_fields,
)
from refkit.manifests.canonical import is_canonical
from refkit.manifests.files import write_output
from refkit.manifests.model import SCHEMA_VERSION
from refkit.manifests.model import snp as snp_kind
from refkit.yamlio import load_yaml
from tests.manifest_support import ASSETS, strip_placeholders

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
        ("2026-05-01T00:00:00Z", "2026-01-01T00:00:00Z", "0", "2026-05-01T00:00:00Z", "explicit"),
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
        # issue 11: these were exit 4 (year out of range; isdigit() takes superscripts
        # and other scripts' digits)
        (None, "999999999999", "before the year 10000"),
        (None, "\u00b2", "ASCII"),
        (None, "\u0661\u0662", "ASCII"),
        (None, "1_0", "ASCII"),
        ("2026-05-01", None, "RFC 3339"),
    ],
)
def test_created_refusals(option: str | None, env: str | None, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        choose_created(option=option, document=None, source_date_epoch=env)


def test_unrecognized_fields_are_reported_in_authoring_terms() -> None:
    doc = _doc()
    doc["declard"] = {}
    doc["release"]["source"]["branch"] = "main"
    doc["subjects"][0]["sha"] = "x"
    statement = build_statement(doc, source="t", created=None, refkit_version="0.1.0")
    paths = unrecognized_fields(statement)
    assert "$.declard" in paths
    assert "$.release.source.branch" in paths
    assert any(p.startswith("$.subjects[") and p.endswith(".sha") for p in paths)


def test_kind_given_twice_is_refused() -> None:
    doc = _doc()
    doc["subjects"][0]["annotations"] = {"kind": "other"}
    with pytest.raises(InputError, match="kind once"):
        build_statement(doc, source="t", created=None, refkit_version="0.1.0")


def test_example_template_builds_once_placeholders_are_replaced() -> None:
    text = example_yaml()
    assert text.startswith("# refkit reference manifest")
    assert "DOMAIN.md" not in text  # not in the repository (issue 11)
    document = strip_placeholders(load_yaml(text, source="example"))
    statement = build_statement(document, source="example", created=None, refkit_version="0")
    assert statement.predicate.reference_values.of(snp_kind.KIND)
    assert statement.predicate.schema_version == SCHEMA_VERSION


def test_example_template_is_refused_naming_every_placeholder() -> None:
    """Issue 11: the template's fake values built, signed and showed VERIFIED."""
    document = load_yaml(example_yaml(), source="example")
    with pytest.raises(InputError) as info:
        build_statement(document, source="release.yaml", created=None, refkit_version="0")
    message = str(info.value)
    for path in (
        "subjects[0]",
        "subjects[4]",
        "release.source",
        "referenceValues.snp[0]",
        "referenceValues.snp[1]",
        "referenceValues.tdx[0]",
        "referenceValues.gpu[0]",
        "declared.tdx[0]",
        "models[0]",
        "provenance.inputs[0]",
    ):
        assert path in message
    assert "17 placeholder value(s)" in message


def test_yaml_errors_name_yaml_paths() -> None:
    """Issue 11: errors named $.predicate... paths the YAML file does not have."""
    doc = _doc()
    doc["release"]["version"] = "not a token!"
    with pytest.raises(ParseError) as info:
        build_statement(doc, source="r.yaml", created=None, refkit_version="0")
    assert info.value.location.field == "release.version"
    doc = _doc()
    doc["referenceValues"]["snp"][0]["measurement"] = "ab"
    with pytest.raises(ParseError) as info:
        build_statement(doc, source="r.yaml", created=None, refkit_version="0")
    assert info.value.location.field == "referenceValues.snp[0].measurement"
    doc = _doc()
    doc["subjects"][1]["kind"] = "nonsense"
    with pytest.raises(ParseError) as info:
        build_statement(doc, source="r.yaml", created=None, refkit_version="0")
    assert info.value.location.field == "subjects[1].kind"


def test_build_writes_the_current_schema_version_and_reads_the_old_forms() -> None:
    """A 1.0 authoring document (RTMR list, declared.tdx object) builds as 1.1."""
    statement = build_statement(_doc(), source="t", created=None, refkit_version="0.1.0")
    pred = statement.to_json()["predicate"]
    assert pred["schemaVersion"] == SCHEMA_VERSION
    assert set(pred["referenceValues"]["tdx"][0]["rtmrs"]) == {"0", "1", "2", "3"}
    assert isinstance(pred["declared"]["tdx"], list)


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
    assert r.code == ExitCode.BAD_INPUT  # placeholders, all named at once
    assert "17 placeholder value(s)" in r.stderr
    assert not out.exists()
    yml.write_text(
        yaml.safe_dump(strip_placeholders(load_yaml(yml.read_bytes(), source="y"))),
        encoding="utf-8",
    )
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
    # YAML paths, not statement paths (behaviour change, issue 11)
    assert "r.yaml, referenceValues.snp[0].measurement" in r.stderr
    assert "$.predicate" not in r.stderr
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


def test_cli_build_huge_integer_is_bad_input(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    """Issue 11: a 5,000-digit hex integer crashed (exit 4) while formatting the error."""
    text = RELEASE_YAML.read_text(encoding="utf-8")
    assert "guestFeatures: 0x1" in text
    path = tmp_path / "r.yaml"
    path.write_text(text.replace("guestFeatures: 0x1", "guestFeatures: 0x" + "f" * 5000, 1))
    r = run_cli("manifest", "build", path, "-o", tmp_path / "o.json")
    assert r.code == ExitCode.BAD_INPUT, r.stderr
    assert "an integer of about 6021 digits is out of range" in r.stderr
    assert "referenceValues.snp[0].guestFeatures" in r.stderr


def test_placeholder_subjects_never_collide_with_measured_ones() -> None:
    """Issue 11: `--add-snp` subjects collided with the template's, one error at a time."""
    document = load_yaml(example_yaml(), source="example")
    names = {s["name"] for s in document["subjects"]}
    # what `refkit measure snp --json` names its inputs: basenames, never with a "/"
    assert all(name.startswith("placeholder/") for name in names)
