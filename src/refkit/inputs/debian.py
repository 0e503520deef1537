"""Downloading pinned Debian packages by name and version, through a pluggable interface.

Two ways, tried in order by :class:`ChainDownloader`:

1. :class:`AptGetDownloader`: ``apt-get download NAME=VERSION`` in a private directory
   (no root needed); works when the machine's apt lists carry that version.
2. :class:`PoolDownloader`: the file's place in a Debian archive's pool,
   ``<archive URI>/pool/<component>/<prefix>/<source>/<filename>`` where ``<prefix>`` is
   the source name's first letter, or ``lib`` and the next letter for names starting with
   ``lib`` (the layout of every Debian archive: the pool is shared by all suites, so a
   machine configured for one release can fetch another release's package). The archive
   URIs come from the machine's apt configuration (:func:`debian_archives`), or from the
   user; refkit itself names no archive host.

Invariants: a downloader writes only to the destination path it is given (a fresh file
in a private directory) and never decides whether the bytes are right: the caller checks
size and sha256 before anything is moved into place. Downloads are bounded in time
(socket timeouts, and a minimum average rate) and in size (the pinned size; a longer body
is cut off and refused).
Failures are :class:`DownloadFailed` with a one-line reason; nothing else escapes.

Formats followed: sources.list(5), one-line and deb822 styles; the Debian archive's pool
layout (Debian policy, "The Debian archive"; dak's pool naming).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Protocol

from refkit.atomic import open_output
from refkit.errors import EnvironmentProblem
from refkit.inputs.lock import DebianPackage

#: Reports download progress: (bytes so far, total bytes if known).
ByteProgress = Callable[[int, int | None], None]

#: Socket timeout of one HTTP request (seconds): connecting and each read.
HTTP_TIMEOUT: Final = 30.0
#: Slowest average rate a download may keep (bytes/s), beyond a grace of one socket
#: timeout: a server that trickles bytes just inside the socket timeout cannot hold a fetch
#: forever (at this rate the pinned 70 MB kernel package may take about 36 minutes).
MIN_DOWNLOAD_RATE: Final = 32 * 1024
#: How long ``apt-get download`` may run (seconds).
APT_GET_TIMEOUT: Final = 900.0
_CHUNK: Final = 256 * 1024

#: Debian release names and aliases whose archives carry the shared pool. Suites such as
#: ``bookworm-updates`` or ``trixie-backports`` count by their first part; security
#: archives (``*-security``) use another layout and are not used.
DEBIAN_SUITES: Final = frozenset(
    {
        "buster",
        "bullseye",
        "bookworm",
        "trixie",
        "forky",
        "duke",
        "sid",
        "oldoldstable",
        "oldstable",
        "stable",
        "testing",
        "unstable",
        "experimental",
    }
)


class DownloadFailed(EnvironmentProblem):
    """One way of downloading a package did not work; the message says why."""


class Downloader(Protocol):
    """Obtains the ``.deb`` of a pinned package (the plug-in interface; tests use fakes)."""

    def download(self, package: DebianPackage, dest: Path, progress: ByteProgress) -> str:
        """Write the package file to ``dest`` (which does not exist yet).

        Returns where it came from, for the record (a URL, ``apt-get download``). Raises
        :class:`DownloadFailed`. Need not check the digest: the caller does.
        """
        ...


class UrlFetcher(Protocol):
    """Gets one URL into a stream, bounded in size (tests use fakes or a local server)."""

    def get(self, url: str, sink: BinaryIO, *, limit: int, progress: ByteProgress) -> None:
        """Write the body of ``url`` to ``sink``; raise :class:`DownloadFailed` on any
        failure, including a body longer than ``limit`` bytes."""
        ...


# --------------------------------------------------------------------------- archives


@dataclass(frozen=True)
class AptSource:
    """One source entry of the apt configuration (either file style)."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str
    origin: str
    """The file it was read from."""


def parse_one_line_sources(text: str, *, origin: str) -> list[AptSource]:
    """Entries of a one-line style ``sources.list`` (``deb [opts] URI suite comp...``)."""
    sources: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        options: dict[str, str] = {}
        match = re.fullmatch(r"(\S+)\s+\[([^\]]*)\]\s+(.*)", line)
        if match:
            kind, opts, rest = match.groups()
            for opt in opts.split():
                key, _sep, value = opt.partition("=")
                options[key] = value
        else:
            kind, _sep, rest = line.replace("\t", " ").partition(" ")
        words = rest.split()
        if kind not in ("deb", "deb-src") or len(words) < 2:
            continue
        sources.append(
            AptSource(
                types=(kind,),
                uris=(words[0],),
                suites=(words[1],),
                components=tuple(words[2:]),
                signed_by=options.get("signed-by", ""),
                origin=origin,
            )
        )
    return sources


def parse_deb822_sources(text: str, *, origin: str) -> list[AptSource]:
    """Entries of a deb822 style ``*.sources`` file (sources.list(5))."""
    sources: list[AptSource] = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        last: str | None = None
        for line in paragraph.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and last is not None:
                fields[last] += "\n" + line.strip()
                continue
            key, sep, value = line.partition(":")
            if not sep:
                continue
            last = key.strip().lower()
            fields[last] = value.strip()
        if not fields or fields.get("enabled", "yes").lower() == "no":
            continue
        sources.append(
            AptSource(
                types=tuple(fields.get("types", "").split()),
                uris=tuple(fields.get("uris", "").split()),
                suites=tuple(fields.get("suites", "").split()),
                components=tuple(fields.get("components", "").split()),
                signed_by=fields.get("signed-by", ""),
                origin=origin,
            )
        )
    return sources


def is_debian_archive(source: AptSource) -> bool:
    """Whether a source entry is a Debian archive with the shared pool (not security)."""
    if "deb" not in source.types:
        return False
    if any(suite.endswith("-security") or "/" in suite for suite in source.suites):
        return False
    named = any(suite.split("-", 1)[0] in DEBIAN_SUITES for suite in source.suites)
    return named or "debian-archive-keyring" in source.signed_by


def archive_uris(sources: Iterable[AptSource]) -> tuple[str, ...]:
    """The distinct http(s)/file URIs of the Debian archives among ``sources``, in order."""
    uris: list[str] = []
    for source in sources:
        if not is_debian_archive(source):
            continue
        for uri in source.uris:
            scheme = urllib.parse.urlsplit(uri).scheme
            normalized = uri.rstrip("/")
            if scheme in ("http", "https", "file") and normalized not in uris:
                uris.append(normalized)
    return tuple(uris)


def debian_archives(apt_etc: Path = Path("/etc/apt")) -> tuple[str, ...]:
    """The Debian archive URIs configured on this machine (empty if none or unreadable)."""
    sources: list[AptSource] = []
    candidates = [apt_etc / "sources.list"]
    parts = apt_etc / "sources.list.d"
    with contextlib.suppress(OSError):
        candidates += sorted(parts.iterdir())
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if path.name.endswith(".list"):
            sources += parse_one_line_sources(text, origin=str(path))
        elif path.name.endswith(".sources"):
            sources += parse_deb822_sources(text, origin=str(path))
    return archive_uris(sources)


def pool_path(package: DebianPackage) -> str:
    """``pool/<component>/<prefix>/<source>/<filename>``, URL-quoted."""
    source = package.source
    prefix = source[:4] if source.startswith("lib") and len(source) > 3 else source[0]
    path = f"pool/{package.component}/{prefix}/{source}/{package.filename}"
    return urllib.parse.quote(path, safe="/+~")


# --------------------------------------------------------------------------- downloaders


class UrllibFetcher:
    """:class:`UrlFetcher` over urllib: http, https and file URLs, with timeouts."""

    def __init__(self, *, timeout: float = HTTP_TIMEOUT) -> None:
        self.timeout = timeout

    def get(self, url: str, sink: BinaryIO, *, limit: int, progress: ByteProgress) -> None:
        import urllib.error
        import urllib.request

        if urllib.parse.urlsplit(url).scheme not in ("http", "https", "file"):
            raise DownloadFailed(f"{url}: only http, https and file URLs are fetched")
        request = urllib.request.Request(url, headers={"User-Agent": "refkit"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status = getattr(response, "status", None)  # None for file: URLs
                if status not in (None, 200):
                    raise DownloadFailed(f"{url}: HTTP {status}")
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                if total is not None and total > limit:
                    raise DownloadFailed(
                        f"{url}: {total} bytes announced, more than the pinned {limit}"
                    )
                done = 0
                progress(done, total)
                deadline = time.monotonic() + self.timeout + limit / MIN_DOWNLOAD_RATE
                # read1: at most one read from the socket, so the deadline is checked
                # between small reads, not only after a whole chunk trickled in.
                while chunk := response.read1(_CHUNK):
                    done += len(chunk)
                    if done > limit:
                        raise DownloadFailed(f"{url}: more than the pinned {limit} bytes")
                    if time.monotonic() > deadline:
                        raise DownloadFailed(
                            f"{url}: {done} of {total or limit} bytes, slower than "
                            f"{MIN_DOWNLOAD_RATE} bytes/s on average; giving up"
                        )
                    sink.write(chunk)
                    progress(done, total)
        except urllib.error.HTTPError as exc:
            raise DownloadFailed(f"{url}: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise DownloadFailed(f"{url}: {exc.reason}") from exc
        except (OSError, ValueError) as exc:  # timeouts, resets, malformed responses
            raise DownloadFailed(f"{url}: {type(exc).__name__}: {exc}") from exc


class PoolDownloader:
    """Downloads ``<archive>/pool/...`` from each archive URI in turn until one works."""

    def __init__(self, archives: Sequence[str], fetcher: UrlFetcher | None = None) -> None:
        self.archives = tuple(a.rstrip("/") for a in archives)
        self.fetcher: UrlFetcher = fetcher if fetcher is not None else UrllibFetcher()

    def download(self, package: DebianPackage, dest: Path, progress: ByteProgress) -> str:
        if not self.archives:
            raise DownloadFailed(
                "no Debian archive is configured in apt's sources (and none was given)"
            )
        reasons: list[str] = []
        for archive in self.archives:
            url = f"{archive}/{pool_path(package)}"
            try:
                # The one atomic writer: dest appears only once the body is complete.
                with open_output(dest, mode=0o600) as sink:
                    self.fetcher.get(url, sink, limit=package.size, progress=progress)
                return url
            except DownloadFailed as exc:
                reasons.append(exc.message)
        raise DownloadFailed("; ".join(reasons))


class AptGetDownloader:
    """``apt-get download NAME[:ARCH]=VERSION`` in a private directory."""

    def __init__(
        self,
        *,
        apt_get: str = "apt-get",
        timeout: float = APT_GET_TIMEOUT,
        run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    ) -> None:
        self.apt_get = apt_get
        self.timeout = timeout
        self.run = run

    def download(self, package: DebianPackage, dest: Path, progress: ByteProgress) -> str:
        executable = shutil.which(self.apt_get)
        if executable is None:
            raise DownloadFailed(f"{self.apt_get} not found")
        arch = "" if package.architecture == "all" else f":{package.architecture}"
        spec = f"{package.name}{arch}={package.version}"
        try:
            self._download_in(executable, spec, dest)
        except OSError as exc:  # the private directory or the move: disk full, permissions
            raise DownloadFailed(f"apt-get download {spec}: {exc.strerror or exc}") from exc
        progress(package.size, package.size)
        return f"apt-get download {spec}"

    def _download_in(self, executable: str, spec: str, dest: Path) -> None:
        with tempfile.TemporaryDirectory(prefix=".apt-", dir=dest.parent) as work:
            try:
                done = self.run(
                    [executable, "download", "-q", spec],
                    cwd=work,
                    capture_output=True,
                    text=True,
                    timeout=self.timeout,
                    check=False,
                    env={**os.environ, "LC_ALL": "C"},
                )
            except subprocess.TimeoutExpired:
                raise DownloadFailed(
                    f"apt-get download {spec}: no answer within {self.timeout:.0f} s"
                ) from None
            except OSError as exc:
                raise DownloadFailed(f"apt-get download {spec}: {exc}") from exc
            if done.returncode != 0:
                lines = [ln for ln in (done.stderr or "").splitlines() if ln.strip()]
                detail = lines[-1].strip() if lines else f"exit status {done.returncode}"
                raise DownloadFailed(f"apt-get download {spec}: {detail}")
            files = sorted(Path(work).glob("*.deb"))
            if len(files) != 1:
                raise DownloadFailed(
                    f"apt-get download {spec}: expected one .deb, found {len(files)}"
                )
            os.replace(files[0], dest)


class ChainDownloader:
    """Tries several downloaders in order; fails with every reason if none works."""

    def __init__(self, downloaders: Sequence[Downloader]) -> None:
        self.downloaders = tuple(downloaders)

    def download(self, package: DebianPackage, dest: Path, progress: ByteProgress) -> str:
        reasons: list[str] = []
        for downloader in self.downloaders:
            try:
                return downloader.download(package, dest, progress)
            except DownloadFailed as exc:
                reasons.append(exc.message)
                dest.unlink(missing_ok=True)
        raise DownloadFailed("; ".join(reasons) or "no download method configured")


def default_downloader(archives: Sequence[str] | None = None) -> Downloader:
    """apt-get first, then the pool of the given archives or of apt's Debian archives."""
    uris = tuple(archives) if archives else debian_archives()
    return ChainDownloader([AptGetDownloader(), PoolDownloader(uris)])
