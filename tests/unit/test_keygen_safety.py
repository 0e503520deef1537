"""``refkit keygen`` writes the key pair as a unit, never through a link (issue 11, item 9)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode


def test_empty_out_is_bad_input(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    # Was exit 4: "internal error: ValueError: PosixPath('.') has an empty name".
    r = run_cli("keygen", "--out", "")
    assert r.code == ExitCode.BAD_INPUT, r.stderr
    assert r.stderr.startswith("error: --out must name the private key file")
    assert "internal error" not in r.stderr


@pytest.mark.parametrize("force", [False, True])
def test_a_symlinked_out_is_never_written_through(
    run_cli: Callable[..., Any], tmp_path: Path, force: bool
) -> None:
    # The private key landed in the link's target, chmod 0600.
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o644)
    out = tmp_path / "k"
    out.symlink_to(victim)
    r = run_cli("keygen", "--out", out, *(["--force"] if force else []))
    assert victim.read_text() == "precious\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    if force:
        assert r.code == 0, r.stderr
        assert not out.is_symlink()
        assert b"PRIVATE KEY" in out.read_bytes()
    else:
        assert r.code == ExitCode.BAD_INPUT
        assert "already exists" in r.stderr


def test_force_replaces_the_pair_or_nothing(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    # `keygen --force` wrote the new private key, then failed on the .pub: a replaced key
    # beside a stale public key. Now both targets are checked before anything is written.
    out = tmp_path / "k"
    assert run_cli("keygen", "--out", out).code == 0
    old_key = out.read_bytes()
    pub = tmp_path / "k.pub"
    pub.unlink()
    pub.mkdir()  # the .pub cannot be written
    r = run_cli("keygen", "--out", out, "--force")
    assert r.code == ExitCode.BAD_INPUT, r.stderr
    assert str(pub) in r.stderr
    assert out.read_bytes() == old_key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k", "k.pub"]
