"""``refkit manifest build``: YAML authoring form → validated canonical statement JSON."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import click

from refkit import __version__
from refkit.cli._options import json_option
from refkit.cli._output import emit_json, note, warn
from refkit.cli.manifest._common import force_option, output_option, write_result
from refkit.errors import InputError, Location, ParseError, read_input_file
from refkit.manifests.authoring import build_statement, choose_created, unrecognized_fields
from refkit.manifests.measured import (
    add_any_measurement,
    add_snp_values,
    load_measurement,
    load_measurement_json,
)
from refkit.times import parse_time
from refkit.yamlio import MAX_YAML_BYTES, load_yaml


@click.command("build")
@click.argument("yaml_file", type=click.Path(dir_okay=False, path_type=Path))
@output_option(required=True)
@click.option(
    "--created",
    metavar="YYYY-MM-DDTHH:MM:SSZ",
    help="Release creation time (UTC). Overrides release.created and SOURCE_DATE_EPOCH.",
)
@click.option("--strict", is_flag=True, help="Refuse fields refkit does not know (usually typos).")
@click.option(
    "--add-snp",
    "add_snp",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="MEASURED.json",
    help="Add the SNP reference values (one per vCPU count) and the firmware, kernel and "
    "initrd subjects from `refkit measure snp --json` output. Repeatable.",
)
@click.option(
    "--add-tdx",
    "add_tdx",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="MEASURED.json",
    help="Add the TDX reference values (MRTD, RTMRs; one per shape) and their input "
    "subjects from `refkit measure tdx --json` output. Repeatable.",
)
@click.option(
    "--add-vtpm",
    "add_vtpm",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="MEASURED.json",
    help="Add the vTPM PCR values (one per bank) from `refkit measure uki --json`. Repeatable.",
)
@click.option(
    "--add",
    "add_any",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="MEASURED.json",
    help="Add any `refkit measure ... --json` output (SNP, TDX or UKI), recognised by "
    "its content. Repeatable.",
)
@force_option
@json_option
def build(
    yaml_file: Path,
    output: Path,
    created: str | None,
    strict: bool,
    add_snp: tuple[Path, ...],
    add_tdx: tuple[Path, ...],
    add_vtpm: tuple[Path, ...],
    add_any: tuple[Path, ...],
    force: bool,
    as_json: bool,
) -> None:
    """Build a canonical reference manifest (in-toto statement) from its YAML form.

    \b
    The YAML is validated (JSON Schema and semantic checks), lists whose order means
    nothing are sorted, and the statement is written as RFC 8785 canonical JSON: the
    same content always gives the same bytes.

    \b
    Values still marked `placeholder: true` (from `refkit manifest example`) are
    refused, all named at once. Errors name YAML paths (release.version).

    \b
    The creation time is, in order: --created, release.created in the YAML, the
    SOURCE_DATE_EPOCH environment variable. With none of them the build fails: refkit
    never uses the current time silently.

    \b
    Examples:
      SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) \\
        refkit manifest build release.yaml -o release.json
      refkit measure snp --mode snp --vcpus 1-64 --vcpu-type EPYC-Milan \\
        --ovmf OVMF.amdsev.fd --kernel vmlinuz --json -o snp.json
      refkit manifest build release.yaml --add-snp snp.json -o release.json
    """
    source = os.fspath(yaml_file)
    if as_json and str(output) == "-":
        raise InputError("--json prints a summary on stdout: write the manifest with -o FILE")
    document = load_yaml(
        read_input_file(yaml_file, what="manifest YAML", limit=MAX_YAML_BYTES), source=source
    )
    if not isinstance(document, dict):
        raise ParseError(
            "expected a mapping (release:, subjects:, ...) at the top",
            location=Location(source),
            hint="start from `refkit manifest example`",
        )
    for measured_file in add_snp:
        measured_source = os.fspath(measured_file)
        measured = load_measurement(measured_file)
        document = add_snp_values(document, measured, source=measured_source)
    document = _add_measured(document, add_tdx, add_vtpm, add_any)
    release = document.get("release")
    in_doc = release.get("created") if isinstance(release, dict) else None
    if created is not None:
        parse_time(created, source="command line", path="--created")
    when, origin = choose_created(
        option=created,
        document=in_doc if isinstance(in_doc, str) else None,
        source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH"),
    )
    if created is not None and isinstance(in_doc, str) and in_doc != created:
        note(f"--created {created} replaces release.created {in_doc}")
    statement = build_statement(
        document,
        source=source,
        created=when,
        refkit_version=__version__,
    )
    unknown = unrecognized_fields(statement)
    if unknown and strict:
        raise InputError(
            f"{source}: fields refkit does not know: {', '.join(unknown[:10])}",
            hint="fix the spelling, or drop --strict to keep them (they are signed as is)",
        )
    for path in unknown:
        warn(f"{source}: {path} is not a field refkit knows; kept as is")
    data = statement.canonical_bytes()
    wrote = write_result(output, data, force=force)
    digest = hashlib.sha256(data).hexdigest()
    if as_json:
        emit_json(
            {
                "output": None if not wrote else os.fspath(output),
                "sha256": digest,
                "created": statement.to_json()["predicate"]["release"]["created"],
                "createdFrom": origin,
                "unrecognized": unknown,
            }
        )
    elif wrote:
        note(f"wrote {output} (sha256:{digest}, created {when} from {origin})")


def _add_measured(
    document: dict[str, object],
    add_tdx: tuple[Path, ...],
    add_vtpm: tuple[Path, ...],
    add_any: tuple[Path, ...],
) -> dict[str, object]:
    """Merge --add-tdx, --add-vtpm and --add files, in that order."""
    for files, expect in ((add_tdx, "tdx"), (add_vtpm, "vtpm"), (add_any, None)):
        for path in files:
            value = load_measurement_json(path)
            document = add_any_measurement(document, value, source=os.fspath(path), expect=expect)
    return document
