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

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from refkit.errors import EnvironmentProblem, InputError, RefkitError
from refkit.hashing import sha256_stream
from refkit.inputs.cache import InputCache, default_cache_dir
from refkit.inputs.debian import ByteProgress, DownloadFailed
from refkit.inputs.errors import DigestMismatch, MissingInputs, Unavailable
from refkit.inputs.fetchers import Fetcher, default_fetcher, looks_gone
from refkit.inputs.lock import (
    MAX_INPUT_SIZE,
    DebianPackage,
    LockedInput,
    PythonDistribution,
    normalize_member_path,
)
from refkit.inputs.store import LocalStore, open_regular, open_verified

__all__ = [
    "default_cache_dir",
    "default_fetcher",
    "download_into_cache",
    "file_name",
    "resolve_input",
    "resolve_member",
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
            # Checked while it is copied: what lands in the cache is what was hashed.
            with open_regular(found.path) as handle:
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


def resolve_member(
    item: DebianPackage,
    member: str,
    *,
    mirrors: Sequence[Path],
    cache_dir: Path,
    offline: bool,
    fetcher: Fetcher | None = None,
    on_skip: Callable[[Path, str], None] | None = None,
    progress: ByteProgress | None = None,
) -> Path:
    """A verified local copy of one file inside a pinned Debian package (``member`` as
    ``dpkg-deb -c`` lists it, with or without ``./``; a link is followed inside the
    package, as ``inputs fetch`` does).

    The file is extracted once into the cache (``members/<package sha256>/...``), next to
    a record of its sha256; each later call checks the cached copy against the lock's
    ``extract`` pin when the lock has one for this member, else against that record, and
    extracts again when it differs. The package itself comes from :func:`resolve_input`.
    """
    from refkit.atomic import Batch
    from refkit.inputs.deb import extract_files

    path = normalize_member_path(member)
    if path is None:
        raise InputError(
            f"{member[:80]!r} is not a path inside {item.label}",
            hint="write it like usr/lib/os-release: relative, no ..",
        )
    pinned = next((s for s in item.extract if s.path == path), None)
    cache = InputCache(cache_dir)
    digest_of_path = hashlib.sha256(path.encode()).hexdigest()[:32]
    place = cache.root / "members" / item.sha256 / digest_of_path
    target = place / path.rsplit("/", 1)[-1]
    record = place / "sha256"
    want = pinned.sha256 if pinned is not None else _read_record(record)
    if want is not None and _has_digest(target, want):
        return target
    deb = resolve_input(
        item,
        mirrors=mirrors,
        cache_dir=cache_dir,
        offline=offline,
        fetcher=fetcher,
        on_skip=on_skip,
        progress=progress,
    )
    try:
        place.mkdir(parents=True, exist_ok=True)
        with (
            open_verified(deb, sha256=item.sha256, size=item.size, what="cached package") as handle,
            Batch() as batch,
        ):
            sink = batch.add(target, mode=0o444, replace=True)
            limit = pinned.size if pinned is not None else MAX_INPUT_SIZE
            got = extract_files(handle, {path: sink}, source=str(deb), limits={path: limit})[path]
            if pinned is not None and (got.size, got.sha256) != (pinned.size, pinned.sha256):
                raise DigestMismatch(
                    f"{path} extracted from {item.label} has {got.size} bytes, sha256 "
                    f"{got.sha256}; the lock pins {pinned.size} bytes, sha256 {pinned.sha256}",
                    hint="the package matched its pin, so the lock's extract entry is wrong",
                )
            rec = batch.add(record, mode=0o444, replace=True)
            rec.write(got.sha256.encode())
            batch.commit()
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot write into the input cache {cache.root}: {exc.strerror or exc}"
        ) from exc
    return target


def _read_record(record: Path) -> str | None:
    try:
        text = record.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) == 64 else None


def _has_digest(path: Path, sha256: str) -> bool:
    try:
        with open_regular(path) as handle:
            _size, got = sha256_stream(handle)
    except OSError:
        return False
    return got == sha256
