"""The ``initrd`` builder: a cpio archive in the "new ASCII" (newc) format the Linux kernel
unpacks as its initramfs, optionally compressed with fixed settings.

Input ``tree``: a directory, or a tar archive extracted safely first
(:mod:`refkit.builders.tree`). Parameter ``compression``: ``none`` (default), ``gzip``
(level 9, header mtime 0, no name) or ``xz`` (preset 9, CRC32 check: the kernel's xz
decoder supports CRC32 and CRC64 only when built so; CRC32 always).

Format (the kernel's ``Documentation/driver-api/early-userspace/buffer-format.rst`` and
cpio(5) "New ASCII Format"): each entry is the magic ``070701`` then thirteen 8-digit
upper-case hexadecimal fields: ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
devminor, rdevmajor, rdevminor, namesize (with the NUL), check (0); then the name and
its NUL, padded with NULs to a multiple of 4; then the data (a symbolic link's target),
padded to a multiple of 4. The archive ends with an entry named ``TRAILER!!!``.

Determinism: entries sorted (parents first), inode numbers 1, 2, 3... in that order, nlink
1 for files and links and 2 for directories (the kernel does not read it), owner 0,
every mtime ``SOURCE_DATE_EPOCH``, device numbers 0, modes normalised; hard links are
separate files.
"""

from __future__ import annotations

import gzip
import lzma
import stat
import zlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, BinaryIO, Final

from refkit.atomic import open_output
from refkit.builders.api import BuildContext, Built, register
from refkit.builders.tree import Node, tree_of, walk
from refkit.errors import InputError, input_os_error

MAGIC: Final = b"070701"
TRAILER: Final = "TRAILER!!!"
_CHUNK: Final = 1 << 20
#: newc's filesize field is 32 bits.
MAX_FILE: Final = 0xFFFFFFFF

PARAMS_SCHEMA: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {"compression": {"enum": ["none", "gzip", "xz"]}},
    }
)


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 4)


def header(*, ino: int, mode: int, nlink: int, mtime: int, size: int, name: str) -> bytes:
    """One newc header with its name and padding (module docstring)."""
    encoded = name.encode("utf-8") + b"\0"
    fields = (ino, mode, 0, 0, nlink, mtime, size, 0, 0, 0, 0, len(encoded), 0)
    head = MAGIC + b"".join(b"%08X" % f for f in fields) + encoded
    return head + _pad(len(head))


def write_cpio(nodes: Iterable[Node], out: BinaryIO, *, epoch: int) -> None:
    """The newc archive of ``nodes`` (sorted, e.g. :func:`walk`) to ``out``."""
    for ino, node in enumerate(nodes, start=1):
        if node.kind == "dir":
            out.write(
                header(
                    ino=ino,
                    mode=stat.S_IFDIR | node.mode,
                    nlink=2,
                    mtime=epoch,
                    size=0,
                    name=node.path,
                )
            )
        elif node.kind == "symlink":
            target = node.target.encode("utf-8")
            out.write(
                header(
                    ino=ino,
                    mode=stat.S_IFLNK | 0o777,
                    nlink=1,
                    mtime=epoch,
                    size=len(target),
                    name=node.path,
                )
            )
            out.write(target + _pad(len(target)))
        else:
            assert node.source is not None
            if node.size > MAX_FILE:
                raise InputError(f"{node.source}: larger than a cpio newc entry can hold (4 GiB)")
            out.write(
                header(
                    ino=ino,
                    mode=stat.S_IFREG | node.mode,
                    nlink=1,
                    mtime=epoch,
                    size=node.size,
                    name=node.path,
                )
            )
            written = 0
            try:
                with open(node.source, "rb") as data:
                    while chunk := data.read(min(_CHUNK, node.size - written)):
                        out.write(chunk)
                        written += len(chunk)
            except OSError as exc:
                raise input_os_error(exc, node.source) from exc
            if written != node.size:
                raise InputError(f"{node.source}: the file changed during the build")
            out.write(_pad(written))
    out.write(header(ino=0, mode=0, nlink=1, mtime=0, size=0, name=TRAILER))


class InitrdBuilder:
    name = "initrd"
    version = "1"
    params_schema = PARAMS_SCHEMA
    tree_output = False

    def build(self, ctx: BuildContext) -> Built:
        if "tree" not in ctx.inputs:
            raise InputError(f"{ctx.name}: the initrd builder needs a 'tree' input")
        compression = str(ctx.params.get("compression", "none"))
        source = ctx.inputs["tree"]
        tree = tree_of(source, ctx.workdir / "tree", source=str(source))
        nodes = walk(tree)
        ctx.progress("writing the cpio archive", None, None)
        with open_output(ctx.output) as raw:
            if compression == "gzip":
                with gzip.GzipFile(
                    filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0
                ) as gz:
                    write_cpio(nodes, gz, epoch=ctx.source_date_epoch)  # type: ignore[arg-type]
            elif compression == "xz":
                with lzma.LZMAFile(
                    raw, mode="wb", format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, preset=9
                ) as xz:
                    write_cpio(nodes, xz, epoch=ctx.source_date_epoch)  # type: ignore[arg-type]
            else:
                write_cpio(nodes, raw, epoch=ctx.source_date_epoch)
        facts = {"compression": compression, "entries": len(nodes)}
        tools = {"zlib": zlib.ZLIB_RUNTIME_VERSION} if compression == "gzip" else {}
        return Built(facts=MappingProxyType(facts), tools=MappingProxyType(tools))


register(InitrdBuilder())
