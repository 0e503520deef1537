"""Benchmark: signing and verifying a large reference manifest, in-process.

The manifest is the canonical test statement (tests/assets/signing/release.json) grown to
a realistic upper size: 256 SEV-SNP reference values (one per vCPU count 1..256, synthetic
measurements) and 1,000 model files as subjects (kind "other", synthetic sha256). For each
key type (ECDSA P-256, ECDSA P-384, Ed25519) it times, in-process with the libraries
already imported (process start-up excluded):

- sign: canonical check, manifest validation, DSSE signature, bundle serialisation
  (``sign_manifest``);
- verify: bundle parsing, signature, full manifest validation and the policy checks
  (``verify_manifest``), one bundle, threshold 1;
- and, to show where verify's time goes: the signature path alone (strict bundle parsing
  and the DSSE signature check) and the manifest validation alone
  (``refkit.manifests.statement.load_statement``), with the JSON Schema as build and sign
  run it, and without it as verify runs it (refkit's own checks refuse all the schema
  refuses; a property test holds them to it).

Medians (and min/max) over --runs runs after one warm-up. Goal: verify under 50 ms.

Usage: python bench/manifest_sign_verify.py [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from refkit.manifests.canonical import canonical_dumps
from refkit.manifests.signing.bundle import parse_bundle
from refkit.manifests.signing.dsse import verify_signature
from refkit.manifests.signing.keys import KeyType, generate
from refkit.manifests.signing.policy import KeySigner, TrustPolicy, key_signer_name
from refkit.manifests.signing.sign import sign_manifest
from refkit.manifests.signing.verify import verify_manifest
from refkit.manifests.statement import load_statement

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "tests" / "assets" / "signing" / "release.json"
GOAL_VERIFY_MS = 50.0


def big_statement(vcpus: int = 256, files: int = 1000) -> bytes:
    doc: dict[str, Any] = json.loads(TEMPLATE.read_bytes())
    snp_template = doc["predicate"]["referenceValues"]["snp"][0]
    snp = []
    for n in range(1, vcpus + 1):
        entry = copy.deepcopy(snp_template)
        entry["shape"]["vcpus"] = n
        entry["measurement"] = hashlib.sha384(f"snp {n}".encode()).hexdigest()
        snp.append(entry)
    doc["predicate"]["referenceValues"]["snp"] = snp
    for i in range(files):
        name = f"models/example/shard-{i:04d}.safetensors"
        doc["subject"].append(
            {
                "name": name,
                "digest": {"sha256": hashlib.sha256(name.encode()).hexdigest()},
                "annotations": {"kind": "other"},
            }
        )
    return canonical_dumps(doc)


def timed(fn: Any, runs: int) -> dict[str, float]:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "median_ms": statistics.median(samples),
        "min_ms": min(samples),
        "max_ms": max(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    statement = big_statement()
    at = datetime(2026, 12, 1, tzinfo=UTC)
    report: dict[str, Any] = {
        "statement_bytes": len(statement),
        "snp_entries": 256,
        "model_files": 1000,
        "runs": args.runs,
        "results": {},
    }
    for kind in KeyType:
        key = generate(kind)
        pub = key.public_key()
        policy = TrustPolicy(signers=(KeySigner(key_signer_name(pub), pub),))
        bundle = sign_manifest(statement, source="bench", key=key)

        def sign(key: Any = key) -> None:
            sign_manifest(statement, source="bench", key=key)

        def verify(bundle: bytes = bundle, policy: TrustPolicy = policy) -> None:
            result = verify_manifest([("bench", bundle)], policy, at=at)
            assert result.ok, result.failure

        def signature_path(bundle: bytes = bundle, pub: Any = pub) -> None:
            env = parse_bundle(bundle, source="bench").envelope
            assert env is not None
            assert verify_signature(env, env.signatures[0], pub)

        report["results"][kind.value] = {
            "bundle_bytes": len(bundle),
            "sign": timed(sign, args.runs),
            "verify": timed(verify, args.runs),
            "signature_path": timed(signature_path, args.runs),
        }
    report["manifest_validation"] = timed(
        lambda: load_statement(statement, source="bench"), args.runs
    )
    report["manifest_validation_no_schema"] = timed(
        lambda: load_statement(statement, source="bench", schema=False), args.runs
    )

    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"manifest: {report['statement_bytes']:,} bytes canonical JSON, 256 SNP values, "
        f"1,000 model files; median of {args.runs} runs (min-max), in-process"
    )
    print(f"{'key type':<12} {'sign':>20} {'verify':>20} {'signature path':>20}  (ms)")
    for name, r in report["results"].items():
        cells = [_cell(r[k]) for k in ("sign", "verify", "signature_path")]
        ok = "ok" if r["verify"]["median_ms"] < GOAL_VERIFY_MS else "MISSED"
        print(f"{name:<12} {cells[0]:>20} {cells[1]:>20} {cells[2]:>20}  verify goal: {ok}")
    print(
        "manifest validation alone (load_statement): with the JSON Schema (build, sign) "
        f"{_cell(report['manifest_validation'])} ms; refkit's checks only (verify) "
        f"{_cell(report['manifest_validation_no_schema'])} ms; goal: verify < "
        f"{GOAL_VERIFY_MS:.0f} ms"
    )


def _cell(t: dict[str, float]) -> str:
    return f"{t['median_ms']:.1f} ({t['min_ms']:.1f}-{t['max_ms']:.1f})"


if __name__ == "__main__":
    main()
