"""Helpers for the boot builders' tests (test_builders_uki*, _erofs*, _verity*, _nix*):
a build context in a fresh directory, a "different machine" environment (umask, TZ, LANG,
working directory), and the trixie kernel, stub and ukify from ../shared/inputs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from refkit.builders.api import BuildContext, Builder, Built
from tests.shared import shared_input

EPOCH = 1700000000
KERNEL_RELEASE = "6.12.107+deb13-cloud-amd64"
KERNEL_MEMBER = f"boot/vmlinuz-{KERNEL_RELEASE}"


def build(
    builder: Builder,
    where: Path,
    inputs: Mapping[str, Path],
    params: Mapping[str, Any] | None = None,
    *,
    epoch: int = EPOCH,
    output_name: str = "artifact",
) -> tuple[Path, Built]:
    """Run ``builder`` with a fresh work directory under ``where``; return the output."""
    where.mkdir(parents=True, exist_ok=True)
    work = where / "work"
    work.mkdir()
    output = where / output_name
    built = builder.build(
        BuildContext(
            name="test",
            inputs=dict(inputs),
            params=dict(params or {}),
            output=output,
            workdir=work,
            source_date_epoch=epoch,
        )
    )
    return output, built


@contextlib.contextmanager
def other_machine(cwd: Path, *, umask: int = 0o077) -> Iterator[None]:
    """Another umask, time zone, locale and working directory for the block."""
    saved_env = {k: os.environ.get(k) for k in ("TZ", "LANG", "LC_ALL")}
    saved_umask = os.umask(umask)
    saved_cwd = os.getcwd()
    os.environ.update({"TZ": "Pacific/Chatham", "LANG": "de_DE.UTF-8", "LC_ALL": "tr_TR.UTF-8"})
    cwd.mkdir(parents=True, exist_ok=True)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.umask(saved_umask)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def trixie(prefix: str) -> Path:
    """The one package of ../shared/inputs/trixie whose file name starts with ``prefix``."""
    folder = shared_input("trixie")
    (found,) = sorted(folder.glob(prefix + "_*.deb"))
    return found


def extract_member(package: Path, member: str, dest: Path) -> Path:
    """One member of a Debian package, with refkit's own package reader."""
    from refkit.inputs.deb import extract_files

    with open(package, "rb") as stream, open(dest, "xb") as sink:
        extract_files(stream, {member: sink}, source=os.fspath(package))
    return dest
