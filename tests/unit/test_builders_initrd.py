"""The initrd builder: a cpio newc archive, reproducible, parsed here independently and
listed and extracted by GNU cpio (peer); compression with fixed settings."""

from __future__ import annotations

import gzip
import lzma
import shutil
import subprocess
from pathlib import Path

import pytest

from refkit.builders.api import Builder, load_builders
from refkit.builders.tree import walk
from refkit.inputs.errors import UnsafeArchive
from tests.builders_fs_support import (
    ENVIRONMENTS,
    EPOCH,
    SAMPLE_FILES,
    build,
    digest_output,
    environment,
    make_tree,
    tar_bytes,
)


def initrd() -> Builder:
    return load_builders()["initrd"]


def parse_newc(data: bytes) -> list[dict[str, object]]:
    """A second, independent reading of cpio(5) "New ASCII Format"."""
    entries: list[dict[str, object]] = []
    pos = 0
    names = (
        "ino",
        "mode",
        "uid",
        "gid",
        "nlink",
        "mtime",
        "filesize",
        "devmajor",
        "devminor",
        "rdevmajor",
        "rdevminor",
        "namesize",
        "check",
    )
    while True:
        assert data[pos : pos + 6] == b"070701"
        fields = {n: int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i, n in enumerate(names)}
        pos += 110
        name = data[pos : pos + fields["namesize"] - 1].decode()
        pos += fields["namesize"]
        pos += -pos % 4
        body = data[pos : pos + fields["filesize"]]
        pos += fields["filesize"]
        pos += -pos % 4
        if name == "TRAILER!!!":
            assert data[pos:] == b""
            return entries
        entries.append({"name": name, "body": body, **fields})


@pytest.mark.parametrize("compression", ["none", "gzip", "xz"])
def test_reproducible_across_environments(tmp_path: Path, compression: str) -> None:
    digests = []
    for env in ENVIRONMENTS:
        base = tmp_path / env["dir"]
        tree = make_tree(base / "tree", reverse=env["reverse"], loose=env["loose"])
        with environment(env):
            out, _built = build(initrd(), base, {"tree": tree}, {"compression": compression})
        digests.append(digest_output(out))
    assert digests[0] == digests[1]


def test_layout(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", loose=True)
    out, built = build(initrd(), tmp_path, {"tree": tree})
    entries = parse_newc(out.read_bytes())
    assert [e["name"] for e in entries] == [n.path for n in walk(tree)]
    assert built.facts["entries"] == len(entries)
    assert [e["ino"] for e in entries] == list(range(1, len(entries) + 1))
    assert {e["mtime"] for e in entries} == {EPOCH}
    assert {(e["uid"], e["gid"]) for e in entries} == {(0, 0)}
    by_name = {e["name"]: e for e in entries}
    for name, data, executable in SAMPLE_FILES:
        assert by_name[name]["body"] == data
        assert by_name[name]["mode"] == 0o100000 | (0o755 if executable else 0o644)
    assert by_name["bin"]["mode"] == 0o120777
    assert by_name["bin"]["body"] == b"usr/bin"
    assert by_name["var/empty"]["mode"] == 0o040755


def test_compression_settings(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    plain, _ = build(initrd(), tmp_path / "n", {"tree": tree})
    gz, _ = build(initrd(), tmp_path / "g", {"tree": tree}, {"compression": "gzip"})
    xz, _ = build(initrd(), tmp_path / "x", {"tree": tree}, {"compression": "xz"})
    raw = plain.read_bytes()
    assert gzip.decompress(gz.read_bytes()) == raw
    assert gz.read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime 0
    assert lzma.decompress(xz.read_bytes()) == raw
    assert xz.read_bytes()[6:8] == b"\x00\x01"  # xz stream flags: CRC32 (the kernel reads it)


def test_tarball_input_and_malicious_tarball(tmp_path: Path) -> None:
    good = tmp_path / "good.tar"
    good.write_bytes(tar_bytes([("init", "file", "#!/bin/sh\n"), ("bin", "symlink", "usr/bin")]))
    out, _built = build(initrd(), tmp_path / "a", {"tree": good})
    assert [e["name"] for e in parse_newc(out.read_bytes())] == ["bin", "init"]
    evil = tmp_path / "evil.tar"
    evil.write_bytes(tar_bytes([("dev/console", "chr", "")]))
    with pytest.raises(UnsafeArchive):
        build(initrd(), tmp_path / "b", {"tree": evil})


@pytest.mark.peer
def test_cpio_lists_and_extracts(tmp_path: Path) -> None:
    if shutil.which("cpio") is None:
        pytest.skip("GNU cpio is not installed (Debian package cpio)")
    tree = make_tree(tmp_path / "tree")
    out, _built = build(initrd(), tmp_path, {"tree": tree}, {"compression": "gzip"})
    raw = gzip.decompress(out.read_bytes())
    listed = subprocess.run(["cpio", "-t", "--quiet"], input=raw, capture_output=True, check=True)
    assert listed.stdout.decode().splitlines() == [n.path for n in walk(tree)]
    dest = tmp_path / "x"
    dest.mkdir()
    subprocess.run(
        ["cpio", "-i", "-d", "--quiet", "--no-absolute-filenames"],
        input=raw,
        cwd=dest,
        check=True,
        capture_output=True,
    )
    for name, data, executable in SAMPLE_FILES:
        assert (dest / name).read_bytes() == data
        assert (dest / name).stat().st_mode & 0o777 == (0o755 if executable else 0o644)
    assert (dest / "bin").readlink() == Path("usr/bin")
