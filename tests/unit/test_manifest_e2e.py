"""The whole authoring flow through the CLI: example → build → sign → verify → show → diff.

Sign and verify belong to the signing commands; this test only checks that what `build`
writes is what they accept, and that `show`/`diff` read what `sign` writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.manifest_support import unmark_placeholders


def test_example_build_sign_verify_show_diff(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    yml, js, key, bundle = (tmp_path / n for n in ("r.yaml", "r.json", "k.key", "r.bundle.json"))
    assert run_cli("manifest", "example", "-o", yml).code == 0
    assert run_cli("manifest", "build", yml, "-o", js).code == 2  # placeholders (issue 11)
    unmark_placeholders(yml)
    assert run_cli("manifest", "build", yml, "-o", js).code == 0
    assert run_cli("keygen", "--out", key, "--type", "ed25519").code == 0
    r = run_cli("manifest", "sign", js, "--key", key, "-o", bundle)
    assert r.code == 0, r.stderr
    r = run_cli("manifest", "verify", bundle, "--key", f"{key}.pub")
    assert r.code == 0, r.stdout + r.stderr
    r = run_cli("manifest", "show", bundle, "--json")
    assert r.code == 0
    assert json.loads(r.stdout)["statement"] == json.loads(js.read_bytes())
    r = run_cli("manifest", "diff", js, bundle, "--exit-code")
    assert r.code == 0, r.stdout
