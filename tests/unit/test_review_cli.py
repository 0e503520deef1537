"""Review of the command line: exit codes, one-line errors naming the file, accurate help."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode
from refkit.inputs import Lock
from refkit.inputs.lock import dumps_lock
from tests.inputs_support import DEB
from tests.inputs_support import package as _package
from tests.manifest_support import unmark_placeholders

RunCli = Callable[..., Any]


@pytest.fixture
def lock_file(tmp_path: Path) -> Path:
    path = tmp_path / "inputs.lock.json"
    path.write_text(dumps_lock(Lock((_package(),))))
    return path


@pytest.mark.parametrize("command", ["fetch", "verify"])
@pytest.mark.parametrize("where", ["file", "below-a-file"])
def test_out_that_is_a_file_is_bad_input(
    run_cli: RunCli, lock_file: Path, tmp_path: Path, command: str, where: str
) -> None:
    # Was exit 3 ("cannot create X: File exists" / "cannot inspect X/out: Not a directory"),
    # as if the machine lacked something; the user named a file where a directory goes.
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory\n")
    out = a_file if where == "file" else a_file / "sub"
    extra = ["--offline"] if command == "fetch" else []
    r = run_cli("inputs", command, lock_file, "--out", out, *extra)
    assert r.code == ExitCode.BAD_INPUT, r.stderr
    assert r.stdout == ""
    first = r.stderr.splitlines()[0]
    assert first.startswith("error: ")
    assert str(a_file) in first
    assert "not a directory" in first
    assert "Traceback" not in r.stderr
    assert a_file.read_text() == "not a directory\n"


def test_pin_lock_in_a_missing_directory_is_bad_input(run_cli: RunCli, tmp_path: Path) -> None:
    # Was exit 3 "cannot write X: No such file or directory"; every other command that
    # writes a file says exit 2 "output directory ... does not exist".
    deb = tmp_path / "fw.deb"
    deb.write_bytes(DEB)
    target = tmp_path / "missing" / "inputs.lock.json"
    r = run_cli("inputs", "pin", deb, "--suite", "sid", "--lock", target)
    assert r.code == ExitCode.BAD_INPUT, r.stderr
    assert r.stderr.splitlines() == [f"error: output directory {target.parent} does not exist"]


def test_bad_created_names_the_option_once(run_cli: RunCli, tmp_path: Path) -> None:
    # Printed "error: --created, --created: 'yesterday' is not ...".
    yaml_file = tmp_path / "release.yaml"
    r = run_cli("manifest", "example", "-o", yaml_file)
    assert r.code == ExitCode.OK
    r = run_cli("manifest", "build", yaml_file, "-o", "-", "--created", "yesterday")
    assert r.code == ExitCode.BAD_INPUT
    first = r.stderr.splitlines()[0]
    assert first.count("--created") == 1, first


@pytest.mark.parametrize(
    "command",
    [
        ("inputs", "fetch"),
        ("inputs", "verify"),
        ("inputs", "pin"),
        ("manifest", "show"),
        ("manifest", "diff"),
    ],
)
def test_help_has_an_example(run_cli: RunCli, command: tuple[str, ...]) -> None:
    # README: "Every command has --help with examples."
    r = run_cli(*command, "--help")
    assert r.code == ExitCode.OK
    assert "Example" in r.stdout
    assert f"refkit {' '.join(command)} " in r.stdout


def test_top_level_help_examples_use_the_files_keygen_writes(run_cli: RunCli) -> None:
    # `refkit keygen --out release.key` writes release.key.pub, not release.pub.
    r = run_cli("--help")
    assert "--key release.pub" not in r.stdout
    assert "--key release.key.pub" in r.stdout


def test_pin_extract_accepts_the_dpkg_deb_listing_form(run_cli: RunCli, tmp_path: Path) -> None:
    # `dpkg-deb -c` lists ./usr/...; `--extract ./usr/...` failed with "requested member
    # './usr/...' is not a normalised relative path", naming neither --extract nor a fix.
    deb = tmp_path / "fw.deb"
    deb.write_bytes(DEB)
    r = run_cli("inputs", "pin", deb, "--suite", "sid", "--extract", "./usr/share/fw/image.fd")
    assert r.code == ExitCode.OK, r.stderr
    assert '"path": "usr/share/fw/image.fd"' in r.stdout
    assert '"output": "image.fd"' in r.stdout
    r = run_cli("inputs", "pin", deb, "--suite", "sid", "--extract", "../etc/passwd=x")
    assert r.code == ExitCode.BAD_INPUT
    assert "--extract" in r.stderr.splitlines()[-1]


def test_bad_time_verified_names_the_option_once(run_cli: RunCli, tmp_path: Path) -> None:
    # Printed "error: --time-verified, --time-verified: 'now' is not ...".
    yaml_file = tmp_path / "release.yaml"
    statement = tmp_path / "release.json"
    assert run_cli("manifest", "example", "-o", yaml_file).code == ExitCode.OK
    unmark_placeholders(yaml_file)  # the template's placeholders are refused (issue 11)
    r = run_cli(
        "manifest", "build", yaml_file, "-o", statement, "--created", "2026-01-01T00:00:00Z"
    )
    assert r.code == ExitCode.OK, r.stderr
    r = run_cli(
        "manifest", "export", statement, "--format", "vsa", "--verifier-id", "https://v",
        "--result", "PASSED", "--time-verified", "now", "--resource-uri", "r", "--policy-uri", "p",
    )  # fmt: skip
    assert r.code == ExitCode.BAD_INPUT
    first = r.stderr.splitlines()[0]
    assert first.count("--time-verified") == 1, first


@pytest.mark.parametrize("command", ["show", "export"])
def test_the_yaml_form_given_to_show_or_export_says_to_build_it(
    run_cli: RunCli, tmp_path: Path, command: str
) -> None:
    # Was "invalid JSON: Expecting value (line 1 column 1)" and nothing on what to do.
    yaml_file = tmp_path / "release.yaml"
    assert run_cli("manifest", "example", "-o", yaml_file).code == ExitCode.OK
    extra = ["--format", "rvps"] if command == "export" else []
    r = run_cli("manifest", command, yaml_file, *extra)
    assert r.code == ExitCode.BAD_INPUT
    assert r.stderr.splitlines()[-1].startswith("hint: ")
    assert "refkit manifest build" in r.stderr.splitlines()[-1]


@pytest.mark.parametrize("command", ["fetch", "verify"])
def test_out_below_an_unsearchable_directory_is_not_a_crash(
    run_cli: RunCli, lock_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    # As a non-root user, --out below a directory without search permission made the
    # "is it a directory" check raise PermissionError: exit 4 (internal error).
    out = tmp_path / "locked" / "sub"
    real_stat = Path.stat

    def stat(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == out:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    extra = ["--offline"] if command == "fetch" else []
    r = run_cli("inputs", command, lock_file, "--out", out, *extra)
    assert r.code != ExitCode.INTERNAL, r.stderr
    assert "internal error" not in r.stderr


def test_pin_lock_below_an_unsearchable_directory_is_not_a_crash(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a non-root user, `pin --lock DIR/x.json` with DIR lacking search permission was
    # exit 4 (PermissionError from checking whether the lock exists).
    deb = tmp_path / "fw.deb"
    deb.write_bytes(DEB)
    locked = tmp_path / "locked"
    real_stat = Path.stat

    def stat(self: Path, *args: Any, **kwargs: Any) -> Any:
        if locked in (self, *self.parents):
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    r = run_cli("inputs", "pin", deb, "--suite", "sid", "--lock", locked / "x.json")
    assert r.code != ExitCode.INTERNAL, r.stderr
    assert "internal error" not in r.stderr


def _unsearchable(monkeypatch: pytest.MonkeyPatch, locked: Path) -> None:
    """Make pathlib's stat of anything at or below ``locked`` fail as for a non-root user
    whose path crosses a directory without search permission (root cannot see that)."""
    real_stat = Path.stat

    def stat(self: Path, *args: Any, **kwargs: Any) -> Any:
        if locked in (self, *self.parents):
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)


@pytest.mark.parametrize("command", [("example",), ("export", "--format", "rvps")])
def test_manifest_output_below_an_unsearchable_directory_is_not_a_crash(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    # `manifest example|build|export -o DIR/x` with DIR lacking search permission was exit 4
    # (PermissionError from Path.is_dir() in the output writer).
    yaml_file = tmp_path / "release.yaml"
    statement = tmp_path / "release.json"
    assert run_cli("manifest", "example", "-o", yaml_file).code == ExitCode.OK
    unmark_placeholders(yaml_file)  # the template's placeholders are refused (issue 11)
    r = run_cli(
        "manifest", "build", yaml_file, "-o", statement, "--created", "2026-01-01T00:00:00Z"
    )
    assert r.code == ExitCode.OK, r.stderr
    locked = tmp_path / "locked"
    _unsearchable(monkeypatch, locked)
    args = [statement, *command[1:]] if command[0] == "export" else []
    r = run_cli("manifest", command[0], *args, "-o", locked / "out")
    assert r.code == ExitCode.BAD_INPUT, r.stderr
    assert "internal error" not in r.stderr


def test_an_unsearchable_inputs_directory_is_skipped_not_a_crash(
    run_cli: RunCli, lock_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/inputs.md: a directory that cannot be read is reported and skipped; below a
    # directory without search permission it was exit 4 (PermissionError from is_dir()).
    locked = tmp_path / "locked"
    _unsearchable(monkeypatch, locked)
    r = run_cli(
        "inputs", "fetch", lock_file, "--out", tmp_path / "out", "--offline",
        "--inputs", locked / "debs",
    )  # fmt: skip
    assert r.code == ExitCode.ENVIRONMENT, r.stderr
    assert f"skipping {locked / 'debs'}" in r.stderr


def test_an_unreadable_inputs_directory_is_skipped(
    run_cli: RunCli, lock_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/inputs.md: a directory that cannot be read is reported on stderr and skipped.
    # click refused it as a usage error (exit 2) before refkit could look elsewhere.
    import os

    debs = tmp_path / "debs"
    debs.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: Path(p) != debs and real_access(p, mode, **kw)
    )
    r = run_cli(
        "inputs", "fetch", lock_file, "--out", tmp_path / "out", "--offline", "--inputs", debs
    )
    assert r.code == ExitCode.ENVIRONMENT, r.stderr
