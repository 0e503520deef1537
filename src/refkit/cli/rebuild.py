"""``refkit rebuild``: build every artifact of a recipe from pinned inputs, cached.

Thin layer: parse options, read the recipe and its lock, call
:func:`refkit.builders.rebuild.rebuild`, render every artifact's digest (text or ``--json``).
Progress goes to stderr (silenced by ``-q``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from refkit.cli._options import json_option
from refkit.cli._output import emit_json, emit_text, note

if TYPE_CHECKING:
    from refkit.builders.rebuild import Event, RebuildResult


@click.command("rebuild")
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "outdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build/rebuild"),
    show_default=True,
    help="Output folder: one file or directory per artifact, and provenance/ with the "
    "in-toto links.",
)
@click.option(
    "--inputs",
    "mirrors",
    type=click.Path(file_okay=False, path_type=Path),
    multiple=True,
    help="A directory holding pinned files (found by sha256, any name); repeatable.",
)
@click.option("--offline", is_flag=True, help="Never download: use only --inputs and the cache.")
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key (PEM) that signs each step's in-toto link; unsigned without it.",
)
@click.option(
    "--passphrase-env",
    default="REFKIT_KEY_PASSPHRASE",
    show_default=True,
    help="Environment variable holding the passphrase of an encrypted --key.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Build cache (default: $XDG_CACHE_HOME/refkit/builds).",
)
@json_option
def rebuild(
    recipe: Path,
    outdir: Path,
    mirrors: tuple[Path, ...],
    offline: bool,
    key: Path | None,
    passphrase_env: str,
    cache_dir: Path | None,
    as_json: bool,
) -> None:
    """Rebuild every artifact of RECIPE, bit for bit, from its pinned inputs.

    \b
    Artifacts are built in dependency order by their named builders; work whose builder
    version, params, input digests and SOURCE_DATE_EPOCH are unchanged is taken from the
    cache. Each artifact is placed atomically in the output folder; each step's in-toto
    link goes to OUT/provenance/. Two rebuilds into one folder: the second fails at once.

    \b
    Examples:
      refkit rebuild images/demo/recipe.yaml --inputs ../shared/inputs -o build/demo-images
      refkit rebuild recipe.yaml --offline --inputs /media/usb/debs --key builder.key --json
    """
    from refkit.builders.api import load_builders
    from refkit.builders.rebuild import lock_resolver
    from refkit.builders.rebuild import rebuild as run_rebuild
    from refkit.builders.recipe import load_recipe, source_date_epoch

    builders = load_builders()
    parsed = load_recipe(recipe, builders=builders)
    lock = None
    if parsed.lock is not None:
        from refkit.inputs.lock import load_lock

        lock = load_lock(parsed.lock)
    signing_key = None
    if key is not None:
        from refkit.cli._keys import load_signing_key

        signing_key = load_signing_key(key, passphrase_env)
    result = run_rebuild(
        parsed,
        builders=builders,
        outdir=outdir,
        source_date_epoch=source_date_epoch(parsed),
        cache_dir=cache_dir,
        lock=lock,
        resolver=lock_resolver(list(mirrors), offline=offline),
        key=signing_key,
        progress=_progress,
    )
    if as_json:
        emit_json(result_document(result))
    else:
        emit_text(result_text(result))


def _progress(event: Event) -> None:
    count = f"[{event.done}/{event.total}] " if event.total else ""
    note(f"{count}{event.artifact}: {event.message}")


def result_document(result: RebuildResult) -> dict[str, Any]:
    return {
        "outdir": str(result.outdir),
        "source_date_epoch": result.source_date_epoch,
        "artifacts": [
            {
                "name": a.name,
                "builder": a.builder,
                "builder_version": a.builder_version,
                "kind": "tree" if a.tree else "file",
                "sha256": a.sha256,
                "path": str(a.path),
                "cached": a.cached,
                "link": None if a.link is None else str(a.link),
                "facts": dict(a.facts),
                "skipped": a.skipped,
            }
            for a in result.artifacts
        ],
    }


def result_text(result: RebuildResult) -> str:
    width = max((len(a.name) for a in result.artifacts), default=0)
    lines = []
    for a in result.artifacts:
        if a.skipped is not None:
            lines.append(f"{a.name:<{width}}  skipped: {a.skipped}")
            continue
        kind = "tree-sha256" if a.tree else "sha256"
        state = "cached" if a.cached else "built"
        lines.append(f"{a.name:<{width}}  {kind}:{a.sha256}  {state}  {a.path}")
    built = sum(not a.cached and a.skipped is None for a in result.artifacts)
    cached = sum(a.cached for a in result.artifacts)
    skipped = len(result.artifacts) - built - cached
    lines.append(
        f"{len(result.artifacts)} artifacts ({built} built, {cached} from the cache"
        + (f", {skipped} skipped" if skipped else "")
        + f") in {result.outdir}"
    )
    return "\n".join(lines)
