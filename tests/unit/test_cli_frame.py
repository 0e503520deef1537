"""The CLI frame: version, help, exit-code mapping in one place."""

from __future__ import annotations

from collections.abc import Callable
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
