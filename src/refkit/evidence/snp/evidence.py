"""SEV-SNP evidence as refkit receives it: a raw report, or Azure's HCL report around one."""

from __future__ import annotations

from dataclasses import dataclass

from refkit.errors import Location, ParseError
from refkit.evidence.snp.hcl import MAGIC, HclReport, looks_like_hcl, parse_hcl
from refkit.evidence.snp.report import (
    MAX_VERSION,
    MIN_VERSION,
    REPORT_SIZE,
    SnpReport,
    parse_report,
)
from refkit.measure.cpu import SnpProduct


@dataclass(frozen=True)
class SnpEvidence:
    """One SEV-SNP report, with the HCL wrapper it came in (Azure), if any."""

    source: str
    report: SnpReport
    hcl: HclReport | None = None

    @property
    def debug(self) -> bool:
        """The guest policy allows debugging: authentic, but not confidential."""
        return self.report.debug

    @property
    def report_data(self) -> bytes:
        return self.report.report_data

    @property
    def product(self) -> SnpProduct | None:
        """The product the report's CPUID fields name (v3+); None for v2 (the VCEK says)."""
        return self.report.cpu_product

    @property
    def kind(self) -> str:
        """What the bytes were: ``snp-report`` or ``azure-hcl-report``."""
        return "snp-report" if self.hcl is None else "azure-hcl-report"


def looks_like(data: bytes) -> bool:
    """Whether ``data`` is an SEV-SNP report (0x4A0 bytes, version 2-5, algorithm 1) or an
    Azure HCL report wrapping one. A cheap test on a few fields; :func:`parse` decides."""
    if looks_like_hcl(data):
        return True
    return (
        len(data) == REPORT_SIZE
        and MIN_VERSION <= int.from_bytes(data[0:4], "little") <= MAX_VERSION
        and int.from_bytes(data[0x34:0x38], "little") == 1
    )


def parse(data: bytes, *, source: str) -> SnpEvidence:
    """Parse SNP evidence; a :class:`~refkit.errors.ParseError` names what and where."""
    if data[:4] == MAGIC:
        hcl, report = parse_hcl(data, source=source)
        return SnpEvidence(source, report, hcl)
    if len(data) != REPORT_SIZE:
        raise ParseError(
            f"{len(data)} bytes is neither an SEV-SNP report ({REPORT_SIZE} bytes) "
            "nor an Azure HCL report",
            location=Location(source, min(len(data), REPORT_SIZE), "length"),
        )
    return SnpEvidence(source, parse_report(data, source=source))
