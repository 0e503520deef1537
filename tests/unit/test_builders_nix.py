"""The nix builder: a local builtins-only derivation built with Debian's nix-bin, the
artifact is the output's NAR and its recorded hash is the one Nix itself reports.
Skipped (with the reason) where nix is absent."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.builders import nix
from refkit.builders.api import load_builders
from refkit.errors import EnvironmentProblem, InputError, MissingTool
from tests.boot_support import build, other_machine
from tests.shared import FUZZ_EXAMPLES, PROJECT_ROOT

ASSETS = PROJECT_ROOT / "tests" / "assets" / "nix"


def _nix() -> str:
    found = shutil.which("nix")
    if found is None:
        pytest.skip("needs nix (Debian package nix-bin); the nix builder is optional")
    return found


def test_registered() -> None:
    assert load_builders()["nix"] is nix.BUILDER


@pytest.mark.peer
def test_nar_hash_is_nix_own(tmp_path: Path) -> None:
    tool = _nix()
    nar, built = build(
        nix.BUILDER, tmp_path / "b", {"expression": ASSETS}, {"argstr": {"greeting": "one"}}
    )
    f = built.facts
    # second computation: nix's own hash of the store path (the peer)
    peer = subprocess.run(
        [tool, "--extra-experimental-features", "nix-command", "hash", "path", f["storePath"]],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert f["narHash"] == peer
    digest = hashlib.sha256(nar.read_bytes()).digest()
    assert f["narHash"] == "sha256-" + base64.b64encode(digest).decode()
    assert f["narSha256"] == digest.hex()
    assert f["narSize"] == nar.stat().st_size
    # the NAR holds the file the derivation wrote
    assert b"one\n" in nar.read_bytes()
    assert f["storePath"].startswith("/nix/store/")
    assert f["drvPath"].endswith(".drv")


@pytest.mark.peer
def test_reproducible_and_parameters_matter(tmp_path: Path) -> None:
    _nix()
    moved = tmp_path / "elsewhere"
    shutil.copytree(ASSETS, moved)
    a, built = build(nix.BUILDER, tmp_path / "a", {"expression": ASSETS / "default.nix"})
    with other_machine(tmp_path / "cwd"):
        b, again = build(nix.BUILDER, tmp_path / "b", {"expression": moved})
    assert a.read_bytes() == b.read_bytes()
    assert built.facts == again.facts
    _c, other = build(
        nix.BUILDER, tmp_path / "c", {"expression": ASSETS}, {"argstr": {"greeting": "two"}}
    )
    assert other.facts["narHash"] != built.facts["narHash"]


@pytest.mark.peer
def test_several_outputs_take_out(tmp_path: Path) -> None:
    _nix()
    nar, built = build(nix.BUILDER, tmp_path / "b", {"expression": ASSETS / "two-outputs.nix"})
    assert b"a\n" in nar.read_bytes()
    assert b"b\n" not in nar.read_bytes()
    assert not built.facts["storePath"].endswith("-doc")


def test_other_output_sets_refused() -> None:
    answer = (
        '[{"drvPath": "/nix/store/x.drv", '
        '"outputs": {"doc": "/nix/store/d", "out": "/nix/store/o"}}]'
    )
    with pytest.raises(InputError, match="outputs doc, out"):
        nix._built_path(answer)
    with pytest.raises(EnvironmentProblem, match="unexpected answer"):
        nix._built_path("[]")


@pytest.mark.peer
def test_broken_expression(tmp_path: Path) -> None:
    _nix()
    bad = tmp_path / "bad.nix"
    bad.write_text("{ this is not nix")
    with pytest.raises(EnvironmentProblem, match="nix build failed"):
        build(nix.BUILDER, tmp_path / "b", {"expression": bad})


def test_missing_expression(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a file"):
        build(nix.BUILDER, tmp_path / "b", {"expression": tmp_path / "none.nix"})
    with pytest.raises(InputError, match="one input named 'expression'"):
        build(nix.BUILDER, tmp_path / "c", {})


@given(st.text(max_size=300))
@settings(max_examples=FUZZ_EXAMPLES)
def test_nix_answers_fuzzed(text: str) -> None:
    """Whatever nix prints, the reader returns a path or a typed refusal."""
    for reader in (nix._built_path, lambda t: nix._recorded_hash(t, "/nix/store/x")):
        with contextlib.suppress(InputError, EnvironmentProblem):
            reader(text)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["drvPath", "outputs", "out", "path", "narHash"]), inner, max_size=4
            )
        ),
        max_leaves=12,
    )
)
@settings(max_examples=FUZZ_EXAMPLES)
def test_nix_json_shapes_fuzzed(value: object) -> None:
    text = json.dumps(value)
    for reader in (nix._built_path, lambda t: nix._recorded_hash(t, "/nix/store/x")):
        with contextlib.suppress(InputError, EnvironmentProblem):
            reader(text)


@pytest.mark.peer
def test_project_nix_folder_parses() -> None:
    """nix/ is not built in CI (no nixpkgs), but it must at least be valid Nix."""
    _nix()
    for name in ("default.nix", "flake.nix"):
        subprocess.run(
            ["nix-instantiate", "--parse", str(PROJECT_ROOT / "nix" / name)],
            check=True,
            capture_output=True,
        )


def test_nix_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda *_a, **_k: None)
    with pytest.raises(MissingTool, match="nix") as caught:
        build(nix.BUILDER, tmp_path / "b", {"expression": ASSETS})
    assert "nix-bin" in (caught.value.hint or "")
