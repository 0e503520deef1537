"""Sign a model manifest with a local key, as a bundle model_signing verifies.

The bundle is refkit's key-based Sigstore bundle v0.3 (:mod:`refkit.manifests.signing`):
a DSSE envelope over the OMS statement (RFC 8785 canonical JSON), one signature with an
empty ``keyid`` (as model_signing writes it), and verification material that is a
public-key hint in **model_signing's** convention: hex SHA-256 of the SPKI PEM
(``model_signing verify key`` refuses a bundle whose hint is another key's; cosign's
base64 form is never equal to it, DOMAIN.md section 7).

model_signing signs and verifies with elliptic-curve keys only (ECDSA P-256 with SHA-256,
P-384 with SHA-384), so an Ed25519 key is refused here: its signature would verify with
refkit but not with the peer.
"""

from __future__ import annotations

from refkit.errors import UnsupportedInput
from refkit.manifests.signing.bundle import dump_bundle, key_bundle
from refkit.manifests.signing.dsse import Envelope, Signature, pae
from refkit.manifests.signing.keys import KeyType, PrivateKey, model_signing_hint
from refkit.weights.oms import PAYLOAD_TYPE, ModelManifest, statement_bytes


def sign_model(manifest: ModelManifest, key: PrivateKey, *, source: str = "key") -> bytes:
    """The bundle bytes (canonical JSON and a newline) signing ``manifest`` with ``key``."""
    if key.key_type is KeyType.ED25519:
        raise UnsupportedInput(
            f"{source}: model_signing verifies ECDSA keys only, not Ed25519",
            hint="use an ecdsa-p256 or ecdsa-p384 key (refkit keygen makes one)",
        )
    payload = statement_bytes(manifest)
    signature = Signature(key.sign(pae(PAYLOAD_TYPE, payload)), "")
    envelope = Envelope(payload, PAYLOAD_TYPE, (signature,))
    return dump_bundle(key_bundle(envelope, model_signing_hint(key.public_key())))
