"""``refkit manifest diff``: what changed between two releases' reference manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from refkit.cli._options import json_option
from refkit.cli._output import emit_json, emit_text, note, warn
from refkit.errors import VerificationFailed
from refkit.manifests.diff import ChangeKind, ManifestDiff, diff_statements
from refkit.manifests.files import read_statement_file
from refkit.manifests.model import SCHEMA_VERSION, is_newer
from refkit.manifests.statement import for_display


@click.command("diff")
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--exit-code",
    is_flag=True,
    help="Exit with 1 when the manifests differ (like `git diff --exit-code`).",
)
@json_option
def diff(old: Path, new: Path, exit_code: bool, as_json: bool) -> None:
    """Show what changed from OLD to NEW: artifacts, measurements, platform values, models.

    \b
    Both files may be statements or bundles (bundle signatures are not verified here).
    Entries are matched by key and listed in natural order (2 vCPUs before 10). A
    manifest of a newer schema version than this refkit knows is compared with a warning.
    Exit status: 0 whether or not they differ; with --exit-code, 1 when they differ.
    Bad input is 2 either way.

    \b
    Examples:
      refkit manifest diff old.json new.json
      refkit manifest diff old.bundle.json new.bundle.json --exit-code --json
    """
    with for_display():
        a = read_statement_file(old, what="old manifest")
        b = read_statement_file(new, what="new manifest")
    for loaded in (a, b):
        if loaded.from_bundle:
            note(f"{loaded.source}: bundle read, signature NOT verified")
        version = loaded.statement.predicate.schema_version
        if is_newer(version):
            warn(
                f"{loaded.source}: schema version {version} is newer than this refkit knows "
                f"({SCHEMA_VERSION}); compared as read, `refkit manifest verify` refuses it"
            )
    result = diff_statements(a.statement, b.statement)
    if as_json:
        emit_json(result.to_json())
    else:
        emit_text(render(result))
    if exit_code and result.differs:
        # An exception, not click's Exit: refkit.cli.main maps exit codes in one place.
        raise VerificationFailed(
            f"{result.old} and {result.new} differ ({len(result.changes)} change(s))"
        )


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def render(result: ManifestDiff) -> str:
    if not result.differs:
        return f"no differences ({result.old} → {result.new})"
    lines = [f"{result.old} → {result.new}: {len(result.changes)} change(s)"]
    marks = {ChangeKind.ADDED: "+", ChangeKind.REMOVED: "-", ChangeKind.CHANGED: "~"}
    for section, changes in result.by_section().items():
        lines.append("")
        lines.append(f"{section}:")
        for c in changes:
            where = c.item + (f" {c.field}" if c.field else "")
            if c.kind is ChangeKind.CHANGED:
                lines.append(f"  ~ {where}: {_value(c.before)} → {_value(c.after)}")
            elif c.field is None:
                lines.append(f"  {marks[c.kind]} {where}")
            else:
                value = c.after if c.kind is ChangeKind.ADDED else c.before
                lines.append(f"  {marks[c.kind]} {where}: {_value(value)}")
    return "\n".join(lines)
