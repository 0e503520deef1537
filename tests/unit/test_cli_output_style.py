"""What a new user hit in the CLI's output (issue 11, items 6 and 7 of the frame)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode
from refkit.inputs import DebianPackage, ExtractSpec, Lock
from refkit.inputs.lock import dumps_lock
from tests.inputs_support import make_deb, sha256, simple_entries

RunCli = Callable[..., Any]
MANIFEST = Path(__file__).parents[1] / "assets" / "manifests" / "release.json"


@pytest.mark.parametrize(
    ("args", "message", "command_path"),
    [
        (["no-such-command"], "error: No such command 'no-such-command'.", "refkit"),
        (["inputs", "fetch", "x.json"], "error: Missing option '--out'.", "refkit inputs fetch"),
        (
            ["keygen", "--out", "k", "--type", "x"],
            "error: Invalid value for '--type'",
            "refkit keygen",
        ),
        (["keygen", "--nope"], "error: No such option '--nope'.", "refkit keygen"),
    ],
)
def test_usage_errors_are_in_refkits_style(
    run_cli: RunCli, args: list[str], message: str, command_path: str
) -> None:
    # click printed "Usage: ... / Try '...' / Error: ..."; every other error reads
    # "error: ... / hint: ...". Exit 2 and the pointer to --help stay.
    r = run_cli(*args)
    assert r.code == ExitCode.BAD_INPUT
    lines = r.stderr.splitlines()
    assert lines[0].startswith(message)
    assert lines[-1].startswith("hint: ")
    assert lines[-1].endswith(f"'{command_path} --help' for help")
    assert "Error:" not in r.stderr
    assert "Usage:" not in r.stderr
    if "Missing option" in message or "value for" in message:
        assert lines[-1].startswith("hint: see --")  # names the option, as the message does


def test_quiet_silences_export_warnings(run_cli: RunCli) -> None:
    r = run_cli("manifest", "export", MANIFEST, "--format", "rvps")
    assert r.code == 0, r.stderr
    assert "warning:" in r.stderr
    r = run_cli("-q", "manifest", "export", MANIFEST, "--format", "rvps")
    assert r.code == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout


def test_fetch_on_a_terminal_prints_each_fact_once(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import refkit.cli.inputs as inputs_cli

    data = b"firmware bytes\n"
    deb = make_deb(simple_entries(data))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "fw.deb").write_bytes(deb)
    package = DebianPackage(
        name="fw", version="1.0-1", architecture="all", suite="sid", component="main",
        source="fw", filename="fw_1.0-1_all.deb", size=len(deb), sha256=sha256(deb),
        extract=(ExtractSpec("usr/share/fw/image.fd", "fw.fd", len(data), sha256(data)),),
    )  # fmt: skip
    lock = tmp_path / "lock.json"
    lock.write_text(dumps_lock(Lock((package,))))
    monkeypatch.setattr(inputs_cli, "_stdout_is_terminal", lambda: True)
    out = tmp_path / "out"
    r = run_cli("inputs", "fetch", lock, "--inputs", mirror, "--out", out, "--offline")
    assert r.code == 0, r.stderr
    assert f"{out / 'fw.fd'}  sha256 {sha256(data)}  (written)" in r.stdout
    assert f"from {mirror / 'fw.deb'}" in r.stdout
    # Was also on stderr: "found .../fw.deb" and "wrote .../fw.fd (sha256 ...)".
    assert "found" not in r.stderr
    assert "wrote" not in r.stderr
    assert sha256(data) not in r.stderr
