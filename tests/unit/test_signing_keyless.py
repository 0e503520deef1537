"""Keyless: real Sigstore bundles verified offline, and signing that fails cleanly offline."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode, InputError
from refkit.manifests.signing.bundle import parse_bundle
from refkit.manifests.signing.keyless import (
    KeylessVerificationFailed,
    SigstoreIdentity,
    TrustedRoot,
    verify_keyless,
)
from tests.shared import assert_not_a_bug, vector
from tests.signing_support import (
    GITHUB_ISSUER,
    SLSA_IDENTITY,
    WHL_IDENTITY,
)

pytestmark = pytest.mark.vectors
# keyless verification is sigstore-python's; without the extra, refkit's exit 3 is tested
# in test_signing_sign.py (test_sigstore_missing_is_environment_problem)
pytest.importorskip("sigstore", reason="needs sigstore-python (the sigstore extra)")

DSSE = ("sigstore", "a.dsse.staging-rekor-v2.txt.sigstore.json")
WHL = ("sigstore", "bundle_v3_github.whl.sigstore")


def _root(name: str) -> TrustedRoot:
    path = vector("sigstore", f"{name}-trusted-root.json")
    return TrustedRoot(str(path), path.read_bytes())


def _bundle(parts: tuple[str, ...], data: bytes | None = None) -> Any:
    return parse_bundle(data or vector(*parts).read_bytes(), source=parts[-1])


def test_dsse_bundle_verifies_offline_with_its_identity() -> None:
    r = verify_keyless(
        _bundle(DSSE), _root("staging"), SigstoreIdentity(SLSA_IDENTITY, GITHUB_ISSUER)
    )
    assert r.payload_type == "application/vnd.in-toto+json"
    assert r.payload is not None
    assert json.loads(r.payload)["predicateType"] == "https://slsa.dev/provenance/v1"


def test_artifact_bundle_verifies_offline_with_its_identity() -> None:
    artifact = vector("sigstore", "bundle_v3_github.whl").read_bytes()
    r = verify_keyless(
        _bundle(WHL),
        _root("production"),
        SigstoreIdentity(WHL_IDENTITY, GITHUB_ISSUER),
        artifact=artifact,
    )
    assert r.payload is None


@pytest.mark.parametrize(
    ("identity", "issuer", "message"),
    [
        (SLSA_IDENTITY + "x", GITHUB_ISSUER, "SANs do not match"),
        (SLSA_IDENTITY, "https://accounts.google.com", "OIDCIssuer"),
    ],
)
def test_wrong_identity_or_issuer_fails(identity: str, issuer: str, message: str) -> None:
    with pytest.raises(KeylessVerificationFailed, match=message) as err:
        verify_keyless(_bundle(DSSE), _root("staging"), SigstoreIdentity(identity, issuer))
    assert err.value.exit_code == ExitCode.VERIFICATION_FAILED


def test_wrong_trusted_root_fails() -> None:
    with pytest.raises(KeylessVerificationFailed):
        verify_keyless(
            _bundle(DSSE), _root("production"), SigstoreIdentity(SLSA_IDENTITY, GITHUB_ISSUER)
        )


def _flip_field(data: bytes, path: tuple[str | int, ...], byte: int) -> bytes:
    doc = json.loads(data)
    node = doc
    for step in path[:-1]:
        node = node[step]
    raw = bytearray(base64.b64decode(node[path[-1]]))
    raw[byte % len(raw)] ^= 0x01
    node[path[-1]] = base64.b64encode(bytes(raw)).decode()
    return json.dumps(doc).encode()


@pytest.mark.parametrize("byte", [0, 100, -1])
@pytest.mark.parametrize(
    "path", [("dsseEnvelope", "payload"), ("dsseEnvelope", "signatures", 0, "sig")]
)
def test_flipped_byte_in_the_dsse_bundle_fails(path: tuple[str | int, ...], byte: int) -> None:
    data = _flip_field(vector(*DSSE).read_bytes(), path, byte)
    with pytest.raises((KeylessVerificationFailed, InputError)) as err:
        verify_keyless(
            _bundle(DSSE, data), _root("staging"), SigstoreIdentity(SLSA_IDENTITY, GITHUB_ISSUER)
        )
    assert err.value.exit_code in (ExitCode.VERIFICATION_FAILED, ExitCode.BAD_INPUT)


def test_flipped_byte_in_the_artifact_or_its_signature_fails() -> None:
    artifact = bytearray(vector("sigstore", "bundle_v3_github.whl").read_bytes())
    ident = SigstoreIdentity(WHL_IDENTITY, GITHUB_ISSUER)
    changed = bytes(artifact[:500]) + bytes([artifact[500] ^ 1]) + bytes(artifact[501:])
    with pytest.raises(KeylessVerificationFailed):
        verify_keyless(_bundle(WHL), _root("production"), ident, artifact=changed)
    data = _flip_field(vector(*WHL).read_bytes(), ("messageSignature", "signature"), 10)
    with pytest.raises(KeylessVerificationFailed):
        verify_keyless(_bundle(WHL, data), _root("production"), ident, artifact=bytes(artifact))


def test_artifact_bundle_needs_the_artifact() -> None:
    with pytest.raises(InputError, match="no artifact"):
        verify_keyless(
            _bundle(WHL), _root("production"), SigstoreIdentity(WHL_IDENTITY, GITHUB_ISSUER)
        )


def test_bad_trusted_root_is_input_error() -> None:
    with pytest.raises(InputError, match="trusted root"):
        verify_keyless(
            _bundle(DSSE),
            TrustedRoot("bad.json", b'{"mediaType": "nope"}'),
            SigstoreIdentity(SLSA_IDENTITY, GITHUB_ISSUER),
        )


def test_key_bundle_is_not_keyless() -> None:
    b = _bundle(("model-signing", "v1.1.0-elliptic-key", "model.sig"))
    with pytest.raises(InputError, match="not a keyless bundle"):
        verify_keyless(b, _root("production"), SigstoreIdentity("a", "b"))


def test_model_signing_keyless_bundle_verifies() -> None:
    """A third producer: model_signing's keyless bundle (production, IBM issuer)."""
    r = verify_keyless(
        _bundle(("model-signing", "v1.1.0-sigstore", "model.sig")),
        _root("production"),
        SigstoreIdentity("stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2"),
    )
    assert r.payload is not None
    assert b"https://model_signing/signature/v1.0" in r.payload


# --- refkit manifest verify on the real DSSE bundle -----------------------------------


def test_cli_refuses_the_slsa_bundle_as_not_a_refkit_manifest(
    run_cli: Callable[..., Any],
) -> None:
    r = run_cli(
        "manifest", "verify", vector(*DSSE),
        "--identity", SLSA_IDENTITY, "--issuer", GITHUB_ISSUER,
        "--trusted-root", vector("sigstore", "staging-trusted-root.json"),
    )  # fmt: skip
    assert r.code == ExitCode.VERIFICATION_FAILED, r.stderr
    assert "not a refkit reference manifest" in r.stderr
    assert "https://slsa.dev/provenance/v1" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_keyless_signature_verifies_then_json_names_the_signer(
    run_cli: Callable[..., Any],
) -> None:
    r = run_cli(
        "manifest", "verify", vector(*DSSE), "--json",
        "--identity", SLSA_IDENTITY, "--issuer", GITHUB_ISSUER,
        "--trusted-root", vector("sigstore", "staging-trusted-root.json"),
    )  # fmt: skip
    doc = json.loads(r.stdout)
    assert doc["verifiedSigners"] == [SLSA_IDENTITY]
    assert doc["bundles"][0]["ok"] is True
    assert doc["ok"] is False
    assert "https://slsa.dev/provenance/v1" in doc["failure"]


def test_cli_wrong_identity_is_exit_1(run_cli: Callable[..., Any]) -> None:
    r = run_cli(
        "manifest", "verify", vector(*DSSE),
        "--identity", "https://example.com/someone-else", "--issuer", GITHUB_ISSUER,
        "--trusted-root", vector("sigstore", "staging-trusted-root.json"),
    )  # fmt: skip
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "SANs do not match" in r.stderr


def test_cli_keyless_without_trusted_root_is_exit_2(run_cli: Callable[..., Any]) -> None:
    r = run_cli(
        "manifest", "verify", vector(*DSSE), "--identity", SLSA_IDENTITY, "--issuer", GITHUB_ISSUER
    )
    assert r.code == ExitCode.BAD_INPUT
    assert "--trusted-root" in r.stderr


def test_policy_file_with_identity_and_relative_trusted_root(
    run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    """A policy names a Sigstore identity and its trusted root by a relative path."""
    import shutil

    shutil.copy(vector("sigstore", "staging-trusted-root.json"), tmp_path / "root.json")
    policy = tmp_path / "trust.yaml"
    policy.write_text(
        "version: 1\n"
        "signers:\n"
        "  - name: beacon\n"
        "    sigstore:\n"
        f"      identity: {SLSA_IDENTITY}\n"
        f"      issuer: {GITHUB_ISSUER}\n"
        "trusted-root: root.json\n"
    )
    r = run_cli("manifest", "verify", vector(*DSSE), "--policy", policy, "--json")
    doc = json.loads(r.stdout)
    assert doc["verifiedSigners"] == ["beacon"]
    assert r.code == ExitCode.VERIFICATION_FAILED  # signed, but SLSA provenance
    assert "https://slsa.dev/provenance/v1" in doc["failure"]


def test_verbose_logs_the_numbered_steps(run_cli: Callable[..., Any]) -> None:
    r = run_cli(
        "-v", "manifest", "verify", vector(*DSSE),
        "--identity", SLSA_IDENTITY, "--issuer", GITHUB_ISSUER,
        "--trusted-root", vector("sigstore", "staging-trusted-root.json"),
    )  # fmt: skip
    for step in ("step 1:", "step 2:", "step 3:", "step 4:"):
        assert step in r.stderr


@pytest.mark.slow
def test_bit_flips_across_the_real_keyless_bundle_give_typed_answers() -> None:
    """Every 5th byte of the staging DSSE bundle flipped: a typed error or a verdict, never
    another exception; and never a pass when the byte is in the payload, the signature or
    the certificate. (sigstore-python 4.5.1 does accept flips in some transparency-log
    metadata it does not bind, e.g. checkpoint witness lines and logId.keyId: not refkit's
    to decide, and not part of what is signed.)"""
    from refkit.errors import RefkitError

    good = vector(*DSSE).read_bytes()
    doc = json.loads(good)
    guarded = [
        doc["dsseEnvelope"]["payload"],
        doc["dsseEnvelope"]["signatures"][0]["sig"],
        doc["verificationMaterial"]["certificate"]["rawBytes"],
    ]
    spans = [(good.index(g.encode()), good.index(g.encode()) + len(g)) for g in guarded]
    root, ident = _root("staging"), SigstoreIdentity(SLSA_IDENTITY, GITHUB_ISSUER)
    for i in range(0, len(good), 5):
        bad = bytearray(good)
        bad[i] ^= 0x01
        try:
            verify_keyless(parse_bundle(bytes(bad), source="flipped"), root, ident)
        except RefkitError as exc:
            assert_not_a_bug(exc)
            continue
        assert not any(a <= i < b for a, b in spans), f"flip at {i} passed"
