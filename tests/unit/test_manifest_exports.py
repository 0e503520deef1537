"""Exports: golden files derived by hand from each upstream format (see assets README)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode, InputError, UnsupportedInput
from refkit.manifests.authoring import build_statement
from refkit.manifests.canonical import canonical_dumps, is_canonical
from refkit.manifests.exports import contrast, rvps, vsa
from refkit.manifests.statement import Statement, parse_statement
from refkit.yamlio import load_yaml
from tests.manifest_support import ASSETS, example_statement
from tests.manifest_support import vsa_outcome as _outcome

EXPORTS = ASSETS / "exports"
SIGNING_ASSETS = ASSETS.parent / "signing"


def _input() -> Statement:
    data = (EXPORTS / "input.yaml").read_bytes()
    return build_statement(
        load_yaml(data, source="input.yaml"), source="input.yaml", created=None, refkit_version="x"
    )


def _golden(name: str) -> Any:
    return json.loads((EXPORTS / name).read_text(encoding="utf-8"))


def test_contrast_golden() -> None:
    out = contrast.export(_input())
    assert out.warnings == ()
    assert json.loads(out.data) == _golden("contrast.json")
    # Go's json.MarshalIndent order: struct declaration order, not sorted
    assert out.data.decode() == (EXPORTS / "contrast.json").read_text(encoding="utf-8")


def test_rvps_message_golden() -> None:
    out = rvps.message(_input())
    doc = json.loads(out.data)
    assert list(doc) == ["version", "type", "payload"]
    assert doc["version"] == "0.1.0"
    assert doc["type"] == "sample"
    payload = base64.b64decode(doc["payload"], validate=True)  # standard alphabet, padded
    assert base64.standard_b64encode(payload).decode() == doc["payload"]
    assert json.loads(payload) == _golden("rvps-payload.json")
    assert any("12 months" in w for w in out.warnings)
    assert any("chip IDs" in w for w in out.warnings)


def test_rvps_stored_values_carry_expiry() -> None:
    out = rvps.stored_values(_input())
    doc = json.loads(out.data)
    expected = _golden("rvps-payload.json")
    assert [e["name"] for e in doc] == sorted(expected)
    for entry in doc:
        assert list(entry) == ["version", "name", "expiration", "value"]
        assert entry["version"] == "0.1.0"
        assert entry["expiration"] == "2026-09-01T12:00:00Z"
        assert entry["value"] == expected[entry["name"]]


def test_rvps_values_need_expiry() -> None:
    value = _input().to_json()
    del value["predicate"]["release"]["expires"]
    with pytest.raises(UnsupportedInput, match="expiration"):
        rvps.stored_values(parse_statement(value, source="t"))


def test_vsa_golden() -> None:
    out = vsa.export(_input(), _outcome())
    assert is_canonical(out.data, source="vsa")
    assert json.loads(out.data) == _golden("vsa.json")


def test_vsa_failed_records_failed_level() -> None:
    doc = vsa.vsa_statement(_input(), _outcome(result=vsa.Result.FAILED))
    assert doc["predicate"]["verificationResult"] == "FAILED"
    assert doc["predicate"]["verifiedLevels"] == ["FAILED"]


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"verifier_id": "not a uri"}, "not a URI"),
        ({"verified_levels": ("SLSA_BUILD_LEVEL_3", "SLSA_BUILD_LEVEL_2")}, "more than one"),
        ({"verified_levels": ("SLSA_MADE_UP",)}, "not a SLSA level"),
        ({"verified_levels": ("FAILED",)}, "FAILED"),
        ({"verified_levels": ()}, "empty"),
        ({"policy_digest": {"sha256": "AB" * 32}}, "lower-case"),
        ({"slsa_version": "1"}, "MAJOR.MINOR"),
    ],
)
def test_vsa_refuses_bad_outcomes(kw: dict[str, Any], needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        vsa.vsa_statement(_input(), _outcome(**kw))


def test_vsa_accepts_custom_and_property_levels() -> None:
    levels = ("SLSA_BUILD_REPRODUCED", "SLSA_BUILD_LEVEL_2", "ORG_REFKIT_MEASURED")
    doc = vsa.vsa_statement(_input(), _outcome(verified_levels=levels))
    assert doc["predicate"]["verifiedLevels"] == list(levels)


def test_contrast_needs_declared_values() -> None:
    value = _input().to_json()
    del value["predicate"]["declared"]
    with pytest.raises(UnsupportedInput, match="declared"):
        contrast.export(parse_statement(value, source="t"))


def test_contrast_warns_about_what_it_leaves_out() -> None:
    statement = parse_statement(example_statement(), source="t")
    out = contrast.export(statement)
    text = " ".join(out.warnings)
    for needle in ("tdAttributes", "vTPM", "policy hashes", "GPU", "models"):
        assert needle in text
    doc = json.loads(out.data)
    assert {s["CPUs"] for s in doc["snp"]} == {4, 8}


def test_contrast_skips_unsupported_products_and_vmms() -> None:
    value = _input().to_json()
    snp = value["predicate"]["referenceValues"]["snp"]
    turin = copy.deepcopy(snp[0])
    turin["product"] = "Turin"
    ec2 = copy.deepcopy(snp[0])
    ec2["shape"]["vmm"]["type"] = "ec2"
    snp.extend([turin, ec2])
    out = contrast.export(parse_statement(value, source="t"))
    assert len(json.loads(out.data)["snp"]) == 1
    assert any("Milan and Genoa" in w for w in out.warnings)
    assert any("QEMU" in w for w in out.warnings)


def test_contrast_product_less_entry_uses_declared_products() -> None:
    value = _input().to_json()
    del value["predicate"]["referenceValues"]["snp"][0]["product"]
    doc = json.loads(contrast.export(parse_statement(value, source="t")).data)
    assert [s["ProductName"] for s in doc["snp"]] == ["Genoa"]


def test_policy_bits_round_trip() -> None:
    policy = contrast.guest_policy(0x3F_0000 | 0x0102)
    assert policy["ABIMajor"] == 1
    assert policy["ABIMinor"] == 2
    assert policy["SMT"]
    assert policy["MigrateMA"]
    assert policy["Debug"]
    assert policy["CXLAllowed"]
    info = contrast.platform_info(0x80)
    assert info["TIOEnabled"]
    assert not info["SMTEnabled"]


# ----------------------------------------------------------------------------- CLI


def _built(tmp_path: Path, run_cli: Callable[..., Any]) -> Path:
    out = tmp_path / "in.json"
    r = run_cli("manifest", "build", EXPORTS / "input.yaml", "-o", out)
    assert r.code == 0, r.stderr
    return out


def test_cli_export_contrast(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    src = _built(tmp_path, run_cli)
    r = run_cli("manifest", "export", src, "--format", "contrast")
    assert r.code == 0
    assert json.loads(r.stdout) == _golden("contrast.json")


def test_cli_export_vsa(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    src = _built(tmp_path, run_cli)
    out = tmp_path / "vsa.json"
    args = [
        "manifest", "export", src, "--format", "vsa", "-o", out,
        "--verifier-id", "https://refkit.dev/verifiers/example",
        "--result", "PASSED",
        "--time-verified", "2026-03-02T08:30:00Z",
        "--resource-uri", "https://github.com/example/service/releases/2.0.0",
        "--policy-uri", "https://example.com/trust-policy.yaml",
        "--policy-digest", "sha256:" + "0f" * 32,
        "--manifest-uri", "https://example.com/release.bundle.json",
    ]  # fmt: skip
    r = run_cli(*args)
    assert r.code == 0, r.stderr
    doc = json.loads(out.read_bytes())
    expected = _golden("vsa.json")
    expected["predicate"]["inputAttestations"][0]["digest"] = {
        "sha256": hashlib.sha256(src.read_bytes()).hexdigest()
    }
    del expected["predicate"]["slsaVersion"]
    assert doc == expected
    assert out.read_bytes() == canonical_dumps(doc)
    # --slsa-version gives the golden's slsaVersion
    r = run_cli(*args, "--slsa-version", "1.2", "--force")
    assert r.code == 0, r.stderr
    expected["predicate"]["slsaVersion"] = "1.2"
    assert json.loads(out.read_bytes()) == expected


def test_cli_export_vsa_needs_outcome(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    src = _built(tmp_path, run_cli)
    r = run_cli("manifest", "export", src, "--format", "vsa")
    assert r.code == ExitCode.BAD_INPUT
    assert "--verifier-id" in r.stderr
    assert "--time-verified" in r.stderr


def test_cli_vsa_options_refused_elsewhere(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    src = _built(tmp_path, run_cli)
    r = run_cli("manifest", "export", src, "--format", "rvps", "--result", "PASSED")
    assert r.code == ExitCode.BAD_INPUT
    assert "only apply to --format vsa" in r.stderr
    r = run_cli("manifest", "export", src, "--format", "rvps", "--slsa-version", "1.0")
    assert r.code == ExitCode.BAD_INPUT
    assert "only apply to --format vsa" in r.stderr


_VSA_ARGS = {
    "--verifier-id": "https://refkit.dev/verifiers/example",
    "--result": "PASSED",
    "--time-verified": "2026-03-02T08:30:00Z",
    "--resource-uri": "https://github.com/example/service/releases/2.0.0",
    "--policy-uri": "https://example.com/trust-policy.yaml",
}


def _vsa_args(**change: str) -> list[str]:
    values = dict(_VSA_ARGS)
    for flag, value in change.items():
        values["--" + flag.replace("_", "-")] = value
    return [part for item in values.items() for part in item]


@pytest.mark.parametrize("flag", ["verifier_id", "resource_uri", "policy_uri", "time_verified"])
@pytest.mark.parametrize("value", ["", "  "])
def test_cli_export_vsa_empty_options_are_exit_2(
    tmp_path: Path, run_cli: Callable[..., Any], flag: str, value: str
) -> None:
    """Issue 11 item 9: an empty --verifier-id (or URI) hit an assert: exit 4."""
    src = _built(tmp_path, run_cli)
    r = run_cli("manifest", "export", src, "--format", "vsa", *_vsa_args(**{flag: value}))
    assert r.code == ExitCode.BAD_INPUT, r.stderr
    assert f"--{flag.replace('_', '-')} is empty" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_export_vsa_empty_level_is_exit_2(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    src = _built(tmp_path, run_cli)
    r = run_cli("manifest", "export", src, "--format", "vsa", *_vsa_args(), "--verified-level", "")
    assert r.code == ExitCode.BAD_INPUT
    assert "verifiedLevels" in r.stderr


@pytest.mark.parametrize(
    ("version", "needle"),
    [
        ("1", "MAJOR.MINOR"),
        ("1.02", "MAJOR.MINOR"),
        ("v1.0", "MAJOR.MINOR"),
        ("1.0 ", "MAJOR.MINOR"),
        ("\uff11.\uff10", "MAJOR.MINOR"),  # full-width digits are not ASCII digits
        ("\u0661.\u0660", "MAJOR.MINOR"),  # nor are Arabic-Indic ones
        ("1.3", "not a SLSA version with VSA v1"),
        ("0.2", "not a SLSA version with VSA v1"),
    ],
)
def test_cli_export_vsa_slsa_version_is_validated(
    tmp_path: Path, run_cli: Callable[..., Any], version: str, needle: str
) -> None:
    src = _built(tmp_path, run_cli)
    args = ["manifest", "export", src, "--format", "vsa", *_vsa_args()]
    r = run_cli(*args, "--slsa-version", version)
    assert r.code == ExitCode.BAD_INPUT, r.stderr
    assert needle in r.stderr
    assert "1.0, 1.1, 1.2" in r.stderr


@pytest.mark.parametrize("version", vsa.SLSA_VERSIONS)
def test_cli_export_vsa_slsa_versions(
    tmp_path: Path, run_cli: Callable[..., Any], version: str
) -> None:
    src = _built(tmp_path, run_cli)
    r = run_cli(
        "manifest", "export", src, "--format", "vsa", *_vsa_args(), "--slsa-version", version
    )
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["predicate"]["slsaVersion"] == version


def test_cli_vsa_export_sign_and_read_back(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    """Issue 11 item 7: `manifest sign` refused the VSA `export --format vsa` writes."""
    from refkit.manifests.signing.bundle import parse_bundle

    src = _built(tmp_path, run_cli)
    out = tmp_path / "vsa.json"
    args = ["manifest", "export", src, "--format", "vsa", *_vsa_args(), "--slsa-version", "1.1"]
    assert run_cli(*args, "-o", out).code == 0
    key = SIGNING_ASSETS / "test-ed25519.key"
    bundle = tmp_path / "vsa.bundle.json"

    r = run_cli("manifest", "sign", out, "--key", key, "-o", bundle)
    assert r.code == ExitCode.BAD_INPUT
    assert "is not accepted for signing" in r.stderr
    assert f"--predicate-type {vsa.VSA_PREDICATE_TYPE}" in r.stderr
    assert not bundle.exists()

    r = run_cli("manifest", "sign", out, "--key", key, "-o", bundle,
                "--predicate-type", vsa.VSA_PREDICATE_TYPE)  # fmt: skip
    assert r.code == 0, r.stderr
    parsed = parse_bundle(bundle.read_bytes(), source="b")
    assert parsed.envelope is not None
    assert parsed.envelope.payload == out.read_bytes()
    read = vsa.read_vsa(parsed.envelope.payload, source="payload")
    assert read.outcome.slsa_version == "1.1"
    assert [name for name, _ in read.subjects] == [s.name for s in _input().subjects]

    # the refkit manifest is refused when only the VSA type is accepted, and vice versa
    r = run_cli("manifest", "sign", src, "--key", key, "-o", tmp_path / "m.bundle.json",
                "--predicate-type", vsa.VSA_PREDICATE_TYPE)  # fmt: skip
    assert r.code == ExitCode.BAD_INPUT
    assert "--predicate-type https://refkit.dev/reference-manifest/v1" in r.stderr


def test_cli_sign_refuses_types_it_cannot_validate(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    src = _built(tmp_path, run_cli)
    key = SIGNING_ASSETS / "test-ed25519.key"
    provenance = "https://slsa.dev/provenance/v1"
    r = run_cli("manifest", "sign", src, "--key", key, "-o", tmp_path / "b",
                "--predicate-type", provenance)  # fmt: skip
    assert r.code == ExitCode.BAD_INPUT
    assert "cannot validate statements of predicate type" in r.stderr
    assert not (tmp_path / "b").exists()


def test_cli_export_warnings_on_stderr(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    src = _built(tmp_path, run_cli)
    r = run_cli("manifest", "export", src, "--format", "rvps")
    assert r.code == 0
    assert "warning:" in r.stderr
    assert "warning" not in r.stdout
    json.loads(r.stdout)


def test_cli_unsupported_is_exit_2(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    value = _input().to_json()
    del value["predicate"]["declared"]
    src = tmp_path / "x.json"
    src.write_bytes(canonical_dumps(value))
    r = run_cli("manifest", "export", src, "--format", "contrast")
    assert r.code == ExitCode.BAD_INPUT
    assert "declared" in r.stderr


def test_contrast_nil_versus_empty_allow_lists() -> None:
    value = _input().to_json()
    del value["predicate"]["declared"]["snp"][0]["allowedChipIds"]
    value["predicate"]["declared"]["tdx"][0]["allowedPiids"] = []  # a list per module (1.1)
    doc = json.loads(contrast.export(parse_statement(value, source="t")).data)
    assert doc["snp"][0]["AllowedChipIDs"] is None
    assert doc["tdx"][0]["AllowedPIIDs"] == []
