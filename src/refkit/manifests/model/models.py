"""Model weights: where they come from and the digests that pin them (``models``).

``fileDigestRoot.method`` (schema 1.1: an enum, :class:`DigestMethod`) says what the
digest is computed over; a method this refkit does not know is refused with
``manifest.constraint.unknown`` (it cannot check a digest it cannot recompute). The
model's ``source`` and ``tools`` are informational: unknown fields there are kept.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from refkit.errors import Location, NotUnderstood
from refkit.manifests.model.common import (
    CONSTRAINT_UNKNOWN,
    DIGEST_SIZES,
    KNOWN_ALGORITHM,
    NAME,
    TOKEN,
    as_list,
)
from refkit.manifests.model.kind import Fact, Kind, View, grouped
from refkit.reader import Obj, merged, put

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_BLOCK = re.compile(r"512|1024|2048|4096|8192|16384|32768|65536")


class DigestMethod(enum.StrEnum):
    """What a model's ``fileDigestRoot`` digest is computed over (docs/manifests.md).

    - ``model-signing-files``: the subject digest of an OpenSSF model_signing manifest
      with serialization method ``files``: the digest over the sorted per-file digests.
    - ``model-signing-shards``: the same with serialization method ``shards`` (each file
      split into shards of the manifest's shard size, digested per shard).
    - ``refkit-files``: the digest of the RFC 8785 canonical JSON array of
      ``{"name": relative POSIX path, "digest": hex}``, one per file sorted by name,
      excluded files left out, each file digested with ``algorithm``.
    """

    MODEL_SIGNING_FILES = "model-signing-files"
    MODEL_SIGNING_SHARDS = "model-signing-shards"
    REFKIT_FILES = "refkit-files"


@dataclass(frozen=True)
class ModelSource:
    repository: str
    revision: str
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> ModelSource:
        return cls(
            obj.text("repository", pattern=NAME), obj.text("revision", pattern=TOKEN), obj.rest()
        )

    def to_json(self) -> dict[str, Any]:
        return merged({"repository": self.repository, "revision": self.revision}, self.unrecognized)


@dataclass(frozen=True)
class Verity:
    """dm-verity parameters: every one of them changes the root hash (DOMAIN.md 5)."""

    root_hash: str
    hash_offset: int
    salt: str
    hash_algorithm: str = "sha256"
    data_block_size: int = 4096
    hash_block_size: int = 4096
    format_version: int = 1
    uuid: str | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Verity:
        alg = obj.text("hashAlgorithm", pattern=KNOWN_ALGORITHM)
        out = cls(
            root_hash=obj.hex("rootHash", DIGEST_SIZES[alg]),
            hash_offset=obj.integer("hashOffset"),
            salt=obj.hex("salt"),
            hash_algorithm=alg,
            data_block_size=obj.integer("dataBlockSize", lo=512, hi=65536),
            hash_block_size=obj.integer("hashBlockSize", lo=512, hi=65536),
            format_version=obj.integer("formatVersion", lo=0, hi=1),
            uuid=obj.opt_text("uuid", pattern=_UUID),
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )
        for key, size in (
            ("dataBlockSize", out.data_block_size),
            ("hashBlockSize", out.hash_block_size),
        ):
            if not _BLOCK.fullmatch(str(size)):
                raise obj.fail(key, "must be a power of two from 512 to 65536")
        if out.hash_offset % out.data_block_size:
            raise obj.fail("hashOffset", "must be a multiple of dataBlockSize")
        if len(out.salt) > 512:
            raise obj.fail("salt", "is longer than 256 bytes")
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rootHash": self.root_hash,
            "hashOffset": self.hash_offset,
            "salt": self.salt,
            "hashAlgorithm": self.hash_algorithm,
            "dataBlockSize": self.data_block_size,
            "hashBlockSize": self.hash_block_size,
            "formatVersion": self.format_version,
        }
        put(out, "uuid", self.uuid)
        return merged(out, self.unrecognized)


#: Per-file (or per-shard) hash types of model_signing manifests (``hashType``, 1.2).
HASH_TYPES = ("sha256", "blake2b", "blake3", "sha384")


@dataclass(frozen=True)
class FileDigestRoot:
    """A digest over the model's files, computed as ``method`` says.

    Schema 1.2 adds ``hashType`` (the digest of each file or shard, model_signing's
    ``hash_type``; absent: ``algorithm``) and ``shardSize`` (bytes, only with
    ``model-signing-shards``): without them a verifier holding only the files could not
    recompute a sharded or BLAKE digest.
    """

    algorithm: str
    digest: str
    method: DigestMethod | None = None
    hash_type: str | None = None
    shard_size: int | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> FileDigestRoot:
        alg = obj.text("algorithm", pattern=KNOWN_ALGORITHM)
        method_text = obj.opt_text("method", pattern=NAME)
        method = None
        if method_text is not None:
            try:
                method = DigestMethod(method_text)
            except ValueError:
                known = ", ".join(m.value for m in DigestMethod)
                raise NotUnderstood(
                    f"file digest method {method_text[:80]!r} is not one this refkit can "
                    f"recompute ({known})",
                    location=Location(obj.source, field=obj.at("method")),
                    code=CONSTRAINT_UNKNOWN,
                    hint="use a refkit release that knows this method",
                ) from None
        hash_type = obj.opt_text("hashType", pattern=NAME)
        if hash_type is not None and hash_type not in HASH_TYPES:
            raise NotUnderstood(
                f"file hash type {hash_type[:40]!r} is not one this refkit can recompute "
                f"({', '.join(HASH_TYPES)})",
                location=Location(obj.source, field=obj.at("hashType")),
                code=CONSTRAINT_UNKNOWN,
                hint="use a refkit release that knows this hash type",
            )
        shard_size = obj.opt_integer("shardSize", lo=1)
        if shard_size is not None and method is not DigestMethod.MODEL_SIGNING_SHARDS:
            raise obj.fail("shardSize", "is only meaningful with method model-signing-shards")
        return cls(
            algorithm=alg,
            digest=obj.hex("digest", DIGEST_SIZES[alg]),
            method=method,
            hash_type=hash_type,
            shard_size=shard_size,
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"algorithm": self.algorithm, "digest": self.digest}
        put(out, "method", None if self.method is None else self.method.value)
        put(out, "hashType", self.hash_type)
        put(out, "shardSize", self.shard_size)
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class ModelWeights:
    """One model's weights: where they come from and the digests that pin them."""

    name: str
    source: ModelSource
    excluded_files: tuple[str, ...] | None = None
    file_digest_root: FileDigestRoot | None = None
    verity: Verity | None = None
    disk: str | None = None
    tools: Mapping[str, str] | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> ModelWeights:
        fdr = obj.opt_obj("fileDigestRoot")
        ver = obj.opt_obj("verity")
        tools_obj = obj.opt_obj("tools")
        tools: dict[str, str] | None = None
        if tools_obj is not None:
            tools = {}
            for name in tools_obj.value:
                if not TOKEN.fullmatch(name):
                    raise tools_obj.fail(name[:80], "is not a valid tool name")
                tools[name] = tools_obj.text(name, pattern=TOKEN)
        out = cls(
            name=obj.text("name", pattern=NAME),
            source=ModelSource.parse(obj.obj("source")),
            excluded_files=obj.text_list("excludedFiles", pattern=NAME),
            file_digest_root=None if fdr is None else FileDigestRoot.parse(fdr),
            verity=None if ver is None else Verity.parse(ver),
            disk=obj.opt_text("disk", pattern=NAME),
            tools=tools,
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )
        if out.file_digest_root is None and out.verity is None:
            raise obj.fail(None, "needs fileDigestRoot, verity or both: nothing pins the weights")
        return out

    @property
    def key(self) -> str:
        return f"model {self.name}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "source": self.source.to_json()}
        put(out, "excludedFiles", as_list(self.excluded_files))
        put(
            out,
            "fileDigestRoot",
            None if self.file_digest_root is None else self.file_digest_root.to_json(),
        )
        put(out, "verity", None if self.verity is None else self.verity.to_json())
        put(out, "disk", self.disk)
        put(out, "tools", None if self.tools is None else dict(self.tools))
        return merged(out, self.unrecognized)


def _facts(m: ModelWeights) -> list[Fact]:
    out: list[Fact] = [
        ("model", m.name),
        ("source", f"{m.source.repository} @ {m.source.revision}"),
    ]
    if m.disk:
        out.append(("disk", m.disk))
    if m.excluded_files:
        out.append(("excluded files", ", ".join(m.excluded_files)))
    return out


def _rows(m: ModelWeights) -> Iterable[Sequence[str]]:
    rows: list[Sequence[str]] = []
    if m.file_digest_root is not None:
        fdr = m.file_digest_root
        rows.append(
            (f"files ({fdr.method or 'method unspecified'})", f"{fdr.algorithm}:{fdr.digest}")
        )
        if fdr.hash_type is not None or fdr.shard_size is not None:
            each = "file" if fdr.shard_size is None else f"shard of {fdr.shard_size} bytes"
            rows.append(("files hashing", f"{fdr.hash_type or fdr.algorithm} per {each}"))
    if m.verity is not None:
        v = m.verity
        rows.append(("verity root", f"{v.hash_algorithm}:{v.root_hash}"))
        rows.append(("verity salt", v.salt or "-"))
        rows.append(
            (
                "verity layout",
                f"hash offset {v.hash_offset}, blocks {v.data_block_size}/{v.hash_block_size}, "
                f"format {v.format_version}",
            )
        )
    return rows


def view(entries: Sequence[ModelWeights]) -> View:
    return grouped("Models", entries, facts=_facts, columns=("pin", "value"), rows=_rows)


KIND: Kind[ModelWeights] = Kind(
    container="",
    name="models",
    title="Models",
    diff_section="models",
    parse=ModelWeights.parse,
    view=view,
)
