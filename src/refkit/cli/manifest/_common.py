"""Options and helpers shared by the manifest commands (output file, --force)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from refkit.manifests.files import write_output

F = TypeVar("F", bound=Callable[..., Any])

force_option = click.option(
    "--force", is_flag=True, help="Replace the output file if it exists (never done silently)."
)


def output_option(required: bool) -> Callable[[F], F]:
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
        required=required,
        help="Where to write the result ('-' for stdout)."
        + ("" if required else " Default: stdout."),
    )


def write_result(output: Path | None, data: bytes, *, force: bool) -> bool:
    """Write to a file atomically, or to stdout for None/'-'. True if a file was written."""
    if output is None or str(output) == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return False
    write_output(output, data, force=force)
    return True
