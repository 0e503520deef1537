"""AMD SEV-SNP certificates, picked by content: ARK, ASK/ASVK, VCEK/VLEK and their extensions.

Users hand over every certificate they have (PEM or DER, any number per file, any file
names); refkit reads them all and picks the chain by content: the ARK by its pinned SHA-256
fingerprint (:data:`PINNED_ARKS`, AMD's roots as published by AMD's key distribution
service), the ASK/ASVK and VCEK/VLEK by their subject name and, in :mod:`.verify`, by the
signatures that link them. Names only sort candidates; trust comes from the pinned ARK
and the signatures.

AMD's certificates (AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS
Interface Specification", publication 57230):

- every signature is RSASSA-PSS with SHA-384, MGF1 SHA-384 and a 48-byte salt;
- the VCEK and VLEK carry private extensions under 1.3.6.1.4.1.3704.1: ``.1`` structure
  version (INTEGER; 0 before Turin, 1 on Turin), ``.2`` product name (IA5String, e.g.
  ``Milan-B0``), ``.3.1`` blSPL, ``.3.2`` teeSPL, ``.3.3`` snpSPL, ``.3.8`` ucodeSPL,
  ``.3.9`` fmcSPL (Turin) (INTEGERs), ``.4`` hwID (the raw bytes: 64, or 8 on Turin; a
  DER OCTET STRING around them is also read), ``.5`` CSP ID (VLEK, IA5String);
- VCEKs have serial number 0, which RFC 5280 forbids: ``cryptography`` emits a
  ``CryptographyDeprecationWarning`` when it parses one and when its serial is read.
  :func:`load_certificate` and :func:`serial_number` suppress exactly that warning
  through :mod:`refkit.evidence.x509read`, the reader all evidence families share.

Malformed input (a blob that holds no certificate, a PEM block that does not parse) is a
:class:`~refkit.errors.ParseError`; a malformed AMD extension is not a parse error but a
failed check (:class:`ExtensionError`, reported as ``snp.vcek.extension-invalid``).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from refkit.errors import Location, ParseError
from refkit.evidence import x509read
from refkit.measure.cpu import SnpProduct

#: SHA-256 of the DER of AMD's root keys (../shared/vectors/PROVENANCE.md, amd/ section).
PINNED_ARKS: Final[Mapping[SnpProduct, str]] = MappingProxyType(
    {
        SnpProduct.MILAN: "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
        SnpProduct.GENOA: "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
        SnpProduct.TURIN: "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
    }
)

AMD_OID: Final = "1.3.6.1.4.1.3704.1"
OID_STRUCT_VERSION: Final = f"{AMD_OID}.1"
OID_PRODUCT_NAME: Final = f"{AMD_OID}.2"
OID_BL_SPL: Final = f"{AMD_OID}.3.1"
OID_TEE_SPL: Final = f"{AMD_OID}.3.2"
OID_SNP_SPL: Final = f"{AMD_OID}.3.3"
OID_UCODE_SPL: Final = f"{AMD_OID}.3.8"
OID_FMC_SPL: Final = f"{AMD_OID}.3.9"
OID_HWID: Final = f"{AMD_OID}.4"
OID_CSP_ID: Final = f"{AMD_OID}.5"

#: AMD's one signature scheme for its certificates and CRLs.
PSS_PADDING: Final = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)

_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)
#: Largest certificate blob read (a chain file is a few KiB).
MAX_BLOB: Final = 1024 * 1024


#: What ``cryptography`` raises for bytes that are not a well-formed certificate or CRL
#: (InvalidVersion is not a ValueError; found by fuzzing).
_UNPARSABLE = x509read.UNPARSABLE


class Role(enum.Enum):
    """What an AMD certificate is, by its subject's common name."""

    ARK = "ARK"
    ASK = "ASK"
    ASVK = "ASVK"
    VCEK = "VCEK"
    VLEK = "VLEK"
    OTHER = "other"


class ExtensionError(ValueError):
    """An AMD extension of a VCEK/VLEK is absent or malformed (a failed check, not a parse
    error: the certificate itself is well formed)."""


@dataclass(frozen=True)
class AmdExtensions:
    """The AMD extensions of a VCEK or VLEK."""

    struct_version: int
    product_name: str
    bootloader: int
    tee: int
    snp: int
    microcode: int
    fmc: int | None
    hwid: bytes | None
    csp_id: str | None

    @functools.cached_property
    def product(self) -> SnpProduct | None:
        """The product the name names (``Milan-B0`` is Milan), None when unknown."""
        head = self.product_name.split("-", 1)[0]
        return next((p for p in SnpProduct if p.value == head), None)

    def components(self) -> dict[str, int]:
        out = {
            "bootloader": self.bootloader,
            "tee": self.tee,
            "snp": self.snp,
            "microcode": self.microcode,
        }
        if self.fmc is not None:
            out["fmc"] = self.fmc
        return out


@dataclass(frozen=True, eq=False)
class AmdCertificate:
    """One parsed certificate with what refkit reads from it (compared by identity)."""

    der: bytes
    cert: x509.Certificate
    fingerprint: str
    common_name: str
    role: Role
    #: The product its name names (ARK-Milan, SEV-Genoa, SEV-VLEK-Turin); None for leaves.
    product: SnpProduct | None
    source: str
    not_before: datetime
    not_after: datetime
    public_key: CertificatePublicKeyTypes

    @functools.cached_property
    def window(self) -> str:
        """The validity window as text (``start .. end``, RFC 3339)."""
        return f"{self.not_before.isoformat()} .. {self.not_after.isoformat()}"

    @functools.cached_property
    def label(self) -> str:
        return f"{self.role.value} {self.common_name} (sha256 {self.fingerprint[:16]}…)"


def load_certificate(der: bytes) -> x509.Certificate:
    """Parse one DER certificate; AMD's serial-0 warning is suppressed, nothing else.
    Fields are read by :func:`describe` (extensions by :func:`read_extensions`)."""
    with x509read.serial_zero_allowed():
        return x509.load_der_x509_certificate(der)


#: A certificate's serial number without the serial-0 warning (:mod:`refkit.evidence.x509read`).
serial_number = x509read.serial_number


def _role(cn: str) -> tuple[Role, SnpProduct | None]:
    products = {p.value: p for p in SnpProduct}
    if cn == "SEV-VCEK":
        return Role.VCEK, None
    if cn == "SEV-VLEK":
        return Role.VLEK, None
    for prefix, role in (("ARK-", Role.ARK), ("SEV-VLEK-", Role.ASVK), ("SEV-", Role.ASK)):
        if cn.startswith(prefix) and cn[len(prefix) :] in products:
            return role, products[cn[len(prefix) :]]
    return Role.OTHER, None


def describe(der: bytes, cert: x509.Certificate, source: str, offset: int = 0) -> AmdCertificate:
    """What refkit reads from one certificate. ``cryptography`` parses fields lazily, so
    every field used later is read here once: a malformed one is a :class:`ParseError`
    now, not an exception in the middle of a verification (extensions excepted: a bad AMD
    extension is a failed check, read by :func:`read_extensions`)."""
    try:
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        cn = str(names[0].value) if names else ""
        x509read.eager(cert, extensions=False)
        public_key = cert.public_key()
    except _UNPARSABLE as exc:
        raise ParseError(
            f"certificate does not parse: {exc}", location=Location(source, offset)
        ) from None
    role, product = _role(cn)
    return AmdCertificate(
        der=der,
        cert=cert,
        fingerprint=hashlib.sha256(der).hexdigest(),
        common_name=cn,
        role=role,
        product=product,
        source=source,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        public_key=public_key,
    )


def _der_length(data: bytes, offset: int) -> tuple[int, int]:
    """(length, offset of the content) of the DER element at ``offset``."""
    if offset + 2 > len(data):
        raise ValueError("truncated")
    first = data[offset + 1]
    if first < 0x80:
        return first, offset + 2
    count = first & 0x7F
    if count == 0 or count > 4 or offset + 2 + count > len(data):
        raise ValueError("bad length")
    return int.from_bytes(data[offset + 2 : offset + 2 + count], "big"), offset + 2 + count


def split_der(blob: bytes) -> list[bytes]:
    """Concatenated DER elements of one blob, each whole (raises ValueError if not)."""
    out = []
    offset = 0
    while offset < len(blob):
        if blob[offset] != 0x30:
            raise ValueError(f"no DER SEQUENCE at offset {offset:#x}")
        length, start = _der_length(blob, offset)
        end = start + length
        if end > len(blob):
            raise ValueError(f"the DER element at offset {offset:#x} runs past the end")
        out.append(blob[offset:end])
        offset = end
    return out


def read_certificates(blob: bytes, *, source: str) -> tuple[AmdCertificate, ...]:
    """Every certificate in one blob (PEM blocks, or concatenated DER); CRLs are skipped.

    Raises :class:`ParseError` when the blob holds something that is neither.
    """
    if len(blob) > MAX_BLOB:
        raise ParseError(
            f"{len(blob)} bytes is too large for certificates",
            location=Location(source, MAX_BLOB),
        )
    out: list[AmdCertificate] = []
    if b"-----BEGIN" in blob:
        for match in _PEM.finditer(blob):
            label = match.group(1).decode("ascii")
            if label != "CERTIFICATE":
                continue
            try:
                der = _pem_body(match.group(0))
                cert = load_certificate(der)
            except _UNPARSABLE as exc:
                raise ParseError(
                    f"PEM certificate does not parse: {exc}",
                    location=Location(source, match.start()),
                ) from None
            out.append(describe(der, cert, source, match.start()))
        return tuple(out)
    try:
        elements = split_der(blob)
    except ValueError as exc:
        raise ParseError(
            f"neither PEM nor DER certificates: {exc}", location=Location(source, 0)
        ) from None
    offset = 0
    for der in elements:
        try:
            cert = load_certificate(der)
        except _UNPARSABLE:
            if _is_crl(der):
                offset += len(der)
                continue
            raise ParseError(
                "DER element is not an X.509 certificate", location=Location(source, offset)
            ) from None
        out.append(describe(der, cert, source, offset))
        offset += len(der)
    return tuple(out)


def _pem_body(block: bytes) -> bytes:
    import base64
    import binascii

    lines = block.strip().splitlines()[1:-1]
    try:
        return base64.b64decode(b"".join(line.strip() for line in lines), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad base64: {exc}") from None


def _is_crl(der: bytes) -> bool:
    try:
        x509.load_der_x509_crl(der)
    except _UNPARSABLE:
        return False
    return True


# --- the AMD extensions -------------------------------------------------------------------


def _ext_bytes(cert: x509.Certificate, oid: str) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid))
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    if not isinstance(value, x509.UnrecognizedExtension):
        raise ExtensionError(f"extension {oid} is not an AMD extension")
    return value.value


def _single(raw: bytes, tag: int, oid: str) -> bytes:
    """The content of the one DER element of ``tag`` that ``raw`` must be."""
    try:
        if not raw or raw[0] != tag:
            raise ValueError(f"expected tag {tag:#x}")
        length, start = _der_length(raw, 0)
    except ValueError as exc:
        raise ExtensionError(f"extension {oid}: {exc}") from None
    if start + length != len(raw):
        raise ExtensionError(f"extension {oid}: {len(raw) - start - length} trailing bytes")
    return raw[start:]


def _integer(raw: bytes | None, oid: str, *, hi: int = 255) -> int:
    if raw is None:
        raise ExtensionError(f"extension {oid} is absent")
    content = _single(raw, 0x02, oid)
    if not content or (len(content) > 1 and content[0] == 0 and content[1] < 0x80):
        raise ExtensionError(f"extension {oid}: malformed INTEGER")
    value = int.from_bytes(content, "big", signed=True)
    if not 0 <= value <= hi:
        raise ExtensionError(f"extension {oid}: {value} is out of range 0..{hi}")
    return value


def _ia5(raw: bytes | None, oid: str) -> str:
    if raw is None:
        raise ExtensionError(f"extension {oid} is absent")
    content = _single(raw, 0x16, oid)
    if not content.isascii():
        raise ExtensionError(f"extension {oid}: not an IA5String")
    return content.decode("ascii")


def read_extensions(cert: x509.Certificate) -> AmdExtensions:
    """The AMD extensions of a VCEK/VLEK; :class:`ExtensionError` when absent or malformed."""
    try:
        return _read_extensions(cert)
    except _UNPARSABLE as exc:  # cryptography refuses duplicate or malformed extensions
        if isinstance(exc, ExtensionError):
            raise
        raise ExtensionError(f"extensions do not parse: {exc}") from None


def _read_extensions(cert: x509.Certificate) -> AmdExtensions:
    version = _integer(_ext_bytes(cert, OID_STRUCT_VERSION), OID_STRUCT_VERSION)
    name = _ia5(_ext_bytes(cert, OID_PRODUCT_NAME), OID_PRODUCT_NAME)
    fmc_raw = _ext_bytes(cert, OID_FMC_SPL)
    hwid = _ext_bytes(cert, OID_HWID)
    if hwid is not None and len(hwid) not in (8, 64):
        # Some issuers wrap the raw bytes in a DER OCTET STRING; read through it.
        try:
            hwid = _single(hwid, 0x04, OID_HWID)
        except ExtensionError:
            raise ExtensionError(
                f"hwID is {len(hwid)} bytes, expected 64 (or 8 on Turin)"
            ) from None
        if len(hwid) not in (8, 64):
            raise ExtensionError(f"hwID is {len(hwid)} bytes, expected 64 (or 8 on Turin)")
    csp = _ext_bytes(cert, OID_CSP_ID)
    return AmdExtensions(
        struct_version=version,
        product_name=name,
        bootloader=_integer(_ext_bytes(cert, OID_BL_SPL), OID_BL_SPL),
        tee=_integer(_ext_bytes(cert, OID_TEE_SPL), OID_TEE_SPL),
        snp=_integer(_ext_bytes(cert, OID_SNP_SPL), OID_SNP_SPL),
        microcode=_integer(_ext_bytes(cert, OID_UCODE_SPL), OID_UCODE_SPL),
        fmc=None if fmc_raw is None else _integer(fmc_raw, OID_FMC_SPL),
        hwid=hwid,
        csp_id=None if csp is None else _ia5(csp, OID_CSP_ID),
    )


# --- signatures -----------------------------------------------------------------------------


def pss_signed_by(cert: x509.Certificate, issuer: x509.Certificate | AmdCertificate) -> bool:
    """Whether ``cert`` is signed by ``issuer``'s key with RSASSA-PSS SHA-384, salt 48.

    Checked directly: ``cryptography``'s path builder refuses AMD's certificates (serial 0,
    no key identifiers), and AMD uses exactly one scheme, so no parameter is taken from
    the certificate being checked.
    """
    key = issuer.public_key if isinstance(issuer, AmdCertificate) else issuer.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or not is_pss_sha384(cert):
        return False
    try:
        key.verify(cert.signature, cert.tbs_certificate_bytes, PSS_PADDING, hashes.SHA384())
    except InvalidSignature:
        return False
    return True


def is_pss_sha384(cert: x509.Certificate | x509.CertificateRevocationList) -> bool:
    """Whether the signature algorithm is RSASSA-PSS with SHA-384."""
    if cert.signature_algorithm_oid != SignatureAlgorithmOID.RSASSA_PSS:
        return False
    try:
        return isinstance(cert.signature_hash_algorithm, hashes.SHA384)
    except UnsupportedAlgorithm:
        return False


def crl_signed_by(crl: x509.CertificateRevocationList, issuer: AmdCertificate) -> bool:
    """Whether a CRL is signed by ``issuer``'s key with RSASSA-PSS SHA-384, salt 48."""
    key = issuer.public_key
    if not isinstance(key, rsa.RSAPublicKey) or not is_pss_sha384(crl):
        return False
    try:
        key.verify(crl.signature, crl.tbs_certlist_bytes, PSS_PADDING, hashes.SHA384())
    except InvalidSignature:
        return False
    return True
