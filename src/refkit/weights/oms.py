"""The OpenSSF model signing (OMS) manifest: an in-toto statement of a model's file digests.

Format (model_signing 1.1.1, predicate ``https://model_signing/signature/v1.0``)::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": MODEL, "digest": {"sha256": FILES_DIGEST}}],
     "predicateType": "https://model_signing/signature/v1.0",
     "predicate": {
       "serialization": {"method": "files" | "shards", "hash_type": "sha256",
                         ["shard_size": N,] "allow_symlinks": false,
                         ["ignore_paths": [...]]},
       "resources": [{"name": "a/b.bin", "algorithm": "sha256", "digest": HEX}, ...]}}

Invariants:

* In ``files`` serialization a resource names a file (POSIX path relative to the model
  directory) and its algorithm is the hash type (``sha256``, ``blake2b``, ``blake3``; refkit
  adds ``sha384``). In ``shards`` serialization a resource is ``path:start:end`` (parsed
  from the right: file names may hold colons) and its algorithm is
  ``<hash type>-sharded-<shard size>``. Empty files have no shard.
* Resources are ordered as model_signing sorts them: by path *components* (``a/b``
  before ``a-b``), then integer shard offsets (``:2:3`` before ``:10:11``); the OMS spec
  text says code-point order, which differs for such names (DOMAIN.md section 7).
* The **files digest** (the subject digest) is SHA-256 over the concatenated raw resource
  digests in the order the predicate lists them. Names are not covered by it; they are
  covered by the signature over the whole statement. It is a different identity from a
  verity disk's root hash, and refkit never calls either of them just "the digest".

:func:`parse_statement` reads any producer's statement strictly (ParseError naming the
source and field) and keeps the resource order it was given; verification compares in
that order.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from refkit.errors import Location, ParseError
from refkit.reader import Obj

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
PAYLOAD_TYPE = "application/vnd.in-toto+json"

#: Hash types as model_signing names them in ``hash_type`` (and the extra one refkit has).
HASH_TYPES = ("sha256", "blake2b", "blake3", "sha384")
#: Digest size in bytes of each hash type.
DIGEST_SIZES = {"sha256": 32, "blake2b": 64, "blake3": 32, "sha384": 48}
#: The hash types model_signing 1.1.1 can verify.
MODEL_SIGNING_HASH_TYPES = ("sha256", "blake2b", "blake3")

METHOD_FILES = "files"
METHOD_SHARDS = "shards"

#: model_signing's default shard size (bytes).
DEFAULT_SHARD_SIZE = 1_000_000_000

#: Paths model_signing always ignores (relative to the model directory).
GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")

MAX_STATEMENT_BYTES = 256 << 20

_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True, order=True)
class Resource:
    """One hashed item: a file, or a shard named ``path:start:end``."""

    name: str
    algorithm: str
    digest: str  # lower-case hex

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "algorithm": self.algorithm, "digest": self.digest}


def shard_name(path: str, start: int, end: int) -> str:
    return f"{path}:{start}:{end}"


def split_shard_name(name: str) -> tuple[str, int, int] | None:
    """``path, start, end`` of a shard name, parsed from the right; None if malformed."""
    parts = name.rsplit(":", 2)
    if len(parts) != 3 or not parts[0]:
        return None
    path, start, end = parts
    if not (start.isdigit() and end.isdigit() and start.isascii() and end.isascii()):
        return None
    if (len(start) > 1 and start[0] == "0") or (len(end) > 1 and end[0] == "0"):
        return None  # one spelling per offset
    return path, int(start), int(end)


def sort_key(name: str, method: str) -> tuple[tuple[str, ...], int, int]:
    """model_signing's order: path components, then integer shard offsets."""
    if method == METHOD_SHARDS:
        parsed = split_shard_name(name)
        if parsed is not None:
            path, start, end = parsed
            return tuple(p for p in path.split("/") if p), start, end
    return tuple(p for p in name.split("/") if p), 0, 0


def files_digest_of(resources: Iterable[Resource]) -> str:
    """SHA-256 over the raw resource digests, in the order given: the subject digest."""
    h = hashlib.sha256()
    for r in resources:
        h.update(bytes.fromhex(r.digest))
    return h.hexdigest()


def resource_algorithm(hash_type: str, method: str, shard_size: int | None) -> str:
    """The ``algorithm`` a resource records (model_signing names shards' with the size)."""
    if method == METHOD_SHARDS:
        return f"{hash_type}-sharded-{shard_size}"
    return hash_type


@dataclass(frozen=True)
class ModelManifest:
    """A model's OMS manifest: every parameter that changes a digest, and the resources.

    ``files_digest`` is the hex subject digest (see the module docstring). ``cached``
    names the files whose digests an incremental cache supplied (never part of the
    statement); ``extra_predicate`` keeps predicate fields this version does not read.
    """

    name: str
    method: str
    hash_type: str
    shard_size: int | None
    allow_symlinks: bool
    ignore_paths: tuple[str, ...]
    resources: tuple[Resource, ...]
    files_digest: str
    cached: tuple[str, ...] = ()
    extra_predicate: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def build(
        cls,
        *,
        name: str,
        method: str,
        hash_type: str,
        shard_size: int | None,
        allow_symlinks: bool,
        ignore_paths: Sequence[str],
        resources: Iterable[Resource],
        cached: Sequence[str] = (),
    ) -> ModelManifest:
        """A manifest with resources in model_signing's order and its files digest."""
        ordered = tuple(sorted(resources, key=lambda r: sort_key(r.name, method)))
        return cls(
            name=name,
            method=method,
            hash_type=hash_type,
            shard_size=shard_size if method == METHOD_SHARDS else None,
            allow_symlinks=allow_symlinks,
            ignore_paths=tuple(sorted(set(ignore_paths))),
            resources=ordered,
            files_digest=files_digest_of(ordered),
            cached=tuple(sorted(cached)),
        )

    def serialization(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "hash_type": self.hash_type}
        if self.method == METHOD_SHARDS:
            out["shard_size"] = self.shard_size
        out["allow_symlinks"] = self.allow_symlinks
        if self.ignore_paths:
            out["ignore_paths"] = list(self.ignore_paths)
        return out

    def statement(self) -> dict[str, Any]:
        """The in-toto statement, as model_signing writes it."""
        predicate: dict[str, Any] = dict(self.extra_predicate)
        predicate["serialization"] = self.serialization()
        predicate["resources"] = [r.to_json() for r in self.resources]
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": self.name, "digest": {"sha256": self.files_digest}}],
            "predicateType": PREDICATE_TYPE,
            "predicate": predicate,
        }

    def files(self) -> dict[str, tuple[Resource, ...]]:
        """Resources grouped by file path (one per file, or the file's shards in order)."""
        out: dict[str, list[Resource]] = {}
        for r in self.resources:
            out.setdefault(self.path_of(r), []).append(r)
        return {k: tuple(v) for k, v in out.items()}

    def path_of(self, resource: Resource) -> str:
        if self.method == METHOD_SHARDS:
            parsed = split_shard_name(resource.name)
            if parsed is not None:
                return parsed[0]
        return resource.name

    def to_json(self) -> dict[str, Any]:
        """refkit's ``weights digest --json`` record: the statement and the named identity."""
        return {
            "kind": "model-digest",
            "model": self.name,
            "filesDigest": {"algorithm": "sha256", "digest": self.files_digest},
            "serialization": self.serialization(),
            "resourceCount": len(self.resources),
            "cached": list(self.cached),
            "statement": self.statement(),
        }


def parse_statement(data: bytes, *, source: str, check_subject: bool = True) -> ModelManifest:
    """Parse an OMS statement (JSON bytes) strictly, keeping the resource order given.

    With ``check_subject`` (the default), a subject digest that is not the SHA-256 over the
    resource digests is a ParseError; verifiers pass False and report it as a result.
    """
    from refkit.manifests.canonical import loads_strict

    if len(data) > MAX_STATEMENT_BYTES:
        raise ParseError(
            f"{len(data)} bytes is too large for a model manifest",
            location=Location(source),
        )
    value = loads_strict(data, source=source, max_bytes=MAX_STATEMENT_BYTES)
    return statement_from_value(value, source=source, check_subject=check_subject)


def statement_from_value(value: Any, *, source: str, check_subject: bool = True) -> ModelManifest:
    """:func:`parse_statement` for a value already parsed from JSON."""
    obj = Obj(value, source=source, path="$")
    if obj.text("_type") != STATEMENT_TYPE:
        raise obj.fail("_type", f"expected {STATEMENT_TYPE}")
    predicate_type = obj.text("predicateType")
    if predicate_type != PREDICATE_TYPE:
        raise obj.fail(
            "predicateType",
            f"expected {PREDICATE_TYPE} (an OpenSSF model signing manifest), "
            f"got {predicate_type[:100]!r}",
        )

    def subject(v: Any, p: str) -> tuple[str, str]:
        s = Obj(v, source=source, path=p)
        name = s.text("name")
        digest = Obj(s.raw("digest", True), source=source, path=s.at("digest"))
        hex_digest = digest.hex("sha256", 32)
        return name, hex_digest

    subjects = obj.items("subject", subject)
    if len(subjects) != 1:
        raise obj.fail("subject", f"expected exactly one subject, got {len(subjects)}")
    name, subject_digest = subjects[0]

    pred = Obj(obj.raw("predicate", True), source=source, path=obj.at("predicate"))
    obj.refuse_rest()
    ser = Obj(pred.raw("serialization", True), source=source, path=pred.at("serialization"))
    method = ser.text("method")
    if method not in (METHOD_FILES, METHOD_SHARDS):
        raise ser.fail("method", f"expected files or shards, got {method[:40]!r}")
    hash_type = ser.text("hash_type")
    if hash_type not in HASH_TYPES:
        raise ser.fail("hash_type", f"unsupported hash type {hash_type[:40]!r}")
    allow = ser.raw("allow_symlinks", True)
    if not isinstance(allow, bool):
        raise ser.fail("allow_symlinks", "expected true or false")
    shard_size: int | None = None
    if method == METHOD_SHARDS:
        shard_size = ser.integer("shard_size")
        if shard_size < 1:
            raise ser.fail("shard_size", "must be at least 1")
    ignore_raw = ser.raw("ignore_paths")
    ignore: tuple[str, ...] = ()
    if ignore_raw is not None:
        if not isinstance(ignore_raw, list) or not all(isinstance(p, str) for p in ignore_raw):
            raise ser.fail("ignore_paths", "expected an array of strings")
        ignore = tuple(ignore_raw)
    ser.refuse_rest(hint="a serialization parameter this version does not know changes digests")
    expected_algorithm = resource_algorithm(hash_type, method, shard_size)
    size = DIGEST_SIZES[hash_type]

    def resource(v: Any, p: str) -> Resource:
        r = Obj(v, source=source, path=p)
        rname = r.text("name")
        algorithm = r.text("algorithm")
        if algorithm != expected_algorithm:
            raise r.fail(
                "algorithm",
                f"expected {expected_algorithm} (from the serialization), got {algorithm[:60]!r}",
            )
        path = rname
        if method == METHOD_SHARDS:
            parsed = split_shard_name(rname)
            if parsed is None or parsed[1] >= parsed[2]:
                raise r.fail("name", "expected a shard name path:start:end with start < end")
            path = parsed[0]
        if any(part in ("", ".", "..") for part in path.split("/")):
            raise r.fail("name", "expected a relative path without empty, . or .. parts")
        digest = r.hex("digest", size)
        r.refuse_rest()
        return Resource(rname, algorithm, digest)

    resources = pred.items("resources", resource)
    seen: set[str] = set()
    for i, res in enumerate(resources):
        if res.name in seen:
            raise ParseError(
                f"resource {res.name[:200]!r} is listed twice",
                location=Location(source, field=f"$.predicate.resources[{i}].name"),
            )
        seen.add(res.name)
    extra = {k: v for k, v in pred.value.items() if k not in ("serialization", "resources")}
    if check_subject and files_digest_of(resources) != subject_digest:
        raise ParseError(
            "the subject digest is not the SHA-256 over the resource digests",
            location=Location(source, field="$.subject[0].digest.sha256"),
        )
    return ModelManifest(
        name=name,
        method=method,
        hash_type=hash_type,
        shard_size=shard_size,
        allow_symlinks=allow,
        ignore_paths=ignore,
        resources=resources,
        files_digest=subject_digest,
        extra_predicate=extra,
    )


def statement_bytes(manifest: ModelManifest) -> bytes:
    """The statement as refkit signs it: RFC 8785 canonical JSON."""
    from refkit.manifests.canonical import canonical_dumps

    return canonical_dumps(manifest.statement())


def dumps_pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
