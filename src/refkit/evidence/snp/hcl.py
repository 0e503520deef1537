"""Azure's HCL report: the paravisor's wrapper around an SEV-SNP report.

On Azure confidential VMs the guest does not ask the AMD firmware for a report itself: its
paravisor (the HCL) does, and publishes the result in a vTPM NV index (0x01400001). That
"HCL report" binds the paravisor's runtime claims (a JSON document holding the vTPM's
attestation key and, for example, the VM configuration) to the SNP report: the report's
REPORT_DATA begins with the hash of those claims.

Layout, little-endian. Source: Microsoft's ``az-cvm-vtpm`` crate (GitHub
kinvolk/azure-cvm-tooling, ``az-cvm-vtpm/src/hcl/mod.rs``: ``AttestationHeader``,
``AttestationReport``, ``IgvmRequestData``), checked against that repository's sample
``az-cvm-vtpm/test/hcl-report-snp.bin`` (2048 bytes; the NV index of a live VM is 2600):

====== ====== =====================================================================
offset size   field
====== ====== =====================================================================
0x000  4      signature "HCLA"
0x004  4      version (1)
0x008  4      report size: the bytes in use, header to the end of the runtime claims
0x00C  4      request type (2)
0x010  4      status
0x014  12     reserved
0x020  1184   hardware report: the SNP ATTESTATION_REPORT (a TDX TD report is padded)
0x4C0  4      data size (20 + runtime claims size)
0x4C4  4      version
0x4C8  4      report type: 2 SEV-SNP, 4 TDX
0x4CC  4      runtime-claims hash type: 1 SHA-256, 2 SHA-384, 3 SHA-512
0x4D0  4      runtime claims size
0x4D4  n      runtime claims (JSON, UTF-8)
====== ====== =====================================================================

The rest of the buffer, after the report size, is zero. The binding: REPORT_DATA's first
32 (48, 64) bytes equal the SHA-256 (384, 512) of the runtime claims bytes exactly as
stored; :func:`claims_bound` checks it, the SNP report's own signature is checked as for any
report.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any, Final

from refkit.errors import Location, ParseError
from refkit.evidence.snp.report import REPORT_SIZE, SnpReport, parse_report

MAGIC: Final = b"HCLA"
HEADER_SIZE: Final = 0x20
REPORT_OFFSET: Final = HEADER_SIZE
REQUEST_DATA_OFFSET: Final = REPORT_OFFSET + REPORT_SIZE  # 0x4C0
CLAIMS_OFFSET: Final = REQUEST_DATA_OFFSET + 20  # 0x4D4
#: Largest HCL buffer read: the NV index is 2600 bytes; leave room, refuse the absurd.
MAX_SIZE: Final = 16 * 1024
SNP_REPORT_TYPE: Final = 2
TDX_REPORT_TYPE: Final = 4
HASH_TYPES: Final = {1: "sha256", 2: "sha384", 3: "sha512"}


@dataclass(frozen=True)
class HclReport:
    """The wrapper's fields; the SNP report inside is parsed separately."""

    raw: bytes
    version: int
    report_size: int
    request_type: int
    status: int
    data_version: int
    report_type: int
    hash_type: int
    runtime_claims: bytes

    @property
    def hash_name(self) -> str:
        return HASH_TYPES[self.hash_type]

    @property
    def claims_digest(self) -> bytes:
        """The hash of the runtime claims, as REPORT_DATA should begin with it."""
        return hashlib.new(self.hash_name, self.runtime_claims).digest()

    def claims_json(self) -> Any:
        """The runtime claims parsed as JSON, or None when they are not JSON."""
        try:
            return json.loads(self.runtime_claims)
        except ValueError:
            return None


def looks_like_hcl(data: bytes) -> bool:
    """Whether ``data`` starts like an HCL report wrapping an SNP report."""
    return (
        len(data) >= CLAIMS_OFFSET
        and data[:4] == MAGIC
        and struct.unpack_from("<I", data, 0x4C8)[0] == SNP_REPORT_TYPE
    )


def parse_hcl(data: bytes, *, source: str) -> tuple[HclReport, SnpReport]:
    """Parse an HCL report and the SNP report at 0x20 inside it."""

    def fail(offset: int, field: str, message: str) -> ParseError:
        return ParseError(message, location=Location(source, offset, field))

    if len(data) > MAX_SIZE:
        raise fail(MAX_SIZE, "length", f"{len(data)} bytes is too large for an HCL report")
    if len(data) < CLAIMS_OFFSET:
        raise fail(len(data), "length", f"an HCL report is at least {CLAIMS_OFFSET} bytes")
    if data[:4] != MAGIC:
        raise fail(0, "signature", "not an HCL report (no 'HCLA' signature)")
    version, report_size, request_type, status = struct.unpack_from("<IIII", data, 4)
    if any(data[0x14:HEADER_SIZE]):
        raise fail(0x14, "reserved", "reserved bytes must be zero")
    data_size, data_version, report_type, hash_type, claims_size = struct.unpack_from(
        "<IIIII", data, REQUEST_DATA_OFFSET
    )
    if report_type != SNP_REPORT_TYPE:
        kind = "a TDX report" if report_type == TDX_REPORT_TYPE else f"type {report_type}"
        raise fail(0x4C8, "report type", f"the HCL report wraps {kind}, not an SEV-SNP report")
    if hash_type not in HASH_TYPES:
        raise fail(0x4CC, "hash type", f"unknown runtime-claims hash type {hash_type}")
    end = CLAIMS_OFFSET + claims_size
    if data_size != 20 + claims_size:
        raise fail(0x4C0, "data size", f"{data_size} is not 20 + the claims size {claims_size}")
    if end > len(data):
        raise fail(0x4D0, "claims size", f"runtime claims run past the end ({end} > {len(data)})")
    if report_size != end:
        raise fail(0x8, "report size", f"{report_size} does not end at the claims' end {end}")
    if any(data[end:]):
        raise fail(end, "padding", "bytes after the runtime claims must be zero")
    report = parse_report(
        data[REPORT_OFFSET:REQUEST_DATA_OFFSET], source=source, base=REPORT_OFFSET
    )
    hcl = HclReport(
        raw=bytes(data),
        version=version,
        report_size=report_size,
        request_type=request_type,
        status=status,
        data_version=data_version,
        report_type=report_type,
        hash_type=hash_type,
        runtime_claims=bytes(data[CLAIMS_OFFSET:end]),
    )
    return hcl, report


def claims_bound(hcl: HclReport, report: SnpReport) -> bool:
    """Whether REPORT_DATA begins with the hash of the runtime claims."""
    digest = hcl.claims_digest
    return report.report_data[: len(digest)] == digest
