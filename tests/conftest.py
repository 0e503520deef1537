"""Test-wide configuration: hypothesis profiles and the CLI runner fixture."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings

# CI draws the same examples every run (derandomize): a submission is judged by what it
# changed, not by which random inputs a run happened to try. Exploration with fresh
# examples is the dev profile's job (and any failure it finds becomes a named test).
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@dataclass(frozen=True)
class Run:
    """What one CLI invocation produced."""

    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Invoke ``refkit.cli.main`` in-process and capture exit code, stdout and stderr."""
    from refkit.cli import main

    def _run(*args: str | os.PathLike[str], argv: Sequence[str] | None = None) -> Run:
        capsys.readouterr()
        code = main([os.fspath(a) for a in args] if argv is None else list(argv))
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return _run


@pytest.fixture(autouse=True)
def _private_input_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own XDG cache: the inputs download cache (refkit.inputs.cache)
    must never carry state between tests, nor touch the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
