"""Benchmark: MRTD of a 4 MiB TDX firmware, in-process (goal: under 100 ms).

Input: Debian's OVMF.inteltdx.ms.fd (../shared/vectors/firmware, 4 MiB) when present, else
a synthetic 4 MiB image with the same section shape (a 3.5 MiB extended BFV, a CFV, TD HOB
and temporary memory). Parsing the firmware is included; reading the file is not. Both
page orders are timed; the median of ``--runs`` runs is reported.

Usage: python bench/tdx_measure.py [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import struct
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT.parent / "shared" / "vectors" / "firmware" / "OVMF.inteltdx.ms.fd"
GOAL_MS = 100.0


def synthetic(size: int = 4 * 1024 * 1024) -> bytes:
    """A TDX firmware image: TDVF table in the OVMF footer table (see refkit.measure.firmware)."""
    from refkit.guid import guid_bytes_le
    from refkit.measure import firmware as fw

    rng = random.Random(4)
    body = bytearray(rng.randbytes(size))
    top = (1 << 32) - size
    cfv = 512 * 1024
    rows = [
        (cfv, size - cfv, top + cfv, size - cfv, 0, 1),
        (0, cfv, top, cfv, 1, 0),
        (0, 0, 0x800000, 0x2000, 2, 0),
        (0, 0, 0x810000, 0x10000, 3, 0),
    ]
    table = struct.pack("<4sIII", b"TDVF", 16 + 32 * len(rows), 1, len(rows))
    table += b"".join(struct.pack("<IIQQII", *r) for r in rows)
    entry_at = size - 32 - 18 - 22
    table_at = entry_at - 0x200
    body[table_at : table_at + len(table)] = table
    entry = struct.pack("<I", size - table_at) + struct.pack("<H", 22)
    entry += guid_bytes_le(fw.TDX_METADATA_GUID)
    footer = struct.pack("<H", 18 + 22) + guid_bytes_le(fw.FOOTER_TABLE_GUID)
    body[entry_at : entry_at + 22] = entry
    body[entry_at + 22 : entry_at + 40] = footer
    return bytes(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from refkit.measure.firmware import parse_firmware
    from refkit.measure.tdx.mrtd import PageOrder, compute_mrtd

    if FIRMWARE.exists():
        data, name = FIRMWARE.read_bytes(), FIRMWARE.name
    else:
        data, name = synthetic(), "synthetic 4 MiB"
    results = {}
    for order in PageOrder:
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            compute_mrtd(parse_firmware(data, source=name), order)
            times.append((time.perf_counter() - start) * 1000)
        results[order.value] = statistics.median(times)
    report = {"firmware": name, "size": len(data), "medianMs": results, "goalMs": GOAL_MS}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name_, ms in results.items():
            verdict = "ok" if ms <= GOAL_MS else "SLOWER THAN GOAL"
            print(f"MRTD {name} ({len(data)} bytes), {name_}: {ms:.1f} ms median ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
