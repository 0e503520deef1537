"""refkit weights sign/verify: model_signing's real bundles, and refkit's verified by the peer.

The three folders in ../shared/vectors/model-signing were signed by model_signing v1.1.0
(PROVENANCE.md): an elliptic key, a certificate chain, and Sigstore (keyless).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from refkit.errors import InputError
from refkit.manifests.signing.keys import KeyType, generate, load_public_key
from refkit.verification import Outcome
from refkit.weights.digest import digest_model
from refkit.weights.signing import sign_model
from refkit.weights.verify import (
    TrustChain,
    TrustKey,
    TrustSigstore,
    verify_model,
)
from tests.shared import vector
from tests.weights_support import make_tree, peer_verify_key

IDENTITY = "stefanb@us.ibm.com"  # PROVENANCE.md, model-signing/
ISSUER = "https://sigstore.verify.ibm.com/oauth2"


def _keys() -> Path:
    return vector("model-signing", "keys", "certificate")


def _copy(folder: str, tmp_path: Path) -> Path:
    src = vector("model-signing", folder)
    dst = tmp_path / folder
    shutil.copytree(src, dst)
    for p in dst.iterdir():
        p.chmod(0o644)
    return dst


def _key_trust() -> TrustKey:
    pem = _keys() / "signing-key-pub.pem"
    return TrustKey(load_public_key(pem.read_bytes(), source=str(pem)), str(pem))


def _chain_trust() -> TrustChain:
    k = _keys()
    return TrustChain((k / "ca-cert.pem").read_bytes() + (k / "int-ca-cert.pem").read_bytes(), "c")


def _sigstore_trust() -> TrustSigstore:
    root = vector("sigstore", "production-trusted-root.json")
    return TrustSigstore(IDENTITY, ISSUER, root.read_bytes(), str(root))


def _verify(model: Path, trust: object, **kw: object) -> tuple[bool, list[tuple[str, str | None]]]:
    sig = model / "model.sig"
    verdict = verify_model(
        model,
        sig.read_bytes(),
        source=str(sig),
        trust=trust,  # type: ignore[arg-type]
        signature_path=sig,
        **kw,  # type: ignore[arg-type]
    )
    return verdict.ok, [(r.code, r.subject) for r in verdict.results]


@pytest.mark.parametrize(
    ("folder", "trust", "first"),
    [
        ("v1.1.0-elliptic-key", _key_trust, "weights.signature.valid"),
        ("v1.1.0-certificate", _chain_trust, "weights.certificate.chain-valid"),
        ("v1.1.0-sigstore", _sigstore_trust, "weights.signature.valid"),
    ],
)
def test_model_signing_bundles_verify(folder: str, trust: object, first: str) -> None:
    model = vector("model-signing", folder)
    ok, codes = _verify(model, trust())  # type: ignore[operator]
    assert ok, codes
    assert codes[0][0] == first
    assert codes[-2:] == [
        ("weights.manifest.files-digest-match", None),
        ("weights.files.match", None),
    ]


@pytest.mark.parametrize(
    ("folder", "trust"),
    [
        ("v1.1.0-elliptic-key", _key_trust),
        ("v1.1.0-certificate", _chain_trust),
        ("v1.1.0-sigstore", _sigstore_trust),
    ],
)
def test_changed_missing_and_extra_files_are_named(
    tmp_path: Path, folder: str, trust: object
) -> None:
    model = _copy(folder, tmp_path)
    (model / "signme-1").write_bytes(b"tampered")
    (model / "signme-2").unlink()
    (model / "new-file").write_bytes(b"unsigned")
    (model / "ignore-me").write_bytes(b"ignored by the signed manifest: no finding")
    ok, codes = _verify(model, trust())  # type: ignore[operator]
    assert not ok
    assert ("weights.file.changed", "signme-1") in codes
    assert ("weights.file.missing", "signme-2") in codes
    assert ("weights.file.extra", "new-file") in codes
    assert not any(s == "ignore-me" for _c, s in codes)


def test_caller_ignore_paths(tmp_path: Path) -> None:
    model = _copy("v1.1.0-elliptic-key", tmp_path)
    (model / "scratch").write_bytes(b"x")
    assert not _verify(model, _key_trust())[0]
    assert _verify(model, _key_trust(), ignore=["scratch"])[0]


def test_wrong_key_and_wrong_identity_fail_before_reading_the_payload() -> None:
    model = vector("model-signing", "v1.1.0-elliptic-key")
    other = TrustKey(generate(KeyType.ECDSA_P384).public_key(), "other")
    ok, codes = _verify(model, other)
    assert not ok
    assert codes == [("weights.signature.invalid", None)]
    wrong = TrustSigstore("someone@example.com", ISSUER, _sigstore_trust().trusted_root, "r")
    _ok, codes = _verify(vector("model-signing", "v1.1.0-sigstore"), wrong)
    assert codes == [("weights.signature.invalid", None)]


def test_chain_to_an_untrusted_root_fails() -> None:
    model = vector("model-signing", "v1.1.0-certificate")
    # the Sigstore production root's certificate is not this chain's root
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import load_der_x509_certificate

    sigstore = vector("model-signing", "v1.1.0-sigstore", "model.sig")
    import base64
    import json

    raw = json.loads(sigstore.read_bytes())["verificationMaterial"]["certificate"]["rawBytes"]
    pem = load_der_x509_certificate(base64.b64decode(raw)).public_bytes(Encoding.PEM)
    ok, codes = _verify(model, TrustChain(pem, "unrelated"))
    assert not ok
    assert codes == [("weights.certificate.chain-invalid", "CN=intermediate-ca")]


def test_bundle_kind_must_match_the_trust(tmp_path: Path) -> None:
    _ok, codes = _verify(vector("model-signing", "v1.1.0-certificate"), _key_trust())
    assert codes == [("weights.signature.invalid", None)]
    _ok, codes = _verify(vector("model-signing", "v1.1.0-elliptic-key"), _chain_trust())
    assert codes == [("weights.signature.invalid", None)]


def test_refkit_signature_verifies_with_refkit_and_model_signing(tmp_path: Path) -> None:
    model = make_tree(
        tmp_path / "model", {"a/b": b"1" * 100, "a-b": b"2", "e": b"", "w": b"w" * 5000}
    )
    key = generate(KeyType.ECDSA_P256)
    pub = tmp_path / "key.pub"
    pub.write_bytes(key.public_key().pem())
    for shard in (None, 1000):
        sig = tmp_path / f"model-{shard}.sig"
        sig.write_bytes(sign_model(digest_model(model, shard_size=shard), key))
        verdict = verify_model(
            model,
            sig.read_bytes(),
            source=str(sig),
            trust=TrustKey(key.public_key(), "k"),
        )
        assert verdict.ok, verdict.results
        peer_verify_key(model, sig, pub)  # raises if model_signing says no
    (model / "w").write_bytes(b"changed")
    with pytest.raises(ValueError, match="Signature mismatch"):
        peer_verify_key(model, sig, pub)  # the peer check can fail: it is not vacuous


def test_ed25519_refused_for_model_signing() -> None:
    from refkit.errors import UnsupportedInput
    from refkit.weights.oms import ModelManifest

    m = ModelManifest.build(
        name="m",
        method="files",
        hash_type="sha256",
        shard_size=None,
        allow_symlinks=False,
        ignore_paths=(),
        resources=(),
    )
    with pytest.raises(UnsupportedInput, match="ECDSA keys only"):
        sign_model(m, generate(KeyType.ED25519))


def test_subject_inconsistent_with_resources_is_a_failing_result(tmp_path: Path) -> None:
    import json

    from refkit.manifests.canonical import canonical_dumps
    from refkit.manifests.signing.bundle import dump_bundle, key_bundle
    from refkit.manifests.signing.dsse import Envelope, Signature, pae
    from refkit.manifests.signing.keys import model_signing_hint

    model = make_tree(tmp_path / "m", {"f": b"f"})
    statement = digest_model(model).statement()
    statement["subject"][0]["digest"]["sha256"] = "00" * 32
    payload = canonical_dumps(statement)
    key = generate(KeyType.ECDSA_P256)
    ptype = "application/vnd.in-toto+json"
    env = Envelope(payload, ptype, (Signature(key.sign(pae(ptype, payload)), ""),))
    data = dump_bundle(key_bundle(env, model_signing_hint(key.public_key())))
    verdict = verify_model(model, data, source="b", trust=TrustKey(key.public_key(), "k"))
    codes = [r.code for r in verdict.results]
    assert "weights.manifest.files-digest-mismatch" in codes
    assert verdict.failures[0].outcome is Outcome.FAIL
    assert json.loads(payload)["subject"][0]["digest"]["sha256"] == "00" * 32


def test_message_signature_bundle_refused() -> None:
    bundle = vector("sigstore", "bundle_v3_github.whl.sigstore")
    with pytest.raises(InputError, match="not a DSSE envelope"):
        verify_model(
            vector("model-signing", "v1.1.0-sigstore"),
            bundle.read_bytes(),
            source=str(bundle),
            trust=_sigstore_trust(),
        )


@pytest.mark.peer
def test_model_signing_cannot_verify_blake2_manifests(tmp_path: Path) -> None:
    """A peer limitation pinned so that docs/weights.md stays true: model_signing 1.1.1
    records hash_type "blake2b" but its verifier's guessed configuration only knows
    "blake2", so a BLAKE2 manifest (its own or refkit's) never verifies with it. refkit
    verifies it. When this test fails, the peer was fixed: update docs/weights.md."""
    model = make_tree(tmp_path / "model", {"f": b"x"})
    key = generate(KeyType.ECDSA_P256)
    pub = tmp_path / "key.pub"
    pub.write_bytes(key.public_key().pem())
    sig = tmp_path / "model.sig"
    sig.write_bytes(sign_model(digest_model(model, algorithm="blake2"), key))
    with pytest.raises(ValueError, match="blake2b"):
        peer_verify_key(model, sig, pub)
    verdict = verify_model(
        model, sig.read_bytes(), source=str(sig), trust=TrustKey(key.public_key(), "k")
    )
    assert verdict.ok
