"""Helpers shared by the rootfs, oci, initrd and tree builder tests: a sample tree, a
context maker, and the "built twice under another environment" harness."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from refkit.builders.api import BuildContext, Builder, Built

EPOCH = 1700000000

#: The two environments a builder must not notice (the brief's list: umask, TZ, LANG,
#: build directory, order of directory listing; input modes as a checkout's umask leaves them).
ENVIRONMENTS: tuple[Mapping[str, Any], ...] = (
    {"umask": 0o022, "TZ": "UTC", "LANG": "C.UTF-8", "dir": "a", "reverse": False, "loose": False},
    {
        "umask": 0o077,
        "TZ": "Pacific/Chatham",
        "LANG": "de_DE.UTF-8",
        "dir": "deeper/build dir/b",
        "reverse": True,
        "loose": True,
    },
)


@contextlib.contextmanager
def environment(env: Mapping[str, Any]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("TZ", "LANG", "LC_ALL")}
    old_umask = os.umask(env["umask"])
    os.environ["TZ"] = env["TZ"]
    os.environ["LANG"] = os.environ["LC_ALL"] = env["LANG"]
    time.tzset()
    try:
        yield
    finally:
        os.umask(old_umask)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        time.tzset()


SAMPLE_FILES: tuple[tuple[str, bytes, bool], ...] = (
    ("init", b"#!/bin/sh\nexec /bin/sh\n", True),
    ("etc/hostname", b"refkit\n", False),
    ("etc/os-release", b"ID=refkit\n", False),
    ("usr/bin/tool", b"\x7fELF fake", True),
    ("usr/share/doc/caf\u00e9.txt", b"unicode name\n", False),
    ("usr/share/doc/" + "long-" * 30 + "name.txt", b"a name over 100 bytes\n", False),
)


def make_tree(root: Path, *, reverse: bool = False, loose: bool = False) -> Path:
    """A small tree with executables, a relative and an absolute link, an empty directory,
    a non-ASCII and a long name; created in reverse order and with loose modes (what a
    checkout under umask 000 gives) when asked, so that listing order and modes differ."""
    root.mkdir(parents=True)
    files = list(reversed(SAMPLE_FILES)) if reverse else list(SAMPLE_FILES)
    for name, data, executable in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if loose:
            path.chmod(0o777 if executable else 0o666)
        else:
            path.chmod(0o700 if executable else 0o600)
    (root / "var/empty").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    (root / "etc/mtab").symlink_to("/proc/self/mounts")
    return root


def build(
    builder: Builder,
    base: Path,
    inputs: Mapping[str, Path],
    params: Mapping[str, Any] | None = None,
    *,
    output: str = "out",
) -> tuple[Path, Built]:
    work = base / "work"
    work.mkdir(parents=True)
    ctx = BuildContext(
        name="test",
        inputs=dict(inputs),
        params=dict(params or {}),
        output=base / output,
        workdir=work,
        source_date_epoch=EPOCH,
    )
    built = builder.build(ctx)
    shutil.rmtree(work)
    return base / output, built


def digest_output(path: Path) -> str:
    """sha256 of a file, or of a tree's names, kinds, modes, mtimes and contents."""
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    h = hashlib.sha256()
    for directory, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(dirs + files):
            full = Path(directory) / name
            info = full.lstat()
            h.update(f"{full.relative_to(path)}\0{info.st_mode:o}\0{info.st_mtime_ns}\0".encode())
            if full.is_symlink():
                h.update(os.readlink(full).encode())
            elif full.is_file():
                h.update(full.read_bytes())
    return h.hexdigest()


def copy_in_order(files: list[Path], dest: Path, *, reverse: bool) -> Path:
    """Copy ``files`` into a new directory, in reverse order when asked (so the directory
    lists them in another order)."""
    dest.mkdir(parents=True)
    for f in reversed(files) if reverse else files:
        shutil.copyfile(f, dest / f.name)
    return dest


def tar_bytes(entries: Sequence[tuple[str, str, bytes | str]], *, fmt: int = 2) -> bytes:
    """A tar archive of (name, kind, data-or-link) entries, written as given (unsafe ones
    included): kinds ``file``, ``dir``, ``symlink``, ``hardlink``, ``chr``, ``fifo``."""
    import io
    import tarfile

    types = {
        "file": tarfile.REGTYPE,
        "dir": tarfile.DIRTYPE,
        "symlink": tarfile.SYMTYPE,
        "hardlink": tarfile.LNKTYPE,
        "chr": tarfile.CHRTYPE,
        "fifo": tarfile.FIFOTYPE,
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.type = types[kind]
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind in ("symlink", "hardlink"):
                info.linkname = str(payload)
                tar.addfile(info)
            elif kind == "file":
                data = payload if isinstance(payload, bytes) else payload.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def deb_bytes(
    name: str, version: str, data_entries: Sequence[tuple[str, str, bytes | str]]
) -> bytes:
    """A minimal .deb (deb(5)): debian-binary, control.tar.gz, data.tar.gz (gzip)."""
    import gzip

    control = (
        f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n"
        "Maintainer: test <t@example.invalid>\nDescription: test package\n"
    )
    control_tar = gzip.compress(tar_bytes([("./control", "file", control)]), mtime=0)
    data_tar = gzip.compress(tar_bytes(data_entries), mtime=0)
    out = bytearray(b"!<arch>\n")
    for member, payload in (
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", control_tar),
        ("data.tar.gz", data_tar),
    ):
        head = f"{member:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(payload):<10}`\n"
        out += head.encode() + payload + (b"\n" if len(payload) % 2 else b"")
    return bytes(out)
