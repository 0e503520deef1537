"""``weights bind``: prove that a verity disk holds exactly the files of a model manifest.

Without trusting whoever built the disk (:func:`bind`):

1. when an expected verity root is given, the disk's stored hash tree is checked against
   its data and the root compared (:func:`refkit.weights.verity.measure`): the disk is the
   one the root names;
2. the EROFS file system is checked and extracted by the real tool (``fsck.erofs
   --extract``, erofs-utils) into a temporary directory: refkit does not parse EROFS;
3. the extracted files are digested with the manifest's own parameters (algorithm, shard
   size; :func:`refkit.weights.digest.digest_model`);
4. file by file: a file of the manifest absent from the disk, a file on the disk the
   manifest does not name, a file with other digests (or, for sharded manifests, another
   size) each fail with the file's name; all equal is one pass.

The manifest is an OMS in-toto statement, the ``--json`` record of ``weights digest``
holding one, or a Sigstore bundle whose DSSE payload is one. Its signature is **not**
checked here (``weights verify`` does that); bind answers "does this disk hold these
files", and the facts say which files digest was bound.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from refkit.errors import InputError, Location, ParseError, read_input_file
from refkit.verification import Result, Verdict
from refkit.weights import erofs
from refkit.weights import verity as vt
from refkit.weights.digest import digest_model
from refkit.weights.oms import (
    MAX_STATEMENT_BYTES,
    METHOD_SHARDS,
    ModelManifest,
    Resource,
    split_shard_name,
    statement_from_value,
)

CHECK_FILES = "disk files"


def load_manifest(path: Path) -> tuple[ModelManifest, str]:
    """The model manifest in ``path`` and what held it (statement, record or bundle)."""
    from refkit.manifests.canonical import loads_strict

    source = os.fspath(path)
    data = read_input_file(path, what="model manifest", limit=MAX_STATEMENT_BYTES)
    value = loads_strict(data, source=source, max_bytes=MAX_STATEMENT_BYTES)
    if isinstance(value, dict) and value.get("kind") == "model-digest" and "statement" in value:
        return statement_from_value(value["statement"], source=source), "weights digest record"
    if isinstance(value, dict) and "mediaType" in value:
        from refkit.manifests.signing.bundle import bundle_from_value, check_bundle_cost

        check_bundle_cost(data, source=source)
        bundle = bundle_from_value(value, data, source=source)
        if bundle.envelope is None:
            raise ParseError(
                "the bundle signs a message, not a DSSE envelope holding a model manifest",
                location=Location(source),
            )
        payload = loads_strict(
            bundle.envelope.payload, source=f"{source} (payload)", max_bytes=MAX_STATEMENT_BYTES
        )
        manifest = statement_from_value(payload, source=f"{source} (payload)")
        return manifest, "bundle payload (signature not checked here)"
    return statement_from_value(value, source=source), "statement"


def _size_of(manifest: ModelManifest, resources: tuple[Resource, ...]) -> int | None:
    """A file's size, known from a sharded manifest (its last shard's end)."""
    if manifest.method != METHOD_SHARDS or not resources:
        return None
    parsed = split_shard_name(resources[-1].name)
    return None if parsed is None else parsed[2]


def _digests(resources: tuple[Resource, ...]) -> str:
    if len(resources) == 1:
        return resources[0].digest
    return (
        f"{len(resources)} shards, "
        + ",".join(r.digest[:16] for r in resources[:4])
        + (",..." if len(resources) > 4 else "")
    )


def compare(want: ModelManifest, have: ModelManifest) -> list[Result]:
    """One failing result per changed, missing or extra file; one pass when all match."""
    expected = want.files()
    found = have.files()
    out: list[Result] = []
    for path in sorted(expected):
        resources = expected[path]
        got = found.get(path)
        if got is None:
            out.append(
                Result.of(
                    "weights.bind.file.missing",
                    "is in the manifest but not on the disk",
                    check=CHECK_FILES,
                    subject=path,
                )
            )
            continue
        size_want, size_got = _size_of(want, resources), _size_of(have, got)
        if [(r.name, r.digest) for r in got] != [(r.name, r.digest) for r in resources]:
            sizes = (
                f" ({size_got} bytes on the disk, {size_want} in the manifest)"
                if size_want is not None and size_got is not None and size_want != size_got
                else ""
            )
            out.append(
                Result.of(
                    "weights.bind.file.changed",
                    "has other content on the disk than the manifest gives" + sizes,
                    check=CHECK_FILES,
                    subject=path,
                    expected=_digests(resources),
                    actual=_digests(got),
                )
            )
    for path in sorted(found):
        if path not in expected:
            out.append(
                Result.of(
                    "weights.bind.file.extra",
                    "is on the disk but not in the manifest",
                    check=CHECK_FILES,
                    subject=path,
                )
            )
    if not out:
        out.append(
            Result.of(
                "weights.bind.files.match",
                f"the disk holds exactly the manifest's {len(expected)} files, "
                "each with its digests",
                check=CHECK_FILES,
                expected=want.files_digest,
                actual=have.files_digest,
            )
        )
    return out


def bind(
    image: Path,
    manifest_path: Path,
    *,
    expected_root: bytes | None = None,
    hash_offset: int | None = None,
    hash_file: Path | None = None,
    workers: int | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> Verdict:
    """Every result of binding the verity disk ``image`` to the model manifest (module
    docstring). ``hash_offset`` defaults to the EROFS size (a tree appended to the image);
    ``hash_file`` names a hash area written apart."""
    manifest, held_in = load_manifest(manifest_path)
    results: list[Result] = []
    facts: dict[str, Any] = {
        "model": manifest.name,
        "filesDigest": manifest.files_digest,
        "serialization": manifest.serialization(),
        "manifest": f"{manifest_path} ({held_in})",
    }
    if not os.path.isfile(image):
        raise InputError(f"disk image not found: {image}")
    size = erofs.image_size(image)
    facts["erofsSize"] = size
    if expected_root is not None:
        offset = hash_offset if hash_offset is not None else (0 if hash_file else size)
        measured = vt.measure(
            image,
            hash_offset=offset,
            hash_file=hash_file,
            expected_root=expected_root,
            workers=workers,
            progress=None if progress is None else (lambda n: progress("verity", n)),
        )
        facts["verityRoot"] = measured.root.hex()
        facts["hashOffset"] = offset
        results.extend(measured.results)
    else:
        results.append(
            Result.of(
                "verity.root.not-given",
                "no expected verity root was given: the files were compared, the disk's "
                "hash tree was not",
                check="verity root",
                subject=os.fspath(image),
                required=False,
            )
        )
    parent = Path(tempfile.gettempdir())
    with tempfile.TemporaryDirectory(prefix="refkit-bind-", dir=parent) as work:
        dest = Path(work) / "model"
        erofs.extract(image, dest)
        local = digest_model(
            dest,
            algorithm=manifest.hash_type,
            shard_size=manifest.shard_size,
            ignore=list(manifest.ignore_paths),
            ignore_git=False,
            allow_symlinks=manifest.allow_symlinks,
            workers=workers,
            progress=None if progress is None else (lambda n: progress("digest", n)),
            name=manifest.name,
        )
    results.extend(compare(manifest, local))
    facts["diskFilesDigest"] = local.files_digest
    return Verdict(f"disk {image}", tuple(results), facts)
