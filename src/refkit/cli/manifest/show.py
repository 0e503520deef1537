"""``refkit manifest show``: a reference manifest (statement or bundle) as readable text.

Layout (plain text, no table library: linear in the manifest's size): one section per
part of the manifest, each kind of reference value rendered from its registry view
(:mod:`refkit.manifests.model.kind`): entries that share inputs are grouped, the shared
facts printed once, then one row per entry. Every hex value stays unbroken on one line (so
``show | grep <measurement>`` finds it); everything else wraps at the terminal width
(``COLUMNS``, 80 when unknown).
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

from refkit.cli._options import json_option
from refkit.cli._output import emit_json, emit_text, note, warn
from refkit.manifests.authoring import unrecognized_fields
from refkit.manifests.files import LoadedStatement, read_statement_file
from refkit.manifests.model import SCHEMA_VERSION, Block, View, is_newer
from refkit.manifests.statement import Statement, for_display

UNVERIFIED = "signature NOT verified (use `refkit manifest verify`)"
_MAX_LABEL = 28
_MAX_COLUMN = 40


@click.command("show")
@click.argument("manifest_file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def show(manifest_file: Path, as_json: bool) -> None:
    """Show a reference manifest: release, artifacts, measurements, declared values.

    \b
    MANIFEST_FILE is a statement (from `build`) or a Sigstore bundle (from `sign`).
    Showing a bundle does not verify its signature: `refkit manifest verify` does.
    Entries that share inputs are grouped; each hex value is printed whole on one line.
    A manifest of a newer schema version than this refkit knows is shown with a
    warning (verify refuses it). With --json, prints {source, fromBundle,
    signatureVerified, canonical, unrecognized, statement}.

    \b
    Examples:
      refkit manifest show release.json
      refkit manifest show release.json | grep <measurement>
      refkit manifest show release.bundle.json --json
    """
    with for_display():
        loaded = read_statement_file(manifest_file)
    version = loaded.statement.predicate.schema_version
    if is_newer(version):
        warn(
            f"{loaded.source}: schema version {version} is newer than this refkit knows "
            f"({SCHEMA_VERSION}); shown as read, `refkit manifest verify` refuses it"
        )
    if as_json:
        emit_json(
            {
                "source": loaded.source,
                "fromBundle": loaded.from_bundle,
                "signatureVerified": False,
                "canonical": loaded.canonical,
                "unrecognized": unrecognized_fields(loaded.statement),
                "statement": loaded.statement.to_json(),
            }
        )
        return
    if loaded.from_bundle:
        note(f"{loaded.source}: bundle read, {UNVERIFIED}")
    if not loaded.canonical:
        note(f"{loaded.source}: not in canonical form (RFC 8785)")
    width = shutil.get_terminal_size((80, 24)).columns
    emit_text("\n".join(render(views(loaded), width=width)))


def views(loaded: LoadedStatement) -> list[View]:
    """Every section ``show`` prints, in order."""
    statement: Statement = loaded.statement
    pred = statement.predicate
    rel = pred.release
    release_json = rel.to_json()
    file_text = loaded.source + (f" (bundle; {UNVERIFIED})" if loaded.from_bundle else "")
    out = [
        View(
            "Release",
            (
                Block(
                    (
                        ("name", rel.name),
                        ("version", rel.version),
                        ("created", release_json["created"]),
                        ("expires", release_json.get("expires", "never")),
                        ("source", rel.source.repository),
                        ("commit", rel.source.commit),
                        ("schema", pred.schema_version),
                        ("file", file_text),
                    ),
                    (),
                    (),
                ),
            ),
        )
    ]
    rows: list[tuple[str, ...]] = []
    for s in statement.subjects:
        for i, text in enumerate(s.digest.texts()):
            rows.append((s.name, s.kind.value, text) if i == 0 else ("", "", text))
    out.append(
        View(
            "Artifacts",
            (Block((), ("name", "kind", "digest"), tuple(rows)),),
            len(statement.subjects),
        )
    )
    for kind, entries in pred.kinds():
        out.append(kind.view(entries))
    if pred.provenance is not None:
        prov = pred.provenance
        facts = [("refkit", prov.refkit_version)]
        if prov.builder is not None:
            facts.append(("builder", prov.builder.id))
        rows = []
        for pin in prov.inputs or ():
            for i, text in enumerate(pin.digest.texts()):
                name = f"{pin.name} {pin.version or ''}".strip()
                rows.append((name, text) if i == 0 else ("", text))
        out.append(View("Provenance", (Block(tuple(facts), ("input", "digest"), tuple(rows)),)))
    unknown = unrecognized_fields(statement)
    if unknown:
        rows = [(path,) for path in unknown]
        out.append(
            View("Fields refkit does not know (kept as is)", (Block((), ("path",), tuple(rows)),))
        )
    return out


def _wrap(label: str, value: str, *, label_width: int, width: int) -> list[str]:
    head = f"  {label:<{label_width}}  "
    lines = textwrap.wrap(
        value,
        width=max(width, len(head) + 20),
        initial_indent=head,
        subsequent_indent=" " * len(head),
        break_long_words=False,  # hex values stay whole
        break_on_hyphens=False,
    )
    return lines or [head.rstrip()]


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Iterator[str]:
    count = len(columns)
    widths = [
        min(_MAX_COLUMN, max([len(columns[c])] + [len(r[c]) for r in rows])) for c in range(count)
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [f"{cell:<{widths[c]}}" for c, cell in enumerate(cells[:-1])]
        return ("  " + "  ".join([*parts, cells[-1]])).rstrip()

    yield line(columns)
    for row in rows:
        yield line(row)


def render(sections: Sequence[View], *, width: int = 80) -> list[str]:
    """The text lines of ``sections``; hex values are never broken."""
    lines: list[str] = []
    for view in sections:
        if lines:
            lines.append("")
        count = f" ({view.count})" if view.count > 1 else ""
        lines.append(f"{view.title}{count}")
        for b, block in enumerate(view.blocks):
            if b:
                lines.append("")
            label_width = min(_MAX_LABEL, max((len(f[0]) for f in block.facts), default=0))
            for label, value in block.facts:
                lines.extend(_wrap(label, value, label_width=label_width, width=width))
            if block.rows:
                lines.extend(_table(block.columns, block.rows))
    return lines
