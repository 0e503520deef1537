"""Benchmark: the dm-verity tree of a 1 GiB image, refkit against ``veritysetup format``.

Both run as whole processes on the same random image (warm page cache: it is read once
before the runs), with the same salt (00), UUID and block sizes, each writing a separate
hash file, alternating run by run:

- ``veritysetup``: ``veritysetup format --salt=00 --uuid=<nil> IMG HASH`` (single-threaded C);
- ``refkit``: a Python process that imports refkit and writes the same hash area with
  :func:`refkit.weights.verity.write_hash_area` (worker processes for the level over the
  data), so interpreter start-up and imports are counted;
- ``refkit-cli``: ``refkit measure verity IMG --salt 00`` (the root alone, nothing written).

The hash files are compared byte for byte after the first run (a benchmark of a wrong
answer is worthless). Reported: medians (and min/max) over --runs, the ratio
refkit / veritysetup (goal: <= 0.6 on two cores), and peak memory: the refkit process's
own maximum resident set and its largest worker's (``ru_maxrss`` of the process and of its
children), and their sum as the upper bound of the whole run.

Usage: python bench/verity.py [--size-mib 1024] [--runs 5] [--dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NIL = "00000000-0000-0000-0000-000000000000"
GOAL_RATIO = 0.6

_REFKIT_CHILD = """
import resource, sys, time
from refkit.weights import verity as v
img, out = sys.argv[1], sys.argv[2]
layout = v.plan(v.VerityParams(salt=b"\\0"), v.image_blocks(img, 4096))
with open(out, "wb") as fh:
    root = v.write_hash_area(img, layout, fh)
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(root.hex(), own, kids)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=True, env=_env())
    return time.perf_counter() - start, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the image")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    veritysetup = shutil.which("veritysetup") or shutil.which("veritysetup", path="/usr/sbin")
    if veritysetup is None:
        print("needs veritysetup (Debian package cryptsetup-bin)", file=sys.stderr)
        return 3
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        img = Path(work) / "data.img"
        with open(img, "wb") as fh:
            for _ in range(args.size_mib):
                fh.write(os.urandom(1 << 20))
        with open(img, "rb") as fh:  # warm the page cache
            while fh.read(16 << 20):
                pass
        ours, peer = Path(work) / "refkit.hash", Path(work) / "peer.hash"
        times: dict[str, list[float]] = {"veritysetup": [], "refkit": [], "refkit-cli": []}
        memory: dict[str, int] = {}
        for run in range(args.runs):
            peer.unlink(missing_ok=True)
            ours.unlink(missing_ok=True)
            t, out = _timed(
                [veritysetup, "format", "--salt=00", f"--uuid={NIL}", str(img), str(peer)]
            )
            times["veritysetup"].append(t)
            peer_root = next(
                line.split()[-1] for line in out.splitlines() if line.startswith("Root hash")
            )
            t, out = _timed([sys.executable, "-c", _REFKIT_CHILD, str(img), str(ours)])
            times["refkit"].append(t)
            root, own, kids = out.split()
            memory = {"refkitProcessKiB": int(own), "largestWorkerKiB": int(kids)}
            if run == 0 and (root != peer_root or ours.read_bytes() != peer.read_bytes()):
                print("refkit's tree differs from veritysetup's: not benchmarking", file=sys.stderr)
                return 1
            t, _out = _timed(
                [
                    sys.executable,
                    "-c",
                    "import sys; from refkit.cli import main; sys.exit(main(sys.argv[1:]))",
                    "measure",
                    "verity",
                    str(img),
                    "--salt",
                    "00",
                ]
            )
            times["refkit-cli"].append(t)
    report: dict[str, Any] = {
        "sizeMiB": args.size_mib,
        "runs": args.runs,
        "cpus": len(os.sched_getaffinity(0)),
        "seconds": {
            k: {"median": statistics.median(v), "min": min(v), "max": max(v)}
            for k, v in times.items()
        },
        "peakMemoryKiB": {**memory, "upperBoundKiB": sum(memory.values())},
    }
    base = report["seconds"]["veritysetup"]["median"]
    report["ratio"] = {
        "refkit/veritysetup": report["seconds"]["refkit"]["median"] / base,
        "refkit-cli/veritysetup": report["seconds"]["refkit-cli"]["median"] / base,
        "goal": GOAL_RATIO,
    }
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(f"verity tree of {args.size_mib} MiB, {args.runs} runs, {report['cpus']} CPUs")
        for k, v in report["seconds"].items():
            spread = f"(min {v['min']:.3f}, max {v['max']:.3f})"
            print(f"  {k:12} median {v['median']:.3f} s  {spread}")
        r = report["ratio"]
        print(f"  ratio refkit/veritysetup {r['refkit/veritysetup']:.2f} (goal <= {GOAL_RATIO})")
        print(f"  ratio refkit-cli/veritysetup {r['refkit-cli/veritysetup']:.2f}")
        m = {k: f"{v / 1024:.0f} MiB" for k, v in report["peakMemoryKiB"].items()}
        print(
            f"  peak memory: refkit process {m['refkitProcessKiB']}, largest worker "
            f"{m['largestWorkerKiB']}, sum {m['upperBoundKiB']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
