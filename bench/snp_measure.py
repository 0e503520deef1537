"""Benchmark: `refkit measure snp` against sev-snp-measure 0.0.13, as whole processes.

Both run from the same virtual environment's interpreter (their console scripts), on the
same real inputs: Debian's OVMF.amdsev.fd (../shared/vectors/firmware), the trixie cloud
kernel pinned by the demo (extracted from ../shared/inputs), and a 30 MB initrd of
pseudo-random bytes (fixed seed). Runs alternate between the tools so that machine noise
hits both alike; medians are reported with the ratio refkit / peer.

(a) one measurement (4 vCPUs) — goal: ratio <= 0.8, start-up included;
(b) vCPU counts 1..64 — one refkit call against 64 sev-snp-measure calls; goal: >= 20x.

Inputs: ../shared when it sits beside the checkout; otherwise the same firmware and kernel
as `make demo` fetched them into build/demo (the demo pins exactly these two files).

Usage: python bench/snp_measure.py [--runs N] [--json]
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
OVMF = SHARED / "vectors" / "firmware" / "OVMF.amdsev.fd"
KERNEL_DEB = (
    SHARED / "inputs" / "trixie" / "linux-image-6.12.107+deb13-cloud-amd64_6.12.107-1_amd64.deb"
)
KERNEL_MEMBER = "boot/vmlinuz-6.12.107+deb13-cloud-amd64"
BIN = Path(sys.executable).parent


DEMO_OUT = ROOT / "build" / "demo"


def inputs() -> tuple[Path, Path | None] | None:
    """(firmware, kernel package) from ../shared, or (firmware, None) from the demo's
    output, where the kernel is already extracted; None when neither is there."""
    if OVMF.exists() and KERNEL_DEB.exists():
        return OVMF, KERNEL_DEB
    if (DEMO_OUT / "OVMF.amdsev.fd").exists() and (DEMO_OUT / "vmlinuz").exists():
        return DEMO_OUT / "OVMF.amdsev.fd", None
    return None


def prepare(workdir: Path, kernel_deb: Path | None) -> tuple[Path, Path]:
    if kernel_deb is None:
        kernel = DEMO_OUT / "vmlinuz"
    else:
        kernel_dir = workdir / "kernel"
        subprocess.run(["dpkg-deb", "-x", str(kernel_deb), str(kernel_dir)], check=True)
        kernel = kernel_dir / KERNEL_MEMBER
    initrd = workdir / "initrd.img"
    initrd.write_bytes(random.Random(30).randbytes(30 * 1024 * 1024))
    return kernel, initrd


def timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    found = inputs()
    if found is None:
        print(
            f"missing inputs: neither {SHARED} nor the demo's {DEMO_OUT} has them; "
            "run `make demo` first",
            file=sys.stderr,
        )
        return 3
    ovmf, kernel_deb = found
    # Both tools start from compiled bytecode, as after a pip install (pip compiles the
    # peer's modules at install time; an editable install of refkit does not, and with
    # PYTHONDONTWRITEBYTECODE set nothing would ever be cached).
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "refkit")], check=True
    )
    peer = str(BIN / "sev-snp-measure")
    refkit = str(BIN / "refkit")
    with tempfile.TemporaryDirectory() as tmp:
        kernel, initrd = prepare(Path(tmp), kernel_deb)
        common = [
            "--mode",
            "snp",
            "--vcpu-type",
            "EPYC-v4",
            "--ovmf",
            str(ovmf),
            "--kernel",
            str(kernel),
            "--initrd",
            str(initrd),
            "--append",
            "console=ttyS0 ro",
        ]
        # warm the page cache and check both agree before timing anything
        _, p_out = timed([peer, *common, "--vcpus", "4"])
        _, r_out = timed([refkit, "measure", "snp", *common, "--vcpus", "4"])
        assert p_out == r_out, (p_out, r_out)

        one_peer, one_ours = [], []
        for _ in range(args.runs):
            one_peer.append(timed([peer, *common, "--vcpus", "4"])[0])
            one_ours.append(timed([refkit, "measure", "snp", *common, "--vcpus", "4"])[0])

        many_peer, many_ours = [], []
        for _ in range(max(3, args.runs // 3)):
            start = time.perf_counter()
            peer_lines = [
                timed([peer, *common, "--vcpus", str(n)])[1].strip() for n in range(1, 65)
            ]
            many_peer.append(time.perf_counter() - start)
            t, out = timed([refkit, "measure", "snp", *common, "--vcpus", "1-64"])
            many_ours.append(t)
            assert [line.split()[1] for line in out.splitlines()] == peer_lines

    results = {
        "one_measurement": {
            "peer_median_s": statistics.median(one_peer),
            "refkit_median_s": statistics.median(one_ours),
            "ratio": statistics.median(one_ours) / statistics.median(one_peer),
            "goal": "ratio <= 0.8",
        },
        "vcpus_1_to_64": {
            "peer_64_calls_median_s": statistics.median(many_peer),
            "refkit_one_call_median_s": statistics.median(many_ours),
            "speedup": statistics.median(many_peer) / statistics.median(many_ours),
            "goal": "speedup >= 20",
        },
        "runs": args.runs,
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        a, b = results["one_measurement"], results["vcpus_1_to_64"]
        print(
            f"(a) one measurement: sev-snp-measure {a['peer_median_s'] * 1000:.1f} ms, "
            f"refkit {a['refkit_median_s'] * 1000:.1f} ms, ratio {a['ratio']:.2f} (goal <= 0.8)"
        )
        print(
            f"(b) vCPUs 1..64: sev-snp-measure x64 {b['peer_64_calls_median_s']:.2f} s, "
            f"refkit x1 {b['refkit_one_call_median_s'] * 1000:.1f} ms, "
            f"speedup {b['speedup']:.1f}x (goal >= 20x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
