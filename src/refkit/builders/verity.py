"""The ``verity`` builder: a dm-verity disk (the data with its hash area appended, or the
hash area alone) through :mod:`refkit.weights.verity`, bit-identical to ``veritysetup
format``.

Input ``data`` (required): the image to protect (e.g. an ``erofs`` artifact).

Parameters (each one changes the root hash or the bytes, so each is recorded in the
facts): ``salt`` (hex, or ``-`` for none; default ``00``, one zero byte as the weights
disks use: a random salt would make every build a new disk), ``uuid`` (the superblock's,
default nil), ``algorithm`` (default sha256), ``data_block_size`` and ``hash_block_size``
(default 4096), ``format`` (hash type 1, or 0 for Chrome OS), ``area``:

- ``appended`` (default): the output is the data, zero-padded to a whole number of data
  blocks (so every byte of it is covered: veritysetup leaves a trailing partial block
  unprotected), followed by the hash area at that offset (``--hash-offset``);
- ``separate``: the output is the hash area alone (hash offset 0), for a separate hash
  device; the data is used unchanged and must be a whole number of data blocks.

Facts: root hash, hash offset, salt, UUID, algorithm, format, block sizes, data blocks,
hash blocks and the data size (before and after padding).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from refkit.builders._run import sorted_facts
from refkit.builders.api import BuildContext, Built, register
from refkit.errors import InputError, input_os_error
from refkit.weights import disk
from refkit.weights import verity as vt

_AREAS: Final = ("appended", "separate")


class VerityBuilder:
    name = "verity"
    version = "1"
    tree_output = False
    params_schema: Mapping[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "salt": {"type": "string", "description": "hex, or - for none (default 00)"},
            "uuid": {"type": "string"},
            "algorithm": {"type": "string", "enum": sorted(vt.ALGORITHMS)},
            "data_block_size": {"type": "integer"},
            "hash_block_size": {"type": "integer"},
            "format": {"type": "integer", "enum": [0, 1]},
            "area": {"type": "string", "enum": list(_AREAS)},
        },
    }

    def build(self, ctx: BuildContext) -> Built:
        if set(ctx.inputs) != {"data"}:
            raise InputError(f"{ctx.name}: the verity builder takes one input named 'data'")
        p = ctx.params
        salt = vt.parse_salt(str(p.get("salt", disk.DEFAULT_SALT.hex())))
        uuid = str(p.get("uuid", vt.NIL_UUID))
        vt.parse_uuid(uuid)
        area = str(p.get("area", "appended"))
        if area not in _AREAS:
            raise InputError(f"{ctx.name}: area {area!r} is not one of {', '.join(_AREAS)}")
        params = vt.VerityParams(
            salt=salt,
            algorithm=str(p.get("algorithm", "sha256")),
            data_block_size=int(p.get("data_block_size", 4096)),
            hash_block_size=int(p.get("hash_block_size", 4096)),
            hash_type=int(p.get("format", 1)),
        )
        data = ctx.inputs["data"]
        try:
            size = os.stat(data).st_size
        except OSError as exc:
            raise input_os_error(exc, data, what="data image") from exc
        bs = params.data_block_size
        blocks = -(-size // bs)
        if area == "appended":
            padded = blocks * bs
            with open(data, "rb") as src, open(ctx.output, "xb") as out:
                shutil.copyfileobj(src, out, 8 << 20)
                out.write(bytes(padded - size))
            if os.path.getsize(ctx.output) != padded:
                raise InputError(f"data image {data} changed while it was copied")
            layout = vt.plan(params, blocks, hash_offset=padded, same_file=True)
            source: Path = ctx.output
        else:
            if size % bs:
                raise InputError(
                    f"data image {data} is {size} bytes, not a whole number of {bs}-byte "
                    f"blocks: its tail would not be protected (use the appended area, "
                    f"which pads it)"
                )
            padded = size
            layout = vt.plan(params, blocks, hash_offset=0)
            source = data
            ctx.output.touch(exist_ok=False)
        ctx.progress("hashing", None, None)
        with open(ctx.output, "r+b") as handle:
            root = vt.write_hash_area(source, layout, handle, uuid=uuid)
        facts = {
            "rootHash": root.hex(),
            "hashOffset": layout.hash_offset,
            "salt": vt.salt_text(salt),
            "uuid": uuid,
            "algorithm": params.algorithm,
            "format": params.hash_type,
            "dataBlockSize": params.data_block_size,
            "hashBlockSize": params.hash_block_size,
            "dataBlocks": layout.data_blocks,
            "hashBlocks": layout.hash_blocks,
            "area": area,
            "dataSize": size,
            "paddedDataSize": padded,
        }
        from refkit import __version__

        return Built(facts=sorted_facts(facts), tools={"refkit-verity": __version__})


BUILDER: Final = register(VerityBuilder())
