"""refkit.atomic: the one atomic writer, its refusals and its one error mapping."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.atomic import Batch, TargetExists, open_output, write_file, write_files
from refkit.errors import EnvironmentProblem, ExitCode, InputError


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_writes_with_the_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    write_file(target, b"data", mode=0o600)
    assert target.read_bytes() == b"data"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert _names(tmp_path) == ["out.bin"]


def test_refuses_an_existing_target_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(TargetExists) as info:
        write_file(target, b"new")
    assert info.value.exit_code is ExitCode.BAD_INPUT
    assert target.read_bytes() == b"old"
    write_file(target, b"new", force=True)
    assert target.read_bytes() == b"new"
    assert _names(tmp_path) == ["out.bin"]


def test_never_writes_through_a_symlinked_target(tmp_path: Path) -> None:
    # The issue: keygen wrote the private key into a symlink's target. A link in the
    # target's place is an existing file (refused); with force the link itself is
    # replaced and the file it pointed at is untouched.
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    link = tmp_path / "out.bin"
    link.symlink_to(victim)
    with pytest.raises(TargetExists):
        write_file(link, b"attacker-chosen")
    write_file(link, b"new", force=True)
    assert victim.read_bytes() == b"precious"
    assert not link.is_symlink()
    assert link.read_bytes() == b"new"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(TargetExists):
        write_file(dangling, b"x")
    assert not (tmp_path / "nowhere").exists()


def test_the_temporary_name_is_random_and_created_exclusively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --dump-vmsa wrote through a pre-planted NAME.tmp symlink (a predictable name). Here
    # the temporary name is random, and the create refuses links and existing names.
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    for name in (".out.bin.tmp", "out.bin.tmp"):
        (tmp_path / name).symlink_to(victim)
    opened: list[tuple[str, int]] = []
    real_open = os.open

    def spy(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        opened.append((os.fspath(path), flags))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr("refkit.atomic.os.open", spy)
    write_file(tmp_path / "out.bin", b"new")
    assert victim.read_bytes() == b"precious"
    ((temp, flags),) = opened
    assert Path(temp).parent == tmp_path
    assert Path(temp).name != ".out.bin.tmp"
    for flag in (os.O_CREAT, os.O_EXCL, os.O_NOFOLLOW):
        assert flags & flag


def test_a_directory_in_the_way_and_a_missing_directory_are_bad_input(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        write_file(tmp_path / "d", b"", force=True)
    with pytest.raises(InputError, match=f"output directory {tmp_path / 'no'} does not exist"):
        write_file(tmp_path / "no" / "x", b"")
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(InputError, match="is not a directory"):
        write_file(tmp_path / "f" / "x", b"")
    with pytest.raises(InputError, match="not a file name"):
        write_file("", b"")


def test_write_files_checks_every_target_before_writing_any(tmp_path: Path) -> None:
    # --dump-vmsa left vmsa0/1.bin behind when vmsa2.bin conflicted.
    (tmp_path / "c").write_bytes(b"keep")
    with pytest.raises(TargetExists):
        write_files([(tmp_path / n, b"new", 0o644) for n in "abc"])
    assert _names(tmp_path) == ["c"]
    assert (tmp_path / "c").read_bytes() == b"keep"
    with pytest.raises(InputError, match="named twice"):
        write_files([(tmp_path / "x", b"1", 0o644), (tmp_path / "x", b"2", 0o644)])


def test_a_target_appearing_while_placing_takes_back_what_was_placed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_link = os.link

    def link(src: Any, dst: Any, **kwargs: Any) -> None:
        if Path(dst).name == "b":
            Path(dst).write_bytes(b"someone else")
        real_link(src, dst, **kwargs)

    monkeypatch.setattr("refkit.atomic.os.link", link)
    with pytest.raises(TargetExists):
        write_files([(tmp_path / "a", b"1", 0o644), (tmp_path / "b", b"2", 0o644)])
    assert _names(tmp_path) == ["b"]
    assert (tmp_path / "b").read_bytes() == b"someone else"


def _failing(exc: OSError) -> Callable[..., Any]:
    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    return fail


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "no space left"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "no space left"),
        (OSError(errno.EROFS, "Read-only file system"), "read-only file system"),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
    ],
)
def test_disk_full_and_io_errors_are_environment_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, words: str
) -> None:
    monkeypatch.setattr("refkit.atomic.os.fsync", _failing(error))
    with pytest.raises(EnvironmentProblem, match=words) as info:
        write_file(tmp_path / "out", b"data")
    assert info.value.exit_code is ExitCode.ENVIRONMENT
    assert _names(tmp_path) == []


def test_permission_denied_is_an_environment_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tests run as root, where chmod cannot take permission away: fail the create.
    monkeypatch.setattr("refkit.atomic.os.open", _failing(PermissionError(errno.EACCES, "denied")))
    with pytest.raises(EnvironmentProblem, match="permission denied") as info:
        write_file(tmp_path / "out", b"data")
    assert info.value.exit_code is ExitCode.ENVIRONMENT


def test_streaming_forms(tmp_path: Path) -> None:
    with open_output(tmp_path / "s") as handle:
        handle.write(b"streamed")
    assert (tmp_path / "s").read_bytes() == b"streamed"

    def produce() -> None:
        with open_output(tmp_path / "t") as handle:
            handle.write(b"half")
            raise RuntimeError("the producer failed")

    with pytest.raises(RuntimeError):
        produce()
    assert _names(tmp_path) == ["s"]
    with Batch() as batch:
        batch.add(tmp_path / "u").write(b"u")
        batch.add(tmp_path / "s", replace=True).write(b"replaced")
        # not committed yet: nothing visible
        assert _names(tmp_path) == sorted(["s", *(p.name for p in tmp_path.glob(".*.tmp"))])
        batch.commit()
    assert (tmp_path / "s").read_bytes() == b"replaced"
    assert _names(tmp_path) == ["s", "u"]
