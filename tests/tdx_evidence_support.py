"""Shared data for the TDX evidence tests (no tests here): the real quotes, times, and a
manifest built from a quote's own values."""

from __future__ import annotations

import calendar
import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.manifest_support import example_statement
from tests.shared import vector

#: Every real TDX quote in ../shared/vectors (PROVENANCE.md, tdx/).
QUOTES = (
    ("tdx", "spr-v4-a.quote.bin"),
    ("tdx", "v4-b.quote.bin"),
    ("tdx", "v5-a.quote.bin"),
    ("tdx", "v5-b.quote.bin"),
    ("tdx", "phala", "v4.quote.bin"),
    ("tdx", "ccel-gcp", "cos-113-tdx-quote.dat"),
)
PHALA_QUOTE = ("tdx", "phala", "v4.quote.bin")
PHALA_COLLATERAL = ("tdx", "phala", "v4.collateral.json")

#: A time inside every quote's PCK chain validity (the latest notBefore is v5-a's PCK
#: leaf, 2026-01-27; the earliest notAfter spr-v4-a's, 2029-09-20; read from the chains).
AUTH_TIME = datetime(2026, 6, 1, tzinfo=UTC)
#: PROVENANCE.md: dcap-qvl evaluates the Phala pair as UpToDate at this time.
PHALA_TIME = datetime(2025, 6, 20, tzinfo=UTC)


def read(parts: tuple[str, ...]) -> bytes:
    return vector(*parts).read_bytes()


def path(parts: tuple[str, ...]) -> Path:
    return vector(*parts)


def epoch(at: datetime) -> int:
    return calendar.timegm(at.utctimetuple())


def manifest_from(measured: dict[str, str], **declared: Any) -> dict[str, Any]:
    """A predicate (the golden statement's) whose TDX values are ``measured``'s: one
    reference entry (MRTD, RTMR0-3), declared MRSEAM/XFAM/TD attributes, an MRCONFIGID
    policy. ``declared`` replaces fields of the declared TDX entry."""
    predicate = copy.deepcopy(example_statement()["predicate"])
    ref = predicate["referenceValues"]["tdx"][0]
    ref["mrtd"] = measured["MRTD"]
    ref["rtmrs"] = {str(i): measured[f"RTMR{i}"] for i in range(4)}
    decl = predicate["declared"]["tdx"][0]
    decl.update(
        {
            "mrSeams": [measured["MRSEAM"]],
            "xfam": measured["XFAM"],
            "tdAttributes": measured["TD_ATTRIBUTES"],
        }
    )
    decl.pop("minTcbEvaluationDataNumber", None)
    decl.update(declared)
    predicate["referenceValues"]["policies"] = [
        {"name": "workload", "mrConfigId": measured["MRCONFIGID"]}
    ]
    out: dict[str, Any] = predicate
    return out


# ---------------------------------------------------------------------------------------
# A synthetic Intel-shaped PKI: own root, PCK platform CA, PCK leaf (with an SGX
# extension), TCB signer, CRLs; a quote re-signed under it from the Phala quote; collateral
# signed by it. dcap-qvl's verify_with_root_ca takes the same root, so TCB levels,
# revocations and windows that Intel's signed collateral cannot show are checked against
# the peer too.

import hashlib  # noqa: E402
import json  # noqa: E402
import struct  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import timedelta  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

SGX = "1.2.840.113741.1.13.1"
_NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
_NOT_AFTER = datetime(2040, 1, 1, tzinfo=UTC)


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(chunk))
    return _der(0x06, bytes(out))


def _int(value: int, tag: int = 0x02) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return _der(tag, body)


def _seq(*items: bytes) -> bytes:
    return _der(0x30, b"".join(items))


def sgx_extension(cpu_svn: bytes, pce_svn: int, fmspc: bytes) -> bytes:
    """The SGX extension value (Intel PCK certificate profile, section 1.5)."""
    tcb = [_seq(_oid(f"{SGX}.2.{i + 1}"), _int(cpu_svn[i])) for i in range(16)]
    tcb.append(_seq(_oid(f"{SGX}.2.17"), _int(pce_svn)))
    tcb.append(_seq(_oid(f"{SGX}.2.18"), _der(0x04, cpu_svn)))
    return _seq(
        _seq(_oid(f"{SGX}.1"), _der(0x04, bytes(range(16)))),
        _seq(_oid(f"{SGX}.2"), _seq(*tcb)),
        _seq(_oid(f"{SGX}.3"), _der(0x04, b"\0\0")),
        _seq(_oid(f"{SGX}.4"), _der(0x04, fmspc)),
        _seq(_oid(f"{SGX}.5"), _int(0, 0x0A)),
    )


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    serial: int,
    *,
    ca: bool,
    extra: x509.UnrecognizedExtension | None = None,
) -> x509.Certificate:
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
    )
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        b = b.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
    if extra is not None:
        b = b.add_extension(extra, critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def raw_sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass
class Pki:
    root_key: ec.EllipticCurvePrivateKey
    ca_key: ec.EllipticCurvePrivateKey
    leaf_key: ec.EllipticCurvePrivateKey
    tcb_key: ec.EllipticCurvePrivateKey
    att_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    ca: x509.Certificate
    leaf: x509.Certificate
    tcb: x509.Certificate
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def root_der(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.DER)

    @property
    def root_pem(self) -> bytes:
        return _pem(self.root)


_PKI: dict[str, Pki] = {}


def pki() -> Pki:
    """One synthetic PKI per test session (key generation is the slow part). The PCK leaf
    states the Phala quote's platform: CPUSVN, PCESVN 11, FMSPC b0c06f000000."""
    if "pki" not in _PKI:
        keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(5)]
        root_key, ca_key, leaf_key, tcb_key, att_key = keys
        root = _cert("Test SGX Root CA", root_key, "Test SGX Root CA", root_key, 1, ca=True)
        ca = _cert("Test SGX PCK Platform CA", ca_key, "Test SGX Root CA", root_key, 2, ca=True)
        ext = x509.UnrecognizedExtension(
            x509.ObjectIdentifier(SGX),
            sgx_extension(
                bytes.fromhex("03030202040100050000000000000000"), 11, bytes.fromhex("b0c06f000000")
            ),
        )
        leaf = _cert(
            "Test SGX PCK Certificate",
            leaf_key,
            "Test SGX PCK Platform CA",
            ca_key,
            3,
            ca=False,
            extra=ext,
        )
        tcb = _cert("Test SGX TCB Signing", tcb_key, "Test SGX Root CA", root_key, 4, ca=False)
        _PKI["pki"] = Pki(root_key, ca_key, leaf_key, tcb_key, att_key, root, ca, leaf, tcb)
    return _PKI["pki"]


def synthetic_quote(p: Pki, *, body: bytes | None = None) -> bytes:
    """The Phala quote re-signed under ``p``: its header and body (or ``body``), its QE
    report bound to a new attestation key and signed by the PCK leaf, its auth data."""
    from refkit.evidence import tdx

    tpl = tdx.parse(read(PHALA_QUOTE), source="phala").quote
    nums = p.att_key.public_key().public_numbers()
    att = nums.x.to_bytes(32, "big") + nums.y.to_bytes(32, "big")
    auth = tpl.qe_auth_data
    qe = bytearray(tpl.qe_report_raw)
    qe[320:384] = hashlib.sha256(att + auth).digest() + bytes(32)
    signed = tpl.signed if body is None else tpl.signed[:48] + body
    chain = _pem(p.leaf, p.ca, p.root)
    cert5 = struct.pack("<HI", 5, len(chain)) + chain
    cert6 = bytes(qe) + raw_sign(p.leaf_key, bytes(qe)) + struct.pack("<H", len(auth)) + auth
    cert6 += cert5
    sigdata = raw_sign(p.att_key, signed) + att + struct.pack("<HI", 6, len(cert6)) + cert6
    return signed + struct.pack("<I", len(sigdata)) + sigdata


def _crl(
    issuer: str, key: ec.EllipticCurvePrivateKey, revoked: tuple[int, ...], next_update: datetime
) -> bytes:
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name(issuer))
        .last_update(_NOT_BEFORE)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(1), critical=False)
    )
    for serial in revoked:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(_NOT_BEFORE)
            .build()
        )
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def phala_documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """The Phala collateral's TCB info and QE identity as JSON values (to edit)."""
    col = json.loads(read(PHALA_COLLATERAL))
    return json.loads(col["tcb_info"]), json.loads(col["qe_identity"])


def synthetic_collateral(
    p: Pki,
    *,
    tcb_info: dict[str, Any] | None = None,
    qe_identity: dict[str, Any] | None = None,
    revoked_by_root: tuple[int, ...] = (),
    revoked_by_ca: tuple[int, ...] = (),
    crl_next_update: datetime = _NOT_AFTER - timedelta(days=1),
) -> bytes:
    """Collateral in dcap-qvl's shape, every signature by ``p``'s keys."""
    base_tcb, base_qe = phala_documents()
    tcb_text = json.dumps(tcb_info or base_tcb, separators=(",", ":"))
    qe_text = json.dumps(qe_identity or base_qe, separators=(",", ":"))
    doc = {
        "pck_crl_issuer_chain": _pem(p.ca, p.root).decode(),
        "root_ca_crl": _crl("Test SGX Root CA", p.root_key, revoked_by_root, crl_next_update).hex(),
        "pck_crl": _crl("Test SGX PCK Platform CA", p.ca_key, revoked_by_ca, crl_next_update).hex(),
        "tcb_info_issuer_chain": _pem(p.tcb, p.root).decode(),
        "tcb_info": tcb_text,
        "tcb_info_signature": raw_sign(p.tcb_key, tcb_text.encode()).hex(),
        "qe_identity_issuer_chain": _pem(p.tcb, p.root).decode(),
        "qe_identity": qe_text,
        "qe_identity_signature": raw_sign(p.tcb_key, qe_text.encode()).hex(),
    }
    return json.dumps(doc).encode()
