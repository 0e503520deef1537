"""The erofs builder: bit-identical images whatever the umask, time zone, locale, build
directory, listing order and the source's modes and times; fsck.erofs reads them back
with normalised modes and links kept; special files refused."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from refkit.builders import erofs
from refkit.builders.api import load_builders
from refkit.errors import InputError
from tests.boot_support import build, other_machine, trixie
from tests.verity_support import tool


def _tree(root: Path, *, private: bool = False) -> Path:
    """A small root file system: merged-/usr links, an executable, a nested empty dir."""
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "var" / "empty").mkdir(parents=True)
    (root / "usr" / "bin" / "tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "etc" / "os-release").write_text("ID=refkit\n")
    (root / "bin").symlink_to("usr/bin")
    (root / "etc" / "absolute").symlink_to("/usr/bin/tool")
    (root / "usr" / "bin" / "tool").chmod(0o700 if private else 0o755)
    (root / "etc" / "os-release").chmod(0o600 if private else 0o644)
    if private:
        os.utime(root / "etc" / "os-release", (5, 5))
    return root


def test_registered() -> None:
    assert load_builders()["erofs"] is erofs.BUILDER


@pytest.mark.peer
def test_reproducible_across_machines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool("mkfs.erofs", "erofs-utils")
    a, built = build(erofs.BUILDER, tmp_path / "a", {"tree": _tree(tmp_path / "src-a")})
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda p: list(reversed(real_listdir(p))))
    with other_machine(tmp_path / "cwd", umask=0o077):
        src = _tree(tmp_path / "x" / "other-name", private=True)
        b, again = build(erofs.BUILDER, tmp_path / "b" / "c", {"tree": src}, output_name="i")
    assert a.read_bytes() == b.read_bytes()
    assert built.facts == again.facts
    assert built.facts["files"] == 2
    assert built.facts["links"] == 2


@pytest.mark.peer
def test_epoch_and_uuid_change_the_image(tmp_path: Path) -> None:
    """The determinism test above could pass by ignoring its parameters: these must not."""
    tool("mkfs.erofs", "erofs-utils")
    src = _tree(tmp_path / "src")
    a, _ = build(erofs.BUILDER, tmp_path / "a", {"tree": src})
    b, _ = build(erofs.BUILDER, tmp_path / "b", {"tree": src}, epoch=1)
    c, facts = build(
        erofs.BUILDER,
        tmp_path / "c",
        {"tree": src},
        {"uuid": "12345678-1234-5678-1234-567812345678"},
    )
    assert len({a.read_bytes(), b.read_bytes(), c.read_bytes()}) == 3
    assert facts.facts["uuid"] == "12345678-1234-5678-1234-567812345678"


@pytest.mark.peer
def test_fsck_reads_back_normalised_tree(tmp_path: Path) -> None:
    tool("fsck.erofs", "erofs-utils")
    image, built = build(
        erofs.BUILDER, tmp_path / "b", {"tree": _tree(tmp_path / "src", private=True)}
    )
    assert built.facts["size"] == image.stat().st_size
    out = tmp_path / "out"
    subprocess.run(["fsck.erofs", f"--extract={out}", str(image)], check=True, capture_output=True)
    modes = {
        str(p.relative_to(out)): stat.S_IMODE(p.lstat().st_mode)
        for p in sorted(out.rglob("*"))
        if not p.is_symlink()
    }
    assert modes == {
        "etc": 0o755,
        "etc/os-release": 0o644,
        "usr": 0o755,
        "usr/bin": 0o755,
        "usr/bin/tool": 0o755,
        "var": 0o755,
        "var/empty": 0o755,
    }
    assert os.readlink(out / "bin") == "usr/bin"
    assert os.readlink(out / "etc" / "absolute") == "/usr/bin/tool"
    assert (out / "etc" / "os-release").read_text() == "ID=refkit\n"


def test_special_files_refused(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    os.mkfifo(src / "etc" / "pipe")
    with pytest.raises(erofs.TreeRefused, match="etc/pipe is a device, FIFO or socket"):
        build(erofs.BUILDER, tmp_path / "b", {"tree": src})


def test_not_a_directory(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError):
        build(erofs.BUILDER, tmp_path / "b", {"tree": f})


@pytest.mark.peer
def test_tar_tree_gives_the_same_image(tmp_path: Path) -> None:
    """A rootfs artifact in tar form images like the same tree as a directory."""
    pytest.importorskip("refkit.builders.tree", reason="needs the shared tree helpers")
    tool("mkfs.erofs", "erofs-utils")
    import tarfile

    src = _tree(tmp_path / "src")
    archive = tmp_path / "tree.tar"
    with tarfile.open(archive, "w") as tar:
        for p in sorted(src.rglob("*")):
            tar.add(p, arcname=str(p.relative_to(src)), recursive=False)
    a, _ = build(erofs.BUILDER, tmp_path / "a", {"tree": src})
    b, _ = build(erofs.BUILDER, tmp_path / "b", {"tree": archive})
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    ("inputs", "params", "words"),
    [({"other": Path(".")}, {}, "one input named 'tree'"), (None, {"uuid": "nope"}, "not a UUID")],
)
def test_bad_recipe_values(
    tmp_path: Path, inputs: dict[str, Path] | None, params: dict[str, str], words: str
) -> None:
    with pytest.raises(InputError, match=words):
        build(erofs.BUILDER, tmp_path / "b", inputs or {"tree": _tree(tmp_path / "s")}, params)


@pytest.mark.peer
def test_real_packages_round_trip(tmp_path: Path) -> None:
    """Real data: trixie's libc6 and kmod unpacked by dpkg-deb (the peer) into one tree;
    the image fsck.erofs extracts holds the same bytes and the same link targets."""
    tool("fsck.erofs", "erofs-utils")
    dpkg = tool("dpkg-deb", "dpkg")
    src = tmp_path / "root"
    for prefix in ("libc6", "kmod"):
        subprocess.run([dpkg, "-x", str(trixie(prefix)), str(src)], check=True)
    image, built = build(erofs.BUILDER, tmp_path / "b", {"tree": src})
    out = tmp_path / "out"
    subprocess.run(["fsck.erofs", f"--extract={out}", str(image)], check=True, capture_output=True)

    def listing(root: Path) -> dict[str, object]:
        found: dict[str, object] = {}
        for p in sorted(root.rglob("*")):
            rel = str(p.relative_to(root))
            if p.is_symlink():
                found[rel] = ("link", os.readlink(p))
            elif p.is_file():
                found[rel] = ("file", p.read_bytes(), bool(p.stat().st_mode & 0o111))
            else:
                found[rel] = ("dir",)
        return found

    assert listing(out) == listing(src)
    assert built.facts["links"] >= 5  # kmod's lsmod, depmod, insmod, ... -> kmod
