"""refkit weights digest: equal to model_signing's hashing, deterministic, and the refusals.

Expected manifests come from the peer (model_signing 1.1.1 hashing the same tree, see
tests/weights_support.py) or from hashlib over the same bytes in the test.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import InputError
from refkit.hashing import digest_region
from refkit.weights.cache import DigestCache
from refkit.weights.digest import FileChanged, digest_model
from refkit.weights.oms import parse_statement, statement_bytes
from refkit.weights.tree import TreeError
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug
from tests.weights_support import make_tree, peer_statement

# Names whose order differs between path-component order (model_signing) and code-point
# order (the OMS spec text): "a-b" < "a/b" by code point, "a/b" < "a-b" by components.
ORDER_TREE = {
    "a/b": b"first",
    "a-b": b"second",
    "a/c/d.bin": b"x" * 3000,
    "a.b": b"dot",
    "empty": b"",
    "z/.hidden": b"hidden files are hashed",
    "spaces and:colons.bin": b"colon in the name",
}


def _tree(tmp_path: Path) -> Path:
    root = make_tree(tmp_path / "model", ORDER_TREE)
    (root / "empty-dir").mkdir()
    (root / "x" / "nested-empty").mkdir(parents=True)
    return root


@pytest.mark.peer
@pytest.mark.parametrize("algorithm", ["sha256", "blake2", "blake3"])
@pytest.mark.parametrize("shard_size", [None, 7, 1000])
def test_equal_to_model_signing(tmp_path: Path, algorithm: str, shard_size: int | None) -> None:
    root = _tree(tmp_path)
    ours = digest_model(root, algorithm=algorithm, shard_size=shard_size).statement()
    theirs = peer_statement(root, algorithm=algorithm, shard_size=shard_size)
    assert ours == theirs


@pytest.mark.peer
def test_more_than_ten_shards_in_integer_order(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {"w.bin": os.urandom(2500), "a/b": b"1", "a-b": b"2"})
    ours = digest_model(root, shard_size=100)
    names = [r.name for r in ours.resources]
    # integer offsets: :200:300 comes before :1000:1100 (it would not by code point)
    assert names.index("w.bin:200:300") < names.index("w.bin:1000:1100")
    assert names.index("a/b:0:1") < names.index("a-b:0:1")
    assert len([n for n in names if n.startswith("w.bin:")]) == 25
    assert ours.statement() == peer_statement(root, shard_size=100)


def test_shard_digests_are_hashlib_of_the_ranges(tmp_path: Path) -> None:
    data = os.urandom(1234)
    root = make_tree(tmp_path / "m", {"f": data})
    got = digest_model(root, shard_size=500)
    expected = [
        (f"f:{s}:{e}", hashlib.sha256(data[s:e]).hexdigest())
        for s, e in ((0, 500), (500, 1000), (1000, 1234))
    ]
    assert [(r.name, r.digest) for r in got.resources] == expected
    assert got.resources[0].algorithm == "sha256-sharded-500"
    subject = hashlib.sha256(b"".join(bytes.fromhex(d) for _n, d in expected)).hexdigest()
    assert got.files_digest == subject


def test_sha384_and_empty_files(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {"e": b"", "f": b"abc"})
    files = digest_model(root, algorithm="sha384")
    assert {r.name: r.digest for r in files.resources} == {
        "e": hashlib.sha384(b"").hexdigest(),
        "f": hashlib.sha384(b"abc").hexdigest(),
    }
    # shards: an empty file has no shard at all (model_signing's behaviour)
    shards = digest_model(root, algorithm="sha384", shard_size=10)
    assert [r.name for r in shards.resources] == ["f:0:3"]


def test_empty_directory_gives_an_empty_manifest(tmp_path: Path) -> None:
    root = tmp_path / "m"
    (root / "only-dirs").mkdir(parents=True)
    got = digest_model(root)
    assert got.resources == ()
    assert got.files_digest == hashlib.sha256(b"").hexdigest()


def test_deterministic_whatever_the_workers(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {f"d{i % 3}/f{i}": os.urandom(300 + i) for i in range(40)})
    one = digest_model(root, shard_size=128, workers=1)
    many = digest_model(root, shard_size=128, workers=8)
    assert statement_bytes(one) == statement_bytes(many)


def test_statement_round_trips_through_the_parser(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    for shard in (None, 5):
        m = digest_model(root, shard_size=shard)
        assert parse_statement(statement_bytes(m), source="s") == m


def test_ignore_rules(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path / "m",
        {
            "keep.bin": b"k",
            ".git/HEAD": b"ref",
            ".gitattributes": b"*",
            "docs/readme.md": b"r",
            "logs/a.log": b"l",
            "sub/.git": b"not top-level: kept",
        },
    )
    got = digest_model(root, ignore=["docs", "*.log"])
    assert [r.name for r in got.resources] == ["keep.bin", "sub/.git"]
    assert set(got.ignore_paths) >= {".git", ".gitattributes", "docs", "*.log"}
    kept = digest_model(root, ignore_git=False)
    assert ".git/HEAD" in [r.name for r in kept.resources]


@pytest.mark.peer
def test_ignore_paths_equal_to_model_signing(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {"keep": b"k", "skip/a": b"a", "skip2": b"s", ".git/x": b"g"})
    ours = digest_model(root, ignore=["skip", "skip2"]).statement()
    assert ours == peer_statement(root, ignore=("skip", "skip2"))


def test_symlinks_refused_unless_allowed(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {"target.bin": b"t"})
    (root / "link.bin").symlink_to("target.bin")
    with pytest.raises(TreeError, match="symbolic link"):
        digest_model(root)
    got = digest_model(root, allow_symlinks=True)
    assert {r.name: r.digest for r in got.resources} == {
        "link.bin": hashlib.sha256(b"t").hexdigest(),
        "target.bin": hashlib.sha256(b"t").hexdigest(),
    }


@pytest.mark.peer
def test_allowed_symlink_equal_to_model_signing(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {"target.bin": b"t" * 99})
    (root / "link.bin").symlink_to("target.bin")
    ours = digest_model(root, allow_symlinks=True).statement()
    assert ours == peer_statement(root, allow_symlinks=True)


def test_symlink_escape_loop_and_directory_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.write_bytes(b"s")
    targets: dict[str, str | Path] = {
        "escape": outside,
        "loop": "loop",
        "dangling": "nowhere",
        "dirlink": ".",
    }
    for name, target in targets.items():
        root = make_tree(tmp_path / f"m-{name}", {"f": b"f"})
        (root / name).symlink_to(target)
        with pytest.raises(TreeError) as info:
            digest_model(root, allow_symlinks=True)
        assert name in info.value.message


def test_special_files_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {"f": b"f"})
    os.mkfifo(root / "pipe")
    with pytest.raises(TreeError, match="special file"):
        digest_model(root)


def test_non_utf8_names_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {"f": b"f"})
    bad = os.path.join(os.fsencode(root), b"caf\xe9.bin")
    try:
        with open(bad, "wb") as fh:
            fh.write(b"x")
    except OSError:
        pytest.skip("this file system refuses non-UTF-8 names")
    with pytest.raises(TreeError, match="not valid UTF-8") as info:
        digest_model(root)
    assert "caf\\xe9" in info.value.message


def test_missing_directory_and_a_file_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        digest_model(tmp_path / "absent")
    (tmp_path / "single").write_bytes(b"x")
    with pytest.raises(TreeError, match="not a directory"):
        digest_model(tmp_path / "single")


def test_unknown_algorithm_and_bad_shard_size(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {"f": b"f"})
    with pytest.raises(InputError, match="unknown hash algorithm"):
        digest_model(root, algorithm="md5")
    with pytest.raises(InputError, match="at least 1"):
        digest_model(root, shard_size=0)


def test_file_growing_while_hashed_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_tree(tmp_path / "m", {"w.bin": b"a" * 100_000})
    real = digest_region
    done = threading.Event()

    def writer_then_hash(fd: int, start: int, end: int, algorithm: str, **kw: object) -> bytes:
        if not done.is_set():
            done.set()
            with open(root / "w.bin", "ab") as fh:  # another process appends meanwhile
                fh.write(b"more")
        return real(fd, start, end, algorithm, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr("refkit.weights.digest.digest_region", writer_then_hash)
    with pytest.raises(FileChanged, match="changed while it was being hashed"):
        digest_model(root, shard_size=10_000)


def test_file_shrinking_while_hashed_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_tree(tmp_path / "m", {"w.bin": b"a" * 50_000})
    real = digest_region

    def truncate_then_hash(fd: int, start: int, end: int, algorithm: str, **kw: object) -> bytes:
        os.truncate(root / "w.bin", 10)
        return real(fd, start, end, algorithm, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr("refkit.weights.digest.digest_region", truncate_then_hash)
    with pytest.raises(FileChanged):
        digest_model(root)


def test_progress_counts_every_byte(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {"a": os.urandom(10_000), "b": os.urandom(5), "c": b""})
    seen: list[int] = []
    digest_model(root, shard_size=999, progress=seen.append)
    assert sum(seen) == 10_005


def test_cache_skips_unchanged_files_and_says_so(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {"a": b"a" * 100, "b": b"b" * 100})
    old = 1_600_000_000
    for name in ("a", "b"):
        os.utime(root / name, (old, old))
    cache_file = tmp_path / "cache.json"
    first = digest_model(root, shard_size=30, cache=(c := DigestCache(cache_file)))
    c.save()
    assert first.cached == ()
    (root / "b").write_bytes(b"B" * 100)  # changed: new mtime and content
    second = digest_model(root, shard_size=30, cache=DigestCache(cache_file))
    assert second.cached == ("a",)
    fresh = digest_model(root, shard_size=30)
    assert second.resources == fresh.resources  # the cache changes nothing in the output
    # other parameters: nothing served from the cache
    assert digest_model(root, cache=DigestCache(cache_file)).cached == ()


def test_cache_does_not_store_racy_entries(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {"a": b"a"})  # mtime: now
    cache_file = tmp_path / "cache.json"
    c = DigestCache(cache_file)
    digest_model(root, cache=c)
    c.save()
    assert digest_model(root, cache=DigestCache(cache_file)).cached == ()


def test_malformed_cache_is_a_parse_error(tmp_path: Path) -> None:
    from refkit.errors import ParseError

    bad = tmp_path / "cache.json"
    bad.write_text(
        '{"version": 1, "files": {"a": {"key": [1], "algorithm": "x", "resources": []}}}'
    )
    with pytest.raises(ParseError, match="malformed cache entry"):
        DigestCache(bad)


def test_digest_region_equals_hashlib_and_reports_short_reads(tmp_path: Path) -> None:
    from refkit.hashing import RegionChanged

    data = os.urandom(10_000)
    path = tmp_path / "f"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        for algorithm in ("sha256", "sha384", "blake2b"):
            got = digest_region(fd, 123, 9_000, algorithm, buffer_size=1000)
            assert got == hashlib.new(algorithm, data[123:9_000]).digest()
        import blake3

        assert digest_region(fd, 0, 10_000, "blake3", threads=-1) == blake3.blake3(data).digest()
        with pytest.raises(RegionChanged):
            digest_region(fd, 9_000, 11_000, "sha256")
    finally:
        os.close(fd)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_cache_file(data: bytes) -> None:
    import tempfile

    from refkit.errors import ParseError

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cache.json"
        path.write_bytes(data)
        try:
            DigestCache(path)
        except ParseError:
            pass
        except Exception as exc:
            assert_not_a_bug(exc)
            raise


def test_total_is_announced_before_hashing(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "m", {"a": b"a" * 700, "b/c": b"c" * 300, "e": b""})
    events: list[tuple[str, int]] = []
    digest_model(
        root,
        shard_size=128,
        on_total=lambda n: events.append(("total", n)),
        progress=lambda n: events.append(("done", n)),
    )
    assert events[0] == ("total", 1000)
    assert sum(n for kind, n in events if kind == "done") == 1000
