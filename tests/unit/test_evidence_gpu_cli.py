"""``refkit evidence verify-rim`` as a standalone click command (the evidence group
registers it at merge): exit codes and messages on the nvidia/ vectors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from refkit.cli.evidence_gpu import verify_rim_command
from refkit.errors import InputError, ParseError
from refkit.verification import ChecksFailed
from tests import gpu_support as gs

pytestmark = pytest.mark.vectors


def _run(*args: str) -> tuple[str, BaseException | None]:
    result = CliRunner().invoke(verify_rim_command, list(args))
    return result.output, result.exception


def test_good_rim_passes_at_the_given_time() -> None:
    out, exc = _run(str(gs.nv(gs.DRIVER_RIM)), "--at", "2025-03-01T00:00:00Z")
    assert exc is None
    assert out.startswith("VERIFIED: driver RIM 545.00")
    assert "PASS  gpu.rim.chain.valid" in out
    assert "2025-03-01T00:00:00Z (--at)" in out


def test_json_and_failures() -> None:
    out, exc = _run(str(gs.nv(gs.SWITCH_RIM_2026)), "--at", "2025-03-01T00:00:00Z", "--json")
    assert isinstance(exc, ChecksFailed)
    assert exc.codes == ("gpu.rim.chain.expired",)
    doc = json.loads(out)
    assert doc["ok"] is False
    assert doc["facts"]["rim"]["version"] == "96.10.55.00.01"
    out, exc = _run(
        str(gs.nv(gs.BAD_CHAIN_RIM)),
        "--at",
        "2025-03-01T00:00:00Z",
        "--rim-root",
        str(gs.nv(gs.WRONG_ROOT)),
    )
    assert isinstance(exc, ChecksFailed)
    assert "gpu.rim.chain.not-ca" in exc.codes


def test_bad_inputs_are_input_errors() -> None:
    _out, exc = _run(str(gs.nv(gs.DRIVER_RIM)), "--at", "yesterday")
    assert isinstance(exc, InputError)
    _out, exc = _run(str(gs.nv(gs.H100_545[0])))
    assert isinstance(exc, ParseError)
