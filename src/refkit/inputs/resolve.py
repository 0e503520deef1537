"""One pinned input to a verified local file: the store API builders and rebuilds use.

:func:`resolve_input` looks, in order, in

1. the content-addressed download cache (:mod:`refkit.inputs.cache`),
2. the mirror folders, by size and sha256, whatever the file names
   (:class:`~refkit.inputs.store.LocalStore`); a hit is copied into the cache,
3. a download by the input's identity (:mod:`refkit.inputs.fetchers`), unless offline or
   no fetcher is given, straight into the cache,

and returns the cache entry's path: read-only, and checked against the pinned size and
sha256 in this call whatever its source (a cache hit is hashed again; a copy or download is
hashed while it is written). When no source has the bytes, one
:class:`~refkit.inputs.errors.MissingInputs` (exit 3) names the input, its pinned sha256,
why each source failed, and how to supply it; an input that the archive or index no longer
offers is called that.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from refkit.errors import EnvironmentProblem, RefkitError
from refkit.inputs.cache import InputCache, default_cache_dir
from refkit.inputs.debian import ByteProgress, DownloadFailed
from refkit.inputs.errors import DigestMismatch, MissingInputs, Unavailable
from refkit.inputs.fetchers import Fetcher, default_fetcher, looks_gone
from refkit.inputs.lock import DebianPackage, LockedInput, PythonDistribution
from refkit.inputs.store import LocalStore, open_verified

__all__ = [
    "default_cache_dir",
    "default_fetcher",
    "download_into_cache",
    "file_name",
    "resolve_input",
    "unavailable",
]


def file_name(item: LockedInput) -> str:
    """The file name of an input's bytes (a package's or distribution's archive name, a
    plain file's name)."""
    if isinstance(item, DebianPackage | PythonDistribution):
        return item.filename
    return item.name


def unavailable(item: LockedInput, reasons: Sequence[str]) -> Unavailable:
    """The record of an input no source supplied; ``gone`` when a download said the
    archive or index no longer offers it."""
    return Unavailable(
        item.label,
        file_name(item),
        item.sha256,
        tuple(reasons),
        gone=any(looks_gone(r) for r in reasons),
    )


def download_into_cache(
    item: LockedInput,
    cache: InputCache,
    fetcher: Fetcher,
    progress: ByteProgress,
) -> tuple[Path, str]:
    """Download ``item`` into a private directory beside the cache, check it while
    copying it into the cache, and return (cache path, where it came from).

    Raises :class:`DownloadFailed` (including for bytes other than the pinned ones)."""
    work_root = cache.root / "tmp"
    try:
        work_root.mkdir(parents=True, exist_ok=True)
        private = tempfile.TemporaryDirectory(prefix="download-", dir=work_root)
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot write into the input cache {cache.root}: {exc.strerror or exc}",
            hint="set XDG_CACHE_HOME to a writable directory",
        ) from exc
    with private as work:
        dest = Path(work, file_name(item))
        where = fetcher.fetch(item, dest, progress)
        try:
            path = cache.add_file(dest, item.sha256, item.size, what=f"the download ({where})")
        except DigestMismatch as exc:
            raise DownloadFailed(f"the download is not the pinned file: {exc.message}") from exc
    return path, where


def resolve_input(
    item: LockedInput,
    *,
    mirrors: Sequence[Path],
    cache_dir: Path,
    offline: bool,
    fetcher: Fetcher | None = None,
    on_skip: Callable[[Path, str], None] | None = None,
    progress: ByteProgress | None = None,
) -> Path:
    """A verified, read-only local path to the bytes ``item`` pins; see the module doc.

    ``fetcher`` None means no download even when not ``offline`` (the message then says
    so). ``on_skip`` hears about unreadable mirror entries; ``progress`` about download
    bytes.
    """
    cache = InputCache(cache_dir)
    hit = cache.lookup(item.sha256, item.size)
    if hit is not None:
        return hit
    reasons: list[str] = []
    store = LocalStore(list(mirrors), on_skip=on_skip)
    found = store.find(item.sha256, item.size)
    if found is not None:
        try:
            with open_verified(
                found.path, sha256=item.sha256, size=item.size, what="mirror file"
            ) as handle:
                return cache.add(handle, item.sha256, item.size, what=str(found.path))
        except (DigestMismatch, OSError) as exc:  # changed or vanished since the lookup
            reason = exc.message if isinstance(exc, RefkitError) else str(exc)
            reasons.append(f"{found.path} changed while in use: {reason}")
    dirs = ", ".join(str(d) for d in mirrors) or "none given"
    reasons.append(f"not in the cache {cache.root} nor in the mirror directories ({dirs})")
    if offline:
        reasons.append("downloads are disabled (offline)")
    elif fetcher is None:
        reasons.append("no download method was given")
    else:
        try:
            path, _where = download_into_cache(
                item, cache, fetcher, progress or (lambda _d, _t: None)
            )
        except DownloadFailed as exc:
            reasons.append(f"download failed: {exc.message}")
        else:
            return path
    raise MissingInputs([unavailable(item, reasons)], offline=offline)
