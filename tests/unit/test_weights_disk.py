"""``weights disk``: determinism, agreement with Privatemode's recipe run with the real
tools (mkfs.erofs, veritysetup), the record, refusals and no partial output."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import EnvironmentProblem, InputError
from refkit.weights import disk as disk_mod
from refkit.weights import erofs
from refkit.weights import verity as vt
from refkit.weights.disk import build_disk
from tests.verity_support import NIL_UUID, peer_verify, random_file, tool, veritysetup

pytestmark = pytest.mark.peer


@pytest.fixture(autouse=True)
def _needs_erofs_utils() -> None:
    tool("mkfs.erofs", "erofs-utils")
    tool("fsck.erofs", "erofs-utils")


def make_model(root: Path) -> Path:
    """A small model: nested names that tell the orders apart (a/b, a-b), an empty file,
    an empty directory, a file over several 4 KiB blocks, an executable, git's paths."""
    (root / "a").mkdir(parents=True)
    (root / "a" / "b").write_bytes(b"inner\n")
    (root / "a-b").write_bytes(b"dash\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "empty-dir").mkdir()
    random_file(root / "weights.bin", 300 * 1024 + 7, seed=1)
    (root / "run.sh").write_bytes(b"#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_bytes(b"ref: refs/heads/main\n")
    (root / ".gitattributes").write_bytes(b"*.bin filter=lfs\n")
    return root


def test_disk_is_the_same_under_other_umask_tz_modes_times_and_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = make_model(tmp_path / "one" / "model")
    two = tmp_path / "two" / "elsewhere" / "model"
    shutil.copytree(one, two)
    # another checkout: other modes, times and creation order
    (two / "a-b").chmod(0o600)
    (two / "weights.bin").chmod(0o640)
    os.utime(two / "a" / "b", (1_000_000, 1_000_000))
    (two / "extra-then-gone").write_bytes(b"x")
    (two / "extra-then-gone").unlink()
    out1 = tmp_path / "one" / "m.img"
    out2 = tmp_path / "two" / "m.img"
    old = os.umask(0o022)
    try:
        monkeypatch.setenv("TZ", "UTC")
        rec1 = build_disk(one, out1)
        os.umask(0o077)
        monkeypatch.setenv("TZ", "Pacific/Kiritimati")
        rec2 = build_disk(two, out2)
    finally:
        os.umask(old)
    assert out1.read_bytes() == out2.read_bytes()
    assert rec1.verity_root == rec2.verity_root
    assert rec1.files_digest == rec2.files_digest
    assert rec1.image_sha256 == rec2.image_sha256


def test_disk_equals_privatemodes_recipe_with_the_real_tools(tmp_path: Path) -> None:
    """The peer: mkfs.erofs with Privatemode's options on the same normalised tree (files
    0644/0755, times at the epoch), then veritysetup format appending the tree."""
    model = make_model(tmp_path / "model")
    ours = tmp_path / "ours.img"
    record = build_disk(model, ours)

    staged = tmp_path / "staged"
    shutil.copytree(model, staged, ignore=shutil.ignore_patterns(".git", ".gitattributes"))
    for path in [staged, *staged.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if os.access(path, os.X_OK) else 0o644)
        os.utime(path, (0, 0))
    peer = tmp_path / "peer.img"
    subprocess.run(
        [
            tool("mkfs.erofs", "erofs-utils"),
            "-T0",
            "-x-1",
            "--all-root",
            f"-U{NIL_UUID}",
            str(peer),
            str(staged),
        ],
        check=True,
        capture_output=True,
        env={"PATH": os.environ["PATH"], "SOURCE_DATE_EPOCH": "0"},
    )
    size = peer.stat().st_size
    out = subprocess.run(
        [
            veritysetup(),
            "format",
            "--salt=00",
            f"--uuid={NIL_UUID}",
            f"--hash-offset={size}",
            str(peer),
            str(peer),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    root = next(line.split()[-1] for line in out.splitlines() if line.startswith("Root hash"))
    assert record.erofs_size == size
    assert record.verity_root.hex() == root
    assert ours.read_bytes() == peer.read_bytes()
    assert peer_verify(ours, ours, root, hash_offset=size) == 0


def test_record_fields_and_the_two_identities(tmp_path: Path) -> None:
    from refkit.weights.digest import digest_model

    model = make_model(tmp_path / "model")
    img = tmp_path / "m.img"
    record = build_disk(
        model,
        img,
        salt=bytes.fromhex("ab" * 32),
        uuid="12345678-1234-5678-1234-567812345678",
        model_source="https://example.invalid/model",
        commit_hash="c9745ed1",
    )
    doc = record.to_json()
    for key in (
        "model_source",
        "commit_hash",
        "excluded_files",
        "root_hash",
        "hash_offset",
        "erofs_version",
        "veritysetup_version",
        "file_hash_sha256",
        "filesDigest",
        "verityRoot",
        "hashOffset",
        "salt",
        "uuid",
        "dataBlockSize",
        "hashBlockSize",
        "imageSha256",
    ):
        assert key in doc, key
    assert doc["root_hash"] == doc["verityRoot"] != doc["filesDigest"]["digest"]
    assert doc["hash_offset"] == doc["hashOffset"] == erofs.image_size(img)
    assert doc["file_hash_sha256"] == doc["imageSha256"]
    import hashlib

    assert doc["imageSha256"] == hashlib.sha256(img.read_bytes()).hexdigest()
    assert doc["salt"] == "ab" * 32
    assert doc["erofs_version"].startswith("mkfs.erofs ")
    assert ".git" in doc["excluded_files"]
    # the files digest is the one weights digest gives for the source directory
    assert doc["filesDigest"]["digest"] == digest_model(model).files_digest
    assert doc["fileCount"] == 5
    # the superblock carries the UUID and salt given (read back by the measure path)
    got = vt.measure(img, hash_offset=doc["hashOffset"])
    assert got.uuid == "12345678-1234-5678-1234-567812345678"
    assert got.root.hex() == doc["verityRoot"]
    assert [r.code for r in got.results] == ["verity.tree.match"]


def test_hash_area_written_apart(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    img, hashes = tmp_path / "m.img", tmp_path / "m.hash"
    record = build_disk(model, img, hash_file=hashes, salt=b"")
    assert img.stat().st_size == record.erofs_size  # nothing appended
    assert peer_verify(img, hashes, record.verity_root.hex()) == 0
    assert record.to_json()["hashFile"] == str(hashes)


def test_exclusions_are_left_out_and_recorded(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    record = build_disk(model, tmp_path / "m.img", exclude=["run.sh", "a"])
    assert record.file_count == 3
    assert {"a", "run.sh"} <= set(record.excluded_files)


def test_existing_output_is_not_replaced_unless_asked(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    img = tmp_path / "m.img"
    img.write_bytes(b"old")
    with pytest.raises(InputError, match="already exists"):
        build_disk(model, img)
    assert img.read_bytes() == b"old"
    build_disk(model, img, force=True)
    assert img.read_bytes() != b"old"


@pytest.mark.parametrize("bad", ["fifo", "symlink", "device-like-missing", "not-utf8"])
def test_bad_trees_are_refused_before_any_output(tmp_path: Path, bad: str) -> None:
    model = make_model(tmp_path / "model")
    if bad == "fifo":
        os.mkfifo(model / "pipe")
    elif bad == "symlink":
        (model / "link").symlink_to("/etc/passwd")
    elif bad == "device-like-missing":
        shutil.rmtree(model)
    else:
        (model / os.fsdecode(b"bad-\xff-name")).write_bytes(b"x")
    with pytest.raises(InputError):
        build_disk(model, tmp_path / "m.img")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["model"] if model.exists() else [])


def test_a_full_disk_leaves_nothing_under_the_final_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while the tree is written (simulated): exit 3, no image, no temporary file."""
    model = make_model(tmp_path / "model")

    def full(self: vt.TreeWriter, offset: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(vt.TreeWriter, "put", full)
    with pytest.raises(EnvironmentProblem, match="no space left"):
        build_disk(model, tmp_path / "m.img")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("size", [2 << 20, 150 << 10], ids=["copy-fails", "image-fails"])
def test_a_real_full_disk_leaves_nothing(tmp_path: Path, size: int) -> None:
    """A real small file system when this machine lets us mount one; else skipped. 2 MiB
    fills it while the model is staged; 150 KiB fits staged, not staged and imaged."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs privileges)")
    try:
        model = tmp_path / "model"
        model.mkdir()
        random_file(model / "big.bin", size, seed=2)
        with pytest.raises(EnvironmentProblem):
            build_disk(model, mnt / "m.img")
        assert list(mnt.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_bad_parameters(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    with pytest.raises(InputError, match="UUID"):
        build_disk(model, tmp_path / "m.img", uuid="nope")
    with pytest.raises(InputError, match="same file"):
        build_disk(model, tmp_path / "m.img", hash_file=tmp_path / "m.img")
    with pytest.raises(InputError, match="larger than the EROFS block"):
        build_disk(model, tmp_path / "m.img", data_block_size=8192)
    with pytest.raises(InputError, match="does not exist"):
        build_disk(model, tmp_path / "no" / "m.img")


def test_missing_mkfs_is_an_environment_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_model(tmp_path / "model")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    with pytest.raises(EnvironmentProblem, match=r"mkfs\.erofs"):
        build_disk(model, tmp_path / "m.img")
    assert not (tmp_path / "m.img").exists()


def test_erofs_size_reader_refuses_other_files(tmp_path: Path) -> None:
    from refkit.errors import ParseError

    f = random_file(tmp_path / "x", 4096)
    with pytest.raises(ParseError, match="not an EROFS image"):
        erofs.image_size(f)


def test_cli_weights_disk(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    img = tmp_path / "m.img"
    done = run_cli("weights", "disk", model, "-o", img, "--json", "--revision", "abc")
    assert done.code == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["kind"] == disk_mod.KIND
    assert doc["commit_hash"] == "abc"
    text = run_cli("weights", "disk", model, "-o", img, "--force")
    assert text.code == 0
    assert f"verity root: {doc['verityRoot']}" in text.stdout
    assert f"files digest: sha256:{doc['filesDigest']['digest']}" in text.stdout
    again = run_cli("weights", "disk", model, "-o", img)
    assert again.code == 2
    assert "--force" in again.stderr
    bad = run_cli("weights", "disk", model, "-o", tmp_path / "n.img", "--salt", "xyz")
    assert bad.code == 2
    assert "--salt" in bad.stderr
    assert "Traceback" not in again.stderr + bad.stderr


MANIFEST_YAML = """\
schemaVersion: "1.1"
release:
  name: demo
  version: 1.0.0
  created: "2026-01-01T00:00:00Z"
  source: {repository: https://example.com/demo, commit: "@COMMIT@"}
referenceValues: {}
subjects:
  - name: vmlinuz
    kind: kernel
    digest: {sha256: "@DIGEST@"}
models:
  - name: tiny
    source: {repository: https://example.com/tiny, revision: abc123}
""".replace("@COMMIT@", "0" * 40).replace("@DIGEST@", "11" * 32)


def test_disk_and_digest_records_bind_in_one_manifest(
    run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    """manifest build --add-model takes both records of the same files; they agree."""
    model = make_model(tmp_path / "tiny")
    (tmp_path / "release.yaml").write_text(MANIFEST_YAML)
    disk_json = run_cli("weights", "disk", model, "-o", tmp_path / "tiny.img", "--json")
    assert disk_json.code == 0, disk_json.stderr
    (tmp_path / "disk.json").write_text(disk_json.stdout)
    digest_json = run_cli("weights", "digest", model, "--json")
    assert digest_json.code == 0, digest_json.stderr
    (tmp_path / "digest.json").write_text(digest_json.stdout)
    built = run_cli(
        "manifest",
        "build",
        tmp_path / "release.yaml",
        "--add-model",
        tmp_path / "digest.json",
        "--add-model",
        tmp_path / "disk.json",
        "-o",
        tmp_path / "release.json",
    )
    assert built.code == 0, built.stderr
    statement = json.loads((tmp_path / "release.json").read_bytes())
    entry = statement["predicate"]["models"][0]
    disk_doc = json.loads(disk_json.stdout)
    assert entry["verity"]["rootHash"] == disk_doc["verityRoot"]
    assert entry["verity"]["hashOffset"] == disk_doc["hashOffset"]
    assert entry["fileDigestRoot"]["digest"] == disk_doc["filesDigest"]["digest"]
    assert (
        entry["fileDigestRoot"]["digest"] == json.loads(digest_json.stdout)["filesDigest"]["digest"]
    )
    subjects = {s["name"]: s for s in statement["subject"]}
    assert subjects["tiny.img"]["digest"]["sha256"] == disk_doc["imageSha256"]


def test_sharded_files_digest_matches_weights_digest(
    run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    """--shard-size/--algorithm as weights digest takes them: the same files digest."""
    model = make_model(tmp_path / "model")
    disk_json = run_cli(
        "weights", "disk", model, "-o", tmp_path / "m.img", "--shard-size", "64Ki", "--json"
    )
    assert disk_json.code == 0, disk_json.stderr
    digest_json = run_cli("weights", "digest", model, "--shard-size", "64Ki", "--json")
    assert digest_json.code == 0, digest_json.stderr
    disk_doc, digest_doc = json.loads(disk_json.stdout), json.loads(digest_json.stdout)
    assert disk_doc["filesDigest"] == digest_doc["filesDigest"]
    assert disk_doc["serialization"] == digest_doc["serialization"]
    assert disk_doc["serialization"]["method"] == "shards"
