"""The weights records in reference manifests: --add-model and the CycloneDX ML-BOM."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError
from refkit.manifests.measured_models import add_model_record, model_pins
from refkit.weights.digest import digest_model
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug
from tests.weights_support import make_tree

YAML = """\
schemaVersion: "1.1"
release:
  name: demo
  version: 1.0.0
  created: "2026-01-01T00:00:00Z"
  source: {repository: https://example.com/demo, commit: "@COMMIT@"}
referenceValues: {}
subjects:
  - name: vmlinuz
    kind: kernel
    digest: {sha256: "@DIGEST@"}
models:
  - name: tiny
    source: {repository: https://example.com/tiny, revision: abc123}
""".replace("@COMMIT@", "0" * 40).replace("@DIGEST@", "11" * 32)


def _doc() -> dict[str, Any]:
    return {
        "models": [{"name": "tiny", "source": {"repository": "r", "revision": "abc"}}],
        "subjects": [],
    }


def _record(tmp_path: Path, **kw: Any) -> dict[str, Any]:
    root = make_tree(tmp_path / "tiny", {"a": b"a" * 300, "b/c": b"c", ".gitattributes": b"*"})
    record: dict[str, Any] = digest_model(root, **kw).to_json()
    return record


def test_digest_record_fills_the_model(tmp_path: Path) -> None:
    record = _record(tmp_path, shard_size=100, algorithm="blake2")
    out = add_model_record(_doc(), record, source="d.json")
    model = out["models"][0]
    assert model["fileDigestRoot"] == {
        "algorithm": "sha256",
        "digest": record["filesDigest"]["digest"],
        "method": "model-signing-shards",
        "hashType": "blake2b",
        "shardSize": 100,
    }
    assert model["excludedFiles"] == [".git", ".gitattributes", ".github", ".gitignore"]


def _disk(files_digest: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "tiny",
        "filesDigest": files_digest,
        "verityRoot": "ab" * 32,
        "hashOffset": 8192,
        "salt": "00",
        "uuid": "00000000-0000-0000-0000-000000000000",
        "image": "build/tiny.img",
        "imageSha256": "cd" * 32,
        "tools": {"mkfs.erofs": "1.8.6", "veritysetup": "2.6.1"},
        "excludedFiles": [".gitattributes", ".git", ".github", ".gitignore"],
        **extra,
    }


def test_disk_record_binds_to_the_digest_record(tmp_path: Path) -> None:
    record = _record(tmp_path)
    doc = add_model_record(_doc(), record, source="d.json")
    doc = add_model_record(doc, _disk(record["filesDigest"]["digest"]), source="disk.json")
    model = doc["models"][0]
    assert model["verity"]["rootHash"] == "ab" * 32
    assert model["verity"]["hashOffset"] == 8192
    assert model["disk"] == "tiny.img"
    assert doc["subjects"] == [
        {"name": "tiny.img", "kind": "model-disk", "digest": {"sha256": "cd" * 32}}
    ]
    assert model["tools"]["veritysetup"] == "2.6.1"
    # a disk of other files than the ones digested is refused, not merged
    with pytest.raises(InputError, match="already has fileDigestRoot"):
        add_model_record(
            add_model_record(_doc(), record, source="d.json"), _disk("ee" * 32), source="disk"
        )


def test_records_for_undeclared_models_are_refused(tmp_path: Path) -> None:
    record = _record(tmp_path)
    record["model"] = "other"
    with pytest.raises(InputError, match="does not declare"):
        add_model_record(_doc(), record, source="d.json")
    with pytest.raises(InputError, match="no models list"):
        add_model_record({}, _record(tmp_path / "x"), source="d.json")


def test_record_inconsistent_with_its_statement_is_refused(tmp_path: Path) -> None:
    record = _record(tmp_path)
    record["filesDigest"]["digest"] = "00" * 32
    with pytest.raises(ParseError, match="not the subject digest"):
        model_pins(record, source="d.json")
    with pytest.raises(ParseError, match="neither"):
        model_pins({"kind": "something"}, source="x.json")


def test_build_export_end_to_end(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    model = make_tree(tmp_path / "tiny", {"weights.bin": b"w" * 5000, "config.json": b"{}"})
    (tmp_path / "release.yaml").write_text(YAML)
    got = run_cli("weights", "digest", model, "--shard-size", "1K", "--json")
    assert got.code == 0, got.stderr
    (tmp_path / "digest.json").write_text(got.stdout)
    built = run_cli(
        "manifest",
        "build",
        tmp_path / "release.yaml",
        "--add-model",
        tmp_path / "digest.json",
        "-o",
        tmp_path / "release.json",
    )
    assert built.code == 0, built.stderr
    statement = json.loads((tmp_path / "release.json").read_bytes())
    root = statement["predicate"]["models"][0]["fileDigestRoot"]
    assert root["digest"] == json.loads(got.stdout)["filesDigest"]["digest"]
    assert root["shardSize"] == 1000

    bom_path = tmp_path / "bom.json"
    exported = run_cli(
        "manifest", "export", tmp_path / "release.json", "--format", "cyclonedx", "-o", bom_path
    )
    assert exported.code == 0, exported.stderr
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = bom_path.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6"
    (ml,) = [c for c in bom["components"] if c["type"] == "machine-learning-model"]
    props = {p["name"]: p["value"] for p in ml["properties"]}
    assert props["refkit:model:files-digest"] == f"sha256:{root['digest']}"
    assert props["refkit:model:files-shard-size"] == "1000"
    assert ml["version"] == "abc123"
    again = run_cli(
        "manifest", "export", tmp_path / "release.json", "--format", "cyclonedx", "-o", "-"
    )
    assert again.stdout == text  # deterministic: no clock, no random serial number


def test_cyclonedx_of_the_golden_manifest_validates() -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    from refkit.manifests.exports import cyclonedx
    from refkit.manifests.statement import load_statement
    from tests.shared import PROJECT_ROOT

    path = PROJECT_ROOT / "tests" / "assets" / "manifests" / "release.json"
    out = cyclonedx.export(load_statement(path.read_bytes(), source=str(path)))
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out.data.decode()) is None
    bom = json.loads(out.data)
    types = {c["type"] for c in bom["components"]}
    assert {"machine-learning-model", "firmware", "container", "data", "file"} <= types
    assert any("reference values" in w for w in out.warnings)
    # the validator can say no: a BOM with a bad component type is refused
    bom["components"][0]["type"] = "not-a-type"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom)) is not None


def test_schema_accepts_the_new_fields_and_refuses_misuse(tmp_path: Path) -> None:
    from refkit.manifests.model.models import FileDigestRoot
    from refkit.reader import Obj

    ok = FileDigestRoot.parse(
        Obj(
            {
                "algorithm": "sha256",
                "digest": "00" * 32,
                "method": "model-signing-shards",
                "hashType": "blake2b",
                "shardSize": 10,
            },
            source="s",
            path="$",
        )
    )
    assert ok.to_json()["shardSize"] == 10
    with pytest.raises(ParseError, match="only meaningful"):
        FileDigestRoot.parse(
            Obj(
                {
                    "algorithm": "sha256",
                    "digest": "00" * 32,
                    "method": "model-signing-files",
                    "shardSize": 10,
                },
                source="s",
                path="$",
            )
        )
    with pytest.raises(ParseError, match="hash type"):
        FileDigestRoot.parse(
            Obj(
                {"algorithm": "sha256", "digest": "00" * 32, "hashType": "md5"},
                source="s",
                path="$",
            )
        )


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(
    st.sampled_from(["kind", "model", "filesDigest", "statement", "verityRoot", "hashOffset"]),
    _json,
    st.booleans(),
)
def test_fuzz_records(key: str, value: Any, disk: bool) -> None:
    record: dict[str, Any] = (
        _disk("ab" * 32) if disk else {"kind": "model-digest", "model": "tiny", "statement": {}}
    )
    record[key] = value
    try:
        add_model_record(_doc(), record, source="fuzz.json")
    except InputError:
        pass
    except Exception as exc:
        assert_not_a_bug(exc)
        raise
