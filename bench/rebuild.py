"""Benchmark: ``refkit rebuild`` of the demo recipe's Python root file system, OCI image and
initrd, cold and warm (medians of --runs). Goal: warm at least 10x faster than cold.

- cold: an empty build cache and an empty output folder: every pinned .deb is read from
  ../shared/inputs (sha256-verified), every artifact built, placed and its link written;
- warm: the same cache and output folder, nothing changed: cache keys are computed (the
  repository inputs hashed, pinned inputs known by their lock digests, not read), every
  output found in place with its digest re-checked, links rewritten;
- warm, new folder: the same cache, an empty output folder: outputs copied from the cache.

The artifacts are taken from images/demo/recipe.yaml (``--only`` picks others; the builders
must be importable, as on a checkout with every builder merged). Runs in process through the
library (the CLI adds only its start-up).

Smoke run on a busy 2-core machine, with every builder merged (one run of
``--only initrd-tree,initrd``; not figures): cold 0.99 s, warm 0.09 s, warm into a new folder
0.14 s. The whole demo recipe through the CLI: cold about 95 s, warm about 4 s.

Usage: python bench/rebuild.py [--runs N] [--only A,B,...] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "images" / "demo" / "recipe.yaml"
MIRROR = ROOT.parent / "shared" / "inputs"
DEFAULT = ("python-rootfs", "app-image", "initrd-tree", "initrd")


def once(only: tuple[str, ...], cache: Path, outdir: Path) -> float:
    from refkit.builders.api import load_builders
    from refkit.builders.rebuild import lock_resolver, rebuild
    from refkit.builders.recipe import load_recipe, source_date_epoch
    from refkit.inputs.lock import load_lock

    start = time.perf_counter()
    builders = load_builders()
    recipe = load_recipe(RECIPE, builders=builders)
    missing = [name for name in only if name not in recipe.artifacts]
    if missing:
        raise SystemExit(f"not in {RECIPE}: {', '.join(missing)}")
    recipe = dataclasses.replace(recipe, artifacts={name: recipe.artifacts[name] for name in only})
    assert recipe.lock is not None
    rebuild(
        recipe,
        builders=builders,
        outdir=outdir,
        source_date_epoch=source_date_epoch(recipe),
        cache_dir=cache,
        lock=load_lock(recipe.lock),
        resolver=lock_resolver([MIRROR], offline=True, cache_dir=cache / "inputs"),
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default=",".join(DEFAULT))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not MIRROR.is_dir():
        print(f"needs the input mirror {MIRROR}", file=sys.stderr)
        return 3
    only = tuple(n for n in args.only.split(",") if n)
    cold, warm, fresh = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="refkit-bench-rebuild-") as tmp:
            base = Path(tmp)
            cold.append(once(only, base / "cache", base / "out"))
            warm.append(once(only, base / "cache", base / "out"))
            fresh.append(once(only, base / "cache", base / "out2"))
            shutil.rmtree(base / "out", ignore_errors=True)
    result = {
        "artifacts": list(only),
        "runs": args.runs,
        "cold_s": statistics.median(cold),
        "warm_s": statistics.median(warm),
        "warm_new_folder_s": statistics.median(fresh),
    }
    result["warm_speedup"] = result["cold_s"] / result["warm_s"]
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(
            f"{', '.join(only)}: cold {result['cold_s']:.2f} s, warm {result['warm_s']:.3f} s "
            f"({result['warm_speedup']:.1f}x), warm into a new folder "
            f"{result['warm_new_folder_s']:.2f} s (medians of {args.runs})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
