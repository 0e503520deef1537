"""The signing test helpers' own checks (the helpers live in tests/signing_support.py)."""

from __future__ import annotations

import base64

from refkit.manifests.canonical import is_canonical
from refkit.manifests.statement import load_statement
from tests.signing_support import flip_b64, statement


def test_statement_helper_is_canonical_and_valid() -> None:
    data = statement(version="2.0.0")
    assert is_canonical(data, source="t")
    assert load_statement(data, source="t").predicate.release.version == "2.0.0"


def test_flip_b64_changes_one_bit() -> None:
    assert base64.b64decode(flip_b64("AAAA", 1)) == b"\x00\x01\x00"
