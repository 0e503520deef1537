"""Differential tests: refkit's SEV/SEV-ES/SNP measurements equal sev-snp-measure 0.0.13's.

The peer is a test dependency (pinned in pyproject's test extra and constraints.txt) and is
called in-process through its library entry point (and once as a process, for its CLI).
Inputs: the real Debian OVMF.amdsev.fd from ../shared/vectors/firmware, and synthetic
firmware built by tests/firmware_factory.py to reach layouts the real one does not have.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refkit.measure.snp import CPU_TYPES, SevMode, SnpRequest, VmmType, measure
from tests import firmware_factory as ff
from tests.shared import vector

peer_guest = pytest.importorskip(
    "sevsnpmeasure.guest", reason="sev-snp-measure (test dependency) is not installed"
)
from sevsnpmeasure.sev_mode import SevMode as PeerMode  # noqa: E402
from sevsnpmeasure.vmm_types import VMMType as PeerVmm  # noqa: E402

pytestmark = pytest.mark.peer

PEER_MODE = {
    SevMode.SEV: PeerMode.SEV,
    SevMode.SEV_ES: PeerMode.SEV_ES,
    SevMode.SNP: PeerMode.SEV_SNP,
    SevMode.SNP_SVSM: PeerMode.SEV_SNP_SVSM,
}
PEER_VMM = {VmmType.QEMU: PeerVmm.QEMU, VmmType.EC2: PeerVmm.ec2, VmmType.GCE: PeerVmm.gce}


def peer(
    mode: SevMode,
    ovmf: Path,
    *,
    vcpus: int | None,
    sig: int | None,
    vmm: VmmType = VmmType.QEMU,
    features: int = 1,
    kernel: Path | None = None,
    initrd: Path | None = None,
    append: str | None = None,
    ovmf_hash: str = "",
    svsm: Path | None = None,
    vars_size: int = 0,
) -> bytes:
    if mode is SevMode.SNP_OVMF_HASH:
        return bytes(peer_guest.calc_snp_ovmf_hash(str(ovmf)))
    return bytes(
        peer_guest.calc_launch_digest(
            PEER_MODE[mode],
            vcpus,
            sig,
            str(ovmf),
            str(kernel) if kernel else None,
            str(initrd) if initrd else None,
            append,
            features,
            ovmf_hash,
            PEER_VMM[vmm],
            False,
            str(svsm) if svsm else "",
            vars_size,
        )
    )


def ours(
    mode: SevMode, ovmf: Path, counts: tuple[int, ...], **kw: object
) -> dict[int | None, bytes]:
    result = measure(SnpRequest(mode=mode, ovmf=ovmf, vcpus=counts, **kw))  # type: ignore[arg-type]
    return {m.vcpus: m.digest for m in result.measurements}


@pytest.fixture(scope="module")
def ovmf() -> Path:
    return vector("firmware", "OVMF.amdsev.fd")


@pytest.fixture(scope="module")
def boot(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("boot")
    rnd = os.urandom
    (d / "kernel").write_bytes(rnd(3 * 1024 * 1024 + 17))
    (d / "initrd").write_bytes(rnd(1024 * 1024 + 5))
    (d / "empty").write_bytes(b"")
    return {"kernel": d / "kernel", "initrd": d / "initrd", "empty": d / "empty"}


KERNEL_CASES = [
    "none",
    "kernel",
    "kernel+initrd+append",
    "kernel+empty-append",
    "kernel+empty-initrd",
]


def kernel_args(case: str, boot: dict[str, Path]) -> dict[str, object]:
    if case == "none":
        return {}
    args: dict[str, object] = {"kernel": boot["kernel"]}
    if case == "kernel+initrd+append":
        args.update(initrd=boot["initrd"], append="console=ttyS0 root=/dev/vda ro quiet ü")
    elif case == "kernel+empty-append":
        args.update(append="")
    elif case == "kernel+empty-initrd":
        args.update(initrd=boot["empty"])
    return args


COUNTS = (1, 2, 7)


@pytest.mark.vectors
@pytest.mark.parametrize("case", KERNEL_CASES)
@pytest.mark.parametrize("vmm", list(VmmType))
@pytest.mark.parametrize("mode", [SevMode.SNP, SevMode.SEV_ES, SevMode.SEV])
def test_real_ovmf_grid(
    ovmf: Path, boot: dict[str, Path], mode: SevMode, vmm: VmmType, case: str
) -> None:
    sig = CPU_TYPES["EPYC-v4"]
    kw = kernel_args(case, boot)
    counts = COUNTS if mode is not SevMode.SEV else ()
    got = ours(mode, ovmf, counts, vcpu_sig=sig, vmm_type=vmm, **kw)
    if mode is SevMode.SEV:
        assert got == {None: peer(mode, ovmf, vcpus=None, sig=0, vmm=vmm, **kw)}  # type: ignore[arg-type]
        return
    for n in COUNTS:
        assert got[n] == peer(mode, ovmf, vcpus=n, sig=sig, vmm=vmm, **kw), n  # type: ignore[arg-type]


@pytest.mark.vectors
@pytest.mark.parametrize("vcpu_type", sorted(set(CPU_TYPES.values())))
@pytest.mark.parametrize("features", [0x1, 0x21, 0x0, 0x3F])
def test_real_ovmf_cpu_types_and_features(ovmf: Path, vcpu_type: int, features: int) -> None:
    got = ours(SevMode.SNP, ovmf, (1, 3), vcpu_sig=vcpu_type, guest_features=features)
    for n in (1, 3):
        assert got[n] == peer(SevMode.SNP, ovmf, vcpus=n, sig=vcpu_type, features=features)


@pytest.mark.vectors
def test_one_pass_equals_64_peer_calls(ovmf: Path) -> None:
    sig = CPU_TYPES["EPYC-Milan"]
    got = ours(SevMode.SNP, ovmf, tuple(range(1, 65)), vcpu_sig=sig)
    for n in (1, 2, 16, 33, 63, 64):
        assert got[n] == peer(SevMode.SNP, ovmf, vcpus=n, sig=sig)


@pytest.mark.vectors
def test_ovmf_hash_round_trip(ovmf: Path, boot: dict[str, Path]) -> None:
    digest = ours(SevMode.SNP_OVMF_HASH, ovmf, ())[None]
    assert digest == peer(SevMode.SNP_OVMF_HASH, ovmf, vcpus=None, sig=None)
    sig = CPU_TYPES["EPYC-v4"]
    seeded = ours(SevMode.SNP, ovmf, (4,), vcpu_sig=sig, ovmf_hash=digest, kernel=boot["kernel"])
    full = ours(SevMode.SNP, ovmf, (4,), vcpu_sig=sig, kernel=boot["kernel"])
    assert seeded == full
    assert seeded[4] == peer(
        SevMode.SNP, ovmf, vcpus=4, sig=sig, kernel=boot["kernel"], ovmf_hash=digest.hex()
    )


@pytest.mark.vectors
def test_empty_append_equals_no_append(ovmf: Path, boot: dict[str, Path]) -> None:
    sig = CPU_TYPES["EPYC-v4"]
    none = ours(SevMode.SNP, ovmf, (2,), vcpu_sig=sig, kernel=boot["kernel"])
    empty = ours(SevMode.SNP, ovmf, (2,), vcpu_sig=sig, kernel=boot["kernel"], append="")
    assert none == empty
    assert empty[2] == peer(SevMode.SNP, ovmf, vcpus=2, sig=sig, kernel=boot["kernel"], append="")
    # ... and an empty initrd file equals no initrd.
    no_initrd = ours(
        SevMode.SNP, ovmf, (2,), vcpu_sig=sig, kernel=boot["kernel"], initrd=boot["empty"]
    )
    assert no_initrd == none


@pytest.mark.vectors
@pytest.mark.parametrize("mode", [SevMode.SNP, SevMode.SEV_ES, SevMode.SNP_SVSM])
def test_vmsa_pages_equal_peer_dump(
    ovmf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: SevMode
) -> None:
    sig = CPU_TYPES["EPYC-Genoa"]
    kw: dict[str, object] = {}
    peer_kw: dict[str, object] = {}
    if mode is SevMode.SNP_SVSM:
        svsm = tmp_path / "svsm.bin"
        svsm.write_bytes(ff.svsm_image(pages=8, seed=3, info=0x2000, base=0x1000))
        kw = {"svsm": svsm, "vars_size": 0x20000}
        peer_kw = {"svsm": svsm, "vars_size": 0x20000}
    result = measure(
        SnpRequest(mode=mode, ovmf=ovmf, vcpus=(3,), vcpu_sig=sig, keep_vmsa=True, **kw)  # type: ignore[arg-type]
    )
    assert result.vmsa is not None
    monkeypatch.chdir(tmp_path)
    digest = peer_guest.calc_launch_digest(
        PEER_MODE[mode],
        3,
        sig,
        str(ovmf),
        None,
        None,
        None,
        1,
        "",
        PeerVmm.QEMU,
        True,
        str(peer_kw.get("svsm", "")),
        int(peer_kw.get("vars_size", 0)),  # type: ignore[call-overload]
    )
    assert result.measurements[0].digest == digest
    for i in range(3):
        assert (tmp_path / f"vmsa{i}.bin").read_bytes() == result.vmsa.page(i), i


# -- synthetic firmware: layouts the real image does not have ------------------------------

_sections = st.lists(
    st.builds(
        ff.Section,
        gpa=st.integers(0x100, 0x900).map(lambda p: p * 0x1000),
        size=st.integers(1, 4).map(lambda p: p * 0x1000),
        type_code=st.sampled_from([1, 2, 3, 4]),
    ),
    min_size=0,
    max_size=6,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sections=_sections,
    kernel_section=st.booleans(),
    pages=st.integers(2, 24),
    seed=st.integers(0, 2**16),
    vmm=st.sampled_from(list(VmmType)),
    counts=st.lists(st.integers(1, 9), min_size=1, max_size=4).map(lambda c: tuple(sorted(set(c)))),
    kernel=st.binary(max_size=9000),
    initrd=st.one_of(st.none(), st.binary(max_size=5000)),
    append=st.one_of(st.none(), st.text(max_size=40).filter(lambda s: "\x00" not in s)),
)
def test_synthetic_firmware_snp(
    tmp_path_factory: pytest.TempPathFactory,
    sections: list[ff.Section],
    kernel_section: bool,
    pages: int,
    seed: int,
    vmm: VmmType,
    counts: tuple[int, ...],
    kernel: bytes,
    initrd: bytes | None,
    append: str | None,
) -> None:
    d = tmp_path_factory.mktemp("fw")
    sections = list(sections)
    if kernel_section:
        sections.append(ff.Section(0xA00000, 0x1000, 0x10))
    image = ff.Image(pages=max(pages, 4), seed=seed, sections=sections, hashes_table_gpa=0xA00C00)
    ovmf = d / "ovmf.fd"
    ovmf.write_bytes(image.build())
    (d / "k").write_bytes(kernel)
    kw: dict[str, object] = {}
    if kernel_section:
        kw["kernel"] = d / "k"
        if initrd is not None:
            (d / "i").write_bytes(initrd)
            kw["initrd"] = d / "i"
        if append:
            kw["append"] = append
    sig = CPU_TYPES["EPYC-Milan"]
    got = ours(SevMode.SNP, ovmf, counts, vcpu_sig=sig, vmm_type=vmm, **kw)
    for n in counts:
        assert got[n] == peer(SevMode.SNP, ovmf, vcpus=n, sig=sig, vmm=vmm, **kw)  # type: ignore[arg-type]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    svsm_pages=st.integers(4, 12),
    vars_pages=st.integers(0, 40),
    info=st.integers(0, 0x3000),
    counts=st.lists(st.integers(1, 6), min_size=1, max_size=3).map(lambda c: tuple(sorted(set(c)))),
    seed=st.integers(0, 1000),
)
def test_synthetic_svsm(
    tmp_path_factory: pytest.TempPathFactory,
    svsm_pages: int,
    vars_pages: int,
    info: int,
    counts: tuple[int, ...],
    seed: int,
) -> None:
    d = tmp_path_factory.mktemp("svsm")
    ovmf = d / "ovmf.fd"
    ovmf.write_bytes(
        ff.Image(pages=8, seed=seed, with_sev_metadata=False, hashes_table_gpa=None).build()
    )
    svsm = d / "svsm.bin"
    svsm.write_bytes(ff.svsm_image(pages=svsm_pages, seed=seed + 1, info=info))
    sig = CPU_TYPES["EPYC-v4"]
    got = ours(SevMode.SNP_SVSM, ovmf, counts, vcpu_sig=sig, svsm=svsm, vars_size=vars_pages * 4096)
    for n in counts:
        assert got[n] == peer(
            SevMode.SNP_SVSM, ovmf, vcpus=n, sig=sig, svsm=svsm, vars_size=vars_pages * 4096
        )


@pytest.mark.vectors
def test_cli_equals_peer_cli(ovmf: Path, boot: dict[str, Path]) -> None:
    """Both tools as processes, same arguments, same text output."""
    tool = shutil.which("sev-snp-measure") or str(Path(sys.executable).parent / "sev-snp-measure")
    refkit = str(Path(sys.executable).parent / "refkit")
    if not Path(tool).exists() or not Path(refkit).exists():
        pytest.skip("sev-snp-measure or refkit console scripts are not installed in this venv")
    args = [
        "--mode",
        "snp",
        "--vcpus",
        "4",
        "--vcpu-type",
        "EPYC-v4",
        "--ovmf",
        str(ovmf),
        "--kernel",
        str(boot["kernel"]),
        "--initrd",
        str(boot["initrd"]),
        "--append",
        "a b c",
        "--output-format",
        "base64",
    ]
    peer_out = subprocess.run([tool, *args], capture_output=True, text=True, check=True).stdout
    ours_out = subprocess.run(
        [refkit, "measure", "snp", *args], capture_output=True, text=True, check=True
    ).stdout
    assert ours_out == peer_out


@pytest.mark.vectors
def test_bytes_inputs_equal_paths(ovmf: Path, boot: dict[str, Path]) -> None:
    """The library takes bytes as well as paths; both measure the same."""
    sig = CPU_TYPES["EPYC-v4"]
    by_path = ours(
        SevMode.SNP, ovmf, (1, 4), vcpu_sig=sig, kernel=boot["kernel"], initrd=boot["initrd"]
    )
    by_bytes = ours(
        SevMode.SNP,
        ovmf.read_bytes(),  # type: ignore[arg-type]
        (1, 4),
        vcpu_sig=sig,
        kernel=boot["kernel"].read_bytes(),
        initrd=boot["initrd"].read_bytes(),
    )
    assert by_bytes == by_path


@pytest.mark.vectors
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    mode=st.sampled_from([SevMode.SNP, SevMode.SEV_ES, SevMode.SEV]),
    vmm=st.sampled_from(list(VmmType)),
    sig=st.sampled_from(sorted(set(CPU_TYPES.values()))),
    features=st.integers(0, 0x3F),
    vcpus=st.integers(1, 24),
    kernel=st.one_of(st.none(), st.binary(max_size=20000)),
    initrd=st.one_of(st.none(), st.binary(max_size=20000)),
    append=st.one_of(st.none(), st.text(max_size=60).filter(lambda s: "\x00" not in s)),
)
def test_real_ovmf_random_boot_inputs(
    tmp_path_factory: pytest.TempPathFactory,
    mode: SevMode,
    vmm: VmmType,
    sig: int,
    features: int,
    vcpus: int,
    kernel: bytes | None,
    initrd: bytes | None,
    append: str | None,
) -> None:
    """Random kernel, initrd and command line contents and sizes on the real firmware."""
    ovmf = vector("firmware", "OVMF.amdsev.fd")
    d = tmp_path_factory.mktemp("rnd")
    kw: dict[str, object] = {}
    if kernel is not None:
        (d / "k").write_bytes(kernel)
        kw["kernel"] = d / "k"
        if initrd is not None:
            (d / "i").write_bytes(initrd)
            kw["initrd"] = d / "i"
        if append:
            kw["append"] = append
    counts = (vcpus,) if mode is not SevMode.SEV else ()
    got = ours(mode, ovmf, counts, vcpu_sig=sig, vmm_type=vmm, guest_features=features, **kw)
    expected = peer(
        mode,
        ovmf,
        vcpus=vcpus if counts else None,
        sig=sig if mode is not SevMode.SEV else 0,
        vmm=vmm,
        features=features,
        **kw,  # type: ignore[arg-type]
    )
    assert got[vcpus if counts else None] == expected
