"""Benchmark: event-log parse + replay, in process and as whole processes.

Inputs: the real logs in ../shared/vectors (three TCG2 logs from google/go-eventlog, the
256 KiB TDX CCEL log from google/go-tdx-guest). Reported per log, medians of --runs:

(a) refkit in process: read, parse every event (structure and decoded data) and replay
    every bank: ``read_log`` + ``replay_log`` + the decoded description of every event;
(b) whole process: ``refkit measure replay LOG --json`` and, for the TCG2 logs,
    ``tpm2_eventlog LOG`` (Debian tpm2-tools, C; it cannot read the CCEL log), run
    alternately so that machine noise hits both alike.

Run it with the checkout's refkit on the path (``PYTHONPATH=src`` or an installed
checkout): the whole-process runs call the ``refkit`` console script beside this
interpreter, which imports whatever refkit the environment resolves.

Smoke run on a busy 2-core machine (3 runs, shared with other jobs; not figures):
in process 1.8-3.9 ms a log; whole process about 150-220 ms for refkit (Python and click
start-up included) and 13-16 ms for tpm2_eventlog.

Usage: python bench/eventlog_replay.py [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "vectors"
LOGS = [
    SHARED / "eventlog" / "cos-85-amd-sev.bin",
    SHARED / "eventlog" / "cos-101-amd-sev.bin",
    SHARED / "eventlog" / "ubuntu-2104-no-secure-boot.bin",
    SHARED / "tdx" / "ccel-gcp" / "ccel_data.dat",
]
BIN = Path(sys.executable).parent


def in_process(path: Path, runs: int) -> float:
    from refkit.measure.eventlog import read_log, replay_log

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        log = read_log(path)
        replay_log(log)
        for event in log.events:
            _ = event.decoded.description
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def whole(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    missing = [p for p in LOGS if not p.exists()]
    if missing:
        print(f"needs ../shared/vectors beside the checkout: {missing[0]} is absent")
        return 3
    refkit = shutil.which("refkit", path=str(BIN)) or "refkit"
    peer = shutil.which("tpm2_eventlog")
    rows = []
    for path in LOGS:
        row: dict[str, object] = {
            "log": path.name,
            "bytes": path.stat().st_size,
            "in_process_ms": round(in_process(path, args.runs) * 1000, 3),
        }
        ours, theirs = [], []
        for _ in range(args.runs):
            ours.append(whole([refkit, "measure", "replay", str(path), "--json"]))
            if peer and path.parent.name == "eventlog":
                theirs.append(whole([peer, str(path)]))
        row["refkit_process_ms"] = round(statistics.median(ours) * 1000, 1)
        if theirs:
            row["tpm2_eventlog_process_ms"] = round(statistics.median(theirs) * 1000, 1)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print("  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
