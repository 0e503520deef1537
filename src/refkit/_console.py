"""The ``refkit`` console script, and a speculative prefetch that runs before click loads.

``refkit measure snp`` spends most of its time hashing the kernel and initrd (tens of MB)
and importing click and the engine (tens of ms). :func:`main` looks at argv before click
does and, when the command is ``measure snp``, starts hashing the files named by
``--kernel`` and ``--initrd`` in background threads, so both costs overlap. It decides
nothing: click still parses argv, and the command uses a prefetched digest only for the
exact path it was given. The prefetch is handed to the CLI as an argument (it reaches the
command through click's context object, :class:`refkit.cli._state.CliState`); no module
holds it in a global. A wrong guess costs a wasted read, never a wrong result; a file
that fails to read is read again by the engine, which reports the error in its words.

This module imports only what Python has loaded anyway (and :mod:`refkit._fasthash`): it
lives outside :mod:`refkit.cli` because importing anything in that package loads click.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections.abc import Sequence

from refkit._fasthash import digest_path

ALGORITHMS = ("sha256",)
_FILE_OPTIONS = ("--kernel", "--initrd")


class Prefetch:
    """Files being digested in background threads, keyed by the path text given."""

    def __init__(self, paths: Sequence[str]) -> None:
        self._results: dict[str, tuple[int, list[bytes]] | None] = {}
        self._threads: dict[str, threading.Thread] = {}
        for path in dict.fromkeys(paths):
            if not _regular_file(path):
                continue  # pipes and devices are read once, by the engine, within its limits
            thread = threading.Thread(target=self._work, args=(path,), daemon=True)
            self._threads[path] = thread
            thread.start()

    def _work(self, path: str) -> None:
        try:
            self._results[path] = digest_path(path, ALGORITHMS)
        except OSError:
            self._results[path] = None

    def result(self, path: str) -> tuple[int, list[bytes]] | None:
        """The (size, digests) of ``path`` once hashed; None if not prefetched or failed."""
        thread = self._threads.get(path)
        if thread is None:
            return None
        thread.join()
        return self._results.get(path)


def _regular_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def prefetch_paths(argv: Sequence[str]) -> list[str]:
    """The kernel and initrd paths of a ``measure snp`` command line, else nothing."""
    if [a for a in argv if not a.startswith("-")][:2] != ["measure", "snp"]:
        return []
    paths = []
    for i, arg in enumerate(argv):
        for opt in _FILE_OPTIONS:
            if arg == opt and i + 1 < len(argv):
                paths.append(argv[i + 1])
            elif arg.startswith(opt + "="):
                paths.append(arg[len(opt) + 1 :])
    return paths


def main() -> int:
    """Console-script entry point: start the prefetch hint, then run the click CLI with it."""
    argv = sys.argv[1:]
    paths = prefetch_paths(argv)
    prefetch = Prefetch(paths) if paths else None
    from refkit.cli import main as cli_main

    return cli_main(argv, prefetch=prefetch)
