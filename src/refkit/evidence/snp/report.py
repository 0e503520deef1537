"""The SEV-SNP ATTESTATION_REPORT, versions 2 to 5, parsed into frozen values.

Layout: AMD SEV Secure Nested Paging Firmware ABI Specification (publication 56860),
table "ATTESTATION_REPORT Structure" (0x4A0 bytes, little-endian), as summarised in
DOMAIN.md section 6:

====== ====== =====================================================================
offset size   field
====== ====== =====================================================================
0x000  4      VERSION (2-5)
0x004  4      GUEST_SVN
0x008  8      POLICY (guest policy)
0x010  16     FAMILY_ID
0x020  16     IMAGE_ID
0x030  4      VMPL
0x034  4      SIGNATURE_ALGO (1 = ECDSA P-384 with SHA-384)
0x038  8      CURRENT_TCB
0x040  8      PLATFORM_INFO
0x048  4      bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY, 31:5 reserved
0x04C  4      reserved
0x050  64     REPORT_DATA
0x090  48     MEASUREMENT
0x0C0  32     HOST_DATA
0x0E0  48     ID_KEY_DIGEST
0x110  48     AUTHOR_KEY_DIGEST
0x140  32     REPORT_ID
0x160  32     REPORT_ID_MA
0x180  8      REPORTED_TCB
0x188  3      CPUID family, model, stepping (v3+; reserved before)
0x18B  21     reserved
0x1A0  64     CHIP_ID
0x1E0  8      COMMITTED_TCB
0x1E8  4      CURRENT_BUILD, CURRENT_MINOR, CURRENT_MAJOR, reserved
0x1EC  4      COMMITTED_BUILD, COMMITTED_MINOR, COMMITTED_MAJOR, reserved
0x1F0  8      LAUNCH_TCB
0x1F8  8      LAUNCH_MIT_VECTOR (v5; reserved before)
0x200  8      CURRENT_MIT_VECTOR (v5; reserved before)
0x208  152    reserved
0x2A0  512    SIGNATURE: R (72 bytes LE), S (72 bytes LE), 368 reserved bytes
====== ====== =====================================================================

The signed region is ``[0, 0x2A0)``. TCB_VERSION (8 bytes) differs per product: Milan and
Genoa put BOOT_LOADER, TEE, SNP, MICROCODE at bytes 0, 1, 6, 7 (2-5 reserved); Turin puts
FMC, BOOT_LOADER, TEE, SNP, MICROCODE at bytes 0, 1, 2, 3, 7 (4-6 reserved). A v2 report
carries no CPUID, so its product comes from the VCEK (:mod:`.certs`); a v2 report is never
Turin, so the Milan/Genoa layout applies until then.

Invariants: :func:`parse_report` accepts exactly 0x4A0 bytes; every reserved field and
reserved bit must be zero (reserved-must-be-one policy bit 17 must be one), the version
must be 2-5, the signature algorithm 1, SIGNING_KEY 0 (VCEK), 1 (VLEK) or 7 (none); any
other input is a :class:`~refkit.errors.ParseError` naming the offset. The report keeps its
bytes; nothing here checks a signature.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, NamedTuple

from refkit.errors import Location, ParseError
from refkit.measure.cpu import SnpProduct, cpu_signature, product_of_signature

REPORT_SIZE: Final = 0x4A0
SIGNED_SIZE: Final = 0x2A0
SIGNATURE_COMPONENT: Final = 72
MIN_VERSION: Final = 2
MAX_VERSION: Final = 5
ECDSA_P384_SHA384: Final = 1

# Guest policy bits (ABI table "GUEST_POLICY Structure").
POLICY_SMT: Final = 1 << 16
POLICY_RESERVED_ONE: Final = 1 << 17
POLICY_MIGRATE_MA: Final = 1 << 18
POLICY_DEBUG: Final = 1 << 19
POLICY_SINGLE_SOCKET: Final = 1 << 20
POLICY_CXL_ALLOW: Final = 1 << 21
POLICY_MEM_AES_256_XTS: Final = 1 << 22
POLICY_RAPL_DIS: Final = 1 << 23
POLICY_CIPHERTEXT_HIDING: Final = 1 << 24
POLICY_PAGE_SWAP_DISABLE: Final = 1 << 25
POLICY_KNOWN: Final = (1 << 26) - 1

#: Names of the guest policy's flag bits, for messages and ``show``.
POLICY_FLAGS: Final = {
    POLICY_SMT: "SMT",
    POLICY_RESERVED_ONE: "RESERVED_1",
    POLICY_MIGRATE_MA: "MIGRATE_MA",
    POLICY_DEBUG: "DEBUG",
    POLICY_SINGLE_SOCKET: "SINGLE_SOCKET",
    POLICY_CXL_ALLOW: "CXL_ALLOW",
    POLICY_MEM_AES_256_XTS: "MEM_AES_256_XTS",
    POLICY_RAPL_DIS: "RAPL_DIS",
    POLICY_CIPHERTEXT_HIDING: "CIPHERTEXT_HIDING",
    POLICY_PAGE_SWAP_DISABLE: "PAGE_SWAP_DISABLE",
}

#: PLATFORM_INFO bits (ABI table "PLATFORM_INFO Field"), for ``show``.
PLATFORM_INFO_FLAGS: Final = {
    1 << 0: "SMT_EN",
    1 << 1: "TSME_EN",
    1 << 2: "ECC_EN",
    1 << 3: "RAPL_DIS",
    1 << 4: "CIPHERTEXT_HIDING_EN",
    1 << 5: "ALIAS_CHECK_COMPLETE",
}


class SigningKey(enum.IntEnum):
    """The report's SIGNING_KEY field: which key signed it."""

    VCEK = 0
    VLEK = 1
    NONE = 7


@dataclass(frozen=True)
class TcbVersion:
    """One TCB_VERSION, decoded for a product (``fmc`` on Turin only)."""

    raw: bytes
    bootloader: int
    tee: int
    snp: int
    microcode: int
    fmc: int | None = None

    def components(self) -> dict[str, int]:
        """Component name to SVN, in the manifest's spelling."""
        out = {
            "bootloader": self.bootloader,
            "tee": self.tee,
            "snp": self.snp,
            "microcode": self.microcode,
        }
        if self.fmc is not None:
            out["fmc"] = self.fmc
        return out

    def __str__(self) -> str:
        fmc = "" if self.fmc is None else f"fmc {self.fmc}, "
        return (
            f"{fmc}bootloader {self.bootloader}, tee {self.tee}, snp {self.snp}, "
            f"microcode {self.microcode} ({self.raw.hex()})"
        )


def decode_tcb(raw: bytes, product: SnpProduct | None) -> TcbVersion:
    """A TCB_VERSION's components for ``product`` (None: before Turin, as for v2 reports)."""
    if product is SnpProduct.TURIN:
        return TcbVersion(raw, raw[1], raw[2], raw[3], raw[7], fmc=raw[0])
    return TcbVersion(raw, raw[0], raw[1], raw[6], raw[7])


def tcb_reserved_bytes(product: SnpProduct | None) -> tuple[int, ...]:
    """The bytes of a TCB_VERSION that are reserved for ``product``."""
    return (4, 5, 6) if product is SnpProduct.TURIN else (2, 3, 4, 5)


class FirmwareVersion(NamedTuple):
    """A firmware version as major.minor.build."""

    major: int
    minor: int
    build: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}"


@dataclass(frozen=True)
class SnpReport:
    """Every field of one ATTESTATION_REPORT (offsets in the module docstring)."""

    raw: bytes
    version: int
    guest_svn: int
    policy: int
    family_id: bytes
    image_id: bytes
    vmpl: int
    signature_algo: int
    current_tcb_raw: bytes
    platform_info: int
    author_key_en: bool
    mask_chip_key: bool
    signing_key: SigningKey
    report_data: bytes
    measurement: bytes
    host_data: bytes
    id_key_digest: bytes
    author_key_digest: bytes
    report_id: bytes
    report_id_ma: bytes
    reported_tcb_raw: bytes
    cpuid: tuple[int, int, int] | None
    chip_id: bytes
    committed_tcb_raw: bytes
    current_version: FirmwareVersion
    committed_version: FirmwareVersion
    launch_tcb_raw: bytes
    launch_mit_vector: int | None
    current_mit_vector: int | None
    signature_r: bytes
    signature_s: bytes
    #: The product the CPUID fields name (v3+); None for v2 or an unknown CPU.
    cpu_product: SnpProduct | None = None

    @property
    def signed_bytes(self) -> bytes:
        """The region the signature covers: ``[0, 0x2A0)``."""
        return self.raw[:SIGNED_SIZE]

    @property
    def debug(self) -> bool:
        """Whether the guest policy allows debugging (bit 19): no confidentiality."""
        return bool(self.policy & POLICY_DEBUG)

    @property
    def abi(self) -> tuple[int, int]:
        """The minimum ABI (major, minor) of the guest policy."""
        return (self.policy >> 8) & 0xFF, self.policy & 0xFF

    def tcb(self, which: str, product: SnpProduct | None) -> TcbVersion:
        """``current``, ``reported``, ``committed`` or ``launch`` TCB decoded for a product."""
        raw = {
            "current": self.current_tcb_raw,
            "reported": self.reported_tcb_raw,
            "committed": self.committed_tcb_raw,
            "launch": self.launch_tcb_raw,
        }[which]
        return decode_tcb(raw, product)


_HEAD = struct.Struct("<IIQ16s16sII8sQI4s64s48s32s48s48s32s32s8s3s21s64s8s4s4s8s8s8s152s")
_TCB_FIELDS = ((0x038, "CURRENT_TCB"), (0x180, "REPORTED_TCB"), (0x1E0, "COMMITTED_TCB"))


def parse_report(data: bytes, *, source: str, base: int = 0) -> SnpReport:
    """Parse one ATTESTATION_REPORT; ``base`` is its offset in ``source`` (for messages)."""

    def fail(offset: int, field: str, message: str) -> ParseError:
        return ParseError(message, location=Location(source, base + offset, field))

    if len(data) != REPORT_SIZE:
        raise fail(
            min(len(data), REPORT_SIZE),
            "length",
            f"an SEV-SNP attestation report is {REPORT_SIZE} bytes, this is {len(data)}",
        )
    (
        version,
        guest_svn,
        policy,
        family_id,
        image_id,
        vmpl,
        signature_algo,
        current_tcb,
        platform_info,
        signer_info,
        reserved_4c,
        report_data,
        measurement,
        host_data,
        id_key_digest,
        author_key_digest,
        report_id,
        report_id_ma,
        reported_tcb,
        cpuid,
        reserved_18b,
        chip_id,
        committed_tcb,
        current_version,
        committed_version,
        launch_tcb,
        launch_mit,
        current_mit,
        reserved_208,
    ) = _HEAD.unpack_from(data, 0)
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise fail(0, "VERSION", f"report version {version} is not supported (2 to 5)")
    if signature_algo != ECDSA_P384_SHA384:
        raise fail(
            0x34,
            "SIGNATURE_ALGO",
            f"signature algorithm {signature_algo} is not ECDSA P-384 with SHA-384 (1)",
        )
    if not policy & POLICY_RESERVED_ONE:
        raise fail(0x08, "POLICY", "guest policy bit 17 is reserved and must be 1")
    if policy & ~POLICY_KNOWN:
        raise fail(0x08, "POLICY", f"guest policy sets reserved bits {policy & ~POLICY_KNOWN:#x}")
    if signer_info >> 5:
        raise fail(0x48, "signer info", f"reserved bits set: {signer_info & ~0x1F:#x}")
    signing_key = _SIGNING_KEYS.get((signer_info >> 2) & 0x7)
    if signing_key is None:
        raise fail(0x48, "SIGNING_KEY", f"signing key {(signer_info >> 2) & 7} is reserved")
    if (
        reserved_4c != _ZERO[:4]
        or reserved_18b != _ZERO[:21]
        or reserved_208 != _ZERO[:152]
        or current_version[3]
        or committed_version[3]
    ):
        for offset, name, value in (
            (0x04C, "reserved", reserved_4c),
            (0x18B, "reserved", reserved_18b),
            (0x208, "reserved", reserved_208),
            (0x1EB, "CURRENT_VERSION reserved", current_version[3:]),
            (0x1EF, "COMMITTED_VERSION reserved", committed_version[3:]),
        ):
            if any(value):
                raise fail(offset, name, "reserved bytes must be zero")
    if version < 3 and cpuid != _ZERO[:3]:
        raise fail(0x188, "CPUID", f"a version {version} report has no CPUID fields")
    if version < 5 and (launch_mit != _ZERO[:8] or current_mit != _ZERO[:8]):
        raise fail(0x1F8, "MIT_VECTOR", f"a version {version} report has no mitigation vectors")
    sig = data[SIGNED_SIZE:]
    if (
        sig[2 * SIGNATURE_COMPONENT :]
        != _ZERO[: REPORT_SIZE - SIGNED_SIZE - 2 * SIGNATURE_COMPONENT]
    ):
        raise fail(SIGNED_SIZE + 2 * SIGNATURE_COMPONENT, "SIGNATURE", "reserved bytes set")
    report = SnpReport(
        raw=bytes(data),
        version=version,
        guest_svn=guest_svn,
        policy=policy,
        family_id=family_id,
        image_id=image_id,
        vmpl=vmpl,
        signature_algo=signature_algo,
        current_tcb_raw=current_tcb,
        platform_info=platform_info,
        author_key_en=bool(signer_info & 1),
        mask_chip_key=bool(signer_info & 2),
        signing_key=signing_key,
        report_data=report_data,
        measurement=measurement,
        host_data=host_data,
        id_key_digest=id_key_digest,
        author_key_digest=author_key_digest,
        report_id=report_id,
        report_id_ma=report_id_ma,
        reported_tcb_raw=reported_tcb,
        cpuid=(cpuid[0], cpuid[1], cpuid[2]) if version >= 3 else None,
        chip_id=chip_id,
        committed_tcb_raw=committed_tcb,
        current_version=FirmwareVersion(current_version[2], current_version[1], current_version[0]),
        committed_version=FirmwareVersion(
            committed_version[2], committed_version[1], committed_version[0]
        ),
        launch_tcb_raw=launch_tcb,
        launch_mit_vector=_u64(launch_mit) if version >= 5 else None,
        current_mit_vector=_u64(current_mit) if version >= 5 else None,
        signature_r=sig[:SIGNATURE_COMPONENT],
        signature_s=sig[SIGNATURE_COMPONENT : 2 * SIGNATURE_COMPONENT],
        cpu_product=_product(cpuid) if version >= 3 else None,
    )
    check_tcb_reserved(report, report.cpu_product, source=source, base=base)
    return report


_SIGNING_KEYS = {k.value: k for k in SigningKey}
_ZERO = bytes(REPORT_SIZE)


#: The reserved bytes of a TCB_VERSION as a mask of its little-endian value, by "is Turin".
_RESERVED_MASK = {
    turin: sum(0xFF << (8 * i) for i in tcb_reserved_bytes(SnpProduct.TURIN if turin else None))
    for turin in (False, True)
}


@lru_cache(maxsize=64)
def _product(cpuid: bytes) -> SnpProduct | None:
    try:
        return product_of_signature(cpu_signature(cpuid[0], cpuid[1], cpuid[2]))
    except ValueError:
        return None


def _u64(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def check_tcb_reserved(
    report: SnpReport, product: SnpProduct | None, *, source: str, base: int = 0
) -> None:
    """Refuse a TCB_VERSION whose reserved bytes (for ``product``) are set."""
    reserved = tcb_reserved_bytes(product)
    mask = _RESERVED_MASK[product is SnpProduct.TURIN]
    for offset, name in _TCB_FIELDS:
        raw = report.raw[offset : offset + 8]
        if not int.from_bytes(raw, "little") & mask:
            continue
        for i in reserved:
            if raw[i]:
                raise ParseError(
                    f"reserved byte {i} of the TCB version is set"
                    + (f" (for {product})" if product else ""),
                    location=Location(source, base + offset + i, name),
                )
