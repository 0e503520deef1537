"""Security review of `refkit manifest verify`: inputs that once crashed or passed wrongly.

Each test names the problem it guards. A crash (exit 4) where a typed error is due is a
bug even when it cannot make verification pass: scripts and users read exit 4 as "refkit
is broken", not as "this input is bad".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode, InputError, ParseError
from refkit.manifests.signing.bundle import parse_bundle
from refkit.manifests.signing.keyless import SigstoreIdentity
from refkit.manifests.signing.keys import KeyType, passphrase_from_env
from refkit.manifests.signing.policy import (
    KeySigner,
    TrustPolicy,
    key_signer_name,
    parse_semver,
)
from refkit.manifests.signing.statements import read_manifest
from refkit.manifests.signing.verify import verify_manifest
from refkit.manifests.statement import load_statement
from refkit.times import parse_rfc3339
from refkit.yamlio import load_yaml
from tests.signing_support import ASSETS, key, sign, statement

Run = Callable[..., Any]
AT = datetime(2026, 12, 1, tzinfo=UTC)
GOLDEN = ASSETS / "release.ed25519.bundle.json"
PUB = ASSETS / "test-ed25519.key.pub"


def _with(data: bytes, path: tuple[str | int, ...], value: Any) -> bytes:
    """``data`` (a bundle) with one field replaced; plain json.dumps keeps lone surrogates
    as \\ud800 escapes, which is how an attacker would write them."""
    doc = json.loads(data)
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return json.dumps(doc).encode("ascii")


# --- lone surrogates in a bundle's strings -----------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ("dsseEnvelope", "payloadType"),
        ("verificationMaterial", "publicKey", "hint"),
        ("dsseEnvelope", "signatures", 0, "keyid"),
    ],
)
def test_lone_surrogate_in_a_bundle_string_is_a_parse_error(path: tuple[str | int, ...]) -> None:
    """A JSON \\ud800 escape decodes to a str that UTF-8 cannot encode; the PAE encodes the
    payload type, so verification crashed with UnicodeEncodeError (exit 4)."""
    k = key(KeyType.ED25519)
    bad = _with(sign(statement(), k), path, "application/\ud800")
    with pytest.raises(ParseError, match="UTF-8"):
        parse_bundle(bad, source="b.json")
    policy = TrustPolicy(signers=(KeySigner(key_signer_name(k.public_key()), k.public_key()),))
    with pytest.raises(ParseError):
        verify_manifest([("b.json", bad)], policy, at=AT)


def test_cli_lone_surrogate_payload_type_is_exit_2(run_cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "b.json"
    bad.write_bytes(_with(GOLDEN.read_bytes(), ("dsseEnvelope", "payloadType"), "\ud800"))
    r = run_cli("manifest", "verify", bad, "--key", PUB, "--at", "2026-12-01T00:00:00Z")
    assert r.code == ExitCode.BAD_INPUT, r.stderr


# --- the verification time ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"],
)
def test_cli_at_out_of_range_in_utc_is_exit_2(run_cli: Run, text: str) -> None:
    """Times that exist in their own zone but not in UTC overflowed when compared with the
    manifest's times or printed (OverflowError, exit 4)."""
    r = run_cli("manifest", "verify", GOLDEN, "--key", PUB, "--at", text)
    assert r.code == ExitCode.BAD_INPUT, r.stderr
    assert "--at" in r.stderr


@pytest.mark.parametrize(
    "text",
    [
        "2026-W49-2T00:00:00Z",  # ISO 8601 week date
        "20261201T000000Z",  # ISO 8601 basic format
        "2026-12-01T00Z",  # reduced precision
        "2026-12-01T00:00:00+0000",  # offset without a colon
        "\uff12\uff10\uff12\uff16-12-01T00:00:00Z",  # non-ASCII digits
        "2026-12-01T00:00:00Z\n",
    ],
)
def test_at_is_rfc3339_only(text: str) -> None:
    """The docs promise RFC 3339; datetime.fromisoformat takes much more of ISO 8601."""
    with pytest.raises(ParseError):
        parse_rfc3339(text, source="--at", field="time")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T00:00:00Z", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01t01:00:00+01:00", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-11-30T23:00:00.5-01:00", datetime(2026, 12, 1, 0, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_at_accepts_rfc3339_with_any_offset(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text, source="--at", field="time") == expected


# --- the trust policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'version: 1\nsigners:\n  - key-pem: "\\ud800"\n',
        'version: 1\nsigners:\n  - name: "a\\ud800"\n    key: k.pub\n',
        'version: 1\nsigners:\n  - key: "k\\0.pub"\n',
        'version: 1\ntrusted-root: "r\\0.json"\nsigners:\n  - key: k.pub\n',
    ],
)
def test_policy_strings_utf8_cannot_encode_or_paths_cannot_hold_are_refused(text: str) -> None:
    """Double-quoted YAML escapes give lone surrogates (UnicodeEncodeError when the PEM or a
    name is encoded or printed) and NUL (ValueError from open()): both crashed (exit 4)."""
    with pytest.raises(ParseError):
        load_yaml(text.encode(), source="p.yaml")


def test_cli_policy_with_nul_in_a_key_path_is_exit_2(run_cli: Run, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text('version: 1\nsigners:\n  - key: "k\\0.pub"\n')
    r = run_cli("manifest", "verify", GOLDEN, "--policy", policy, "--at", "2026-12-01T00:00:00Z")
    assert r.code == ExitCode.BAD_INPUT, r.stderr


@pytest.mark.parametrize("version", ["true", "1.0"])
def test_policy_version_must_be_the_integer_1(run_cli: Run, tmp_path: Path, version: str) -> None:
    """`True == 1 == 1.0` in Python: `version: true` was read as version 1."""
    policy = tmp_path / "p.yaml"
    policy.write_text(f"version: {version}\nsigners:\n  - key: {PUB}\n")
    r = run_cli("manifest", "verify", GOLDEN, "--policy", policy, "--at", "2026-12-01T00:00:00Z")
    assert r.code == ExitCode.BAD_INPUT, r.stdout
    assert "version" in r.stderr


# --- keyless identities --------------------------------------------------------------------


@pytest.mark.parametrize(("identity", "issuer"), [("https://x/y", ""), ("", "https://i")])
def test_empty_identity_or_issuer_is_refused(identity: str, issuer: str) -> None:
    """sigstore-python's Identity(issuer="") checks no issuer at all: `--issuer "$UNSET"`
    silently trusted the identity from any OIDC issuer."""
    with pytest.raises(InputError, match="empty"):
        SigstoreIdentity(identity, issuer)


def test_cli_empty_issuer_is_exit_2(run_cli: Run) -> None:
    r = run_cli(
        "manifest", "verify", GOLDEN, "--identity", "https://x/y", "--issuer", "",
        "--trusted-root", ASSETS / "release.json",
    )  # fmt: skip
    assert r.code == ExitCode.BAD_INPUT, r.stderr
    assert "issuer" in r.stderr


# --- passphrases ---------------------------------------------------------------------------


def test_passphrase_that_is_not_utf8_is_used_as_its_bytes() -> None:
    """os.environ holds undecodable bytes as surrogate escapes; encoding them as strict
    UTF-8 crashed keygen --encrypt and sign (exit 4). The passphrase is the bytes set."""
    assert passphrase_from_env("P", {"P": "\udcff\udcfe"}) == b"\xff\xfe"
    assert passphrase_from_env("P", {"P": "pässword"}) == "pässword".encode()


def test_cli_keygen_and_sign_with_a_non_utf8_passphrase(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVIEW_PASS", "\udcff\udcfe")
    out = tmp_path / "k.key"
    r = run_cli("keygen", "--out", out, "--encrypt", "--passphrase-env", "REVIEW_PASS")
    assert r.code == 0, r.stderr
    r = run_cli(
        "manifest", "sign", ASSETS / "release.json", "--key", out,
        "--passphrase-env", "REVIEW_PASS", "-o", tmp_path / "b.json",
    )  # fmt: skip
    assert r.code == 0, r.stderr


# --- versions and times: ASCII only --------------------------------------------------------


@pytest.mark.parametrize("text", ["1\u0660.0.0", "1.0.0-\u0661\u0662", "1.0.0\n", "1.2.\uff13"])
def test_semver_is_ascii_only(text: str) -> None:
    """`\\d` matches any Unicode digit and `$` matches before a final newline: a floor of
    "1\\u0660.0.0" (Arabic-Indic zero) was read as 10.0.0."""
    assert parse_semver(text) is None


@pytest.mark.parametrize("field", ["created", "expires"])
def test_statement_times_are_ascii_digits_only(field: str) -> None:
    """Verification skips the JSON Schema on the promise that refkit's own checks refuse
    all it refuses. The schema says [0-9]; the own check said \\d, and strptime takes any
    digits: a signed time in full-width digits verified (and re-serialised to other bytes)."""
    value = (
        "\uff12\uff10\uff12\uff16-11-01T00:00:00Z"
        if field == "created"
        else "\uff12\uff10\uff12\uff17-02-01T00:00:00Z"
    )
    data = statement(**{field: value})
    with pytest.raises(ParseError, match=field):
        load_statement(data, source="s.json")  # the schema refuses it
    with pytest.raises(ParseError, match=field):
        read_manifest(data, source="s.json")  # and so must the verifier's own checks


# --- input sizes ---------------------------------------------------------------------------


def test_size_limit_holds_for_pipes(tmp_path: Path) -> None:
    """The limit was checked against fstat's size, which is 0 for a pipe: `verify <(curl
    ...)` read a bundle of any size into memory. It now stops one byte past the limit."""
    import os
    import threading

    from refkit.errors import read_input_file

    fifo = tmp_path / "bundle.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as fh:
            fh.write(b"x" * 5000)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    with pytest.raises(InputError, match="limit"):
        read_input_file(fifo, what="bundle", limit=1000)
    writer.join(timeout=5)


# --- keyless: interpret what sigstore-python verified ------------------------------------


@pytest.mark.vectors
def test_keyless_signer_counts_only_if_sigstore_verified_the_bytes_refkit_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """refkit and sigstore-python each parse the bundle; refkit then interprets its own
    parse. No differential is known today (refkit's strict reader refuses duplicate and
    unknown keys and non-canonical base64), but if one appeared, refkit would read a
    payload sigstore-python never verified. A mismatch is now a failed bundle."""
    from refkit.manifests.signing import verify as verify_module
    from refkit.manifests.signing.keyless import KeylessVerified, TrustedRoot, verify_keyless
    from refkit.manifests.signing.policy import IdentitySigner
    from tests.shared import vector
    from tests.signing_support import GITHUB_ISSUER, SLSA_IDENTITY

    def other_bytes(*args: Any, **kw: Any) -> KeylessVerified:
        r = verify_keyless(*args, **kw)
        return KeylessVerified(r.identity, r.payload_type, b"{}")

    monkeypatch.setattr(verify_module, "verify_keyless", other_bytes)
    root_path = vector("sigstore", "staging-trusted-root.json")
    ident = SigstoreIdentity(SLSA_IDENTITY, GITHUB_ISSUER)
    result = verify_manifest(
        [("a.json", vector("sigstore", "a.dsse.staging-rekor-v2.txt.sigstore.json").read_bytes())],
        TrustPolicy(signers=(IdentitySigner("beacon", ident),)),
        at=AT,
        trusted_root=TrustedRoot(str(root_path), root_path.read_bytes()),
    )
    assert not result.ok
    assert result.verified_signers == ()
    assert "other bytes" in result.bundles[0].detail


# --- work bounded by the input -------------------------------------------------------------


def test_envelope_with_very_many_signatures_is_refused() -> None:
    """Each signature was tried with each candidate key: 10,000 ECDSA signatures (1.5 MiB)
    and 4 trusted keys with an empty hint took 15 s, a 64 MiB bundle ten minutes. refkit
    writes one signature and sigstore-python accepts one; more than a few is refused."""
    k = key(KeyType.ECDSA_P256)
    good = sign(statement(), k)
    sig = json.loads(good)["dsseEnvelope"]["signatures"][0]
    policy = TrustPolicy(signers=(KeySigner(key_signer_name(k.public_key()), k.public_key()),))
    few = _with(good, ("dsseEnvelope", "signatures"), [sig] * 16)
    assert verify_manifest([("few.json", few)], policy, at=AT).ok
    many = _with(good, ("dsseEnvelope", "signatures"), [sig] * 17)
    with pytest.raises(ParseError, match="signatures"):
        parse_bundle(many, source="many.json")


# --- attacks that held up (kept as regression tests) ---------------------------------------


def _policy(*keys: Any, threshold: int = 1) -> TrustPolicy:
    signers = tuple(KeySigner(key_signer_name(k.public_key()), k.public_key()) for k in keys)
    return TrustPolicy(signers=signers, threshold=threshold)


def test_several_signatures_untrusted_valid_plus_garbage_is_no() -> None:
    trusted, untrusted = key(KeyType.ED25519, 1), key(KeyType.ED25519, 2)
    by_untrusted = sign(statement(), untrusted)
    sig = json.loads(by_untrusted)["dsseEnvelope"]["signatures"][0]
    garbage = {"sig": "AAAA"}
    bad = _with(by_untrusted, ("dsseEnvelope", "signatures"), [sig, garbage])
    bad = _with(bad, ("verificationMaterial", "publicKey", "hint"), "")
    assert not verify_manifest([("b.json", bad)], _policy(trusted), at=AT).ok


def test_hint_naming_one_trusted_key_over_another_trusted_keys_signature_is_no() -> None:
    """The unsigned hint selects keys; it cannot make key B's signature count as A's."""
    from refkit.manifests.signing.keys import cosign_hint

    a, b = key(KeyType.ECDSA_P256, 1), key(KeyType.ECDSA_P256, 2)
    by_b = _with(
        sign(statement(), b),
        ("verificationMaterial", "publicKey", "hint"),
        cosign_hint(a.public_key()),
    )
    result = verify_manifest([("b.json", by_b)], _policy(a, b), at=AT)
    assert not result.ok
    assert result.verified_signers == ()


def test_one_key_under_both_hint_conventions_counts_once() -> None:
    from refkit.manifests.signing.keys import model_signing_hint

    a, b = key(KeyType.ED25519, 1), key(KeyType.ED25519, 2)
    first = sign(statement(), a)
    second = _with(
        first, ("verificationMaterial", "publicKey", "hint"), model_signing_hint(a.public_key())
    )
    result = verify_manifest(
        [("1.json", first), ("2.json", second)], _policy(a, b, threshold=2), at=AT
    )
    assert not result.ok
    assert len(result.verified_signers) == 1


@pytest.mark.parametrize(
    "payload_type",
    ["application/vnd.in-toto+JSON", "application/vnd.in-toto+json ", "application/json"],
)
def test_validly_signed_other_payload_type_is_exit_1_not_0(payload_type: str) -> None:
    from refkit.manifests.signing.bundle import dump_bundle, key_bundle
    from refkit.manifests.signing.dsse import sign_envelope

    k = key(KeyType.ED25519, 1)
    env = sign_envelope(statement(), k, payload_type=payload_type)
    result = verify_manifest([("b.json", dump_bundle(key_bundle(env, "")))], _policy(k), at=AT)
    assert not result.ok
    assert "payload type" in (result.failure or "")


@pytest.mark.vectors
def test_keyless_bundle_that_also_names_a_public_key_is_refused() -> None:
    from tests.shared import vector

    data = vector("sigstore", "a.dsse.staging-rekor-v2.txt.sigstore.json").read_bytes()
    both = _with(data, ("verificationMaterial", "publicKey"), {"hint": ""})
    with pytest.raises(ParseError, match="exactly one"):
        parse_bundle(both, source="both.json")
