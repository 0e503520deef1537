"""The uki builder: trixie's ukify and systemd-stub from ../shared/inputs, reproducible
bit for bit, sections holding exactly the inputs, and PCR facts checked two other ways
(pefile plus hashlib by hand, and systemd-measure 252)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pefile
import pytest

from refkit.builders import uki
from refkit.builders.api import load_builders
from refkit.errors import InputError
from tests.boot_support import (
    KERNEL_MEMBER,
    KERNEL_RELEASE,
    build,
    extract_member,
    other_machine,
    trixie,
)
from tests.shared import shared_root

CMDLINE = "console=ttyS0 root=/dev/mapper/root ro"
OS_RELEASE = 'ID=refkit-demo\nVERSION_ID="1"\n'
#: systemd-stub 257's measured sections, in its order (systemd's docs/UKI spec, "PCR 11").
STUB_257_ORDER = (
    ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname",
    ".sbat", ".pcrpkey",
)  # fmt: skip


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("uki-inputs")
    kernel = extract_member(
        trixie("linux-image-6.12.107+deb13-cloud-amd64"), KERNEL_MEMBER, where / "vmlinuz"
    )
    initrd = where / "initrd.img"
    initrd.write_bytes(hashlib.sha256(b"initrd").digest() * 4096)  # 128 KiB, arbitrary bytes
    return {
        "kernel": kernel,
        "initrd": initrd,
        "stub": trixie("systemd-boot-efi"),
        "ukify": trixie("systemd-ukify"),
    }


def trixie_path(prefix: str) -> Path:
    """A trixie package's path for parametrize (which runs at collection: no skip there)."""
    folder = shared_root() / "inputs" / "trixie"
    found = sorted(folder.glob(prefix + "_*.deb"))
    return found[0] if found else folder / "absent.deb"


def _sections(path: Path) -> dict[str, bytes]:
    """Section contents at VirtualSize, read with pefile (not refkit's PE reader)."""
    pe = pefile.PE(str(path), fast_load=True)
    out = {}
    for s in pe.sections:
        raw = s.get_data()[: s.Misc_VirtualSize]
        out[s.Name.rstrip(b"\0").decode()] = raw + bytes(s.Misc_VirtualSize - len(raw))
    pe.close()
    return out


def test_registered() -> None:
    assert load_builders()["uki"] is uki.BUILDER


def test_reproducible_across_machines(parts: dict[str, Path], tmp_path: Path) -> None:
    params = {"cmdline": CMDLINE, "os_release": OS_RELEASE}
    first, built = build(uki.BUILDER, tmp_path / "a", parts, params)
    # the second run: other umask, TZ, locale and cwd, inputs at other paths and names
    moved = tmp_path / "elsewhere" / "inputs"
    moved.mkdir(parents=True)
    copies = {k: Path(shutil.copy(v, moved / f"x-{k}")) for k, v in parts.items()}
    with other_machine(tmp_path / "cwd"):
        second, again = build(
            uki.BUILDER, tmp_path / "b" / "deeper", copies, params, output_name="o.efi"
        )
    assert first.read_bytes() == second.read_bytes()
    assert built.facts == again.facts


def test_sections_hold_the_inputs(parts: dict[str, Path], tmp_path: Path) -> None:
    out, built = build(uki.BUILDER, tmp_path, parts, {"cmdline": CMDLINE, "os_release": OS_RELEASE})
    sections = _sections(out)
    assert sections[".linux"] == parts["kernel"].read_bytes()
    assert sections[".initrd"] == parts["initrd"].read_bytes()
    assert sections[".cmdline"].rstrip(b"\0") == CMDLINE.encode()
    assert sections[".osrel"].rstrip(b"\0") == OS_RELEASE.encode()
    # the kernel release comes from the kernel itself; expected value: the package's name
    assert sections[".uname"].rstrip(b"\0") == KERNEL_RELEASE.encode()
    assert b"systemd-stub 257.13-1~deb13u1" in sections[".sdmagic"]
    for name, data in sections.items():
        assert built.facts["sections"][name] == {
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    assert built.facts["stubVersion"] == "257.13-1~deb13u1"
    assert built.tools["ukify"].startswith("257")


def test_pcr11_fact_recomputed_by_hand(parts: dict[str, Path], tmp_path: Path) -> None:
    """Second computation: pefile's section bytes, hashlib, the stub's published order."""
    out, built = build(uki.BUILDER, tmp_path, parts, {"cmdline": CMDLINE, "os_release": OS_RELEASE})
    sections = _sections(out)
    for bank in ("sha256", "sha384"):
        pcr = bytes(hashlib.new(bank).digest_size)

        def extend(data: bytes, bank: str = bank) -> None:
            nonlocal pcr
            pcr = hashlib.new(bank, pcr + hashlib.new(bank, data).digest()).digest()

        for name in STUB_257_ORDER:
            if sections.get(name):
                extend(name.encode() + b"\0")
                extend(sections[name])
        for phase in ("enter-initrd", "leave-initrd", "sysinit", "ready"):
            extend(phase.encode())
        final = built.facts["pcr11"][bank]["enter-initrd:leave-initrd:sysinit:ready"]
        assert final == pcr.hex()


@pytest.mark.peer
def test_pcr11_against_systemd_measure_252(parts: dict[str, Path], tmp_path: Path) -> None:
    """systemd-measure 252 knows only 252's sections: compare refkit's 252 rules on the
    built UKI with the peer fed the same section bytes."""
    tool = shutil.which("systemd-measure", path="/lib/systemd:/usr/lib/systemd")
    if tool is None:
        pytest.skip("needs systemd-measure (Debian package systemd)")
    from refkit.measure import uki as measure

    out, _ = build(uki.BUILDER, tmp_path, parts, {"cmdline": CMDLINE, "os_release": OS_RELEASE})
    sections = _sections(out)
    argv = [tool, "calculate", "--bank=sha256", "--phase=enter-initrd:leave-initrd:sysinit:ready"]
    for name, flag in (
        (".linux", "linux"),
        (".osrel", "osrel"),
        (".cmdline", "cmdline"),
        (".initrd", "initrd"),
    ):
        f = tmp_path / name.lstrip(".")
        f.write_bytes(sections[name])
        argv.append(f"--{flag}={f}")
    peer = subprocess.run([*argv, "--json=short"], capture_output=True, text=True, check=True)
    import json

    expected = json.loads(peer.stdout)["sha256"][0]["hash"]
    ours = measure.predict(measure.read_uki(out), measure.StubRules.SYSTEMD_252, ("sha256",))
    assert dict(ours.pcr11["sha256"])["enter-initrd:leave-initrd:sysinit:ready"] == expected


def test_stub_and_ukify_as_files_or_packages(parts: dict[str, Path], tmp_path: Path) -> None:
    stub = extract_member(parts["stub"], uki.STUB_MEMBER, tmp_path / "stub.efi")
    script = extract_member(parts["ukify"], uki.UKIFY_MEMBER, tmp_path / "ukify.py")
    a, _ = build(uki.BUILDER, tmp_path / "a", parts, {"cmdline": CMDLINE})
    b, _ = build(
        uki.BUILDER, tmp_path / "b", {**parts, "stub": stub, "ukify": script}, {"cmdline": CMDLINE}
    )
    assert a.read_bytes() == b.read_bytes()


def test_host_os_release_never_used(parts: dict[str, Path], tmp_path: Path) -> None:
    """Without os-release input, ukify would copy the build machine's: no .osrel at all."""
    out, built = build(uki.BUILDER, tmp_path, {k: v for k, v in parts.items() if k != "initrd"})
    sections = _sections(out)
    assert ".osrel" not in sections
    assert ".initrd" not in sections
    assert ".cmdline" not in sections
    assert built.facts["pcr9"] is None  # no load options, no initrd: nothing for PCR 9


def test_inputs_as_files(parts: dict[str, Path], tmp_path: Path) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_text(CMDLINE)
    osrel = tmp_path / "os-release"
    osrel.write_text(OS_RELEASE)
    a, _ = build(uki.BUILDER, tmp_path / "a", {**parts, "cmdline": cmdline, "os_release": osrel})
    b, _ = build(uki.BUILDER, tmp_path / "b", parts, {"cmdline": CMDLINE, "os_release": OS_RELEASE})
    assert a.read_bytes() == b.read_bytes()


def test_initrd_folder_joined_in_name_order(parts: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "initrds"
    folder.mkdir()
    (folder / "2-main.img").write_bytes(b"main-initrd")
    (folder / "1-ucode.img").write_bytes(b"ucode")  # 5 bytes: padded to 8
    out, _ = build(uki.BUILDER, tmp_path / "b", {**parts, "initrd": folder})
    # expected: ukify's documented join (each part zero-padded to a multiple of 4 bytes)
    assert _sections(out)[".initrd"] == b"ucode\0\0\0" + b"main-initrd\0"
    (folder / "3-link").symlink_to("1-ucode.img")
    with pytest.raises(InputError, match="3-link is not a regular file"):
        build(uki.BUILDER, tmp_path / "c", {**parts, "initrd": folder})


@pytest.mark.parametrize(
    ("drop", "extra", "params", "words"),
    [
        ("kernel", {}, {}, "needs an input named 'kernel'"),
        (None, {"splash": Path("/dev/null")}, {}, "no input named 'splash'"),
        (None, {"cmdline": Path("/dev/null")}, {"cmdline": "x"}, "both as a parameter"),
        ("kernel", {"kernel": trixie_path("systemd-ukify")}, {}, "is a Debian package"),
    ],
)
def test_refusals(
    parts: dict[str, Path],
    tmp_path: Path,
    drop: str | None,
    extra: dict[str, Path],
    params: dict[str, str],
    words: str,
) -> None:
    inputs = {k: v for k, v in parts.items() if k != drop} | extra
    with pytest.raises(InputError, match=words):
        build(uki.BUILDER, tmp_path, inputs, params)
