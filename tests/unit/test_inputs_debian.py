"""Downloading by name and version: apt sources, pool paths, the downloaders (with fakes)
and the urllib fetcher against a local HTTP server on 127.0.0.1 (never the network)."""

from __future__ import annotations

import http.server
import io
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refkit.inputs.debian import (
    AptGetDownloader,
    ChainDownloader,
    DownloadFailed,
    PoolDownloader,
    UrllibFetcher,
    archive_uris,
    debian_archives,
    parse_deb822_sources,
    parse_one_line_sources,
    pool_path,
)
from refkit.inputs.lock import DebianPackage, ExtractSpec

ARCHIVE = "http://archive.example/debian"


def _package(source: str = "edk2", version: str = "2026.08+ds-2", size: int = 5) -> DebianPackage:
    return DebianPackage(
        name="ovmf-amdsev",
        version=version,
        architecture="all",
        suite="sid",
        component="main",
        source=source,
        filename=f"ovmf-amdsev_{version.rpartition(':')[2]}_all.deb",
        size=size,
        sha256="0" * 64,
        extract=(ExtractSpec("a", "a", 1, "0" * 64),),
    )


def _no_progress(_done: int, _total: int | None) -> None:
    return None


# ----------------------------------------------------------------------- apt sources


def test_one_line_sources() -> None:
    text = f"""
# a comment
deb {ARCHIVE} bookworm main contrib
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] {ARCHIVE}-two/ trixie main # trailing
deb-src {ARCHIVE} bookworm main
deb http://security.example/debian-security bookworm-security main
deb https://vendor.example/apt cloud-sdk-bookworm main
deb http://ports.example/ubuntu jammy main
deb cdrom:[Debian]/ bookworm main
garbage line
"""
    sources = parse_one_line_sources(text, origin="sources.list")
    assert sources[1].signed_by == "/usr/share/keyrings/x.gpg"
    assert sources[1].components == ("main",)
    assert archive_uris(sources) == (ARCHIVE, f"{ARCHIVE}-two")


def test_one_line_sources_with_tabs() -> None:
    sources = parse_one_line_sources(f"deb\t{ARCHIVE}\tsid\tmain\n", origin="x")
    assert archive_uris(sources) == (ARCHIVE,)


@given(st.text(max_size=300))
def test_fuzz_source_parsers_never_raise(text: str) -> None:
    for source in parse_one_line_sources(text, origin="x") + parse_deb822_sources(text, origin="x"):
        assert isinstance(source.uris, tuple)
    archive_uris(parse_one_line_sources(text, origin="x"))


def test_deb822_sources() -> None:
    text = f"""Types: deb deb-src
# comment inside
URIs: {ARCHIVE}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://disabled.example/debian
Suites: sid
Enabled: no

Types: deb
URIs: https://mirror.example/any-name
Suites: custom
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://vendor.example/node
Suites: nodistro
Components: main
"""
    sources = parse_deb822_sources(text, origin="debian.sources")
    assert len(sources) == 4
    assert archive_uris(sources) == (ARCHIVE, "https://mirror.example/any-name")


def test_debian_archives_reads_the_apt_directory(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(f"deb {ARCHIVE} trixie main\n")
    (tmp_path / "sources.list.d" / "a.sources").write_text(
        f"Types: deb\nURIs: {ARCHIVE}/\nSuites: sid\nComponents: main\n\n"
        "Types: deb\nURIs: http://second.example/debian\nSuites: forky\nComponents: main\n"
    )
    (tmp_path / "sources.list.d" / "b.list.disabled").write_text("deb http://x.example sid main\n")
    assert debian_archives(tmp_path) == (ARCHIVE, "http://second.example/debian")
    assert debian_archives(tmp_path / "absent") == ()


@pytest.mark.parametrize(
    ("source", "prefix"),
    [("edk2", "e"), ("libzstd", "libz"), ("lib", "l"), ("linux-signed-amd64", "l")],
)
def test_pool_path(source: str, prefix: str) -> None:
    assert pool_path(_package(source=source)) == (
        f"pool/main/{prefix}/{source}/ovmf-amdsev_2026.08+ds-2_all.deb"
    )


def test_pool_path_drops_the_epoch() -> None:
    assert pool_path(_package(version="1:2.0~rc1")).endswith("/ovmf-amdsev_2.0~rc1_all.deb")


# ----------------------------------------------------------------------- pool downloader


class FakeFetcher:
    """Serves bodies from a dict; records the URLs asked for."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies
        self.asked: list[str] = []

    def get(self, url: str, sink: BinaryIO, *, limit: int, progress: Any) -> None:
        self.asked.append(url)
        if url not in self.bodies:
            raise DownloadFailed(f"{url}: HTTP 404 Not Found")
        body = self.bodies[url]
        if len(body) > limit:
            raise DownloadFailed(f"{url}: more than the pinned {limit} bytes")
        sink.write(body)
        progress(len(body), len(body))


def test_pool_downloader_tries_each_archive(tmp_path: Path) -> None:
    package = _package()
    second = "http://second.example/debian"
    fetcher = FakeFetcher({f"{second}/{pool_path(package)}": b"hello"})
    downloader = PoolDownloader([ARCHIVE + "/", second], fetcher)
    where = downloader.download(package, tmp_path / "p.deb", _no_progress)
    assert where == f"{second}/{pool_path(package)}"
    assert (tmp_path / "p.deb").read_bytes() == b"hello"
    assert fetcher.asked == [f"{ARCHIVE}/{pool_path(package)}", where]


def test_pool_downloader_reports_every_failure(tmp_path: Path) -> None:
    downloader = PoolDownloader([ARCHIVE, "http://b.example"], FakeFetcher({}))
    with pytest.raises(DownloadFailed) as info:
        downloader.download(_package(), tmp_path / "p.deb", _no_progress)
    assert info.value.message.count("404") == 2
    assert not (tmp_path / "p.deb").exists()


def test_pool_downloader_without_archives(tmp_path: Path) -> None:
    with pytest.raises(DownloadFailed, match="no Debian archive is configured"):
        PoolDownloader([]).download(_package(), tmp_path / "p.deb", _no_progress)


# ----------------------------------------------------------------------- apt-get


def test_apt_get_download_runs_in_a_private_directory(tmp_path: Path) -> None:
    calls: list[tuple[list[str], str]] = []

    def fake_run(argv: list[str], *, cwd: str, **_kw: Any) -> subprocess.CompletedProcess[str]:
        calls.append((argv, cwd))
        Path(cwd, "ovmf-amdsev_2026.08+ds-2_all.deb").write_bytes(b"deb!")
        return subprocess.CompletedProcess(argv, 0, "", "")

    downloader = AptGetDownloader(apt_get="sh", run=fake_run)  # any executable on PATH
    where = downloader.download(_package(), tmp_path / "p.deb", _no_progress)
    assert where == "apt-get download ovmf-amdsev=2026.08+ds-2"
    assert calls[0][0][1:] == ["download", "-q", "ovmf-amdsev=2026.08+ds-2"]
    assert Path(calls[0][1]).parent == tmp_path
    assert (tmp_path / "p.deb").read_bytes() == b"deb!"
    assert list(tmp_path.iterdir()) == [tmp_path / "p.deb"]


def test_apt_get_names_the_architecture_when_not_all(tmp_path: Path) -> None:
    argvs: list[list[str]] = []

    def fake_run(argv: list[str], *, cwd: str, **_kw: Any) -> subprocess.CompletedProcess[str]:
        argvs.append(argv)
        return subprocess.CompletedProcess(argv, 100, "", "E: Version '1' for 'k' was not found\n")

    from dataclasses import replace

    package = replace(
        _package(), architecture="amd64", filename="ovmf-amdsev_2026.08+ds-2_amd64.deb"
    )
    with pytest.raises(DownloadFailed, match="was not found"):
        AptGetDownloader(apt_get="sh", run=fake_run).download(package, tmp_path / "p", _no_progress)
    assert argvs[0][-1] == "ovmf-amdsev:amd64=2026.08+ds-2"


def test_apt_get_missing_or_timing_out(tmp_path: Path) -> None:
    with pytest.raises(DownloadFailed, match="not found"):
        AptGetDownloader(apt_get="no-such-apt-get-xyz").download(
            _package(), tmp_path / "p", _no_progress
        )

    def slow(argv: list[str], **_kw: Any) -> subprocess.CompletedProcess[str]:
        raise subprocess.TimeoutExpired(argv, 1)

    with pytest.raises(DownloadFailed, match="no answer within"):
        AptGetDownloader(apt_get="sh", run=slow, timeout=1).download(
            _package(), tmp_path / "p", _no_progress
        )


def test_chain_collects_reasons_and_stops_at_first_success(tmp_path: Path) -> None:
    class Failing:
        def download(self, package: DebianPackage, dest: Path, progress: Any) -> str:
            dest.write_bytes(b"partial")
            raise DownloadFailed("first way failed")

    class Working:
        def download(self, package: DebianPackage, dest: Path, progress: Any) -> str:
            assert not dest.exists()  # the failed way's partial file was removed
            dest.write_bytes(b"ok")
            return "second way"

    assert (
        ChainDownloader([Failing(), Working()]).download(_package(), tmp_path / "p", _no_progress)
        == "second way"
    )
    with pytest.raises(DownloadFailed, match="first way failed; first way failed"):
        ChainDownloader([Failing(), Failing()]).download(_package(), tmp_path / "p", _no_progress)


# ------------------------------------------------------------- urllib against 127.0.0.1


class _Handler(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.bodies.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        if not self.path.endswith("/unannounced"):  # else: HTTP/1.0, body ends at close
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        return None


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_urllib_fetcher_success_and_progress(server: str) -> None:
    _Handler.bodies = {"/pool/x.deb": b"x" * 1000}
    sink = io.BytesIO()
    seen: list[tuple[int, int | None]] = []
    UrllibFetcher(timeout=5).get(
        f"{server}/pool/x.deb", sink, limit=1000, progress=lambda d, t: seen.append((d, t))
    )
    assert sink.getvalue() == b"x" * 1000
    assert seen[0] == (0, 1000)
    assert seen[-1] == (1000, 1000)


def test_urllib_fetcher_refuses_more_than_the_pinned_size(server: str) -> None:
    _Handler.bodies = {"/big": b"y" * 100}
    with pytest.raises(DownloadFailed, match="100 bytes announced, more than the pinned 10"):
        UrllibFetcher(timeout=5).get(f"{server}/big", io.BytesIO(), limit=10, progress=_no_progress)


def test_urllib_fetcher_cuts_an_unannounced_longer_body(server: str) -> None:
    _Handler.bodies = {"/unannounced": b"z" * 100}
    with pytest.raises(DownloadFailed, match="more than the pinned 10 bytes"):
        UrllibFetcher(timeout=5).get(
            f"{server}/unannounced", io.BytesIO(), limit=10, progress=_no_progress
        )


def test_urllib_fetcher_http_error_and_bad_scheme(server: str) -> None:
    _Handler.bodies = {}
    with pytest.raises(DownloadFailed, match="HTTP 404"):
        UrllibFetcher(timeout=5).get(
            f"{server}/nope", io.BytesIO(), limit=10, progress=_no_progress
        )
    with pytest.raises(DownloadFailed, match="only http, https and file"):
        UrllibFetcher().get("ftp://x.example/y", io.BytesIO(), limit=10, progress=_no_progress)


def test_urllib_fetcher_connection_refused() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DownloadFailed, match=f"127.0.0.1:{port}/x"):
        UrllibFetcher(timeout=2).get(
            f"http://127.0.0.1:{port}/x", io.BytesIO(), limit=10, progress=_no_progress
        )


def test_pool_downloader_over_http(server: str, tmp_path: Path) -> None:
    package = _package()
    _Handler.bodies = {f"/debian/{pool_path(package)}": b"12345"}
    where = PoolDownloader([f"{server}/debian"], UrllibFetcher(timeout=5)).download(
        package, tmp_path / "p.deb", _no_progress
    )
    assert where.startswith(server)
    assert (tmp_path / "p.deb").read_bytes() == b"12345"
