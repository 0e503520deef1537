"""The ``erofs`` builder: a deterministic EROFS image of a directory tree (a root file
system, a model, an initrd's payload), through :mod:`refkit.weights.erofs`.

Input ``tree`` (required): a directory, or a tar archive of one (unpacked safely by
``refkit.builders.tree``). Parameter ``uuid`` (default the nil UUID): the
file system UUID.

The tree is staged first (:func:`stage_tree`), then imaged with the weights disk's exact
mkfs.erofs command line (:func:`refkit.weights.erofs.mkfs`: ``-T<SOURCE_DATE_EPOCH>``,
``--ignore-mtime``, ``-x-1``, ``--all-root``, a fixed UUID, a fixed environment). The
staging differs from :func:`refkit.weights.erofs.stage` in one way, on purpose: a root file
system holds symbolic links (merged-/usr's ``/bin -> usr/bin``, ``/etc/alternatives``), so
a link is recreated as a link with its target text unchanged (never followed: inside an
image a link is data, and whatever it points to is resolved on the booted machine), where
a model's walk refuses links. Otherwise the same rules:

* regular files copied with mode 0644, or 0755 when any execute bit is set (set-id and
  sticky bits are dropped: a file system from pinned inputs has no reason to carry them,
  and the builder's umask or checkout must not decide them); directories 0755; empty
  directories kept; hard links become separate files;
* devices, FIFOs and sockets refused; names that are not valid UTF-8 refused;
* everything walked in sorted order (the order the directory lists its entries in cannot
  matter), every time set to the build's epoch.

Facts: the image size and block count from its superblock, the UUID, the mkfs.erofs options
and the number of files, links and directories.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from refkit.builders._run import sorted_facts
from refkit.builders.api import BuildContext, Built, register
from refkit.errors import InputError, input_os_error
from refkit.weights import erofs
from refkit.weights import verity as vt


class TreeRefused(InputError):
    """The input tree holds something an image built from pinned inputs must not."""


@dataclass(frozen=True)
class StagedTree:
    files: int
    links: int
    directories: int


def _name(raw: str, where: str) -> str:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise TreeRefused(f"{where}: a name is not valid UTF-8") from None
    return raw


def _copy_file(src: Path, dst: Path, mode: int) -> None:
    """Copy one regular file without following a link at either end (a file swapped for
    a link after it was looked at is refused, not followed)."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise input_os_error(exc, src) from exc
    with os.fdopen(fd, "rb") as reader:
        if not stat.S_ISREG(os.fstat(reader.fileno()).st_mode):
            raise TreeRefused(f"{src} changed into something other than a file while staged")
        with open(dst, "xb") as writer:
            shutil.copyfileobj(reader, writer, 8 << 20)
            os.fchmod(writer.fileno(), mode)


def stage_tree(source: Path, dest: Path, *, epoch: int) -> StagedTree:
    """Copy the directory ``source`` into the empty directory ``dest`` by the rules of
    the module docstring."""
    if not source.is_dir():
        raise InputError(f"tree {source} is not a directory")
    files = links = directories = 0
    stamp = (epoch * 10**9, epoch * 10**9)
    pending: list[tuple[Path, Path, str]] = [(source, dest, "")]
    while pending:
        src_dir, dst_dir, rel_dir = pending.pop()
        try:
            names = sorted(os.listdir(src_dir))
        except OSError as exc:
            raise input_os_error(exc, src_dir, what="directory") from exc
        for raw in names:
            rel = f"{rel_dir}/{raw}" if rel_dir else raw
            name = _name(raw, os.fspath(source / rel_dir))
            src, dst = src_dir / name, dst_dir / name
            try:
                info = os.lstat(src)
            except OSError as exc:
                raise input_os_error(exc, src) from exc
            if stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(src), dst)
                links += 1
            elif stat.S_ISDIR(info.st_mode):
                dst.mkdir()
                directories += 1
                pending.append((src, dst, rel))
            elif stat.S_ISREG(info.st_mode):
                _copy_file(src, dst, 0o755 if info.st_mode & 0o111 else 0o644)
                files += 1
            else:
                raise TreeRefused(
                    f"{source}: {rel} is a device, FIFO or socket; an image from pinned "
                    f"inputs holds only files, directories and symbolic links"
                )
    for directory, _dirs, names in os.walk(dest, topdown=False):
        for name in names:
            os.utime(os.path.join(directory, name), ns=stamp, follow_symlinks=False)
        os.chmod(directory, 0o755)  # noqa: S103 - a read-only image's directories: 0755
        os.utime(directory, ns=stamp)
    return StagedTree(files, links, directories)


def _as_directory(path: Path, workdir: Path) -> Path:
    """The tree ``path`` names: a directory as it is, or a tar archive (e.g. a ``rootfs``
    artifact in tar form) extracted safely by the builders' shared tree helpers
    (``refkit.builders.tree.tree_of``: absolute names, ``..``, devices and links escaping
    the tree refused)."""
    if path.is_dir():
        return path
    import importlib

    try:
        helpers = importlib.import_module("refkit.builders.tree")
    except ModuleNotFoundError as exc:  # pragma: no cover - present once merged
        raise InputError(
            f"tree {path} is not a directory, and this refkit cannot unpack tar trees"
        ) from exc
    unpacked: Path = helpers.tree_of(path, workdir, source=os.fspath(path))
    return unpacked


class ErofsBuilder:
    name = "erofs"
    version = "1"
    tree_output = False
    params_schema: Mapping[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "uuid": {"type": "string", "description": "file system UUID (default: nil)"},
        },
    }

    def build(self, ctx: BuildContext) -> Built:
        if set(ctx.inputs) != {"tree"}:
            raise InputError(f"{ctx.name}: the erofs builder takes one input named 'tree'")
        uuid = str(ctx.params.get("uuid", erofs.NIL_UUID))
        vt.parse_uuid(uuid)
        staged = ctx.workdir / "tree"
        staged.mkdir()
        ctx.progress("staging the tree", None, None)
        source = _as_directory(ctx.inputs["tree"], ctx.workdir / "unpacked")
        counts = stage_tree(source, staged, epoch=ctx.source_date_epoch)
        ctx.progress("mkfs.erofs", None, None)
        version = erofs.mkfs_version()
        ctx.output.touch(exist_ok=False)
        erofs.mkfs(ctx.output, staged, epoch=ctx.source_date_epoch, uuid=uuid)
        size = erofs.image_size(ctx.output)
        facts = {
            "size": size,
            "uuid": uuid,
            "sourceDateEpoch": ctx.source_date_epoch,
            "options": erofs.mkfs_options(ctx.source_date_epoch, uuid),
            "files": counts.files,
            "links": counts.links,
            "directories": counts.directories,
        }
        return Built(facts=sorted_facts(facts), tools={"mkfs.erofs": version.rsplit(" ", 1)[-1]})


BUILDER: Final = register(ErofsBuilder())
