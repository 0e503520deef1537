"""``refkit completion SHELL``: print the shell completion script."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    Load it in the current shell, or save it where your shell reads completions:
      eval "$(refkit completion bash)"
      refkit completion zsh > ~/.zfunc/_refkit
      refkit completion fish > ~/.config/fish/completions/refkit.fish
    """
    from refkit.cli import cli

    comp_cls = get_completion_class(shell)
    if comp_cls is None:  # pragma: no cover - click.Choice restricts the names
        raise click.BadParameter(f"unsupported shell {shell}")
    comp = comp_cls(cli, {}, "refkit", "_REFKIT_COMPLETE")
    click.echo(comp.source())
