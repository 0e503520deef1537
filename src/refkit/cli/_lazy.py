"""A click group that imports a subcommand's module only when that subcommand runs.

Keeps ``refkit measure snp`` from paying for the import of signing or table-drawing code.
A command whose module fails to import is never hidden: ``--help`` lists it as
unavailable, and running it is an :class:`~refkit.errors.InternalError` (exit 4) naming
the module, since every command module is part of the package.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from refkit.errors import InternalError, OutputClosed


class LazyGroup(click.Group):
    """``lazy_subcommands`` maps a command name to ``(module, attribute)``."""

    def __init__(
        self, *args: Any, lazy_subcommands: dict[str, tuple[str, str]] | None = None, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's command list, with a command that cannot be loaded shown, not dropped."""
        found: list[tuple[str, click.Command | None, str]] = []
        for name in self.list_commands(ctx):
            try:
                command = self.get_command(ctx, name)
            except InternalError as exc:
                found.append((name, None, f"(unavailable: {exc.message})"))
                continue
            if command is not None and not command.hidden:
                found.append((name, command, ""))
        if not found:
            return
        limit = formatter.width - 6 - max(len(name) for name, _c, _t in found)
        rows = [
            (name, text if command is None else command.get_short_help_str(limit))
            for name, command, text in found
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        # click's main() turns a broken stdout pipe into exit 1, which refkit reserves for
        # "verification failed": raise refkit's own error instead, which click lets through.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise OutputClosed() from None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            module_name, attr = self.lazy_subcommands[cmd_name]
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:  # a broken installation or a bug, never a user mistake
                raise InternalError(
                    f"command {cmd_name!r} cannot be loaded: importing {module_name} failed "
                    f"({type(exc).__name__}: {exc})"
                ) from exc
            command = getattr(module, attr, None)
            if not isinstance(command, click.Command):
                raise InternalError(f"{module_name}.{attr} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)
