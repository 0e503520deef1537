"""Benchmark: PCR 11 prediction, refkit against systemd-measure (252).

Same inputs for both: the trixie cloud kernel (extracted from ../shared/inputs), a
30 MB initrd of pseudo-random bytes (fixed seed), an os-release and a command line.
Reported, as medians of ``--runs`` alternating runs:

* refkit in-process: :func:`refkit.measure.uki.predict` of PCR 11 alone (what
  systemd-measure computes) on the parts (files read
  included), the goal being no more than systemd-measure's whole-process time;
* systemd-measure ``calculate`` as a whole process (about 24 ms on these machines);
* refkit as a whole process (``refkit measure uki --linux ... --stub-rules 252``), which
  includes Python and click start-up (about 70 ms here).

Usage: python bench/uki_pcr.py [--runs N] [--initrd-mib N] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
KERNEL_DEB = (
    SHARED / "inputs" / "trixie" / "linux-image-6.12.107+deb13-cloud-amd64_6.12.107-1_amd64.deb"
)
KERNEL_MEMBER = "boot/vmlinuz-6.12.107+deb13-cloud-amd64"
DEMO_KERNEL = ROOT / "build" / "demo" / "vmlinuz"
SYSTEMD_MEASURE = Path("/lib/systemd/systemd-measure")


def _kernel(workdir: Path) -> Path:
    if KERNEL_DEB.exists():
        subprocess.run(["dpkg-deb", "-x", str(KERNEL_DEB), str(workdir / "k")], check=True)
        return workdir / "k" / KERNEL_MEMBER
    if DEMO_KERNEL.exists():
        return DEMO_KERNEL
    raise SystemExit("needs ../shared/inputs or `make demo` (for the kernel)")


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return (time.perf_counter() - start) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--initrd-mib", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not SYSTEMD_MEASURE.exists():
        raise SystemExit(f"needs {SYSTEMD_MEASURE} (Debian bookworm package systemd)")
    sys.path.insert(0, str(ROOT / "src"))
    from refkit.measure.uki import StubRules, predict, uki_from_parts

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        parts = {
            ".linux": _kernel(work),
            ".initrd": work / "initrd.img",
            ".osrel": work / "os-release",
            ".cmdline": work / "cmdline",
        }
        parts[".initrd"].write_bytes(random.Random(11).randbytes(args.initrd_mib << 20))
        parts[".osrel"].write_text("ID=bench\n")
        parts[".cmdline"].write_text("console=ttyS0 root=/dev/vda ro")
        flags = [f"--{k.lstrip('.')}={v}" for k, v in parts.items()]
        peer = [str(SYSTEMD_MEASURE), "calculate", *flags, "--bank=sha256"]
        whole = [sys.executable, "-c", "import sys; from refkit.cli import main; "
                 "sys.exit(main(sys.argv[1:]))", "measure", "uki", *flags,
                 "--stub-rules", "252", "--bank", "sha256"]  # fmt: skip
        env_path = str(ROOT / "src")
        inproc, peer_ms, whole_ms = [], [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            predict(uki_from_parts(parts), StubRules.SYSTEMD_252, ("sha256",), pcrs=(11,))
            inproc.append((time.perf_counter() - start) * 1000)
            peer_ms.append(_timed(peer))
            start = time.perf_counter()
            subprocess.run(whole, check=True, capture_output=True, env={"PYTHONPATH": env_path})
            whole_ms.append((time.perf_counter() - start) * 1000)
    report = {
        "initrdMiB": args.initrd_mib,
        "refkitInProcessMs": statistics.median(inproc),
        "systemdMeasureProcessMs": statistics.median(peer_ms),
        "refkitProcessMs": statistics.median(whole_ms),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        ok = report["refkitInProcessMs"] <= report["systemdMeasureProcessMs"]
        print(f"PCR 11, sha256, {args.initrd_mib} MiB initrd (medians of {args.runs}):")
        print(f"  refkit in-process      {report['refkitInProcessMs']:.1f} ms "
              f"({'within' if ok else 'ABOVE'} systemd-measure's whole-process time)")  # fmt: skip
        print(
            f"  systemd-measure        {report['systemdMeasureProcessMs']:.1f} ms (whole process)"
        )
        print(f"  refkit whole process   {report['refkitProcessMs']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
