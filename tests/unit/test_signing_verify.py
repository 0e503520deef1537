"""Signing and verifying manifests end to end: tampering, co-signing, policy, CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import ExitCode, InputError, ParseError
from refkit.manifests.signing.keys import KeyType, PrivateKey, cosign_hint
from refkit.manifests.signing.policy import KeySigner, TrustPolicy, key_signer_name
from refkit.manifests.signing.verify import PreviousRelease, verify_manifest
from tests.shared import vector
from tests.signing_support import (
    ASSETS,
    flip_b64,
    key,
    mutate_bundle,
    sign,
    statement,
    write_pub,
)

AT = datetime(2026, 12, 1, tzinfo=UTC)  # release.json: created 2026-11-01, expires 2027-02-01
Run = Callable[..., Any]


def _policy(*keys: PrivateKey, threshold: int = 1, **kw: Any) -> TrustPolicy:
    signers = tuple(KeySigner(key_signer_name(k.public_key()), k.public_key()) for k in keys)
    return TrustPolicy(signers=signers, threshold=threshold, **kw)


def _verify(bundles: list[bytes], policy: TrustPolicy, **kw: Any) -> Any:
    kw.setdefault("at", AT)
    return verify_manifest([(f"b{i}.json", b) for i, b in enumerate(bundles)], policy, **kw)


def _outcome(bundle: bytes, policy: TrustPolicy) -> int:
    """0 verified, 1 verification failed, 2 bad input; anything else propagates."""
    try:
        result = _verify([bundle], policy)
    except InputError:
        return 2
    return 0 if result.ok else 1


@pytest.mark.parametrize("kind", list(KeyType))
def test_sign_then_verify(kind: KeyType) -> None:
    k = key(kind)
    r = _verify([sign(statement(), k)], _policy(k))
    assert r.ok, r.failure
    assert r.verified_signers == (key_signer_name(k.public_key()),)
    assert r.release is not None
    assert r.release.version == "1.2.0"
    assert r.at == AT
    assert r.payload == statement()


# --- tampering -----------------------------------------------------------------------


def test_every_single_bit_flip_in_the_bundle_file_is_refused() -> None:
    """Flip the low bit of each byte of the file: never a pass, never a crash."""
    k = key(KeyType.ED25519)
    policy = _policy(k)
    good = sign(statement(), k)
    assert _outcome(good, policy) == 0
    codes = set()
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x01
        code = _outcome(bytes(bad), policy)
        assert code in (1, 2), f"byte {i}: {good[max(0, i - 20) : i + 20]!r} -> {code}"
        codes.add(code)
    assert codes == {1, 2}


@pytest.mark.parametrize("kind", list(KeyType))
@pytest.mark.parametrize(
    ("path", "change", "code"),
    [
        (("dsseEnvelope", "payload"), lambda v: flip_b64(v, 0), 1),
        (("dsseEnvelope", "payload"), lambda v: flip_b64(v, 1000), 1),
        (("dsseEnvelope", "payload"), lambda v: flip_b64(v, -1), 1),
        (("dsseEnvelope", "payload"), lambda v: v[:-4], 1),
        (("dsseEnvelope", "payload"), lambda v: "*" + v[1:], 2),
        (("dsseEnvelope", "signatures", 0, "sig"), lambda v: flip_b64(v, 5), 1),
        (("dsseEnvelope", "signatures", 0, "sig"), lambda v: flip_b64(v, -1), 1),
        (("dsseEnvelope", "payloadType"), lambda v: v + " ", 1),
        (("dsseEnvelope", "payloadType"), lambda v: "application/json", 1),
        (("verificationMaterial", "publicKey", "hint"), lambda v: flip_b64(v, 3), 1),
        (("mediaType",), lambda v: v.replace("0.3", "0.4"), 2),
        (("mediaType",), lambda v: "application/json", 2),
    ],
)
def test_tamper_classes(kind: KeyType, path: tuple[Any, ...], change: Any, code: int) -> None:
    k = key(kind)
    assert _outcome(mutate_bundle(sign(statement(), k), path, change), _policy(k)) == code


def test_payload_type_change_with_a_valid_signature_is_not_a_manifest() -> None:
    """A correctly signed envelope of another payload type is refused after the signature."""
    from refkit.manifests.signing.bundle import dump_bundle, key_bundle
    from refkit.manifests.signing.dsse import sign_envelope

    k = key(KeyType.ECDSA_P256)
    env = sign_envelope(statement(), k, payload_type="application/json")
    r = _verify([dump_bundle(key_bundle(env, cosign_hint(k.public_key())))], _policy(k))
    assert not r.ok
    assert "application/json" in (r.failure or "")
    assert r.verified_signers  # the signature was fine


def test_empty_hint_tries_every_trusted_key() -> None:
    """The hint is unsigned: an empty one is allowed (protobuf default) and changes nothing."""
    k = key(KeyType.ECDSA_P384)
    bundle = mutate_bundle(
        sign(statement(), k), ("verificationMaterial", "publicKey", "hint"), lambda v: ""
    )
    assert _verify([bundle], _policy(key(KeyType.ED25519), k)).ok


def test_untrusted_key_fails_naming_the_hint() -> None:
    r = _verify([sign(statement(), key(KeyType.ED25519, 7))], _policy(key(KeyType.ED25519)))
    assert not r.ok
    assert "untrusted key" in r.bundles[0].detail
    assert "0 of 1" in (r.failure or "")


# --- co-signing ----------------------------------------------------------------------


SIGNERS = [
    key(KeyType.ECDSA_P256, 1),
    key(KeyType.ECDSA_P384, 1),
    key(KeyType.ED25519, 1),
    key(KeyType.ECDSA_P256, 2),
]


@pytest.mark.parametrize("threshold", [1, 2, 3, 4])
def test_three_cosigners_against_thresholds(threshold: int) -> None:
    """Four trusted keys, three of them co-sign: thresholds 1-3 pass, 4 fails."""
    bundles = [sign(statement(), k) for k in SIGNERS[:3]]
    r = _verify(bundles, _policy(*SIGNERS, threshold=threshold))
    assert r.ok is (threshold <= 3), r.failure
    assert len(r.verified_signers) == 3
    assert r.missing_signers == (key_signer_name(SIGNERS[3].public_key()),)
    if threshold == 4:
        assert r.failure == "3 of 4 trusted signers verified, 4 required"


def test_threshold_above_the_trusted_signers_is_bad_input(run_cli: Run, tmp_path: Path) -> None:
    keys_ = [write_pub(tmp_path, k, f"k{i}") for i, k in enumerate(SIGNERS[:3])]
    bundle = tmp_path / "b.json"
    bundle.write_bytes(sign(statement(), SIGNERS[0]))
    args = [a for p in keys_ for a in ("--key", p)]
    r = run_cli("manifest", "verify", bundle, *args, "--threshold", "4")
    assert r.code == ExitCode.BAD_INPUT
    assert "threshold 4 is not between 1 and the number of trusted signers (3)" in r.stderr


def test_the_same_signer_twice_counts_once() -> None:
    k1, k2 = SIGNERS[0], SIGNERS[1]
    b = sign(statement(), k1)
    again = sign(statement(), k1)  # ECDSA: a different signature by the same key
    assert b != again
    r = _verify([b, again, b], _policy(k1, k2, threshold=2))
    assert not r.ok
    assert r.verified_signers == (key_signer_name(k1.public_key()),)
    assert all(o.ok for o in r.bundles)


def test_bundles_over_different_payloads_fail_naming_the_bundle() -> None:
    k1, k2 = SIGNERS[0], SIGNERS[1]
    r = _verify(
        [sign(statement(), k1), sign(statement(version="1.2.1"), k2)],
        _policy(k1, k2, threshold=2),
    )
    assert not r.ok
    assert r.failure == "b1.json carries a different payload from b0.json"


def test_one_bad_cosigner_does_not_hide_the_others() -> None:
    good = [sign(statement(), k) for k in SIGNERS[:2]]
    bad = mutate_bundle(
        sign(statement(), SIGNERS[2]), ("dsseEnvelope", "signatures", 0, "sig"), flip_b64
    )
    r = _verify([*good, bad], _policy(*SIGNERS[:3], threshold=2))
    assert r.ok
    assert [o.ok for o in r.bundles] == [True, True, False]
    assert "does not verify" in r.bundles[2].detail


# --- expiry and rollback -----------------------------------------------------------


def test_expiry_uses_the_given_time() -> None:
    k = key(KeyType.ED25519)
    b = [sign(statement(), k)]
    assert _verify(b, _policy(k), at=datetime(2027, 1, 31, tzinfo=UTC)).ok
    r = _verify(b, _policy(k), at=datetime(2027, 2, 1, tzinfo=UTC))
    assert not r.ok
    assert "expired at 2027-02-01T00:00:00Z" in (r.failure or "")
    r = _verify(b, _policy(k), at=datetime(2026, 10, 1, tzinfo=UTC))
    assert not r.ok
    assert "created" in (r.failure or "")


def test_require_expiry() -> None:
    k = key(KeyType.ED25519)
    b = [sign(statement(expires=None), k)]
    assert _verify(b, _policy(k)).ok
    r = _verify(b, _policy(k, require_expiry=True))
    assert not r.ok
    assert "no expiry" in (r.failure or "")


@pytest.mark.parametrize(
    ("kw", "ok", "needle"),
    [
        ({"min_version": "1.2.0"}, True, "is not older than"),
        ({"min_version": "1.10.0"}, False, "is older than 1.10.0"),
        ({"previous": PreviousRelease("example-service", "1.1.9", "prev")}, True, ""),
        ({"previous": PreviousRelease("example-service", "1.2.1", "prev")}, False, "older"),
        ({"previous": PreviousRelease("other-service", "1.0.0", "prev")}, False, "other-service"),
    ],
)
def test_anti_rollback(kw: dict[str, Any], ok: bool, needle: str) -> None:
    k = key(KeyType.ED25519)
    r = _verify([sign(statement(), k)], _policy(k), **kw)
    assert r.ok is ok, r.failure
    assert needle in " ".join(c.message for c in r.checks)


def test_policy_floor_and_name() -> None:
    k = key(KeyType.ED25519)
    b = [sign(statement(), k)]
    assert not _verify(b, _policy(k, min_version="2.0.0")).ok
    assert not _verify(b, _policy(k, release_name="privatemode")).ok
    assert _verify(b, _policy(k, release_name="example-service", min_version="1.2.0")).ok
    assert not _verify(b, _policy(k, schema_versions=("2.0",))).ok


def test_unorderable_release_version_fails_only_when_ordering_is_asked() -> None:
    k = key(KeyType.ED25519)
    b = [sign(statement(version="2026.11-final"), k)]
    assert _verify(b, _policy(k)).ok
    r = _verify(b, _policy(k), min_version="1.0.0")
    assert not r.ok
    assert "not a semantic version" in (r.failure or "")


def test_time_without_zone_is_refused() -> None:
    k = key(KeyType.ED25519)
    with pytest.raises(InputError, match="time zone"):
        _verify([sign(statement(), k)], _policy(k), at=datetime(2026, 12, 1))


# --- property: sign -> verify round trips ------------------------------------------


_NAMES = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"),
    min_size=1,
    max_size=30,
)
_VERSIONS = st.builds(
    lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-rc.{pre}" if pre is not None else ""),
    st.integers(0, 999),
    st.integers(0, 999),
    st.integers(0, 999),
    st.none() | st.integers(0, 99),
)


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(list(KeyType)),
    name=_NAMES,
    version=_VERSIONS,
    created=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    days=st.none() | st.integers(1, 3650),
)
def test_round_trip_over_random_statements(
    kind: KeyType, name: str, version: str, created: datetime, days: int | None
) -> None:
    created = created.replace(microsecond=0)
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    expires = created + timedelta(days=days) if days else None
    data = statement(
        name=name,
        version=version,
        created=stamp,
        expires=expires.strftime("%Y-%m-%dT%H:%M:%SZ") if expires else None,
    )
    k = key(kind)
    policy = _policy(k, release_name=name)
    bundle = sign(data, k)
    r = _verify([bundle], policy, at=created, min_version=version)
    assert r.ok, r.failure
    assert r.payload == data
    if expires is not None:
        assert not _verify([bundle], policy, at=expires).ok


# --- CLI ------------------------------------------------------------------------------


@pytest.fixture
def signed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Run) -> Path:
    """release.json signed with both fixture keys (one encrypted), by the CLI."""
    src = ASSETS / "release.json"
    r = run_cli(
        "manifest", "sign", src, "--key", ASSETS / "test-ed25519.key", "-o", tmp_path / "a.json"
    )
    assert r.code == 0, r.stderr
    monkeypatch.setenv("FIXTURE_PASS", "refkit-test-passphrase")
    r = run_cli(
        "manifest", "sign", src, "--key", ASSETS / "test-p384-encrypted.key",
        "--passphrase-env", "FIXTURE_PASS", "-o", tmp_path / "b.json",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    return tmp_path


def test_cli_policy_two_of_two(run_cli: Run, signed: Path) -> None:
    policy = ASSETS / "policy.yaml"
    r = run_cli("manifest", "verify", signed / "a.json", signed / "b.json", "--policy", policy,
                "--at", "2026-12-01T00:00:00Z")  # fmt: skip
    assert r.code == 0, r.stderr
    assert "VERIFIED: example-service 1.2.0" in r.stdout
    assert "2 of 2 trusted, 2 required (ed25519-test, p384-test)" in r.stdout
    assert "time: 2026-12-01T00:00:00Z (--at)" in r.stdout
    r = run_cli("manifest", "verify", signed / "a.json", "--policy", policy,
                "--at", "2026-12-01T00:00:00Z")  # fmt: skip
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "1 of 2 trusted signers verified, 2 required" in r.stderr
    r = run_cli("manifest", "verify", signed / "a.json", signed / "b.json", "--policy", policy,
                "--at", "2027-03-01T00:00:00Z")  # fmt: skip
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "expired at 2027-02-01T00:00:00Z" in r.stderr


def test_cli_json_result(run_cli: Run, signed: Path) -> None:
    r = run_cli("manifest", "verify", signed / "a.json", "--json", "--key",
                ASSETS / "test-ed25519.key.pub", "--at", "2026-12-01T00:00:00Z")  # fmt: skip
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] is True
    assert doc["failure"] is None
    assert doc["timeSource"] == "--at"
    assert doc["verifiedAt"] == "2026-12-01T00:00:00Z"
    assert doc["release"]["name"] == "example-service"
    assert doc["predicateType"] == "https://refkit.dev/reference-manifest/v1"
    assert doc["bundles"][0]["ok"] is True
    assert {c["check"] for c in doc["checks"]} >= {"threshold", "predicate-type", "expiry"}


def test_cli_clock_is_recorded(run_cli: Run, signed: Path) -> None:
    r = run_cli("manifest", "verify", signed / "a.json", "--json", "--key",
                ASSETS / "test-ed25519.key.pub")  # fmt: skip
    assert json.loads(r.stdout)["timeSource"] == "clock"


def test_cli_tampered_bundle_is_exit_1(run_cli: Run, signed: Path) -> None:
    bad = signed / "bad.json"
    bad.write_bytes(mutate_bundle((signed / "a.json").read_bytes(), ("dsseEnvelope", "payload"),
                                  lambda v: flip_b64(v, 50)))  # fmt: skip
    r = run_cli("manifest", "verify", bad, "--key", ASSETS / "test-ed25519.key.pub")
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "signature does not verify" in r.stderr


def test_cli_rollback_options(run_cli: Run, signed: Path, tmp_path: Path) -> None:
    base = ["manifest", "verify", signed / "a.json", "--key", ASSETS / "test-ed25519.key.pub",
            "--at", "2026-12-01T00:00:00Z"]  # fmt: skip
    assert run_cli(*base, "--min-version", "1.2.0").code == 0
    r = run_cli(*base, "--min-version", "1.3.0")
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "version 1.2.0 is older than 1.3.0 (--min-version)" in r.stderr
    r = run_cli(*base, "--min-version", "v1")
    assert r.code == ExitCode.BAD_INPUT
    assert "cannot be ordered" in r.stderr
    newer = tmp_path / "newer.json"
    newer.write_bytes(statement(version="1.3.0"))
    r = run_cli(*base, "--previous", newer)
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "previous manifest" in r.stderr
    older_bundle = tmp_path / "older.bundle.json"
    older_bundle.write_bytes(sign(statement(version="1.0.0"), key(KeyType.ED25519)))
    assert run_cli(*base, "--previous", older_bundle).code == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--at", "yesterday"], "not an RFC 3339 date-time"),
        (["--at", "2026-12-01T00:00:00"], "time zone"),
        (["--policy", "POLICY"], "do not combine it with --key"),
        (["--identity", "x"], "one --issuer for each --identity"),
    ],
)
def test_cli_bad_options(run_cli: Run, signed: Path, extra: list[str], message: str) -> None:
    extra = [str(ASSETS / "policy.yaml") if e == "POLICY" else e for e in extra]
    r = run_cli("manifest", "verify", signed / "a.json", "--key",
                ASSETS / "test-ed25519.key.pub", *extra)  # fmt: skip
    assert r.code == ExitCode.BAD_INPUT
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_malformed_inputs_are_exit_2(run_cli: Run, tmp_path: Path) -> None:
    pub = ASSETS / "test-ed25519.key.pub"
    dup = tmp_path / "dup.json"
    dup.write_bytes(b'{"mediaType": "x", "mediaType": "y"}')
    r = run_cli("manifest", "verify", dup, "--key", pub)
    assert r.code == ExitCode.BAD_INPUT
    assert "duplicate JSON key" in r.stderr
    r = run_cli("manifest", "verify", tmp_path / "missing.json", "--key", pub)
    assert r.code == ExitCode.BAD_INPUT
    assert "not found" in r.stderr
    pol = tmp_path / "p.yaml"
    pol.write_text("version: 1\nsigners: &s []\nthreshold: *s\n")
    r = run_cli("manifest", "verify", ASSETS / "release.ed25519.bundle.json", "--policy", pol)
    assert r.code == ExitCode.BAD_INPUT
    assert "anchors (&s) are not allowed" in r.stderr  # refkit.yamlio's wording


@pytest.mark.vectors
def test_cli_artifact_bundle_is_not_a_manifest_bundle(run_cli: Run) -> None:
    r = run_cli("manifest", "verify", vector("sigstore", "bundle_v3_github.whl.sigstore"),
                "--key", ASSETS / "test-ed25519.key.pub")  # fmt: skip
    assert r.code == ExitCode.BAD_INPUT
    assert "no DSSE envelope" in r.stderr


@pytest.mark.vectors
def test_cli_model_signing_key_bundle_is_not_a_refkit_manifest(run_cli: Run) -> None:
    """Another producer's key bundle: the signature verifies, the predicate is refused."""
    bundle = vector("model-signing", "v1.1.0-elliptic-key", "model.sig")
    pub = vector("model-signing", "keys", "certificate", "signing-key-pub.pem")
    r = run_cli("manifest", "verify", bundle, "--key", pub)
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "https://model_signing/signature/v1.0" in r.stderr
    assert "PASS  manifest.signature.verified" in r.stdout  # the signature itself verified


def test_golden_bundle_still_verifies(run_cli: Run) -> None:
    r = run_cli("manifest", "verify", ASSETS / "release.ed25519.bundle.json", "--key",
                ASSETS / "test-ed25519.key.pub", "--at", "2026-12-01T00:00:00Z")  # fmt: skip
    assert r.code == 0, r.stderr


# --- CLI: sign --------------------------------------------------------------------------


def test_cli_sign_refuses_non_canonical_input(run_cli: Run, tmp_path: Path) -> None:
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(json.loads(statement()), indent=2))
    r = run_cli(
        "manifest", "sign", pretty, "--key", ASSETS / "test-ed25519.key", "-o", tmp_path / "o"
    )
    assert r.code == ExitCode.BAD_INPUT
    assert "not canonical JSON" in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.vectors
def test_cli_sign_refuses_another_predicate(run_cli: Run, tmp_path: Path) -> None:
    from refkit.manifests.canonical import canonical_dumps

    slsa = json.loads(vector("sigstore", "a.dsse.staging-rekor-v2.txt.sigstore.json").read_bytes())
    import base64

    payload = json.loads(base64.b64decode(slsa["dsseEnvelope"]["payload"]))
    src = tmp_path / "slsa.json"
    src.write_bytes(canonical_dumps(payload))
    r = run_cli("manifest", "sign", src, "--key", ASSETS / "test-ed25519.key", "-o", tmp_path / "o")
    assert r.code == ExitCode.BAD_INPUT
    assert "https://slsa.dev/provenance/v1" in r.stderr


def test_cli_sign_key_problems(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = ASSETS / "release.json"
    monkeypatch.delenv("REFKIT_KEY_PASSPHRASE", raising=False)
    r = run_cli(
        "manifest", "sign", src, "--key", ASSETS / "test-p384-encrypted.key", "-o", tmp_path / "o"
    )
    assert r.code == ExitCode.BAD_INPUT
    assert "REFKIT_KEY_PASSPHRASE" in r.stderr
    monkeypatch.setenv("REFKIT_KEY_PASSPHRASE", "wrong")
    r = run_cli(
        "manifest", "sign", src, "--key", ASSETS / "test-p384-encrypted.key", "-o", tmp_path / "o"
    )
    assert r.code == ExitCode.BAD_INPUT
    assert "wrong passphrase" in r.stderr
    r = run_cli("manifest", "sign", src, "-o", tmp_path / "o")
    assert r.code == ExitCode.BAD_INPUT
    assert "exactly one of --key" in r.stderr
    r = run_cli(
        "manifest",
        "sign",
        src,
        "--key",
        ASSETS / "test-ed25519.key",
        "--sigstore",
        "-o",
        tmp_path / "o",
    )
    assert r.code == ExitCode.BAD_INPUT
    r = run_cli(
        "manifest", "sign", src, "--key", ASSETS / "test-ed25519.key.pub", "-o", tmp_path / "o"
    )
    assert r.code == ExitCode.BAD_INPUT
    assert "not a PEM private key" in r.stderr


def test_cli_sign_to_stdout(run_cli: Run) -> None:
    r = run_cli(
        "manifest", "sign", ASSETS / "release.json", "--key", ASSETS / "test-ed25519.key", "-o", "-"
    )
    assert r.code == 0
    assert r.stdout.encode() == (ASSETS / "release.ed25519.bundle.json").read_bytes()


def test_library_error_types() -> None:
    assert issubclass(ParseError, InputError)


def test_sign_does_not_overwrite_without_force(tmp_path: Path, run_cli: Any) -> None:
    """No data loss: an existing bundle is kept unless --force is given."""
    key = tmp_path / "k.key"
    assert run_cli("keygen", "--out", key).code == 0
    statement = Path(__file__).resolve().parent.parent / "assets" / "signing" / "release.json"
    out = tmp_path / "b.json"
    out.write_bytes(b"precious")
    r = run_cli("manifest", "sign", statement, "--key", key, "-o", out)
    assert r.code == 2
    assert out.read_bytes() == b"precious"
    assert run_cli("manifest", "sign", statement, "--key", key, "-o", out, "--force").code == 0
    assert out.read_bytes() != b"precious"


def test_keygen_and_sign_json(tmp_path: Path, run_cli: Any) -> None:
    key = tmp_path / "k.key"
    r = run_cli("keygen", "--out", key, "--type", "ed25519", "--json")
    assert r.code == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["publicKey"] == f"{key}.pub"
    assert info["type"] == "ed25519"
    assert len(info["keyId"]) == 64
    statement = Path(__file__).resolve().parent.parent / "assets" / "signing" / "release.json"
    out = tmp_path / "b.json"
    r = run_cli("manifest", "sign", statement, "--key", key, "-o", out, "--json")
    assert r.code == 0, r.stderr
    signed = json.loads(r.stdout)
    import hashlib

    assert signed["statementSha256"] == hashlib.sha256(statement.read_bytes()).hexdigest()
    assert signed["output"] == str(out)
    assert info["keyId"][:16] in signed["signer"]
