"""``weights disk``: a model's verity disk, deterministic, and the record that names it.

Steps (:func:`build_disk`):

1. walk the model directory (:func:`refkit.weights.tree.walk`: special files, symbolic
   links, names that are not UTF-8 refused), leaving out git's paths and the exclusions;
2. stage a copy with normalised modes and times (:func:`refkit.weights.erofs.stage`);
3. compute the **files digest** of the staged copy (:func:`refkit.weights.digest.
   digest_model`, the OMS manifest's subject digest): the same bytes the disk will hold;
4. build the EROFS image with mkfs.erofs straight into the output's temporary file
   (:mod:`refkit.atomic`), then append (or write apart) the dm-verity hash area computed by
   :mod:`refkit.weights.verity` at the image's size: the **verity root**;
5. digest the finished image file, then put the file(s) in place. A failure anywhere
   (a full disk included) leaves nothing under the final names.

The record (what ``manifest build --add-model`` reads) carries Privatemode's fields
(``model_source``, ``commit_hash``, ``excluded_files``, ``root_hash``, ``hash_offset``,
``erofs_version``, ``veritysetup_version``, ``file_hash_sha256``) and refkit's (``filesDigest``,
``verityRoot``, ``hashOffset``, ``salt``, ``uuid``, ``dataBlockSize``, ``hashBlockSize``,
``imageSha256``, ``model``, ``hashAlgorithm``, ``formatVersion``, ``excludedFiles``,
``tools`` and every other parameter that changes a value). The tree is refkit's own,
bit-identical to veritysetup's: ``veritysetup_version`` says so instead of naming a tool
that did not run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from refkit import __version__
from refkit.atomic import Batch, check_target, write_error
from refkit.errors import InputError
from refkit.hashing import digest_file
from refkit.weights import erofs
from refkit.weights import verity as vt
from refkit.weights.digest import digest_model, effective_ignore
from refkit.weights.tree import walk

#: The record's kind, for ``manifest build --add-model``.
KIND: Final = "model-disk"
#: Privatemode's salt: one zero byte. Random salts would make the disk a new one each time.
DEFAULT_SALT: Final = b"\0"


@dataclass(frozen=True)
class DiskRecord:
    """What ``weights disk`` built: the two identities and every parameter behind them."""

    model: str
    model_source: str
    commit_hash: str | None
    excluded_files: tuple[str, ...]
    image: str
    hash_file: str | None
    image_sha256: str
    hash_file_sha256: str | None
    files_digest: str
    files_method: str
    files_hash_type: str
    files_serialization: dict[str, Any]
    file_count: int
    erofs_size: int
    erofs_version: str
    erofs_uuid: str
    epoch: int
    verity: vt.Layout
    verity_root: bytes
    uuid: str

    def to_json(self) -> dict[str, Any]:
        p = self.verity.params
        engine = (
            f"refkit {__version__} dm-verity (bit-identical to veritysetup format: "
            f"format {p.hash_type}, {p.algorithm})"
        )
        return {
            "kind": KIND,
            "model": self.model,
            # Privatemode's record
            "model_source": self.model_source,
            "commit_hash": self.commit_hash,
            "excluded_files": list(self.excluded_files),
            "root_hash": self.verity_root.hex(),
            "hash_offset": self.verity.hash_offset,
            "erofs_version": self.erofs_version,
            "veritysetup_version": engine,
            "file_hash_sha256": self.image_sha256,
            # refkit's: the two identities, named apart, and what produced them
            # the same shape as the weights digest record's (its parameters: serialization)
            "filesDigest": {"algorithm": "sha256", "digest": self.files_digest},
            "fileCount": self.file_count,
            "verityRoot": self.verity_root.hex(),
            "hashOffset": self.verity.hash_offset,
            "hashFile": self.hash_file,
            "hashFileSha256": self.hash_file_sha256,
            "salt": vt.salt_text(p.salt),
            "uuid": self.uuid,
            "hashAlgorithm": p.algorithm,
            "formatVersion": p.hash_type,
            "dataBlockSize": p.data_block_size,
            "hashBlockSize": p.hash_block_size,
            "dataBlocks": self.verity.data_blocks,
            "image": self.image,
            "imageSha256": self.image_sha256,
            "erofs": {
                "size": self.erofs_size,
                "uuid": self.erofs_uuid,
                "sourceDateEpoch": self.epoch,
                "options": erofs.mkfs_options(self.epoch, self.erofs_uuid),
            },
            "excludedFiles": list(self.excluded_files),
            "serialization": self.files_serialization,
            # tool -> version, as the manifest model records them (the tree is refkit's)
            "tools": {
                "mkfs.erofs": self.erofs_version.rsplit(" ", 1)[-1],
                "refkit-verity": __version__,
            },
        }


def build_disk(
    source: Path,
    output: Path,
    *,
    salt: bytes = DEFAULT_SALT,
    uuid: str = vt.NIL_UUID,
    exclude: Sequence[str] = (),
    hash_file: Path | None = None,
    model_source: str | None = None,
    commit_hash: str | None = None,
    name: str | None = None,
    epoch: int = 0,
    data_block_size: int = 4096,
    hash_block_size: int = 4096,
    algorithm: str = "sha256",
    files_algorithm: str = "sha256",
    shard_size: int | None = None,
    force: bool = False,
    workers: int | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> DiskRecord:
    """Build the verity disk of the model directory ``source`` into ``output`` (and the
    hash area into ``hash_file`` when given, else appended). See the module docstring.

    ``algorithm`` is the verity tree's hash; ``files_algorithm`` and ``shard_size`` are the
    files digest's (as ``weights digest`` takes them), so that the record's files digest
    can equal a digest record's of the same model."""
    vt.parse_uuid(uuid)  # refuse a bad UUID before any work
    params = vt.VerityParams(
        salt=salt,
        algorithm=algorithm,
        data_block_size=data_block_size,
        hash_block_size=hash_block_size,
    )
    if data_block_size > 4096:
        raise InputError(
            f"a data block size of {data_block_size} is larger than the EROFS block (4096)"
        )
    targets = [output] if hash_file is None else [output, hash_file]
    if hash_file is not None and os.path.abspath(hash_file) == os.path.abspath(output):
        raise InputError("the image and the hash file are the same file")
    for t in targets:
        check_target(t, force=force)
    ignored = effective_ignore(source, exclude)
    files = walk(source, ignore=ignored)
    version = erofs.mkfs_version()

    def note(stage: str) -> Callable[[int], None] | None:
        if progress is None:
            return None
        return lambda n: progress(stage, n)

    parent = output.parent if str(output.parent) else Path(".")
    with tempfile.TemporaryDirectory(prefix=".refkit-disk-", dir=parent) as work:
        staged_root = Path(work) / "model"
        staged_root.mkdir()
        staged = erofs.stage(
            source, staged_root, files, ignore=ignored, epoch=epoch, progress=note("copy")
        )
        manifest = digest_model(
            staged_root,
            algorithm=files_algorithm,
            shard_size=shard_size,
            ignore=ignored,
            workers=workers,
            progress=note("digest"),
            name=name or source.name or os.path.basename(os.path.realpath(source)),
        )
        with Batch() as batch:
            image_handle = batch.add(output, replace=force)
            image_temp = batch.temp_path(image_handle)
            erofs.mkfs(image_temp, staged_root, epoch=epoch, shown=output)
            size = erofs.image_size(image_temp)
            if size % params.data_block_size:  # pragma: no cover - EROFS sizes are blocks
                raise InputError(f"EROFS image size {size} is not a whole number of blocks")
            blocks = size // params.data_block_size
            if hash_file is None:
                layout = vt.plan(params, blocks, hash_offset=size, same_file=True)
                tree_handle, tree_temp = image_handle, image_temp
            else:
                layout = vt.plan(params, blocks, hash_offset=0)
                tree_handle = batch.add(hash_file, replace=force)
                tree_temp = batch.temp_path(tree_handle)
            try:
                root = vt.write_hash_area(
                    image_temp,
                    layout,
                    tree_handle,
                    uuid=uuid,
                    workers=workers,
                    progress=note("verity"),
                )
                tree_handle.flush()
            except OSError as exc:
                raise write_error(exc, hash_file or output) from exc
            image_sha = digest_file(image_temp, what="image").digests["sha256"].hex()
            tree_sha = (
                None
                if hash_file is None
                else digest_file(tree_temp, what="hash file").digests["sha256"].hex()
            )
            batch.commit()
    return DiskRecord(
        model=manifest.name,
        model_source=model_source or os.fspath(source),
        commit_hash=commit_hash,
        excluded_files=manifest.ignore_paths,
        image=os.fspath(output),
        hash_file=None if hash_file is None else os.fspath(hash_file),
        image_sha256=image_sha,
        hash_file_sha256=tree_sha,
        files_digest=manifest.files_digest,
        files_method=manifest.method,
        files_hash_type=manifest.hash_type,
        files_serialization=manifest.serialization(),
        file_count=len(staged.files),
        erofs_size=size,
        erofs_version=version,
        erofs_uuid=erofs.NIL_UUID,
        epoch=epoch,
        verity=layout,
        verity_root=root,
        uuid=uuid,
    )
