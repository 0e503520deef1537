"""Recipes: the published schema, named builders, params, dependencies and cycles."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.builders.api import Builder
from refkit.builders.recipe import (
    ArtifactRef,
    FileRef,
    LockRef,
    Recipe,
    check_lock_names,
    load_recipe,
    parse_recipe,
    recipe_schema,
    source_date_epoch,
)
from refkit.errors import InputError, ParseError
from tests.builders_support import CatBuilder, TreeBuilder, registry
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug

BUILDERS = registry(CatBuilder(), TreeBuilder())

GOOD = """\
version: 1
source_date_epoch: 1700000000
lock: inputs.lock.json
artifacts:
  image:
    builder: cat
    inputs: {rootfs: {artifact: rootfs}, config: {file: images/demo/config.json}}
    params: {label: demo}
  rootfs:
    builder: tree
    inputs:
      packages: {lock: [libc6, python3.11-minimal]}
      ovmf: {lock: ovmf, member: usr/share/ovmf/OVMF.fd}
"""


def parse(text: str | bytes, builders: Mapping[str, Builder] | None = BUILDERS) -> Recipe:
    return parse_recipe(text, source="r.yaml", directory=Path("/repo/images"), builders=builders)


def test_the_published_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(dict(recipe_schema()))


def test_a_recipe_reads_into_refs_and_orders_dependencies_first() -> None:
    recipe = parse(GOOD)
    assert [a.name for a in recipe.order()] == ["rootfs", "image"]
    image = recipe.artifacts["image"]
    assert image.inputs == {
        "config": FileRef("images/demo/config.json"),
        "rootfs": ArtifactRef("rootfs"),
    }
    rootfs = recipe.artifacts["rootfs"]
    assert rootfs.inputs["packages"] == LockRef(("libc6", "python3.11-minimal"), None, True)
    assert rootfs.inputs["ovmf"] == LockRef(("ovmf",), "usr/share/ovmf/OVMF.fd", False)
    assert recipe.lock == Path("/repo/images/inputs.lock.json")
    assert recipe.lock_names() == ("libc6", "ovmf", "python3.11-minimal")
    assert recipe.source_date_epoch == 1700000000


def test_order_is_by_name_among_independent_artifacts() -> None:
    text = "version: 1\nartifacts:\n" + "".join(
        f"  {n}: {{builder: cat}}\n" for n in ("zeta", "alpha", "mid")
    )
    assert [a.name for a in parse(text).order()] == ["alpha", "mid", "zeta"]


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("version: 2\nartifacts: {a: {builder: cat}}\n", "$.version", "1 was expected"),
        (
            "version: 1\nartifacts: {a: {builder: nope}}\n",
            "$.artifacts.a.builder",
            "unknown builder 'nope'",
        ),
        (
            "version: 1\nartifacts: {a: {builder: cat, params: {label: 3}}}\n",
            "$.artifacts.a.params.label",
            "builder cat",
        ),
        (
            "version: 1\nartifacts: {a: {builder: cat, params: {other: 1}}}\n",
            "$.artifacts.a.params",
            "other",
        ),
        (
            "version: 1\nartifacts: {a: {builder: cat, inputs: {x: {artifact: b}}}}\n",
            "$.artifacts.a.inputs.x.artifact",
            "no artifact named 'b'",
        ),
        (
            "version: 1\nartifacts: {a: {builder: cat, inputs: {x: {file: /etc/passwd}}}}\n",
            "$.artifacts.a.inputs.x.file",
            "relative path",
        ),
        (
            "version: 1\nartifacts: {a: {builder: cat, inputs: {x: {file: a/../../b}}}}\n",
            "$.artifacts.a.inputs.x.file",
            "relative path",
        ),
        (
            "version: 1\nartifacts: {a: {builder: cat, inputs: {x: {lock: [p, q], member: a}}}}\n",
            "$.artifacts.a.inputs.x.member",
            "one pinned input",
        ),
        (
            "version: 1\nartifacts: {a: {builder: cat, inputs: {x: {lock: p, file: q}}}}\n",
            "$.artifacts.a.inputs.x",
            "input is one of",
        ),
        (
            "version: 1\nlock: ../x.json\nartifacts: {a: {builder: cat}}\n",
            "$.lock",
            "relative path",
        ),
        ("version: 1\nartifacts: {a: {builder: cat}}\nextra: 1\n", "$", "extra"),
        ("version: 1\nartifacts: {A!: {builder: cat}}\n", "$.artifacts", "A!"),
        ("version: 1\nartifacts: {}\n", "$.artifacts", "non-empty"),
    ],
)
def test_bad_recipes_are_refused_naming_the_field(text: str, field: str, words: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.location.field == field
    assert words in info.value.message


def test_a_cycle_is_refused_naming_its_artifacts() -> None:
    text = """\
version: 1
artifacts:
  a: {builder: cat, inputs: {x: {artifact: b}}}
  b: {builder: cat, inputs: {x: {artifact: c}}}
  c: {builder: cat, inputs: {x: {artifact: a}}}
  d: {builder: cat}
"""
    with pytest.raises(ParseError, match=r"dependency cycle: a -> b -> c -> a"):
        parse(text)
    with pytest.raises(ParseError, match=r"dependency cycle: s -> s"):
        parse("version: 1\nartifacts: {s: {builder: cat, inputs: {x: {artifact: s}}}}\n")


def test_yaml_tags_and_aliases_are_refused() -> None:
    with pytest.raises(ParseError):
        parse("version: 1\nartifacts: {a: !!python/object {builder: cat}}\n")
    with pytest.raises(ParseError):
        parse("version: 1\nartifacts: {a: &x {builder: cat}, b: *x}\n")


def test_without_a_registry_builder_names_are_not_checked() -> None:
    recipe = parse("version: 1\nartifacts: {a: {builder: not-yet}}\n", builders=None)
    assert recipe.artifacts["a"].builder == "not-yet"


def test_names_missing_from_the_lock_are_refused() -> None:
    recipe = parse(GOOD)
    check_lock_names(recipe, ["libc6", "python3.11-minimal", "ovmf"], "l.json")
    with pytest.raises(ParseError, match=r"'ovmf' is not pinned in the lock l\.json") as info:
        check_lock_names(recipe, ["libc6", "python3.11-minimal"], "l.json")
    assert info.value.location.field == "$.artifacts.rootfs.inputs.ovmf"


def test_source_date_epoch_comes_from_the_recipe_then_the_environment(tmp_path: Path) -> None:
    recipe = parse(GOOD)
    assert source_date_epoch(recipe, {"SOURCE_DATE_EPOCH": "5"}) == 1700000000
    bare = parse_recipe(
        "version: 1\nroot: .\nartifacts: {a: {builder: cat}}\n",
        source="r.yaml",
        directory=tmp_path,
        builders=BUILDERS,
    )
    assert source_date_epoch(bare, {"SOURCE_DATE_EPOCH": "1234"}) == 1234
    with pytest.raises(InputError, match="not a whole number"):
        source_date_epoch(bare, {"SOURCE_DATE_EPOCH": "12.5"})
    with pytest.raises(InputError, match="no source_date_epoch"):
        source_date_epoch(bare, {})  # tmp_path has no git history


def test_load_recipe_finds_the_repository_root_by_git(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    path = tmp_path / "images" / "demo" / "recipe.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("version: 1\nartifacts: {a: {builder: cat}}\n")
    assert load_recipe(path, builders=BUILDERS).root == tmp_path.resolve()
    with pytest.raises(InputError, match="recipe not found"):
        load_recipe(tmp_path / "missing.yaml", builders=BUILDERS)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda t: GOOD[: len(t)] + t))
def test_fuzzed_recipes_parse_or_raise_a_parse_error(data: bytes | str) -> None:
    try:
        parse(data)
    except ParseError as exc:
        assert_not_a_bug(exc)


def test_source_date_epoch_falls_back_to_the_commit_time(tmp_path: Path) -> None:
    import subprocess

    env = {
        "GIT_AUTHOR_NAME": "a",
        "GIT_AUTHOR_EMAIL": "a@example.org",
        "GIT_COMMITTER_NAME": "a",
        "GIT_COMMITTER_EMAIL": "a@example.org",
        "GIT_AUTHOR_DATE": "@1600000000 +0000",
        "GIT_COMMITTER_DATE": "@1650000000 +0200",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, env=env)
    (tmp_path / "recipe.yaml").write_text("version: 1\nartifacts: {a: {builder: cat}}\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "recipe.yaml"], check=True, env=env)
    subprocess.run(["git", "-C", str(tmp_path), "commit", "-qm", "x"], check=True, env=env)
    recipe = load_recipe(tmp_path / "recipe.yaml", builders=BUILDERS)
    # second computation: the committer date given to git above
    assert source_date_epoch(recipe, {}) == 1650000000
