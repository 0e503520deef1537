"""refkit's canonical JSON equals the reference RFC 8785 implementation, byte for byte."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError
from refkit.manifests.canonical import canonical_dumps, loads_strict, require_canonical

_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=25,
)


@settings(max_examples=500)
@given(_json)
def test_fast_path_equals_rfc8785(value: Any) -> None:
    try:
        expected = bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        with pytest.raises(InputError):
            canonical_dumps(value)
        return
    assert canonical_dumps(value) == expected


@given(st.dictionaries(_text, st.integers(0, 3), min_size=2, max_size=8))
def test_key_order_is_utf16(value: dict[str, int]) -> None:
    try:
        expected = bytes(rfc8785.dumps(value))
    except UnicodeEncodeError:  # a lone surrogate in a key: refused by both
        with pytest.raises(InputError):
            canonical_dumps(value)
        return
    assert canonical_dumps(value) == expected


def test_orders_that_differ_between_utf16_and_code_points() -> None:
    # U+FF61 sorts after U+1F600 in code points but before it in UTF-16 code units
    # (0xFF61 < 0xD83D is false; 0xD83D < 0xFF61 is true): the fast path must step aside.
    value = {"\uff61": 1, "\U0001f600": 2}
    assert canonical_dumps(value) == bytes(rfc8785.dumps(value))
    assert canonical_dumps(value).index("\U0001f600".encode()) < canonical_dumps(value).index(
        "\uff61".encode()
    )


@pytest.mark.parametrize("value", [1.5, 2**53, {"a": "\ud800"}, float("nan")])
def test_slow_path_values(value: Any) -> None:
    try:
        expected = bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, ValueError, UnicodeEncodeError):
        with pytest.raises(InputError):
            canonical_dumps(value)
        return
    assert canonical_dumps(value) == expected


def test_control_characters_escaped_like_ecmascript() -> None:
    value = {"s": "".join(chr(i) for i in range(0x20)) + '"\\\u2028\u007f'}
    assert canonical_dumps(value) == bytes(rfc8785.dumps(value))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a":1,"a":2}', "duplicate JSON key"),
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b'{"a":NaN}', "invalid JSON"),
        (b"\xff", "not valid UTF-8"),
        (b"[" * 100 + b"]" * 100, "nested deeper"),
    ],
)
def test_strict_loading_refuses(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        loads_strict(data, source="t.json")


def test_require_canonical() -> None:
    assert require_canonical(b'{"a":1,"b":[true,null]}', source="c") == {"a": 1, "b": [True, None]}
    with pytest.raises(ParseError, match="not canonical"):
        require_canonical(b'{"b":1,"a":2}', source="c")
    with pytest.raises(ParseError, match="not canonical"):
        require_canonical(json.dumps({"a": 1}, indent=1).encode(), source="c")


def test_size_limit() -> None:
    with pytest.raises(InputError, match="more than the limit"):
        loads_strict(b"[" + b"1," * 100 + b"1]", source="big", max_bytes=50)
