"""Fuzzing the two parsers of this area: the verity superblock and the EROFS superblock
(size). Any input gives a value, None, or a typed ParseError; never another exception."""

from __future__ import annotations

import struct
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError
from refkit.weights import erofs
from refkit.weights import verity as v
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug

_VALID = v.superblock(v.plan(v.VerityParams(salt=b"\x00"), 1000))


@settings(max_examples=FUZZ_EXAMPLES)
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    try:
        got = v.read_superblock(data, source="fuzz")
    except ParseError as exc:
        assert_not_a_bug(exc)
        return
    assert got is None or isinstance(got, v.Superblock)


@settings(max_examples=FUZZ_EXAMPLES)
@given(st.lists(st.tuples(st.integers(0, v.SUPERBLOCK_SIZE - 1), st.integers(0, 255)), max_size=8))
def test_mutated_valid_superblocks(changes: list[tuple[int, int]]) -> None:
    data = bytearray(_VALID)
    for at, value in changes:
        data[at] = value
    try:
        got = v.read_superblock(bytes(data), source="fuzz")
    except ParseError as exc:
        assert_not_a_bug(exc)
        return
    if got is not None:  # what parses must describe a layout the engine can plan
        v.plan(got.params, got.data_blocks)
        assert (
            v.read_superblock(
                v.superblock(v.plan(got.params, got.data_blocks), got.uuid), source="again"
            )
            == got
        )


@settings(max_examples=FUZZ_EXAMPLES)
@given(st.binary(min_size=0, max_size=1100), st.integers(0, 255), st.integers(0, 2**32 - 1))
def test_erofs_size_reader(prefix: bytes, bits: int, blocks: int) -> None:
    import tempfile

    head = bytearray(64)
    struct.pack_into("<I", head, 0, erofs.MAGIC)
    head[12] = bits
    struct.pack_into("<I", head, 36, blocks)
    for data in (prefix, prefix[:1024].ljust(1024, b"\0") + bytes(head)):
        with tempfile.NamedTemporaryFile() as fh:
            fh.write(data)
            fh.flush()
            try:
                size = erofs.image_size(Path(fh.name))
            except InputError as exc:
                assert_not_a_bug(exc)
                continue
            assert size == blocks << bits
            assert 9 <= bits <= 16
