"""Pinning: describe a ``.deb`` as a lock entry, and add it to a lock.

The identity fields (name, version, architecture, source) are read from the package's own
control file; size and sha256 are computed from its bytes; each file to extract is
extracted (to nowhere) to record its size and sha256. Only the suite and component, which a
``.deb`` does not carry, come from the caller.

Invariant: an entry made here passes the same validation as a lock read from disk (it is
checked by :func:`refkit.inputs.lock.parse_lock`), so ``pin`` cannot write a lock that
``fetch`` would refuse.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO, cast

from refkit.errors import InputError
from refkit.hashing import sha256_stream
from refkit.inputs.deb import extract_files, read_control
from refkit.inputs.lock import (
    MAX_INPUT_SIZE,
    DebianPackage,
    ExtractSpec,
    Lock,
    deb_filename,
    lock_to_json,
    parse_lock,
)
from refkit.inputs.store import NotRegularFile, open_regular


class _Discard(io.RawIOBase):
    """A sink that keeps nothing: extraction computes the digest on its own."""

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        return len(memoryview(data))


def pin_deb(
    path: Path, *, suite: str, component: str = "main", extract: Sequence[tuple[str, str]] = ()
) -> DebianPackage:
    """A lock entry for the package file at ``path``; ``extract`` is (member, output) pairs."""
    source = str(path)
    try:
        handle = open_regular(path)
    except NotRegularFile:
        raise InputError(
            f"package {path} is not a regular file (it is read more than once)",
            hint="save it to a file first, then pin that file",
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read package {path}: {exc.strerror or exc}") from exc
    with handle:
        size, sha256 = sha256_stream(handle)
        handle.seek(0)
        fields = read_control(handle, source=source)
        missing = [f for f in ("Package", "Version", "Architecture") if f not in fields]
        if missing:
            raise InputError(f"{source}: control file has no {missing[0]} field")
        sinks = {member: cast(BinaryIO, _Discard()) for member, _output in extract}
        handle.seek(0)
        # A lock cannot pin more than MAX_INPUT_SIZE: stop there, not after a bomb's output.
        limits = {member: MAX_INPUT_SIZE for member, _output in extract}
        extracted = extract_files(handle, sinks, source=source, limits=limits)
    name = fields["Package"]
    version = fields["Version"]
    architecture = fields["Architecture"]
    package = DebianPackage(
        name=name,
        version=version,
        architecture=architecture,
        suite=suite,
        component=component,
        source=fields.get("Source", name).split(" ", 1)[0] or name,
        filename=deb_filename(name, version, architecture),
        size=size,
        sha256=sha256,
        extract=tuple(
            ExtractSpec(member, output, extracted[member].size, extracted[member].sha256)
            for member, output in extract
        ),
    )
    checked = _validated(Lock((package,), source=source)).inputs[0]
    assert isinstance(checked, DebianPackage)
    return checked


def add_to_lock(lock: Lock, package: DebianPackage) -> Lock:
    """``lock`` with ``package`` added, replacing an entry of the same name and architecture
    (a version bump keeps its place); validated like a lock read from disk."""
    inputs = list(lock.inputs)
    for index, item in enumerate(inputs):
        if isinstance(item, DebianPackage) and (item.name, item.architecture) == (
            package.name,
            package.architecture,
        ):
            inputs[index] = package
            break
    else:
        inputs.append(package)
    return _validated(replace(lock, inputs=tuple(inputs)))


def _validated(lock: Lock) -> Lock:
    data = json.dumps(lock_to_json(lock)).encode()
    return parse_lock(data, source=lock.source)
