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
    """Write a commented YAML reference manifest to start from.

    \b
    Every value in it is a placeholder, marked `placeholder: true`: replace them with
    what your build and `refkit measure` print and delete the markers; `refkit
    manifest build` refuses the file while any marker is left, naming all of them.

    \b
    Example:
      refkit manifest example -o release.yaml
    """
    if write_result(output, example_yaml().encode("utf-8"), force=force):
        note(
            f"wrote {output}; replace its placeholders, then: "
            f"refkit manifest build {output} -o release.json"
        )
