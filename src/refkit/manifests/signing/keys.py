"""Signing keys: ECDSA P-256, ECDSA P-384 and Ed25519, in PEM, and the hints that name them.

Supported key types and their signature schemes (fixed per type, never negotiated):

=============  ==========================================  =======================
type           signature                                   encoding
=============  ==========================================  =======================
ecdsa-p256     ECDSA over NIST P-256 with SHA-256          DER (X9.62 Ecdsa-Sig)
ecdsa-p384     ECDSA over NIST P-384 with SHA-384          DER (X9.62 Ecdsa-Sig)
ed25519        Ed25519 (RFC 8032, pure, no pre-hash)       64 raw bytes
=============  ==========================================  =======================

These are the schemes of Sigstore's key-based bundles (cosign, sigstore-go, model_signing).
Any other key (RSA, other curves, DSA) is refused with :class:`~refkit.errors.UnsupportedInput`.

Private keys are PKCS#8 PEM, optionally encrypted (``BEGIN ENCRYPTED PRIVATE KEY``, best
available encryption of ``cryptography``, i.e. AES-256-CBC with PBKDF2). Passphrases never
travel on a command line: callers read them from an environment variable
(:func:`passphrase_from_env`). Public keys are SubjectPublicKeyInfo PEM.

A *key id* is the SHA-256 of the DER SubjectPublicKeyInfo: two files holding the same key in
different PEM layouts have the same id. It is the one way a message names a key: lower-case
hex, in full (:attr:`PublicKey.key_id`, :attr:`PublicKey.label`, what ``refkit keygen``
prints); a bundle's base64 hint is shown as that key id (:func:`describe_hint`). Public-key
*hints* (the unsigned
``verificationMaterial.publicKey.hint`` of a bundle) come in two conventions, both offered
as functions so each bundle family chooses its own:

- :func:`cosign_hint`: base64(SHA-256(DER SPKI)), cosign and sigstore-go; refkit's bundles.
- :func:`model_signing_hint`: hex(SHA-256(SPKI PEM as re-serialised by ``cryptography``)),
  OpenSSF model_signing.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from refkit.errors import InputError, UnsupportedInput

#: Environment variable read for a private key's passphrase unless another is named.
DEFAULT_PASSPHRASE_ENV = "REFKIT_KEY_PASSPHRASE"  # noqa: S105 - a variable name, not a secret

#: Largest key file read (bytes): PEM keys are a few hundred bytes.
MAX_KEY_BYTES = 64 * 1024


class KeyType(enum.Enum):
    """A supported key type; the value is the name used on the command line and in JSON."""

    ECDSA_P256 = "ecdsa-p256"
    ECDSA_P384 = "ecdsa-p384"
    ED25519 = "ed25519"


_CURVES: dict[str, KeyType] = {
    "secp256r1": KeyType.ECDSA_P256,
    "secp384r1": KeyType.ECDSA_P384,
}

_HASHES: dict[KeyType, Callable[[], hashes.HashAlgorithm]] = {
    KeyType.ECDSA_P256: hashes.SHA256,
    KeyType.ECDSA_P384: hashes.SHA384,
}

_PublicKeyObject = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
_PrivateKeyObject = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def _type_of(key: object, *, source: str) -> KeyType:
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return KeyType.ED25519
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        kind = _CURVES.get(key.curve.name)
        if kind is None:
            raise UnsupportedInput(
                f"{source}: ECDSA curve {key.curve.name} is not supported",
                hint="use an ecdsa-p256, ecdsa-p384 or ed25519 key (refkit keygen makes one)",
            )
        return kind
    raise UnsupportedInput(
        f"{source}: {type(key).__name__.lstrip('_')} keys are not supported",
        hint="use an ecdsa-p256, ecdsa-p384 or ed25519 key (refkit keygen makes one)",
    )


@dataclass(frozen=True)
class PublicKey:
    """A public verification key. Equal keys have equal :attr:`der` (and :attr:`key_id`)."""

    key_type: KeyType
    der: bytes
    key: _PublicKeyObject = field(compare=False, repr=False)

    @classmethod
    def from_object(cls, key: object, *, source: str = "public key") -> PublicKey:
        kind = _type_of(key, source=source)
        assert isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey)
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(kind, der, key)

    @property
    def key_id(self) -> str:
        """Hex SHA-256 of the DER SubjectPublicKeyInfo: the stable name of this key."""
        return hashlib.sha256(self.der).hexdigest()

    @property
    def label(self) -> str:
        """How messages name this key: ``<type> key <key id>``."""
        return f"{self.key_type.value} key {self.key_id}"

    def pem(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is a valid signature of ``data`` by this key (never raises)."""
        try:
            if isinstance(self.key, ed25519.Ed25519PublicKey):
                self.key.verify(signature, data)
            else:
                self.key.verify(signature, data, ec.ECDSA(_HASHES[self.key_type]()))
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class PrivateKey:
    """A private signing key and its type."""

    key_type: KeyType
    key: _PrivateKeyObject = field(repr=False)

    def public_key(self) -> PublicKey:
        return PublicKey.from_object(self.key.public_key())

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(data)
        return self.key.sign(data, ec.ECDSA(_HASHES[self.key_type]()))

    def pem(self, passphrase: bytes | None = None) -> bytes:
        """PKCS#8 PEM, encrypted with ``passphrase`` when one is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )


def generate(key_type: KeyType) -> PrivateKey:
    """A fresh private key of ``key_type`` from the operating system's random source."""
    key: _PrivateKeyObject
    if key_type is KeyType.ED25519:
        key = ed25519.Ed25519PrivateKey.generate()
    elif key_type is KeyType.ECDSA_P256:
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = ec.generate_private_key(ec.SECP384R1())
    return PrivateKey(key_type, key)


class PassphraseNeeded(InputError):
    """An encrypted private key was given no passphrase (the caller says where to put one)."""


def load_private_key(data: bytes, *, source: str, passphrase: bytes | None = None) -> PrivateKey:
    """Parse a PEM private key; ``passphrase`` decrypts an encrypted one.

    Raises :class:`~refkit.errors.InputError` for a malformed key or a wrong passphrase,
    :class:`PassphraseNeeded` for a missing one, and
    :class:`~refkit.errors.UnsupportedInput` for an unsupported key type.
    """
    if len(data) > MAX_KEY_BYTES:
        raise InputError(f"{source}: {len(data)} bytes is too large for a key file")
    encrypted = b"ENCRYPTED" in data
    if encrypted and not passphrase:
        raise PassphraseNeeded(
            f"{source}: the private key is encrypted and no passphrase was given"
        )
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except TypeError as exc:  # an unencrypted key given a passphrase, or the reverse
        raise InputError(f"{source}: {exc}") from None
    except ValueError:
        if encrypted:
            raise InputError(
                f"{source}: cannot decrypt the private key (wrong passphrase?)"
            ) from None
        # cryptography's message points at its FAQ; say what refkit needs instead.
        raise InputError(
            f"{source}: not a PEM private key",
            hint="give the private key `refkit keygen` wrote (PKCS#8 or traditional PEM)",
        ) from None
    except UnsupportedAlgorithm as exc:
        raise UnsupportedInput(f"{source}: unsupported private key: {exc}") from None
    kind = _type_of(key, source=source)
    assert isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)
    return PrivateKey(kind, key)


def load_public_key(data: bytes, *, source: str) -> PublicKey:
    """Parse a PEM SubjectPublicKeyInfo public key of a supported type.

    Text before the PEM block (as in the ``certtool`` output of the model_signing test keys)
    is ignored, as PEM allows.
    """
    if len(data) > MAX_KEY_BYTES:
        raise InputError(f"{source}: {len(data)} bytes is too large for a key file")
    if b"PRIVATE KEY-----" in data:
        raise InputError(
            f"{source}: is a private key; verification needs the public key",
            hint="give the .pub file written by `refkit keygen`",
        )
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError(f"{source}: not a PEM public key ({exc})") from None
    return PublicKey.from_object(key, source=source)


def passphrase_from_env(name: str, environ: Mapping[str, str]) -> bytes | None:
    """The passphrase held in environment variable ``name``, or None if unset or empty.

    The bytes the variable holds: ``os.environ`` keeps bytes that are not UTF-8 as
    surrogate escapes, which ``surrogateescape`` turns back into those bytes.
    """
    value = environ.get(name)
    return value.encode("utf-8", "surrogateescape") if value else None


HintFunction = Callable[[PublicKey], str]


def cosign_hint(key: PublicKey) -> str:
    """base64(SHA-256(DER SPKI)): the hint of cosign, sigstore-go and refkit's bundles."""
    return base64.b64encode(hashlib.sha256(key.der).digest()).decode("ascii")


def model_signing_hint(key: PublicKey) -> str:
    """hex(SHA-256(SPKI PEM)), the PEM as ``cryptography`` writes it: model_signing's hint."""
    return hashlib.sha256(key.pem()).hexdigest()


#: Every hint convention a verifier recognises, in the order they are tried.
HINT_FUNCTIONS: tuple[HintFunction, ...] = (cosign_hint, model_signing_hint)


def hints_of(key: PublicKey) -> frozenset[str]:
    """Every hint by which a bundle may name ``key``."""
    return frozenset(f(key) for f in HINT_FUNCTIONS)


def describe_hint(hint: str) -> str:
    """A bundle's hint as messages show it: a cosign hint (base64 of the key id's 32 bytes)
    as ``key id <hex>``, the one format of key ids; any other convention as it is."""
    try:
        raw = base64.b64decode(hint, validate=True)
    except ValueError:
        raw = b""
    if len(raw) == hashlib.sha256().digest_size and base64.b64encode(raw).decode() == hint:
        return f"key id {raw.hex()}"
    return f"hint {hint[:100]!r}"


def names_of(key: PublicKey) -> frozenset[str]:
    """Every name a DSSE signature's ``keyid`` may give ``key``: its key id or a hint."""
    return hints_of(key) | {key.key_id}
