"""The CLI frame: version, help, exit-code mapping in one place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest

from refkit import __version__
from refkit import cli as cli_module
from refkit.errors import (
    EnvironmentProblem,
    ExitCode,
    InputError,
    InternalError,
    RefkitError,
    VerificationFailed,
)


def test_version(run_cli: Callable[..., Any]) -> None:
    r = run_cli("--version")
    assert r.code == 0
    assert r.stdout.strip() == f"refkit, version {__version__}"


def test_help_lists_commands(run_cli: Callable[..., Any]) -> None:
    r = run_cli("--help")
    assert r.code == 0
    assert "measure" in r.stdout
    assert "Exit codes" in r.stdout


def test_unknown_command_is_usage_error(run_cli: Callable[..., Any]) -> None:
    r = run_cli("no-such-command")
    assert r.code == ExitCode.BAD_INPUT
    assert "No such command" in r.stderr


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (VerificationFailed("measurement differs"), ExitCode.VERIFICATION_FAILED),
        (InputError("bad file", hint="give another"), ExitCode.BAD_INPUT),
        (EnvironmentProblem("no network"), ExitCode.ENVIRONMENT),
        (InternalError("invariant broke"), ExitCode.INTERNAL),
        (RuntimeError("unexpected"), ExitCode.INTERNAL),
    ],
)
def test_errors_map_to_exit_codes(
    monkeypatch: pytest.MonkeyPatch,
    run_cli: Callable[..., Any],
    exc: Exception,
    code: ExitCode,
) -> None:
    @click.command("boom")
    def boom() -> None:
        raise exc

    monkeypatch.setitem(cli_module.cli.lazy_subcommands, "boom", ("tests.unit.test_cli_frame", "_"))
    monkeypatch.setattr(cli_module.cli, "get_command", lambda ctx, name: boom)
    r = run_cli("boom")
    assert r.code == code
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    if isinstance(exc, RefkitError):
        assert exc.message in r.stderr
    if code == ExitCode.INTERNAL:
        assert "bug in refkit" in r.stderr
    verbose = run_cli("-v", "boom")
    assert verbose.code == code
    if not isinstance(exc, RefkitError):
        assert "Traceback" in verbose.stderr


def test_hint_is_shown(monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Any]) -> None:
    @click.command("boom")
    def boom() -> None:
        raise InputError("bad file", hint="give another")

    monkeypatch.setattr(cli_module.cli, "get_command", lambda ctx, name: boom)
    r = run_cli("boom")
    assert "error: bad file" in r.stderr
    assert "hint: give another" in r.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(run_cli: Callable[..., Any], shell: str) -> None:
    r = run_cli("completion", shell)
    assert r.code == 0
    assert "_REFKIT_COMPLETE" in r.stdout


def test_ctx_exit_code_is_returned(
    monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Any]
) -> None:
    @click.command("boom")
    @click.pass_context
    def boom(ctx: click.Context) -> None:
        ctx.exit(1)

    monkeypatch.setattr(cli_module.cli, "get_command", lambda ctx, name: boom)
    assert run_cli("boom").code == 1


def test_closed_stdout_is_not_a_verification_failure(tmp_path: Any) -> None:
    """`refkit ... | head`: the reader left; exit 3 (environment), never 1 or a traceback."""
    import subprocess
    import sys

    script = "import sys; from refkit.cli import main; sys.exit(main(['completion', 'bash']))"
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    proc.stdout.close()  # nobody reads: the first write fails with EPIPE
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.ENVIRONMENT, err
    assert b"stdout was closed" in err
    assert b"Traceback" not in err


_MANIFEST = Path(__file__).parents[1] / "assets" / "manifests" / "release.json"


def _into_a_closed_pipe(*args: str) -> tuple[int, str]:
    """Run refkit with stdout a pipe whose reader has already gone (`| head` that exited)."""
    import os
    import subprocess
    import sys

    script = "import sys; from refkit.cli import main; sys.exit(main(sys.argv[1:]))"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script, *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr.decode()


@pytest.mark.parametrize(
    "args",
    [
        # rich raised SystemExit(1) on the broken pipe: exit 1, silent (issue 11, item 6).
        ("manifest", "show", str(_MANIFEST)),
        # click's own output (help, version) before any command ran: exit 1, silent.
        ("--help",),
        ("--version",),
        ("manifest", "show", "--json", str(_MANIFEST)),
    ],
)
def test_a_closed_stdout_is_exit_3_for_tables_help_and_json(args: tuple[str, ...]) -> None:
    code, err = _into_a_closed_pipe(*args)
    assert code == ExitCode.ENVIRONMENT, err
    assert err.splitlines() == ["error: stdout was closed before all output was written"]


def test_measure_explain_into_a_closed_pipe_is_exit_3(tmp_path: Path) -> None:
    from tests import firmware_factory as ff

    ovmf = tmp_path / "ovmf.fd"
    ovmf.write_bytes(ff.Image(pages=8).build())
    code, err = _into_a_closed_pipe(
        "measure", "snp", "--mode", "snp", "--vcpu-type", "EPYC-v4", "--vcpus", "2",
        "--ovmf", str(ovmf), "--explain",
    )  # fmt: skip
    assert code == ExitCode.ENVIRONMENT, err
    assert "stdout was closed" in err


def test_a_command_whose_module_fails_to_import_is_reported_not_hidden(
    monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Any]
) -> None:
    # The lazy loader listed only modules it could find, so a broken command vanished from
    # --help and `refkit broken` said "No such command" (exit 2, as if the user erred).
    lazy = {**cli_module.cli.lazy_subcommands, "broken": ("refkit.cli._no_such_module", "x")}
    monkeypatch.setattr(cli_module.cli, "lazy_subcommands", lazy)
    r = run_cli("broken")
    assert r.code == ExitCode.INTERNAL
    assert "refkit.cli._no_such_module" in r.stderr
    assert "this is a bug in refkit" in r.stderr
    r = run_cli("--help")
    assert r.code == 0
    assert "broken" in r.stdout
    assert "unavailable" in r.stdout
    assert "measure" in r.stdout
