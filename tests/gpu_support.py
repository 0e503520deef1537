"""Shared helpers for the GPU evidence tests: the nvidia/ vectors (read in place), the
verification time PROVENANCE.md gives, and a small test PKI (P-384 CA, device-like leaf,
OCSP responses) built with ``cryptography`` for the cases no real vector covers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.shared import vector

#: PROVENANCE.md, nvidia/: every positive passes and every negative fails at this time.
AT = datetime(2025, 3, 1, tzinfo=UTC)
#: PROVENANCE.md: the 2026-signed switch RIM passes from 2026-05-20.
AT_2026 = datetime(2026, 6, 1, tzinfo=UTC)
#: PROVENANCE.md: nvtrust's fixed test nonce (h100-545 report).
NONCE_545 = bytes.fromhex("4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e")
#: PROVENANCE.md: the nonce of the h100-550 and ls10 reports (931d8dd0…64dfcb); the full
#: value is read from the report itself in the tests that need it.
NONCE_550_PREFIX = "931d8dd0"


def nv(*parts: str) -> Path:
    return vector("nvidia", *parts)


def read(*parts: str) -> bytes:
    return nv(*parts).read_bytes()


H100_545 = ("h100-545/attestationReport.txt", "h100-545/gpuAkCertChain.txt")
H100_550 = ("h100-550/hopperAttestationReport.txt", "h100-550/hopperCertChain.txt")
LS10 = ("ls10/switchAttestationReport.txt", "ls10/switchCertChain.txt")
INVALID_SIG = "negative/hopperAttestationReportInvalidSignature.txt"

DRIVER_RIM = "h100-545/Driver_RIM_test_no_gpu.swidtag"
VBIOS_RIM = "h100-545/1010_0200_882_96005E0001_test_no_gpu.swidtag"
VBIOS_PROD_RIM = "h100-545/1010_0200_882_96005E0001_PROD.swidtag"
SWITCH_RIM_2024 = "ls10/NV_SWITCH_BIOS_5612_0002_890_9610550001.signed-2024.xml"
SWITCH_RIM_2026 = "ls10/NV_SWITCH_BIOS_5612_0002_890_9610550001.signed-2026.xml"
BAD_SIG_RIM = "negative/incorrect_signature_driver_rim.xml"
BAD_CHAIN_RIM = "negative/incorrect_cert_chain_driver_rim.xml"
WRONG_ROOT = "negative/incorrect_rim_root.crt"
MISMATCH_RIM = "negative/NV_SWITCH_BIOS_5612_0002_890_9610550001_measurement_mismatch.xml"


def codes(results: object) -> list[str]:
    return [r.code for r in results]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# A test PKI


@dataclass(frozen=True)
class TestCa:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(
    cn: str,
    *,
    issuer: TestCa | None,
    ca: bool,
    key: ec.EllipticCurvePrivateKey | None = None,
    not_before: datetime = datetime(2020, 1, 1, tzinfo=UTC),
    not_after: datetime = datetime(2040, 1, 1, tzinfo=UTC),
    eku_ocsp: bool = False,
    extra: list[x509.ExtensionType] | None = None,
) -> TestCa:
    key = key or ec.generate_private_key(ec.SECP384R1())
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.cert.subject if issuer else _name(cn)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if eku_ocsp:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
        )
    for ext in extra or []:
        builder = builder.add_extension(ext, critical=False)
    return TestCa(key, builder.sign(signer_key, hashes.SHA384()))


def ocsp_response(
    cert: x509.Certificate,
    issuer: TestCa,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    this_update: datetime = AT - timedelta(hours=1),
    next_update: datetime | None = AT + timedelta(days=1),
    signer: TestCa | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """A DER OCSP response for ``cert`` signed by ``signer`` (default: the issuer)."""
    by = signer or issuer
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert,
        issuer=issuer.cert,
        algorithm=hashes.SHA256(),
        cert_status=status,
        this_update=this_update,
        next_update=next_update,
        revocation_time=this_update if status is ocsp.OCSPCertStatus.REVOKED else None,
        revocation_reason=None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, by.cert)
    if signer is not None:
        builder = builder.certificates([signer.cert])
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.sign(by.key, hashes.SHA384()).public_bytes(Encoding.DER)
