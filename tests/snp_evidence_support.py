"""Shared helpers for the SEV-SNP evidence tests (no tests here).

Two sources of data:

- the real vectors in ../shared/vectors/snp and amd (PROVENANCE.md), through
  :func:`real`;
- SYNTHETIC chains, reports, CRLs and HCL wrappers built here with this module's own test
  keys (:class:`TestPki`): an ARK/ASK/VCEK (or ASVK/VLEK) chain that follows AMD's formats
  (RSASSA-PSS SHA-384 salt 48, the 1.3.6.1.4.1.3704.1 extensions, serial 0 on the leaf)
  and reports signed with its leaf. They are pinned by a test :class:`SnpVerifier`, never
  by AMD's pins, and exist for what no public vector covers (Turin, VLEK, CRLs, HCL,
  debug guests). RSA keys are 2048 bits (AMD's are 4096) to keep the tests fast.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from refkit.evidence.snp.authenticity import SnpVerifier
from refkit.evidence.snp.certs import PSS_PADDING
from refkit.measure.cpu import SnpProduct
from tests.shared import vector

#: A time at which every real certificate is valid (VCEKs 2022..2029 at the earliest end).
AT = datetime(2026, 1, 1, tzinfo=UTC)

REPORTS = ("milan-v2-a", "milan-v2-b", "milan-v2-c", "gcp-milan-v5")


def real(name: str) -> tuple[bytes, bytes, bytes]:
    """(report, VCEK, Milan ASK+ARK chain) of a real vector in ../shared/vectors."""
    report = vector("snp", f"{name}.report.bin").read_bytes()
    snp_dir = vector("snp")
    vcek = next(p for p in sorted(snp_dir.glob(f"{name}.vcek.*"))).read_bytes()
    return report, vcek, vector("amd", "milan-vcek-chain.pem").read_bytes()


def chain(product: str, kind: str = "vcek") -> bytes:
    return vector("amd", f"{product}-{kind}-chain.pem").read_bytes()


# --- synthetic PKI ----------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "refkit test (synthetic)"),
        ]
    )


@functools.lru_cache(maxsize=8)
def rsa_key(label: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.lru_cache(maxsize=8)
def ec_key(label: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def der_int(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return bytes([0x02, len(body)]) + body


def der_ia5(text: str) -> bytes:
    body = text.encode("ascii")
    return bytes([0x16, len(body)]) + body


START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2040, 1, 1, tzinfo=UTC)


def _cert(
    subject: str,
    issuer: str,
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    signer: rsa.RSAPrivateKey,
    serial: int,
    *,
    extensions: list[x509.ExtensionType] = (),  # type: ignore[assignment]
    start: datetime = START,
    end: datetime = END,
) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
    )
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    # Serial 0 (AMD's VCEKs) is refused by the builder: the real VCEKs cover it.
    cert = builder.sign(signer, hashes.SHA384(), rsa_padding=PSS_PADDING)
    return cert.public_bytes(Encoding.DER)


def amd_extensions(
    *,
    product_name: str,
    tcb: dict[str, int],
    hwid: bytes | None,
    struct_version: int = 0,
    csp_id: str | None = None,
) -> list[x509.ExtensionType]:
    base = "1.3.6.1.4.1.3704.1"
    values: list[tuple[str, bytes]] = [
        (f"{base}.1", der_int(struct_version)),
        (f"{base}.2", der_ia5(product_name)),
        (f"{base}.3.1", der_int(tcb["bootloader"])),
        (f"{base}.3.2", der_int(tcb["tee"])),
        (f"{base}.3.3", der_int(tcb["snp"])),
        (f"{base}.3.8", der_int(tcb["microcode"])),
    ]
    if "fmc" in tcb:
        values.append((f"{base}.3.9", der_int(tcb["fmc"])))
    if hwid is not None:
        values.append((f"{base}.4", hwid))
    if csp_id is not None:
        values.append((f"{base}.5", der_ia5(csp_id)))
    return [x509.UnrecognizedExtension(x509.ObjectIdentifier(o), v) for o, v in values]


@dataclass(frozen=True)
class TestPki:
    """A synthetic AMD-like chain for one product: ARK -> ASK|ASVK -> VCEK|VLEK."""

    __test__ = False  # not a pytest class

    product: SnpProduct
    ark: bytes
    intermediate: bytes
    leaf: bytes
    leaf_key: ec.EllipticCurvePrivateKey
    vlek: bool

    @property
    def ark_fingerprint(self) -> str:
        return hashlib.sha256(self.ark).hexdigest()

    def verifier(self) -> SnpVerifier:
        return SnpVerifier(pinned_arks={self.product: self.ark_fingerprint})

    def blobs(self) -> list[bytes]:
        return [self.leaf, self.intermediate + self.ark]

    def crl(
        self,
        *,
        revoked: tuple[int, ...] = (),
        this_update: datetime = START,
        next_update: datetime = END,
        signer: rsa.RSAPrivateKey | None = None,
        issuer: str | None = None,
    ) -> bytes:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(_name(issuer or f"ARK-{self.product.value}"))
            .last_update(this_update)
            .next_update(next_update)
        )
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(this_update)
                .build()
            )
        crl = builder.sign(
            signer or rsa_key(f"ark-{self.product.value}"),
            hashes.SHA384(),
            rsa_padding=PSS_PADDING,
        )
        return crl.public_bytes(Encoding.DER)

    @property
    def intermediate_serial(self) -> int:
        return x509.load_der_x509_certificate(self.intermediate).serial_number


def tcb_bytes(product: SnpProduct, tcb: dict[str, int]) -> bytes:
    """A TCB_VERSION's 8 bytes for a product (DOMAIN.md section 6 layouts)."""
    raw = bytearray(8)
    if product is SnpProduct.TURIN:
        raw[0], raw[1], raw[2], raw[3], raw[7] = (
            tcb["fmc"],
            tcb["bootloader"],
            tcb["tee"],
            tcb["snp"],
            tcb["microcode"],
        )
    else:
        raw[0], raw[1], raw[6], raw[7] = tcb["bootloader"], tcb["tee"], tcb["snp"], tcb["microcode"]
    return bytes(raw)


CHIP_ID = bytes(range(0x40, 0x80))
TCB = {"bootloader": 9, "tee": 1, "snp": 22, "microcode": 84}
TURIN_TCB = {"fmc": 1, "bootloader": 2, "tee": 3, "snp": 4, "microcode": 5}


@functools.lru_cache(maxsize=8)
def make_pki(product: SnpProduct = SnpProduct.GENOA, *, vlek: bool = False) -> TestPki:
    """A synthetic chain (see the module docstring). Keys are cached per product."""
    p = product.value
    ark_key, inter_key = rsa_key(f"ark-{p}"), rsa_key(f"ask-{p}")
    leaf_key = ec_key(f"leaf-{p}-{vlek}")
    ark = _cert(f"ARK-{p}", f"ARK-{p}", ark_key.public_key(), ark_key, 0x10000)
    inter_cn = f"SEV-VLEK-{p}" if vlek else f"SEV-{p}"
    inter = _cert(inter_cn, f"ARK-{p}", inter_key.public_key(), ark_key, 0x10001)
    turin = product is SnpProduct.TURIN
    tcb = TURIN_TCB if turin else TCB
    ext = amd_extensions(
        product_name=f"{p}-B0",
        tcb=tcb,
        hwid=None if vlek else (CHIP_ID[:8] if turin else CHIP_ID),
        struct_version=1 if turin else 0,
        csp_id="synthetic-csp" if vlek else None,
    )
    leaf = _cert(
        "SEV-VLEK" if vlek else "SEV-VCEK",
        inter_cn,
        leaf_key.public_key(),
        inter_key,
        1,
        extensions=ext,
    )
    return TestPki(product, ark, inter, leaf, leaf_key, vlek)


_CPUID = {SnpProduct.MILAN: (0x19, 0x01, 0x01), SnpProduct.GENOA: (0x19, 0x11, 0x01),
          SnpProduct.TURIN: (0x1A, 0x02, 0x00)}  # fmt: skip


def make_report(
    pki: TestPki,
    *,
    version: int = 5,
    policy: int = 0x30000,
    report_data: bytes = b"\x00" * 64,
    measurement: bytes = b"\x11" * 48,
    host_data: bytes = b"\x00" * 32,
    signing_key: int | None = None,
    mask_chip_key: bool = False,
    tcb: dict[str, int] | None = None,
    sign: bool = True,
) -> bytes:
    """A SYNTHETIC ATTESTATION_REPORT signed with ``pki``'s leaf key."""
    raw = bytearray(0x4A0)
    product = pki.product
    tcb_raw = tcb_bytes(product, tcb or (TURIN_TCB if product is SnpProduct.TURIN else TCB))
    key_field = (1 if pki.vlek else 0) if signing_key is None else signing_key
    struct.pack_into("<IIQ", raw, 0, version, 0, policy)
    struct.pack_into("<II", raw, 0x30, 0, 1)
    raw[0x38:0x40] = tcb_raw
    struct.pack_into("<I", raw, 0x48, (key_field << 2) | (2 if mask_chip_key else 0))
    raw[0x50:0x90] = report_data
    raw[0x90:0xC0] = measurement
    raw[0xC0:0xE0] = host_data
    raw[0x180:0x188] = tcb_raw
    if version >= 3:
        raw[0x188:0x18B] = bytes(_CPUID[product])
    raw[0x1A0:0x1E0] = b"\x00" * 64 if mask_chip_key else CHIP_ID
    raw[0x1E0:0x1E8] = tcb_raw
    raw[0x1F0:0x1F8] = tcb_raw
    if sign:
        der = pki.leaf_key.sign(bytes(raw[:0x2A0]), ec.ECDSA(hashes.SHA384()))
        r, s = decode_dss_signature(der)
        raw[0x2A0:0x2E8] = r.to_bytes(72, "little")
        raw[0x2E8:0x330] = s.to_bytes(72, "little")
    return bytes(raw)


def hcl_wrap(report: bytes, claims: bytes, *, pad_to: int = 2600, hash_type: int = 1) -> bytes:
    """A SYNTHETIC Azure HCL report around ``report`` (layout: refkit.evidence.snp.hcl)."""
    end = 0x4D4 + len(claims)
    head = b"HCLA" + struct.pack("<IIII", 1, end, 2, 0) + b"\x00" * 12
    data = struct.pack("<IIIII", 20 + len(claims), 1, 2, hash_type, len(claims))
    out = head + report + data + claims
    return out + b"\x00" * max(0, pad_to - len(out))


def claims_report_data(claims: bytes) -> bytes:
    return hashlib.sha256(claims).digest() + b"\x00" * 32


CLAIMS = json.dumps({"keys": [{"kid": "HCLAkPub", "kty": "RSA"}], "vm-configuration": {}}).encode()

BEFORE = START - timedelta(days=1)
