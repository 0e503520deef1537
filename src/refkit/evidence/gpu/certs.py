"""Certificate chains to NVIDIA's roots pinned by fingerprint, the FWID extensions, and
the raw ECDSA P-384 check.

A chain is given leaf first. :func:`check_chain` finds the trust anchor (the caller's
root, or the certificate among those given whose SHA-256 over DER equals the pinned
fingerprint), then walks leaf → issuer in the order given and checks, for each link: the
issuer name matches, the signature verifies with the issuer key, the issuer is a CA
(basicConstraints CA=true, keyCertSign when keyUsage is present, pathLen respected); and
every certificate is valid at the explicit time ``at``. Copies of the anchor after the
path (NVIDIA's RIMs carry one) are ignored, so the anchor that counts is always the pinned
one. The answer is a :class:`ChainFacts` (first problem found, or none), never an
exception.

FWID: Hopper leaves carry extension 2.23.133.5.4.1 = SEQUENCE { INTEGER version,
SubjectPublicKeyInfo, SEQUENCE { OID hashAlg, OCTET STRING fwid } }; Blackwell leaves carry
the DICE TcbInfo (TCG DICE Attestation Architecture 1.1, section 6.1.1) under
2.23.133.5.4.1.1, whose ``fwids [6]`` list's first digest is the FWID.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from refkit.errors import Location, ParseError
from refkit.evidence import x509read

#: SHA-256 over DER of "NVIDIA Device Identity CA" (nvtrust verifier_device_root.pem).
DEVICE_ROOT_SHA256 = "102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48"
#: SHA-256 over DER of "NVIDIA CoRIM signing Root CA" (nvtrust verifier_RIM_root.pem).
RIM_ROOT_SHA256 = "12977b5115acb0381179279fffeb5a8c4d264971ebb32298023a465fa41df5d1"

OID_HOPPER_FWID = "2.23.133.5.4.1"
OID_DICE_TCBINFO = "2.23.133.5.4.1.1"

MAX_CERTS = 16


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def load_certificates(data: bytes, *, source: str) -> tuple[x509.Certificate, ...]:
    """Every certificate in ``data``: PEM (any number) or one DER."""
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            certs = x509read.parse_pem_all(data)
        else:
            certs = (x509read.parse_der(data),)
    except x509read.UNPARSABLE as exc:
        raise ParseError(
            f"not a certificate or PEM certificate list: {exc}",
            location=Location(source),
        ) from None
    if len(certs) > MAX_CERTS:
        raise ParseError(
            f"{len(certs)} certificates, more than {MAX_CERTS}", location=Location(source)
        )
    return certs


def verify_p384(public_key: object, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` (r || s, 48 bytes each, big-endian) is an ECDSA P-384/SHA-384
    signature of ``message`` by ``public_key``."""
    if (
        not isinstance(public_key, ec.EllipticCurvePublicKey)
        or public_key.curve.name != "secp384r1"
    ):
        return False
    if len(signature) != 96:
        return False
    r = int.from_bytes(signature[:48], "big")
    s = int.from_bytes(signature[48:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        return False
    return True


# ---------------------------------------------------------------------------------------
# Chains


@dataclass(frozen=True)
class ChainFacts:
    """What :func:`check_chain` found. ``problem`` is None for a good chain; otherwise one
    of ``not-pinned``, ``root-not-ca``, ``broken``, ``not-ca``, ``expired``, with
    ``detail`` saying which certificate and why."""

    problem: str | None
    detail: str
    anchor: str | None  # fingerprint of the anchor used
    path: tuple[x509.Certificate, ...]


def _is_ca(cert: x509.Certificate) -> tuple[bool, int | None]:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False, None
    if not bc.ca:
        return False, None
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.key_cert_sign:
            return False, None
    except x509.ExtensionNotFound:
        pass
    return True, bc.path_length


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _name(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if cns:
        value = cns[0].value
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return cert.subject.rfc4514_string()


def check_chain(
    certs: Sequence[x509.Certificate],
    *,
    pinned: str,
    at: datetime,
    root: x509.Certificate | None = None,
) -> ChainFacts:
    """Check ``certs`` (leaf first) up to the anchor: ``root`` when given (the caller's
    choice, which must be a self-signed CA), else the certificate among ``certs`` whose
    fingerprint is ``pinned``."""
    if not certs:
        return ChainFacts("broken", "no certificates", None, ())
    anchor = root
    if anchor is None:
        anchor = next((c for c in certs if fingerprint(c) == pinned), None)
        if anchor is None:
            return ChainFacts(
                "not-pinned",
                f"no certificate in the chain is the pinned root (sha256 {pinned})",
                None,
                (),
            )
    fp = fingerprint(anchor)
    ca, _ = _is_ca(anchor)
    if not ca or not _signed_by(anchor, anchor):
        return ChainFacts(
            "root-not-ca",
            f"the trust anchor {_name(anchor)!r} is not a self-signed CA certificate",
            fp,
            (),
        )
    body = [c for c in certs if fingerprint(c) != fp]
    if not body:
        return ChainFacts("broken", "the chain holds only the root", fp, ())
    path = (*body, anchor)
    for i, cert in enumerate(body):
        issuer = path[i + 1]
        if not _signed_by(cert, issuer):
            return ChainFacts(
                "broken",
                f"{_name(cert)!r} (position {i}) is not signed by the next certificate "
                f"{_name(issuer)!r}: wrong order, missing link or bad signature",
                fp,
                path,
            )
        ca, path_len = _is_ca(issuer)
        if not ca:
            return ChainFacts(
                "not-ca", f"{_name(issuer)!r} issues {_name(cert)!r} but is not a CA", fp, path
            )
        below = i  # CA certificates below the issuer (excluding the leaf)
        if path_len is not None and below > path_len:
            return ChainFacts(
                "not-ca",
                f"{_name(issuer)!r} has pathLen {path_len}, {below} CAs follow it",
                fp,
                path,
            )
    for cert in path:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            return ChainFacts(
                "expired",
                f"{_name(cert)!r} is valid {cert.not_valid_before_utc.isoformat()} .. "
                f"{cert.not_valid_after_utc.isoformat()}, not at {at.isoformat()}",
                fp,
                path,
            )
    return ChainFacts(None, f"{len(path)} certificates up to {_name(anchor)!r}", fp, path)


# ---------------------------------------------------------------------------------------
# A minimal DER reader for the FWID extensions


class DerError(ValueError):
    """Malformed DER in a certificate extension."""


def der_read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, content, next position) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise DerError("truncated DER header")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte DER tags are not used here")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise DerError("bad DER length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if length > len(data) - pos:
        raise DerError("DER element overruns its container")
    return tag, data[pos : pos + length], pos + length


def der_children(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    pos = 0
    while pos < len(data):
        tag, content, pos = der_read(data, pos)
        out.append((tag, content))
    return out


def _one(data: bytes, tag: int) -> bytes:
    t, content, end = der_read(data, 0)
    if t != tag or end != len(data):
        raise DerError(f"expected one DER element of tag {tag:#04x}")
    return content


def hopper_fwid(ext_value: bytes) -> bytes:
    """The FWID of a Hopper 2.23.133.5.4.1 extension value."""
    items = der_children(_one(ext_value, 0x30))
    if len(items) < 3 or items[0][0] != 0x02 or items[1][0] != 0x30 or items[2][0] != 0x30:
        raise DerError("not SEQUENCE { INTEGER, SEQUENCE, SEQUENCE }")
    fwid = der_children(items[2][1])
    if len(fwid) != 2 or fwid[0][0] != 0x06 or fwid[1][0] != 0x04:
        raise DerError("FWID is not SEQUENCE { OID, OCTET STRING }")
    return fwid[1][1]


def dice_fwid(ext_value: bytes) -> bytes:
    """fwids[0].digest of a DICE TcbInfo extension value."""
    for tag, content in der_children(_one(ext_value, 0x30)):
        if tag == 0xA6:  # fwids [6] IMPLICIT SEQUENCE OF FWID
            fwids = der_children(content)
            if not fwids or fwids[0][0] != 0x30:
                raise DerError("empty fwids list")
            first = der_children(fwids[0][1])
            if len(first) != 2 or first[0][0] != 0x06 or first[1][0] != 0x04:
                raise DerError("FWID is not SEQUENCE { OID, OCTET STRING }")
            return first[1][1]
    raise DerError("TcbInfo without fwids")


def leaf_fwid(cert: x509.Certificate) -> tuple[str, bytes] | None:
    """(extension OID, FWID) of a device leaf, or None when it carries neither extension.
    Malformed extension content raises :class:`DerError`."""
    for oid, reader in ((OID_DICE_TCBINFO, dice_fwid), (OID_HOPPER_FWID, hopper_fwid)):
        try:
            ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid))
        except x509.ExtensionNotFound:
            continue
        value = ext.value
        raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
        return oid, reader(raw)
    return None
