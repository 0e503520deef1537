"""The YAML authoring loader: plain data only, JSON-like typing, every refusal typed."""

from __future__ import annotations

import pytest

from refkit.errors import InputError, ParseError
from refkit.yamlio import MAX_DEPTH, load_yaml


def test_json_like_typing() -> None:
    doc = load_yaml(
        "a: 1\nb: on\nc: 1.2\nd: 0x30000\ne: 2026-01-01T00:00:00Z\nf: null\ng: yes\n"
        "h: '12'\ni: true\nj: -3\nk: 0755\nl: 1e5\nm: ~\nn:\n",
        source="t.yaml",
    )
    assert doc == {
        "a": 1,
        "b": "on",
        "c": "1.2",
        "d": 0x30000,
        "e": "2026-01-01T00:00:00Z",
        "f": None,
        "g": "yes",
        "h": "12",
        "i": True,
        "j": -3,
        "k": "0755",
        "l": "1e5",
        "m": None,
        "n": None,
    }


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a: &x 1\nb: *x\n", "anchors"),
        ("a: *x\n", "alias"),
        ("a: !!str 1\n", "tags"),
        ("a: !!python/object:os.system x\n", "tags"),
        ("a: !custom x\n", "tags"),
        ("a: ! x\n", "tags"),
        ("a: !!binary aGVsbG8=\n", "tags"),
        ("--- !!map\na: 1\n", "tags"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("x:\n  a: 1\n  b: 2\n  a: 3\n", "duplicate key 'a'"),
        ("4: x\n", "not a string"),
        ("true: x\n", "not a string"),
        ("? [a, b]\n: x\n", "not a string"),
        ("<<: {a: 1}\n", "merge keys"),
        ("---\na: 1\n---\nb: 2\n", "another document"),
        ("a: [1, 2\n", "invalid YAML"),
        ("a:\tb\n", "invalid YAML"),
        ("\x07: x\n", "invalid YAML"),
    ],
)
def test_refusals(text: str, needle: str) -> None:
    with pytest.raises(ParseError, match=needle) as info:
        load_yaml(text, source="t.yaml")
    assert "t.yaml" in str(info.value)


def test_errors_name_the_line() -> None:
    with pytest.raises(ParseError, match="line 3 column 1"):
        load_yaml("a: 1\nb: 2\na: 3\n", source="t.yaml")


def test_bytes_checks() -> None:
    with pytest.raises(ParseError, match="byte-order mark"):
        load_yaml(b"\xef\xbb\xbfa: 1\n", source="t.yaml")
    with pytest.raises(ParseError, match="UTF-8"):
        load_yaml(b"a: \xff\n", source="t.yaml")
    with pytest.raises(InputError, match="limit"):
        load_yaml(b"a: 1\n" * 100, source="t.yaml", max_bytes=100)


def test_depth_limit() -> None:
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    with pytest.raises(ParseError, match="nested deeper"):
        load_yaml(deep, source="t.yaml")
    ok = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    load_yaml(ok, source="t.yaml")


def test_billion_laughs_is_refused_before_expanding() -> None:
    text = 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nd: [*c,*c]\n'
    with pytest.raises(ParseError, match="anchors"):
        load_yaml(text, source="t.yaml")


def test_empty_document_is_none() -> None:
    assert load_yaml("", source="t.yaml") is None
    assert load_yaml("# only a comment\n", source="t.yaml") is None


def test_absurd_integer_literal_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="invalid YAML value"):
        load_yaml("a: " + "9" * 10_000 + "\n", source="t.yaml")


def test_huge_integers_are_described_by_size_in_messages() -> None:
    """Python refuses int -> str beyond 4,300 digits; the reader must not crash on it."""
    from refkit.reader import Obj, int_text

    assert int_text(12345) == "12345"
    huge = int("f" * 5000, 16)
    assert int_text(huge) == "an integer of about 6021 digits"
    assert int_text(-huge) == "-an integer of about 6021 digits"
    with pytest.raises(ParseError, match="about 6021 digits is out of range"):
        Obj({"n": huge}, source="t", path="$").integer("n")
