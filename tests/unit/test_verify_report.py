"""manifest verify and inputs verify through the one model and renderer: codes in the text
and JSON forms, fail closed on what the manifest model does not understand, other
predicate types accepted on purpose, `--at` before `created` reported as such."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode, Location, NotUnderstood
from refkit.manifests.canonical import canonical_dumps
from refkit.manifests.exports import vsa
from refkit.manifests.signing import statements as statements_module
from refkit.manifests.signing.bundle import dump_bundle, key_bundle
from refkit.manifests.signing.dsse import sign_envelope
from refkit.manifests.signing.keys import KeyType, PrivateKey, cosign_hint
from refkit.manifests.signing.policy import KeySigner, TrustPolicy, key_signer_name
from refkit.manifests.signing.verify import PreviousRelease, verify_manifest
from refkit.manifests.statement import load_statement
from refkit.verification import Outcome
from tests.signing_support import ASSETS, key, sign, statement, write_pub

Run = Callable[..., Any]
VSA = vsa.VSA_PREDICATE_TYPE
AT = datetime(2026, 12, 1, tzinfo=UTC)  # release.json: created 2026-11-01, expires 2027-02-01
PUB = ASSETS / "test-ed25519.key.pub"
GOLDEN = ASSETS / "release.ed25519.bundle.json"


def _policy(k: PrivateKey, **kw: Any) -> TrustPolicy:
    return TrustPolicy(signers=(KeySigner(key_signer_name(k.public_key()), k.public_key()),), **kw)


# --- text and JSON through the renderer ---------------------------------------------------


def test_manifest_verify_text_has_one_line_per_check_with_its_code(run_cli: Run) -> None:
    r = run_cli("manifest", "verify", GOLDEN, "--key", PUB, "--at", "2026-12-01T00:00:00Z")
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "VERIFIED: example-service 1.2.0"
    tags = [line.split()[:2] for line in lines if line.startswith("  PASS")]
    assert tags == [
        ["PASS", "manifest.signature.verified"],
        ["PASS", "manifest.threshold.met"],
        ["PASS", "manifest.predicate-type.accepted"],
        ["PASS", "manifest.not-expired"],
    ]
    # The payload digest (a hex value) stays whole on one line, however wide the terminal.
    digest = json.loads(
        run_cli(
            "manifest", "verify", GOLDEN, "--key", PUB, "--at", "2026-12-01T00:00:00Z", "--json"
        ).stdout
    )["payloadSha256"]
    assert any(digest in line for line in lines)


def test_manifest_verify_json_has_code_outcome_anchor_per_check(run_cli: Run) -> None:
    r = run_cli("manifest", "verify", GOLDEN, "--key", PUB, "--at", "2026-12-01T00:00:00Z",
                "--json")  # fmt: skip
    doc = json.loads(r.stdout)
    assert doc["ok"] is True
    assert doc["summary"] == {"pass": 4, "fail": 0, "not-checked": 0, "required-not-checked": 0}
    for check in doc["checks"]:
        assert {"check", "ok", "detail", "code", "outcome", "anchor"} <= set(check)
    # The signed content rests on the verified key, named by the hex key id keygen prints.
    from refkit.manifests.signing.keys import load_public_key

    key_id = load_public_key(PUB.read_bytes(), source="pub").key_id
    threshold = next(c for c in doc["checks"] if c["check"] == "threshold")
    assert threshold["anchor"]["kind"] == "signers"
    assert threshold["anchor"]["signers"][0]["keyId"] == key_id
    assert doc["bundles"][0]["code"] == "manifest.signature.verified"
    assert doc["bundles"][0]["anchor"]["keyId"] == key_id


def test_failure_codes_reach_stderr_and_json(run_cli: Run) -> None:
    r = run_cli("manifest", "verify", GOLDEN, "--key", PUB, "--at", "2027-03-01T00:00:00Z")
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "  FAIL  manifest.expired" in r.stdout
    assert "[manifest.expired]" in r.stderr
    r = run_cli("manifest", "verify", GOLDEN, "--key", PUB, "--at", "2027-03-01T00:00:00Z",
                "--json")  # fmt: skip
    doc = json.loads(r.stdout)
    assert [c["code"] for c in doc["checks"] if not c["ok"]] == ["manifest.expired"]


def test_at_before_created_is_its_own_code(run_cli: Run) -> None:
    """Was reported as "FAIL expiry"; the manifest did not exist yet at --at."""
    r = run_cli("manifest", "verify", GOLDEN, "--key", PUB, "--at", "2026-10-01T00:00:00Z")
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "FAIL  manifest.not-yet-valid" in r.stdout
    assert "created 2026-11-01T00:00:00Z, after the verification time" in r.stdout
    assert "manifest.expired" not in r.stdout


def test_missing_expiry_is_not_checked_unless_required() -> None:
    k = key(KeyType.ED25519)
    b = [("b.json", sign(statement(expires=None), k))]
    r = verify_manifest(b, _policy(k), at=AT)
    assert r.ok
    absent = next(c for c in r.checks if c.code == "manifest.expiry.absent")
    assert absent.outcome is Outcome.NOT_CHECKED
    assert not absent.required
    r = verify_manifest(b, _policy(k, require_expiry=True), at=AT)
    assert not r.ok
    assert [c.code for c in r.verdict.failures] == ["manifest.expiry.absent"]


def test_untrusted_key_is_named_by_hex_key_id() -> None:
    """Key ids were hex in one message and base64 (the cosign hint) in another."""
    signer, trusted = key(KeyType.ED25519, 7), key(KeyType.ECDSA_P256, 7)
    r = verify_manifest([("b.json", sign(statement(), signer))], _policy(trusted), at=AT)
    assert r.bundles[0].result.code == "manifest.signer.untrusted"
    assert f"key id {signer.public_key().key_id[:16]}" in r.bundles[0].detail


def test_bad_extra_cosigner_is_a_note_not_a_failure(run_cli: Run, tmp_path: Path) -> None:
    k1, k2 = key(KeyType.ED25519, 1), key(KeyType.ECDSA_P256, 1)
    (tmp_path / "a.json").write_bytes(sign(statement(), k1))
    (tmp_path / "b.json").write_bytes(sign(statement(), key(KeyType.ED25519, 9)))
    r = run_cli("manifest", "verify", tmp_path / "a.json", tmp_path / "b.json",
                "--key", write_pub(tmp_path, k1, "k1"), "--key", write_pub(tmp_path, k2, "k2"),
                "--at", "2026-12-01T00:00:00Z")  # fmt: skip
    assert r.code == 0, r.stderr
    assert "note: " in r.stdout
    assert "not counted: the threshold was met without it" in r.stdout


# --- fail closed: what the manifest model does not understand ------------------------------


@pytest.mark.parametrize("code", ["manifest.constraint.unknown", "manifest.schema.newer"])
def test_not_understood_is_a_failure_with_its_code(
    monkeypatch: pytest.MonkeyPatch, run_cli: Run, code: str
) -> None:
    """The manifest model raises NotUnderstood for an unknown constraint field or a newer
    minor schemaVersion; verification reports that code and exits 1, never passes."""

    def refuse(value: Any, *, source: str, schema: bool = True) -> Any:
        raise NotUnderstood(
            "unknown field 'rtmr9'", location=Location(source, field="$.predicate"), code=code
        )

    monkeypatch.setattr(statements_module, "parse_statement", refuse)
    k = key(KeyType.ED25519)
    r = verify_manifest([("b.json", sign(statement(), k))], _policy(k), at=AT)
    assert not r.ok
    assert [c.code for c in r.verdict.failures] == [code]
    r = run_cli("manifest", "verify", GOLDEN, "--key", PUB, "--at", "2026-12-01T00:00:00Z")
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert f"FAIL  {code}" in r.stdout
    assert f"[{code}]" in r.stderr


# --- other predicate types, accepted on purpose ---------------------------------------------


def _vsa() -> bytes:
    """A VSA as `refkit manifest export --format vsa` writes it, for release.json."""
    outcome = vsa.VerificationOutcome(
        verifier_id="https://verifier.example/refkit",
        result=vsa.Result.PASSED,
        time_verified=datetime(2026, 11, 2, tzinfo=UTC),
        resource_uri="https://example.com/release/1.2.0",
        policy_uri="https://example.com/policy",
    )
    return canonical_dumps(vsa.vsa_statement(load_statement(statement(), source="t"), outcome))


def _signed_vsa(k: PrivateKey) -> bytes:
    env = sign_envelope(_vsa(), k)
    return dump_bundle(key_bundle(env, cosign_hint(k.public_key())))


def test_vsa_is_refused_unless_its_type_is_accepted() -> None:
    k = key(KeyType.ED25519)
    r = verify_manifest([("vsa.json", _signed_vsa(k))], _policy(k), at=AT)
    assert not r.ok
    assert [c.code for c in r.verdict.failures] == ["manifest.predicate-type.refused"]
    assert r.verified_signers  # the signature was fine


def test_accepted_vsa_verifies_signatures_and_type_and_skips_release_checks() -> None:
    k = key(KeyType.ED25519)
    policy = _policy(k, predicate_types=(VSA,))
    r = verify_manifest([("vsa.json", _signed_vsa(k))], policy, at=AT)
    assert r.ok, r.failure
    assert r.predicate_type == VSA
    by_code = {c.code: c for c in r.checks}
    assert by_code["manifest.predicate-type.accepted"].outcome is Outcome.PASS
    assert by_code["manifest.expiry.not-checked"].outcome is Outcome.NOT_CHECKED
    assert not by_code["manifest.expiry.not-checked"].required


@pytest.mark.parametrize(
    ("policy_kw", "call_kw", "code"),
    [
        ({"require_expiry": True}, {}, "manifest.expiry.not-checked"),
        ({"release_name": "example-service"}, {}, "manifest.release-name.not-checked"),
        ({"min_version": "1.0.0"}, {}, "manifest.rollback.not-checked"),
        ({}, {"min_version": "1.0.0"}, "manifest.rollback.not-checked"),
        ({"schema_versions": ("1.0",)}, {}, "manifest.schema-version.not-checked"),
        (
            {},
            {"previous": PreviousRelease("example-service", "1.0.0", "prev")},
            "manifest.release-name.not-checked",
        ),
    ],
)
def test_accepted_vsa_fails_when_a_required_release_check_cannot_be_made(
    policy_kw: dict[str, Any], call_kw: dict[str, Any], code: str
) -> None:
    k = key(KeyType.ED25519)
    policy = _policy(k, predicate_types=(VSA,), **policy_kw)
    r = verify_manifest([("vsa.json", _signed_vsa(k))], policy, at=AT, **call_kw)
    assert not r.ok
    assert code in [c.code for c in r.verdict.failures]
    assert all(c.outcome is Outcome.NOT_CHECKED for c in r.verdict.failures)


def test_cli_predicate_type_option(run_cli: Run, tmp_path: Path) -> None:
    k = key(KeyType.ED25519)
    bundle = tmp_path / "vsa.bundle.json"
    bundle.write_bytes(_signed_vsa(k))
    pub = write_pub(tmp_path, k, "k")
    r = run_cli("manifest", "verify", bundle, "--key", pub)
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "manifest.predicate-type.refused" in r.stdout
    r = run_cli("manifest", "verify", bundle, "--key", pub, "--predicate-type", VSA)
    assert r.code == 0, r.stderr
    assert f"VERIFIED: {VSA}" in r.stdout
    assert "SKIP  manifest.expiry.not-checked" in r.stdout
    r = run_cli("manifest", "verify", bundle, "--key", pub, "--predicate-type",
                VSA, "--min-version", "1.0.0")  # fmt: skip
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "(not checked; required)" in r.stdout
    # Only the named types are accepted: a refkit manifest is refused now.
    r = run_cli("manifest", "verify", GOLDEN, "--key", PUB, "--predicate-type", VSA)
    assert r.code == ExitCode.VERIFICATION_FAILED
    r = run_cli("manifest", "verify", bundle, "--policy", ASSETS / "policy.yaml",
                "--predicate-type", VSA)  # fmt: skip
    assert r.code == ExitCode.BAD_INPUT
    assert "--predicate-type" in r.stderr


def test_policy_accepts_vsa(run_cli: Run, tmp_path: Path) -> None:
    k = key(KeyType.ED25519)
    bundle = tmp_path / "vsa.bundle.json"
    bundle.write_bytes(_signed_vsa(k))
    write_pub(tmp_path, k, "k")
    policy = tmp_path / "p.yaml"
    policy.write_text(
        f"version: 1\nsigners:\n  - key: k.pub\naccept:\n  predicate-types: [{VSA}]\n"
    )
    r = run_cli("manifest", "verify", bundle, "--policy", policy)
    assert r.code == 0, r.stderr


def test_accepted_foreign_statement_frame_is_still_checked() -> None:
    k = key(KeyType.ED25519)
    doc = json.loads(_vsa())
    doc["subject"] = []
    env = sign_envelope(canonical_dumps(doc), k)
    bundle = dump_bundle(key_bundle(env, cosign_hint(k.public_key())))
    policy = _policy(k, predicate_types=(VSA,))
    r = verify_manifest([("vsa.json", bundle)], policy, at=AT)
    assert [c.code for c in r.verdict.failures] == ["manifest.invalid"]


# --- inputs verify --------------------------------------------------------------------------


def test_inputs_verify_report(run_cli: Run, tmp_path: Path) -> None:
    from refkit.inputs.lock import DebianPackage, ExtractSpec, Lock, dumps_lock

    data = b"pinned content\n"
    import hashlib

    spec = ExtractSpec("usr/share/x", "x.bin", len(data), hashlib.sha256(data).hexdigest())
    package = DebianPackage(
        name="pkg", version="1", architecture="all", suite="sid", component="main", source="pkg",
        filename="pkg_1_all.deb", size=1, sha256="0" * 64, extract=(spec,),
    )  # fmt: skip
    lock = tmp_path / "lock.json"
    lock.write_text(dumps_lock(Lock((package,))))
    out = tmp_path / "out"
    out.mkdir()
    r = run_cli("inputs", "verify", lock, "--out", out)
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "FAIL  inputs.file.missing" in r.stdout
    (out / "x.bin").write_bytes(b"pinned contenT\n")
    r = run_cli("inputs", "verify", lock, "--out", out, "--json")
    doc = json.loads(r.stdout)
    assert doc["results"][0]["code"] == "inputs.digest.mismatch"
    assert doc["outputs"][0]["status"] == "different"
    (out / "x.bin").write_bytes(data)
    r = run_cli("inputs", "verify", lock, "--out", out)
    assert r.code == 0, r.stderr
    assert "PASS  inputs.digest.match" in r.stdout
    assert spec.sha256 in r.stdout
