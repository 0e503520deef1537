"""The one way tests reach the real third-party data in ../shared.

``../shared`` sits beside the project's checkout (``<root>/../shared``). Its vectors are
read in place, never copied into the repository. When it is absent, tests that need it
are skipped with a reason that says where it was looked for.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def shared_root() -> Path:
    """``../shared`` relative to the project root (``REFKIT_SHARED`` overrides it)."""
    override = os.environ.get("REFKIT_SHARED")
    return Path(override) if override else (PROJECT_ROOT.parent / "shared").resolve()


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skips the calling test when it does not exist."""
    path = shared_root().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path}: ../shared is not beside the checkout (set REFKIT_SHARED)")
    return path


def vector(*parts: str) -> Path:
    """A file under ../shared/vectors (see its PROVENANCE.md)."""
    return shared_path("vectors", *parts)


def shared_input(*parts: str) -> Path:
    """A file under ../shared/inputs (the mirror of pinned Debian packages)."""
    return shared_path("inputs", *parts)


def assert_not_a_bug(exc: BaseException) -> None:
    """For fuzz and tamper loops: a typed refusal passes a case, an InternalError (exit 4,
    a bug in refkit) does not."""
    from refkit.errors import InternalError

    assert not isinstance(exc, InternalError), f"internal error (a bug): {exc}"


#: Examples per fuzz test of an evidence/log/PE parser: at least 1,000 in CI (the issues
#: ask for it), fewer on a developer's machine. Use as ``@settings(max_examples=...)``.
FUZZ_EXAMPLES = 1000 if os.environ.get("CI") else 150
