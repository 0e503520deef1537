"""Builders of small Debian packages and ar archives for the inputs tests (no tests here).

Packages are built in memory from a list of tar entries, so each test states exactly the
archive it needs (a link escaping the root, a device file, a duplicate name) instead of
depending on a binary fixture.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refkit.inputs import DebianPackage, ExtractSpec, Lock
from refkit.inputs.debian import DownloadFailed


@dataclass(frozen=True)
class Entry:
    """One tar entry: kind is file, dir, symlink, hardlink, chr or fifo."""

    name: str
    data: bytes = b""
    kind: str = "file"
    link: str = ""
    mode: int = 0o644


def ar_archive(members: Sequence[tuple[str, bytes]]) -> bytes:
    """A common-format ar(5) archive with fixed header fields."""
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{0o100644:<8o}{len(data):<10}".encode() + b"`\n"
        assert len(header) == 60
        out += header + data
        if len(data) % 2:
            out += b"\n"
    return bytes(out)


def tar_bytes(entries: Sequence[Entry]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.mode = entry.mode
            info.mtime = 0
            payload = None
            if entry.kind == "file":
                info.size = len(entry.data)
                payload = io.BytesIO(entry.data)
            elif entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif entry.kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = entry.link
            elif entry.kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = entry.link
            elif entry.kind == "chr":
                info.type = tarfile.CHRTYPE
            elif entry.kind == "fifo":
                info.type = tarfile.FIFOTYPE
            else:
                raise ValueError(entry.kind)
            tar.addfile(info, payload)
    return buffer.getvalue()


def compress(data: bytes, suffix: str) -> bytes:
    if suffix == "":
        return data
    if suffix == ".gz":
        return gzip.compress(data, mtime=0)
    if suffix == ".xz":
        return lzma.compress(data, format=lzma.FORMAT_XZ)
    if suffix == ".lzma":
        return lzma.compress(data, format=lzma.FORMAT_ALONE)
    if suffix == ".bz2":
        return bz2.compress(data)
    raise ValueError(suffix)


CONTROL = b"Package: hello\nVersion: 1.0-1\nArchitecture: all\nSource: hello-src\n"


@dataclass(frozen=True)
class Deb:
    """A built package and the digests tests pin."""

    data: bytes
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def make_deb(
    entries: Sequence[Entry],
    *,
    compression: str = ".xz",
    control: bytes = CONTROL,
    extra_before_data: Sequence[tuple[str, bytes]] = (),
    version: bytes = b"2.0\n",
) -> bytes:
    control_tar = tar_bytes([Entry("./", kind="dir"), Entry("./control", control)])
    members = [
        ("debian-binary", version),
        ("control.tar.gz", compress(control_tar, ".gz")),
        *extra_before_data,
        (f"data.tar{compression}", compress(tar_bytes(entries), compression)),
    ]
    return ar_archive(members)


def simple_entries(payload: bytes = b"firmware bytes\n") -> list[Entry]:
    return [
        Entry("./", kind="dir"),
        Entry("./usr/", kind="dir"),
        Entry("./usr/share/", kind="dir"),
        Entry("./usr/share/fw/", kind="dir"),
        Entry("./usr/share/fw/image.fd", payload),
        Entry("./boot/", kind="dir"),
        Entry("./boot/vmlinuz-1", b"kernel " * 100),
        Entry("./boot/vmlinuz", kind="symlink", link="vmlinuz-1"),
    ]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------- fetch fixtures
# In-memory packages and a fake downloader shared by the fetch, CLI and review tests.

FW = b"firmware " * 64
KERNEL = b"kernel " * 100
DEB = make_deb(simple_entries(FW))
OTHER_DEB = make_deb(simple_entries(b"other firmware"))


def package(deb: bytes = DEB, name: str = "fw", **extract: Any) -> DebianPackage:
    specs = (
        ExtractSpec("usr/share/fw/image.fd", f"{name}.fd", len(FW), sha256(FW)),
        ExtractSpec("boot/vmlinuz", f"{name}-vmlinuz", len(KERNEL), sha256(KERNEL)),
    )
    return DebianPackage(
        name=name,
        version="1.0-1",
        architecture="all",
        suite="sid",
        component="main",
        source=name,
        filename=f"{name}_1.0-1_all.deb",
        size=len(deb),
        sha256=sha256(deb),
        extract=specs,
    )


LOCK = Lock((package(),), source="test.lock.json")


class FakeDownloader:
    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies
        self.asked: list[str] = []

    def download(self, package: DebianPackage, dest: Path, progress: Any) -> str:
        self.asked.append(package.name)
        if package.name not in self.bodies:
            raise DownloadFailed(f"{package.name}: HTTP 404")
        dest.write_bytes(self.bodies[package.name])
        progress(len(self.bodies[package.name]), None)
        return f"http://archive.example/{package.filename}"


def mirror_dir(tmp_path: Path, data: bytes = DEB, name: str = "renamed.bin") -> Path:
    mirror = tmp_path / "mirror"
    mirror.mkdir(exist_ok=True)
    (mirror / name).write_bytes(data)
    return mirror
