"""TDX evidence: inputs that fuzzing found, kept as named regressions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from refkit.evidence import tdx
from tests.shared import vector

pytestmark = pytest.mark.vectors


def test_collateral_root_with_a_tampered_issuer_fails_as_not_pinned_not_missing() -> None:
    # Found by test_fuzz_verify_with_mutated_collateral: one byte of the collateral's
    # root certificate (the O attribute's OID of its issuer, 2.5.4.10 -> 2.47.4.10) makes
    # it not self-issued. It still calls itself the Intel SGX Root CA, so it is a wrong
    # root (a failed check), not a chain whose root was left out (exit 3).
    quote = vector("tdx", "phala", "v4.quote.bin").read_bytes()
    collateral = bytearray(vector("tdx", "phala", "v4.collateral.json").read_bytes())
    collateral[9046] = 47
    ev = tdx.parse(quote, source="quote")
    verdict = tdx.TdxVerifier().evaluate(
        ev, collateral=bytes(collateral), at=datetime(2025, 6, 20, tzinfo=UTC)
    )
    failed = {r.code for r in verdict.results if r.fails}
    assert failed, "a tampered collateral root passed"
    untouched = tdx.TdxVerifier().evaluate(
        ev,
        collateral=vector("tdx", "phala", "v4.collateral.json").read_bytes(),
        at=datetime(2025, 6, 20, tzinfo=UTC),
    )
    assert not [r for r in untouched.results if r.fails]


def test_collateral_chain_without_its_root_is_a_failed_check_not_missing_material() -> None:
    # Found by test_fuzz_verify_with_mutated_collateral in CI: one byte of a PEM header in
    # the collateral (offset 1001) hides its root certificate. A quote's PCK chain without
    # its root is missing material (the user may give it), but Intel's collateral always
    # carries the root: one without it is damaged collateral, a failed check.
    quote = vector("tdx", "phala", "v4.quote.bin").read_bytes()
    collateral = bytearray(vector("tdx", "phala", "v4.collateral.json").read_bytes())
    collateral[1001] = 32
    verdict = tdx.TdxVerifier().evaluate(
        tdx.parse(quote, source="quote"),
        collateral=bytes(collateral),
        at=datetime(2025, 6, 20, tzinfo=UTC),
    )
    assert any(r.fails for r in verdict.results)
