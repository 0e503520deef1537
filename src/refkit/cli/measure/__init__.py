"""``refkit measure``: launch measurements computed from boot artifacts."""

from __future__ import annotations

import click

from refkit.cli._lazy import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "snp": ("refkit.cli.measure.snp", "snp"),
        "tdx": ("refkit.cli.measure.tdx", "tdx"),
        "uki": ("refkit.cli.measure.uki", "uki"),
        "verity": ("refkit.cli.measure.verity", "verity"),
        "replay": ("refkit.cli.measure.replay", "replay"),
    },
)
def measure() -> None:
    """Compute the launch measurements a confidential VM will report.

    \b
    Each subcommand recomputes, offline and from the boot artifacts alone, the value the
    hardware measures at launch, so that it can be published in a reference manifest
    and compared with live attestation reports.
    """
