"""``refkit manifest``: author, build, sign, verify, compare and export reference manifests."""

from __future__ import annotations

import click

from refkit.cli._lazy import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "example": ("refkit.cli.manifest.example", "example"),
        "build": ("refkit.cli.manifest.build", "build"),
        "show": ("refkit.cli.manifest.show", "show"),
        "diff": ("refkit.cli.manifest.diff", "diff"),
        "export": ("refkit.cli.manifest.export", "export"),
        "sign": ("refkit.cli.manifest.sign", "sign"),
        "verify": ("refkit.cli.manifest.verify", "verify"),
    },
)
def manifest() -> None:
    """Author, build, sign, verify, compare and export reference manifests.

    \b
    A reference manifest states which artifact digests, launch measurements, model
    digests and platform values are the genuine ones for one release. It is an in-toto
    statement in canonical JSON, signed as DSSE inside a Sigstore bundle.

    \b
    Typical flow:
      refkit manifest example -o release.yaml      # start from a commented template
      refkit manifest build release.yaml -o release.json
      refkit manifest sign release.json --key release.key -o release.bundle.json
      refkit manifest verify release.bundle.json --key release.key.pub
    """
