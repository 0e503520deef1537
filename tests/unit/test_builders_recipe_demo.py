"""The repository's demo recipe: it parses, uses every builder, and its lock pins real bytes."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from refkit.builders.api import load_builders
from refkit.builders.rebuild import _mirror_resolver, rebuild
from refkit.builders.recipe import check_lock_names, load_recipe, parse_recipe
from refkit.inputs.lock import load_lock
from tests.builders_support import TreeBuilder, registry
from tests.shared import PROJECT_ROOT, shared_input

DEMO = PROJECT_ROOT / "images" / "demo" / "recipe.yaml"
EVERY_BUILDER = {"rootfs", "oci", "initrd", "uki", "erofs", "verity", "nix"}


def test_the_demo_recipe_parses_and_uses_every_builder() -> None:
    recipe = load_recipe(DEMO, builders=None)
    used = {a.builder for a in recipe.artifacts.values()}
    assert used >= EVERY_BUILDER
    assert recipe.root == PROJECT_ROOT
    assert recipe.lock is not None
    lock = load_lock(recipe.lock)
    check_lock_names(recipe, [item.name for item in lock.inputs], lock.source)
    for art in recipe.artifacts.values():
        for ref in art.inputs.values():
            path = getattr(ref, "path", None)
            if path is not None:
                assert (PROJECT_ROOT / path).exists(), path
    assert recipe.artifacts["nix-hello"].optional  # nix is not everywhere


def test_the_demo_params_satisfy_the_registered_builders() -> None:
    builders = load_builders()
    missing = EVERY_BUILDER - set(builders)
    if missing:
        pytest.skip(f"builders not in this checkout yet: {', '.join(sorted(missing))}")
    load_recipe(DEMO, builders=builders)


def test_the_demo_lock_pins_the_bytes_of_the_shared_mirror() -> None:
    # Independent source: ../shared/inputs/SHA256SUMS, written when the mirror was made.
    sums = {}
    for line in shared_input("SHA256SUMS").read_text().splitlines():
        digest, _, name = line.partition("  ")
        # The mirror keeps the archive's names, epoch included ("1%3a"); a lock's file
        # name is the pool's, without it.
        base = re.sub(r"_[0-9]+%3a", "_", Path(name).name)
        sums[base] = digest
    lock = load_lock(PROJECT_ROOT / "images" / "demo" / "images.lock.json")
    for item in lock.packages:
        assert sums.get(item.filename) == item.sha256, item.filename


def test_a_member_of_a_real_package_is_extracted_for_the_builder(tmp_path: Path) -> None:
    lock_path = PROJECT_ROOT / "images" / "demo" / "inputs.lock.json"
    lock = load_lock(lock_path)
    ovmf = next(item for item in lock.packages if item.name == "ovmf-amdsev")
    member = ovmf.extract[0]
    mirror = shared_input("sid")
    text = f"""\
version: 1
artifacts:
  fw: {{builder: tree, inputs: {{ovmf: {{lock: ovmf-amdsev, member: {member.path}}}}}}}
"""
    tree = TreeBuilder()
    recipe = parse_recipe(text, source="r", directory=tmp_path, builders=registry(tree))
    result = rebuild(
        recipe,
        builders=registry(tree),
        outdir=tmp_path / "out",
        source_date_epoch=1700000000,
        cache_dir=tmp_path / "cache",
        lock=lock,
        resolver=_mirror_resolver([mirror], offline=True),
    )
    # The lock's extracted digest was computed with dpkg-deb -x and sha256sum
    # (images/demo/README.md): a second, independent extraction.
    written = (tmp_path / "out" / "fw" / "sub" / "ovmf").read_text().strip()
    assert written == member.sha256
    link = result.artifacts[0].link
    assert link is not None
    materials = json.loads(link.read_text())["signed"]["materials"]
    assert materials == {f"ovmf/{member.path}": {"sha256": member.sha256}}
    assert hashlib.sha256(b"").hexdigest() not in materials.values()
