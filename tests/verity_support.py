"""Helpers for the verity and disk tests: the peer tools (veritysetup, erofs-utils) and
random images. Shared by test_weights_verity*.py, test_weights_disk*.py and
test_weights_bind*.py (test modules never import each other)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

NIL_UUID = "00000000-0000-0000-0000-000000000000"


def tool(name: str, package: str) -> str:
    """The path of a peer tool; skips the test with the package to install when absent."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        pytest.skip(f"needs {name} (Debian package {package})")
    return found


def veritysetup() -> str:
    return tool("veritysetup", "cryptsetup-bin")


@dataclass(frozen=True)
class PeerFormat:
    """What ``veritysetup format`` printed and wrote."""

    root: str
    hash_blocks: int
    hash_bytes: bytes


def peer_format(
    data: Path,
    hash_file: Path,
    *,
    salt: str,
    uuid: str = NIL_UUID,
    data_block_size: int = 4096,
    hash_block_size: int = 4096,
    algorithm: str = "sha256",
    hash_type: int = 1,
    hash_offset: int | None = None,
    data_blocks: int | None = None,
) -> PeerFormat:
    """Run ``veritysetup format`` (the peer) and read back its root and hash file."""
    argv = [
        veritysetup(),
        "format",
        f"--salt={salt}",
        f"--uuid={uuid}",
        f"--data-block-size={data_block_size}",
        f"--hash-block-size={hash_block_size}",
        f"--hash={algorithm}",
        f"--format={hash_type}",
    ]
    if hash_offset is not None:
        argv.append(f"--hash-offset={hash_offset}")
    if data_blocks is not None:
        argv.append(f"--data-blocks={data_blocks}")
    out = subprocess.run(
        [*argv, str(data), str(hash_file)], capture_output=True, text=True, check=True
    ).stdout
    fields = {
        line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
        for line in out.splitlines()
        if ":" in line
    }
    return PeerFormat(fields["Root hash"], int(fields["Hash blocks"]), hash_file.read_bytes())


def peer_verify(data: Path, hash_file: Path, root: str, *, hash_offset: int | None = None) -> int:
    """``veritysetup verify``'s exit code (0: the tree and the root check out)."""
    argv = [veritysetup(), "verify"]
    if hash_offset is not None:
        argv.append(f"--hash-offset={hash_offset}")
    return subprocess.run(
        [*argv, str(data), str(hash_file), root], capture_output=True, check=False
    ).returncode


def random_file(path: Path, size: int, *, seed: int = 0) -> Path:
    """``size`` pseudo-random bytes (reproducible from ``seed``) written to ``path``."""
    import random

    rng = random.Random(seed)
    path.write_bytes(rng.randbytes(size))
    return path


def file_modes(root: Path) -> dict[str, int]:
    return {
        os.fspath(p.relative_to(root)): p.stat().st_mode & 0o7777 for p in sorted(root.rglob("*"))
    }
