"""Golden SEV/SEV-ES/SNP measurements recorded from sev-snp-measure 0.0.13.

The differential tests compare with sev-snp-measure live and skip without it or without
../shared; these hold fixed values, so a CI run with neither still checks real numbers.

Every expected value below is the output of sev-snp-measure 0.0.13 (the peer in the
project's test extra), run as a program with exactly the arguments in ``peer_args`` on
exactly the inputs :func:`write_inputs` creates: a synthetic OVMF image from
tests/firmware_factory.py (deterministic: ``random.Random(0)``) plus a small synthetic
kernel and initrd, and, for ``REAL`` cases, Debian's OVMF.amdsev.fd extracted from
ovmf-amdsev 2026.08+ds-2 in ../shared/inputs/sid (sha256 3e4fd0b3...2d6f, the same file
as ../shared/vectors/firmware/OVMF.amdsev.fd). The input digests were taken with
sha256sum, independently of refkit.

To regenerate (prints each peer command line; run them in the folder)::

    python -m tests.unit.test_snp_golden /tmp/golden   # from the project root
    cd /tmp/golden && sh commands.sh
"""

from __future__ import annotations

import hashlib
import io
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from refkit.measure.snp import SevMode, SnpRequest, VmmType, measure
from tests import firmware_factory as ff
from tests.shared import shared_input

Runner = Callable[..., Any]

#: sha256sum of the synthetic inputs (pins tests/firmware_factory.py's output)
INPUT_SHA256 = {
    "ovmf.fd": "138fe620ed781c3e73faf62f7689adc4fb730213ffdab59558704e97a865763b",
    "vmlinuz": "fa905c9476dfb56ca2c0a6338df0405e15ea82d835493f2690332c3d4ef33de8",
    "initrd.img": "4861e19acc40ea269841310567f9433edbf9fcd7af7c7bc58c9215f5503bddca",
}
REAL_OVMF_SHA256 = "3e4fd0b3fe3b2dbe481c3d9e99418a034174f26cbe1f55aa212b0f18c12d2d6f"
REAL_DEB = ("sid", "ovmf-amdsev_2026.08+ds-2_all.deb")
REAL_MEMBER = "usr/share/ovmf/OVMF.amdsev.fd"

KERNEL = ["--kernel", "vmlinuz", "--initrd", "initrd.img", "--append", "console=ttyS0"]


class Case(NamedTuple):
    peer_args: list[str]
    expected: str


SYNTHETIC = [
    Case(
        ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", "ovmf.fd", *KERNEL],
        "b27fc1801da491c0efd426dec641860c13ae34772f28776d360204be9865310a"
        "7c3ab59ab4f48fff6b1c894ff756e538",
    ),
    Case(
        [
            "--mode",
            "snp",
            "--vcpus",
            "4",
            "--vcpu-type",
            "EPYC-Milan",
            "--ovmf",
            "ovmf.fd",
            *KERNEL,
        ],
        "3ecb075a287dcc503849a1d969503a8ac8bf7c43626a51ceda5d1cfb6658eeac"
        "023d266f4ca42955e67aca04ed77a3d6",
    ),
    Case(
        [
            "--mode",
            "snp",
            "--vcpus",
            "2",
            "--vcpu-type",
            "EPYC-Genoa",
            "--ovmf",
            "ovmf.fd",
            "--vmm-type",
            "ec2",
            "--guest-features",
            "0x21",
        ],
        "b1543118c04bd05cbc64c0a9c0e4a9c95fe191f342298bd5a140419c8c0b010c"
        "5c6bff30d476b93a973ab982a8c300fb",
    ),
    Case(
        [
            "--mode",
            "snp",
            "--vcpus",
            "2",
            "--vcpu-type",
            "EPYC-Milan",
            "--ovmf",
            "ovmf.fd",
            "--vmm-type",
            "gce",
            "--kernel",
            "vmlinuz",
            "--append",
            "",
        ],
        "2194d6cab08a4e3d5395d0ff35c0393b92cfde096452ec3bb1066cd371bfe180"
        "7115fb3914c4afdefa1a5f35f19a89e3",
    ),
    Case(
        ["--mode", "seves", "--vcpus", "3", "--vcpu-type", "EPYC-v4", "--ovmf", "ovmf.fd", *KERNEL],
        "b2fec84e1abf9403c74c76340d7a19b5c17ab045407c5bf29a6d72a545ba270e",
    ),
    Case(
        ["--mode", "sev", "--ovmf", "ovmf.fd", *KERNEL],
        "017cf4efb8a075e94918e05e13a7044be585901e910e6ba3e1b5adfad0e1ff64",
    ),
    Case(
        ["--mode", "snp:ovmf-hash", "--ovmf", "ovmf.fd"],
        "bb016a21ffb3b6c47f7d89532fa385d71ebfad7b0cf6479e3137de5ee66a0513"
        "3227a0fc4f0cb5d0061bc6b0f097529b",
    ),
]

REAL = [
    Case(
        [
            "--mode",
            "snp",
            "--vcpus",
            "1",
            "--vcpu-type",
            "EPYC-v4",
            "--ovmf",
            "OVMF.amdsev.fd",
            *KERNEL,
        ],
        "73e6418d255300497d5ab29c48da782b36421411681c236127d4c0bc4e696938"
        "a00e684043bf840127418910b0026849",
    ),
    Case(
        ["--mode", "snp", "--vcpus", "8", "--vcpu-type", "EPYC-Milan", "--ovmf", "OVMF.amdsev.fd"],
        "f81f07e040f2b0b588db0b37d6974b217e1b9759a2dd8b43d615ab68e7cc1ed7"
        "dec65010652b395609b0aa835a77ce5f",
    ),
    Case(
        ["--mode", "snp:ovmf-hash", "--ovmf", "OVMF.amdsev.fd"],
        "9d0dd8be18c86e3fe3bf0038ed75ebf5340bee69fd2632c8ff9409964575960a"
        "e1f7e84be387d2e3467bc3508d1e4806",
    ),
]


def write_inputs(folder: Path, *, real: bool = False) -> None:
    """The exact inputs the golden values were recorded on."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ovmf.fd").write_bytes(ff.Image(pages=8).build())
    (folder / "vmlinuz").write_bytes(b"MZ" + bytes(range(256)) * 20)
    (folder / "initrd.img").write_bytes(b"070701" + bytes(range(255, -1, -1)) * 12)
    if real:
        from refkit.inputs.deb import extract_files

        sink = io.BytesIO()
        with shared_input(*REAL_DEB).open("rb") as fh:
            extract_files(fh, {REAL_MEMBER: sink}, source=REAL_DEB[1])
        (folder / "OVMF.amdsev.fd").write_bytes(sink.getvalue())


def _request(args: list[str], folder: Path) -> SnpRequest:
    """The library request for a peer command line (its options are refkit's)."""
    opts = dict(zip(args[::2], args[1::2], strict=True))
    path = {k: folder / v for k, v in opts.items() if k in ("--ovmf", "--kernel", "--initrd")}
    mode = SevMode(opts["--mode"])
    return SnpRequest(
        mode=mode,
        ovmf=path["--ovmf"],
        vcpus=(int(opts["--vcpus"]),) if "--vcpus" in opts else (),
        vcpu_type=opts.get("--vcpu-type") if mode.uses_vmsa else None,
        vmm_type=VmmType.parse(opts.get("--vmm-type", "QEMU")),
        guest_features=int(opts.get("--guest-features", "0x1"), 16),
        kernel=path.get("--kernel"),
        initrd=path.get("--initrd"),
        append=opts.get("--append"),
    )


def _cli_args(args: list[str], folder: Path) -> list[str]:
    out = list(args)
    for i in range(0, len(out), 2):
        if out[i] in ("--ovmf", "--kernel", "--initrd"):
            out[i + 1] = str(folder / out[i + 1])
    return ["measure", "snp", *out]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("golden")
    write_inputs(folder)
    return folder


def test_synthetic_inputs_are_the_recorded_ones(synthetic: Path) -> None:
    for name, digest in INPUT_SHA256.items():
        assert hashlib.sha256((synthetic / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("case", SYNTHETIC, ids=lambda c: " ".join(c.peer_args[:6]))
def test_synthetic_golden(case: Case, synthetic: Path) -> None:
    result = measure(_request(case.peer_args, synthetic))
    assert [m.digest.hex() for m in result.measurements] == [case.expected]


@pytest.mark.parametrize("case", SYNTHETIC[:2] + SYNTHETIC[-2:], ids=lambda c: c.peer_args[1])
def test_synthetic_golden_cli(case: Case, synthetic: Path, run_cli: Runner) -> None:
    r = run_cli(*_cli_args(case.peer_args, synthetic))
    assert r.code == 0, r.stderr
    assert r.stdout == case.expected + "\n"


def test_many_counts_equal_the_single_count_goldens(synthetic: Path) -> None:
    # one pass over counts 1..4 gives the recorded values for 1 (EPYC-v4) / 4 (EPYC-Milan)
    args = SYNTHETIC[1].peer_args
    result = measure(_request(args, synthetic)._replace(vcpus=(1, 2, 3, 4)))
    assert result.measurements[-1].digest.hex() == SYNTHETIC[1].expected


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("golden-real")
    write_inputs(folder, real=True)
    assert hashlib.sha256((folder / "OVMF.amdsev.fd").read_bytes()).hexdigest() == (
        REAL_OVMF_SHA256
    )
    return folder


@pytest.mark.parametrize("case", REAL, ids=lambda c: " ".join(c.peer_args[:4]))
def test_real_ovmf_golden(case: Case, real: Path) -> None:
    result = measure(_request(case.peer_args, real))
    assert [m.digest.hex() for m in result.measurements] == [case.expected]


if __name__ == "__main__":  # regenerate: see the module docstring
    target = Path(sys.argv[1])
    write_inputs(target, real=True)
    lines = [shlex.join(["sev-snp-measure", *c.peer_args]) for c in SYNTHETIC + REAL]
    (target / "commands.sh").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
