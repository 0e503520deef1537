"""Every README example runs as written, on the demo's files (issue 11: examples pasted
from the README failed).

The examples are the README's indented code blocks that call ``refkit``. They run in
order, each block as one bash script (``set -euo pipefail``), from a copy of the
repository layout in which ``make demo`` has filled ``build/demo`` and ``../shared`` sits
beside it, with the venv's ``refkit`` first on PATH. Conventions the README follows:

- a line ``$ COMMAND`` is followed by COMMAND's exact output (compared here);
- a command ending in ``# exits N`` must exit with N (a documented refusal);
- blocks that install or set up (``pip install``, ``make``) are not examples and are
  left out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.shared import PROJECT_ROOT, shared_path

README = PROJECT_ROOT / "README.md"
REFKIT = PROJECT_ROOT / ".venv" / "bin" / "refkit"
_EXITS = re.compile(r"^(?P<cmd>.*?)\s+# exits (?P<code>[0-9])\s*$")


def readme_blocks(text: str) -> list[str]:
    """The README's indented code blocks that run refkit, in document order."""
    blocks, current = [], []
    in_fence = False
    for line in [*text.splitlines(), ""]:
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if not in_fence and line.startswith("    "):
            current.append(line[4:])
            continue
        if current and line.strip() == "" and not in_fence:
            # a blank line inside an indented block continues it when more follows
            current.append("")
            continue
        if current:
            blocks.append("\n".join(current).strip("\n"))
            current = []
    runnable = []
    for block in blocks:
        if not re.search(r"(^|\$ |\| |&& )refkit ", block, re.MULTILINE):
            continue
        if "pip install" in block or re.search(r"^make ", block, re.MULTILINE):
            continue
        runnable.append(block)
    return runnable


def _logical_lines(block: str) -> list[str]:
    out: list[str] = []
    pending = ""
    for line in block.splitlines():
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return out


def to_script(block: str) -> tuple[str, list[tuple[str, str]]]:
    """The bash script for a block, and the (command, expected output) pairs it shows."""
    lines = _logical_lines(block)
    script: list[str] = []
    shown: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            command = line[2:]
            expected = []
            i += 1
            while i < len(lines) and not lines[i].startswith("$ ") and lines[i].strip():
                expected.append(lines[i])
                i += 1
            shown.append((command, "\n".join(expected)))
            continue
        match = _EXITS.match(line)
        if match:
            code = match.group("code")
            script.append(f"set +e; {match.group('cmd')}; rc=$?; set -e; [ $rc -eq {code} ]")
        else:
            script.append(line)
        i += 1
    return "\n".join(script), shown


def test_the_readme_has_examples_and_they_follow_the_conventions() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 5
    script, shown = to_script("$ refkit --version\nrefkit 1\n\nrefkit x \\\n  --y  # exits 2")
    assert shown == [("refkit --version", "refkit 1")]
    assert script.strip() == "set +e; refkit x    --y; rc=$?; set -e; [ $rc -eq 2 ]"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository-shaped folder after ``make demo``, with ../shared beside it."""
    shared = shared_path("inputs")
    if not REFKIT.exists():
        pytest.skip(f"needs the project's venv ({REFKIT}): run `make setup`")
    root = tmp_path_factory.mktemp("readme")
    (root / "shared").symlink_to(shared.parent)
    repo = root / "repo"
    shutil.copytree(PROJECT_ROOT / "images", repo / "images")
    out = repo / "build" / "demo"
    env = {**os.environ, "PATH": f"{REFKIT.parent}:{os.environ.get('PATH', '')}"}
    run = subprocess.run(
        ["make", "-C", str(PROJECT_ROOT), "demo", f"DEMO_OUT={out}", f"INPUTS={shared}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return repo


def test_every_readme_example_runs_on_the_demo_files(workspace: Path) -> None:
    env = {
        **os.environ,
        "PATH": f"{REFKIT.parent}:{os.environ.get('PATH', '')}",
        "COLUMNS": "80",
    }
    env.pop("REFKIT_SHARED", None)
    for block in readme_blocks(README.read_text(encoding="utf-8")):
        script, shown = to_script(block)
        run = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=workspace,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert run.returncode == 0, f"README block failed:\n{block}\n---\n{run.stderr[-3000:]}"
        for command, expected in shown:
            got = subprocess.run(
                ["bash", "-c", command],
                cwd=workspace,
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            assert got.returncode == 0, f"{command}\n{got.stderr}"
            assert got.stdout.rstrip("\n") == expected, command
