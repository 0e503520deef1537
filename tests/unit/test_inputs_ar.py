"""ar(5) reader: known layouts, every header error, and fuzzing (result or ParseError)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refkit.errors import ParseError
from refkit.inputs.ar import read_members
from tests.inputs_support import ar_archive


def _read(data: bytes) -> list[tuple[str, bytes]]:
    stream = io.BytesIO(data)
    return [
        (m.name, data[m.data_offset : m.data_offset + m.size])
        for m in read_members(stream, source="t.a")
    ]


def test_members_and_odd_padding() -> None:
    data = ar_archive([("debian-binary", b"2.0\n"), ("odd", b"abc"), ("even", b"abcd")])
    assert _read(data) == [("debian-binary", b"2.0\n"), ("odd", b"abc"), ("even", b"abcd")]


def test_gnu_trailing_slash_is_stripped() -> None:
    data = bytearray(ar_archive([("name/", b"xy")]))
    assert _read(bytes(data)) == [("name", b"xy")]


def test_empty_archive() -> None:
    assert _read(b"!<arch>\n") == []


@pytest.mark.parametrize(
    ("data", "reason", "offset"),
    [
        (b"", "not an ar archive", 0),
        (b"!<arch>", "not an ar archive", 0),
        (b"!<arch>\nshort", "truncated ar member header", 8),
        (ar_archive([("a", b"0123456789")])[:-3], "runs past the end", 8),
    ],
)
def test_errors_name_file_and_offset(data: bytes, reason: str, offset: int) -> None:
    with pytest.raises(ParseError) as info:
        read_members(io.BytesIO(data), source="t.a")
    assert reason in info.value.reason
    assert info.value.location.source == "t.a"
    assert info.value.location.offset == offset


def _with_header_field(start: int, end: int, value: bytes) -> bytes:
    data = bytearray(ar_archive([("a", b"xy")]))
    data[8 + start : 8 + end] = value.ljust(end - start)
    return bytes(data)


@pytest.mark.parametrize(
    ("start", "end", "value", "reason"),
    [
        (48, 58, b"12x", "not a decimal number"),
        (48, 58, b"-1", "not a decimal number"),
        (48, 58, b"", "empty size"),
        (40, 48, b"9", "not a octal number"),
        (58, 60, b"!!", "terminator"),
        (0, 16, b"//", "long-name table"),
        (0, 16, b"#1/20", "long-name table"),
        (0, 16, b"a\x01b", "printable"),
        (0, 16, b"a/b", "printable"),
    ],
)
def test_bad_header_fields(start: int, end: int, value: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        read_members(io.BytesIO(_with_header_field(start, end, value)), source="t.a")


def test_empty_numeric_ids_mean_zero() -> None:
    data = _with_header_field(28, 40, b"")
    assert _read(data) == [("a", b"xy")]


def test_too_many_members() -> None:
    data = ar_archive([(f"m{i}", b"") for i in range(65)])
    with pytest.raises(ParseError, match="more than 64 members"):
        read_members(io.BytesIO(data), source="t.a")


@given(st.binary(max_size=400))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _assert_result_or_parse_error(data)


@given(st.binary(max_size=200))
def test_fuzz_after_magic(data: bytes) -> None:
    _assert_result_or_parse_error(b"!<arch>\n" + data)


_VALID = ar_archive([("debian-binary", b"2.0\n"), ("control.tar.gz", b"c" * 7), ("d", b"dd")])


@given(
    st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), max_size=8),
    st.integers(0, len(_VALID)),
)
def test_fuzz_mutated_valid_archive(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_VALID)
    for index, byte in flips:
        data[index] = byte
    _assert_result_or_parse_error(bytes(data[:cut]))


def _assert_result_or_parse_error(data: bytes) -> None:
    try:
        members = read_members(io.BytesIO(data), source="fuzz.a")
    except ParseError as exc:
        error = exc
    else:
        for member in members:
            assert 0 <= member.data_offset <= member.data_offset + member.size <= len(data)
        return
    assert error.location.source == "fuzz.a"
    assert error.location.offset is not None
