"""``refkit manifest example``: write a commented YAML manifest to start from."""

from __future__ import annotations

from pathlib import Path

import click

from refkit.cli._output import note
from refkit.cli.manifest._common import force_option, output_option, write_result
from refkit.manifests.authoring import example_yaml


@click.command("example")
@output_option(required=False)
@force_option
def example(output: Path | None, force: bool) -> None:
    """Write a commented YAML reference manifest that builds as is.

    \b
    Every value in it is a placeholder: replace them with what your build and
    `refkit measure` print, then run `refkit manifest build`.

    \b
    Example:
      refkit manifest example -o release.yaml
    """
    if write_result(output, example_yaml().encode("utf-8"), force=force):
        note(f"wrote {output}; edit it, then: refkit manifest build {output} -o release.json")
