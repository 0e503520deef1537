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
