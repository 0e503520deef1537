"""A VSA that `export --format vsa` writes is signed by `manifest sign` and verified by
`manifest verify` when the caller accepts its predicate type (issue: interoperability).

Checks that need a refkit release (expiry, rollback, release name) cannot be made on a
VSA: they are reported as not checked, and a caller who requires one gets exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

VSA_TYPE = "https://slsa.dev/verification_summary/v1"


def _signed_vsa(tmp_path: Path, run_cli: Callable[..., Any]) -> tuple[Path, Path]:
    js, vsa, key, bundle = (
        tmp_path / n for n in ("r.json", "vsa.json", "k.key", "vsa.bundle.json")
    )
    release = tmp_path / "release.yaml"
    release.write_text(
        "release:\n  name: demo\n  version: 1.0.0\n  created: 2026-01-01T00:00:00Z\n"
        "  source: {repository: https://example.org/r, commit: '" + "a" * 40 + "'}\n"
        "subjects:\n  - {name: app, kind: oci-image, digest: {sha256: '" + "c" * 64 + "'}}\n"
        "referenceValues:\n  policies:\n    - name: p\n      hostData: '" + "b" * 64 + "'\n"
    )
    assert run_cli("manifest", "build", release, "-o", js).code == 0
    r = run_cli(
        "manifest", "export", js, "--format", "vsa", "-o", vsa,
        "--verifier-id", "https://example.org/verifier", "--result", "PASSED",
        "--time-verified", "2026-02-01T00:00:00Z", "--resource-uri", "https://example.org/r",
        "--policy-uri", "https://example.org/policy", "--slsa-version", "1.1",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert json.loads(vsa.read_bytes())["predicate"]["slsaVersion"] == "1.1"
    assert run_cli("keygen", "--out", key, "--type", "ed25519").code == 0
    # Without accepting the VSA type on purpose, sign refuses it.
    refused = run_cli("manifest", "sign", vsa, "--key", key, "-o", bundle)
    assert refused.code == 2, refused.stderr
    assert not bundle.exists()
    r = run_cli("manifest", "sign", vsa, "--key", key, "-o", bundle, "--predicate-type", VSA_TYPE)
    assert r.code == 0, r.stderr
    return bundle, Path(f"{key}.pub")


def test_exported_vsa_signs_and_verifies_when_its_type_is_accepted(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    bundle, pub = _signed_vsa(tmp_path, run_cli)
    # The default accepts only refkit manifests: a VSA is a "no" (exit 1), not bad input.
    default = run_cli("manifest", "verify", bundle, "--key", pub, "--json")
    assert default.code == 1, default.stdout + default.stderr
    r = run_cli("manifest", "verify", bundle, "--key", pub, "--predicate-type", VSA_TYPE, "--json")
    assert r.code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    outcomes = {c["code"]: c["outcome"] for c in doc["checks"]}
    assert outcomes["manifest.threshold.met"] == "pass"
    assert "not-checked" in outcomes.values()


def test_a_required_release_check_on_a_vsa_fails(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    bundle, pub = _signed_vsa(tmp_path, run_cli)
    r = run_cli(
        "manifest", "verify", bundle, "--key", pub, "--predicate-type", VSA_TYPE,
        "--min-version", "1.0.0", "--json",
    )  # fmt: skip
    assert r.code == 1, r.stdout + r.stderr
    failing = [c for c in json.loads(r.stdout)["checks"] if not c["ok"]]
    assert failing
    assert all(c["outcome"] == "not-checked" and c["required"] for c in failing)
