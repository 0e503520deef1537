"""`refkit inputs fetch` and `refkit inputs verify`: exit codes, messages, JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode
from refkit.inputs import Lock
from refkit.inputs.lock import dumps_lock
from tests.inputs_support import DEB, FW, KERNEL, FakeDownloader, sha256
from tests.inputs_support import package as _package
from tests.shared import PROJECT_ROOT, shared_input

RunCli = Callable[..., Any]
DEMO_LOCK = PROJECT_ROOT / "images" / "demo" / "inputs.lock.json"


@pytest.fixture
def lock_file(tmp_path: Path) -> Path:
    path = tmp_path / "inputs.lock.json"
    path.write_text(dumps_lock(Lock((_package(),))))
    return path


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    directory = tmp_path / "mirror"
    directory.mkdir()
    (directory / "fw.deb").write_bytes(DEB)
    return directory


def test_fetch_from_inputs(run_cli: RunCli, lock_file: Path, mirror: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run_cli("inputs", "fetch", lock_file, "--inputs", mirror, "--out", out, "--offline")
    assert r.code == ExitCode.OK, r.stderr
    assert (out / "fw.fd").read_bytes() == FW
    assert f"{out / 'fw.fd'}  sha256 {sha256(FW)}  (written)" in r.stdout
    assert f"found {mirror / 'fw.deb'}" in r.stderr
    r = run_cli("-q", "inputs", "fetch", lock_file, "--out", out, "--offline")
    assert r.code == ExitCode.OK
    assert "already in" in r.stdout
    assert r.stderr == ""


def test_fetch_json(run_cli: RunCli, lock_file: Path, mirror: Path, tmp_path: Path) -> None:
    r = run_cli(
        "inputs",
        "fetch",
        lock_file,
        "--inputs",
        mirror,
        "--out",
        tmp_path / "o",
        "--offline",
        "--json",
    )
    assert r.code == ExitCode.OK
    doc = json.loads(r.stdout)
    (item,) = doc["inputs"]
    assert item["origin"] == {
        "kind": "local",
        "location": str(mirror),
        "path": str(mirror / "fw.deb"),
    }
    assert item["sha256"] == sha256(DEB)
    assert [(o["output"], o["sha256"], o["status"]) for o in item["outputs"]] == [
        ("fw.fd", sha256(FW), "written"),
        ("fw-vmlinuz", sha256(KERNEL), "written"),
    ]


def test_offline_without_the_package_exits_3(
    run_cli: RunCli, lock_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import refkit.inputs.debian as debian

    def no_downloads(*_args: object) -> None:
        raise AssertionError("--offline must not even build a downloader")

    monkeypatch.setattr(debian, "default_downloader", no_downloads)
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli(
        "inputs", "fetch", lock_file, "--inputs", empty, "--out", tmp_path / "o", "--offline"
    )
    assert r.code == ExitCode.ENVIRONMENT
    assert "pinned input not available: fw 1.0-1 (all)" in r.stderr
    assert sha256(DEB) in r.stderr
    assert "hint:" in r.stderr
    assert "--inputs DIR" in r.stderr
    assert r.stdout == ""


def test_download_through_the_configured_downloader(
    run_cli: RunCli, lock_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import refkit.inputs.debian as debian

    given: list[tuple[str, ...]] = []

    def fake_default(archives: tuple[str, ...] = ()) -> FakeDownloader:
        given.append(tuple(archives))
        return FakeDownloader({"fw": DEB})

    monkeypatch.setattr(debian, "default_downloader", fake_default)
    r = run_cli(
        "inputs",
        "fetch",
        lock_file,
        "--out",
        tmp_path / "o",
        "--archive",
        "http://archive.example/debian",
    )
    assert r.code == ExitCode.OK, r.stderr
    assert "downloaded from http://archive.example/fw_1.0-1_all.deb" in r.stdout
    assert "(100%)" in r.stderr
    assert given == [("http://archive.example/debian",)]


def test_download_failure_exits_3(
    run_cli: RunCli, lock_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import refkit.inputs.debian as debian

    monkeypatch.setattr(debian, "default_downloader", lambda _a=(): FakeDownloader({}))
    r = run_cli("inputs", "fetch", lock_file, "--out", tmp_path / "o")
    assert r.code == ExitCode.ENVIRONMENT
    assert "download failed: fw: HTTP 404" in r.stderr


def test_conflict_exits_2_and_force_replaces(
    run_cli: RunCli, lock_file: Path, mirror: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "fw.fd").write_bytes(b"mine")
    args = ("inputs", "fetch", lock_file, "--inputs", mirror, "--out", out, "--offline")
    r = run_cli(*args)
    assert r.code == ExitCode.BAD_INPUT
    assert "refusing to overwrite" in r.stderr
    assert "--force" in r.stderr
    assert (out / "fw.fd").read_bytes() == b"mine"
    r = run_cli(*args, "--force")
    assert r.code == ExitCode.OK
    assert "(replaced)" in r.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [("{", "invalid JSON"), ('{"schema": "x", "inputs": []}', "unsupported lock schema")],
)
def test_bad_lock_exits_2(run_cli: RunCli, tmp_path: Path, content: str, message: str) -> None:
    lock = tmp_path / "bad.json"
    lock.write_text(content)
    r = run_cli("inputs", "fetch", lock, "--out", tmp_path / "o", "--offline")
    assert r.code == ExitCode.BAD_INPUT
    assert message in r.stderr
    assert str(lock) in r.stderr


def test_usage_errors_exit_2(run_cli: RunCli, lock_file: Path, tmp_path: Path) -> None:
    r = run_cli("inputs", "fetch", lock_file)
    assert r.code == ExitCode.BAD_INPUT
    assert "--out" in r.stderr
    r = run_cli("inputs", "fetch", lock_file, "--out", tmp_path, "--offline", "--archive", "x")
    assert r.code == ExitCode.BAD_INPUT
    assert "contradict" in r.stderr
    r = run_cli("inputs", "fetch", tmp_path / "missing.json", "--out", tmp_path, "--offline")
    assert r.code == ExitCode.BAD_INPUT
    assert "inputs lock not found" in r.stderr


def test_verify(run_cli: RunCli, lock_file: Path, mirror: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run_cli("inputs", "verify", lock_file, "--out", out)
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "2 of 2 pinned files" in r.stderr
    assert (
        run_cli("inputs", "fetch", lock_file, "--inputs", mirror, "--out", out, "--offline").code
        == 0
    )
    r = run_cli("inputs", "verify", lock_file, "--out", out, "--json")
    assert r.code == ExitCode.OK
    doc = json.loads(r.stdout)
    assert doc["ok"] is True
    assert [o["status"] for o in doc["outputs"]] == ["ok", "ok"]
    (out / "fw-vmlinuz").write_bytes(b"tampered")
    r = run_cli("inputs", "verify", lock_file, "--out", out)
    assert r.code == ExitCode.VERIFICATION_FAILED
    assert "different" in r.stdout
    assert "fw-vmlinuz" in r.stderr


def test_help(run_cli: RunCli) -> None:
    r = run_cli("inputs", "fetch", "--help")
    assert r.code == 0
    assert "Exit codes" in r.stdout
    assert "--inputs DIR" in r.stdout


@pytest.mark.slow
def test_demo_lock_with_the_shared_mirror(run_cli: RunCli, tmp_path: Path) -> None:
    """What `make demo` runs: both files with the pinned digests, then exit 3 offline."""
    inputs = shared_input()
    out = tmp_path / "demo"
    r = run_cli("inputs", "fetch", DEMO_LOCK, "--inputs", inputs, "--out", out, "--offline")
    assert r.code == ExitCode.OK, r.stderr
    assert sha256((out / "OVMF.amdsev.fd").read_bytes()) == (
        "3e4fd0b3fe3b2dbe481c3d9e99418a034174f26cbe1f55aa212b0f18c12d2d6f"
    )
    assert sha256((out / "vmlinuz").read_bytes()) == (
        "d1bc2c60a78ae6979736d081bc3c90e45ace6baf414f767dff588e319d3492bd"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli(
        "inputs", "fetch", DEMO_LOCK, "--inputs", empty, "--out", tmp_path / "o2", "--offline"
    )
    assert r.code == ExitCode.ENVIRONMENT
    assert "ovmf-amdsev 2026.08+ds-2 (all)" in r.stderr
    assert "linux-image-6.12.107+deb13-cloud-amd64 6.12.107-1 (amd64)" in r.stderr
