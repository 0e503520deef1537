"""The demo recipe rebuilt twice, under a different umask, time zone, locale, build folder
and cache: every artifact and every in-toto link bit-identical, and the warm run builds
nothing. Needs the builders (merged from their branches) and ../shared/inputs."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from refkit.builders.api import load_builders
from refkit.builders.rebuild import RebuildResult, lock_resolver, rebuild
from refkit.builders.recipe import load_recipe, source_date_epoch
from refkit.inputs.lock import load_lock
from tests.shared import PROJECT_ROOT, shared_input

pytestmark = pytest.mark.slow

DEMO = PROJECT_ROOT / "images" / "demo" / "recipe.yaml"
#: Small artifacts, so the test stays under a minute: the busybox tree, its initrd, the UKI
#: built from it, and the optional Nix derivation.
SUBSET = ("initrd-tree", "initrd", "uki", "nix-hello")


@contextmanager
def environment(umask: int, tz: str, lang: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("TZ", "LANG", "LC_ALL")}
    old = os.umask(umask)
    os.environ.update(TZ=tz, LANG=lang, LC_ALL=lang)
    try:
        yield
    finally:
        os.umask(old)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build(base: Path) -> RebuildResult:
    builders = load_builders()
    missing = {load_recipe(DEMO, builders=None).artifacts[n].builder for n in SUBSET} - set(
        builders
    )
    if missing:
        pytest.skip(f"builders not in this checkout yet: {', '.join(sorted(missing))}")
    recipe = load_recipe(DEMO, builders=builders)
    recipe = dataclasses.replace(recipe, artifacts={n: recipe.artifacts[n] for n in SUBSET})
    assert recipe.lock is not None
    return rebuild(
        recipe,
        builders=builders,
        outdir=base / "out",
        source_date_epoch=source_date_epoch(recipe),
        cache_dir=base / "cache",
        lock=load_lock(recipe.lock),
        resolver=lock_resolver([shared_input()], offline=True, cache_dir=base / "inputs"),
    )


def test_the_demo_rebuilds_bit_for_bit_and_warm_builds_nothing(tmp_path: Path) -> None:
    with environment(0o022, "UTC", "C.UTF-8"):
        first = build(tmp_path / "a")
    with environment(0o077, "Asia/Tokyo", "fr_FR.UTF-8"):
        second = build(tmp_path / "b" / "deeper")
        warm = build(tmp_path / "b" / "deeper")
    for one, two in zip(first.artifacts, second.artifacts, strict=True):
        assert (one.name, one.sha256, one.skipped) == (two.name, two.sha256, two.skipped)
        if one.link is not None and two.link is not None:
            assert one.link.read_bytes() == two.link.read_bytes(), one.name
    assert all(a.cached or a.skipped for a in warm.artifacts)
    assert [a.sha256 for a in warm.artifacts] == [a.sha256 for a in second.artifacts]
