"""The oci builder: reproducible layouts, digests checked independently, skopeo and umoci
(peers) read them, malicious inputs and malformed configurations refused."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.builders.api import Builder, load_builders
from refkit.builders.oci import read_config
from refkit.errors import InputError, ParseError
from refkit.inputs.errors import UnsafeArchive
from tests.builders_fs_support import (
    ENVIRONMENTS,
    EPOCH,
    SAMPLE_FILES,
    build,
    digest_output,
    environment,
    make_tree,
    tar_bytes,
)
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug

CONFIG = {"config": {"Entrypoint": ["/init"], "Env": ["PATH=/usr/bin"]}}


def oci() -> Builder:
    return load_builders()["oci"]


def blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def make_image(
    base: Path, *, reverse: bool = False, loose: bool = False, **params: Any
) -> tuple[Path, Any]:
    tree = make_tree(base / "tree", reverse=reverse, loose=loose)
    config = base / "config.json"
    config.write_text(json.dumps(CONFIG))
    return build(
        oci(), base, {"rootfs": tree, "config": config}, {"tag": "demo", **params}, output="image"
    )


def test_reproducible_across_environments(tmp_path: Path) -> None:
    results = []
    for env in ENVIRONMENTS:
        with environment(env):
            out, built = make_image(
                tmp_path / env["dir"], reverse=env["reverse"], loose=env["loose"]
            )
        results.append((digest_output(out), dict(built.facts)))
    assert results[0] == results[1]


def test_digests_agree_with_the_blobs(tmp_path: Path) -> None:
    layout, built = make_image(tmp_path)
    facts = built.facts
    index = json.loads((layout / "index.json").read_bytes())
    assert index["manifests"][0]["digest"] == facts["manifest_digest"]
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "demo"
    manifest = json.loads(blob(layout, facts["manifest_digest"]))
    # every blob's name is the sha256 of its bytes (computed here, independently)
    for path in (layout / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    layer = blob(layout, manifest["layers"][0]["digest"])
    assert layer[4:8] == b"\0\0\0\0"  # gzip header mtime 0 (RFC 1952)
    assert layer[8] == 2  # XFL 2: the slowest, best compression (level 9)
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
    assert facts["diff_ids"] == [diff_id]
    config = json.loads(blob(layout, facts["config_digest"]))
    assert config["rootfs"]["diff_ids"] == [diff_id]
    assert config["config"] == CONFIG["config"]
    assert config["created"] == "2023-11-14T22:13:20Z"  # date -u -d @1700000000


def test_tarball_input_gives_the_same_layer(tmp_path: Path) -> None:
    """A tree and the tar of the same tree (written by another tool: tarfile with other
    owners, times and order) give the same diff_id."""
    import tarfile

    tree = make_tree(tmp_path / "tree", loose=True)
    archive = tmp_path / "rootfs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(tree.rglob("*"), reverse=True):
            tar.add(path, arcname=str(path.relative_to(tree)), recursive=False)
    _a, from_tree = build(oci(), tmp_path / "a", {"rootfs": tree})
    _b, from_tar = build(oci(), tmp_path / "b", {"rootfs": archive})
    assert from_tree.facts["diff_ids"] == from_tar.facts["diff_ids"]


def test_gzip_level_changes_the_layer_not_the_diff_id(tmp_path: Path) -> None:
    _a, fast = make_image(tmp_path / "a", gzip_level=1)
    _b, best = make_image(tmp_path / "b", gzip_level=9)
    assert fast.facts["diff_ids"] == best.facts["diff_ids"]
    assert fast.facts["layers"] != best.facts["layers"]


@pytest.mark.parametrize(
    "entries",
    [
        [("/etc/passwd", "file", "x")],
        [("../x", "file", "x")],
        [("dev/null", "chr", "")],
        [("l", "symlink", "../../etc")],
    ],
    ids=["absolute", "dot-dot", "device", "escaping-link"],
)
def test_malicious_tarball(tmp_path: Path, entries: list[tuple[str, str, str]]) -> None:
    archive = tmp_path / "evil.tar"
    archive.write_bytes(tar_bytes(entries))
    with pytest.raises(UnsafeArchive):
        build(oci(), tmp_path, {"rootfs": archive})


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{", "not a JSON document"),
        ("[]", "not an object"),
        ('{"Entrypoint": ["/x"]}', "unknown key 'Entrypoint'"),
        ('{"config": []}', "config is not an object"),
        ('{"os": 1}', "os is not a string"),
    ],
)
def test_bad_config(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ParseError, match=error):
        read_config(path)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(data=st.binary(max_size=512))
def test_fuzz_config(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.json"
    path.write_bytes(data)
    try:
        read_config(path)
    except InputError as exc:  # a parse error or an unreadable input: nothing else
        assert_not_a_bug(exc)


@pytest.mark.peer
def test_skopeo_inspects_the_layout(tmp_path: Path) -> None:
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed (Debian package skopeo)")
    layout, built = make_image(tmp_path)
    done = subprocess.run(
        ["skopeo", "inspect", f"oci:{layout}:demo"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["Digest"] == built.facts["manifest_digest"]
    assert report["Layers"] == list(built.facts["layers"])
    assert report["Architecture"] == "amd64"
    assert report["Created"] == "2023-11-14T22:13:20Z"


@pytest.mark.peer
def test_umoci_unpacks_the_layout(tmp_path: Path) -> None:
    if shutil.which("umoci") is None:
        pytest.skip("umoci is not installed (Debian package umoci)")
    layout, _built = make_image(tmp_path, loose=True)
    bundle = tmp_path / "bundle"
    done = subprocess.run(
        ["umoci", "unpack", "--rootless", "--image", f"{layout}:demo", str(bundle)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rootfs = bundle / "rootfs"
    for name, data, executable in SAMPLE_FILES:
        path = rootfs / name
        assert path.read_bytes() == data
        assert path.stat().st_mode & 0o777 == (0o755 if executable else 0o644)
        assert int(path.stat().st_mtime) == EPOCH
    assert (rootfs / "bin").readlink() == Path("usr/bin")
    runtime = json.loads((bundle / "config.json").read_text())
    assert runtime["process"]["args"] == ["/init"]
