"""``refkit measure verity``: the dm-verity root hash of any image; checks a stored tree.

Option names follow veritysetup's (``--salt``, ``--hash-offset``, ``--data-blocks``,
``--hash``, ``--data-block-size``, ``--hash-block-size``) so that a ``veritysetup format``
command line carries over. The engine is :mod:`refkit.weights.verity`.
"""

from __future__ import annotations

import click

from refkit.cli._options import json_option
from refkit.cli._output import emit_json, emit_text
from refkit.errors import ExitCode, InputError

_Image = click.Path(dir_okay=False)


def _hex_bytes(value: str | None, name: str) -> bytes | None:
    if value is None:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise click.BadParameter(f"{value[:80]!r} is not hex digits", param_hint=name) from None


@click.command(context_settings={"max_content_width": 100})
@click.argument("image", type=_Image)
@click.option(
    "--salt",
    metavar="HEX|-",
    help="Salt as hex digits, - for none (Privatemode: 00). Required unless a stored "
    "tree's superblock gives it.",
)
@click.option(
    "--hash-offset",
    type=click.IntRange(min=0),
    metavar="N",
    help="Byte offset of a stored hash area (superblock first): in IMAGE, or in "
    "--hash-file. Its tree is checked against the data.",
)
@click.option(
    "--hash-file",
    type=_Image,
    metavar="FILE",
    help="A hash file written by veritysetup format (superblock at --hash-offset, default 0).",
)
@click.option(
    "--data-blocks",
    type=click.IntRange(min=1),
    metavar="N",
    help="Data blocks to cover (default: the whole image, a trailing partial block left out).",
)
@click.option("--hash", "algorithm", metavar="ALG", help="Hash algorithm (default sha256).")
@click.option(
    "--data-block-size", type=click.IntRange(min=1), metavar="BYTES", help="Default 4096."
)
@click.option(
    "--hash-block-size", type=click.IntRange(min=1), metavar="BYTES", help="Default 4096."
)
@click.option(
    "--root-hash",
    metavar="HEX",
    help="Expected root hash: exit 1 when the computed one differs.",
)
@json_option
@click.pass_context
def verity(
    ctx: click.Context,
    image: str,
    salt: str | None,
    hash_offset: int | None,
    hash_file: str | None,
    data_blocks: int | None,
    algorithm: str | None,
    data_block_size: int | None,
    hash_block_size: int | None,
    root_hash: str | None,
    as_json: bool,
) -> None:
    """Compute the dm-verity root hash of IMAGE, as veritysetup format would.

    \b
    The tree is bit-identical to veritysetup's (format 1, the salt first). With
    --hash-offset or --hash-file, the stored hash area (written by veritysetup or by
    refkit weights disk) is read: its superblock gives the salt and sizes, and its tree is
    compared block by block with the one computed from the data (exit 1 if they differ).

    \b
    Examples:
      refkit measure verity rootfs.img --salt -
      refkit measure verity model.img --hash-offset 94208 --root-hash 5e1c...
      refkit measure verity data.img --hash-file data.hash --json
    """
    from refkit.weights.verity import ALGORITHMS, measure, parse_salt

    if algorithm is not None and algorithm not in ALGORITHMS:
        raise click.BadParameter(
            f"{algorithm[:40]!r} is not one of {', '.join(ALGORITHMS)}", param_hint="--hash"
        )
    try:
        salt_bytes = None if salt is None else parse_salt(salt)
    except InputError as exc:
        raise click.BadParameter(exc.message, param_hint="--salt") from None
    expected = _hex_bytes(root_hash, "--root-hash")
    if salt is None and hash_offset is None and hash_file is None:
        raise click.UsageError(
            "give --salt (hex, or - for none; Privatemode uses 00), or --hash-offset / "
            "--hash-file to read it from a stored tree's superblock"
        )
    from refkit.cli.weights_disk import Stages

    progress = Stages()
    result = measure(
        image,
        salt=salt_bytes,
        algorithm=algorithm,
        data_block_size=data_block_size,
        hash_block_size=hash_block_size,
        data_blocks=data_blocks,
        hash_offset=hash_offset,
        hash_file=hash_file,
        expected_root=expected,
        progress=lambda n: progress("verity", n),
    )
    progress.finish()
    failed = any(r.fails for r in result.results)
    if as_json:
        document = result.to_json()
        document["checks"] = [r.to_json() for r in result.results]
        document["ok"] = not failed
        emit_json(document)
    else:
        from refkit.cli._report import result_lines

        doc = result.to_json()
        lines = [f"verity root: {doc['verityRoot']}"]
        for key in ("salt", "hashAlgorithm", "dataBlocks", "dataBlockSize", "hashBlockSize"):
            lines.append(f"  {key}: {doc[key]}")
        if result.stored is not None:
            lines.append(f"  hashFile: {doc['hashFile']} (offset {doc['hashOffset']})")
            lines.append(f"  uuid: {doc['uuid']}")
        lines.extend(result_lines(result.results))
        emit_text("\n".join(lines))
    if failed:
        ctx.exit(int(ExitCode.VERIFICATION_FAILED))
