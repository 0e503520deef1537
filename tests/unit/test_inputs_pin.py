"""Pinning a .deb into a lock: identity from the control file, digests from the bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode, InputError, ParseError
from refkit.inputs.lock import Lock, load_lock
from refkit.inputs.pin import add_to_lock, pin_deb
from tests.inputs_support import CONTROL, make_deb, sha256, simple_entries
from tests.shared import PROJECT_ROOT, shared_input

RunCli = Callable[..., Any]
FW = b"firmware"


@pytest.fixture
def deb(tmp_path: Path) -> Path:
    path = tmp_path / "whatever-name.deb"
    path.write_bytes(make_deb(simple_entries(FW)))
    return path


def test_pin_reads_identity_and_computes_digests(deb: Path) -> None:
    package = pin_deb(deb, suite="sid", extract=[("usr/share/fw/image.fd", "image.fd")])
    assert (package.name, package.version, package.architecture) == ("hello", "1.0-1", "all")
    assert package.source == "hello-src"
    assert package.filename == "hello_1.0-1_all.deb"
    assert (package.size, package.sha256) == (deb.stat().st_size, sha256(deb.read_bytes()))
    (spec,) = package.extract
    assert (spec.path, spec.output, spec.size, spec.sha256) == (
        "usr/share/fw/image.fd",
        "image.fd",
        len(FW),
        sha256(FW),
    )


def test_source_version_is_dropped_and_missing_source_means_the_package(tmp_path: Path) -> None:
    path = tmp_path / "a.deb"
    path.write_bytes(make_deb([], control=CONTROL.replace(b"hello-src", b"hello-src (1.0+1)")))
    assert pin_deb(path, suite="sid").source == "hello-src"
    path.write_bytes(make_deb([], control=CONTROL.replace(b"Source: hello-src\n", b"")))
    assert pin_deb(path, suite="sid").source == "hello"


def test_pin_refuses_what_a_lock_would_refuse(deb: Path, tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="not a valid suite"):
        pin_deb(deb, suite="Bad Suite")
    with pytest.raises(InputError, match="has no member"):
        pin_deb(deb, suite="sid", extract=[("usr/absent", "x")])
    bad = tmp_path / "bad.deb"
    bad.write_bytes(make_deb([], control=b"Package: x1\n"))
    with pytest.raises(InputError, match="no Version field"):
        pin_deb(bad, suite="sid")
    with pytest.raises(InputError, match="cannot read package"):
        pin_deb(tmp_path / "absent.deb", suite="sid")


def test_add_to_lock_appends_or_replaces_by_name_and_architecture(
    deb: Path, tmp_path: Path
) -> None:
    first = pin_deb(deb, suite="sid", extract=[("usr/share/fw/image.fd", "image.fd")])
    lock = add_to_lock(Lock(()), first)
    assert lock.inputs == (first,)
    newer_path = tmp_path / "newer.deb"
    newer_path.write_bytes(
        make_deb(simple_entries(b"v2"), control=CONTROL.replace(b"1.0-1", b"1.0-2"))
    )
    newer = pin_deb(newer_path, suite="sid", extract=[("usr/share/fw/image.fd", "image.fd")])
    assert add_to_lock(lock, newer).inputs == (newer,)
    other_path = tmp_path / "other.deb"
    other_path.write_bytes(make_deb([], control=CONTROL.replace(b"hello", b"other")))
    other = pin_deb(other_path, suite="sid")
    assert [p.name for p in add_to_lock(lock, other).inputs] == ["hello", "other"]
    assert add_to_lock(add_to_lock(lock, other), other).inputs == (first, other)  # idempotent
    other_path.write_bytes(make_deb(simple_entries(), control=CONTROL.replace(b"hello", b"other")))
    clash = pin_deb(other_path, suite="sid", extract=[("usr/share/fw/image.fd", "image.fd")])
    with pytest.raises(ParseError, match="already written by"):
        add_to_lock(lock, clash)


def test_cli_pin_prints_or_updates_a_lock(run_cli: RunCli, deb: Path, tmp_path: Path) -> None:
    r = run_cli("inputs", "pin", deb, "--suite", "sid", "--extract", "usr/share/fw/image.fd")
    assert r.code == ExitCode.OK, r.stderr
    doc = json.loads(r.stdout)
    assert doc["inputs"][0]["extract"][0]["output"] == "image.fd"
    lock = tmp_path / "sub.lock.json"
    r = run_cli(
        "inputs",
        "pin",
        deb,
        "--suite",
        "sid",
        "--extract",
        "usr/share/fw/image.fd=fw.bin",
        "--lock",
        lock,
    )
    assert r.code == ExitCode.OK
    assert "pinned hello 1.0-1 (all)" in r.stderr
    assert load_lock(lock).packages[0].extract[0].output == "fw.bin"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    r = run_cli("inputs", "pin", deb, "--suite", "sid", "--extract", "no/such=x", "--lock", lock)
    assert r.code == ExitCode.BAD_INPUT
    assert "has no member 'no/such'" in r.stderr


@pytest.mark.slow
def test_pinning_the_shared_packages_reproduces_the_demo_lock(tmp_path: Path) -> None:
    """The demo lock was written by hand from SHA256SUMS and dpkg-deb; pin agrees."""
    demo = load_lock(PROJECT_ROOT / "images" / "demo" / "inputs.lock.json")
    lock = Lock(())
    for item in demo.packages:
        path = next(shared_input().rglob(item.filename))
        pinned = pin_deb(
            path,
            suite=item.suite,
            component=item.component,
            extract=[(s.path, s.output) for s in item.extract],
        )
        lock = add_to_lock(lock, pinned)
    assert lock.inputs == demo.inputs


def test_pin_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    # `refkit inputs pin FIFO` blocked forever: it opened the path (waiting for a writer)
    # before checking that it is a regular file.
    import os
    import threading

    fifo = tmp_path / "pipe.deb"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            pin_deb(fifo, suite="sid")
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # unblock the open so the thread can end, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("pin_deb blocked on a FIFO")
    (error,) = outcome
    assert isinstance(error, InputError)
    assert "not a regular file" in error.message
