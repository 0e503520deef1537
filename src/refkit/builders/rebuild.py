"""Rebuild every artifact of a recipe: in dependency order, from pinned inputs, cached.

Steps, per artifact in :meth:`Recipe.order` order:

1. **Cache key.** sha256 of the canonical JSON of (builder name, builder version, params,
   each input's digest, SOURCE_DATE_EPOCH). Input digests are known without reading a
   pinned input: a lock input is its pinned sha256 (plus the member path), a repository
   file or directory is hashed (a directory as a :func:`tree_manifest`), another artifact
   is its output digest from this run.
2. **Cache hit** (``CACHE/builds/KEY/meta.json`` exists): nothing is built or fetched; the
   cached output is placed unless the output folder already holds those exact bytes.
3. **Cache miss**: the pinned inputs are resolved (verified local paths; fetched unless
   offline) through a :data:`Resolver`, lists become a directory of the pinned files,
   members are extracted from their ``.deb``; the builder runs in a fresh private work
   directory inside ``CACHE/builds/.tmp-PID-RANDOM``; its output is digested, the in-toto
   link made, and the whole entry renamed to ``CACHE/builds/KEY`` in one step. A build
   that is interrupted leaves only a temporary directory (removed by the next run once its
   process is gone), never an entry; the rerun resumes from the entries already made.
4. **Placement** into the output folder: a file through :mod:`refkit.atomic` (a temporary
   file beside it, then a rename), a tree copied into a temporary directory beside it and
   renamed into place; a reader never sees half an artifact under its final name. Then the
   link is written (signed when a key is given) to ``OUTDIR/provenance/``.

The output folder is locked (``flock`` on ``OUTDIR/.refkit-rebuild.lock``) for the whole
run: a second process building into the same folder fails at once with a clear error
(exit 3) instead of interleaving writes.

The library prints nothing: progress goes to the ``progress`` callback.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from refkit import __version__
from refkit.atomic import Batch, write_error, write_file
from refkit.builders.api import BuildContext, Builder, Built
from refkit.builders.provenance import link_dict, link_document, link_filename
from refkit.builders.recipe import (
    Artifact,
    ArtifactRef,
    FileRef,
    LockRef,
    Recipe,
    check_lock_names,
)
from refkit.errors import EnvironmentProblem, InputError, InternalError, RefkitError
from refkit.hashing import digest_file
from refkit.manifests.canonical import canonical_dumps

if TYPE_CHECKING:
    from refkit.inputs.lock import Lock, LockedInput
    from refkit.manifests.signing.keys import PrivateKey

#: Lock file in the output folder held while a rebuild writes into it.
LOCK_NAME: Final = ".refkit-rebuild.lock"
#: Sub-folder of the output folder holding the in-toto links.
PROVENANCE_DIR: Final = "provenance"
#: Version of the cache entry layout; part of every key.
CACHE_FORMAT: Final = 1


class Resolver(Protocol):
    """Turns a pinned input of the lock into a verified local path (fetching if allowed)."""

    def __call__(self, item: LockedInput) -> Path: ...


@dataclass(frozen=True)
class Event:
    """A progress report: which artifact, what happens, optional (done, total) counts."""

    artifact: str
    message: str
    done: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class ArtifactResult:
    name: str
    builder: str
    builder_version: str
    tree: bool
    sha256: str
    """A file's sha256; for a tree, the sha256 of its :func:`tree_manifest`."""
    path: Path
    cached: bool
    """True when no build was needed: the cache held this key."""
    link: Path | None
    facts: Mapping[str, Any] = field(default_factory=dict)
    skipped: str | None = None
    """Why an optional artifact (or one built from it) was not built; None when it was."""


@dataclass(frozen=True)
class RebuildResult:
    outdir: Path
    source_date_epoch: int
    artifacts: tuple[ArtifactResult, ...]


class OutputLocked(EnvironmentProblem):
    """Another process is rebuilding into the same output folder."""


# -- digests ----------------------------------------------------------------------------


def _file_sha256(path: Path) -> str:
    return digest_file(path, what="input").digests["sha256"].hex()


def tree_entries(root: Path) -> list[tuple[str, str, str]]:
    """Every entry under ``root`` as (relative POSIX path, kind, digest), sorted by path.

    kind is ``file``, ``exec`` (any executable bit), ``link`` (digest = sha256 of the
    target text) or ``dir`` (no digest). Only kinds and contents count, not owners, times
    or the umask-dependent mode bits. Devices, FIFOs and sockets are refused.
    """
    out: list[tuple[str, str, str]] = []
    for top, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        rel_top = Path(top).relative_to(root)
        for name in sorted(dirs + files):
            path = Path(top, name)
            rel = (rel_top / name).as_posix()
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(path).encode("utf-8", "surrogateescape")
                out.append((rel, "link", _sha256_bytes(target)))
            elif stat.S_ISDIR(st.st_mode):
                out.append((rel, "dir", ""))
            elif stat.S_ISREG(st.st_mode):
                kind = "exec" if st.st_mode & 0o111 else "file"
                out.append((rel, kind, _file_sha256(path)))
            else:
                raise InputError(f"{path} is not a regular file, directory or symlink")
    out.sort()
    return out


def _sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def tree_manifest(root: Path) -> bytes:
    """Canonical JSON of :func:`tree_entries`: what a tree's digest is the sha256 of."""
    return canonical_dumps([list(e) for e in tree_entries(root)])


def path_digest(path: Path) -> tuple[bool, str]:
    """(is a tree, sha256) of a file or directory."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(f"input not found or unreadable: {path} ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        return True, _sha256_bytes(tree_manifest(path))
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"input {path} is not a regular file or directory")
    return False, _file_sha256(path)


def _files_of(path: Path, prefix: str) -> dict[str, str]:
    """in-toto artifact entries for a file or tree: key -> sha256."""
    if path.is_dir():
        return {f"{prefix}/{rel}": d for rel, kind, d in tree_entries(path) if kind != "dir"}
    return {prefix: _file_sha256(path)}


# -- the output-folder lock -------------------------------------------------------------


@contextlib.contextmanager
def output_lock(outdir: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``outdir``'s lock file, or fail at once."""
    import fcntl

    try:
        outdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(outdir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise write_error(exc, outdir / LOCK_NAME) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise write_error(exc, outdir / LOCK_NAME) from exc
            raise OutputLocked(
                f"another rebuild is writing into {outdir} (it holds {outdir / LOCK_NAME})",
                hint="wait for it to finish, or choose another output directory",
            ) from None
        yield
    finally:
        os.close(fd)


# -- the cache --------------------------------------------------------------------------


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/refkit/builds`` (``~/.cache/refkit/builds`` by default)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "refkit" / "builds"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_stale(cache: Path) -> None:
    """Remove temporary build directories whose process is gone (an interrupted build)."""
    with contextlib.suppress(OSError):
        for entry in cache.iterdir():
            parts = entry.name.split("-")
            stale = (
                entry.name.startswith(".tmp-")
                and len(parts) >= 3
                and parts[1].isdigit()
                and not _alive(int(parts[1]))
            )
            if stale:
                shutil.rmtree(entry, ignore_errors=True)


def _read_meta(entry: Path) -> dict[str, Any] | None:
    try:
        data = (entry / "meta.json").read_bytes()
        meta = json.loads(data)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == CACHE_FORMAT else None


# -- the orchestration ------------------------------------------------------------------


@dataclass
class _Run:
    recipe: Recipe
    builders: Mapping[str, Builder]
    outdir: Path
    cache: Path
    sde: int
    lock: Lock | None
    resolver: Resolver | None
    key: PrivateKey | None
    progress: Callable[[Event], None]
    done: dict[str, ArtifactResult] = field(default_factory=dict)
    scratch: Path | None = None

    def lock_item(self, name: str) -> LockedInput:
        assert self.lock is not None  # check_lock_names ran
        for item in self.lock.inputs:
            if item.name == name:
                return item
        raise InternalError(f"lock input {name} vanished")  # pragma: no cover

    def input_key(self, art: Artifact, input_name: str) -> Any:
        """What an input contributes to the cache key (no pinned input is read)."""
        ref = art.inputs[input_name]
        if isinstance(ref, LockRef):
            pins = [[n, self.lock_item(n).sha256] for n in ref.names]
            return {"lock": pins, "member": ref.member, "list": ref.several}
        if isinstance(ref, FileRef):
            tree, digest = path_digest(self._repo_path(art, input_name, ref))
            return {"file": ref.path, "tree": tree, "sha256": digest}
        dep = self.done[ref.name]
        return {"artifact": ref.name, "tree": dep.tree, "sha256": dep.sha256}

    def _repo_path(self, art: Artifact, input_name: str, ref: FileRef) -> Path:
        path = self.recipe.root / ref.path
        root = self.recipe.root.resolve()
        resolved = path.resolve()
        if resolved != root and root not in resolved.parents:
            raise InputError(
                f"{self.recipe.source}: input {input_name} of {art.name}: {ref.path} leads "
                f"outside the repository {root} (through a symlink)"
            )
        return path

    def resolve(self, art: Artifact, input_name: str, into: Path) -> tuple[Path, dict[str, str]]:
        """The input's local path for the builder, and its in-toto material entries."""
        ref = art.inputs[input_name]
        if isinstance(ref, FileRef):
            path = self._repo_path(art, input_name, ref)
            return path, _files_of(path, input_name)
        if isinstance(ref, ArtifactRef):
            path = self.done[ref.name].path
            return path, _files_of(path, input_name)
        if self.resolver is None:
            raise InternalError("a lock input without a resolver")  # pragma: no cover
        items = [self.lock_item(n) for n in ref.names]
        paths = []
        for item in items:
            self.progress(Event(art.name, f"input {item.name}"))
            paths.append(self.resolver(item))
        if ref.member is not None:
            return _extract_member(items[0], paths[0], ref.member, into / input_name, input_name)
        if not ref.several:
            return paths[0], {f"{input_name}/{_pinned_name(items[0])}": items[0].sha256}
        folder = into / input_name
        folder.mkdir()
        materials = {}
        for item, path in zip(items, paths, strict=True):
            name = _pinned_name(item)
            _link_or_copy(path, folder / name)
            materials[f"{input_name}/{name}"] = item.sha256
        return folder, materials


def _pinned_name(item: LockedInput) -> str:
    name = getattr(item, "filename", None) or item.name
    return str(name)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _extract_member(
    item: LockedInput, deb: Path, member: str, folder: Path, input_name: str
) -> tuple[Path, dict[str, str]]:
    from refkit.inputs.deb import extract_files
    from refkit.inputs.lock import KIND_DEBIAN_PACKAGE

    if getattr(item, "kind", KIND_DEBIAN_PACKAGE) != KIND_DEBIAN_PACKAGE:
        raise InputError(f"member paths are read from Debian packages; {item.name} is not one")
    folder.mkdir()
    target = folder / Path(member).name
    with open(deb, "rb") as stream, open(target, "xb") as sink:
        got = extract_files(stream, {member: sink}, source=str(deb))
    return target, {f"{input_name}/{member}": got[member].sha256}


def rebuild(
    recipe: Recipe,
    *,
    builders: Mapping[str, Builder],
    outdir: Path,
    source_date_epoch: int,
    cache_dir: Path | None = None,
    lock: Lock | None = None,
    resolver: Resolver | None = None,
    key: PrivateKey | None = None,
    progress: Callable[[Event], None] | None = None,
) -> RebuildResult:
    """Build every artifact of ``recipe`` into ``outdir`` (see the module docstring).

    ``lock`` is the parsed inputs lock (required when the recipe names lock inputs) and
    ``resolver`` turns its pinned inputs into verified local paths; it is only called for
    artifacts that must be built.
    """
    for art in recipe.artifacts.values():
        if art.builder not in builders:
            raise InputError(f"{recipe.source}: unknown builder {art.builder!r} ({art.name})")
    if recipe.lock_names():
        if lock is None or resolver is None:
            raise InputError(f"{recipe.source}: the recipe names pinned inputs but no lock")
        check_lock_names(recipe, [item.name for item in lock.inputs], lock.source)
    # Absolute from here on: builders run their tools in private working directories,
    # where a relative path (a relative --cache-dir or -o) would point elsewhere.
    cache = (cache_dir if cache_dir is not None else default_cache_dir()).absolute()
    outdir = outdir.absolute()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, cache) from exc
    run = _Run(
        recipe=recipe,
        builders=builders,
        outdir=outdir,
        cache=cache,
        sde=source_date_epoch,
        lock=lock,
        resolver=resolver,
        key=key,
        progress=progress or (lambda _e: None),
    )
    with output_lock(outdir):
        _sweep_stale(cache)
        order = recipe.order()
        for index, art in enumerate(order):
            run.progress(Event(art.name, f"{art.builder} ({index + 1} of {len(order)})"))
            run.done[art.name] = result = _one_or_skip(run, art)
            if result.skipped is not None:
                state = f"skipped: {result.skipped}"
            else:
                state = ("cached" if result.cached else "built") + f" sha256:{result.sha256}"
            run.progress(Event(art.name, state, index + 1, len(order)))
    return RebuildResult(
        outdir=outdir,
        source_date_epoch=source_date_epoch,
        artifacts=tuple(run.done[a.name] for a in order),
    )


def cache_key(run: _Run, art: Artifact, builder: Builder) -> str:
    document = {
        "format": CACHE_FORMAT,
        "builder": builder.name,
        "version": builder.version,
        "params": dict(art.params),
        "inputs": {name: run.input_key(art, name) for name in sorted(art.inputs)},
        "source_date_epoch": run.sde,
    }
    return _sha256_bytes(canonical_dumps(document))


def _skipped(run: _Run, art: Artifact, reason: str) -> ArtifactResult:
    builder = run.builders[art.builder]
    return ArtifactResult(
        name=art.name,
        builder=builder.name,
        builder_version=builder.version,
        tree=builder.tree_output,
        sha256="",
        path=run.outdir / art.name,
        cached=False,
        link=None,
        skipped=reason,
    )


def _one_or_skip(run: _Run, art: Artifact) -> ArtifactResult:
    """Build ``art``; an optional artifact whose builder lacks a tool, or an artifact built
    from a skipped one, is skipped with the reason (nothing is placed under its name)."""
    for dep in art.depends_on():
        if run.done[dep].skipped is not None:
            return _skipped(run, art, f"built from {dep}, which was skipped")
    try:
        return _one(run, art)
    except EnvironmentProblem as exc:
        if not art.optional or isinstance(exc, OutputLocked):
            raise
        return _skipped(run, art, exc.message)


def _one(run: _Run, art: Artifact) -> ArtifactResult:
    builder = run.builders[art.builder]
    key = cache_key(run, art, builder)
    entry = run.cache / key
    meta = _read_meta(entry)
    cached = meta is not None
    final = run.outdir / art.name
    if meta is not None:
        try:
            _place(entry / "out" / art.name, final, tree=bool(meta["tree"]), sha256=meta["sha256"])
        except _CacheDamaged:
            shutil.rmtree(entry, ignore_errors=True)  # rebuilt below
            meta, cached = None, False
    if meta is None:
        meta = _build(run, art, builder, key)
        _place(entry / "out" / art.name, final, tree=bool(meta["tree"]), sha256=meta["sha256"])
    link_path = _write_link(run, art.name, meta["link"])
    return ArtifactResult(
        name=art.name,
        builder=builder.name,
        builder_version=builder.version,
        tree=bool(meta["tree"]),
        sha256=str(meta["sha256"]),
        path=final,
        cached=cached,
        link=link_path,
        facts=meta["facts"],
    )


def _build(run: _Run, art: Artifact, builder: Builder, key: str) -> dict[str, Any]:
    temp = run.cache / f".tmp-{os.getpid()}-{secrets.token_hex(6)}"
    try:
        (temp / "work").mkdir(parents=True)
        (temp / "inputs").mkdir()
        (temp / "out").mkdir()
        inputs: dict[str, Path] = {}
        materials: dict[str, str] = {}
        for name in sorted(art.inputs):
            path, entries = run.resolve(art, name, temp / "inputs")
            inputs[name] = path
            materials.update(entries)
        output = temp / "out" / art.name
        ctx = BuildContext(
            name=art.name,
            inputs=inputs,
            params=art.params,
            output=output,
            workdir=temp / "work",
            source_date_epoch=run.sde,
            progress=lambda m, d, t: run.progress(Event(art.name, m, d, t)),
        )
        built = _call(builder, ctx)
        tree, sha256 = _check_output(builder, output)
        facts = json.loads(canonical_dumps(dict(built.facts)))
        tools = {k: str(v) for k, v in sorted(built.tools.items())}
        environment = {
            "SOURCE_DATE_EPOCH": str(run.sde),
            "refkit": __version__,
            "python": "{}.{}".format(*sys.version_info[:2]),
            "tools": tools,
        }
        link = link_dict(
            name=art.name,
            builder=builder.name,
            version=builder.version,
            params=art.params,
            materials=materials,
            products=_files_of(output, art.name),
            environment=environment,
            facts=facts,
        )
        shutil.rmtree(temp / "work")
        shutil.rmtree(temp / "inputs")
        meta = {
            "format": CACHE_FORMAT,
            "artifact": art.name,
            "tree": tree,
            "sha256": sha256,
            "facts": facts,
            "link": link,
        }
        (temp / "meta.json").write_bytes(canonical_dumps(meta))
        try:
            os.rename(temp, run.cache / key)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise write_error(exc, run.cache / key) from exc
            # Another process made the same entry meanwhile: same key, same bytes.
            shutil.rmtree(temp, ignore_errors=True)
        return meta
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _call(builder: Builder, ctx: BuildContext) -> Built:
    try:
        return builder.build(ctx)
    except RefkitError:
        raise
    except OSError as exc:
        raise EnvironmentProblem(
            f"builder {builder.name} failed building {ctx.name}: {exc.strerror or exc}"
        ) from exc
    except Exception as exc:
        raise InternalError(
            f"builder {builder.name} failed building {ctx.name}: {type(exc).__name__}: {exc}"
        ) from exc


def _check_output(builder: Builder, output: Path) -> tuple[bool, str]:
    try:
        st = os.lstat(output)
    except FileNotFoundError:
        raise InternalError(f"builder {builder.name} produced no output at {output}") from None
    tree = stat.S_ISDIR(st.st_mode)
    if tree != builder.tree_output or not (tree or stat.S_ISREG(st.st_mode)):
        want = "a directory" if builder.tree_output else "a regular file"
        raise InternalError(f"builder {builder.name} did not produce {want} at {output}")
    return path_digest(output)


class _CacheDamaged(Exception):
    """A cache entry's output no longer has the digest recorded when it was made."""


def _place(source: Path, final: Path, *, tree: bool, sha256: str) -> None:
    """Put the cached output at ``final`` unless it already holds exactly those bytes.

    The cached output is re-digested before it is copied: an entry damaged since it was
    made (disk error, someone editing the cache) raises :class:`_CacheDamaged` and is
    rebuilt rather than published."""
    with contextlib.suppress(InputError, OSError):
        if final.is_dir() == tree and path_digest(final) == (tree, sha256):
            return
    try:
        intact = path_digest(source) == (tree, sha256)
    except (InputError, OSError):
        intact = False
    if not intact:
        raise _CacheDamaged(str(source))
    if not tree:
        mode = 0o755 if os.stat(source).st_mode & 0o111 else 0o644
        if final.is_dir() and not final.is_symlink():
            _replace_dir(final, None)
        with Batch() as batch, open(source, "rb") as src:
            handle = batch.add(final, mode=mode, replace=True)
            try:
                shutil.copyfileobj(src, handle, 1024 * 1024)
            except OSError as exc:
                raise write_error(exc, final) from exc
            batch.commit()
        return
    temp = final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")
    try:
        shutil.copytree(source, temp, symlinks=True)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise write_error(exc, final) from exc
    _replace_dir(final, temp)


def _replace_dir(final: Path, new: Path | None) -> None:
    """Swap ``new`` in at ``final`` (a directory or file there is moved aside first, then
    removed): ``final`` holds the old content or the new, never a mix."""
    old = final.with_name(f".{final.name}.{secrets.token_hex(6)}.old")
    moved = False
    try:
        if os.path.lexists(final):
            os.rename(final, old)
            moved = True
        if new is not None:
            os.rename(new, final)
    except OSError as exc:
        if moved and not os.path.lexists(final):
            with contextlib.suppress(OSError):
                os.rename(old, final)
        raise write_error(exc, final) from exc
    if moved:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                old.unlink()


def _write_link(run: _Run, name: str, signed: Mapping[str, Any]) -> Path:
    data, keyid = link_document(signed, run.key)
    folder = run.outdir / PROVENANCE_DIR
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise write_error(exc, folder) from exc
    path = folder / link_filename(name, keyid)
    write_file(path, data, force=True)
    return path


def lock_resolver(
    mirrors: Sequence[Path], *, offline: bool, cache_dir: Path | None = None
) -> Resolver:
    """The input store's resolver: ``refkit.inputs.resolve.resolve_input`` (mirrors, the
    shared download cache, downloads unless ``offline``). Where that module is absent (an
    older input store), pinned files are looked up by sha256 in the mirrors only."""
    import importlib

    try:
        store: Any = importlib.import_module("refkit.inputs.resolve")
    except ModuleNotFoundError as exc:
        if exc.name != "refkit.inputs.resolve":
            raise
        return _mirror_resolver(mirrors, offline=offline)
    cache = cache_dir if cache_dir is not None else store.default_cache_dir()

    def resolver(item: LockedInput) -> Path:
        path: Path = store.resolve_input(item, mirrors=mirrors, cache_dir=cache, offline=offline)
        return path

    return resolver


def _mirror_resolver(mirrors: Sequence[Path], *, offline: bool) -> Resolver:
    from refkit.inputs.errors import MissingInputs, Unavailable
    from refkit.inputs.store import LocalStore

    local = LocalStore(list(mirrors))

    def resolver(item: LockedInput) -> Path:
        hit = local.find(item.sha256, item.size)
        if hit is None:
            where = ", ".join(map(str, mirrors)) or "no mirror directory given"
            raise MissingInputs(
                [
                    Unavailable(
                        label=item.label,
                        filename=_pinned_name(item),
                        sha256=item.sha256,
                        reasons=(f"not in the mirror directories ({where})",),
                    )
                ],
                offline=offline,
            )
        return hit.path

    return resolver
