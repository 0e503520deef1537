"""Shared data for the manifest tests (no tests here): golden assets, a valid statement."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from refkit.manifests.exports import vsa

ASSETS = Path(__file__).resolve().parent / "assets" / "manifests"


def example_statement() -> dict[str, Any]:
    """A fresh, mutable copy of the golden statement (tests/assets/manifests/release.json)."""
    return copy.deepcopy(_load())


_CACHE: dict[str, Any] = {}


def _load() -> dict[str, Any]:
    if "v" not in _CACHE:
        _CACHE["v"] = json.loads((ASSETS / "release.json").read_text(encoding="utf-8"))
    value: dict[str, Any] = _CACHE["v"]
    return value


def strip_placeholders(node: Any) -> Any:
    """``node`` (an authoring document) with every ``placeholder`` marker removed, in place."""
    if isinstance(node, dict):
        node.pop("placeholder", None)
        for value in node.values():
            strip_placeholders(value)
    elif isinstance(node, list):
        for value in node:
            strip_placeholders(value)
    return node


def unmark_placeholders(yaml_file: Path) -> None:
    """Rewrite a `refkit manifest example` file as if every placeholder were replaced.

    The template is refused by `build` until then (issue 11); tests that only need a
    buildable file accept its values as they are.
    """
    import yaml

    from refkit.yamlio import load_yaml

    doc = strip_placeholders(load_yaml(yaml_file.read_bytes(), source=str(yaml_file)))
    yaml_file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def vsa_outcome(**kw: Any) -> vsa.VerificationOutcome:
    """A complete VSA verification outcome; ``kw`` replaces fields."""
    args: dict[str, Any] = {
        "verifier_id": "https://refkit.dev/verifiers/example",
        "result": vsa.Result.PASSED,
        "time_verified": datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
        "resource_uri": "https://github.com/example/service/releases/2.0.0",
        "policy_uri": "https://example.com/trust-policy.yaml",
        "policy_digest": {"sha256": "0f" * 32},
        "verifier_version": {"refkit": "0.1.0"},
        "input_attestations": (
            vsa.InputAttestation({"sha256": "7e" * 32}, "https://example.com/release.bundle.json"),
        ),
        "slsa_version": "1.2",
    }
    args.update(kw)
    return vsa.VerificationOutcome(**args)
