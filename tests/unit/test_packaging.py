"""Packaging: what a user's install gets (runtime dependencies) and the exact test pins."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent.parent


def _project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    assert isinstance(project, dict)
    return project


def _runtime() -> list[Requirement]:
    deps = _project()["dependencies"]
    assert isinstance(deps, list)
    return [Requirement(d) for d in deps]


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, line
            pins[canonicalize_name(name)] = version.strip()
    return pins


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_zstandard_is_a_runtime_dependency_where_python_has_no_zstd(python: str) -> None:
    """Issue 11: a user's `inputs fetch` exited 3 on Ubuntu's .deb (zstd members) because
    zstandard was only a test dependency; Python has compression.zstd from 3.14."""
    env: dict[str, str] = {
        **{k: str(v) for k, v in default_environment().items()},
        "python_version": python,
        "python_full_version": python + ".0",
    }
    names = {
        canonicalize_name(r.name) for r in _runtime() if r.marker is None or r.marker.evaluate(env)
    }
    assert "zstandard" in names


def test_zstandard_is_not_required_where_the_standard_library_has_zstd() -> None:
    env: dict[str, str] = {
        **{k: str(v) for k, v in default_environment().items()},
        "python_version": "3.14",
        "python_full_version": "3.14.0",
    }
    zstd = [r for r in _runtime() if canonicalize_name(r.name) == "zstandard"]
    assert zstd
    assert all(r.marker is not None and not r.marker.evaluate(env) for r in zstd)


def test_every_dependency_is_pinned_in_constraints_within_its_range() -> None:
    pins = _pins()
    extras = _project()["optional-dependencies"]
    assert isinstance(extras, dict)
    requirements = _runtime() + [Requirement(d) for deps in extras.values() for d in deps]
    for req in requirements:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} has no exact pin in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (str(req), pins[name])


def test_the_installed_versions_are_the_pinned_ones() -> None:
    """The test extra's interoperability peers run at the versions constraints.txt names."""
    from importlib.metadata import version

    pins = _pins()
    for name in ("in-toto-attestation", "protobuf", "securesystemslib", "zstandard"):
        assert version(name) == pins[name], name
