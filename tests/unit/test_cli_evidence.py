"""`refkit evidence` against fake families: exit codes, --json shape, material options,
receipts round trip and tampering, show, fetch with a fake opener, help."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from refkit.evidence.families import Family
from refkit.manifests.canonical import canonical_dumps
from refkit.manifests.signing.keys import KeyType
from tests.evidence_support import (
    AT,
    SIGNING_RELEASE,
    install_fakes,
    make_evidence,
    public_pem,
    tdx_root_key,
    vcek_key,
)
from tests.signing_support import key, sign

Run = Callable[..., Any]


@pytest.fixture
def fams(monkeypatch: pytest.MonkeyPatch) -> tuple[Family, ...]:
    return install_fakes(monkeypatch)


@cache
def _bundle() -> bytes:
    return sign(SIGNING_RELEASE.read_bytes(), key(KeyType.ECDSA_P256, 0))


@pytest.fixture
def files(tmp_path: Path, fams: tuple[Family, ...]) -> dict[str, Path]:
    del fams
    out = {
        "ev": tmp_path / "report.bin",
        "other": tmp_path / "other.bin",
        "debug": tmp_path / "debug.bin",
        "tdx": tmp_path / "quote.bin",
        "vcek": tmp_path / "vcek.pem",
        "bundle": tmp_path / "release.bundle.json",
        "pub": tmp_path / "release.pub",
        "certs": tmp_path / "certs",
    }
    out["ev"].write_bytes(make_evidence())
    out["other"].write_bytes(make_evidence(measurement=bytes(48)))
    out["debug"].write_bytes(make_evidence(debug=True))
    out["tdx"].write_bytes(make_evidence("tdx"))
    out["vcek"].write_bytes(public_pem(vcek_key()))
    out["bundle"].write_bytes(_bundle())
    out["pub"].write_bytes(key(KeyType.ECDSA_P256, 0).public_key().pem())
    out["certs"].mkdir()
    (out["certs"] / "any name at all").write_bytes(public_pem(vcek_key()))
    (out["certs"] / "sub").mkdir()  # subdirectories are not read
    return out


def _with_manifest(f: dict[str, Path]) -> list[Any]:
    return ["--manifest", f["bundle"], "--key", f["pub"], "--at", AT]


def test_authenticity_only_text(run_cli: Run, files: dict[str, Path]) -> None:
    r = run_cli("evidence", "verify", files["ev"], "--vcek", files["vcek"], "--at", AT)
    assert r.code == 0, r.stderr
    assert r.stdout.startswith(f"VERIFIED: {files['ev']}")
    assert "PASS  fake.signature.verified" in r.stdout
    assert "SKIP  evidence.manifest.absent" in r.stdout
    assert f"measured MEASUREMENT: {make_evidence()[0x49:0x79].hex()}" in r.stdout


def test_json_shape(run_cli: Run, files: dict[str, Path]) -> None:
    r = run_cli(
        "evidence",
        "verify",
        files["ev"],
        "--certs",
        files["certs"],
        *_with_manifest(files),
        "--nonce",
        "00010203",
        "--json",
    )
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) == {"subject", "ok", "summary", "facts", "results"}
    assert doc["ok"] is True
    codes = [x["code"] for x in doc["results"]]
    assert codes[0] == "manifest.signature.verified"
    assert "evidence.nonce.match" in codes
    assert "fake.measurement.match" in codes
    assert doc["facts"]["family"] == "snp"
    assert doc["facts"]["verifiedAt"] == AT
    assert doc["facts"]["timeSource"] == "--at"
    assert doc["facts"]["manifest"]["trusted"] is True
    sig = next(x for x in doc["results"] if x["code"] == "fake.signature.verified")
    assert sig["anchor"]["kind"] == "root"


def test_mismatch_is_exit_1(run_cli: Run, files: dict[str, Path]) -> None:
    r = run_cli(
        "evidence", "verify", files["other"], "--vcek", files["vcek"], *_with_manifest(files)
    )
    assert r.code == 1
    assert "FAIL  fake.measurement.mismatch" in r.stdout
    assert "fake.measurement.mismatch" in r.stderr


def test_nonce_mismatch_is_exit_1(run_cli: Run, files: dict[str, Path]) -> None:
    r = run_cli("evidence", "verify", files["ev"], "--vcek", files["vcek"], "--nonce", "ff")
    assert r.code == 1
    assert "evidence.nonce.mismatch" in r.stdout


def test_missing_material_is_exit_3(run_cli: Run, files: dict[str, Path]) -> None:
    r = run_cli("evidence", "verify", files["ev"])
    assert r.code == 3
    assert "no VCEK" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "content", [b"", b"\x00" * 1184, b"FAKESNP1" + b"\x00" * 10, b"FAKESNP1\x07" + bytes(300)]
)
def test_malformed_evidence_is_exit_2(
    run_cli: Run, files: dict[str, Path], tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(content)
    r = run_cli("evidence", "verify", bad, "--vcek", files["vcek"])
    assert r.code == 2, r.stderr
    assert str(bad) in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--manifest", "{bundle}"],
        ["--key", "{pub}"],
        ["--manifest", "{bundle}", "--key", "{pub}", "--policy", "{pub}"],
        ["--nonce", "00", "--report-data", "00" * 64],
        ["--nonce", "zz"],
        ["--nonce", "00" * 65],
        ["--report-data", "00" * 32],
        ["--at", "yesterday"],
        ["--certs", "{ev}"],
    ],
)
def test_usage_errors_are_exit_2(run_cli: Run, files: dict[str, Path], args: list[str]) -> None:
    given = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]
    r = run_cli("evidence", "verify", files["ev"], "--vcek", files["vcek"], *given)
    assert r.code == 2, (args, r.stderr)
    assert r.stderr.startswith("error: ")


def test_untrusted_manifest_is_exit_1(run_cli: Run, files: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.pub"
    other.write_bytes(key(KeyType.ECDSA_P256, 1).public_key().pem())
    r = run_cli(
        "evidence",
        "verify",
        files["ev"],
        "--vcek",
        files["vcek"],
        "--manifest",
        files["bundle"],
        "--key",
        other,
        "--at",
        AT,
    )
    assert r.code == 1
    assert "evidence.manifest.refused" in r.stdout
    assert "fake.measurement" not in r.stdout


def test_debug_guest_warns(run_cli: Run, files: dict[str, Path]) -> None:
    r = run_cli("evidence", "verify", files["debug"], "--vcek", files["vcek"], "--at", AT)
    assert r.code == 0
    assert "warning: DEBUG GUEST" in r.stderr
    assert "  warning: DEBUG GUEST" in r.stdout
    r = run_cli(
        "evidence", "verify", files["debug"], "--vcek", files["vcek"], *_with_manifest(files)
    )
    assert r.code == 1
    assert "fake.debug.refused" in r.stdout


def test_tdx_with_intel_root_and_unused_material(
    run_cli: Run, files: dict[str, Path], tmp_path: Path
) -> None:
    root = tmp_path / "root.pem"
    root.write_bytes(public_pem(tdx_root_key()))
    r = run_cli("evidence", "verify", files["tdx"], "--intel-root", root, "--vcek", files["vcek"])
    assert r.code == 0, r.stderr
    assert "not used for tdx evidence: certificates" in r.stderr
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(public_pem(vcek_key()))
    r = run_cli("evidence", "verify", files["tdx"], "--intel-root", wrong)
    assert r.code == 1


def test_receipt_round_trip_and_tampering(
    run_cli: Run, files: dict[str, Path], tmp_path: Path
) -> None:
    receipt = tmp_path / "receipt.json"
    r = run_cli(
        "evidence",
        "verify",
        files["ev"],
        "--vcek",
        files["vcek"],
        *_with_manifest(files),
        "--nonce",
        "0001",
        "--receipt",
        receipt,
    )
    assert r.code == 0, r.stderr
    assert receipt.is_file()
    again = run_cli(
        "evidence", "verify", files["ev"], "--vcek", files["vcek"], "--receipt", receipt
    )
    assert again.code == 2  # never replaced without --force
    for name in ("bundle", "pub", "vcek", "ev"):
        files[name].unlink()  # the replay reads the receipt alone
    r = run_cli("evidence", "verify-receipt", receipt)
    assert r.code == 0, r.stderr
    assert "PASS  evidence.receipt.reproduced" in r.stdout
    r = run_cli("evidence", "verify-receipt", receipt, "--json")
    doc = json.loads(r.stdout)
    assert doc["results"][-1]["code"] == "evidence.receipt.reproduced"
    assert doc["facts"]["recordedOk"] is True

    data = json.loads(receipt.read_bytes())
    other = make_evidence(measurement=bytes(48))
    data["evidence"]["base64"] = base64.b64encode(other).decode()
    data["evidence"]["sha256"] = __import__("hashlib").sha256(other).hexdigest()
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(canonical_dumps(data))
    r = run_cli("evidence", "verify-receipt", tampered)
    assert r.code == 1
    assert "FAIL  evidence.receipt.verdict-differs" in r.stdout

    broken = tmp_path / "broken.json"
    broken.write_bytes(receipt.read_bytes()[:-40])
    r = run_cli("evidence", "verify-receipt", broken)
    assert r.code == 2


def test_receipt_of_a_failure_is_written(
    run_cli: Run, files: dict[str, Path], tmp_path: Path
) -> None:
    receipt = tmp_path / "no.json"
    r = run_cli(
        "evidence",
        "verify",
        files["other"],
        "--vcek",
        files["vcek"],
        *_with_manifest(files),
        "--receipt",
        receipt,
    )
    assert r.code == 1
    r = run_cli("evidence", "verify-receipt", receipt)
    assert r.code == 1
    assert "PASS  evidence.receipt.reproduced" in r.stdout


def test_receipt_with_policy(run_cli: Run, files: dict[str, Path], tmp_path: Path) -> None:
    policy = tmp_path / "trust.yaml"
    policy.write_text("version: 1\nsigners:\n  - name: release\n    key: release.pub\n")
    receipt = tmp_path / "p.json"
    r = run_cli(
        "evidence",
        "verify",
        files["ev"],
        "--vcek",
        files["vcek"],
        "--manifest",
        files["bundle"],
        "--policy",
        policy,
        "--at",
        AT,
        "--receipt",
        receipt,
    )
    assert r.code == 0, r.stderr
    files["pub"].unlink()
    r = run_cli("evidence", "verify-receipt", receipt)
    assert r.code == 0, r.stdout + r.stderr


def test_show(run_cli: Run, files: dict[str, Path]) -> None:
    r = run_cli("evidence", "show", files["ev"])
    assert r.code == 0
    assert f"measurement: {make_evidence()[0x49:0x79].hex()}" in r.stdout
    assert "signature.der: " in r.stdout
    doc = json.loads(run_cli("evidence", "show", files["tdx"], "--json").stdout)
    assert doc["family"] == "tdx"
    assert set(doc["fields"]) == {"debug", "reportData", "measurement", "signature"}


def test_fetch_with_a_fake_opener(
    run_cli: Run,
    files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fams: tuple[Family, ...],
) -> None:
    import refkit.evidence.fetching as fetching

    urls: list[str] = []

    def opener(url: str) -> bytes:
        urls.append(url)
        return public_pem(vcek_key())

    monkeypatch.setattr(fetching, "http_opener", lambda **_: opener)
    cache_dir = tmp_path / "cache"
    r = run_cli("evidence", "fetch", files["ev"], "--cache", cache_dir, "--json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert len(urls) == 1
    assert doc["verifyOptions"] == [f"--vcek {doc['certificates'][0]}"]
    r = run_cli("evidence", "fetch", files["ev"], "--cache", cache_dir)
    assert r.code == 0
    assert len(urls) == 1  # cached: no second request
    assert "verify with: refkit evidence verify" in r.stdout
    r = run_cli("evidence", "verify", files["ev"], "--vcek", doc["certificates"][0])
    assert r.code == 0


def test_default_cache_dir() -> None:
    from refkit.evidence.fetching import default_cache_dir

    assert default_cache_dir({"XDG_CACHE_HOME": "/c", "HOME": "/h"}) == Path("/c/refkit/evidence")
    assert default_cache_dir({"XDG_CACHE_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.cache/refkit/evidence"
    )


def test_help_teaches(run_cli: Run) -> None:
    for args in (
        ["evidence"],
        ["evidence", "verify"],
        ["evidence", "show"],
        ["evidence", "fetch"],
        ["evidence", "verify-receipt"],
    ):
        r = run_cli(*args, "--help")
        assert r.code == 0
        assert "refkit evidence" in r.stdout
        assert "xample" in r.stdout


def test_input_files_refused_cleanly(run_cli: Run, files: dict[str, Path], tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * ((1 << 20) + 1))
    for args in (
        [tmp_path / "absent.bin", "--vcek", files["vcek"]],
        [big, "--vcek", files["vcek"]],
        [files["ev"], "--vcek", tmp_path / "absent.pem"],
        [files["ev"], "--certs", tmp_path / "absent-dir"],
        [files["ev"], "--vcek", files["vcek"], "--manifest", tmp_path / "absent.json",
         "--key", files["pub"]],
    ):  # fmt: skip
        r = run_cli("evidence", "verify", *args)
        assert r.code == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_too_many_files_in_certs(run_cli: Run, files: dict[str, Path], tmp_path: Path) -> None:
    many = tmp_path / "many"
    many.mkdir()
    for i in range(1001):
        (many / f"{i}.pem").write_bytes(b"x")
    r = run_cli("evidence", "verify", files["ev"], "--certs", many)
    assert r.code == 2
    assert "more than 1000 files" in r.stderr
