"""Fetching a lock's pinned inputs into an output directory, and checking one.

:func:`fetch` reads as the steps it takes, for each pinned input in lock order:

1. if every file it puts into the output directory is already there with the pinned size
   and sha256, reuse them and stop (no input file needed);
2. look for the input file (a ``.deb``, a wheel, a plain file) in the download cache
   (:mod:`refkit.inputs.cache`), then by size and sha256 in the search directories, in
   order (:class:`~refkit.inputs.store.LocalStore`); file names do not matter;
3. otherwise, unless offline, download it (:mod:`refkit.inputs.fetchers`) into the cache
   (or, without one, into a private temporary directory);
4. check its size and sha256 through the handle that is then read;
5. for a package, extract the requested members (:mod:`refkit.inputs.deb`) into temporary
   files beside their final names (:class:`refkit.atomic.Batch`), check each one's size
   and sha256 against the lock, and only then put them all in place (mode 0644); for a
   distribution or plain file, copy it the same way under its own name.

Invariants: nothing in the output directory is overwritten unless its content differs
*and* ``force`` was given; a file that already has the pinned content is reused, not
rewritten; conflicts are all detected before anything is written. A package that no
source supplied does not stop the others: they are fetched, then one
:class:`~refkit.inputs.errors.MissingInputs` (exit 3) names every missing package with its
version and sha256. Progress goes to a callback, never to a terminal.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, assert_never

from refkit.atomic import Batch, TargetExists
from refkit.errors import EnvironmentProblem, InputError, RefkitError
from refkit.hashing import StreamHasher, sha256_stream
from refkit.inputs.cache import InputCache
from refkit.inputs.deb import extract_files
from refkit.inputs.debian import Downloader, DownloadFailed
from refkit.inputs.errors import (
    DigestMismatch,
    MemberTooLarge,
    MissingInputs,
    OutputConflict,
    Unavailable,
)
from refkit.inputs.fetchers import DebianFetcher, Fetcher, KindFetcher
from refkit.inputs.lock import DebianPackage, ExtractSpec, Lock, LockedInput
from refkit.inputs.resolve import download_into_cache, file_name, unavailable
from refkit.inputs.store import LocalStore, open_verified

if TYPE_CHECKING:
    from refkit.verification import Result, Verdict

#: Mode of every file written to the output directory (never the umask's choice).
OUTPUT_MODE: Final = 0o644


class OriginKind(enum.Enum):
    """Where a package's files came from."""

    OUTPUT = "output"
    """Every file was already in the output directory with the pinned digest."""
    LOCAL = "local"
    """The ``.deb`` was found in a search directory."""
    DOWNLOAD = "download"
    """The input was downloaded (into the cache, when there is one)."""
    CACHE = "cache"
    """The input was in the download cache."""


@dataclass(frozen=True)
class Origin:
    kind: OriginKind
    location: str
    """The search directory, the download's URL (or method), or the output directory."""
    path: str | None = None
    """The local file used (for ``local``)."""


class OutputStatus(enum.Enum):
    WRITTEN = "written"
    REUSED = "reused"
    """Already present with the pinned content: left untouched."""
    REPLACED = "replaced"
    """Present with other content and overwritten because ``force`` was given."""


@dataclass(frozen=True)
class OutputResult:
    output: str
    path: Path
    member: str
    """The member whose bytes these are (the pinned path, or a link's target)."""
    size: int
    sha256: str
    status: OutputStatus


@dataclass(frozen=True)
class InputResult:
    package: LockedInput
    """The pinned input; its ``size`` and ``sha256`` were checked unless reused."""
    origin: Origin
    outputs: tuple[OutputResult, ...]


@dataclass(frozen=True)
class FetchResult:
    lock_source: str
    out_dir: Path
    inputs: tuple[InputResult, ...]


class Stage(enum.Enum):
    """What a :class:`Progress` event reports."""

    SKIPPED = "skipped"
    """A search directory or file could not be read (detail says why)."""
    REUSED = "reused"
    FOUND = "found"
    DOWNLOADING = "downloading"
    BYTES = "bytes"
    """Download progress: ``done`` of ``total`` bytes."""
    DOWNLOAD_FAILED = "download-failed"
    DOWNLOADED = "downloaded"
    WRITTEN = "written"


@dataclass(frozen=True)
class Progress:
    stage: Stage
    subject: str
    """The package (``name version (arch)``) or path the event is about."""
    detail: str = ""
    done: int | None = None
    total: int | None = None


ProgressCallback = Callable[[Progress], None]


def _ignore(_event: Progress) -> None:
    return None


@dataclass(frozen=True)
class _Existing:
    path: Path
    state: str
    """"absent", "same" or "different"."""


def _existing(path: Path, spec: ExtractSpec) -> _Existing:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return _Existing(path, "absent")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot inspect {path}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(st.st_mode):
        raise OutputConflict(
            f"output {path} is a directory; refusing to replace it",
            hint="remove it or choose another output directory",
        )
    if not stat.S_ISREG(st.st_mode) or st.st_size != spec.size:
        return _Existing(path, "different")
    try:
        # Open what lstat saw, not what the name points at by now: no symlink is followed,
        # and a FIFO swapped in meanwhile cannot block the open.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return _Existing(path, "different")  # replaced by a symlink meanwhile
        raise EnvironmentProblem(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "rb") as handle:
            now = os.fstat(handle.fileno())
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(now.st_mode):
                return _Existing(path, "different")
            size, digest = sha256_stream(handle, limit=spec.size)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read {path}: {exc.strerror or exc}") from exc
    same = size == spec.size and digest == spec.sha256
    return _Existing(path, "same" if same else "different")


def _refuse_non_directory(out_dir: Path) -> None:
    """Bad input (not an environment problem): the output directory, or a parent of it,
    is a file."""
    for path in (out_dir, *out_dir.parents):
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            return  # e.g. no search permission: creating or reading --out reports it
        if not stat.S_ISDIR(st.st_mode):
            raise InputError(
                f"output directory {out_dir}: {path} is not a directory",
                hint="name a directory as the output (it is created if missing)",
            )
        return


def _preflight(lock: Lock, out_dir: Path, *, force: bool) -> dict[str, _Existing]:
    existing = {spec.output: _existing(out_dir / spec.output, spec) for _, spec in lock.outputs()}
    conflicts = sorted(e.path.name for e in existing.values() if e.state == "different")
    if conflicts and not force:
        raise OutputConflict(
            f"{out_dir} already holds {', '.join(conflicts)} with content other than the "
            "pinned one; refusing to overwrite",
            hint="ask to replace them, or choose another output directory",
        )
    return existing


@contextlib.contextmanager
def _obtained(
    item: LockedInput,
    store: LocalStore,
    cache: InputCache | None,
    fetcher: Fetcher | None,
    out_dir: Path,
    progress: ProgressCallback,
    reasons: list[str],
) -> Iterator[tuple[BinaryIO, Origin] | None]:
    """The verified input file open for reading and where it came from, or None.

    Sources in order: the download cache, the search directories, a download (into the
    cache when there is one, else into a private directory in ``out_dir``)."""
    if cache is not None:
        cached = cache.open(item.sha256, item.size)
        if cached is not None:
            path = cache.path_for(item.sha256)
            progress(Progress(Stage.FOUND, item.label, str(path)))
            with cached:
                yield cached, Origin(OriginKind.CACHE, str(cache.root), str(path))
            return
    hit = store.find(item.sha256, item.size)
    if hit is not None:
        progress(Progress(Stage.FOUND, item.label, str(hit.path)))
        try:
            handle = open_verified(hit.path, sha256=item.sha256, size=item.size, what="input file")
        except (DigestMismatch, OSError) as exc:  # changed or vanished since the lookup
            reason = exc.message if isinstance(exc, RefkitError) else str(exc)
            reasons.append(f"{hit.path} changed while in use: {reason}")
        else:
            with handle:
                yield handle, Origin(OriginKind.LOCAL, str(hit.directory), str(hit.path))
            return
    dirs = ", ".join(str(d) for d in store.directories) or "none given"
    in_cache = "" if cache is None else f"the cache {cache.root} nor in "
    reasons.append(f"no file with this sha256 in {in_cache}the mirror directories ({dirs})")
    if fetcher is None:
        reasons.append("downloads are disabled (offline)")
        yield None
        return
    name = file_name(item)
    progress(Progress(Stage.DOWNLOADING, item.label, name, 0, item.size))

    def on_bytes(done: int, total: int | None) -> None:
        progress(Progress(Stage.BYTES, item.label, "", done, total or item.size))

    def failed(reason: str) -> None:
        reasons.append(f"download failed: {reason}")
        progress(Progress(Stage.DOWNLOAD_FAILED, item.label, reason))

    if cache is not None:
        try:
            path, where = download_into_cache(item, cache, fetcher, on_bytes)
            handle = open_verified(path, sha256=item.sha256, size=item.size, what="cached input")
        except (DownloadFailed, DigestMismatch, FileNotFoundError) as exc:
            failed(exc.message if isinstance(exc, RefkitError) else f"{exc}")
            yield None
            return
        progress(Progress(Stage.DOWNLOADED, item.label, where))
        with handle:
            yield handle, Origin(OriginKind.DOWNLOAD, where, str(path))
        return
    try:
        private = tempfile.TemporaryDirectory(prefix=".refkit-download-", dir=out_dir)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write into {out_dir}: {exc.strerror or exc}") from exc
    with private as work:
        dest = Path(work, name)
        try:
            where = fetcher.fetch(item, dest, on_bytes)
            handle = open_verified(dest, sha256=item.sha256, size=item.size, what="input file")
        except (DownloadFailed, DigestMismatch, FileNotFoundError) as exc:
            reason = exc.message if isinstance(exc, RefkitError) else f"no file at {dest}"
            if isinstance(exc, DigestMismatch):
                reason = f"the download is not the pinned file: {exc.message}"
            failed(reason)
            yield None
            return
        progress(Progress(Stage.DOWNLOADED, item.label, where))
        with handle:
            yield handle, Origin(OriginKind.DOWNLOAD, where)


def _copy_whole(
    item: LockedInput, handle: BinaryIO, spec: ExtractSpec, out_dir: Path, replace: bool
) -> None:
    """Put a whole input file (a distribution, a plain file) into ``out_dir``, checking its
    digest while copying; placed only if it matches."""
    try:
        with Batch() as batch:
            sink = batch.add(out_dir / spec.output, mode=OUTPUT_MODE, replace=replace)
            hasher = StreamHasher()
            while chunk := handle.read(1024 * 1024):
                hasher.update(chunk)
                if hasher.size > spec.size:
                    break
                sink.write(chunk)
            if hasher.size != spec.size or hasher.hexdigest() != spec.sha256:
                raise DigestMismatch(
                    f"{item.label} changed while being copied into {out_dir}",
                    hint="run again",
                )
            batch.commit()
    except TargetExists as exc:
        raise OutputConflict(
            f"{exc.path} appeared while refkit was writing it; refusing to overwrite it",
            hint="run again (it will be compared with the pinned content), or ask to replace it",
        ) from None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write into {out_dir}: {exc.strerror or exc}") from exc


def _extract(
    package: DebianPackage,
    handle: BinaryIO,
    specs: Sequence[ExtractSpec],
    out_dir: Path,
    source: str,
    replace: Mapping[str, bool],
) -> dict[str, tuple[str, int, str]]:
    """Extract, verify and move into place; returns output → (member, size, sha256).

    ``replace[output]`` says whether an existing file may be replaced (it differed and
    ``force`` was given); otherwise the file must still be absent when it is placed. The
    files are written as one :class:`~refkit.atomic.Batch`: all placed, or none.
    """
    try:
        with Batch() as batch:
            sinks = {
                spec.path: batch.add(
                    out_dir / spec.output,
                    mode=OUTPUT_MODE,
                    replace=replace.get(spec.output, False),
                )
                for spec in specs
            }
            try:
                extracted = extract_files(
                    handle, sinks, source=source, limits={s.path: s.size for s in specs}
                )
            except MemberTooLarge as exc:  # bounded by the pinned size: nothing of it written
                raise DigestMismatch(
                    f"{exc.message}: the lock pins {exc.limit} bytes",
                    hint="the package matched its pin, so the lock's extract entry is wrong "
                    "(compare with `dpkg-deb -x`)",
                ) from exc
            for spec in specs:
                got = extracted[spec.path]
                if got.size != spec.size or got.sha256 != spec.sha256:
                    raise DigestMismatch(
                        f"{spec.path} extracted from {package.label} has {got.size} bytes, "
                        f"sha256 {got.sha256}; the lock pins {spec.size} bytes, "
                        f"sha256 {spec.sha256}",
                        hint="the package matched its pin, so the lock's extract entry is "
                        "wrong (compare with `dpkg-deb -x`)",
                    )
            batch.commit()
    except TargetExists as exc:
        raise OutputConflict(
            f"{exc.path} appeared while refkit was writing it; refusing to overwrite it",
            hint="run again (it will be compared with the pinned content), or ask to replace it",
        ) from None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write into {out_dir}: {exc.strerror or exc}") from exc
    return {spec.output: (extracted[spec.path].member, spec.size, spec.sha256) for spec in specs}


def fetch(
    lock: Lock,
    search_dirs: Sequence[Path],
    out_dir: Path,
    *,
    downloader: Downloader | None,
    progress: ProgressCallback | None = None,
    force: bool = False,
    fetcher: Fetcher | None = None,
    cache_dir: Path | None = None,
) -> FetchResult:
    """Put every file the lock pins into ``out_dir``; see the module docstring.

    Downloads go through ``fetcher`` (any kind), or else ``downloader`` (Debian packages
    only); neither means offline. With ``cache_dir``, the download cache is searched first
    and downloads are kept there. Raises :class:`OutputConflict` (nothing written),
    :class:`MissingInputs` after fetching what it could, :class:`DigestMismatch` if an
    extracted file is not what the lock pins, or a parse error for a malformed package.
    """
    report = progress or _ignore
    if fetcher is None and downloader is not None:
        fetcher = KindFetcher(debian=DebianFetcher(downloader))
    cache = InputCache(cache_dir) if cache_dir is not None else None
    _refuse_non_directory(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create {out_dir}: {exc.strerror or exc}") from exc
    existing = _preflight(lock, out_dir, force=force)
    store = LocalStore(
        list(search_dirs),
        on_skip=lambda path, why: report(Progress(Stage.SKIPPED, str(path), why)),
    )
    results: list[InputResult] = []
    missing: list[Unavailable] = []
    for package in lock.inputs:
        todo = [s for s in package.files if existing[s.output].state != "same"]
        reused = [
            OutputResult(
                s.output, out_dir / s.output, s.path, s.size, s.sha256, OutputStatus.REUSED
            )
            for s in package.files
            if existing[s.output].state == "same"
        ]
        if package.files and not todo:
            report(Progress(Stage.REUSED, package.label, str(out_dir)))
            origin = Origin(OriginKind.OUTPUT, str(out_dir))
            results.append(InputResult(package, origin, tuple(reused)))
            continue
        reasons: list[str] = []
        with _obtained(package, store, cache, fetcher, out_dir, report, reasons) as obtained:
            if obtained is None:
                missing.append(unavailable(package, reasons))
                continue
            handle, origin = obtained
            may_replace = {s.output: existing[s.output].state == "different" for s in todo}
            if isinstance(package, DebianPackage):
                source = origin.path or f"{package.filename} from {origin.location}"
                written = _extract(package, handle, todo, out_dir, source, may_replace)
            else:
                written = {}
                for spec in todo:  # the whole file, once
                    _copy_whole(package, handle, spec, out_dir, may_replace[spec.output])
                    written[spec.output] = (spec.path, spec.size, spec.sha256)
        outputs = {r.output: r for r in reused}
        for spec in todo:
            member, size, sha256 = written[spec.output]
            status = (
                OutputStatus.REPLACED
                if existing[spec.output].state == "different"
                else OutputStatus.WRITTEN
            )
            outputs[spec.output] = OutputResult(
                spec.output, out_dir / spec.output, member, size, sha256, status
            )
            report(Progress(Stage.WRITTEN, str(out_dir / spec.output), sha256))
        ordered = tuple(outputs[s.output] for s in package.files)
        results.append(InputResult(package, origin, ordered))
    if missing:
        raise MissingInputs(missing, offline=fetcher is None)
    return FetchResult(lock_source=lock.source, out_dir=out_dir, inputs=tuple(results))


class CheckStatus(enum.Enum):
    OK = "ok"
    MISSING = "missing"
    DIFFERENT = "different"


@dataclass(frozen=True)
class OutputCheck:
    output: str
    path: Path
    status: CheckStatus
    expected_sha256: str
    expected_size: int


@dataclass(frozen=True)
class CheckResult:
    lock_source: str
    out_dir: Path
    outputs: tuple[OutputCheck, ...]

    @property
    def ok(self) -> bool:
        return all(o.status is CheckStatus.OK for o in self.outputs)

    def verdict(self) -> Verdict:
        """The answer as a :class:`~refkit.verification.Verdict`, one result per file.

        The results rest on the lock as given (no anchor): a lock is trusted input."""
        from refkit.verification import Verdict  # only verify asks; fetch and --help don't

        return Verdict(
            f"{len(self.outputs)} pinned files in {self.out_dir}",
            tuple(_output_result(o) for o in self.outputs),
        )


def _output_result(o: OutputCheck) -> Result:
    from refkit.verification import Result

    expected = f"sha256:{o.expected_sha256} size {o.expected_size}"
    if o.status is CheckStatus.OK:
        code, message, actual = "inputs.digest.match", "has the pinned", expected
    elif o.status is CheckStatus.MISSING:
        code, message, actual = "inputs.file.missing", "is missing, pinned", None
    elif o.status is CheckStatus.DIFFERENT:
        code, message, actual = "inputs.digest.mismatch", "is different from the pinned", None
    else:
        assert_never(o.status)
    return Result.of(
        code,
        f"{message} sha256 {o.expected_sha256}",
        check="file",
        subject=str(o.path),
        expected=expected,
        actual=actual,
    )


def check(lock: Lock, out_dir: Path) -> CheckResult:
    """Whether every file the lock pins is in ``out_dir`` with the pinned content."""
    _refuse_non_directory(out_dir)
    checks = []
    for _package, spec in lock.outputs():
        path = out_dir / spec.output
        try:
            state = _existing(path, spec).state
        except OutputConflict:
            state = "different"
        status = {
            "absent": CheckStatus.MISSING,
            "same": CheckStatus.OK,
            "different": CheckStatus.DIFFERENT,
        }[state]
        checks.append(OutputCheck(spec.output, path, status, spec.sha256, spec.size))
    return CheckResult(lock.source, out_dir, tuple(checks))
