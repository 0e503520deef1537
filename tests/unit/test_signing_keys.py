"""Keys: generation, PEM loading (encrypted too), refusals, hints, and `refkit keygen`."""

from __future__ import annotations

import base64
import hashlib
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from refkit.errors import ExitCode, InputError, UnsupportedInput
from refkit.manifests.signing import keys
from refkit.manifests.signing.keys import KeyType
from tests.shared import vector
from tests.signing_support import ASSETS

TEST_PASSPHRASE = b"refkit-test-passphrase"


@pytest.mark.parametrize("kind", list(KeyType))
def test_generate_sign_verify_and_pem_round_trip(kind: KeyType) -> None:
    k = keys.generate(kind)
    sig = k.sign(b"data")
    pub = k.public_key()
    assert pub.key_type is kind
    assert pub.verify(sig, b"data")
    assert not pub.verify(sig, b"datA")
    assert not pub.verify(b"\x00" * len(sig), b"data")
    again = keys.load_private_key(k.pem(), source="k")
    assert again.public_key() == pub
    assert keys.load_public_key(pub.pem(), source="p") == pub
    enc = k.pem(b"pw")
    assert b"ENCRYPTED PRIVATE KEY" in enc
    assert keys.load_private_key(enc, source="k", passphrase=b"pw").public_key() == pub


def test_ecdsa_hash_follows_the_curve() -> None:
    """P-256 signs SHA-256, P-384 signs SHA-384: checked with cryptography directly."""
    from cryptography.hazmat.primitives import hashes

    for kind, algo in (
        (KeyType.ECDSA_P256, hashes.SHA256()),
        (KeyType.ECDSA_P384, hashes.SHA384()),
    ):
        k = keys.generate(kind)
        obj = k.public_key().key
        assert isinstance(obj, ec.EllipticCurvePublicKey)
        obj.verify(k.sign(b"m"), b"m", ec.ECDSA(algo))


def test_encrypted_fixture_needs_the_right_passphrase() -> None:
    data = (ASSETS / "test-p384-encrypted.key").read_bytes()
    k = keys.load_private_key(data, source="fixture", passphrase=TEST_PASSPHRASE)
    assert k.key_type is KeyType.ECDSA_P384
    pub = keys.load_public_key((ASSETS / "test-p384-encrypted.key.pub").read_bytes(), source="p")
    assert k.public_key() == pub
    with pytest.raises(keys.PassphraseNeeded, match="no passphrase was given") as missing:
        keys.load_private_key(data, source="fixture")
    # the library does not know where the caller reads passphrases: the CLI says (its
    # --passphrase-env variable; test_signing_verify.py::test_cli_sign_key_problems)
    assert "--" not in missing.value.diagnostics()
    with pytest.raises(InputError, match="wrong passphrase"):
        keys.load_private_key(data, source="fixture", passphrase=b"wrong")


def test_unsupported_keys_are_refused() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(UnsupportedInput, match="RSA"):
        keys.load_private_key(pem, source="rsa")
    p521 = ec.generate_private_key(ec.SECP521R1()).public_key()
    pub = p521.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(UnsupportedInput, match="secp521r1"):
        keys.load_public_key(pub, source="p521")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a PEM"),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a PEM"),
        (b"x" * (keys.MAX_KEY_BYTES + 1), "too large"),
    ],
)
def test_malformed_public_keys(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        keys.load_public_key(data, source="bad")


def test_private_key_given_as_public_key() -> None:
    with pytest.raises(InputError, match="is a private key"):
        keys.load_public_key((ASSETS / "test-ed25519.key").read_bytes(), source="k")


def test_hint_conventions() -> None:
    pub = keys.generate(KeyType.ECDSA_P256).public_key()
    assert keys.cosign_hint(pub) == base64.b64encode(hashlib.sha256(pub.der).digest()).decode()
    assert keys.model_signing_hint(pub) == hashlib.sha256(pub.pem()).hexdigest()
    assert keys.hints_of(pub) == {keys.cosign_hint(pub), keys.model_signing_hint(pub)}


#: Computed independently of refkit:
#: ``openssl pkey -pubin -in tests/assets/signing/test-p384-encrypted.key.pub -outform DER
#: | sha256sum``
TEST_P384_KEY_ID = "776010dec4fbaaa08432f5448d4567e05a59a5608833c8a67caac08074dcfe87"


def test_key_ids_are_hex_everywhere_a_message_names_a_key() -> None:
    """Issue 11: key ids were hex in one message and base64 (the bundle hint) in another."""
    pub = keys.load_public_key((ASSETS / "test-p384-encrypted.key.pub").read_bytes(), source="p")
    assert pub.key_id == TEST_P384_KEY_ID
    assert pub.label == f"ecdsa-p384 key {TEST_P384_KEY_ID}"
    assert keys.describe_hint(keys.cosign_hint(pub)) == f"key id {TEST_P384_KEY_ID}"
    ms = keys.model_signing_hint(pub)
    assert keys.describe_hint(ms) == f"hint {ms!r}"
    assert keys.describe_hint("") == "hint ''"
    assert keys.describe_hint("AAAA") == "hint 'AAAA'"  # base64, but not of 32 bytes
    assert keys.names_of(pub) == keys.hints_of(pub) | {TEST_P384_KEY_ID}


def test_cli_passphrase_hint_names_the_variable_in_use(
    run_cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MY_SIGNING_PASS", raising=False)
    r = run_cli("manifest", "sign", ASSETS / "release.json", "--key",
                ASSETS / "test-p384-encrypted.key", "--passphrase-env", "MY_SIGNING_PASS",
                "-o", tmp_path / "b")  # fmt: skip
    assert r.code == ExitCode.BAD_INPUT
    assert "environment variable MY_SIGNING_PASS" in r.stderr


def test_sign_names_the_key_as_keygen_does(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    out = tmp_path / "k.key"
    r = run_cli("keygen", "--out", out, "--type", "ed25519")
    assert r.code == 0, r.stderr
    key_id = keys.load_public_key((tmp_path / "k.key.pub").read_bytes(), source="p").key_id
    assert key_id in r.stderr
    r = run_cli("manifest", "sign", ASSETS / "release.json", "--key", out, "-o", tmp_path / "b")
    assert r.code == 0, r.stderr
    assert f"ed25519 key {key_id}" in r.stderr
    hint = keys.cosign_hint(keys.load_public_key((tmp_path / "k.key.pub").read_bytes(), source="p"))
    assert hint not in r.stderr


@pytest.mark.vectors
def test_model_signing_hint_matches_the_real_bundle() -> None:
    """model_signing's hint is over the re-serialised PEM, not the file (which has a preamble)."""
    import json

    pem_file = vector("model-signing", "keys", "certificate", "signing-key-pub.pem").read_bytes()
    pub = keys.load_public_key(pem_file, source="vector")
    bundle = json.loads(vector("model-signing", "v1.1.0-elliptic-key", "model.sig").read_bytes())
    assert keys.model_signing_hint(pub) == bundle["verificationMaterial"]["publicKey"]["hint"]
    assert hashlib.sha256(pem_file).hexdigest() != keys.model_signing_hint(pub)


def test_passphrase_from_env() -> None:
    assert keys.passphrase_from_env("X", {"X": "abc"}) == b"abc"
    assert keys.passphrase_from_env("X", {"X": ""}) is None
    assert keys.passphrase_from_env("X", {}) is None


# --- refkit keygen ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", [k.value for k in KeyType])
def test_keygen_writes_a_private_0600_and_a_public_key(
    run_cli: Callable[..., Any], tmp_path: Path, kind: str
) -> None:
    out = tmp_path / "release.key"
    r = run_cli("keygen", "--out", out, "--type", kind)
    assert r.code == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    priv = keys.load_private_key(out.read_bytes(), source="k")
    pub = keys.load_public_key((tmp_path / "release.key.pub").read_bytes(), source="p")
    assert priv.public_key() == pub
    assert priv.key_type.value == kind
    assert pub.key_id in r.stderr


def test_keygen_refuses_to_overwrite(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    out = tmp_path / "k"
    assert run_cli("keygen", "--out", out).code == 0
    before = out.read_bytes(), (tmp_path / "k.pub").read_bytes()
    r = run_cli("keygen", "--out", out)
    assert r.code == ExitCode.BAD_INPUT
    assert "already exists" in r.stderr
    assert (out.read_bytes(), (tmp_path / "k.pub").read_bytes()) == before
    # the public key alone existing is enough to refuse (no half-written pair)
    other = tmp_path / "o"
    (tmp_path / "o.pub").write_text("keep me")
    assert run_cli("keygen", "--out", other).code == ExitCode.BAD_INPUT
    assert not other.exists()
    assert (tmp_path / "o.pub").read_text() == "keep me"
    r = run_cli("keygen", "--out", out, "--force")
    assert r.code == 0
    assert out.read_bytes() != before[0]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_keygen_encrypt_reads_the_passphrase_from_the_environment(
    run_cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "k"
    monkeypatch.delenv("MY_PASS", raising=False)
    r = run_cli("keygen", "--out", out, "--encrypt", "--passphrase-env", "MY_PASS")
    assert r.code == ExitCode.BAD_INPUT
    assert "MY_PASS" in r.stderr
    assert not out.exists()
    monkeypatch.setenv("MY_PASS", "s3cret")
    r = run_cli("keygen", "--out", out, "--encrypt", "--passphrase-env", "MY_PASS")
    assert r.code == 0, r.stderr
    assert b"ENCRYPTED" in out.read_bytes()
    assert "s3cret" not in r.stderr + r.stdout
    keys.load_private_key(out.read_bytes(), source="k", passphrase=b"s3cret")


def test_keygen_has_no_passphrase_option(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    r = run_cli("keygen", "--out", tmp_path / "k", "--passphrase", "x")
    assert r.code == ExitCode.BAD_INPUT
    assert "No such option" in r.stderr
