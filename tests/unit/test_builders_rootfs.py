"""The rootfs builder: the pinned bookworm Python closure in ../shared/inputs extracted
without maintainer scripts, merged /usr, checked against a lock, reproducible; malicious
packages refused; the mmdebstrap mode (peer) offline from a copy:// repository."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.builders.api import Builder, load_builders
from refkit.builders.rootfs import NotPinned, merged_target, merged_usr
from refkit.errors import InputError, RefkitError
from refkit.inputs.errors import UnsafeArchive
from refkit.inputs.lock import Lock, dumps_lock
from refkit.inputs.pin import pin_deb
from tests.builders_fs_support import (
    ENVIRONMENTS,
    build,
    copy_in_order,
    deb_bytes,
    digest_output,
    environment,
)
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug, shared_input

#: A small closure from ../shared/inputs/bookworm: the dynamic loader, libc and busybox.
SMALL = ("libc6", "gcc-12-base", "libgcc-s1", "busybox-static")
#: What python3.11 needs to start (python3.11-minimal and its shared libraries).
PYTHON = (
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libc6",
    "zlib1g",
    "libexpat1",
    "gcc-12-base",
    "libgcc-s1",
    "libssl3",
)


def debs(names: tuple[str, ...]) -> list[Path]:
    folder = shared_input("bookworm")
    found = [p for n in names for p in folder.glob(f"{n}_*.deb")]
    assert len(found) == len(names)
    return found


def write_lock(path: Path, packages: list[Path]) -> Path:
    lock = Lock(inputs=tuple(pin_deb(p, suite="bookworm") for p in packages))
    path.write_text(dumps_lock(lock))
    return path


def rootfs(tree: bool = False) -> Builder:
    return load_builders()["rootfs-tree" if tree else "rootfs"]


def test_merged_usr_names() -> None:
    assert merged_usr("lib/x86_64-linux-gnu/libc.so.6") == "usr/lib/x86_64-linux-gnu/libc.so.6"
    assert merged_usr("lib64") == "usr/lib64"
    assert merged_usr("library/x") == "library/x"
    assert merged_usr("etc/passwd") == "etc/passwd"
    # a relative link moved below usr/ still names the same file
    assert merged_target("lib/a/b", "../../usr/share/x") == "../../share/x"
    assert merged_target("sbin/x", "../bin/y") == "../bin/y"
    assert merged_target("usr/bin/x", "../../bin/y") == "../../bin/y"
    assert merged_target("lib64/ld.so", "/lib/x/ld.so") == "/lib/x/ld.so"


def test_reproducible_across_environments(tmp_path: Path) -> None:
    packages = debs(SMALL)
    digests = []
    for i, env in enumerate(ENVIRONMENTS):
        base = tmp_path / env["dir"]
        inputs = copy_in_order(packages, base / "pkgs", reverse=env["reverse"])
        lock = write_lock(base / "inputs.lock.json", packages)
        with environment(env):
            out, built = build(rootfs(), base, {"packages": inputs, "lock": lock}, output=f"o{i}")
        digests.append(digest_output(out))
        assert built.facts["lock_checked"] is True
    assert digests[0] == digests[1]


def test_tree_layout(tmp_path: Path) -> None:
    out, built = build(
        rootfs(), tmp_path, {"packages": copy_in_order(debs(SMALL), tmp_path / "p", reverse=False)}
    )
    names = {p["name"] for p in built.facts["packages"]}
    assert names == set(SMALL)
    with tarfile.open(out) as tar:
        members = {m.name: m for m in tar.getmembers()}
    for top in ("bin", "lib", "sbin", "lib64"):
        assert members[top].issym()
        assert members[top].linkname == f"usr/{top}"
    # libc6 ships /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...: moved below usr
    ld = members["usr/lib64/ld-linux-x86-64.so.2"]
    assert ld.issym()
    assert ld.linkname == "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    assert members["usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"].mode == 0o755
    assert not any(n.startswith(("lib/", "bin/")) for n in members)
    assert {m.mode for m in members.values() if m.isdir()} == {0o755}
    assert {m.mode for m in members.values() if m.isfile()} <= {0o644, 0o755}
    assert not any(n.startswith("var/lib/dpkg/info/") for n in members)  # no scripts run


def test_tree_output(tmp_path: Path) -> None:
    out, _built = build(
        rootfs(tree=True),
        tmp_path,
        {"packages": copy_in_order(debs(SMALL), tmp_path / "p", reverse=False)},
    )
    assert out.is_dir()
    assert os.readlink(out / "bin") == "usr/bin"
    assert (out / "usr/bin/busybox").stat().st_mtime == 1700000000


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_python_closure_runs(tmp_path: Path) -> None:
    """The distroless Python root file system works: python3.11 starts in a chroot."""
    out, _built = build(
        rootfs(tree=True),
        tmp_path,
        {"packages": copy_in_order(debs(PYTHON), tmp_path / "p", reverse=False)},
    )
    done = subprocess.run(
        [
            shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin") or "chroot",
            str(out),
            "/usr/bin/python3.11",
            "-S",
            "-c",
            "print(6 * 7)",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "42\n"


def test_lock_mismatch(tmp_path: Path) -> None:
    packages = debs(SMALL)
    pkgs = copy_in_order(packages, tmp_path / "p", reverse=False)
    # the lock does not pin busybox-static at all
    lock = write_lock(tmp_path / "lock.json", packages[:-1])
    with pytest.raises(NotPinned, match=r"busybox-static .* is not pinned"):
        build(rootfs(), tmp_path / "a", {"packages": pkgs, "lock": lock})
    # the lock pins other bytes for libc6 (same name and version)
    lock = write_lock(tmp_path / "lock2.json", packages)
    text = lock.read_text()
    real = hashlib.sha256(packages[0].read_bytes()).hexdigest()
    assert real in text
    lock.write_text(text.replace(real, "0" * 64))
    with pytest.raises(NotPinned, match="the lock pins 0000"):
        build(rootfs(), tmp_path / "b", {"packages": pkgs, "lock": lock})


def test_file_from_two_packages_is_a_conflict(tmp_path: Path) -> None:
    pkgs = tmp_path / "p"
    pkgs.mkdir()
    (pkgs / "a.deb").write_bytes(
        deb_bytes("a", "1", [("./etc", "dir", ""), ("./etc/x", "file", "a")])
    )
    (pkgs / "b.deb").write_bytes(
        deb_bytes("b", "1", [("./etc", "dir", ""), ("./etc/x", "file", "b")])
    )
    with pytest.raises(InputError, match="'etc/x' is also a file from a 1"):
        build(rootfs(), tmp_path, {"packages": pkgs})


@pytest.mark.parametrize(
    "entries",
    [
        [("./dev/sda", "chr", "")],
        [("./../etc/passwd", "file", "x")],
        [("/etc/passwd", "file", "x")],
        [("./x", "symlink", "../../../etc")],
        [("./lib", "symlink", "/etc"), ("./lib/passwd", "file", "x")],
        [("./h", "hardlink", "./missing")],
    ],
    ids=["device", "dot-dot", "absolute", "escaping-link", "through-link", "hardlink"],
)
def test_malicious_package(tmp_path: Path, entries: list[tuple[str, str, str]]) -> None:
    pkgs = tmp_path / "p"
    pkgs.mkdir()
    (pkgs / "evil.deb").write_bytes(deb_bytes("evil", "1", entries))
    with pytest.raises(InputError):
        build(rootfs(), tmp_path, {"packages": pkgs})
    assert not (tmp_path / "etc").exists()


def test_through_a_merged_link_is_refused_not_followed(tmp_path: Path) -> None:
    """A package shipping /lib as a link: it is moved to usr/lib (a link) and the
    top-level lib link of merged /usr then names it; nothing is written outside."""
    pkgs = tmp_path / "p"
    pkgs.mkdir()
    (pkgs / "evil.deb").write_bytes(
        deb_bytes("evil", "1", [("./lib", "symlink", "/etc"), ("./lib/passwd", "file", "x")])
    )
    with pytest.raises(UnsafeArchive):
        build(rootfs(), tmp_path, {"packages": pkgs})


@pytest.mark.peer
def test_mmdebstrap_mode(tmp_path: Path) -> None:
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed (Debian package mmdebstrap)")
    if os.geteuid() != 0:
        pytest.skip("mmdebstrap's root mode needs root here (no user namespaces assumed)")
    packages = debs(SMALL)
    digests = []
    for i, env in enumerate(ENVIRONMENTS):
        base = tmp_path / env["dir"]
        inputs = copy_in_order(packages, base / "pkgs", reverse=env["reverse"])
        lock = write_lock(base / "lock.json", packages)
        with environment(env):
            out, built = build(
                rootfs(),
                base,
                {"packages": inputs, "lock": lock},
                {"mode": "mmdebstrap"},
                output=f"o{i}",
            )
        digests.append(digest_output(out))
        # apt chose exactly the pinned files: compare with sha256 computed here
        want = {hashlib.sha256(p.read_bytes()).hexdigest() for p in packages}
        assert {p["sha256"] for p in built.facts["packages"]} == want
    assert digests[0] == digests[1]
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
    # the extract variant does not merge /usr for bookworm (no usrmerge package runs)
    assert "./bin/busybox" in names


@pytest.mark.peer
def test_mmdebstrap_output_feeds_the_oci_builder(tmp_path: Path) -> None:
    if shutil.which("mmdebstrap") is None or os.geteuid() != 0:
        pytest.skip("needs mmdebstrap (Debian package mmdebstrap) and root")
    pkgs = copy_in_order(debs(SMALL), tmp_path / "p", reverse=False)
    out, _built = build(rootfs(), tmp_path / "r", {"packages": pkgs}, {"mode": "mmdebstrap"})
    _layout, image = build(load_builders()["oci"], tmp_path / "o", {"rootfs": out})
    assert len(image.facts["diff_ids"]) == 1


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(flip=st.integers(min_value=0, max_value=10_000), value=st.integers(1, 255))
def test_fuzz_damaged_package(
    tmp_path_factory: pytest.TempPathFactory, flip: int, value: int
) -> None:
    base = tmp_path_factory.mktemp("fuzz")
    good = bytearray(
        deb_bytes(
            "p",
            "1",
            [("./usr", "dir", ""), ("./usr/f", "file", "x" * 300), ("./l", "symlink", "usr/f")],
        )
    )
    good[flip % len(good)] ^= value
    pkgs = base / "p"
    pkgs.mkdir()
    (pkgs / "p.deb").write_bytes(bytes(good))
    try:
        build(rootfs(), base, {"packages": pkgs})
    except RefkitError as exc:
        assert_not_a_bug(exc)
