"""Local content-addressed store: lookup by size then sha256, order, no stale cache."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from refkit.inputs.errors import DigestMismatch
from refkit.inputs.store import LocalStore, open_verified
from tests.inputs_support import sha256


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_finds_by_content_whatever_the_name(tmp_path: Path) -> None:
    target = _write(tmp_path / "a" / "deep" / "renamed.bin", b"pinned bytes")
    _write(tmp_path / "a" / "other.bin", b"other bytes!")  # same size, other content
    store = LocalStore([tmp_path / "a"])
    hit = store.find(sha256(b"pinned bytes"), len(b"pinned bytes"))
    assert hit is not None
    assert hit.path == target
    assert hit.directory == tmp_path / "a"
    assert store.find(sha256(b"absent"), 6) is None


def test_only_same_size_files_are_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "small", b"x")
    _write(tmp_path / "big", b"y" * 100)
    hashed: list[Path] = []
    store = LocalStore([tmp_path])
    original = store._digest

    def spy(path: Path, size: int) -> str | None:
        hashed.append(path)
        return original(path, size)

    monkeypatch.setattr(store, "_digest", spy)
    assert store.find(sha256(b"y" * 100), 100) is not None
    assert hashed == [tmp_path / "big"]


def test_directories_are_searched_in_order_and_lazily(tmp_path: Path) -> None:
    _write(tmp_path / "first" / "x", b"same")
    _write(tmp_path / "second" / "y", b"same")
    skipped: list[tuple[Path, str]] = []
    store = LocalStore(
        [tmp_path / "first", tmp_path / "second", tmp_path / "missing"],
        on_skip=lambda p, why: skipped.append((p, why)),
    )
    hit = store.find(sha256(b"same"), 4)
    assert hit is not None
    assert hit.directory == tmp_path / "first"
    assert tmp_path / "second" not in store._by_size  # never walked
    assert store.find(sha256(b"nope"), 4) is None
    assert skipped == [(tmp_path / "missing", "does not exist")]


def test_a_changed_file_is_hashed_again(tmp_path: Path) -> None:
    path = _write(tmp_path / "f", b"aaaa")
    store = LocalStore([tmp_path])
    assert store.find(sha256(b"aaaa"), 4) is not None
    path.write_bytes(b"bbbb")
    os.utime(path, ns=(1, 1))  # even with an old mtime: ctime and inode data change
    assert store.find(sha256(b"aaaa"), 4) is None
    assert store.find(sha256(b"bbbb"), 4) is not None


def test_directory_symlinks_are_not_followed_file_symlinks_are(tmp_path: Path) -> None:
    outside = _write(tmp_path / "outside" / "f", b"outside")
    root = tmp_path / "root"
    root.mkdir()
    (root / "dirlink").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)
    store = LocalStore([root])
    assert store.find(sha256(b"outside"), 7) is None
    (root / "filelink").symlink_to(outside)
    store = LocalStore([root])
    hit = store.find(sha256(b"outside"), 7)
    assert hit is not None
    assert hit.path == root / "filelink"


def test_unreadable_files_are_skipped_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "f", b"data")
    real_open = os.open

    def deny(file: Any, *args: Any, **kwargs: Any) -> int:
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)  # root can read anything: simulate a 0000 file
    skipped: list[tuple[Path, str]] = []
    store = LocalStore([tmp_path], on_skip=lambda p, why: skipped.append((p, why)))
    assert store.find(sha256(b"data"), 4) is None
    assert skipped == [(path, "Permission denied")]


def test_open_verified(tmp_path: Path) -> None:
    path = _write(tmp_path / "f", b"content")
    with open_verified(path, sha256=sha256(b"content"), size=7, what="package") as handle:
        assert handle.read() == b"content"
    with pytest.raises(DigestMismatch, match="does not have the pinned content"):
        open_verified(path, sha256=sha256(b"other"), size=7, what="package")
    with pytest.raises(DigestMismatch, match="more than 3 bytes"):
        open_verified(path, sha256=sha256(b"con"), size=3, what="package")
