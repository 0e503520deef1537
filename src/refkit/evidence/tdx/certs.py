"""X.509 pieces of TDX verification: the pinned Intel SGX Root CA, PEM chains, ECDSA
P-256 signatures in Intel's raw ``r || s`` form, chain links, validity windows and CRLs.

Intel's certificates are checked link by link with ``cryptography`` (signature by the
issuer's key, issuer name equal to the issuer's subject, the issuer a CA by its basic
constraints), the way the Intel PCK Certificate and CRL profile describes them, instead
of a general path builder: each chain has a fixed shape (leaf, intermediate, root), and
the root is pinned by the SHA-256 of its DER bytes (PROVENANCE.md, intel/).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from refkit.errors import Location, ParseError
from refkit.evidence import x509read

#: SHA-256 of the DER of "Intel SGX Root CA" (CN=Intel SGX Root CA, O=Intel Corporation).
INTEL_SGX_ROOT_SHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
INTEL_ROOT_NAME = "Intel SGX Root CA"

_X509_ERRORS = x509read.UNPARSABLE

_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
_PEM_END = b"-----END CERTIFICATE-----"
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def load_pem_chain(pem: bytes, *, source: str, field: str) -> tuple[x509.Certificate, ...]:
    """Every certificate of a concatenated PEM chain, in order; ParseError on any defect."""
    certs: list[x509.Certificate] = []
    at = 0
    while True:
        start = pem.find(_PEM_BEGIN, at)
        if start < 0:
            break
        end = pem.find(_PEM_END, start)
        if end < 0:
            raise ParseError(
                "a PEM certificate has no END line", location=Location(source, start, field)
            )
        end += len(_PEM_END)
        try:
            certs.append(x509read.parse_pem(pem[start:end]))
        except _X509_ERRORS as exc:
            raise ParseError(
                f"certificate {len(certs) + 1} is not a valid X.509 certificate: {exc}",
                location=Location(source, start, field),
            ) from None
        at = end
    if not certs:
        raise ParseError("no PEM certificate found", location=Location(source, 0, field))
    return tuple(certs)


def load_certificate(data: bytes, *, source: str) -> x509.Certificate:
    """One certificate, PEM or DER."""
    if _PEM_BEGIN in data:
        return load_pem_chain(data, source=source, field="certificate")[0]
    try:
        return x509read.parse_der(data)
    except _X509_ERRORS as exc:
        raise ParseError(
            f"not a PEM or DER certificate: {exc}", location=Location(source, 0, "certificate")
        ) from None


def raw_signature_der(raw: bytes) -> bytes:
    """Intel's 64-byte ``r || s`` (big-endian) as a DER ECDSA-Sig-Value."""
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def p256_key(raw: bytes) -> ec.EllipticCurvePublicKey | None:
    """The P-256 public key from 64 bytes ``x || y``; None when not a point on the curve."""
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + raw)
    except ValueError:
        return None


def verify_raw(key: object, raw_signature: bytes, data: bytes) -> bool:
    """ECDSA P-256/SHA-256 of ``data`` under ``key`` with a raw ``r || s`` signature."""
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        return False
    try:
        key.verify(raw_signature_der(raw_signature), data, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def verify_p256(key: ec.EllipticCurvePublicKey, raw_signature: bytes, data: bytes) -> bool:
    """:func:`verify_raw` for a key already known to be P-256 (the hot path)."""
    try:
        key.verify(raw_signature_der(raw_signature), data, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> str | None:
    """None when ``issuer`` (a CA) signed ``cert``; else why not."""
    try:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        return f"{_cn(issuer)} is not a CA certificate"
    try:
        cert.verify_directly_issued_by(issuer)
    except ValueError:
        return f"the issuer of {_cn(cert)} is not {_cn(issuer)}"
    except (InvalidSignature, TypeError, UnsupportedAlgorithm):
        return f"the signature on {_cn(cert)} does not verify under {_cn(issuer)}"
    return None


def _cn(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def common_name(cert: x509.Certificate) -> str:
    return _cn(cert)


def window_problem(cert: x509.Certificate, at: datetime) -> str | None:
    """None when ``at`` is inside the certificate's validity; else which side it is on."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if at < start:
        return f"{_cn(cert)} is not valid before {start:%Y-%m-%dT%H:%M:%SZ}"
    if at > end:
        return f"{_cn(cert)} expired at {end:%Y-%m-%dT%H:%M:%SZ}"
    return None


@dataclass(frozen=True)
class Crl:
    """A parsed CRL and what it says, independent of the verification time."""

    crl: x509.CertificateRevocationList
    issuer_name: x509.Name
    this_update: datetime
    next_update: datetime | None
    revoked: frozenset[int]
    #: SHA-256 of the CRL's DER: what caches key on (never ``id()``, which is reused).
    sha256: str

    def signed_by(self, issuer: x509.Certificate) -> bool:
        key = issuer.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        return bool(self.crl.is_signature_valid(key))

    def window_problem(self, at: datetime, what: str) -> str | None:
        if at < self.this_update:
            return f"{what} is not valid before {self.this_update:%Y-%m-%dT%H:%M:%SZ}"
        if self.next_update is None or at >= self.next_update:
            end = "never" if self.next_update is None else f"{self.next_update:%Y-%m-%dT%H:%M:%SZ}"
            return f"{what} expired (next update {end})"
        return None


def load_crl(der: bytes, *, source: str, field: str) -> Crl:
    """A CRL, DER or PEM; ParseError when it is neither."""
    try:
        crl = (
            x509.load_pem_x509_crl(der)
            if der.lstrip().startswith(b"-----BEGIN")
            else x509.load_der_x509_crl(der)
        )
        revoked = frozenset(r.serial_number for r in crl)
        _ = (crl.issuer, crl.last_update_utc, crl.next_update_utc, crl.signature_hash_algorithm)
        for ext in crl.extensions:
            _ = ext.value
    except _X509_ERRORS as exc:
        raise ParseError(f"not a valid CRL: {exc}", location=Location(source, 0, field)) from None
    return Crl(
        crl=crl,
        issuer_name=crl.issuer,
        this_update=crl.last_update_utc,
        next_update=crl.next_update_utc,
        revoked=revoked,
        sha256=hashlib.sha256(crl.public_bytes(Encoding.DER)).hexdigest(),
    )


def find_crl(crls: Sequence[Crl], issuer: x509.Name) -> Crl | None:
    for crl in crls:
        if crl.issuer_name == issuer:
            return crl
    return None
