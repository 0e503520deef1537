"""refkit.measure.uki: PCR 11 (systemd-stub), PCR 4 and PCR 9 of a UKI.

PCR 11 under the systemd 252 rules is checked against ``systemd-measure calculate``
(bookworm's systemd 252, the peer) on UKIs built here with the test's own PE writer from
the mirrored trixie kernel and initrds of random content, every bank and every boot
phase. UKIs made by the trixie ukify and stub (257) are checked against an independent
computation in the test that reads the sections with ``pefile``.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from pathlib import Path

import pytest

from refkit.errors import InputError, UnsupportedInput
from refkit.measure.uki import (
    PHASES,
    StubRules,
    pcr_events,
    predict,
    read_uki,
    rules_for,
    uki_from_parts,
)
from tests import measure_support as ms

SYSTEMD_MEASURE = "/lib/systemd/systemd-measure"
OSREL = b'ID=refkit-test\nVERSION_ID="1"\n'
#: a stand-in kernel: a PE image (PCR 4 takes its Authenticode)
KERNEL = ms.build_pe([(".text", b"k" * 64)])


def _systemd_measure(parts: dict[str, Path], banks: list[str]) -> dict[str, list[str]]:
    if not Path(SYSTEMD_MEASURE).exists():
        pytest.skip(f"needs {SYSTEMD_MEASURE} (Debian bookworm package systemd 252)")
    args = [SYSTEMD_MEASURE, "calculate"]
    args += [f"--{name.lstrip('.')}={path}" for name, path in parts.items()]
    args += [f"--bank={b}" for b in banks]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    got: dict[str, list[str]] = {b: [] for b in banks}
    for line in out.splitlines():
        if line.startswith("11:"):
            bank, value = line[3:].split("=")
            got[bank].append(value)
    return got


def _parts(tmp_path: Path, seed: int) -> dict[str, Path]:
    rng = random.Random(seed)
    files = {
        ".linux": ms.deb_member(ms.TRIXIE_KERNEL),
        ".osrel": tmp_path / "os-release",
        ".cmdline": tmp_path / "cmdline",
        ".initrd": tmp_path / "initrd",
    }
    files[".osrel"].write_bytes(OSREL)
    files[".cmdline"].write_bytes(b"console=ttyS0 root=/dev/vda ro")
    files[".initrd"].write_bytes(rng.randbytes(rng.randrange(1, 300_000)))
    if seed % 2:
        files[".pcrpkey"] = tmp_path / "pcrpkey.pem"
        files[".pcrpkey"].write_bytes(rng.randbytes(451))
    return files


@pytest.mark.peer
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pcr11_equals_systemd_measure_252(tmp_path: Path, seed: int) -> None:
    parts = _parts(tmp_path, seed)
    banks = ["sha1", "sha256", "sha384", "sha512"]
    expected = _systemd_measure(parts, banks)
    # from the parts
    got = predict(uki_from_parts(parts), StubRules.SYSTEMD_252, banks)
    # and from a UKI file built with the test's PE writer (stub code is irrelevant to PCR 11)
    image = ms.build_pe(
        [(".text", b"\x90" * 4000)] + [(name, path.read_bytes()) for name, path in parts.items()]
    )
    built = predict(read_uki(image), StubRules.SYSTEMD_252, banks)
    for bank in banks:
        assert [v for _, v in got.pcr11[bank]] == expected[bank]
        assert [v for _, v in built.pcr11[bank]] == expected[bank]
    assert [p for p, _ in got.pcr11["sha256"]][-1] == ":".join(PHASES)


def _ukify(tmp_path: Path) -> Path:
    ukify = ms.deb_member(ms.UKIFY)
    stub = ms.deb_member(ms.STUB)
    kernel = ms.deb_member(ms.TRIXIE_KERNEL)
    pytest.importorskip("pefile")
    (tmp_path / "initrd").write_bytes(random.Random(7).randbytes(50_000))
    (tmp_path / "os-release").write_bytes(OSREL)
    out = tmp_path / "uki.efi"
    subprocess.run(
        [sys.executable, str(ukify), "build", f"--linux={kernel}",
         f"--initrd={tmp_path / 'initrd'}", "--cmdline=console=ttyS0 quiet",
         f"--os-release=@{tmp_path / 'os-release'}", f"--stub={stub}", f"--output={out}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


def test_pcr11_ukify_257_independent(tmp_path: Path) -> None:
    import pefile

    uki = _ukify(tmp_path)
    pred = predict(read_uki(uki))
    assert pred.rules is StubRules.SYSTEMD_257  # from .sdmagic
    # Independent: sections read by pefile, rules of the 257 stub written out here.
    pe = pefile.PE(str(uki))
    sections = {s.Name.rstrip(b"\0").decode(): s for s in pe.sections}
    order = [".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb",
             ".uname", ".sbat", ".pcrpkey"]  # fmt: skip
    assert ".uname" in sections
    assert ".sbat" in sections
    for bank in ("sha256", "sha384"):
        value = bytes(hashlib.new(bank).digest_size)

        def ext(data: bytes, bank: str = bank) -> None:
            nonlocal value
            value = hashlib.new(bank, value + hashlib.new(bank, data).digest()).digest()

        for name in order:
            if name in sections:
                s = sections[name]
                data = s.get_data()[: s.Misc_VirtualSize].ljust(s.Misc_VirtualSize, b"\0")
                ext(name.encode() + b"\0")
                ext(data)
        for phase in PHASES:
            ext(phase.encode())
        assert pred.pcr11[bank][-1][1] == value.hex()


def test_pcr4_and_pcr9_of_ukify_uki(tmp_path: Path) -> None:
    uki = _ukify(tmp_path)
    data = uki.read_bytes()
    pred = predict(read_uki(uki), banks=("sha256",))
    kernel = ms.deb_member(ms.TRIXIE_KERNEL).read_bytes()
    # PCR 4 recomputed with the pefile-based Authenticode (kernel in .linux is the file)
    h = hashlib.sha256
    value = bytes(32)
    for digest in (
        h(b"Calling EFI Application from Boot Option").digest(),
        h(bytes(4)).digest(),
        ms.pefile_authenticode(data, "sha256"),
        ms.pefile_authenticode(kernel, "sha256"),
    ):
        value = h(value + digest).digest()
    assert pred.pcr4 is not None
    assert pred.pcr4["sha256"] == value.hex()
    value = bytes(32)
    for digest in (
        h("console=ttyS0 quiet".encode("utf-16-le") + b"\0\0").digest(),
        h((tmp_path / "initrd").read_bytes()).digest(),
    ):
        value = h(value + digest).digest()
    assert pred.pcr9 is not None
    assert pred.pcr9["sha256"] == value.hex()


def test_events_name_sources(tmp_path: Path) -> None:
    uki = _ukify(tmp_path)
    events = pcr_events(read_uki(uki))
    linux = [e for e in events if e.description == "section .linux"]
    assert linux
    assert linux[0].source == f"{uki} section .linux"
    assert {e.register for e in events} == {"pcr4", "pcr9", "pcr11"}


def test_missing_linux_and_unknown_stub_are_refused() -> None:
    with pytest.raises(UnsupportedInput, match=r"no \.linux section"):
        read_uki(ms.build_pe([(".text", b"t"), (".osrel", OSREL)]))
    with pytest.raises(InputError, match=r"\.linux"):
        uki_from_parts({".initrd": b"i"})
    uki = read_uki(ms.build_pe([(".linux", KERNEL), (".sdmagic", b"systemd-stub 254.1 ##")]))
    assert uki.stub_version == "254.1"
    with pytest.raises(UnsupportedInput, match=r"no PCR 11 rules known for systemd-stub 254\.1"):
        predict(uki)
    with pytest.raises(UnsupportedInput, match="version not found"):
        rules_for(None)
    with pytest.raises(UnsupportedInput, match=r"\.profile"):
        predict(
            read_uki(ms.build_pe([(".linux", KERNEL), (".profile", b"ID=a")])),
            StubRules.SYSTEMD_257,
        )


def test_252_rules_ignore_newer_sections() -> None:
    base = [(".linux", KERNEL), (".cmdline", b"c")]
    plain = predict(read_uki(ms.build_pe(base)), StubRules.SYSTEMD_252)
    newer = predict(
        read_uki(ms.build_pe([*base, (".uname", b"6.12"), (".sbat", b"sbat,1")])),
        StubRules.SYSTEMD_252,
    )
    assert plain.pcr11 == newer.pcr11
    with_257 = predict(read_uki(ms.build_pe([*base, (".uname", b"6.12")])), StubRules.SYSTEMD_257)
    assert with_257.pcr11 != plain.pcr11


def test_cli_measure_uki(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    uki = tmp_path / "u.efi"
    uki.write_bytes(ms.build_pe([(".linux", KERNEL), (".cmdline", b"c")]))
    res = run_cli("measure", "uki", uki, "--stub-rules", "252", "--bank", "sha256")
    assert res.code == 0, res.stderr
    expected = predict(read_uki(uki), StubRules.SYSTEMD_252, ("sha256",))
    assert f"11:sha256={expected.pcr11['sha256'][-1][1]}" in res.stdout
    res = run_cli("measure", "uki", uki)
    assert res.code == 2
    assert "no PCR 11 rules" in res.stderr
    res = run_cli("measure", "uki", "--linux", uki)
    assert res.code == 2
    assert "--stub-rules" in res.stderr
    res = run_cli("measure", "uki", "--linux", uki, "--stub-rules", "257", "--json")
    assert res.code == 0
    assert '"kind": "vtpm-uki"' in res.stdout
    bad = tmp_path / "bad.efi"
    bad.write_bytes(uki.read_bytes()[:300])
    res = run_cli("measure", "uki", bad, "--stub-rules", "252")
    assert res.code == 2
    assert "bad.efi" in res.stderr
    assert "Traceback" not in res.stderr
