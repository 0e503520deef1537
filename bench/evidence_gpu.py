"""Benchmark: verified GPU evidences per second next to the raw cost of one P-384 verify.

Input: the complete positive of ../shared/vectors/nvidia (PROVENANCE.md): the H100 report
h100-545 with its device chain and its driver and VBIOS RIMs, verified at
2025-03-01T00:00:00Z with its nonce. Both rates are measured in the same run, in-process
(libraries imported, process start-up excluded):

- raw: one ECDSA P-384/SHA-384 verify of the report's signed region with the leaf key
  (``cryptography``), the floor any verifier pays per evidence;
- refkit: parse the report bytes (SPDM, opaque TLVs) and run
  :meth:`refkit.evidence.gpu.GpuVerifier.verify_one`: chain (cached by its bytes),
  signature, FWID, nonce, revocation, RIM selection and verification (cached by the RIMs'
  SHA-256), merge and comparison of 33 active indexes (remembered for the same RIMs and
  measurement record, as a fleet verifier meets them), every result built.

Goal: refkit's rate at least 80% of the raw rate, with chains and RIMs cached (the first,
uncached evidence is reported apart). Rates are medians over --runs runs of --count
evidences each, the two timed in alternating chunks of 10.

Usage: python bench/evidence_gpu.py [--runs N] [--count N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from refkit.evidence import gpu

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("REFKIT_SHARED", ROOT.parent / "shared"))
NV = SHARED / "vectors" / "nvidia"
AT = datetime(2025, 3, 1, tzinfo=UTC)
GOAL = 0.80


def _rates(first: Any, second: Any, count: int, chunk: int = 10) -> tuple[float, float]:
    """Rates of ``first`` and ``second``, timed in alternating chunks so that a change in
    machine load hits both alike."""
    spent = [0.0, 0.0]
    done = 0
    while done < count:
        n = min(chunk, count - done)
        for k, fn in enumerate((first, second)):
            start = time.perf_counter()
            for _ in range(n):
                fn()
            spent[k] += time.perf_counter() - start
        done += n
    return count / spent[0], count / spent[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    report_text = (NV / "h100-545" / "attestationReport.txt").read_bytes()
    chain = (NV / "h100-545" / "gpuAkCertChain.txt").read_bytes()
    raw = bytes.fromhex(report_text.decode().strip())
    rims = [
        gpu.parse_rim((NV / "h100-545" / name).read_bytes(), source=name)
        for name in (
            "Driver_RIM_test_no_gpu.swidtag",
            "1010_0200_882_96005E0001_test_no_gpu.swidtag",
        )
    ]
    (template,) = gpu.parse(raw, source="bench", chain=chain)
    nonce = template.nonce
    leaf_key = template.certificates[0].public_key()
    assert isinstance(leaf_key, ec.EllipticCurvePublicKey)
    signed = template.measurements.signed
    sig = template.measurements.signature
    der = encode_dss_signature(int.from_bytes(sig[:48], "big"), int.from_bytes(sig[48:], "big"))

    def raw_verify() -> None:
        leaf_key.verify(der, signed, ec.ECDSA(hashes.SHA384()))

    verifier = gpu.GpuVerifier(at=AT, rims=rims)
    certificates = template.certificates

    def refkit_verify() -> None:
        ev = gpu.GpuEvidence("bench", raw, gpu.spdm.parse(raw, source="bench"), certificates)
        results = verifier.verify_one(ev, nonce=nonce)
        if any(r.fails for r in results):
            raise SystemExit("the benchmark evidence did not verify")

    cold_start = time.perf_counter()
    refkit_verify()  # fills the chain and RIM caches
    cold_ms = (time.perf_counter() - cold_start) * 1000
    raw_rates, refkit_rates = [], []
    for _ in range(args.runs):
        raw_rate, refkit_rate = _rates(raw_verify, refkit_verify, args.count)
        raw_rates.append(raw_rate)
        refkit_rates.append(refkit_rate)
    raw_rate = statistics.median(raw_rates)
    refkit_rate = statistics.median(refkit_rates)
    ratio = refkit_rate / raw_rate
    result = {
        "input": "nvidia/h100-545 report + driver and VBIOS RIMs",
        "runs": args.runs,
        "count": args.count,
        "rawP384VerifiesPerSecond": round(raw_rate, 1),
        "verifiedEvidencesPerSecond": round(refkit_rate, 1),
        "ratio": round(ratio, 3),
        "goal": GOAL,
        "goalMet": ratio >= GOAL,
        "firstEvidenceMs (uncached chain and RIMs)": round(cold_ms, 2),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"raw P-384 verify:      {raw_rate:10.1f} /s")
    print(f"verified GPU evidence: {refkit_rate:10.1f} /s  ({ratio:.0%} of raw; goal {GOAL:.0%})")
    print(f"first evidence (uncached chain and RIMs): {cold_ms:.1f} ms")


if __name__ == "__main__":
    main()
