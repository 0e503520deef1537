"""The dm-verity engine against ``veritysetup format`` (the peer), and its refusals.

Every expected root and hash file here comes from running veritysetup on the same bytes
in the same test (differential); nothing is hard-coded except the Tinfoil salt rule
(sha256 of ``name@revision``, DOMAIN.md section 1), computed here with hashlib.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import InputError
from refkit.weights import verity as v
from tests.verity_support import NIL_UUID, peer_format, peer_verify, random_file, veritysetup

BLOCK = 4096
#: The salts users meet: none, Privatemode's one zero byte, 32 random bytes, Tinfoil's.
SALTS = {
    "none": "-",
    "privatemode-00": "00",
    "random-32": bytes(range(7, 39)).hex(),
    "tinfoil": hashlib.sha256(b"all-MiniLM-L6-v2@c9745ed1").hexdigest(),
}
#: Sizes from the issue: 4096 and 4097 data (one block, a trailing partial block), 128
#: and 129 blocks (a level boundary with 4 KiB hash blocks), several MiB.
SIZES = {
    "4096": BLOCK,
    "4097": BLOCK + 1,
    "128-blocks": 128 * BLOCK,
    "129-blocks": 129 * BLOCK,
    "5-MiB-and-a-bit": (5 << 20) + 1234,
}


def _ours(
    data: Path,
    *,
    salt: str,
    dbs: int = BLOCK,
    hbs: int = BLOCK,
    algorithm: str = "sha256",
    hash_type: int = 1,
    hash_offset: int = 0,
    task_bytes: int = v.TASK_BYTES,
    workers: int | None = None,
) -> tuple[str, bytes, v.Layout]:
    params = v.VerityParams(
        salt=v.parse_salt(salt),
        algorithm=algorithm,
        data_block_size=dbs,
        hash_block_size=hbs,
        hash_type=hash_type,
    )
    layout = v.plan(params, v.image_blocks(data, dbs), hash_offset=hash_offset)
    out = io.BytesIO()
    root = v.write_hash_area(data, layout, out, task_bytes=task_bytes, workers=workers)
    return root.hex(), out.getvalue(), layout


@pytest.mark.peer
@pytest.mark.parametrize("salt", SALTS.values(), ids=SALTS.keys())
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("blocks", [(4096, 4096), (512, 512)], ids=["4k", "512"])
def test_tree_and_root_equal_veritysetup(
    tmp_path: Path, size: int, salt: str, blocks: tuple[int, int]
) -> None:
    dbs, hbs = blocks
    data = random_file(tmp_path / "data", size, seed=size)
    peer = peer_format(
        data, tmp_path / "peer.hash", salt=salt, data_block_size=dbs, hash_block_size=hbs
    )
    root, area, layout = _ours(data, salt=salt, dbs=dbs, hbs=hbs)
    assert root == peer.root
    assert area == peer.hash_bytes  # superblock, padding and every tree block
    assert layout.hash_blocks == peer.hash_blocks
    assert layout.data_blocks == size // dbs  # a trailing partial block is not covered


@pytest.mark.peer
@pytest.mark.parametrize(
    ("dbs", "hbs"), [(512, 4096), (4096, 512), (1024, 2048)], ids=["512-4k", "4k-512", "1k-2k"]
)
def test_mixed_block_sizes_equal_veritysetup(tmp_path: Path, dbs: int, hbs: int) -> None:
    data = random_file(tmp_path / "data", 300 * 1024 + 17, seed=dbs + hbs)
    peer = peer_format(data, tmp_path / "p", salt="00", data_block_size=dbs, hash_block_size=hbs)
    root, area, _layout = _ours(data, salt="00", dbs=dbs, hbs=hbs)
    assert (root, area) == (peer.root, peer.hash_bytes)


@pytest.mark.peer
@pytest.mark.parametrize("algorithm", list(v.ALGORITHMS))
@pytest.mark.parametrize("hash_type", [1, 0], ids=["format1", "format0-chromeos"])
def test_every_algorithm_and_both_formats_equal_veritysetup(
    tmp_path: Path, algorithm: str, hash_type: int
) -> None:
    # 129 blocks: two level-0 blocks for 32-byte digests, more for padded 48/64-byte ones
    data = random_file(tmp_path / "data", 129 * BLOCK + 5, seed=3)
    peer = peer_format(data, tmp_path / "p", salt="ab01", algorithm=algorithm, hash_type=hash_type)
    root, area, _layout = _ours(data, salt="ab01", algorithm=algorithm, hash_type=hash_type)
    assert (root, area) == (peer.root, peer.hash_bytes)


@pytest.mark.peer
def test_worker_processes_give_the_same_tree(tmp_path: Path) -> None:
    """Small tasks force many tasks over two worker processes; the bytes must not change."""
    data = random_file(tmp_path / "data", 3000 * BLOCK + 99, seed=5)
    peer = peer_format(data, tmp_path / "p", salt="00")
    for workers, task in ((2, 1), (2, 128 * BLOCK), (2, 1 << 20), (1, 1 << 20)):
        root, area, _layout = _ours(data, salt="00", task_bytes=task, workers=workers)
        assert (root, area) == (peer.root, peer.hash_bytes), (workers, task)


def _die(_task: object) -> bytes:
    os.kill(os.getpid(), signal.SIGKILL)  # as a SIGBUS from an image truncated under its map
    return b""


def test_a_dead_worker_is_a_typed_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random_file(tmp_path / "data", 300 * BLOCK, seed=6)
    layout = v.plan(v.VerityParams(salt=b"\0"), v.image_blocks(data, BLOCK))
    monkeypatch.setattr(v, "_leaf_task", _die)
    with pytest.raises(InputError, match="hashing worker died") as info:
        v.compute(data, layout, workers=2, task_bytes=128 * BLOCK)
    assert info.value.hint is not None


@pytest.mark.peer
@pytest.mark.parametrize("offset_extra", [0, 512, 1536], ids=["aligned", "512", "1536"])
def test_appended_tree_in_the_same_file_equals_veritysetup(
    tmp_path: Path, offset_extra: int
) -> None:
    """Privatemode's form: the tree appended to the image at its own size; an offset that
    is a multiple of 512 but not of the hash block puts the first tree block after it."""
    size = 200 * BLOCK
    offset = size + offset_extra
    base = random_file(tmp_path / "base", size, seed=9)
    peer_img = tmp_path / "peer.img"
    peer_img.write_bytes(base.read_bytes() + b"\0" * offset_extra)
    peer = peer_format(peer_img, peer_img, salt="00", hash_offset=offset, data_blocks=size // BLOCK)
    ours = tmp_path / "ours.img"
    ours.write_bytes(base.read_bytes() + b"\0" * offset_extra)
    layout = v.plan(v.VerityParams(salt=b"\0"), size // BLOCK, hash_offset=offset, same_file=True)
    with open(ours, "r+b") as fh:
        root = v.write_hash_area(ours, layout, fh)
    assert root.hex() == peer.root
    assert ours.read_bytes() == peer.hash_bytes  # the whole image, data and tree
    assert layout.end == len(peer.hash_bytes)
    assert peer_verify(ours, ours, root.hex(), hash_offset=offset) == 0


@pytest.mark.peer
@pytest.mark.parametrize("size", [0, 1, 4095], ids=["empty", "1-byte", "4095"])
def test_less_than_one_block_is_refused_like_veritysetup(tmp_path: Path, size: int) -> None:
    data = random_file(tmp_path / "data", size)
    peer = subprocess.run(
        [veritysetup(), "format", "--salt=00", str(data), str(tmp_path / "h")],
        capture_output=True,
        check=False,
    )
    assert peer.returncode != 0  # veritysetup refuses it too
    with pytest.raises(InputError, match="less than one data block"):
        v.image_blocks(data, BLOCK)
    with pytest.raises(InputError, match="less than one data block"):
        v.measure(data, salt=b"\0")


@pytest.mark.peer
def test_veritysetup_verify_accepts_our_separate_hash_file(tmp_path: Path) -> None:
    data = random_file(tmp_path / "data", 1000 * BLOCK, seed=11)
    root, area, _layout = _ours(data, salt=SALTS["tinfoil"])
    (tmp_path / "h").write_bytes(area)
    assert peer_verify(data, tmp_path / "h", root) == 0
    assert peer_verify(data, tmp_path / "h", "00" * 32) != 0  # the peer check can fail


def test_levels_follow_the_fan_out() -> None:
    """Independent arithmetic: 128 sha256 entries a 4 KiB block, 16 a 512-byte block."""
    p4 = v.VerityParams()
    assert [lv.blocks for lv in v.plan(p4, 1).levels] == []
    assert [lv.blocks for lv in v.plan(p4, 128).levels] == [1]
    assert [lv.blocks for lv in v.plan(p4, 129).levels] == [2, 1]
    assert [lv.blocks for lv in v.plan(p4, 128 * 128 + 1).levels] == [129, 2, 1]
    p512 = v.VerityParams(data_block_size=512, hash_block_size=512)
    assert [lv.blocks for lv in v.plan(p512, 17).levels] == [2, 1]
    # top level first on disk, right after the superblock's (padded) block
    layout = v.plan(p4, 129)
    assert [lv.start for lv in layout.levels] == [2, 1]
    assert layout.end == 4 * BLOCK


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data_block_size": 1000}, "not a power of two"),
        ({"hash_block_size": 256}, "not a power of two"),
        ({"data_block_size": 1 << 20}, "not a power of two"),
        ({"algorithm": "md5"}, "not supported"),
        ({"hash_type": 2}, "not 0 or 1"),
        ({"salt": b"x" * 257}, "at most 256"),
    ],
)
def test_parameters_veritysetup_refuses_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        v.VerityParams(**kwargs)


def test_offsets_and_overlaps_are_refused() -> None:
    p = v.VerityParams()
    with pytest.raises(InputError, match="multiple of 512"):
        v.plan(p, 10, hash_offset=1000)
    with pytest.raises(InputError, match="overlaps"):
        v.plan(p, 10, hash_offset=9 * BLOCK, same_file=True)
    v.plan(p, 10, hash_offset=10 * BLOCK, same_file=True)
    with pytest.raises(InputError, match="at least one data block"):
        v.plan(p, 0)


@pytest.mark.parametrize("text", ["0", "xyz", "0g", "00" * 257])
def test_bad_salts_are_refused(text: str) -> None:
    with pytest.raises(InputError):
        v.parse_salt(text)


def test_salt_text_round_trip() -> None:
    assert v.parse_salt("-") == b""
    assert v.salt_text(b"") == "-"
    assert v.salt_text(v.parse_salt("00")) == "00"


def test_superblock_round_trips() -> None:
    params = v.VerityParams(salt=b"\x01\x02", algorithm="sha512", hash_block_size=512)
    layout = v.plan(params, 77)
    raw = v.superblock(layout, "12345678-9abc-def0-1234-56789abcdef0")
    assert len(raw) == v.SUPERBLOCK_SIZE
    got = v.read_superblock(raw, source="t")
    assert got == v.Superblock(params, 77, "12345678-9abc-def0-1234-56789abcdef0")
    assert v.read_superblock(b"\0" * 512, source="t") is None


@pytest.mark.parametrize(
    ("offset", "value", "field"),
    [
        (8, b"\x02\0\0\0", "version"),
        (12, b"\x05\0\0\0", "hash_type"),
        (32, b"md4\0", "algorithm"),
        (64, b"\x00\x03\0\0", "block_size"),
        (80, b"\x01\x02", "salt_size"),
        (72, b"\0" * 8, "data_blocks"),
    ],
)
def test_damaged_superblocks_name_the_field(offset: int, value: bytes, field: str) -> None:
    from refkit.errors import ParseError

    raw = bytearray(v.superblock(v.plan(v.VerityParams(), 5)))
    raw[offset : offset + len(value)] = value
    with pytest.raises(ParseError) as info:
        v.read_superblock(bytes(raw), source="img", offset=4096)
    assert info.value.location.field == field
    assert info.value.location.offset is not None
    assert info.value.location.offset >= 4096
    with pytest.raises(ParseError, match="cut short"):
        v.read_superblock(bytes(raw[:100]), source="img")


# ---------------------------------------------------------------------------------------
# measure(): computing a root, checking a stored tree


@pytest.fixture
def appended(tmp_path: Path) -> tuple[Path, int, str]:
    """An image with a veritysetup tree appended at its size (the peer wrote it)."""
    size = 300 * BLOCK
    img = random_file(tmp_path / "img", size, seed=21)
    peer = peer_format(img, img, salt="00", hash_offset=size, data_blocks=size // BLOCK)
    return img, size, peer.root


@pytest.mark.peer
def test_measure_checks_a_stored_tree(appended: tuple[Path, int, str]) -> None:
    img, offset, root = appended
    got = v.measure(img, hash_offset=offset, expected_root=bytes.fromhex(root))
    assert got.root.hex() == root
    assert [r.code for r in got.results] == ["verity.tree.match", "verity.root.match"]
    assert got.uuid == NIL_UUID
    assert got.layout.params.salt == b"\0"


@pytest.mark.peer
def test_measure_finds_changed_data_changed_tree_and_wrong_parameters(
    appended: tuple[Path, int, str],
) -> None:
    img, offset, root = appended
    original = img.read_bytes()
    # one data byte: the tree no longer matches, and the root differs
    img.write_bytes(original[:5000] + bytes([original[5000] ^ 1]) + original[5001:])
    got = v.measure(img, hash_offset=offset, expected_root=bytes.fromhex(root))
    assert [r.code for r in got.results] == ["verity.tree.mismatch", "verity.root.mismatch"]
    # one byte of the stored tree's last block (level 0)
    at = len(original) - 100
    img.write_bytes(original[:at] + bytes([original[at] ^ 1]) + original[at + 1 :])
    got = v.measure(img, hash_offset=offset)
    assert [r.code for r in got.results] == ["verity.tree.mismatch"]
    assert str(at) in got.results[0].message
    # the stored tree is right, but the caller expected another salt
    img.write_bytes(original)
    got = v.measure(img, hash_offset=offset, salt=b"")
    assert [r.code for r in got.results] == ["verity.params.mismatch", "verity.tree.match"]


def test_measure_without_a_superblock_or_salt_is_refused(tmp_path: Path) -> None:
    img = random_file(tmp_path / "img", 8 * BLOCK)
    with pytest.raises(InputError, match="no verity superblock"):
        v.measure(img, hash_offset=4 * BLOCK)
    with pytest.raises(InputError, match="salt is needed"):
        v.measure(img)
    with pytest.raises(InputError, match="not found"):
        v.measure(tmp_path / "absent", salt=b"")
    with pytest.raises(InputError, match="fewer than"):
        v.measure(img, salt=b"", data_blocks=9)


def test_progress_reports_every_data_byte(tmp_path: Path) -> None:
    img = random_file(tmp_path / "img", 1000 * BLOCK)
    seen: list[int] = []
    layout = v.plan(v.VerityParams(), 1000)
    v.compute(img, layout, progress=seen.append, task_bytes=256 * BLOCK, workers=1)
    assert sum(seen) == 1000 * BLOCK
    assert len(seen) == 4  # 1000 blocks in tasks of 256


# ---------------------------------------------------------------------------------------
# the CLI


@pytest.mark.peer
def test_cli_measure_verity(run_cli: Callable[..., Any], appended: tuple[Path, int, str]) -> None:
    import json

    img, offset, root = appended
    ok = run_cli("measure", "verity", img, "--hash-offset", str(offset), "--root-hash", root)
    assert ok.code == 0, ok.stderr
    assert f"verity root: {root}" in ok.stdout
    assert "PASS  verity.tree.match" in ok.stdout
    bad = run_cli("measure", "verity", img, "--hash-offset", str(offset), "--root-hash", "00" * 32)
    assert bad.code == 1
    assert "FAIL  verity.root.mismatch" in bad.stdout
    as_json = run_cli("measure", "verity", img, "--salt", "00", "--data-blocks", "300", "--json")
    assert as_json.code == 0
    doc = json.loads(as_json.stdout)
    assert doc["verityRoot"] == root
    assert doc["checks"] == []
    assert doc["ok"] is True
    assert doc["salt"] == "00"
    assert doc["dataBlocks"] == 300


def test_cli_measure_verity_refusals(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    img = random_file(tmp_path / "img", 4095)
    small = run_cli("measure", "verity", img, "--salt", "00")
    assert small.code == 2
    assert "less than one data block" in small.stderr
    big = random_file(tmp_path / "big", 2 * BLOCK)
    no_salt = run_cli("measure", "verity", big)
    assert no_salt.code == 2
    assert "--salt" in no_salt.stderr
    bad_salt = run_cli("measure", "verity", big, "--salt", "0x")
    assert bad_salt.code == 2
    assert "--salt" in bad_salt.stderr
    bad_hash = run_cli("measure", "verity", big, "--salt", "-", "--hash", "md5")
    assert bad_hash.code == 2
    no_sb = run_cli("measure", "verity", big, "--hash-offset", "4096")
    assert no_sb.code == 2
    assert "no verity superblock" in no_sb.stderr
    for run in (small, no_salt, bad_salt, bad_hash, no_sb):
        assert "Traceback" not in run.stderr


@pytest.mark.peer
def test_measure_checks_a_separate_hash_file_from_veritysetup(tmp_path: Path) -> None:
    data = random_file(tmp_path / "data", 700 * BLOCK + 9, seed=31)
    peer = peer_format(
        data, tmp_path / "h", salt=SALTS["random-32"], data_block_size=512, hash_block_size=512
    )
    got = v.measure(data, hash_file=tmp_path / "h", expected_root=bytes.fromhex(peer.root))
    assert [r.code for r in got.results] == ["verity.tree.match", "verity.root.match"]
    assert got.layout.params.data_block_size == 512
    assert got.layout.data_blocks == (700 * BLOCK + 9) // 512


@pytest.mark.peer
@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(512, 300 * BLOCK),
    dbs=st.sampled_from([512, 1024, 4096]),
    hbs=st.sampled_from([512, 2048, 4096]),
    salt=st.binary(max_size=256),
    algorithm=st.sampled_from(["sha256", "sha1", "sha512"]),
)
def test_random_shapes_equal_veritysetup(
    size: int, dbs: int, hbs: int, salt: bytes, algorithm: str
) -> None:
    """Sizes, block sizes and salts drawn at random, each checked against the peer."""
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        data = random_file(Path(work) / "data", size, seed=size)
        salt_hex = salt.hex() or "-"
        if size < dbs:
            with pytest.raises(InputError):
                v.image_blocks(data, dbs)
            return
        peer = peer_format(
            data,
            Path(work) / "h",
            salt=salt_hex,
            data_block_size=dbs,
            hash_block_size=hbs,
            algorithm=algorithm,
        )
        root, area, _layout = _ours(
            data, salt=salt_hex, dbs=dbs, hbs=hbs, algorithm=algorithm, task_bytes=64 * 1024
        )
        assert (root, area) == (peer.root, peer.hash_bytes)
