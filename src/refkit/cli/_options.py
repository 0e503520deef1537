"""Options shared by several commands, defined once as decorators."""

from __future__ import annotations

import click

json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as one JSON document on stdout instead of text.",
)

#: ``-o FILE`` and ``--force`` for commands whose result is a document: written through the
#: one atomic writer only once complete (a shell redirection leaves an empty or partial file
#: when the command fails). Pair with :func:`refkit.cli._output.deliver`.
output_option = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write the result (text, or the --json document) to FILE, atomically, only once "
    "it is complete; '-' is stdout (the default). An existing FILE is kept unless --force.",
)
output_force_option = click.option(
    "--force", "force", is_flag=True, help="Replace an existing --output file."
)
