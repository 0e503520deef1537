"""The library never names a CLI flag; the CLI says which of its flags does what the
library's words ask (one table in refkit.cli). Both halves are checked here."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.shared import PROJECT_ROOT

LIBRARY = PROJECT_ROOT / "src" / "refkit"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def _messages(path: Path) -> list[tuple[int, str]]:
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_library_messages_name_no_cli_flag() -> None:
    found = []
    for path in sorted(LIBRARY.rglob("*.py")):
        rel = path.relative_to(LIBRARY)
        if rel.parts[0] == "cli" or rel.name == "_console.py":
            continue  # the CLI names its flags; the console script reads argv
        for line, text in _messages(path):
            if FLAG.search(text):
                found.append(f"{rel}:{line}: {text[:90]!r}")
    assert not found, "library messages that name CLI flags:\n" + "\n".join(found)


def test_cli_translates_the_library_words_into_its_flags(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    out = tmp_path / "k.key"
    assert run_cli("keygen", "--out", out).code == 0
    again = run_cli("keygen", "--out", out)
    assert again.code == 2
    assert "pass --force to replace" in again.stderr
