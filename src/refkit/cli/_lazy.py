"""A click group that imports a subcommand's module only when that subcommand runs.

Keeps ``refkit measure snp`` from paying for the import of signing or table-drawing code.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

from refkit.errors import OutputClosed


class LazyGroup(click.Group):
    """``lazy_subcommands`` maps a command name to ``(module, attribute)``."""

    def __init__(
        self, *args: Any, lazy_subcommands: dict[str, tuple[str, str]] | None = None, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        # A command whose module is not part of this installation is not listed.
        present = {
            name
            for name, (module, _attr) in self.lazy_subcommands.items()
            if importlib.util.find_spec(module) is not None
        }
        return sorted({*super().list_commands(ctx), *present})

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
            module = importlib.import_module(module_name)
            command = getattr(module, attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module_name}.{attr} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)
