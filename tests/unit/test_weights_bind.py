"""``weights bind``: a disk against a model manifest, file by file, through fsck.erofs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import InputError, ParseError
from refkit.weights.bind import bind, load_manifest
from refkit.weights.digest import digest_model
from refkit.weights.disk import build_disk
from refkit.weights.oms import statement_bytes
from tests.verity_support import random_file, tool

pytestmark = pytest.mark.peer


@pytest.fixture(autouse=True)
def _needs_erofs_utils() -> None:
    tool("mkfs.erofs", "erofs-utils")
    tool("fsck.erofs", "erofs-utils")


def make_model(root: Path) -> Path:
    (root / "a").mkdir(parents=True)
    (root / "a" / "b").write_bytes(b"inner\n")
    (root / "a-b").write_bytes(b"dash\n")
    (root / "empty.txt").write_bytes(b"")
    random_file(root / "weights.bin", 200 * 1024 + 3, seed=4)
    return root


def codes(verdict: Any) -> list[str]:
    return [r.code for r in verdict.results]


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path, Path, str]:
    """A model, its disk, and its manifest (the OMS statement weights digest writes)."""
    model = make_model(tmp_path / "model")
    img = tmp_path / "m.img"
    record = build_disk(model, img)
    manifest = tmp_path / "m.oms.json"
    manifest.write_bytes(statement_bytes(digest_model(model)))
    return model, img, manifest, record.verity_root.hex()


def test_disk_holding_the_manifests_files_binds(built: tuple[Path, Path, Path, str]) -> None:
    _model, img, manifest, root = built
    verdict = bind(img, manifest, expected_root=bytes.fromhex(root))
    assert codes(verdict) == ["verity.tree.match", "verity.root.match", "weights.bind.files.match"]
    assert verdict.ok
    assert verdict.facts["filesDigest"] == verdict.facts["diskFilesDigest"]
    # without a root the files are still compared; the tree is said to be not checked
    verdict = bind(img, manifest)
    assert codes(verdict) == ["verity.root.not-given", "weights.bind.files.match"]
    assert verdict.ok


def test_changed_missing_and_extra_files_are_named(
    tmp_path: Path, built: tuple[Path, Path, Path, str]
) -> None:
    model, _img, manifest, _root = built
    other = tmp_path / "other"
    shutil.copytree(model, other)
    (other / "a-b").write_bytes(b"changed\n")
    (other / "a" / "b").unlink()
    (other / "new.txt").write_bytes(b"new\n")
    img = tmp_path / "other.img"
    build_disk(other, img)
    verdict = bind(img, manifest)
    got = {(r.code, r.subject) for r in verdict.results}
    assert ("weights.bind.file.changed", "a-b") in got
    assert ("weights.bind.file.missing", "a/b") in got
    assert ("weights.bind.file.extra", "new.txt") in got
    assert not verdict.ok


def test_a_wrong_root_fails_before_files_are_trusted(built: tuple[Path, Path, Path, str]) -> None:
    _model, img, manifest, _root = built
    verdict = bind(img, manifest, expected_root=b"\0" * 32)
    assert "verity.root.mismatch" in codes(verdict)
    assert not verdict.ok


def test_a_changed_data_byte_is_found_by_the_tree_and_the_files(
    built: tuple[Path, Path, Path, str],
) -> None:
    model, img, manifest, root = built
    data = bytearray(img.read_bytes())
    at = data.find((model / "weights.bin").read_bytes()[:64])  # the file's bytes on disk
    assert at > 0
    data[at + 10] ^= 0xFF
    img.write_bytes(bytes(data))
    verdict = bind(img, manifest, expected_root=bytes.fromhex(root))
    assert codes(verdict) == [
        "verity.tree.mismatch",
        "verity.root.mismatch",
        "weights.bind.file.changed",
    ]
    assert verdict.results[-1].subject == "weights.bin"


def test_sharded_manifests_compare_shards_and_sizes(
    tmp_path: Path, built: tuple[Path, Path, Path, str]
) -> None:
    model, img, _manifest, _root = built
    sharded = tmp_path / "sharded.json"
    sharded.write_bytes(statement_bytes(digest_model(model, shard_size=64 * 1024)))
    assert codes(bind(img, sharded))[-1] == "weights.bind.files.match"
    other = tmp_path / "other"
    shutil.copytree(model, other)
    random_file(other / "weights.bin", 100 * 1024, seed=4)
    img2 = tmp_path / "o.img"
    build_disk(other, img2)
    changed = [r for r in bind(img2, sharded).results if r.code == "weights.bind.file.changed"]
    assert [r.subject for r in changed] == ["weights.bin"]
    assert "102400 bytes on the disk" in changed[0].message


def test_manifest_forms(tmp_path: Path, built: tuple[Path, Path, Path, str]) -> None:
    model, _img, manifest, _root = built
    record = tmp_path / "record.json"
    record.write_text(json.dumps(digest_model(model).to_json()))
    assert load_manifest(record)[1] == "weights digest record"
    assert load_manifest(manifest)[1] == "statement"
    bad = tmp_path / "bad.json"
    bad.write_text('{"_type": "nope"}')
    with pytest.raises(ParseError):
        load_manifest(bad)
    bad.write_text("{not json")
    with pytest.raises(ParseError):
        load_manifest(bad)


def test_signed_bundle_manifest(tmp_path: Path, built: tuple[Path, Path, Path, str]) -> None:
    from refkit.manifests.signing.keys import KeyType, generate
    from refkit.weights.signing import sign_model

    model, img, _manifest, _root = built
    bundle = tmp_path / "model.sig"
    bundle.write_bytes(sign_model(digest_model(model), generate(KeyType.ECDSA_P256)))
    manifest, held = load_manifest(bundle)
    assert "signature not checked" in held
    assert codes(bind(img, bundle))[-1] == "weights.bind.files.match"
    assert manifest.files_digest == digest_model(model).files_digest


def test_not_an_erofs_image(tmp_path: Path, built: tuple[Path, Path, Path, str]) -> None:
    _model, _img, manifest, _root = built
    junk = random_file(tmp_path / "junk.img", 8192)
    with pytest.raises(ParseError, match="not an EROFS image"):
        bind(junk, manifest)
    with pytest.raises(InputError, match="not found"):
        bind(tmp_path / "absent.img", manifest)


def test_cli_weights_bind(run_cli: Callable[..., Any], built: tuple[Path, Path, Path, str]) -> None:
    _model, img, manifest, root = built
    ok = run_cli("weights", "bind", img, "--manifest", manifest, "--root-hash", root)
    assert ok.code == 0, ok.stderr
    assert "PASS  weights.bind.files.match" in ok.stdout
    as_json = run_cli("weights", "bind", img, "--manifest", manifest, "--json")
    assert as_json.code == 0
    assert json.loads(as_json.stdout)["ok"] is True
    bad = run_cli("weights", "bind", img, "--manifest", manifest, "--root-hash", "00" * 32)
    assert bad.code == 1
    assert "FAIL  verity.root.mismatch" in bad.stdout
    nohex = run_cli("weights", "bind", img, "--manifest", manifest, "--root-hash", "zz")
    assert nohex.code == 2
    assert "Traceback" not in bad.stderr + nohex.stderr
