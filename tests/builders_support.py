"""Fake builders for the recipe and orchestration tests: deterministic, tiny, counting.

Each fake records its calls in ``calls`` so a test can tell a build from a cache hit.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refkit.builders.api import BuildContext, Builder, Built


def _read_input(path: Path) -> bytes:
    """A file's bytes, or a directory's files (sorted relative names and bytes)."""
    if path.is_file():
        return path.read_bytes()
    out = b""
    for item in sorted(path.rglob("*")):
        if item.is_file():
            out += item.relative_to(path).as_posix().encode() + b"\0" + item.read_bytes()
    return out


@dataclass
class CatBuilder:
    """Concatenates its inputs (sorted by input name) after a header of its params."""

    name: str = "cat"
    version: str = "1"
    params_schema: Mapping[str, Any] = field(
        default_factory=lambda: {
            "type": "object",
            "additionalProperties": False,
            "properties": {"label": {"type": "string"}, "fail": {"type": "boolean"}},
        }
    )
    tree_output: bool = False
    calls: list[str] = field(default_factory=list)

    def build(self, ctx: BuildContext) -> Built:
        self.calls.append(ctx.name)
        data = f"{ctx.params.get('label', '')}|{ctx.source_date_epoch}\n".encode()
        for name in sorted(ctx.inputs):
            data += name.encode() + b":" + _read_input(ctx.inputs[name]) + b"\n"
        with open(ctx.output, "wb") as fh:
            fh.write(data[: len(data) // 2])
            if ctx.params.get("fail"):
                raise KeyboardInterrupt  # interrupted halfway through writing
            fh.write(data[len(data) // 2 :])
        return Built(facts={"length": len(data)}, tools={"fake": "0"})


@dataclass
class TreeBuilder:
    """Writes a directory: one file per input holding its sha256, and a symlink."""

    name: str = "tree"
    version: str = "1"
    params_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    tree_output: bool = True
    calls: list[str] = field(default_factory=list)

    def build(self, ctx: BuildContext) -> Built:
        self.calls.append(ctx.name)
        (ctx.output / "sub").mkdir(parents=True)
        for name in sorted(ctx.inputs):
            digest = hashlib.sha256(_read_input(ctx.inputs[name])).hexdigest()
            (ctx.output / "sub" / name).write_text(digest + "\n")
        os.symlink("sub", ctx.output / "link")
        return Built()


def registry(*builders: Any) -> dict[str, Builder]:
    return {b.name: b for b in builders}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@dataclass
class NoToolBuilder:
    """A builder whose external tool is missing on this machine (as nix may be)."""

    name: str = "notool"
    version: str = "1"
    params_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    tree_output: bool = False

    def build(self, ctx: BuildContext) -> Built:
        from refkit.errors import MissingTool

        raise MissingTool("frobnicate", package="frob")
