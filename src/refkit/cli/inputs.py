"""``refkit inputs``: fetch the inputs a lock pins, and check an output directory.

Thin layer: parse options, call :func:`refkit.inputs.fetch` / :func:`refkit.inputs.check`,
render the result (text or ``--json`` on stdout, progress on stderr).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never

import click

from refkit.cli._options import json_option
from refkit.cli._output import emit_json, emit_text, note
from refkit.errors import VerificationFailed
from refkit.inputs import (
    CheckResult,
    FetchResult,
    LockedInput,
    OriginKind,
    Progress,
    Stage,
    check,
    fetch,
    load_lock,
)
from refkit.inputs.resolve import file_name

_path = click.Path(path_type=Path)


@click.group()
def inputs() -> None:
    """Fetch and check the pinned inputs of a build (Debian packages and files in them,
    Python distributions, plain files by URL).

    \b
    An inputs lock pins every input by name, version and sha256. `fetch` takes each
    input from the download cache or the --inputs directories when a file with the
    pinned sha256 is there (file names do not matter), otherwise downloads it (apt-get
    download or the Debian pool, pip download, the URL) into the cache, checks it, and
    puts the pinned files into --out, checking each one's sha256. `lock` checks that a
    recipe's inputs are pinned, and with --update re-pins them on purpose.

    \b
    Example:
      refkit inputs fetch images/demo/inputs.lock.json --inputs ../shared/inputs --out build/demo
      refkit inputs verify images/demo/inputs.lock.json --out build/demo
      refkit inputs pin ovmf-amdsev_2026.08+ds-2_all.deb --suite sid \\
        --extract usr/share/ovmf/OVMF.amdsev.fd=OVMF.amdsev.fd --lock inputs.lock.json
      refkit inputs lock images/demo/recipe.yaml --update --dry-run
    """


if TYPE_CHECKING:
    from refkit.inputs.fetchers import Fetcher
    from refkit.verification import Verdict


class _ProgressPrinter:
    """Renders library progress events on stderr; download bytes every 10 percent.

    With ``facts`` False, the events that the result printed on stdout states again
    (found, reused, downloaded, written) are left out: on a terminal, where both streams
    show, each fact is printed once.
    """

    _FACTS = frozenset({Stage.FOUND, Stage.REUSED, Stage.DOWNLOADED, Stage.WRITTEN})

    def __init__(self, *, facts: bool = True) -> None:
        self._last_tenth: dict[str, int] = {}
        self._facts = facts

    def __call__(self, event: Progress) -> None:
        stage = event.stage
        if not self._facts and stage in self._FACTS:
            return
        if stage is Stage.SKIPPED:
            note(f"skipping {event.subject}: {event.detail}")
        elif stage is Stage.REUSED:
            note(f"{event.subject}: files already in {event.detail} with the pinned sha256")
        elif stage is Stage.FOUND:
            note(f"{event.subject}: found {event.detail}")
        elif stage is Stage.DOWNLOADING:
            note(f"{event.subject}: not found locally, downloading {event.detail}")
        elif stage is Stage.BYTES:
            if event.done is not None and event.total:
                tenth = min(10, event.done * 10 // event.total)
                if tenth > self._last_tenth.get(event.subject, -1):
                    self._last_tenth[event.subject] = tenth
                    note(f"  {event.done}/{event.total} bytes ({tenth * 10}%)")
        elif stage is Stage.DOWNLOAD_FAILED:
            note(f"{event.subject}: download failed: {event.detail}")
        elif stage is Stage.DOWNLOADED:
            note(f"{event.subject}: downloaded from {event.detail}")
        elif stage is Stage.WRITTEN:
            note(f"wrote {event.subject} (sha256 {event.detail})")
        else:
            assert_never(stage)


@inputs.command("fetch")
@click.argument("lock", type=_path)
@click.option(
    "--inputs",
    "search_dirs",
    # Not click's readable check: an unreadable directory is reported and skipped.
    type=click.Path(path_type=Path, readable=False),
    multiple=True,
    metavar="DIR",
    help="Directory to search for pinned packages by sha256 (repeatable, searched in order).",
)
@click.option(
    "--out", "out_dir", type=_path, required=True, metavar="DIR", help="Output directory."
)
@click.option("--offline", is_flag=True, help="Never download: use only the --inputs directories.")
@click.option(
    "--force", is_flag=True, help="Replace output files whose content differs from the lock."
)
@click.option(
    "--archive",
    "archives",
    multiple=True,
    metavar="URI",
    help="Debian archive URI to download from (repeatable); default: the Debian archives "
    "in this machine's apt sources.",
)
@click.option(
    "--cache-dir",
    type=_path,
    metavar="DIR",
    help="Content-addressed download cache, searched first and kept between runs "
    "(default: $XDG_CACHE_HOME/refkit/inputs).",
)
@json_option
def fetch_command(
    lock: Path,
    search_dirs: tuple[Path, ...],
    out_dir: Path,
    offline: bool,
    force: bool,
    archives: tuple[str, ...],
    cache_dir: Path | None,
    as_json: bool,
) -> None:
    """Put the files pinned by LOCK into --out, from --inputs or by download.

    \b
    Exit codes:
      0  every pinned file is in --out with its pinned sha256
      1  an extracted file does not match the lock
      2  bad lock or package, or a file in --out with other content (see --force)
      3  a pinned package was neither found nor downloaded (named, with version and
         sha256), or --out cannot be created or written

    \b
    Examples:
      refkit inputs fetch images/demo/inputs.lock.json --inputs ../shared/inputs --out build/demo
      refkit inputs fetch inputs.lock.json --out build --offline --inputs /media/usb/debs
    """
    from refkit.inputs.cache import default_cache_dir

    parsed = load_lock(lock)
    fetcher = None
    if not offline:
        fetcher = _default_fetcher(archives)
    elif archives:
        raise click.UsageError("--archive and --offline contradict each other")
    result = fetch(
        parsed,
        list(search_dirs),
        out_dir,
        downloader=None,
        fetcher=fetcher,
        cache_dir=cache_dir if cache_dir is not None else default_cache_dir(),
        # The text result repeats the facts; where it shows on the same terminal as the
        # log, the log keeps only progress, skips and failures.
        progress=_ProgressPrinter(facts=as_json or not _stdout_is_terminal()),
        force=force,
    )
    if as_json:
        emit_json(fetch_to_json(result))
    else:
        emit_text(_fetch_text(result))


def _default_fetcher(archives: tuple[str, ...]) -> Fetcher:
    """apt-get download / the archive pool, pip download, and URLs: only `inputs fetch`
    (and a rebuild that is not offline) download anything."""
    from refkit.inputs import debian
    from refkit.inputs.fetchers import DebianFetcher, KindFetcher, PipFetcher, UrlFileFetcher

    return KindFetcher(
        debian=DebianFetcher(debian.default_downloader(archives)),
        python=PipFetcher(),
        file=UrlFileFetcher(),
    )


def _stdout_is_terminal() -> bool:
    import sys

    return sys.stdout.isatty()


def fetch_to_json(result: FetchResult) -> dict[str, Any]:
    return {
        "lock": result.lock_source,
        "out": str(result.out_dir),
        "inputs": [
            {
                "kind": _kind(item.package),
                "name": item.package.name,
                "version": getattr(item.package, "version", None),
                "architecture": getattr(item.package, "architecture", None),
                "filename": file_name(item.package),
                "size": item.package.size,
                "sha256": item.package.sha256,
                "origin": {
                    "kind": item.origin.kind.value,
                    "location": item.origin.location,
                    "path": item.origin.path,
                },
                "outputs": [
                    {
                        "output": out.output,
                        "path": str(out.path),
                        "member": out.member,
                        "size": out.size,
                        "sha256": out.sha256,
                        "status": out.status.value,
                    }
                    for out in item.outputs
                ],
            }
            for item in result.inputs
        ],
    }


def _kind(item: LockedInput) -> str:
    from refkit.inputs.lock import item_to_json

    return str(item_to_json(item)["kind"])


def _origin_text(kind: OriginKind, location: str, path: str | None) -> str:
    if kind is OriginKind.OUTPUT:
        return f"already in {location}"
    if kind is OriginKind.LOCAL:
        return f"from {path}"
    if kind is OriginKind.CACHE:
        return f"from the download cache ({path})"
    if kind is OriginKind.DOWNLOAD:
        return f"downloaded from {location}"
    assert_never(kind)


def _fetch_text(result: FetchResult) -> str:
    lines = []
    for item in result.inputs:
        origin = _origin_text(item.origin.kind, item.origin.location, item.origin.path)
        lines.append(f"{item.package.label}: {origin}")
        lines.extend(
            f"  {out.path}  sha256 {out.sha256}  ({out.status.value})" for out in item.outputs
        )
    return "\n".join(lines)


@inputs.command("verify")
@click.argument("lock", type=_path)
@click.option(
    "--out", "out_dir", type=_path, required=True, metavar="DIR", help="Directory to check."
)
@json_option
def verify_command(lock: Path, out_dir: Path, as_json: bool) -> None:
    """Check that --out holds every file LOCK pins, with the pinned sha256.

    Reads only --out (no packages, no network). One line per file: PASS, or FAIL with its
    code (inputs.file.missing, inputs.digest.mismatch; docs/codes.md). Exit 0 if all
    match, 1 if any file is missing or differs, 2 for a bad lock.

    \b
    Example:
      refkit inputs verify images/demo/inputs.lock.json --out build/demo --json
    """
    result = check(load_lock(lock), out_dir)
    verdict = result.verdict()
    from refkit.cli._report import emit_report  # only verify draws a report

    emit_report(
        verdict,
        as_json=as_json,
        document=check_to_json(result, verdict),
        facts=[("lock", result.lock_source)],
    )
    if not verdict.results:
        raise VerificationFailed(f"{lock} pins no files: nothing was verified")
    if not verdict.ok:
        bad = [o.output for o, r in zip(result.outputs, verdict.results, strict=True) if r.fails]
        raise VerificationFailed(
            f"{len(bad)} of {len(result.outputs)} pinned files in {out_dir} are missing or "
            f"differ from {lock}: {', '.join(bad)}",
            hint=f"run `refkit inputs fetch {lock} --out {out_dir}` (with --force to replace)",
        )


def check_to_json(result: CheckResult, verdict: Verdict) -> dict[str, Any]:
    """The verdict's JSON form (docs/signing.md, *Verification results*) plus the lock's
    view: ``lock``, ``out`` and ``outputs`` (status ok / missing / different)."""
    return {
        **verdict.to_json(),
        "lock": result.lock_source,
        "out": str(result.out_dir),
        "outputs": [
            {
                "output": o.output,
                "path": str(o.path),
                "status": o.status.value,
                "code": r.code,
                "size": o.expected_size,
                "sha256": o.expected_sha256,
            }
            for o, r in zip(result.outputs, verdict.results, strict=True)
        ],
    }


def _extract_pair(text: str) -> tuple[str, str]:
    """``PATH[=OUTPUT]``; PATH may be written as `dpkg-deb -c` lists it (``./usr/...``)."""
    from refkit.inputs.lock import normalize_member_path

    raw, sep, output = text.partition("=")
    member = normalize_member_path(raw)
    if member is None:
        raise click.BadParameter(
            f"{raw!r} is not a path inside the package (no '..', not absolute)",
            param_hint="--extract",
        )
    return member, (output if sep else member.rsplit("/", 1)[-1])


@inputs.command("pin")
@click.argument("deb", type=_path)
@click.option("--suite", required=True, help="Suite the version was taken from (sid, trixie).")
@click.option("--component", default="main", show_default=True, help="Archive component.")
@click.option(
    "--extract",
    "extract",
    multiple=True,
    metavar="PATH[=OUTPUT]",
    help="A file to extract: its path in the package and the output name (default: its "
    "base name). Repeatable.",
)
@click.option(
    "--lock",
    "lock_path",
    type=_path,
    metavar="FILE",
    help="Add the entry to this lock (created if absent; an entry with the same name and "
    "architecture is replaced). Without it, print a lock holding only this entry.",
)
def pin_command(
    deb: Path, suite: str, component: str, extract: tuple[str, ...], lock_path: Path | None
) -> None:
    """Pin the package file DEB: identity from its control file, digests from its bytes.

    Every digest is computed here, from DEB and from the files extracted from it; check
    that DEB is the genuine package (e.g. against the archive's signed index) before
    pinning it.

    \b
    Examples:
      refkit inputs pin ovmf-amdsev_2026.08+ds-2_all.deb --suite sid \\
        --extract usr/share/ovmf/OVMF.amdsev.fd=OVMF.amdsev.fd --lock inputs.lock.json
      refkit inputs pin hello_2.10-3_amd64.deb --suite trixie    # print a one-entry lock
    """
    from refkit.inputs.lock import Lock, dumps_lock
    from refkit.inputs.pin import add_to_lock, pin_deb

    package = pin_deb(
        deb, suite=suite, component=component, extract=[_extract_pair(e) for e in extract]
    )
    if lock_path is None:
        emit_text(dumps_lock(Lock((package,))).rstrip("\n"))
        return
    absent = _stat_mode(lock_path) is None  # unreadable counts as present: load_lock says why
    current = Lock((), source=str(lock_path)) if absent else load_lock(lock_path)
    updated = add_to_lock(current, package)
    _write_atomically(lock_path, dumps_lock(updated))
    note(f"pinned {package.label} (sha256 {package.sha256}) in {lock_path}")


def _stat_mode(path: Path) -> int | None:
    """The file mode; None if nothing is there; -1 if it cannot be looked at (permissions:
    the read or write that follows reports it)."""
    try:
        return os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return -1


def _write_atomically(path: Path, text: str) -> None:
    from refkit.atomic import write_file

    write_file(path, text.encode("utf-8"), mode=0o644, force=True)


@inputs.command("lock")
@click.argument("recipe", type=_path)
@click.option(
    "--update",
    is_flag=True,
    help="Re-resolve every pin the recipe uses to the newest version offered, download and "
    "hash it, print the diff and rewrite the lock.",
)
@click.option("--dry-run", is_flag=True, help="With --update: print the diff, keep the lock.")
@click.option(
    "--cache-dir",
    type=_path,
    metavar="DIR",
    help="Download cache that keeps the newly pinned files "
    "(default: $XDG_CACHE_HOME/refkit/inputs).",
)
@json_option
def lock_command(
    recipe: Path, update: bool, dry_run: bool, cache_dir: Path | None, as_json: bool
) -> None:
    """Check that the inputs lock of RECIPE pins every input the recipe uses; with
    --update, re-pin them on purpose and show what changed.

    Without --update nothing is downloaded: exit 0 when every `lock:` name in the recipe's
    artifacts is pinned exactly once, 2 otherwise (naming them). With --update each pin
    is resolved again (Debian packages: apt-get's candidate; Python distributions: the
    newest file with the same tags; plain files: the URL's current bytes), its bytes are
    kept in the download cache, and the lock is rewritten atomically.

    \b
    Examples:
      refkit inputs lock images/demo/recipe.yaml
      refkit inputs lock images/demo/recipe.yaml --update --dry-run
    """
    from refkit.errors import InputError
    from refkit.inputs import update as upd
    from refkit.inputs.cache import InputCache, default_cache_dir
    from refkit.inputs.lock import dumps_lock

    if dry_run and not update:
        raise click.UsageError("--dry-run only goes with --update")
    found = upd.recipe_lock_names(recipe)
    current = load_lock(found.lock)
    missing, ambiguous = upd.coverage(current, found.names)
    if ambiguous:
        raise InputError(
            f"{found.lock} pins {', '.join(ambiguous)} more than once; the recipe cannot say "
            "which one it means"
        )
    if not update:
        if missing:
            raise InputError(
                f"{found.lock} does not pin {', '.join(missing)}, which {recipe} uses",
                hint="pin each one (refkit inputs pin for a Debian package) and run again",
            )
        pinned = [item for name in found.names for item in current.named(name)]
        if as_json:
            emit_json(
                {
                    "recipe": str(recipe),
                    "lock": str(found.lock),
                    "pins": [
                        {"name": i.name, "kind": _kind(i), "sha256": i.sha256} for i in pinned
                    ],
                }
            )
        else:
            emit_text("\n".join(f"{i.label}: pinned, sha256 {i.sha256}" for i in pinned))
        return
    cache = InputCache(cache_dir if cache_dir is not None else default_cache_dir())
    updated, changes = upd.update_lock(current, found.names, upd.default_resolver(), cache)
    if as_json:
        emit_json(
            {
                "recipe": str(recipe),
                "lock": str(found.lock),
                "written": not dry_run and any(c.changed for c in changes),
                "changes": upd.changes_to_json(changes),
            }
        )
    else:
        emit_text("\n".join(upd.describe(c) for c in changes) or "nothing to update")
    if not dry_run and any(c.changed for c in changes):
        _write_atomically(found.lock, dumps_lock(updated))
        note(f"updated {found.lock}: {sum(c.changed for c in changes)} pins changed")
