"""Rebuild orchestration with fake builders: order, cache, placement, lock, provenance."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from refkit.builders.api import BuildContext, Built
from refkit.builders.rebuild import (
    Event,
    OutputLocked,
    RebuildResult,
    _mirror_resolver,
    output_lock,
    rebuild,
    tree_manifest,
)
from refkit.builders.recipe import Recipe, load_recipe, parse_recipe
from refkit.errors import ExitCode, ParseError
from refkit.inputs.lock import DebianPackage, Lock
from tests.builders_support import CatBuilder, TreeBuilder, registry, write

SDE = 1700000000

RECIPE = """\
version: 1
source_date_epoch: 1700000000
artifacts:
  base:
    builder: tree
    inputs: {conf: {file: conf}, pkgs: {lock: [alpha, beta]}}
  image:
    builder: cat
    inputs: {base: {artifact: base}, note: {file: note.txt}, one: {lock: alpha}}
    params: {label: demo}
  other:
    builder: cat
    inputs: {note: {file: note.txt}}
"""


def _package(name: str, data: bytes) -> DebianPackage:
    return DebianPackage(
        name=name,
        version="1.0-1",
        architecture="amd64",
        suite="trixie",
        component="main",
        source=name,
        filename=f"{name}_1.0-1_amd64.deb",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        extract=(),
    )


class Env:
    def __init__(self, tmp: Path, recipe_text: str = RECIPE) -> None:
        self.repo = tmp / "repo"
        write(self.repo / "note.txt", "hello\n")
        write(self.repo / "conf" / "a.conf", "a=1\n")
        self.recipe_text = recipe_text
        self.mirror = tmp / "mirror"
        self.blobs = {"alpha": b"alpha bytes", "beta": b"beta bytes"}
        for name, data in self.blobs.items():
            write(self.mirror / f"{name}.bin", data.decode())
        self.lock = Lock(tuple(_package(n, d) for n, d in self.blobs.items()), source="l.json")
        self.cat = CatBuilder()
        self.tree = TreeBuilder()
        self.outdir = tmp / "out"
        self.cache = tmp / "cache"
        self.resolved: list[str] = []
        self.events: list[Event] = []

    def recipe(self) -> Recipe:
        return parse_recipe(
            self.recipe_text,
            source="recipe.yaml",
            directory=self.repo,
            builders=registry(self.cat, self.tree),
        )

    def resolver(self, item: DebianPackage) -> Path:
        self.resolved.append(item.name)
        return _mirror_resolver([self.mirror], offline=True)(item)

    def run(self, **kwargs: object) -> RebuildResult:
        recipe = self.recipe()
        object.__setattr__(recipe, "root", self.repo)
        args: dict[str, object] = {
            "builders": registry(self.cat, self.tree),
            "outdir": self.outdir,
            "source_date_epoch": SDE,
            "cache_dir": self.cache,
            "lock": self.lock,
            "resolver": self.resolver,
            "progress": self.events.append,
        }
        args.update(kwargs)
        return rebuild(recipe, **args)  # type: ignore[arg-type]


def test_cold_then_warm_builds_once_and_gives_the_same_bytes(tmp_path: Path) -> None:
    env = Env(tmp_path)
    cold = env.run()
    assert [a.name for a in cold.artifacts] == ["base", "image", "other"]
    assert not any(a.cached for a in cold.artifacts)
    assert sorted(env.cat.calls) == ["image", "other"]
    assert env.tree.calls == ["base"]
    image = (env.outdir / "image").read_bytes()
    # second computation: the digest the result reports is the sha256 of the placed file
    assert cold.artifacts[1].sha256 == hashlib.sha256(image).hexdigest()
    assert (
        cold.artifacts[0].sha256 == hashlib.sha256(tree_manifest(env.outdir / "base")).hexdigest()
    )
    assert (env.outdir / "base" / "link").is_symlink()
    env.resolved.clear()
    warm = env.run()
    assert all(a.cached for a in warm.artifacts)
    assert sorted(env.cat.calls) == ["image", "other"]  # no builder ran again
    assert env.resolved == []  # no pinned input was read for cached work
    assert [a.sha256 for a in warm.artifacts] == [a.sha256 for a in cold.artifacts]
    assert (env.outdir / "image").read_bytes() == image


def test_a_list_of_pins_is_a_directory_and_one_pin_is_the_file(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.run()
    text = (env.outdir / "image").read_bytes()
    assert b"one:alpha bytes\n" in text  # the single pin: the pinned bytes themselves
    listing = (env.outdir / "base" / "sub" / "pkgs").read_text().strip()
    # the list: a directory of the pinned files under their archive file names
    expected = hashlib.sha256(
        b"alpha_1.0-1_amd64.deb\0alpha bytesbeta_1.0-1_amd64.deb\0beta bytes"
    ).hexdigest()
    assert listing == expected


def test_a_changed_input_rebuilds_it_and_its_dependents_only(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.run()
    env.cat.calls.clear()
    env.tree.calls.clear()
    write(env.repo / "conf" / "a.conf", "a=2\n")
    result = env.run()
    assert env.tree.calls == ["base"]
    assert env.cat.calls == ["image"]
    assert [a.cached for a in result.artifacts] == [False, False, True]


def test_a_new_builder_version_params_or_epoch_miss_the_cache(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.run()
    env.cat.calls.clear()
    env.cat.version = "2"
    env.run()
    assert sorted(env.cat.calls) == ["image", "other"]
    env.cat.calls.clear()
    env.run(source_date_epoch=SDE + 1)
    assert sorted(env.cat.calls) == ["image", "other"]
    env.cat.calls.clear()
    env.recipe_text = RECIPE.replace("label: demo", "label: changed")
    env.run()
    assert env.cat.calls == ["image"]


def test_links_record_materials_and_products(tmp_path: Path) -> None:
    env = Env(tmp_path)
    result = env.run()
    image = result.artifacts[1]
    assert image.link is not None
    doc = json.loads(image.link.read_text())
    assert image.link == env.outdir / "provenance" / "image.link"
    signed = doc["signed"]
    assert signed["_type"] == "link"
    assert signed["name"] == "image"
    assert signed["products"] == {
        "image": {"sha256": hashlib.sha256((env.outdir / "image").read_bytes()).hexdigest()}
    }
    assert signed["materials"]["note"] == {"sha256": hashlib.sha256(b"hello\n").hexdigest()}
    assert signed["materials"]["one/alpha_1.0-1_amd64.deb"] == {
        "sha256": hashlib.sha256(b"alpha bytes").hexdigest()
    }
    assert "base/sub/conf" in signed["materials"]
    assert signed["command"] == ["refkit-builder", "cat", "1", '{"label":"demo"}']
    assert signed["environment"]["SOURCE_DATE_EPOCH"] == str(SDE)
    assert signed["byproducts"] == {"facts": {"length": len((env.outdir / "image").read_bytes())}}


def test_a_signed_link_verifies_with_in_toto(tmp_path: Path) -> None:
    from in_toto.models.metadata import Metablock
    from securesystemslib.signer import CryptoSigner  # type: ignore[attr-defined]

    from refkit.manifests.signing.keys import KeyType, generate

    key = generate(KeyType.ED25519)
    env = Env(tmp_path)
    result = env.run(key=key)
    public = CryptoSigner(key.key).public_key
    key_dict = {**public.to_dict(), "keyid": public.keyid}
    link = result.artifacts[0].link
    assert link is not None
    assert link.name == f"base.{public.keyid[:8]}.link"
    block = Metablock.load(str(link))
    block.verify_signature(key_dict)  # raises if the signature does not verify
    tampered = json.loads(link.read_text())
    tampered["signed"]["products"] = {}
    link.write_text(json.dumps(tampered))
    with pytest.raises(Exception, match=r"(?i)signature"):
        Metablock.load(str(link)).verify_signature(key_dict)


def test_an_interrupted_build_leaves_nothing_under_final_names_and_resumes(tmp_path: Path) -> None:
    env = Env(tmp_path, RECIPE.replace("label: demo", "label: demo, fail: true"))
    with pytest.raises(KeyboardInterrupt):
        env.run()
    assert not (env.outdir / "image").exists()
    assert (env.outdir / "base").is_dir()  # built before the interruption
    assert [p.name for p in env.cache.iterdir() if p.name.startswith(".tmp")] == []
    assert not [p for p in env.outdir.iterdir() if p.name.endswith(".tmp")]
    env.tree.calls.clear()
    env.recipe_text = RECIPE
    result = env.run()
    assert env.tree.calls == []
    assert result.artifacts[0].cached


def test_a_stale_temporary_build_directory_is_swept(tmp_path: Path) -> None:
    env = Env(tmp_path)
    stale = env.cache / ".tmp-999999999-abc"
    (stale / "out").mkdir(parents=True)
    env.run()
    assert not stale.exists()


def test_a_second_rebuild_into_a_locked_folder_fails_clearly(tmp_path: Path) -> None:
    env = Env(tmp_path)
    with (
        output_lock(env.outdir),
        pytest.raises(OutputLocked, match="another rebuild is writing into") as info,
    ):
        env.run()
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert env.cat.calls == []
    assert not (env.outdir / "image").exists()
    env.run()  # released


def test_outputs_replace_what_is_there_and_keep_it_when_equal(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.run()
    (env.outdir / "image").write_bytes(b"tampered")
    (env.outdir / "base" / "sub" / "conf").write_text("tampered")
    result = env.run()
    assert all(a.cached for a in result.artifacts)
    assert (
        hashlib.sha256((env.outdir / "image").read_bytes()).hexdigest()
        == result.artifacts[1].sha256
    )
    assert (env.outdir / "base" / "sub" / "conf").read_text() != "tampered"
    assert not [
        p
        for p in env.outdir.iterdir()
        if p.name.startswith(".") and p.name != ".refkit-rebuild.lock"
    ]


def test_a_pin_missing_from_the_mirror_is_an_environment_problem(tmp_path: Path) -> None:
    env = Env(tmp_path)
    (env.mirror / "beta.bin").unlink()
    from refkit.inputs.errors import MissingInputs

    with pytest.raises(MissingInputs, match=r"pinned input not available: beta 1\.0-1") as info:
        env.run()
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert "beta_1.0-1_amd64.deb" in (info.value.hint or "")


def test_a_name_the_lock_does_not_pin_is_refused(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.lock = Lock(env.lock.inputs[:1], source="l.json")
    with pytest.raises(ParseError, match="'beta' is not pinned"):
        env.run()


def test_a_repository_input_may_not_lead_outside_through_a_symlink(tmp_path: Path) -> None:
    env = Env(tmp_path)
    (env.repo / "note.txt").unlink()
    outside = write(tmp_path / "secret.txt", "x")
    (env.repo / "note.txt").symlink_to(outside)
    with pytest.raises(Exception, match="outside the repository"):
        env.run()


def test_progress_reports_every_artifact(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.run()
    done = [e for e in env.events if e.message.startswith("built sha256:")]
    assert [(e.artifact, e.done, e.total) for e in done] == [
        ("base", 1, 3),
        ("image", 2, 3),
        ("other", 3, 3),
    ]


def test_an_optional_artifact_without_its_tool_is_skipped_with_its_dependents(
    tmp_path: Path,
) -> None:
    from refkit.errors import MissingTool
    from tests.builders_support import NoToolBuilder

    text = """\
version: 1
artifacts:
  n: {builder: notool, optional: true}
  after: {builder: cat, inputs: {x: {artifact: n}}}
  plain: {builder: cat}
"""
    cat, missing = CatBuilder(), NoToolBuilder()
    recipe = parse_recipe(text, source="r", directory=tmp_path, builders=registry(cat, missing))
    result = rebuild(
        recipe,
        builders=registry(cat, missing),
        outdir=tmp_path / "out",
        source_date_epoch=SDE,
        cache_dir=tmp_path / "cache",
    )
    by_name = {a.name: a for a in result.artifacts}
    assert by_name["n"].skipped == "required tool not found: frobnicate"
    assert by_name["after"].skipped == "built from n, which was skipped"
    assert by_name["plain"].skipped is None
    assert cat.calls == ["plain"]
    assert not (tmp_path / "out" / "n").exists()
    assert not (tmp_path / "out" / "after").exists()
    mandatory = parse_recipe(
        text.replace("optional: true", "optional: false"),
        source="r",
        directory=tmp_path,
        builders=registry(cat, missing),
    )
    with pytest.raises(MissingTool):
        rebuild(
            mandatory,
            builders=registry(cat, missing),
            outdir=tmp_path / "out2",
            source_date_epoch=SDE,
            cache_dir=tmp_path / "cache",
        )


def test_a_damaged_cache_entry_is_rebuilt_not_published(tmp_path: Path) -> None:
    env = Env(tmp_path)
    first = env.run()
    (env.outdir / "other").unlink()
    entries = [p for p in env.cache.iterdir() if (p / "out" / "other").exists()]
    assert len(entries) == 1
    (entries[0] / "out" / "other").write_bytes(b"damaged")
    env.cat.calls.clear()
    second = env.run()
    assert env.cat.calls == ["other"]
    assert (env.outdir / "other").read_bytes() != b"damaged"
    assert second.artifacts[2].sha256 == first.artifacts[2].sha256
    assert not second.artifacts[2].cached


def test_relative_cache_and_output_folders_are_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by `make demo` (a relative --cache-dir): the uki builder runs ukify in its
    # private work directory, where a relative path named another place.
    seen: list[Path] = []

    class Recording:
        name: str = "recording"
        version: str = "1"
        params_schema: Mapping[str, Any] = MappingProxyType({"type": "object"})
        tree_output: bool = False

        def build(self, ctx: BuildContext) -> Built:
            seen.extend([ctx.output, ctx.workdir])
            ctx.output.write_bytes(b"x")
            return Built()

    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(
        "version: 1\nsource_date_epoch: 0\nartifacts:\n  a: {builder: recording}\n"
    )
    builders = {"recording": Recording()}
    recipe = load_recipe(recipe_file, builders=builders)
    monkeypatch.chdir(tmp_path)
    rebuild(
        recipe,
        builders=builders,
        outdir=Path("out"),
        source_date_epoch=0,
        cache_dir=Path("cache"),
    )
    assert seen
    assert all(path.is_absolute() for path in seen)
    assert (tmp_path / "out" / "a").read_bytes() == b"x"
