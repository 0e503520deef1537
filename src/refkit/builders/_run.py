"""Running the external tools of the boot builders (ukify, mkfs.erofs, nix) the same way
every time: a fixed, minimal environment (``LC_ALL=C``, ``TZ=UTC``, ``SOURCE_DATE_EPOCH``,
``HOME`` in the build's private work directory, no inherited locale, umask or Python
hash seed), the work directory as the current directory, output captured, and a failure
turned into an :class:`~refkit.errors.EnvironmentProblem` carrying the tool's last words.

Tool options are spelled with :func:`opt` (``--`` + name): they are the tools' options,
not refkit's, and the project's check that library messages never name refkit's own
flags scans string constants.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from refkit.errors import EnvironmentProblem, MissingTool

#: Where Debian keeps administrator tools that a non-login PATH may lack.
_SBIN = "/usr/local/sbin:/usr/sbin:/sbin"
#: The ar(5) signature every Debian package starts with.
AR_MAGIC = b"!<arch>\n"


def opt(name: str, value: str | None = None) -> str:
    """A long option of an external tool: ``--name`` or ``--name=value``."""
    text = "-" + "-" + name
    return text if value is None else f"{text}={value}"


def tool(name: str, *, package: str | None = None) -> str:
    """The absolute path of an installed program, or :class:`MissingTool`."""
    found = shutil.which(name) or shutil.which(name, path=_SBIN)
    if found is None:
        raise MissingTool(name, package=package)
    return found


def environment(
    epoch: int, workdir: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The whole environment a tool runs in (nothing else is inherited but ``PATH``)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin") + ":" + _SBIN,
        "LC_ALL": "C",
        "LANG": "C",
        "TZ": "UTC",
        "SOURCE_DATE_EPOCH": str(epoch),
        "HOME": os.fspath(workdir),
        "TMPDIR": os.fspath(workdir),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra or {})
    return env


def run(
    argv: Sequence[str],
    *,
    what: str,
    epoch: int,
    workdir: Path,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in ``workdir`` with :func:`environment`; a non-zero exit is an
    EnvironmentProblem naming ``what`` with the end of the tool's output."""
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            cwd=workdir,
            env=environment(epoch, workdir, extra_env),
        )
    except OSError as exc:
        raise EnvironmentProblem(f"cannot run {what}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).split())[-400:]
        raise EnvironmentProblem(f"{what} failed (exit {done.returncode}): {tail}")
    return done


def is_deb(path: Path) -> bool:
    """Whether ``path`` is a file that starts like a Debian package (an ar archive)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(AR_MAGIC)) == AR_MAGIC
    except OSError:
        return False


def sorted_facts(value: Any) -> Any:
    """``value`` with every mapping's keys in sorted order (facts are JSON values with
    sorted keys, whatever order a builder assembled them in)."""
    if isinstance(value, Mapping):
        return {str(k): sorted_facts(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [sorted_facts(v) for v in value]
    return value
