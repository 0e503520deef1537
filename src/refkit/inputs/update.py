"""Re-resolving a lock's pins on purpose: ``refkit inputs lock RECIPE [--update]``.

A recipe (``refkit.builders.recipe`` owns its format) names a lock and, in each artifact's
``inputs``, lock entries by name (``{lock: NAME}`` or ``{lock: [NAMES]}``). Only those
two things are read here, so this module does not depend on the rest of the recipe.

* :func:`recipe_lock_names` reads them;
* :func:`coverage` says which referenced names the lock does not pin (a missing pin);
* :func:`update_lock` asks a :class:`Resolver` for the newest offered version of every
  referenced entry and returns the new lock and the list of changes (the diff).

Invariants: a pin changes only here, only on purpose; every new pin is computed from bytes
that were downloaded and hashed (the resolver returns a complete entry, checked by the
same lock validation as a file read from disk), and those bytes are kept in the download
cache, so the updated lock can be fetched offline afterwards. Nothing is written here; the
caller writes the lock atomically.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Protocol

from refkit.errors import EnvironmentProblem, InputError
from refkit.hashing import sha256_stream
from refkit.inputs.cache import InputCache
from refkit.inputs.debian import APT_GET_TIMEOUT, DownloadFailed, UrlFetcher, UrllibFetcher
from refkit.inputs.fetchers import PIP_TIMEOUT, pip_download_args, pip_option
from refkit.inputs.lock import (
    MAX_INPUT_SIZE,
    DebianPackage,
    Lock,
    LockedInput,
    PlainFile,
    PythonDistribution,
    lock_to_json,
    parse_lock,
    python_filename_parts,
)
from refkit.reader import Obj, fail
from refkit.yamlio import load_yaml

#: Largest recipe read here (bytes).
MAX_RECIPE_BYTES: Final = 4 * 1024 * 1024


@dataclass(frozen=True)
class RecipeLocks:
    """What a recipe says about its inputs lock."""

    recipe: Path
    lock: Path
    """The lock file, resolved relative to the recipe's directory."""
    names: tuple[str, ...]
    """Every lock entry name the artifacts refer to, first use first, each once."""


def recipe_lock_names(recipe: Path) -> RecipeLocks:
    """The lock path and the lock entry names a recipe refers to."""
    source = str(recipe)
    try:
        data = recipe.read_bytes()
    except FileNotFoundError:
        raise InputError(f"recipe not found: {recipe}") from None
    except OSError as exc:
        raise InputError(f"cannot read recipe {recipe}: {exc.strerror or exc}") from exc
    top = Obj(load_yaml(data, source=source, max_bytes=MAX_RECIPE_BYTES), source=source, path="$")
    lock_rel = top.text("lock")
    artifacts = top.raw("artifacts", required=True)
    if not isinstance(artifacts, dict):
        raise top.fail("artifacts", "expected an object of artifacts")
    names: dict[str, None] = {}
    for artifact, spec in artifacts.items():
        art = Obj(spec, source=source, path=f"$.artifacts.{artifact}")
        inputs = art.raw("inputs")
        if inputs is None:
            continue
        ins = art.child(inputs, art.at("inputs"))
        for key, value in ins.value.items():
            if not isinstance(value, dict) or "lock" not in value:
                continue
            ref = value["lock"]
            where = f"{ins.at(key)}.lock"
            refs = ref if isinstance(ref, list) else [ref]
            if not refs or not all(isinstance(r, str) and r for r in refs):
                raise fail(source, where, "expected a lock entry name or a list of names")
            names.update(dict.fromkeys(refs))
    return RecipeLocks(recipe, recipe.parent / lock_rel, tuple(names))


def coverage(lock: Lock, names: Sequence[str]) -> tuple[list[str], list[str]]:
    """(names the lock does not pin, names it pins more than once)."""
    missing = [n for n in names if not lock.named(n)]
    ambiguous = [n for n in names if len(lock.named(n)) > 1]
    return missing, ambiguous


class Resolver(Protocol):
    """Finds the newest offered version of a pinned input and pins it (tests use fakes)."""

    def latest(self, item: LockedInput, cache: InputCache) -> LockedInput:
        """A complete new entry for ``item`` (possibly equal to it); its bytes are added
        to ``cache``. Raises :class:`DownloadFailed`."""
        ...


@dataclass(frozen=True)
class Change:
    old: LockedInput
    new: LockedInput

    @property
    def changed(self) -> bool:
        return self.old != self.new


def update_lock(
    lock: Lock, names: Sequence[str] | None, resolver: Resolver, cache: InputCache
) -> tuple[Lock, tuple[Change, ...]]:
    """Re-resolve every entry ``names`` refers to (every entry of the lock when ``names``
    is None; none when it is empty); the new lock keeps the order and every other entry."""
    missing, _ambiguous = coverage(lock, names or ())
    if missing:
        raise InputError(
            f"{lock.source} does not pin {', '.join(missing)}, which the recipe uses",
            hint="pin each one first (inputs pin for a Debian package), then update",
        )
    wanted = None if names is None else {id(item) for n in names for item in lock.named(n)}
    changes: list[Change] = []
    inputs: list[LockedInput] = []
    for item in lock.inputs:
        if wanted is not None and id(item) not in wanted:
            inputs.append(item)
            continue
        new = resolver.latest(item, cache)
        changes.append(Change(item, new))
        inputs.append(new)
    updated = replace(lock, inputs=tuple(inputs))
    # The same validation as a lock read from disk (duplicate pins, output names...).
    data = _json_bytes(updated)
    return parse_lock(data, source=lock.source), tuple(changes)


def _json_bytes(lock: Lock) -> bytes:
    import json

    return json.dumps(lock_to_json(lock)).encode()


def describe(change: Change) -> str:
    """One diff line: ``= name version`` unchanged, ``~ name: old -> new`` changed."""
    old, new = change.old, change.new
    if not change.changed:
        return f"= {old.label} (unchanged)"
    parts = []
    old_v, new_v = getattr(old, "version", None), getattr(new, "version", None)
    if old_v != new_v:
        parts.append(f"version {old_v} -> {new_v}")
    if old.sha256 != new.sha256:
        parts.append(f"sha256 {old.sha256} -> {new.sha256}")
    if old.size != new.size:
        parts.append(f"size {old.size} -> {new.size}")
    if isinstance(old, DebianPackage) and isinstance(new, DebianPackage):
        for a, b in zip(old.extract, new.extract, strict=False):
            if a.sha256 != b.sha256:
                parts.append(f"{a.output} sha256 {a.sha256} -> {b.sha256}")
    return f"~ {old.name}: " + ", ".join(parts or ["entry rewritten"])


# --------------------------------------------------------------------------- resolvers


def _hash_into_cache(path: Path, cache: InputCache, what: str) -> tuple[int, str]:
    with path.open("rb") as handle:
        size, sha256 = sha256_stream(handle, limit=MAX_INPUT_SIZE)
        if size > MAX_INPUT_SIZE:
            raise DownloadFailed(f"{what}: larger than {MAX_INPUT_SIZE} bytes")
        handle.seek(0)
        cache.add(handle, sha256, size, what=what)
    return size, sha256


def _run(
    run: Callable[..., subprocess.CompletedProcess[str]],
    argv: list[str],
    cwd: str,
    timeout: float,
    shown: str,
) -> None:
    try:
        done = run(
            argv,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except subprocess.TimeoutExpired:
        raise DownloadFailed(f"{shown}: no answer within {timeout:.0f} s") from None
    except OSError as exc:
        raise DownloadFailed(f"{shown}: {exc}") from exc
    if done.returncode != 0:
        lines = [ln.strip() for ln in (done.stderr or "").splitlines() if ln.strip()]
        raise DownloadFailed(f"{shown}: {lines[-1] if lines else done.returncode}")


class DefaultResolver:
    """apt-get's candidate for packages, the newest ``pip download`` for distributions (a
    file with the same tags), the URL's current bytes for plain files."""

    def __init__(
        self,
        *,
        run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
        url_fetcher: UrlFetcher | None = None,
        python: str = sys.executable,
    ) -> None:
        self.run = run
        self.url_fetcher: UrlFetcher = url_fetcher or UrllibFetcher()
        self.python = python

    def latest(self, item: LockedInput, cache: InputCache) -> LockedInput:
        work_root = cache.root / "tmp"
        try:
            work_root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="update-", dir=work_root) as work:
                if isinstance(item, DebianPackage):
                    return self._debian(item, Path(work), cache)
                if isinstance(item, PythonDistribution):
                    return self._python(item, Path(work), cache)
                return self._file(item, Path(work), cache)
        except OSError as exc:  # the cache's disk: full, read-only, permissions
            raise EnvironmentProblem(
                f"cannot re-pin {item.label} in {cache.root}: {exc.strerror or exc}",
                hint="set XDG_CACHE_HOME to a writable directory",
            ) from exc

    def _debian(self, item: DebianPackage, work: Path, cache: InputCache) -> DebianPackage:
        from refkit.inputs.pin import pin_deb

        apt_get = shutil.which("apt-get")
        if apt_get is None:
            raise DownloadFailed("apt-get not found")
        arch = "" if item.architecture == "all" else f":{item.architecture}"
        shown = f"apt-get download {item.name}{arch}"
        _run(
            self.run,
            [apt_get, "download", "-q", f"{item.name}{arch}"],
            str(work),
            APT_GET_TIMEOUT,
            shown,
        )
        debs = sorted(work.glob("*.deb"))
        if len(debs) != 1:
            raise DownloadFailed(f"{shown}: expected one .deb, found {len(debs)}")
        new = pin_deb(
            debs[0],
            suite=item.suite,
            component=item.component,
            extract=[(s.path, s.output) for s in item.extract],
        )
        if (new.name, new.architecture) != (item.name, item.architecture):
            raise DownloadFailed(
                f"{shown}: got {new.label}, not a version of {item.name} ({item.architecture})"
            )
        _hash_into_cache(debs[0], cache, shown)
        return new

    def _python(
        self, item: PythonDistribution, work: Path, cache: InputCache
    ) -> PythonDistribution:
        args = pip_download_args(item)
        args[-1] = re.sub(r"==.*", "", args[-1])  # the newest version, same file kind/tags
        shown = f"pip download {args[-1]}"
        _run(
            self.run,
            [self.python, "-m", "pip", *args, pip_option("dest"), str(work)],
            str(work),
            PIP_TIMEOUT,
            shown,
        )
        files = sorted(p for p in work.iterdir() if python_filename_parts(p.name))
        if len(files) != 1:
            raise DownloadFailed(f"{shown}: expected one distribution file, found {len(files)}")
        parts = python_filename_parts(files[0].name)
        assert parts is not None
        size, sha256 = _hash_into_cache(files[0], cache, shown)
        return PythonDistribution(item.name, parts[1], files[0].name, size, sha256)

    def _file(self, item: PlainFile, work: Path, cache: InputCache) -> PlainFile:
        from refkit.atomic import open_output

        dest = work / "download"
        with open_output(dest, mode=0o600) as sink:
            self.url_fetcher.get(item.url, sink, limit=MAX_INPUT_SIZE, progress=lambda _d, _t: None)
        size, sha256 = _hash_into_cache(dest, cache, item.url)
        return PlainFile(item.name, item.url, size, sha256)


def default_resolver() -> Resolver:
    return DefaultResolver()


def changes_to_json(changes: Sequence[Change]) -> list[dict[str, Any]]:
    from refkit.inputs.lock import item_to_json

    return [
        {
            "name": c.old.name,
            "changed": c.changed,
            "old": item_to_json(c.old),
            "new": item_to_json(c.new),
        }
        for c in changes
    ]
