"""Rendering helpers shared by the commands: JSON documents, human text, rich tables.

Results go to stdout, everything else (logs, progress, warnings) to stderr. rich is
imported only when a command actually draws something with it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from refkit.cli._state import CliState
from refkit.errors import OutputClosed

if TYPE_CHECKING:
    from rich.console import Console


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout: sorted keys, two-space indent, UTF-8."""
    import json

    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    click.echo(text)


def emit_text(text: str) -> None:
    click.echo(text)


def state(ctx: click.Context | None = None) -> CliState:
    ctx = ctx or click.get_current_context()
    obj = ctx.find_object(CliState)
    return obj if obj is not None else CliState()


def current_state() -> CliState | None:
    """The state of the running command; None outside one."""
    ctx = click.get_current_context(silent=True)
    return None if ctx is None else ctx.find_object(CliState)


def note(message: str) -> None:
    """An informational line on stderr, silenced by ``-q``."""
    if not state().quiet:
        click.echo(message, err=True)


def warn(message: str) -> None:
    """A warning on stderr, silenced by ``-q`` ("only results and errors")."""
    if not state().quiet:
        click.echo(f"warning: {message}", err=True)


def stdout_console() -> Console:
    """A rich console on stdout that reports a closed pipe as :class:`OutputClosed` (exit 3).

    rich's own reaction to a broken pipe is ``SystemExit(1)``, and 1 means "verification
    failed" here.
    """
    from rich.console import Console

    class _StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise OutputClosed()

    # Wide enough for digests when stdout is a pipe or a file (rich would assume 80).
    width = None if sys.stdout.isatty() else 160
    return _StdoutConsole(file=sys.stdout, highlight=False, soft_wrap=False, width=width)


def deliver(text: str, output: str | None, *, force: bool) -> None:
    """Print ``text`` (which ends with a newline), or write it to ``output`` atomically
    (mode 0644, never a partial file) and say so on stderr."""
    if output is None or output == "-":
        emit_text(text.removesuffix("\n"))
        return
    from refkit.atomic import write_file

    write_file(output, text.encode(), mode=0o644, force=force)
    note(f"wrote {output}")
