"""Fetchers: how a pinned input of any kind is downloaded when no local copy has its bytes.

One interface, :class:`Fetcher` (``fetch(item, dest, progress) -> where``), and one
implementation per kind, chosen by :class:`KindFetcher`:

* Debian packages: the existing :class:`~refkit.inputs.debian.Downloader` chain
  (``apt-get download NAME=VERSION``, then the archive pool);
* Python distributions: ``pip download --no-deps`` of exactly ``NAME==VERSION``, asking
  for a wheel with the pinned file's tags or for the sdist, and taking only the file with
  the pinned file name;
* plain files: the URL, bounded by the pinned size.

Invariants: a fetcher writes only ``dest`` (through :mod:`refkit.atomic` or by moving a
file out of a private directory) and never judges the bytes: the caller checks size and
sha256 before anything is used. Fetchers run only where the caller allows downloads
(``refkit inputs fetch``, a rebuild that is not offline); nothing here runs at import.
Failures are :class:`~refkit.inputs.debian.DownloadFailed` with a one-line reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, Protocol

from refkit.atomic import open_output
from refkit.inputs.debian import (
    ByteProgress,
    Downloader,
    DownloadFailed,
    UrlFetcher,
    UrllibFetcher,
    default_downloader,
)
from refkit.inputs.lock import (
    DebianPackage,
    LockedInput,
    PlainFile,
    PythonDistribution,
    normalize_python_name,
)

#: How long ``pip download`` may run (seconds).
PIP_TIMEOUT: Final = 900.0

# What download tools say when the pinned version is not (or no longer) offered: the
# archive has moved on, or the index withdrew the file.
_GONE = re.compile(
    r"HTTP 40[34]|HTTP 410|Can't find a source to download|Unable to locate package|"
    r"No matching distribution found|Could not find a version that satisfies|"
    r"did not offer the pinned file|Version '[^']*' for '[^']*' was not found",
)


def looks_gone(reason: str) -> bool:
    """Whether a download failure says the pinned version is not offered (any more)."""
    return _GONE.search(reason) is not None


class Fetcher(Protocol):
    """Downloads the pinned bytes of any lock entry (tests pass fakes)."""

    def fetch(self, item: LockedInput, dest: Path, progress: ByteProgress) -> str:
        """Write the input's file to ``dest`` (absent, in a private directory); return
        where it came from. Raise :class:`DownloadFailed`. The caller checks the digest."""
        ...


class DebianFetcher:
    """Debian packages through a :class:`~refkit.inputs.debian.Downloader`."""

    def __init__(self, downloader: Downloader) -> None:
        self.downloader = downloader

    def fetch(self, item: LockedInput, dest: Path, progress: ByteProgress) -> str:
        if not isinstance(item, DebianPackage):
            raise DownloadFailed(f"{item.label}: not a Debian package")
        return self.downloader.download(item, dest, progress)


class UrlFileFetcher:
    """Plain files from their pinned URL."""

    def __init__(self, fetcher: UrlFetcher | None = None) -> None:
        self.fetcher: UrlFetcher = fetcher if fetcher is not None else UrllibFetcher()

    def fetch(self, item: LockedInput, dest: Path, progress: ByteProgress) -> str:
        if not isinstance(item, PlainFile):
            raise DownloadFailed(f"{item.label}: not a plain file")
        with open_output(dest, mode=0o600) as sink:
            self.fetcher.get(item.url, sink, limit=item.size, progress=progress)
        return item.url


def pip_option(name: str, value: str | None = None) -> str:
    """A long option of pip's (built, so that no library string reads as a refkit flag)."""
    text = "-" + "-" + name
    return text if value is None else f"{text}={value}"


def pip_download_args(item: PythonDistribution) -> list[str]:
    """The ``pip download`` arguments that ask for exactly the pinned file: the wheel's
    platform, ABI and Python tags (so a wheel for another machine can be fetched), or the
    sdist; never dependencies."""
    spec = f"{normalize_python_name(item.name)}=={item.version}"
    args = [
        "download",
        pip_option("no-deps"),
        pip_option("disable-pip-version-check"),
        pip_option("no-input"),
    ]
    if item.filename.endswith(".whl"):
        parts = item.filename[: -len(".whl")].split("-")
        python, abi, platform = parts[-3], parts[-2], parts[-1]
        args.append(pip_option("only-binary", ":all:"))
        if platform != "any":
            args += [pip_option("platform", p) for p in platform.split(".")]
        if abi != "none":
            args += [pip_option("abi", a) for a in abi.split(".")]
        cpython = re.fullmatch(r"cp(\d)(\d+)", python.split(".")[0])
        if cpython:
            args += [
                pip_option("implementation", "cp"),
                pip_option("python-version", f"{cpython[1]}.{cpython[2]}"),
            ]
    else:
        args.append(pip_option("no-binary", ":all:"))
    return [*args, spec]


class PipFetcher:
    """``pip download`` of one pinned distribution file, in a private directory."""

    def __init__(
        self,
        *,
        python: str = sys.executable,
        timeout: float = PIP_TIMEOUT,
        run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    ) -> None:
        self.python = python
        self.timeout = timeout
        self.run = run

    def fetch(self, item: LockedInput, dest: Path, progress: ByteProgress) -> str:
        if not isinstance(item, PythonDistribution):
            raise DownloadFailed(f"{item.label}: not a Python distribution")
        args = pip_download_args(item)
        shown = f"pip download {args[-1]}"
        try:
            with tempfile.TemporaryDirectory(prefix=".pip-", dir=dest.parent) as work:
                self._run(args, work, shown)
                got = Path(work, item.filename)
                if not got.is_file():
                    found = ", ".join(sorted(p.name for p in Path(work).iterdir())) or "nothing"
                    raise DownloadFailed(
                        f"{shown}: the index did not offer the pinned file {item.filename} "
                        f"(got {found})"
                    )
                os.replace(got, dest)
        except OSError as exc:
            raise DownloadFailed(f"{shown}: {exc.strerror or exc}") from exc
        progress(item.size, item.size)
        return shown

    def _run(self, args: Sequence[str], work: str, shown: str) -> None:
        if shutil.which(self.python) is None and not os.path.exists(self.python):
            raise DownloadFailed(f"{shown}: {self.python} not found")
        try:
            done = self.run(
                [self.python, "-m", "pip", *args, pip_option("dest"), work],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
                env={**os.environ, "LC_ALL": "C", "PIP_NO_INPUT": "1"},
            )
        except subprocess.TimeoutExpired:
            raise DownloadFailed(f"{shown}: no answer within {self.timeout:.0f} s") from None
        except OSError as exc:
            raise DownloadFailed(f"{shown}: {exc}") from exc
        if done.returncode != 0:
            lines = [ln.strip() for ln in (done.stderr or "").splitlines() if ln.strip()]
            detail = next((ln for ln in lines if looks_gone(ln)), None)
            detail = detail or (lines[-1] if lines else f"exit status {done.returncode}")
            raise DownloadFailed(f"{shown}: {detail}")


class KindFetcher:
    """Dispatches on the lock entry's kind; a kind without a fetcher fails clearly."""

    def __init__(
        self,
        *,
        debian: Fetcher | None = None,
        python: Fetcher | None = None,
        file: Fetcher | None = None,
    ) -> None:
        self.debian = debian
        self.python = python
        self.file = file

    def fetch(self, item: LockedInput, dest: Path, progress: ByteProgress) -> str:
        if isinstance(item, DebianPackage):
            chosen, what = self.debian, "Debian packages"
        elif isinstance(item, PythonDistribution):
            chosen, what = self.python, "Python distributions"
        else:
            chosen, what = self.file, "plain files"
        if chosen is None:
            raise DownloadFailed(f"no way to download {what} is configured")
        return chosen.fetch(item, dest, progress)


def default_fetcher(archives: Sequence[str] | None = None) -> Fetcher:
    """apt-get/pool for packages, pip for distributions, the URL for plain files."""
    return KindFetcher(
        debian=DebianFetcher(default_downloader(archives)),
        python=PipFetcher(),
        file=UrlFileFetcher(),
    )
