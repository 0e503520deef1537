"""Messages for common mistakes with keys and bundles: one line, what to do, exit 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Runner = Callable[..., Any]
STATEMENT = Path(__file__).resolve().parent.parent / "assets" / "signing" / "release.json"


def test_verify_given_a_statement_says_sign_it_first(tmp_path: Path, run_cli: Runner) -> None:
    key = tmp_path / "k.key"
    assert run_cli("keygen", "--out", key).code == 0
    r = run_cli("manifest", "verify", STATEMENT, "--key", f"{key}.pub")
    assert r.code == 2
    assert "unsigned in-toto statement, not a Sigstore bundle" in r.stderr
    assert "refkit manifest sign" in r.stderr


def test_verify_bad_at_names_the_option_once(tmp_path: Path, run_cli: Runner) -> None:
    key = tmp_path / "k.key"
    bundle = tmp_path / "b.json"
    assert run_cli("keygen", "--out", key).code == 0
    assert run_cli("manifest", "sign", STATEMENT, "--key", key, "-o", bundle).code == 0
    r = run_cli("manifest", "verify", bundle, "--key", f"{key}.pub", "--at", "yesterday")
    assert r.code == 2
    assert "error: --at 'yesterday' is not an RFC 3339" in r.stderr
    assert "hint: for example --at" in r.stderr


def test_sign_with_a_file_that_is_not_a_key(tmp_path: Path, run_cli: Runner) -> None:
    not_key = tmp_path / "notes.txt"
    not_key.write_text("hello\n")
    r = run_cli("manifest", "sign", STATEMENT, "--key", not_key, "-o", tmp_path / "b.json")
    assert r.code == 2
    assert "not a PEM private key" in r.stderr
    assert "cryptography.io" not in r.stderr
    assert not (tmp_path / "b.json").exists()


def test_keygen_refuses_dash(tmp_path: Path, run_cli: Runner, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    r = run_cli("keygen", "--out", "-")
    assert r.code == 2
    assert "'-' is not a file" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_validly_signed_malformed_manifest_is_a_no(tmp_path: Path, run_cli: Runner) -> None:
    """Signed by a trusted key, but the content is not a valid manifest: exit 1, reported."""
    import json

    from refkit.manifests.canonical import canonical_dumps
    from refkit.manifests.signing.bundle import dump_bundle, key_bundle
    from refkit.manifests.signing.dsse import sign_envelope
    from refkit.manifests.signing.keys import KeyType, cosign_hint, generate

    doc = json.loads(STATEMENT.read_bytes())
    doc["predicate"]["release"]["version"] = ""  # refkit's model refuses an empty version
    key = generate(KeyType.ED25519)
    envelope = sign_envelope(canonical_dumps(doc), key)
    bundle = tmp_path / "b.json"
    bundle.write_bytes(dump_bundle(key_bundle(envelope, cosign_hint(key.public_key()))))
    pub = tmp_path / "k.pub"
    pub.write_bytes(key.public_key().pem())
    r = run_cli("manifest", "verify", bundle, "--key", pub, "--json")
    assert r.code == 1, r.stderr
    result = json.loads(r.stdout)
    assert result["ok"] is False
    assert "not a valid reference manifest" in result["failure"]
    assert "release.version" in result["failure"]
