"""`refkit evidence` end to end on the real vectors (../shared/vectors, PROVENANCE.md) with
the real SNP and TDX families: authenticity, debug guests, a manifest built from a real
report's values, tampering, collateral at its time, receipts replayed offline.

Skipped (saying why) when ../shared is absent or a family is not part of this refkit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.manifests.canonical import canonical_dumps
from refkit.manifests.signing.keys import KeyType
from tests.evidence_support import SIGNING_RELEASE
from tests.shared import vector
from tests.signing_support import key, sign

Run = Callable[..., Any]

#: Inside every positive SNP VCEK's and PCK chain's validity (PROVENANCE.md; checked with
#: openssl: the latest notBefore is the GCP VCEK's, 2025-12-05) and inside the test
#: manifest's window (created 2026-11-01, expires 2027-02-01).
AT = "2026-12-01T00:00:00Z"

SNP_POSITIVE = ["milan-v2-a", "milan-v2-b", "milan-v2-c", "gcp-milan-v5"]
#: Debug guests among the vectors: guest policy 0xb0000 (bit 19) in milan-v2-b, read at
#: offset 0x08; TD_ATTRIBUTES 01... (bit 0) in v4-b, read at body offset 0x78.
SNP_DEBUG = {"milan-v2-b"}
TDX_QUOTES = ["spr-v4-a.quote.bin", "v4-b.quote.bin", "v5-a.quote.bin", "v5-b.quote.bin"]
TDX_DEBUG = {"v4-b.quote.bin"}


@pytest.fixture(autouse=True)
def _families() -> None:
    pytest.importorskip("refkit.evidence.snp", reason="the SNP evidence family is not merged")
    pytest.importorskip("refkit.evidence.tdx", reason="the TDX evidence family is not merged")


def _vcek(name: str) -> Path:
    for suffix in (".vcek.der", ".vcek.pem"):
        try:
            return vector("snp", name + suffix)
        except pytest.skip.Exception:
            continue
    pytest.skip(f"no VCEK for {name}")


def _snp(name: str) -> list[Any]:
    return [vector("snp", f"{name}.report.bin"), "--vcek", _vcek(name), "--certs", vector("amd")]


@pytest.mark.parametrize("name", SNP_POSITIVE)
def test_every_snp_report_is_authentic(run_cli: Run, name: str) -> None:
    r = run_cli("evidence", "verify", *_snp(name), "--at", AT, "--json")
    assert r.code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["facts"]["family"] == "snp"
    assert doc["facts"]["debug"] is (name in SNP_DEBUG)
    assert ("DEBUG GUEST" in r.stderr) is (name in SNP_DEBUG)
    roots = [x["anchor"] for x in doc["results"] if x["anchor"] and x["anchor"]["kind"] == "root"]
    # The Milan ARK's fingerprint (PROVENANCE.md, amd/).
    milan = "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd"
    assert any(a["fingerprint"] == milan for a in roots)


def test_milan_report_with_only_the_genoa_chain_fails(run_cli: Run) -> None:
    r = run_cli(
        "evidence", "verify", vector("snp", "gcp-milan-v5.report.bin"),
        "--vcek", _vcek("gcp-milan-v5"), "--vcek", vector("amd", "genoa-vcek-chain.pem"),
        "--at", AT,
    )  # fmt: skip
    assert r.code in (1, 3), r.stdout + r.stderr
    assert "Traceback" not in r.stderr


def test_a_flipped_signed_byte_fails(run_cli: Run, tmp_path: Path) -> None:
    data = bytearray(vector("snp", "gcp-milan-v5.report.bin").read_bytes())
    data[0x90] ^= 1  # MEASUREMENT, inside the signed region [0, 0x2A0)
    bad = tmp_path / "r.bin"
    bad.write_bytes(bytes(data))
    r = run_cli("evidence", "verify", bad, "--vcek", _vcek("gcp-milan-v5"), "--certs",
                vector("amd"), "--at", AT)  # fmt: skip
    assert r.code == 1, r.stdout + r.stderr


def _gcp_manifest(tmp_path: Path, *, measurement: str | None = None) -> list[Any]:
    """A manifest whose SNP values are those of the GCP report (read from its bytes), signed
    by a test key; returns the verify options that use it."""
    report = vector("snp", "gcp-milan-v5.report.bin").read_bytes()
    doc = json.loads(SIGNING_RELEASE.read_bytes())
    pred = doc["predicate"]
    pred["referenceValues"].pop("policies", None)  # the report's HOST_DATA is zero
    pred["referenceValues"]["snp"][0]["measurement"] = measurement or report[0x90:0xC0].hex()
    declared = pred["declared"]["snp"][0]
    declared["allowedChipIds"] = [report[0x1A0:0x1E0].hex()]
    tcb = report[0x180:0x188]  # REPORTED_TCB, Milan layout: 0 BL, 1 TEE, 6 SNP, 7 UCODE
    declared["minimumTcb"] = {"bootloader": tcb[0], "tee": tcb[1], "snp": tcb[6],
                              "microcode": tcb[7]}  # fmt: skip
    declared["guestPolicy"] = int.from_bytes(report[8:16], "little")
    k = key(KeyType.ECDSA_P256, 0)
    bundle = tmp_path / "m.bundle.json"
    bundle.write_bytes(sign(canonical_dumps(doc), k))
    pub = tmp_path / "m.pub"
    pub.write_bytes(k.public_key().pem())
    return ["--manifest", bundle, "--key", pub]


def test_manifest_of_the_real_values_passes(run_cli: Run, tmp_path: Path) -> None:
    receipt = tmp_path / "receipt.json"
    r = run_cli("evidence", "verify", *_snp("gcp-milan-v5"), *_gcp_manifest(tmp_path),
                "--at", AT, "--nonce", "00" * 8, "--receipt", receipt)  # fmt: skip
    assert r.code == 0, r.stdout + r.stderr
    assert "PASS  evidence.nonce.match" in r.stdout
    r = run_cli("evidence", "verify-receipt", receipt)
    assert r.code == 0, r.stdout + r.stderr
    assert "evidence.receipt.reproduced" in r.stdout


def test_one_changed_value_fails_naming_its_check(run_cli: Run, tmp_path: Path) -> None:
    options = _gcp_manifest(tmp_path, measurement="ab" * 48)
    r = run_cli("evidence", "verify", *_snp("gcp-milan-v5"), *options, "--at", AT, "--json")
    assert r.code == 1, r.stdout + r.stderr
    failing = [x["code"] for x in json.loads(r.stdout)["results"] if not x["ok"]]
    assert failing
    assert all(c.startswith("snp.") for c in failing), failing


@pytest.mark.parametrize("name", TDX_QUOTES)
def test_every_tdx_quote_is_authentic(run_cli: Run, name: str) -> None:
    r = run_cli("evidence", "verify", vector("tdx", name), "--at", AT, "--json")
    assert r.code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["facts"]["family"] == "tdx"
    assert doc["facts"]["debug"] is (name in TDX_DEBUG)


def test_tdx_collateral_at_its_time_and_after(run_cli: Run, tmp_path: Path) -> None:
    quote = vector("tdx", "phala", "v4.quote.bin")
    collateral = vector("tdx", "phala", "v4.collateral.json")
    receipt = tmp_path / "tdx.json"
    # PROVENANCE.md: dcap-qvl gives UpToDate at 2025-06-20T00:00:00Z.
    r = run_cli("evidence", "verify", quote, "--collateral", collateral,
                "--at", "2025-06-20T00:00:00Z", "--receipt", receipt)  # fmt: skip
    assert r.code == 0, r.stdout + r.stderr
    assert run_cli("evidence", "verify-receipt", receipt).code == 0
    r = run_cli("evidence", "verify", quote, "--collateral", collateral, "--at", AT)
    assert r.code == 1, r.stdout  # the collateral's windows have closed


def test_show_every_vector(run_cli: Run) -> None:
    for path in [vector("snp", f"{n}.report.bin") for n in SNP_POSITIVE] + [
        vector("tdx", q) for q in TDX_QUOTES
    ]:
        r = run_cli("evidence", "show", path, "--json")
        assert r.code == 0, (path, r.stderr)
        assert json.loads(r.stdout)["fields"]


def test_one_verifier_many_threads_on_real_vectors() -> None:
    import threading
    from datetime import UTC, datetime

    from refkit.evidence.families import Blob, Material
    from refkit.evidence.verify import EvidenceVerifier, ReportDataCheck, VerifyOptions

    amd = tuple(Blob(p.name, p.read_bytes()) for p in sorted(vector("amd").glob("*.pem")))
    cases = [
        (vector("snp", f"{n}.report.bin").read_bytes(),
         Material(certificates=(Blob("vcek", _vcek(n).read_bytes()), *amd)))
        for n in SNP_POSITIVE
    ] + [(vector("tdx", q).read_bytes(), Material()) for q in TDX_QUOTES]  # fmt: skip
    verifier = EvidenceVerifier()
    at = datetime(2026, 12, 1, tzinfo=UTC)

    def run(i: int) -> tuple[bool, tuple[str, ...]]:
        data, material = cases[i % len(cases)]
        nonce = ReportDataCheck(data[0x50:0x58] if i % 2 else bytes([0xFF]) * 8, exact=False)
        options = VerifyOptions(at=at, material=material, report_data=nonce)
        out = verifier.verify(data, source=f"case {i % len(cases)}", options=options)
        return out.ok, tuple(f"{r.code}:{r.outcome.value}" for r in out.verdict.results)

    expected = [run(i) for i in range(2 * len(cases))]
    got: list[list[tuple[bool, tuple[str, ...]]]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            got.append([run(i) for i in range(2 * len(cases))])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(got) == 6
    assert all(g == expected for g in got)


def test_snp_fetch_then_verify_offline(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`evidence fetch` through the SNP family's fetcher with an in-memory AMD service that
    serves the real GCP VCEK and Milan chain; `verify` then uses exactly what it printed."""
    import base64

    import refkit.evidence.snp.fetch as snp_fetch

    vcek_pem = vector("snp", "gcp-milan-v5.vcek.pem").read_bytes()
    answers = {
        "/vcek/v1/Milan/cert_chain": vector("amd", "milan-vcek-chain.pem").read_bytes(),
        # DER from the PEM text itself (cryptography warns about AMD's serial number 0)
        "/vcek/v1/Milan/": base64.b64decode(b"".join(vcek_pem.split(b"-----")[2].split())),
    }
    asked: list[str] = []

    def opener(url: str) -> bytes:
        asked.append(url)
        return next(body for path, body in answers.items() if path in url)

    monkeypatch.setattr(snp_fetch, "urllib_opener", lambda **_: opener)
    report = vector("snp", "gcp-milan-v5.report.bin")
    r = run_cli("evidence", "fetch", report, "--cache", tmp_path / "cache", "--json")
    assert r.code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert len(asked) == 2
    assert any(
        "/vcek/v1/Milan/980cf7b61876cb37" in u for u in asked
    )  # the report's CHIP_ID (offset 0x1A0) in the URL
    again = run_cli("evidence", "fetch", report, "--cache", tmp_path / "cache")
    assert again.code == 0
    assert len(asked) == 2  # cached
    options = [part for o in doc["verifyOptions"] for part in o.split(" ", 1)]
    r = run_cli("evidence", "verify", report, *options, "--at", AT)
    assert r.code == 0, r.stdout + r.stderr


def test_a_file_that_is_no_certificate_is_named(run_cli: Run, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "chain.pem").write_bytes(vector("amd", "milan-vcek-chain.pem").read_bytes())
    (certs / "notes.txt").write_bytes(b"not a certificate\n")
    r = run_cli("evidence", "verify", *_snp("gcp-milan-v5")[:3], "--certs", certs, "--at", AT)
    assert r.code == 2, r.stdout + r.stderr
    assert str(certs / "notes.txt") in r.stderr
