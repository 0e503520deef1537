"""Digest a model directory into an OMS model manifest, on every core, in bounded memory.

:func:`digest_model` walks the directory (:mod:`refkit.weights.tree`), plans work units
(a whole file in ``files`` serialization, ``[start, end)`` shards of ``shard_size`` bytes
in ``shards`` serialization, exactly model_signing's shard boundaries), and hashes them
through the one bounded pool, :func:`refkit.hashing.map_ordered`: at most one buffer of
:data:`refkit.hashing.REGION_BUFFER` per worker, whatever the model size. Units are
planned in model_signing's resource order, so the output is deterministic whatever order
workers finish in.

A file is opened, its identity (size, mtime_ns, inode, device) compared with what the
walk saw, read, then compared again: a file that changes while it is hashed fails the
run (:class:`FileChanged`) instead of publishing a digest of a moving target.

BLAKE3 follows model_signing: no shards (the blake3 package hashes one buffer on several
threads), so ``shards`` with blake3 gives a ``files`` manifest. Empty files have a digest
in ``files`` serialization and no resource at all in ``shards`` serialization, as in
model_signing.

The incremental cache (:mod:`refkit.weights.cache`) is opt-in and only for producing a
manifest; verification never passes one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from refkit.errors import InputError, input_os_error
from refkit.hashing import RegionChanged, default_workers, digest_region, map_ordered
from refkit.weights.oms import (
    GIT_PATHS,
    HASH_TYPES,
    METHOD_FILES,
    METHOD_SHARDS,
    ModelManifest,
    Resource,
    resource_algorithm,
    shard_name,
    sort_key,
)
from refkit.weights.tree import FileEntry, normalise_ignore, walk

if TYPE_CHECKING:
    from refkit.weights.cache import DigestCache

#: The names ``--algorithm`` takes, model_signing's spelling, to the hash type recorded.
ALGORITHMS = {"sha256": "sha256", "blake2": "blake2b", "blake3": "blake3", "sha384": "sha384"}

#: blake3 hashes a file on several threads from this size on.
_BLAKE3_THREADED = 16 << 20

Progress = Callable[[int], None]


class FileChanged(InputError):
    """A file changed (size, time, identity) while it was being hashed."""


@dataclass(frozen=True)
class _Unit:
    entry: FileEntry
    start: int
    end: int
    name: str


def hash_type_of(algorithm: str) -> str:
    """The hash type recorded for an ``--algorithm`` value (``blake2`` is ``blake2b``)."""
    if algorithm in ALGORITHMS:
        return ALGORITHMS[algorithm]
    if algorithm in HASH_TYPES:
        return algorithm
    raise InputError(
        f"unknown hash algorithm {algorithm!r}",
        hint=f"choose one of {', '.join(ALGORITHMS)}",
    )


def effective_ignore(
    root: Path, ignore: Sequence[str], *, ignore_git: bool = True
) -> tuple[str, ...]:
    """The ignore entries a manifest records: the user's (relative to ``root``; entries
    outside it are dropped, as model_signing does) and, by default, git's paths."""
    out: list[str] = []
    for entry in ignore:
        p = Path(entry)
        if p.is_absolute():
            if not p.is_relative_to(root.absolute()):
                continue
            p = p.relative_to(root.absolute())
        text = p.as_posix()
        if text == ".." or text.startswith("../"):
            continue
        out.append(text)
    if ignore_git:
        out.extend(GIT_PATHS)
    return normalise_ignore(out)


def plan(entries: Sequence[FileEntry], method: str, shard_size: int | None) -> list[_Unit]:
    """Work units in model_signing's resource order."""
    units: list[_Unit] = []
    for e in entries:
        if method == METHOD_FILES:
            units.append(_Unit(e, 0, e.size, e.name))
            continue
        assert shard_size is not None
        start = 0
        while start < e.size:
            end = min(start + shard_size, e.size)
            units.append(_Unit(e, start, end, shard_name(e.name, start, end)))
            start = end
    units.sort(key=lambda u: sort_key(u.name, method))
    return units


class _Meter:
    """Serialises progress calls from worker threads."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._lock = threading.Lock()

    def __call__(self, count: int) -> None:
        if self._progress is not None:
            with self._lock:
                self._progress(count)


def _hash_unit(unit: _Unit, hash_type: str, meter: _Meter) -> str:
    e = unit.entry
    try:
        fd = os.open(e.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise input_os_error(exc, e.path) from exc
    try:
        if not e.same_file(os.fstat(fd)):
            raise _changed(e)
        threads = -1 if hash_type == "blake3" and e.size >= _BLAKE3_THREADED else 1
        try:
            digest = digest_region(
                fd, unit.start, unit.end, hash_type, threads=threads, progress=meter
            )
        except RegionChanged:
            raise _changed(e) from None
        except OSError as exc:
            raise input_os_error(exc, e.path) from exc
        if not e.same_file(os.fstat(fd)):
            raise _changed(e)
    finally:
        os.close(fd)
    return digest.hex()


def _changed(e: FileEntry) -> FileChanged:
    return FileChanged(
        f"{e.name}: the file changed while it was being hashed",
        hint="digest a model only when nothing writes to it; no digest was published",
    )


def digest_model(
    root: Path,
    *,
    algorithm: str = "sha256",
    shard_size: int | None = None,
    ignore: Sequence[str] = (),
    ignore_git: bool = True,
    allow_symlinks: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
    on_total: Progress | None = None,
    cache: DigestCache | None = None,
    name: str | None = None,
) -> ModelManifest:
    """The OMS model manifest of the model directory ``root``.

    ``algorithm``: sha256 (default), blake2 (recorded as blake2b), blake3, sha384.
    ``shard_size``: None for ``files`` serialization, else the shard size in bytes
    (``shards`` serialization; ignored for blake3, as model_signing does). ``ignore``:
    relative paths (or globs) left out, recorded in the manifest with git's paths unless
    ``ignore_git`` is false. ``progress`` is called with byte counts as they are hashed
    (from worker threads, serialised); ``on_total`` once, before, with the byte count the
    run will report (cached files included), for a progress bar. ``cache``: an opt-in
    incremental cache; files it supplies are listed in the result's ``cached``.
    """
    hash_type = hash_type_of(algorithm)
    if shard_size is not None and shard_size < 1:
        raise InputError(f"shard size {shard_size} must be at least 1 byte")
    method = METHOD_SHARDS if shard_size is not None and hash_type != "blake3" else METHOD_FILES
    if method == METHOD_FILES:
        shard_size = None
    ignored = effective_ignore(root, ignore, ignore_git=ignore_git)
    entries = walk(root, ignore=ignored, allow_symlinks=allow_symlinks)
    algo = resource_algorithm(hash_type, method, shard_size)
    if on_total is not None:
        on_total(sum(e.size for e in entries))

    cached_names: list[str] = []
    resources: list[Resource] = []
    todo = entries
    if cache is not None:
        todo = []
        for e in entries:
            hit = cache.lookup(e, algo)
            if hit is None:
                todo.append(e)
            else:
                cached_names.append(e.name)
                resources.extend(hit)
                if progress is not None:
                    progress(e.size)

    units = plan(todo, method, shard_size)
    meter = _Meter(progress)
    count = workers if workers is not None else default_workers()
    digests: Iterator[str] = map_ordered(
        lambda u: _hash_unit(u, hash_type, meter), units, workers=count
    )
    fresh = [Resource(u.name, algo, d) for u, d in zip(units, digests, strict=True)]
    resources.extend(fresh)
    if cache is not None:
        by_file: dict[str, list[Resource]] = {}
        for u, r in zip(units, fresh, strict=True):
            by_file.setdefault(u.entry.name, []).append(r)
        for e in todo:
            cache.store(e, algo, by_file.get(e.name, []))
    model_name = root.name or os.path.basename(os.path.realpath(root))
    return ModelManifest.build(
        name=name or model_name,
        method=method,
        hash_type=hash_type,
        shard_size=shard_size,
        allow_symlinks=allow_symlinks,
        ignore_paths=ignored,
        resources=resources,
        cached=cached_names,
    )
