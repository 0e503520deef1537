"""``refkit rebuild``: exit codes, --json, progress on stderr, errors without tracebacks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.builders import api
from refkit.builders.rebuild import output_lock
from tests.builders_support import CatBuilder, TreeBuilder, write

RECIPE = """\
version: 1
source_date_epoch: 1700000000
root: .
artifacts:
  tree: {builder: tree, inputs: {note: {file: note.txt}}}
  file: {builder: cat, inputs: {t: {artifact: tree}}, params: {label: x}}
"""


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> tuple[CatBuilder, TreeBuilder]:
    cat, tree = CatBuilder(), TreeBuilder()
    monkeypatch.setitem(api.BUILDERS, "cat", cat)
    monkeypatch.setitem(api.BUILDERS, "tree", tree)
    return cat, tree


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / "repo" / "note.txt", "hello\n")
    return write(tmp_path / "repo" / "recipe.yaml", RECIPE)


def test_rebuild_prints_every_digest_and_caches(
    run_cli: Callable[..., Any],
    fakes: tuple[CatBuilder, TreeBuilder],
    project: Path,
    tmp_path: Path,
) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = run_cli("rebuild", project, "-o", out, "--cache-dir", cache, "--json")
    assert first.code == 0, first.stderr
    doc = json.loads(first.stdout)
    assert [a["name"] for a in doc["artifacts"]] == ["tree", "file"]
    assert doc["artifacts"][1]["sha256"] == hashlib.sha256((out / "file").read_bytes()).hexdigest()
    assert doc["artifacts"][0]["kind"] == "tree"
    assert not doc["artifacts"][0]["cached"]
    assert "[2/2] file: built sha256:" in first.stderr
    second = run_cli("rebuild", project, "-o", out, "--cache-dir", cache)
    assert second.code == 0
    assert "2 artifacts (0 built, 2 from the cache)" in second.stdout
    assert f"sha256:{doc['artifacts'][1]['sha256']}  cached" in second.stdout
    quiet = run_cli("-q", "rebuild", project, "-o", out, "--cache-dir", cache)
    assert quiet.code == 0
    assert quiet.stderr == ""


def test_bad_recipes_exit_2_without_a_traceback(
    run_cli: Callable[..., Any],
    fakes: tuple[CatBuilder, TreeBuilder],
    project: Path,
    tmp_path: Path,
) -> None:
    project.write_text(RECIPE.replace("builder: cat", "builder: nope"))
    got = run_cli("rebuild", project, "-o", tmp_path / "o", "--cache-dir", tmp_path / "c")
    assert got.code == 2
    assert "unknown builder 'nope'" in got.stderr
    assert "Traceback" not in got.stderr
    got = run_cli("rebuild", tmp_path / "absent.yaml", "-o", tmp_path / "o")
    assert got.code == 2
    assert "recipe not found" in got.stderr


def test_a_locked_output_folder_exits_3_naming_the_flag(
    run_cli: Callable[..., Any],
    fakes: tuple[CatBuilder, TreeBuilder],
    project: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    with output_lock(out):
        got = run_cli("rebuild", project, "-o", out, "--cache-dir", tmp_path / "c")
    assert got.code == 3
    assert "another rebuild is writing into" in got.stderr
    assert "choose another --out directory" in got.stderr


def test_a_signing_key_names_the_link_by_key_id(
    run_cli: Callable[..., Any],
    fakes: tuple[CatBuilder, TreeBuilder],
    project: Path,
    tmp_path: Path,
) -> None:
    from refkit.manifests.signing.keys import KeyType, generate

    key_path = tmp_path / "builder.key"
    key_path.write_bytes(generate(KeyType.ECDSA_P256).pem())
    got = run_cli(
        "rebuild",
        project,
        "-o",
        tmp_path / "o",
        "--cache-dir",
        tmp_path / "c",
        "--key",
        key_path,
        "--json",
    )
    assert got.code == 0, got.stderr
    links = sorted(p.name for p in (tmp_path / "o" / "provenance").iterdir())
    assert len(links) == 2
    assert all(len(n.split(".")) == 3 for n in links)
    assert json.loads((tmp_path / "o" / "provenance" / links[0]).read_text())["signatures"]
