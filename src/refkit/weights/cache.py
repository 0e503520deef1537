"""An opt-in incremental cache for re-digesting a large model (publishers only).

Keyed by a file's manifest name, size, mtime_ns, inode and device, and by the resource
algorithm (hash type and shard size): a file whose five values are unchanged is not read
again. The cache is a JSON document written atomically after a successful run.

What it trusts: that a file with the same name, size, modification time, inode and device
has the same content. A write that keeps all five (a tool resetting mtime, or a change
within the file system's timestamp granularity) would go unnoticed, so entries whose
mtime is within :data:`RACY_SECONDS` of the run are not stored (git's "racy" rule), and
verification never uses a cache. The output names every file that came from the cache.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from refkit.atomic import write_file
from refkit.errors import Location, ParseError, input_os_error
from refkit.reader import Obj
from refkit.weights.oms import Resource
from refkit.weights.tree import FileEntry

CACHE_VERSION = 1
RACY_SECONDS = 2


class DigestCache:
    """Entries loaded from ``path`` (absent or empty: none), stored back by :meth:`save`."""

    def __init__(self, path: Path, *, now: float | None = None) -> None:
        self.path = path
        self._now = time.time() if now is None else now
        self._entries: dict[str, dict[str, Any]] = {}
        self._fresh: dict[str, dict[str, Any]] = {}
        if path.exists():
            self._entries = _load(path)

    @staticmethod
    def _key(e: FileEntry) -> list[int]:
        return [e.size, e.mtime_ns, e.inode, e.device]

    def lookup(self, e: FileEntry, algorithm: str) -> list[Resource] | None:
        got = self._entries.get(e.name)
        if got is None or got["key"] != self._key(e) or got["algorithm"] != algorithm:
            return None
        self._fresh[e.name] = got
        return [Resource(n, algorithm, d) for n, d in got["resources"]]

    def store(self, e: FileEntry, algorithm: str, resources: list[Resource]) -> None:
        if self._now - e.mtime_ns / 1e9 < RACY_SECONDS:
            return
        self._fresh[e.name] = {
            "key": self._key(e),
            "algorithm": algorithm,
            "resources": [[r.name, r.digest] for r in resources],
        }

    def save(self) -> None:
        """Write the entries of this run (files no longer present are dropped)."""
        doc = {"version": CACHE_VERSION, "files": dict(sorted(self._fresh.items()))}
        write_file(self.path, json.dumps(doc, separators=(",", ":")).encode() + b"\n", force=True)


def _load(path: Path) -> dict[str, dict[str, Any]]:
    from refkit.manifests.canonical import loads_strict

    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise input_os_error(exc, path, what="digest cache") from exc
    if not data.strip():
        return {}
    value = loads_strict(data, source=source, max_bytes=1 << 30)
    obj = Obj(value, source=source, path="$")
    if obj.integer("version") != CACHE_VERSION:
        raise obj.fail("version", f"expected {CACHE_VERSION}", hint="delete the cache file")
    files = Obj(obj.raw("files", True), source=source, path="$.files")
    out: dict[str, dict[str, Any]] = {}
    for name, entry in files.value.items():
        e = Obj(entry, source=source, path=f"$.files[{name!r}]")
        key = e.raw("key", True)
        res = e.raw("resources", True)
        ok = (
            isinstance(key, list)
            and len(key) == 4
            and all(isinstance(k, int) and not isinstance(k, bool) for k in key)
            and isinstance(res, list)
            and all(
                isinstance(r, list) and len(r) == 2 and all(isinstance(x, str) for x in r)
                for r in res
            )
        )
        if not ok:
            raise ParseError(
                "malformed cache entry",
                location=Location(source, field=f"$.files[{name!r}]"),
                hint="delete the cache file",
            )
        out[name] = {"key": key, "algorithm": e.text("algorithm"), "resources": res}
    return out
