"""The verity builder: the disk veritysetup would write (same root, same bytes),
``veritysetup verify`` accepts it, padding covers a partial tail block, reproducible."""

from __future__ import annotations

from pathlib import Path

import pytest

from refkit.builders import verity
from refkit.builders.api import load_builders
from refkit.errors import InputError
from tests.boot_support import build, other_machine
from tests.verity_support import peer_format, peer_verify, random_file

UUID = "0f2c6c55-9f57-4fa4-a3b6-3d5fba5e4a4e"


def test_registered() -> None:
    assert load_builders()["verity"] is verity.BUILDER


@pytest.mark.peer
@pytest.mark.parametrize("size", [4096, 3 * 4096 * 129, 4096 * 5 + 100])
def test_appended_disk_equals_veritysetup(tmp_path: Path, size: int) -> None:
    data = random_file(tmp_path / "data.img", size, seed=size)
    disk, built = build(
        verity.BUILDER, tmp_path / "b", {"data": data}, {"uuid": UUID, "salt": "ab01"}
    )
    f = built.facts
    padded = -(-size // 4096) * 4096
    assert f["hashOffset"] == padded == f["paddedDataSize"]
    assert f["dataSize"] == size
    # the peer: the same padded data, veritysetup format appending at the same offset
    peer_disk = tmp_path / "peer.img"
    peer_disk.write_bytes(data.read_bytes() + bytes(padded - size))
    peer = peer_format(peer_disk, peer_disk, salt="ab01", uuid=UUID, hash_offset=padded)
    assert f["rootHash"] == peer.root
    assert f["hashBlocks"] == peer.hash_blocks
    assert disk.read_bytes() == peer_disk.read_bytes()
    assert peer_verify(disk, disk, f["rootHash"], hash_offset=f["hashOffset"]) == 0


@pytest.mark.peer
def test_separate_hash_area(tmp_path: Path) -> None:
    data = random_file(tmp_path / "data.img", 4096 * 300, seed=3)
    tree, built = build(
        verity.BUILDER,
        tmp_path / "b",
        {"data": data},
        {"area": "separate", "salt": "-", "algorithm": "sha512"},
    )
    peer = peer_format(data, tmp_path / "peer.hash", salt="-", algorithm="sha512")
    assert built.facts["rootHash"] == peer.root
    assert tree.read_bytes() == peer.hash_bytes
    assert peer_verify(data, tree, peer.root) == 0
    assert built.facts["salt"] == "-"
    assert built.facts["hashOffset"] == 0


@pytest.mark.peer
def test_tampered_disk_rejected_by_veritysetup(tmp_path: Path) -> None:
    """The acceptance above must be able to fail: one flipped data byte."""
    data = random_file(tmp_path / "data.img", 4096 * 8, seed=9)
    disk, built = build(verity.BUILDER, tmp_path / "b", {"data": data})
    raw = bytearray(disk.read_bytes())
    raw[4096 * 3 + 7] ^= 1
    disk.write_bytes(bytes(raw))
    assert (
        peer_verify(disk, disk, built.facts["rootHash"], hash_offset=built.facts["hashOffset"]) != 0
    )


def test_reproducible_and_default_salt(tmp_path: Path) -> None:
    data = random_file(tmp_path / "data.img", 4096 * 40 + 1, seed=1)
    a, built = build(verity.BUILDER, tmp_path / "a", {"data": data})
    with other_machine(tmp_path / "cwd"):
        b, again = build(verity.BUILDER, tmp_path / "x" / "y", {"data": data}, output_name="d")
    assert a.read_bytes() == b.read_bytes()
    assert built.facts == again.facts
    assert built.facts["salt"] == "00"
    assert built.facts["uuid"] == "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"area": "separate"}, "not a whole number of 4096-byte blocks"),
        ({"salt": "xyz"}, "not hex digits"),
        ({"uuid": "u"}, "not a UUID"),
        ({"data_block_size": 1000}, "not a power of two"),
        ({"algorithm": "md5"}, "not supported"),
        ({"area": "inline"}, "not one of"),
    ],
)
def test_refusals(tmp_path: Path, params: dict[str, object], words: str) -> None:
    data = random_file(tmp_path / "data.img", 4096 + 1, seed=2)
    with pytest.raises(InputError, match=words):
        build(verity.BUILDER, tmp_path / "b", {"data": data}, params)


def test_missing_data(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        build(verity.BUILDER, tmp_path / "b", {"data": tmp_path / "absent"})
    with pytest.raises(InputError, match="one input named 'data'"):
        build(verity.BUILDER, tmp_path / "c", {})


def test_facts_have_sorted_keys(tmp_path: Path) -> None:
    data = random_file(tmp_path / "data.img", 4096 * 2, seed=4)
    _, built = build(verity.BUILDER, tmp_path / "b", {"data": data})
    assert list(built.facts) == sorted(built.facts)
