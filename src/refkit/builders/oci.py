"""The ``oci`` builder: an OCI image layout (image-spec v1.1 ``image-layout.md``) with one
layer, from a tree or a tar archive plus an image configuration.

Inputs:

* ``rootfs``: a directory, or a tar archive (plain, gzip, bzip2 or xz) extracted safely
  first (:mod:`refkit.builders.tree`: absolute names, ``..``, devices and escaping links
  refused);
* ``config`` (optional): a JSON object with any of ``architecture`` (default ``amd64``),
  ``os`` (default ``linux``) and ``config`` (the image's run configuration: ``Env``,
  ``Entrypoint``, ``Cmd``, ``WorkingDir``, ``User``, ``Labels``, ...; copied as given).

Parameters: ``tag`` (the ``org.opencontainers.image.ref.name`` annotation, default
``latest``) and ``gzip_level`` (1 to 9, default 9).

Determinism: the layer is :func:`refkit.builders.tree.write_tar` of the sorted tree (owner
0, every mtime ``SOURCE_DATE_EPOCH``, modes normalised, pax format without times); it is
compressed separately with a gzip header whose mtime is 0, no file name, and the given
level (zlib's output for a level is stable across zlib 1.2.x/1.3.x on the same input; the
uncompressed ``diff_id`` does not depend on it). The config's ``created`` is the epoch in
RFC 3339. JSON documents are written with sorted keys and no spaces. Output: a directory
``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``; facts: the manifest, config and
layer digests and the ``diff_ids``.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from refkit.atomic import open_output, write_file
from refkit.builders.api import BuildContext, Built, register
from refkit.builders.tree import DIR_MODE, tree_of, walk, write_tar
from refkit.errors import InputError, Location, ParseError, input_os_error

MANIFEST_TYPE: Final = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE: Final = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME: Final = "org.opencontainers.image.ref.name"
MAX_CONFIG_BYTES: Final = 1 << 20
_CHUNK: Final = 1 << 20

PARAMS_SCHEMA: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "tag": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"},
            "gzip_level": {"type": "integer", "minimum": 1, "maximum": 9},
        },
    }
)


def canonical(document: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same bytes for the same document."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def read_config(path: Path) -> dict[str, Any]:
    """The image configuration input (module docstring); malformed → ParseError."""
    try:
        data = path.read_bytes()[: MAX_CONFIG_BYTES + 1]
    except OSError as exc:
        raise input_os_error(exc, path, what="image configuration") from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(f"{path}: an image configuration over {MAX_CONFIG_BYTES} bytes")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        offset = getattr(exc, "pos", getattr(exc, "start", 0))
        raise ParseError(
            f"not a JSON document: {exc}", location=Location(str(path), offset)
        ) from None
    if not isinstance(document, dict):
        raise ParseError(
            "the image configuration is not an object", location=Location(str(path), 0)
        )
    unknown = sorted(set(document) - {"architecture", "os", "config"})
    if unknown:
        raise ParseError(
            f"unknown key {unknown[0]!r} (known: architecture, os, config)",
            location=Location(str(path), field=unknown[0]),
        )
    for key in ("architecture", "os"):
        if key in document and not isinstance(document[key], str):
            raise ParseError(f"{key} is not a string", location=Location(str(path), field=key))
    if "config" in document and not isinstance(document["config"], dict):
        raise ParseError("config is not an object", location=Location(str(path), field="config"))
    return document


def _sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size


def compress(source: Path, dest: Path, level: int) -> None:
    """gzip with a fixed header (mtime 0, no name) at ``level``."""
    with open(source, "rb") as src, open_output(dest) as raw:  # noqa: SIM117
        with gzip.GzipFile(filename="", mode="wb", compresslevel=level, fileobj=raw, mtime=0) as gz:
            while chunk := src.read(_CHUNK):
                gz.write(chunk)


class OciBuilder:
    name = "oci"
    version = "1"
    params_schema = PARAMS_SCHEMA
    tree_output = True

    def build(self, ctx: BuildContext) -> Built:
        if "rootfs" not in ctx.inputs:
            raise InputError(f"{ctx.name}: the oci builder needs a 'rootfs' input")
        level = int(ctx.params.get("gzip_level", 9))
        tag = str(ctx.params.get("tag", "latest"))
        settings = read_config(ctx.inputs["config"]) if "config" in ctx.inputs else {}
        source = ctx.inputs["rootfs"]
        tree = tree_of(source, ctx.workdir / "tree", source=str(source))

        ctx.progress("writing the layer", None, None)
        layer_tar = ctx.workdir / "layer.tar"
        with open_output(layer_tar) as out:
            write_tar(walk(tree), out, epoch=ctx.source_date_epoch)
        diff_id, _size = _sha256_file(layer_tar)

        out_dir = ctx.output
        blobs = out_dir / "blobs" / "sha256"
        os.makedirs(blobs, mode=DIR_MODE)
        staged_layer = ctx.workdir / "layer.tar.gz"
        ctx.progress("compressing the layer", None, None)
        compress(layer_tar, staged_layer, level)
        layer_digest, layer_size = _sha256_file(staged_layer)
        os.rename(staged_layer, blobs / layer_digest.removeprefix("sha256:"))

        created = datetime.datetime.fromtimestamp(ctx.source_date_epoch, datetime.UTC)
        config = {
            "architecture": settings.get("architecture", "amd64"),
            "os": settings.get("os", "linux"),
            "config": settings.get("config", {}),
            "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [
                {
                    "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "created_by": "refkit oci builder",
                }
            ],
        }
        config_bytes = canonical(config)
        config_digest = self._blob(blobs, config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": CONFIG_TYPE,
                "digest": config_digest,
                "size": len(config_bytes),
            },
            "layers": [{"mediaType": LAYER_TYPE, "digest": layer_digest, "size": layer_size}],
        }
        manifest_bytes = canonical(manifest)
        manifest_digest = self._blob(blobs, manifest_bytes)
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": MANIFEST_TYPE,
                    "digest": manifest_digest,
                    "size": len(manifest_bytes),
                    "annotations": {REF_NAME: tag},
                }
            ],
        }
        write_file(out_dir / "oci-layout", canonical({"imageLayoutVersion": "1.0.0"}))
        write_file(out_dir / "index.json", canonical(index))
        _fix_times(out_dir, ctx.source_date_epoch)
        facts = {
            "config_digest": config_digest,
            "diff_ids": [diff_id],
            "gzip_level": level,
            "layers": [layer_digest],
            "manifest_digest": manifest_digest,
            "tag": tag,
        }
        # the compressed layer's bytes depend on zlib (the diff_id does not)
        tools = {"zlib": zlib.ZLIB_RUNTIME_VERSION}
        return Built(facts=MappingProxyType(facts), tools=MappingProxyType(tools))

    @staticmethod
    def _blob(blobs: Path, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        write_file(blobs / digest.removeprefix("sha256:"), data)
        return digest


def _fix_times(root: Path, epoch: int) -> None:
    """Modes and times of the layout itself (0644 files, 0755 directories, the epoch)."""
    times = (epoch * 10**9, epoch * 10**9)
    for directory, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)
            os.utime(os.path.join(directory, name), ns=times)
        os.chmod(directory, DIR_MODE)
        os.utime(directory, ns=times)


register(OciBuilder())
