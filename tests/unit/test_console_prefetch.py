"""The console script's speculative prefetch: it guesses, click decides, results agree."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from refkit import _console
from refkit.hashing import DirectDigester, PrefetchedDigester, digest_file
from tests import firmware_factory as ff


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["measure", "snp", "--kernel", "k", "--initrd=i"], ["k", "i"]),
        (["-v", "measure", "snp", "--kernel", "k"], ["k"]),
        (["measure", "tdx", "--kernel", "k"], []),
        (["manifest", "build", "--kernel", "k"], []),
        (["measure", "snp", "--kernel"], []),
    ],
)
def test_prefetch_paths(argv: list[str], expected: list[str]) -> None:
    assert _console.prefetch_paths(argv) == expected


def test_prefetched_digests_equal_direct(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(os.urandom(3_000_000))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    pre = _console.Prefetch([str(big), str(empty), str(tmp_path / "missing")])
    served = PrefetchedDigester(pre.result, _console.ALGORITHMS)
    direct = DirectDigester()
    for p in (big, empty):
        assert served.digest(str(p), what="x") == direct.digest(str(p), what="x")
    assert digest_file(big).digests["sha256"] == hashlib.sha256(big.read_bytes()).digest()
    # a prefetch that failed is retried and reported in refkit's words
    from refkit.errors import InputError

    with pytest.raises(InputError, match="kernel not found"):
        served.digest(str(tmp_path / "missing"), what="kernel")


def test_console_main_measures_like_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ovmf = tmp_path / "ovmf.fd"
    ovmf.write_bytes(ff.Image(pages=8).build())
    kernel = tmp_path / "k"
    kernel.write_bytes(os.urandom(50_000))
    args = [
        "measure",
        "snp",
        "--mode",
        "snp",
        "--vcpus",
        "2",
        "--vcpu-type",
        "EPYC-v4",
        "--ovmf",
        str(ovmf),
        "--kernel",
        str(kernel),
    ]
    from refkit.cli import main

    assert main(args) == 0
    direct = capsys.readouterr().out
    import refkit.hashing

    served: list[str] = []
    real = refkit.hashing.PrefetchedDigester

    class Spy(real):  # type: ignore[misc, valid-type]
        def digest(self, path: str | os.PathLike[str], *, what: str) -> Any:
            served.append(os.fspath(path))
            return super().digest(path, what=what)

    monkeypatch.setattr(refkit.hashing, "PrefetchedDigester", Spy)
    monkeypatch.setattr(sys, "argv", ["refkit", *args])
    assert _console.main() == 0
    assert str(kernel) in served  # the prefetch reached the command, passed explicitly
    assert capsys.readouterr().out == direct
    assert not hasattr(_console, "_PREFETCH")  # no module-level state to read


def test_prefetch_reads_only_regular_files() -> None:
    """A device or pipe is left to the engine, which reads it once within its limit: a
    prefetch thread would otherwise read /dev/zero until the process exits."""
    prefetch = _console.Prefetch(["/dev/zero"])
    assert prefetch.result("/dev/zero") is None
