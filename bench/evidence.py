"""Benchmark: what the evidence frame costs on top of the families' own verification.

For the real vectors in ../shared/vectors (PROVENANCE.md), in one process on one core,
rotating over every vector of a kind, with certificate chains and collateral cached by the
family verifiers (never a per-evidence result), it measures per second:

- ``family``: the family's authenticity check alone (parse + ``verify``), the floor;
- ``frame``: ``EvidenceVerifier.verify`` without a manifest: detection from the bytes,
  parse, authenticity, a nonce check, the measured values and the verdict;
- ``frame+manifest``: the same with a signed manifest (one ECDSA P-256 key): the manifest's
  signature and expiry are verified on every call (the time changes in a service), its
  parse is reused; the SNP values compared are those of the manifest of the signing tests.

It prints each rate and the ratio frame/family (goal: at least 0.9: the frame's
bookkeeping must cost little next to the cryptography). The families' own benchmarks
(bench/evidence_snp.py, bench/evidence_tdx.py) compare against the raw signature checks
and dcap-qvl.

Usage: python bench/evidence.py [--seconds S] [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from refkit.evidence.families import Blob, Material
from refkit.evidence.verify import (
    EvidenceVerifier,
    ManifestInput,
    ReportDataCheck,
    TrustInput,
    VerifyOptions,
)

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT.parent / "shared" / "vectors"
GOAL = 0.9
AT = datetime(2026, 12, 1, tzinfo=UTC)


def _rate(fn: Callable[[int], object], seconds: float) -> float:
    fn(0)  # warm-up: fills the chain caches
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn(n)
        n += 1
    return n / elapsed


def _manifest() -> ManifestInput:
    from refkit.manifests.signing.keys import KeyType, generate
    from refkit.manifests.signing.sign import sign_manifest

    key = generate(KeyType.ECDSA_P256)
    statement = (ROOT / "tests" / "assets" / "signing" / "release.json").read_bytes()
    bundle = sign_manifest(statement, source="release.json", key=key)
    return ManifestInput(
        (Blob("release.bundle.json", bundle),),
        TrustInput(keys=(Blob("release.pub", key.public_key().pem()),)),
    )


Case = tuple[bytes, Material]


def _flip(fn: Callable[[int, bool], object], flag: bool, i: int) -> object:
    return fn(i, flag)


def _runners(
    cases: list[Case], at: datetime, manifest: ManifestInput, nonce: ReportDataCheck
) -> tuple[Callable[[int], object], Callable[[int, bool], object]]:
    verifier = EvidenceVerifier()
    family = verifier.detect(cases[0][0], source="bench")
    inner = family.verifier()

    def family_only(i: int) -> object:
        data, material = cases[i % len(cases)]
        return inner.verify(family.parse(data, source="bench"), material, at)

    def frame(i: int, with_manifest: bool) -> object:
        data, material = cases[i % len(cases)]
        options = VerifyOptions(
            at=at,
            material=material,
            report_data=nonce,
            manifest=manifest if with_manifest else None,
        )
        return verifier.verify(data, source="bench", options=options)

    return family_only, frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not VECTORS.is_dir():
        print(f"needs {VECTORS}", file=sys.stderr)
        return 3
    amd = tuple(Blob(p.name, p.read_bytes()) for p in sorted((VECTORS / "amd").glob("*.pem")))
    snp = []
    for report in sorted((VECTORS / "snp").glob("*.report.bin")):
        vcek = next(
            iter(sorted((VECTORS / "snp").glob(report.name[: -len(".report.bin")] + ".vcek.*")))
        )
        snp.append(
            (report.read_bytes(), Material(certificates=(Blob(vcek.name, vcek.read_bytes()), *amd)))
        )
    tdx = [(q.read_bytes(), Material()) for q in sorted((VECTORS / "tdx").glob("*.quote.bin"))]
    phala = VECTORS / "tdx" / "phala"
    tdx_collateral = [
        (
            (phala / "v4.quote.bin").read_bytes(),
            Material(collateral=Blob("c.json", (phala / "v4.collateral.json").read_bytes())),
        )
    ]
    manifest = _manifest()
    nonce = ReportDataCheck(bytes(8), exact=False)
    out: dict[str, Any] = {}
    for name, cases, at in (
        ("snp", snp, AT),
        ("tdx", tdx, AT),
        ("tdx+collateral", tdx_collateral, datetime(2025, 6, 20, tzinfo=UTC)),
    ):
        family_only, frame = _runners(cases, at, manifest, nonce)
        base = _rate(family_only, args.seconds)
        framed = _rate(functools.partial(_flip, frame, False), args.seconds)
        with_manifest = _rate(functools.partial(_flip, frame, True), args.seconds)
        out[name] = {
            "vectors": len(cases),
            "familyPerSecond": round(base, 1),
            "framePerSecond": round(framed, 1),
            "frameWithManifestPerSecond": round(with_manifest, 1),
            "frameRatio": round(framed / base, 3),
            "goal": GOAL,
        }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for name, r in out.items():
            print(
                f"{name:15} family {r['familyPerSecond']:9.1f}/s  "
                f"frame {r['framePerSecond']:9.1f}/s "
                f"(ratio {r['frameRatio']:.3f}, goal >= {GOAL})  with manifest "
                f"{r['frameWithManifestPerSecond']:9.1f}/s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
