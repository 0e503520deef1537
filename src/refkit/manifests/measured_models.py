"""Manifest model entries from ``refkit weights`` records: the one weights → manifest converter.

A release engineer digests the model (``refkit weights digest DIR --name NAME --json``)
and/or builds its verity disk (``refkit weights disk DIR --json``), then builds the
manifest (``refkit manifest build release.yaml --add-model digest.json --add-model
disk.json``) without copying digests by hand. The YAML declares the model (``models[]``
entry with ``name`` and ``source``: where the weights come from cannot be computed); each
record fills the pins of the entry with the same name:

* a digest record (``kind: model-digest``) gives ``fileDigestRoot`` (the files digest,
  method ``model-signing-files`` or ``model-signing-shards``, with ``hashType`` and
  ``shardSize``) and ``excludedFiles`` (the manifest's ignore paths);
* a disk record (``verityRoot`` present) gives ``verity`` (root hash, hash offset, salt,
  UUID, block sizes, hash algorithm, format), ``tools`` (the versions that built it),
  ``excludedFiles``, its ``filesDigest`` (the files digest of the disk's content) and,
  when it names the image and its SHA-256, a ``model-disk`` subject that ``disk`` names.

Binding the two identities: when a digest record and a disk record (or the YAML) both give
the files digest, excluded files, or a verity root, they must agree: a disk built from
other files than the ones digested is refused, not merged.

Pure: returns new dicts; every failure is an InputError (ParseError naming the field).
"""

from __future__ import annotations

import copy
import os
from typing import Any

from refkit.errors import InputError, Location, ParseError, read_input_file
from refkit.reader import Obj

MAX_RECORD_BYTES = 64 << 20

_METHODS = {"files": "model-signing-files", "shards": "model-signing-shards"}


def load_model_record(path: str | os.PathLike[str]) -> Any:
    """Read a ``weights digest --json`` / ``weights disk --json`` file (JSON value)."""
    from refkit.manifests.canonical import loads_strict

    source = os.fspath(path)
    data = read_input_file(path, what="model record JSON", limit=MAX_RECORD_BYTES)
    return loads_strict(data, source=source, max_bytes=MAX_RECORD_BYTES)


def model_pins(record: Any, *, source: str) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """(model name, the model entry's pins in authoring form, subjects to add)."""
    obj = Obj(record, source=source, path="$", lenient=True)
    if "verityRoot" in obj.value:
        return _disk_pins(obj)
    if obj.value.get("kind") == "model-digest":
        return _digest_pins(obj)
    raise ParseError(
        "neither a model digest record (kind model-digest) nor a model disk record (verityRoot)",
        location=Location(source, field="$"),
    )


def _files_digest(obj: Obj, key: str) -> str:
    value = obj.raw(key)
    if isinstance(value, dict):
        inner = obj.child(value, obj.at(key))
        if inner.text("algorithm") != "sha256":
            raise inner.fail("algorithm", "a files digest is a sha256")
        return inner.hex("digest", 32)
    return obj.hex(key, 32)


def _digest_pins(obj: Obj) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    from refkit.weights.oms import statement_from_value

    manifest = statement_from_value(
        obj.raw("statement", True), source=obj.source, check_subject=True
    )
    files_digest = _files_digest(obj, "filesDigest")
    if files_digest != manifest.files_digest:
        raise obj.fail("filesDigest", "is not the subject digest of the statement it carries")
    root: dict[str, Any] = {
        "algorithm": "sha256",
        "digest": files_digest,
        "method": _METHODS[manifest.method],
        "hashType": manifest.hash_type,
    }
    if manifest.shard_size is not None:
        root["shardSize"] = manifest.shard_size
    pins: dict[str, Any] = {"fileDigestRoot": root}
    if manifest.ignore_paths:
        pins["excludedFiles"] = sorted(manifest.ignore_paths)
    return obj.text("model"), pins, []


def _disk_pins(obj: Obj) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    name = obj.opt_text("model") or obj.opt_text("name")
    if name is None:
        raise obj.fail("model", "is required: the model the disk holds")
    verity: dict[str, Any] = {
        "rootHash": obj.hex("verityRoot"),
        "hashOffset": obj.integer("hashOffset"),
        "salt": obj.value.get("salt", ""),
        "hashAlgorithm": obj.opt_text("hashAlgorithm") or "sha256",
        "dataBlockSize": obj.opt_integer("dataBlockSize") or 4096,
        "hashBlockSize": obj.opt_integer("hashBlockSize") or 4096,
        "formatVersion": obj.opt_integer("formatVersion", hi=1)
        if obj.value.get("formatVersion") is not None
        else 1,
    }
    if not isinstance(verity["salt"], str):
        raise obj.fail("salt", "expected hex text")
    uuid = obj.opt_text("uuid")
    if uuid is not None:
        verity["uuid"] = uuid
    pins: dict[str, Any] = {"verity": verity}
    if obj.value.get("filesDigest") is not None:
        root: dict[str, Any] = {
            "algorithm": "sha256",
            "digest": _files_digest(obj, "filesDigest"),
            "method": "model-signing-files",
            "hashType": "sha256",
        }
        ser = obj.value.get("serialization")
        if isinstance(ser, dict) and ser.get("method") in _METHODS:
            root["method"] = _METHODS[ser["method"]]
            root["hashType"] = ser.get("hash_type", "sha256")
            if ser.get("shard_size") is not None:
                root["shardSize"] = ser["shard_size"]
        pins["fileDigestRoot"] = root
    excluded = obj.value.get("excludedFiles")
    if excluded is not None:
        if not isinstance(excluded, list) or not all(isinstance(e, str) for e in excluded):
            raise obj.fail("excludedFiles", "expected a list of paths")
        pins["excludedFiles"] = sorted(set(excluded))
    tools = obj.value.get("tools")
    if isinstance(tools, dict):
        pins["tools"] = {str(k): str(v) for k, v in tools.items()}
    subjects: list[dict[str, Any]] = []
    image = obj.value.get("image")
    image_sha256 = obj.value.get("imageSha256")
    if isinstance(image, str) and image_sha256 is not None:
        disk_name = os.path.basename(image)
        subjects.append(
            {
                "name": disk_name,
                "kind": "model-disk",
                "digest": {"sha256": obj.hex("imageSha256", 32)},
            }
        )
        pins["disk"] = disk_name
    return name, pins, subjects


def add_model_record(document: dict[str, Any], record: Any, *, source: str) -> dict[str, Any]:
    """A copy of an authoring document with a weights record's pins added to its model."""
    name, pins, subjects = model_pins(record, source=source)
    out = copy.deepcopy(document)
    models = out.get("models")
    if not isinstance(models, list):
        raise InputError(
            f"{source}: the YAML has no models list to add model {name!r} to",
            hint="declare the model in the YAML (models: [{name, source: {repository, "
            "revision}}]): where the weights come from cannot be computed",
        )
    entry = next((m for m in models if isinstance(m, dict) and m.get("name") == name), None)
    if entry is None:
        known = ", ".join(repr(m.get("name")) for m in models if isinstance(m, dict))
        raise InputError(
            f"{source}: the record is for model {name!r}, which the YAML does not declare "
            f"(it declares {known or 'none'})",
            hint="name the model when digesting it, as the YAML names it",
        )
    for key, value in pins.items():
        if key == "tools":
            tools = entry.setdefault("tools", {})
            if isinstance(tools, dict):
                tools.update(value)
            continue
        if key in entry and not _same(key, entry[key], value):
            raise InputError(
                f"{source}: model {name!r} already has {key} {_shown(entry[key])}, and the "
                f"record gives {_shown(value)}",
                hint="both identities must describe the same files: rebuild the one that is "
                "out of date",
            )
        entry[key] = _merged(key, entry.get(key), value)
    listed = out.setdefault("subjects", [])
    if not isinstance(listed, list):
        raise InputError(f"{source}: subjects in the YAML is not a list")
    for subject in subjects:
        known_subject = next(
            (s for s in listed if isinstance(s, dict) and s.get("name") == subject["name"]), None
        )
        if known_subject is None:
            listed.append(subject)
        elif known_subject.get("digest") != subject["digest"]:
            raise InputError(
                f"{source}: subject {subject['name']!r} is listed with other digests than "
                "the disk record's"
            )
    return out


def _params(root: dict[str, Any]) -> tuple[Any, ...]:
    return (
        root.get("method"),
        root.get("hashType", root.get("algorithm")),
        root.get("shardSize"),
    )


def _same(key: str, have: Any, give: Any) -> bool:
    """Whether an existing value agrees with a record's. Files digests computed with other
    parameters (files vs shards, another hash) cannot be compared: the first is kept."""
    if key == "fileDigestRoot" and isinstance(have, dict) and isinstance(give, dict):
        if _params(have) != _params(give):
            return True
        return bool(have.get("digest") == give.get("digest"))
    if key == "excludedFiles" and isinstance(have, list) and isinstance(give, list):
        return sorted(map(str, have)) == sorted(map(str, give))
    return bool(have == give)


def _merged(key: str, have: Any, give: Any) -> Any:
    if key == "fileDigestRoot" and isinstance(have, dict):
        return have  # equal, or computed otherwise (see _same): the first is kept
    return give


def _shown(value: Any) -> str:
    if isinstance(value, dict) and "digest" in value:
        return str(value["digest"])
    if isinstance(value, dict) and "rootHash" in value:
        return f"root {value['rootHash']}"
    return repr(value)[:200]
