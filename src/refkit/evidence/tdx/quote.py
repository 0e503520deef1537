"""Intel TDX quote v4 and v5: bytes into frozen values.

Layout (Intel TDX DCAP Quoting Library API, appendix A "Quote format"; all integers
little-endian):

- Header, 48 bytes (A.3): ``version`` u16 @0 (4 or 5), ``att_key_type`` u16 @2 (2 = ECDSA
  P-256), ``tee_type`` u32 @4 (0x81 = TDX), ``qe_svn`` u16 @8, ``pce_svn`` u16 @10,
  ``qe_vendor_id`` 16 @12, ``user_data`` 20 @28.
- v4: the TD report body (TDX 1.0, 584 bytes) @48.
  v5 (A.3.2): ``body_type`` u16 @48 (2 = TDX 1.0, 3 = TDX 1.5), ``body_size`` u32 @50, body
  @54; the TDX 1.5 body (648 bytes) appends TEE_TCB_SVN2 and MRSERVICETD.
- The signed region is ``quote[0 : end of body]``; then ``sig_data_len`` u32 and the
  signature data (A.4): ECDSA signature 64 (r || s, big-endian), attestation public key
  64 (x || y), certification data {``type`` u16, ``size`` u32, data}. Type 6 (QE report
  certification data) holds the QE report (384 bytes, an SGX enclave report), its
  signature 64, ``auth_len`` u16 + QE authentication data, then a nested certification
  data of type 5: the PCK chain as concatenated PEM (leaf, intermediate, root).

Invariants: every offset is checked before it is read, so truncated, oversized or
inconsistent input raises :class:`~refkit.errors.ParseError` with the source, the offset
and the field, never another exception. Unknown versions, TEE types, key types, body
types and certification data types are refused (fail closed). Bytes after the signature
data are covered by no signature and carry no claim: they are kept apart (``trailing``)
and reported by ``show``, not refused, because real producers append them (the Google
Cloud quote in the shared vectors is zero-padded to 8000 bytes, go-tdx-guest's SPR sample
ends in a text line). Quotes beyond :data:`MAX_QUOTE_SIZE` are refused as oversized.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

from refkit.errors import Location, ParseError

HEADER_SIZE = 48
TD10_BODY_SIZE = 584
TD15_BODY_SIZE = 648
QE_REPORT_SIZE = 384
SIGNATURE_SIZE = 64
KEY_SIZE = 64

TEE_TYPE_TDX = 0x81
ATT_KEY_TYPE_ECDSA_P256 = 2
BODY_TYPE_TD10 = 2
BODY_TYPE_TD15 = 3
CERT_TYPE_PCK_CHAIN = 5
CERT_TYPE_QE_REPORT = 6

#: Intel's QE vendor ID (939a7233-f79c-4ca9-940a-0db3957f0607 as bytes).
INTEL_QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")

#: Largest quote accepted: real quotes are about 5 KB (8 KB padded); the PEM chain is the
#: only variable part. Anything far beyond is not a quote.
MAX_QUOTE_SIZE = 64 * 1024

_TD_ATTRIBUTES_DEBUG = 0x01


def _u16(raw: bytes, at: int) -> int:
    return raw[at] | raw[at + 1] << 8


@dataclass(frozen=True)
class QuoteHeader:
    """The 48-byte quote header (A.3). Fields are read from ``raw`` on access: building a
    value per field would cost more than the signature checks' share allows."""

    raw: bytes

    @property
    def version(self) -> int:
        return _u16(self.raw, 0)

    @property
    def att_key_type(self) -> int:
        return _u16(self.raw, 2)

    @property
    def tee_type(self) -> int:
        return int.from_bytes(self.raw[4:8], "little")

    @property
    def qe_svn(self) -> int:
        return _u16(self.raw, 8)

    @property
    def pce_svn(self) -> int:
        return _u16(self.raw, 10)

    @property
    def qe_vendor_id(self) -> bytes:
        return self.raw[12:28]

    @property
    def user_data(self) -> bytes:
        return self.raw[28:48]


@dataclass(frozen=True)
class TdReport:
    """The TD report body (A.3.4; TDX 1.5 adds ``tee_tcb_svn2`` and ``mr_service_td``),
    fields read from ``raw`` (584 or 648 bytes) on access."""

    raw: bytes

    @property
    def tee_tcb_svn(self) -> bytes:
        return self.raw[0x00:0x10]

    @property
    def mr_seam(self) -> bytes:
        return self.raw[0x10:0x40]

    @property
    def mr_signer_seam(self) -> bytes:
        return self.raw[0x40:0x70]

    @property
    def seam_attributes(self) -> bytes:
        return self.raw[0x70:0x78]

    @property
    def td_attributes(self) -> bytes:
        return self.raw[0x78:0x80]

    @property
    def xfam(self) -> bytes:
        return self.raw[0x80:0x88]

    @property
    def mr_td(self) -> bytes:
        return self.raw[0x88:0xB8]

    @property
    def mr_config_id(self) -> bytes:
        return self.raw[0xB8:0xE8]

    @property
    def mr_owner(self) -> bytes:
        return self.raw[0xE8:0x118]

    @property
    def mr_owner_config(self) -> bytes:
        return self.raw[0x118:0x148]

    @property
    def rtmrs(self) -> tuple[bytes, bytes, bytes, bytes]:
        r = self.raw
        return (r[0x148:0x178], r[0x178:0x1A8], r[0x1A8:0x1D8], r[0x1D8:0x208])

    @property
    def report_data(self) -> bytes:
        return self.raw[0x208:0x248]

    @property
    def tee_tcb_svn2(self) -> bytes | None:
        return self.raw[0x248:0x258] if len(self.raw) == TD15_BODY_SIZE else None

    @property
    def mr_service_td(self) -> bytes | None:
        return self.raw[0x258:0x288] if len(self.raw) == TD15_BODY_SIZE else None

    @property
    def debug(self) -> bool:
        """TD_ATTRIBUTES.TUD.DEBUG (bit 0): the host can read and change the TD's state."""
        return bool(self.raw[0x78] & _TD_ATTRIBUTES_DEBUG)


@dataclass(frozen=True)
class EnclaveReport:
    """The QE's SGX enclave report (SGX REPORT body, 384 bytes): CPUSVN @0, MISCSELECT @16,
    ATTRIBUTES @48, MRENCLAVE @64, MRSIGNER @128, ISVPRODID @256, ISVSVN @258,
    REPORTDATA @320; read from ``raw`` on access."""

    raw: bytes

    @property
    def cpu_svn(self) -> bytes:
        return self.raw[0:16]

    @property
    def misc_select(self) -> int:
        return int.from_bytes(self.raw[16:20], "little")

    @property
    def attributes(self) -> bytes:
        return self.raw[48:64]

    @property
    def mr_enclave(self) -> bytes:
        return self.raw[64:96]

    @property
    def mr_signer(self) -> bytes:
        return self.raw[128:160]

    @property
    def isv_prod_id(self) -> int:
        return _u16(self.raw, 256)

    @property
    def isv_svn(self) -> int:
        return _u16(self.raw, 258)

    @property
    def report_data(self) -> bytes:
        return self.raw[320:384]


class Quote(NamedTuple):
    """A parsed TDX quote. ``raw`` is the quote's bytes up to the end of the signature
    data; ``trailing`` what followed (unsigned, no claim). Immutable (a named tuple: it is
    built once per quote on the hot path, where a frozen dataclass's per-field
    ``object.__setattr__`` costs a measurable share of a verification)."""

    header: QuoteHeader
    body_type: int
    body: TdReport
    signed: bytes
    signature: bytes
    attestation_key: bytes
    qe_report_raw: bytes
    qe_report: EnclaveReport
    qe_report_signature: bytes
    qe_auth_data: bytes
    pck_chain_pem: bytes
    raw: bytes
    trailing: bytes = b""

    @property
    def version(self) -> int:
        return self.header.version


class _Reader:
    """Bounds-checked little-endian reads that fail with the offset and the field."""

    def __init__(self, data: bytes, source: str, limit: int | None = None) -> None:
        self.data = data
        self.source = source
        self.limit = len(data) if limit is None else limit

    def fail(self, offset: int, field: str, message: str) -> ParseError:
        return ParseError(message, location=Location(self.source, offset, field))

    def take(self, offset: int, size: int, field: str) -> bytes:
        if offset + size > self.limit:
            raise self.fail(
                offset,
                field,
                f"truncated: {field} needs {size} bytes at offset {offset:#x}, "
                f"only {self.limit} bytes are available",
            )
        return self.data[offset : offset + size]

    def u16(self, offset: int, field: str) -> int:
        value: int = struct.unpack_from("<H", self.take(offset, 2, field))[0]
        return value

    def u32(self, offset: int, field: str) -> int:
        value: int = struct.unpack_from("<I", self.take(offset, 4, field))[0]
        return value


def looks_like(data: bytes) -> bool:
    """Whether ``data`` starts like a TDX quote v4/v5 (version, ECDSA key type, TDX TEE)."""
    if len(data) < HEADER_SIZE:
        return False
    version, key_type, tee_type = struct.unpack_from("<HHI", data)
    return version in (4, 5) and key_type == ATT_KEY_TYPE_ECDSA_P256 and tee_type == TEE_TYPE_TDX


def _header(r: _Reader) -> QuoteHeader:
    raw = r.take(0, HEADER_SIZE, "header")
    version = _u16(raw, 0)
    if version not in (4, 5):
        raise r.fail(0, "header.version", f"unsupported quote version {version} (TDX: 4 or 5)")
    key_type = _u16(raw, 2)
    if key_type != ATT_KEY_TYPE_ECDSA_P256:
        raise r.fail(
            2, "header.att_key_type", f"unsupported attestation key type {key_type} (2 = P-256)"
        )
    tee_type = int.from_bytes(raw[4:8], "little")
    if tee_type != TEE_TYPE_TDX:
        raise r.fail(4, "header.tee_type", f"TEE type {tee_type:#x} is not TDX (0x81)")
    return QuoteHeader(raw)


def parse_quote(data: bytes, *, source: str) -> Quote:
    """Parse a TDX quote v4/v5 (see the module docstring); ParseError on any defect."""
    if len(data) > MAX_QUOTE_SIZE:
        raise ParseError(
            f"oversized: {len(data)} bytes, a TDX quote is at most {MAX_QUOTE_SIZE}",
            location=Location(source, MAX_QUOTE_SIZE, "quote"),
        )
    r = _Reader(data, source)
    header = _header(r)
    if header.version == 4:
        body_type, body_at = BODY_TYPE_TD10, HEADER_SIZE
    else:
        body_type = r.u16(HEADER_SIZE, "body.type")
        if body_type not in (BODY_TYPE_TD10, BODY_TYPE_TD15):
            raise r.fail(
                HEADER_SIZE,
                "body.type",
                f"unsupported body type {body_type} (2 = TDX 1.0, 3 = TDX 1.5)",
            )
        size = r.u32(HEADER_SIZE + 2, "body.size")
        expected = TD15_BODY_SIZE if body_type == BODY_TYPE_TD15 else TD10_BODY_SIZE
        if size != expected:
            raise r.fail(
                HEADER_SIZE + 2,
                "body.size",
                f"body size {size} does not match body type {body_type} ({expected})",
            )
        body_at = HEADER_SIZE + 6
    size = TD15_BODY_SIZE if body_type == BODY_TYPE_TD15 else TD10_BODY_SIZE
    body = TdReport(r.take(body_at, size, "body"))
    signed_end = body_at + (TD15_BODY_SIZE if body_type == BODY_TYPE_TD15 else TD10_BODY_SIZE)

    sig_len = r.u32(signed_end, "signature_data.length")
    sig_at = signed_end + 4
    sig_end = sig_at + sig_len
    if sig_end > len(data):
        raise r.fail(
            signed_end,
            "signature_data.length",
            f"truncated: signature data of {sig_len} bytes does not fit the "
            f"{len(data) - sig_at} bytes left",
        )
    inner = _Reader(data, source, sig_end)
    fixed = sig_at + 128 + 6 + QE_REPORT_SIZE + SIGNATURE_SIZE + 2
    if sig_end < fixed:  # slow path: name the first field that does not fit
        inner.take(sig_at, SIGNATURE_SIZE, "signature_data.signature")
        inner.take(sig_at + 64, KEY_SIZE, "signature_data.attestation_key")
        inner.u16(sig_at + 128, "certification_data.type")
        inner.u32(sig_at + 130, "certification_data.size")
        inner.take(sig_at + 134, QE_REPORT_SIZE, "qe_report")
        inner.take(sig_at + 134 + QE_REPORT_SIZE, SIGNATURE_SIZE, "qe_report_signature")
        inner.u16(fixed - 2, "qe_auth_data.length")
    signature = data[sig_at : sig_at + 64]
    att_key = data[sig_at + 64 : sig_at + 128]
    at = sig_at + 128
    cert_type, outer_size = struct.unpack_from("<HI", data, at)
    if cert_type != CERT_TYPE_QE_REPORT:
        raise inner.fail(
            at,
            "certification_data.type",
            f"certification data type {cert_type} is not 6 (QE report certification data)",
        )
    at += 6
    if at + outer_size != sig_end:
        raise inner.fail(
            at - 4,
            "certification_data.size",
            f"certification data size {outer_size} disagrees with the signature data "
            f"length (expected {sig_end - at})",
        )
    qe_raw = data[at : at + QE_REPORT_SIZE]
    qe_sig = data[at + QE_REPORT_SIZE : at + QE_REPORT_SIZE + SIGNATURE_SIZE]
    at += QE_REPORT_SIZE + SIGNATURE_SIZE
    auth_len = _u16(data, at)
    auth = inner.take(at + 2, auth_len, "qe_auth_data")
    at += 2 + auth_len
    pck_type = inner.u16(at, "pck_certification_data.type")
    if pck_type != CERT_TYPE_PCK_CHAIN:
        raise inner.fail(
            at,
            "pck_certification_data.type",
            f"certification data type {pck_type} is not 5 (PCK certificate chain)",
        )
    pck_size = inner.u32(at + 2, "pck_certification_data.size")
    at += 6
    if at + pck_size != sig_end:
        raise inner.fail(
            at - 4,
            "pck_certification_data.size",
            f"PCK chain size {pck_size} disagrees with the enclosing size "
            f"(expected {sig_end - at})",
        )
    chain = data[at:sig_end]
    return Quote(
        header=header,
        body_type=body_type,
        body=body,
        signed=data[:signed_end],
        signature=signature,
        attestation_key=att_key,
        qe_report_raw=qe_raw,
        qe_report=EnclaveReport(qe_raw),
        qe_report_signature=qe_sig,
        qe_auth_data=auth,
        pck_chain_pem=chain,
        raw=data[:sig_end],
        trailing=data[sig_end:],
    )
