"""The ``rootfs`` builder: a root file system from pinned Debian packages, as a
reproducible tar (``rootfs``) or a directory tree (``rootfs-tree``).

Inputs:

* ``packages``: a ``.deb`` or a directory of them (the recipe's ``{lock: [...]}`` input);
* ``lock`` (optional): the inputs lock. When given, every package must be pinned in it:
  same name, version and architecture (read from the package's own control file) and the
  same sha256. Without it the packages are still listed in the facts.

Modes (``params.mode``):

* ``extract`` (default): a distroless tree. Each package's data archive is extracted in
  package-name order without running maintainer scripts (nothing is configured: no
  ``/var/lib/dpkg/status``, no alternatives). The merged-/usr layout is applied, as
  Debian's ``usrmerge`` does: entries under ``bin``, ``sbin``, ``lib``, ``lib32``,
  ``lib64`` and ``libx32`` move below ``usr/`` (relative link targets are rewritten so they
  name the same file), and the top-level names become links into ``usr``. Entries follow
  :mod:`refkit.builders.tree`'s rules: modes normalised, no devices, no links leaving the
  tree, no file shipped by two packages.
* ``mmdebstrap``: ``mmdebstrap --variant=extract`` from a ``copy://`` repository holding
  only the given packages, offline, with ``SOURCE_DATE_EPOCH`` (mmdebstrap's own
  reproducible tarball; ``--include`` names every given package). The packages apt
  actually used are copied out by an extract hook and checked against the lock as above.
  Its output is mmdebstrap's tar, not re-normalised (file mtimes are the packages',
  clamped by mmdebstrap), without ``/dev`` (its device nodes would make the tar unusable
  as an input of the other builders, which refuse device files) and without
  ``/etc/apt/sources.list`` (which would name the build's private repository, so the
  build directory). The mmdebstrap mode does not merge /usr for bookworm (the extract
  variant runs no usrmerge). mmdebstrap runs with umask 022 and a fixed
  environment (``LC_ALL=C``, ``TZ=UTC``).
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from refkit.atomic import open_output, write_error
from refkit.builders.api import BuildContext, Built, register
from refkit.builders.tree import Extractor, fix_metadata, walk, write_tar
from refkit.errors import (
    EnvironmentProblem,
    InputError,
    MissingTool,
    VerificationFailed,
    input_os_error,
)
from refkit.inputs.deb import data_entries, read_control

#: Top-level directories that merged-/usr moves below ``usr/``.
MERGED: Final = ("bin", "lib", "lib32", "lib64", "libx32", "sbin")
#: Links Debian's merged-/usr always has (the others only when ``usr/<name>`` exists).
ALWAYS_LINKED: Final = ("bin", "lib", "sbin")


@dataclass(frozen=True)
class Package:
    """A package given to the builder, as its control file and bytes say."""

    name: str
    version: str
    architecture: str
    sha256: str
    path: Path

    def fact(self) -> dict[str, str]:
        return {
            "architecture": self.architecture,
            "name": self.name,
            "sha256": self.sha256,
            "version": self.version,
        }


class NotPinned(VerificationFailed):
    """A package given to the builder is not the one the lock pins."""


def merged_usr(name: str) -> str:
    """``lib/x`` -> ``usr/lib/x``; other names unchanged."""
    top, _sep, _rest = name.partition("/")
    return f"usr/{name}" if top in MERGED else name


def merged_target(name: str, target: str) -> str:
    """The link target to write for the link ``name`` after :func:`merged_usr` moved it:
    absolute targets stay (they resolve through the top-level links); a relative target of
    a moved link is rewritten to name the same (merged) path from the new place."""
    moved = merged_usr(name)
    if target.startswith("/") or moved == name:
        return target
    start = posixpath.dirname(name)
    resolved = posixpath.normpath(posixpath.join("/", start, target)).lstrip("/")
    if resolved.startswith("..") or not resolved:
        return target  # refused as escaping by the extractor
    return posixpath.relpath(merged_usr(resolved), posixpath.dirname(moved) or ".")


def find_packages(path: Path) -> list[Path]:
    """The ``.deb`` files ``path`` names (a file, or a directory's ``*.deb``), sorted."""
    if path.is_file():
        return [path]
    try:
        found = sorted(p for p in path.iterdir() if p.name.endswith(".deb"))
    except OSError as exc:
        raise input_os_error(exc, path, what="directory") from exc
    if not found:
        raise InputError(f"{path}: no .deb packages to build a root file system from")
    return found


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    except OSError as exc:
        raise input_os_error(exc, path) from exc
    return h.hexdigest()


def describe(path: Path) -> Package:
    """Name, version and architecture from the package's control file, and its sha256."""
    try:
        with open(path, "rb") as fh:
            control = read_control(fh, source=str(path))
    except OSError as exc:
        raise input_os_error(exc, path, what="package") from exc
    missing = [k for k in ("Package", "Version", "Architecture") if k not in control]
    if missing:
        raise InputError(f"{path}: the control file has no {', '.join(missing)} field")
    return Package(
        control["Package"], control["Version"], control["Architecture"], _sha256(path), path
    )


def pinned(lock_path: Path) -> dict[tuple[str, str, str], str]:
    """(name, version, architecture) -> sha256 for every Debian package the lock pins."""
    from refkit.inputs.lock import load_lock

    out: dict[tuple[str, str, str], str] = {}
    for item in load_lock(lock_path).packages:
        out[(item.name, item.version, item.architecture)] = item.sha256
    return out


def check_against_lock(
    packages: Sequence[Package], pins: Mapping[tuple[str, str, str], str]
) -> None:
    """Every package is pinned with its exact bytes; raises :class:`NotPinned` (exit 1)."""
    for p in packages:
        want = pins.get((p.name, p.version, p.architecture))
        if want is None:
            raise NotPinned(
                f"{p.path.name}: {p.name} {p.version} ({p.architecture}) is not pinned in the "
                "inputs lock",
                hint="pin it in the lock, or remove it from the artifact's inputs",
            )
        if want != p.sha256:
            raise NotPinned(
                f"{p.path.name}: {p.name} {p.version} has sha256 {p.sha256}, the lock pins {want}"
            )


def extract_packages(packages: Sequence[Package], dest: Path) -> None:
    """Extract every package's data archive into ``dest`` with merged-/usr applied."""
    try:
        _extract_packages(packages, dest)
    except OSError as exc:
        raise write_error(exc, dest) from exc


def _extract_packages(packages: Sequence[Package], dest: Path) -> None:
    extractor = Extractor(dest, rename=merged_usr)
    for p in sorted(packages, key=lambda p: (p.name, p.version, p.architecture)):
        origin = f"{p.name} {p.version}"
        with open(p.path, "rb") as fh:
            for name, info, tar in data_entries(fh, source=str(p.path)):
                if info.issym():
                    extractor.symlink(name, merged_target(name, info.linkname), origin)
                else:
                    extractor.add(name, info, tar, origin)
    extractor.rename = lambda name: name  # the top-level links themselves stay in place
    for top in MERGED:
        usr = f"usr/{top}"
        if top in ALWAYS_LINKED and usr not in extractor.entries:
            extractor.directory(usr, "merged /usr")
        if usr in extractor.entries:
            extractor.symlink(top, usr, "merged /usr")


def _mmdebstrap(ctx: BuildContext, packages: Sequence[Package], output: Path) -> list[Path]:
    tool = shutil.which("mmdebstrap")
    if tool is None:
        raise MissingTool("mmdebstrap", package="mmdebstrap")
    # apt's sources line and mmdebstrap's hooks split on white space: a build directory
    # with a space (or other special characters) gets a private directory elsewhere
    if re.fullmatch(r"[A-Za-z0-9/._+-]+", str(ctx.workdir)):
        return _mmdebstrap_in(ctx.workdir, ctx, packages, output)
    base = Path(tempfile.mkdtemp(prefix="refkit-mmdebstrap-"))
    try:
        return _mmdebstrap_in(base, ctx, packages, output, keep=ctx.workdir / "used")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _mmdebstrap_in(
    base: Path,
    ctx: BuildContext,
    packages: Sequence[Package],
    output: Path,
    keep: Path | None = None,
) -> list[Path]:
    tool = shutil.which("mmdebstrap")
    assert tool is not None
    repo = base / "repo"
    used = base / "used"
    repo.mkdir()
    used.mkdir()
    stanzas = []
    for p in sorted(packages, key=lambda p: p.name):
        name = f"{p.name}_{p.version.rpartition(':')[2]}_{p.architecture}.deb"
        shutil.copyfile(p.path, repo / name)
        with open(p.path, "rb") as fh:
            control = read_control(fh, source=str(p.path))
        fields = dict(control)
        fields.update(
            {"Filename": f"./{name}", "Size": str(p.path.stat().st_size), "SHA256": p.sha256}
        )
        # deb822: a continuation line starts with a space; an empty one is " ."
        lines = (
            f"{k}: "
            + "\n".join(f" {line}" if line.strip() else " ." for line in v.split("\n")).lstrip()
            for k, v in fields.items()
        )
        stanzas.append("".join(f"{line}\n" for line in lines))
    (repo / "Packages").write_text("\n".join(stanzas), encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        "TZ": "UTC",
        "SOURCE_DATE_EPOCH": str(ctx.source_date_epoch),
        "HOME": str(base),
        "TMPDIR": str(base),
    }
    dash = "-" + "-"  # mmdebstrap's own options (not refkit's flags)
    argv = [
        tool,
        f"{dash}variant=extract",
        f"{dash}include=" + ",".join(sorted({p.name for p in packages})),
        f"{dash}skip=check/signed-by",
        # no device nodes: the tar stays a valid input of the oci and initrd builders
        f"{dash}skip=output/dev",
        f"{dash}extract-hook=sync-out /var/cache/apt/archives {used}",
        # the sources line names this build's private repository: not part of the image
        f'{dash}extract-hook=rm "$1"/etc/apt/sources.list',
        f"{dash}format=tar",
        "bookworm",
        str(output),
        f"deb [trusted=yes] copy://{repo} ./",
    ]
    ctx.progress("mmdebstrap (extract variant)", None, None)
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env, umask=0o022)
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).split())[-1500:]
        raise EnvironmentProblem(f"mmdebstrap failed (exit {done.returncode}): {tail}")
    if keep is not None:
        shutil.copytree(used, keep)
        used = keep
    return sorted(used.glob("*.deb"))


def _tool_version(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        return "absent"
    done = subprocess.run(
        [path, "-" + "-version"], capture_output=True, text=True, check=False, env={"LC_ALL": "C"}
    )
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else "?"


PARAMS_SCHEMA: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {"mode": {"enum": ["extract", "mmdebstrap"]}},
    }
)


class RootfsBuilder:
    """See the module docstring. ``tree_output`` selects a tar file or a directory."""

    version = "1"
    params_schema = PARAMS_SCHEMA

    def __init__(self, name: str, *, tree_output: bool) -> None:
        self.name = name
        self.tree_output = tree_output

    def build(self, ctx: BuildContext) -> Built:
        if "packages" not in ctx.inputs:
            raise InputError(f"{ctx.name}: the rootfs builder needs a 'packages' input")
        mode = ctx.params.get("mode", "extract")
        packages = [describe(p) for p in find_packages(ctx.inputs["packages"])]
        pins = pinned(ctx.inputs["lock"]) if "lock" in ctx.inputs else None
        if pins is not None:
            check_against_lock(packages, pins)
        tools: dict[str, str] = {}
        if mode == "mmdebstrap":
            if self.tree_output:
                raise InputError(f"{ctx.name}: the mmdebstrap mode builds a tar only")
            tools["mmdebstrap"] = _tool_version("mmdebstrap")
            used = [describe(p) for p in _mmdebstrap(ctx, packages, ctx.output)]
            given = {p.sha256 for p in packages}
            for u in used:
                if u.sha256 not in given:
                    raise NotPinned(f"mmdebstrap used {u.name} {u.version}, not a given package")
            if pins is not None:
                check_against_lock(used, pins)
            installed = used
        else:
            tree = ctx.workdir / "tree"
            tree.mkdir()
            ctx.progress("extracting packages", 0, len(packages))
            extract_packages(packages, tree)
            if self.tree_output:
                fix_metadata(tree, ctx.source_date_epoch)
                try:
                    os.rename(tree, ctx.output)
                except OSError:  # another file system: copy, links kept as links
                    shutil.copytree(tree, ctx.output, symlinks=True)
                    fix_metadata(ctx.output, ctx.source_date_epoch)
            else:
                with open_output(ctx.output) as out:
                    write_tar(walk(tree), out, epoch=ctx.source_date_epoch)
            installed = packages
        facts = {
            "lock_checked": pins is not None,
            "mode": mode,
            "packages": [p.fact() for p in sorted(installed, key=lambda p: p.name)],
        }
        return Built(facts=MappingProxyType(facts), tools=MappingProxyType(tools))


register(RootfsBuilder("rootfs", tree_output=False))
register(RootfsBuilder("rootfs-tree", tree_output=True))
