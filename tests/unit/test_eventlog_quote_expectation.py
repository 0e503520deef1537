"""`measure replay --expect-file QUOTE`: a TDX quote's RTMRs as the expectation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from refkit.measure.eventlog import LogFormat, load_expectation
from tests.conftest import Run
from tests.shared import vector

pytestmark = pytest.mark.vectors


def test_quote_expects_its_four_rtmrs_read_by_the_evidence_parser() -> None:
    quote = vector("tdx", "ccel-gcp", "cos-113-tdx-quote.dat")
    (expectation,) = load_expectation(quote, log_format=LogFormat.AUTO)
    data = quote.read_bytes()
    # The documented offsets (DOMAIN.md section 6: TD report body at 0x30, RTMR0-3 at
    # body+0x148/0x178/0x1A8/0x1D8): a second reading, independent of the parser.
    expected = {
        ("sha384", f"rtmr{i}"): data[0x30 + off : 0x30 + off + 48].hex()
        for i, off in enumerate((0x148, 0x178, 0x1A8, 0x1D8))
    }
    assert dict(expectation.values) == expected
    assert expectation.events == ()


def test_replay_against_the_quote_of_the_same_boot_passes_and_another_fails(
    run_cli: Callable[..., Run],
) -> None:
    log = vector("tdx", "ccel-gcp", "ccel_data.dat")
    same = run_cli(
        "measure", "replay", log, "--no-events", "--expect-file",
        vector("tdx", "ccel-gcp", "cos-113-tdx-quote.dat"),
    )  # fmt: skip
    assert same.code == 0, same.stderr
    assert same.stdout.count("eventlog.register.match") == 4
    other = run_cli(
        "measure", "replay", log, "--no-events", "--expect-file",
        vector("tdx", "spr-v4-a.quote.bin"),
    )  # fmt: skip
    assert other.code == 1
    assert "eventlog.register.mismatch" in other.stdout + other.stderr
