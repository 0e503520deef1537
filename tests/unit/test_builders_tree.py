"""refkit.builders.tree: the rules every builder's tree follows (modes, names, links,
types) and the safe extraction of tar archives, including malicious ones."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.builders.tree import (
    extract_tar,
    link_escapes,
    normalised_mode,
    resolve_lexically,
    walk,
    write_tar,
)
from refkit.errors import InputError, ParseError, RefkitError
from refkit.inputs.errors import UnsafeArchive
from tests.builders_fs_support import EPOCH, make_tree, tar_bytes
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug


@pytest.mark.parametrize(
    ("path", "target", "escapes"),
    [
        ("bin", "usr/bin", False),
        ("etc/mtab", "/proc/self/mounts", False),  # absolute: read from the tree's root
        ("a/b/c", "../../x", False),
        ("a/b/c", "../../../x", True),
        ("a", "..", True),
        ("a/b", "/../x", True),
        ("a/b", "./.././y/../z", False),
        ("a", "", True),
    ],
)
def test_link_escapes(path: str, target: str, escapes: bool) -> None:
    assert link_escapes(path, target) is escapes


def test_resolve_lexically() -> None:
    assert resolve_lexically("usr/lib64/ld.so", "/lib/x/ld.so") == "lib/x/ld.so"
    assert resolve_lexically("a/b/c", "../d") == "a/d"


@pytest.mark.parametrize(
    ("kind", "mode", "want"),
    [
        ("file", 0o600, 0o644),
        ("file", 0o666, 0o644),
        ("file", 0o4755, 0o755),  # set-uid dropped
        ("file", 0o100, 0o755),
        ("dir", 0o700, 0o755),
        ("symlink", 0o755, 0o777),
    ],
)
def test_normalised_mode(kind: str, mode: int, want: int) -> None:
    assert normalised_mode(kind, mode) == want  # type: ignore[arg-type]


def test_walk_is_sorted_and_normalised(tmp_path: Path) -> None:
    a = walk(make_tree(tmp_path / "a"))
    b = walk(make_tree(tmp_path / "b", reverse=True, loose=True))
    strip = [(n.path, n.kind, n.mode, n.size, n.target) for n in a]
    assert strip == [(n.path, n.kind, n.mode, n.size, n.target) for n in b]
    assert [n.path for n in a] == sorted(n.path for n in a)
    modes = {n.path: n.mode for n in a}
    assert modes["init"] == 0o755
    assert modes["etc/hostname"] == 0o644
    assert modes["var/empty"] == 0o755


def test_walk_refuses_fifo_and_escaping_link(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "t")
    os.mkfifo(root / "pipe")
    with pytest.raises(UnsafeArchive, match="FIFO"):
        walk(root)
    os.unlink(root / "pipe")
    (root / "etc/escape").symlink_to("../../outside")
    with pytest.raises(UnsafeArchive, match="leaves the tree"):
        walk(root)


def test_tar_round_trip(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "t")
    buf = io.BytesIO()
    write_tar(walk(root), buf, epoch=EPOCH)
    archive = tmp_path / "t.tar"
    archive.write_bytes(buf.getvalue())
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    assert {m.uid for m in members} == {0}
    assert {m.mtime for m in members} == {EPOCH}
    assert all("mtime" not in m.pax_headers and "atime" not in m.pax_headers for m in members)
    out = tmp_path / "x"
    out.mkdir()
    extract_tar(archive, out)
    again = io.BytesIO()
    write_tar(walk(out), again, epoch=EPOCH)
    assert again.getvalue() == buf.getvalue()
    assert (out / "usr/share/doc/caf\u00e9.txt").read_bytes() == b"unicode name\n"


MALICIOUS = {
    "absolute": [("/etc/passwd", "file", "x")],
    "dot-dot": [("a/../../etc/passwd", "file", "x")],
    "device": [("dev/sda", "chr", "")],
    "fifo": [("run/pipe", "fifo", "")],
    "escaping-link": [("a", "dir", ""), ("a/up", "symlink", "../../etc")],
    "absolute-escaping-link": [("up", "symlink", "/../etc")],
    "through-a-link": [("lnk", "symlink", "/etc"), ("lnk/passwd", "file", "x")],
    "hardlink-outside": [("h", "hardlink", "../etc/passwd")],
    "hardlink-missing": [("h", "hardlink", "nothing")],
    "twice": [("f", "file", "a"), ("f", "file", "b")],
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_archives_are_refused(tmp_path: Path, case: str) -> None:
    archive = tmp_path / "evil.tar"
    archive.write_bytes(tar_bytes(MALICIOUS[case]))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(InputError) as info:
        extract_tar(archive, dest)
    assert str(archive) in str(info.value)
    assert not (tmp_path / "etc").exists()


def test_hardlink_becomes_a_copy(tmp_path: Path) -> None:
    archive = tmp_path / "h.tar"
    archive.write_bytes(tar_bytes([("f", "file", "data"), ("g", "hardlink", "f")]))
    dest = tmp_path / "out"
    dest.mkdir()
    extract_tar(archive, dest)
    assert (dest / "g").read_bytes() == b"data"
    assert os.stat(dest / "g").st_ino != os.stat(dest / "f").st_ino


def test_not_a_tar_is_a_parse_error(tmp_path: Path) -> None:
    archive = tmp_path / "junk.tar"
    archive.write_bytes(b"not a tar archive" * 40)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ParseError, match=r"junk\.tar"):
        extract_tar(archive, dest)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(data=st.binary(max_size=4096), cut=st.integers(min_value=0, max_value=3000))
def test_fuzz_extract_tar(tmp_path_factory: pytest.TempPathFactory, data: bytes, cut: int) -> None:
    base = tmp_path_factory.mktemp("fuzz")
    good = tar_bytes([("a", "dir", ""), ("a/f", "file", "x" * 100), ("l", "symlink", "a/f")])
    archive = base / "in.tar"
    archive.write_bytes(good[:cut] + data + good[cut + len(data) :])
    dest = base / "out"
    dest.mkdir()
    try:
        extract_tar(archive, dest)
    except RefkitError as exc:
        assert_not_a_bug(exc)
