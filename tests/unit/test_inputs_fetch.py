"""fetch/check orchestration with in-memory packages and a fake downloader."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode
from refkit.inputs import (
    CheckStatus,
    DigestMismatch,
    Lock,
    MissingInputs,
    OriginKind,
    OutputConflict,
    OutputStatus,
    Progress,
    Stage,
    check,
    fetch,
)
from tests.inputs_support import (
    DEB,
    FW,
    KERNEL,
    LOCK,
    OTHER_DEB,
    FakeDownloader,
    make_deb,
    sha256,
    simple_entries,
)
from tests.inputs_support import mirror_dir as _mirror
from tests.inputs_support import package as _package


def test_from_a_local_directory(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path)
    out = tmp_path / "out"
    events: list[Progress] = []
    result = fetch(LOCK, [tmp_path / "empty", mirror], out, downloader=None, progress=events.append)
    (item,) = result.inputs
    assert item.origin.kind is OriginKind.LOCAL
    assert item.origin.location == str(mirror)
    assert item.origin.path == str(mirror / "renamed.bin")
    assert [(o.output, o.status, o.member) for o in item.outputs] == [
        ("fw.fd", OutputStatus.WRITTEN, "usr/share/fw/image.fd"),
        ("fw-vmlinuz", OutputStatus.WRITTEN, "boot/vmlinuz-1"),
    ]
    assert (out / "fw.fd").read_bytes() == FW
    assert (out / "fw-vmlinuz").read_bytes() == KERNEL
    assert stat.S_IMODE((out / "fw.fd").stat().st_mode) == 0o644
    assert sorted(p.name for p in out.iterdir()) == ["fw-vmlinuz", "fw.fd"]  # no temp files
    stages = [e.stage for e in events]
    assert stages == [Stage.SKIPPED, Stage.FOUND, Stage.WRITTEN, Stage.WRITTEN]


def test_second_run_reuses_without_any_source(tmp_path: Path) -> None:
    out = tmp_path / "out"
    fetch(LOCK, [_mirror(tmp_path)], out, downloader=None)
    before = (out / "fw.fd").stat().st_mtime_ns
    result = fetch(LOCK, [], out, downloader=None)
    assert result.inputs[0].origin.kind is OriginKind.OUTPUT
    assert {o.status for o in result.inputs[0].outputs} == {OutputStatus.REUSED}
    assert (out / "fw.fd").stat().st_mtime_ns == before


def test_downloads_when_not_local(tmp_path: Path) -> None:
    downloader = FakeDownloader({"fw": DEB})
    events: list[Progress] = []
    result = fetch(
        LOCK,
        [_mirror(tmp_path, OTHER_DEB)],
        tmp_path / "out",
        downloader=downloader,
        progress=events.append,
    )
    assert result.inputs[0].origin.kind is OriginKind.DOWNLOAD
    assert result.inputs[0].origin.location == "http://archive.example/fw_1.0-1_all.deb"
    assert (tmp_path / "out" / "fw.fd").read_bytes() == FW
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []
    assert Stage.DOWNLOADING in [e.stage for e in events]
    assert Stage.BYTES in [e.stage for e in events]


def test_offline_and_absent_is_exit_3_naming_the_package(tmp_path: Path) -> None:
    with pytest.raises(MissingInputs) as info:
        fetch(LOCK, [tmp_path], tmp_path / "out", downloader=None)
    error = info.value
    assert error.exit_code is ExitCode.ENVIRONMENT
    assert "fw 1.0-1 (all)" in error.message
    assert sha256(DEB) in error.message
    # The library names no CLI flag (the CLI translates its words: test_cli_flag_words).
    assert "downloads are disabled (offline)" in error.message
    assert "--" not in error.message
    assert error.hint is not None
    assert "mirror directory" in error.hint
    assert "fw_1.0-1_all.deb" in error.hint


def test_a_download_with_the_wrong_digest_is_not_used(tmp_path: Path) -> None:
    with pytest.raises(MissingInputs, match="the download is not the pinned file"):
        fetch(LOCK, [], tmp_path / "out", downloader=FakeDownloader({"fw": OTHER_DEB}))
    assert list((tmp_path / "out").iterdir()) == []


def test_every_missing_package_is_named_and_the_others_fetched(tmp_path: Path) -> None:
    second = _package(OTHER_DEB, name="other")
    second = replace(
        second, extract=(replace(second.extract[0], sha256=sha256(b"other firmware"), size=14),)
    )
    lock = Lock((_package(), second, _package(make_deb(simple_entries(b"3")), name="third")))
    with pytest.raises(MissingInputs) as info:
        fetch(lock, [_mirror(tmp_path, OTHER_DEB)], tmp_path / "out", downloader=FakeDownloader({}))
    assert [m.label for m in info.value.missing] == ["fw 1.0-1 (all)", "third 1.0-1 (all)"]
    assert "HTTP 404" in info.value.message
    assert (tmp_path / "out" / "other.fd").read_bytes() == b"other firmware"


def test_a_different_existing_file_is_never_overwritten_without_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "fw.fd").write_bytes(b"precious user data")
    with pytest.raises(OutputConflict, match=r"fw\.fd") as info:
        fetch(LOCK, [_mirror(tmp_path)], out, downloader=None)
    assert info.value.exit_code is ExitCode.BAD_INPUT
    assert (out / "fw.fd").read_bytes() == b"precious user data"
    assert not (out / "fw-vmlinuz").exists()  # nothing written at all
    result = fetch(LOCK, [_mirror(tmp_path)], out, downloader=None, force=True)
    assert [o.status for o in result.inputs[0].outputs] == [
        OutputStatus.REPLACED,
        OutputStatus.WRITTEN,
    ]
    assert (out / "fw.fd").read_bytes() == FW


def test_a_symlink_or_directory_in_the_way(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere").write_bytes(FW)
    (out / "fw.fd").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputConflict):
        fetch(LOCK, [_mirror(tmp_path)], out, downloader=None)
    fetch(LOCK, [_mirror(tmp_path)], out, downloader=None, force=True)
    assert not (out / "fw.fd").is_symlink()
    assert (tmp_path / "elsewhere").read_bytes() == FW  # the link's target is untouched
    (out / "fw-vmlinuz").unlink()
    (out / "fw-vmlinuz").mkdir()
    with pytest.raises(OutputConflict, match="is a directory"):
        fetch(LOCK, [_mirror(tmp_path)], out, downloader=None, force=True)


def test_wrong_extracted_digest_is_a_verification_failure_and_writes_nothing(
    tmp_path: Path,
) -> None:
    package = _package()
    bad = replace(
        package, extract=(replace(package.extract[0], sha256="f" * 64), package.extract[1])
    )
    with pytest.raises(DigestMismatch, match="the lock pins") as info:
        fetch(Lock((bad,)), [_mirror(tmp_path)], tmp_path / "out", downloader=None)
    assert info.value.exit_code is ExitCode.VERIFICATION_FAILED
    assert list((tmp_path / "out").iterdir()) == []


def test_check(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert [c.status for c in check(LOCK, out).outputs] == [CheckStatus.MISSING] * 2
    fetch(LOCK, [_mirror(tmp_path)], out, downloader=None)
    assert check(LOCK, out).ok
    (out / "fw.fd").write_bytes(b"changed")
    result = check(LOCK, out)
    assert not result.ok
    assert [c.status for c in result.outputs] == [CheckStatus.DIFFERENT, CheckStatus.OK]


def test_a_package_with_nothing_to_extract_is_still_obtained_and_checked(tmp_path: Path) -> None:
    lock = Lock((replace(_package(), extract=()),))
    result = fetch(lock, [_mirror(tmp_path)], tmp_path / "out", downloader=None)
    assert result.inputs[0].origin.kind is OriginKind.LOCAL
    assert result.inputs[0].outputs == ()
    with pytest.raises(MissingInputs):
        fetch(lock, [], tmp_path / "out", downloader=None)


def test_a_local_file_changed_after_lookup_falls_back_to_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import refkit.inputs.fetching as fetch_module

    mirror = _mirror(tmp_path)
    from refkit.inputs.store import open_verified as real

    def racy(path: Path, **kw: Any) -> Any:
        if path.parent == mirror:
            path.write_bytes(b"swapped after the lookup")
        return real(path, **kw)

    monkeypatch.setattr(fetch_module, "open_verified", racy)
    result = fetch(LOCK, [mirror], tmp_path / "out", downloader=FakeDownloader({"fw": DEB}))
    assert result.inputs[0].origin.kind is OriginKind.DOWNLOAD
    with pytest.raises(MissingInputs, match="changed while in use"):
        fetch(LOCK, [_mirror(tmp_path)], tmp_path / "out2", downloader=None)


def test_a_file_created_during_the_fetch_is_not_clobbered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import refkit.inputs.fetching as fetch_module
    from refkit.inputs.deb import extract_files as real

    out = tmp_path / "out"

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        (out / "fw.fd").write_bytes(b"written by someone else")
        return real(*args, **kwargs)

    monkeypatch.setattr(fetch_module, "extract_files", meanwhile)
    with pytest.raises(OutputConflict, match="appeared while refkit was writing"):
        fetch(LOCK, [_mirror(tmp_path)], out, downloader=None)
    assert (out / "fw.fd").read_bytes() == b"written by someone else"
    assert sorted(p.name for p in out.iterdir()) == ["fw.fd"]  # no temporary files left
