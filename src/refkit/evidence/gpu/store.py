"""A RIM store: a folder of RIM files picked by content, never by name.

Every regular file of the folder (not recursive) that looks like a SWID tag is parsed
(hardened, :mod:`refkit.evidence.gpu.rim`); others are ignored. RIMs are looked up by
(kind, version): kind from the content (driver, VBIOS, NVSwitch BIOS), version from
``Meta/@colloquialVersion``, compared case-insensitively as NVIDIA does. Identical
documents (same SHA-256) count once; a version may have several candidates (a
production and a test RIM), which the comparison treats as alternatives.
``refkit evidence fetch`` fills a store from NVIDIA's RIM service (``fetch.py``);
reading it never reaches the network.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from refkit.errors import InputError, input_os_error, read_input_file
from refkit.evidence.gpu.rim import MAX_RIM_BYTES, Rim, looks_like, parse_rim

MAX_FILES = 10_000


@dataclass(frozen=True)
class RimStore:
    """The RIMs of a folder (or of files given one by one)."""

    rims: tuple[Rim, ...]

    @classmethod
    def from_files(cls, paths: Iterable[str | os.PathLike[str]]) -> RimStore:
        """RIM files given by the caller: each must be a RIM."""
        out = []
        for path in paths:
            data = read_input_file(path, what="RIM", limit=MAX_RIM_BYTES)
            out.append(parse_rim(data, source=os.fspath(path)))
        return cls(_unique(out))

    @classmethod
    def open(cls, folder: str | os.PathLike[str]) -> RimStore:
        """The RIMs in ``folder``; files that are not RIMs are skipped."""
        root = Path(folder)
        try:
            entries = sorted(p for p in root.iterdir() if p.is_file())
        except OSError as exc:
            raise input_os_error(exc, root, what="RIM folder") from exc
        if len(entries) > MAX_FILES:
            raise InputError(f"RIM folder {root} holds more than {MAX_FILES} files")
        out = []
        for path in entries:
            try:
                if path.stat().st_size > MAX_RIM_BYTES:
                    continue
                with path.open("rb") as fh:
                    head = fh.read(2048)
            except OSError as exc:
                raise input_os_error(exc, path, what="RIM") from exc
            if not looks_like(head):
                continue
            out.append(parse_rim(read_input_file(path, what="RIM"), source=str(path)))
        return cls(_unique(out))

    def find(self, kind: str, version: str) -> tuple[Rim, ...]:
        """Every RIM of ``kind`` for ``version`` (case-insensitive), in source order."""
        v = version.lower()
        return tuple(r for r in self.rims if r.kind == kind and r.version.lower() == v)

    def of_kind(self, kind: str) -> tuple[Rim, ...]:
        return tuple(r for r in self.rims if r.kind == kind)


def _unique(rims: list[Rim]) -> tuple[Rim, ...]:
    seen: set[str] = set()
    out = []
    for r in rims:
        if r.sha256 not in seen:
            seen.add(r.sha256)
            out.append(r)
    return tuple(out)
