"""Review of the pinned-input store: crafted packages and locks that must be refused, bounded.

Each test names the attack it guards against. Packages are built in memory (no network).
"""

from __future__ import annotations

import contextlib
import http.server
import io
import tarfile
import threading
import time
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from refkit.errors import EnvironmentProblem, ExitCode, InputError, ParseError
from refkit.inputs import (
    DigestMismatch,
    Lock,
    OutputConflict,
    UnsafeArchive,
    debian,
    fetch,
    parse_lock,
)
from refkit.inputs import deb as deb_module
from refkit.inputs.deb import extract_files
from refkit.inputs.debian import DownloadFailed
from refkit.inputs.lock import dumps_lock
from tests.inputs_support import (
    CONTROL,
    Entry,
    FakeDownloader,
    ar_archive,
    compress,
    sha256,
    tar_bytes,
)
from tests.inputs_support import mirror_dir as _mirror
from tests.inputs_support import package as _package


def _raw_header(name: str, size: int, kind: bytes) -> bytearray:
    fields = {
        "name": name,
        "mode": 0o644,
        "uid": 0,
        "gid": 0,
        "size": size,
        "mtime": 0,
        "type": kind,
        "linkname": "",
        "uname": "",
        "gname": "",
        "devmajor": 0,
        "devminor": 0,
        "magic": tarfile.GNU_MAGIC,
        "prefix": "",
    }
    create = tarfile.TarInfo()._create_header  # type: ignore[attr-defined]
    return bytearray(create(fields, tarfile.GNU_FORMAT, "utf-8", "strict"))


def _checksummed(header: bytearray) -> bytes:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def _deb_with_data(data: bytes, compression: str = ".gz") -> bytes:
    control = compress(tar_bytes([Entry("./", kind="dir"), Entry("./control", CONTROL)]), ".gz")
    return ar_archive(
        [
            ("debian-binary", b"2.0\n"),
            ("control.tar.gz", control),
            (f"data.tar{compression}", data),
        ]
    )


def _gzip_with_zeros(before: bytes, zeros: int, after: bytes) -> bytes:
    """gzip of ``before``, ``zeros`` 'a' bytes and ``after``, built without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = bytearray(packer.compress(before))
    block = b"a" * (1 << 16)
    left = zeros
    while left:
        out += packer.compress(block[: min(left, len(block))])
        left -= min(left, len(block))
    out += packer.compress(after) + packer.flush()
    return bytes(out)


class _Counting(io.BytesIO):
    """A sink that counts what it is given and keeps nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self.count += len(memoryview(data))
        return len(memoryview(data))


@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE])
def test_a_huge_long_name_or_pax_header_is_refused_before_it_is_read(kind: bytes) -> None:
    # tarfile reads a GNU long name or a pax header whole into memory: a 400 MB one in a
    # 400 KB package took 1.2 GB of memory. Its size must be bounded before it is read.
    size = 2 * deb_module.MAX_TAR_HEADER_DATA
    header = _raw_header("././@LongLink", size, kind)
    tail = b"\0" * ((-size) % 512) + tar_bytes([Entry("./x", b"x")])
    evil = _deb_with_data(_gzip_with_zeros(bytes(header), size, tail))
    with pytest.raises(UnsafeArchive, match="header") as info:
        extract_files(io.BytesIO(evil), {"x": io.BytesIO()}, source="evil.deb")
    assert info.value.exit_code is ExitCode.BAD_INPUT
    assert "evil.deb" in info.value.message


def _gnu_sparse(name: str, realsize: int) -> bytes:
    header = _raw_header(name, 0, tarfile.GNUTYPE_SPARSE)
    header[386:410] = b"0".rjust(11, b"0") + b"\0" + b"0".rjust(11, b"0") + b"\0"
    header[483:495] = tarfile.itn(realsize, 12, tarfile.GNU_FORMAT)  # type: ignore[attr-defined]
    return _checksummed(header) + b"\0" * 1024


def test_a_sparse_member_is_refused() -> None:
    # A 446-byte package whose sparse member claims 2 GB made refkit write 2 GB of zeros
    # (any size up to 2**88 fits the header). dpkg never builds sparse members.
    evil = _deb_with_data(compress(_gnu_sparse("./big", 2_000_000_000), ".gz"))
    sink = _Counting()
    with pytest.raises(UnsafeArchive, match="sparse"):
        extract_files(io.BytesIO(evil), {"big": sink}, source="evil.deb")
    assert sink.count == 0


def test_a_pax_sparse_member_is_refused() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("./big")
        info.pax_headers = {"GNU.sparse.map": "0,0", "GNU.sparse.size": "2000000000"}
        tar.addfile(info, io.BytesIO(b""))
    evil = _deb_with_data(compress(buffer.getvalue(), ".gz"))
    sink = _Counting()
    with pytest.raises(UnsafeArchive, match="sparse"):
        extract_files(io.BytesIO(evil), {"big": sink}, source="evil.deb")
    assert sink.count == 0


def test_too_many_entries_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # tarfile keeps every entry it read in memory: a package of millions of empty entries
    # (a few MB compressed) would take gigabytes.
    monkeypatch.setattr(deb_module, "MAX_TAR_ENTRIES", 5)
    entries = [Entry(f"./f{i}", b"") for i in range(6)]
    evil = _deb_with_data(compress(tar_bytes(entries), ".gz"))
    with pytest.raises(UnsafeArchive, match="more than 5 entries"):
        extract_files(io.BytesIO(evil), {"f0": io.BytesIO()}, source="evil.deb")


def test_extraction_is_bounded_by_the_pinned_size(tmp_path: Path) -> None:
    # The package matches its pin, but the lock's extract entry pins a smaller size than the
    # member holds: nothing beyond the pinned size may be written (a pinned package could
    # hold a member of any size; the extracted size is the lock's promise).
    big = b"A" * (3 * 1024 * 1024)
    deb = _deb_with_data(compress(tar_bytes([Entry("./big", big)]), ".gz"))
    sink = _Counting()
    with pytest.raises(InputError, match="more than"):
        extract_files(io.BytesIO(deb), {"big": sink}, source="ok.deb", limits={"big": 10})
    assert sink.count == 0
    package = _package(deb)
    spec = replace(package.extract[0], path="big", output="big", size=10, sha256=sha256(b"x"))
    pinned = replace(package, extract=(spec,))
    with pytest.raises(DigestMismatch, match="the lock pins 10 bytes") as info:
        fetch(Lock((pinned,)), [_mirror(tmp_path, deb)], tmp_path / "out", downloader=None)
    assert info.value.exit_code is ExitCode.VERIFICATION_FAILED
    assert list((tmp_path / "out").iterdir()) == []


def test_a_link_to_a_member_is_bounded_by_the_smallest_limit() -> None:
    deb = _deb_with_data(
        compress(
            tar_bytes([Entry("./big", b"B" * 100), Entry("./l", kind="symlink", link="big")]),
            ".gz",
        )
    )
    sinks: dict[str, BinaryIO] = {"big": io.BytesIO(), "l": io.BytesIO()}
    with pytest.raises(InputError, match="more than"):
        extract_files(io.BytesIO(deb), sinks, source="ok.deb", limits={"big": 100, "l": 10})
    got = extract_files(
        io.BytesIO(deb),
        {"l": io.BytesIO()},
        source="ok.deb",
        limits={"l": 100},
    )
    assert got["l"].size == 100


def test_outputs_that_differ_only_in_case_are_refused() -> None:
    # On a case-insensitive file system (macOS, Windows, some mounts) both would be one file:
    # the second write would fail half-way or, with --force, replace the first.
    package = _package()
    first, second = package.extract
    clash = replace(package, extract=(first, replace(second, output=first.output.upper())))
    text = dumps_lock(Lock((clash,)))
    with pytest.raises(ParseError, match="differ only in case"):
        parse_lock(text.encode(), source="clash.lock.json")


@pytest.mark.parametrize("compression", [".gz", ".xz", ".bz2"])
def test_a_decompression_bomb_is_cut_off(compression: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # 1 GiB of zeros is 785 bytes of bz2: a small package could make fetch or pin decompress
    # for days (members not asked for are still read through, to check every name).
    monkeypatch.setattr(deb_module, "MIN_EXPANSION_BUDGET", 1024 * 1024)
    monkeypatch.setattr(deb_module, "MAX_EXPANSION", 10)
    entries = [Entry("./pad", b"\0" * (4 * 1024 * 1024)), Entry("./x", b"x")]
    evil = _deb_with_data(compress(tar_bytes(entries), compression), compression)
    with pytest.raises(UnsafeArchive, match="expands to more than") as info:
        extract_files(io.BytesIO(evil), {"x": io.BytesIO()}, source="evil.deb")
    assert "evil.deb" in info.value.message
    monkeypatch.setattr(deb_module, "MIN_EXPANSION_BUDGET", 8 * 1024 * 1024)
    got = extract_files(io.BytesIO(evil), {"x": io.BytesIO()}, source="evil.deb")
    assert got["x"].size == 1


def test_an_unwritable_out_for_a_download_is_an_environment_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `refkit inputs fetch --out DIR` with DIR read-only (chattr +i) crashed with exit 4
    # (PermissionError creating the private download directory) instead of exit 3.
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("refkit.inputs.fetching.tempfile.TemporaryDirectory", refuse)
    with pytest.raises(EnvironmentProblem, match="cannot write into") as info:
        fetch(Lock((_package(),)), [], tmp_path, downloader=FakeDownloader({}))
    assert info.value.exit_code is ExitCode.ENVIRONMENT


def test_pin_from_a_pipe_is_bad_input_not_a_crash(tmp_path: Path) -> None:
    # `cat x.deb | refkit inputs pin /dev/stdin --suite sid` was exit 4 (UnsupportedOperation:
    # the package is read twice, so it must be a file).
    import os
    import threading

    from refkit.inputs.pin import pin_deb
    from tests.inputs_support import DEB

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def feed() -> None:
        try:
            with fifo.open("wb") as writer:
                writer.write(DEB)
        except OSError:
            pass  # the reader may close first

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    with pytest.raises(InputError, match="not a regular file") as info:
        pin_deb(fifo, suite="sid")
    assert info.value.exit_code is ExitCode.BAD_INPUT
    writer.join(timeout=5)


def test_a_dangling_symlink_named_like_an_output_is_never_followed(tmp_path: Path) -> None:
    # Held up: lstat sees the link itself; without --force it is a conflict, with --force
    # the link (not its target) is replaced and nothing is created where it pointed.
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "outside" / "created-through-the-link"
    (out / "fw.fd").symlink_to(target)
    lock = Lock((_package(),))
    with pytest.raises(OutputConflict):
        fetch(lock, [_mirror(tmp_path)], out, downloader=None)
    fetch(lock, [_mirror(tmp_path)], out, downloader=None, force=True)
    assert not (out / "fw.fd").is_symlink()
    assert not target.parent.exists()


def test_a_symlink_to_a_host_path_resolves_inside_the_package() -> None:
    # Held up: an absolute target is taken relative to the package root, as in a chroot,
    # so a link to /etc/hostname never reads the host's file.
    deb = _deb_with_data(
        compress(tar_bytes([Entry("./x", kind="symlink", link="/etc/hostname")]), ".gz")
    )
    with pytest.raises(UnsafeArchive, match="not in it"):
        extract_files(io.BytesIO(deb), {"x": io.BytesIO()}, source="evil.deb")


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Announces 40 bytes and sends one every 0.1 s: always inside the socket timeout."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "40")
        self.end_headers()
        for _ in range(40):
            try:
                self.wfile.write(b"x")
                self.wfile.flush()
            except OSError:
                return  # the client gave up
            time.sleep(0.1)

    def log_message(self, *_args: Any) -> None:
        return None


def test_a_trickling_download_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # The only time bound was the socket timeout per read: a server (or anyone on an http
    # path) sending a byte every 29 s held `refkit inputs fetch` forever.
    monkeypatch.setattr(debian, "MIN_DOWNLOAD_RATE", 100)  # 40 bytes: 0.4 s + the timeout
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/x.deb"
        start = time.monotonic()
        with pytest.raises(DownloadFailed, match="bytes/s"):
            debian.UrllibFetcher(timeout=0.5).get(
                url, io.BytesIO(), limit=40, progress=lambda _d, _t: None
            )
        assert time.monotonic() - start < 10  # generous for a loaded CI; the raise is the check
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_a_file_archive_downloads(tmp_path: Path) -> None:
    # docs/inputs.md: "Downloads use http, https or file URLs"; `--archive file:///mirror`
    # always failed with "HTTP None" (urllib's file responses have no HTTP status).
    deb = _deb_with_data(compress(tar_bytes([Entry("./x", b"x")]), ".gz"))
    package = replace(_package(deb), name="fw", source="fw")
    pool = tmp_path / "mirror" / "pool" / "main" / "f" / "fw"
    pool.mkdir(parents=True)
    (pool / package.filename).write_bytes(deb)
    downloader = debian.PoolDownloader([(tmp_path / "mirror").as_uri()])
    dest = tmp_path / "got.deb"
    where = downloader.download(package, dest, lambda _d, _t: None)
    assert where.startswith("file://")
    assert dest.read_bytes() == deb


def test_apt_get_on_a_full_disk_is_an_environment_problem(tmp_path: Path) -> None:
    # The private directory and the move of apt-get's file were outside any OSError
    # handler: a full disk during `refkit inputs fetch` was exit 4 (internal error).
    import subprocess

    def fake_run(argv: list[str], *, cwd: str, **_kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 0, "", "")

    downloader = debian.AptGetDownloader(apt_get="sh", run=fake_run)
    missing_parent = tmp_path / "gone" / "p.deb"  # mkdtemp there fails like ENOSPC would
    with pytest.raises(EnvironmentProblem) as info:
        downloader.download(_package(), missing_parent, lambda _d, _t: None)
    assert info.value.exit_code is ExitCode.ENVIRONMENT


def test_an_output_swapped_for_a_fifo_after_lstat_does_not_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # lstat said "regular file of the pinned size", then the name was opened by path: a
    # FIFO put there in between (by anyone who can write to --out) blocked fetch and
    # verify forever in open().
    import os

    from refkit.inputs import check

    package = _package()
    out = tmp_path / "out"
    out.mkdir()
    fifo = out / package.extract[0].output
    os.mkfifo(fifo)
    decoy = tmp_path / "decoy"
    decoy.write_bytes(b"\0" * package.extract[0].size)
    real_lstat = Path.lstat
    monkeypatch.setattr(Path, "lstat", lambda self: real_lstat(decoy if self == fifo else self))
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(check(Lock((package,)), out)))
    worker.daemon = True
    worker.start()
    worker.join(timeout=5)
    finished_in_time = bool(done)
    if not finished_in_time:  # unblock the stuck open() so the thread ends
        with fifo.open("wb"):
            pass
        worker.join(timeout=5)
    assert finished_in_time, "check() blocked opening a FIFO"


def test_a_search_file_swapped_for_a_fifo_does_not_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same race in an --inputs directory: the walk saw a regular file of the pinned
    # size, the lookup then opened a FIFO by name and blocked forever.
    import os

    from refkit.inputs.store import LocalStore, open_verified

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    fifo = mirror / "pkg.deb"
    os.mkfifo(fifo)
    decoy = tmp_path / "decoy"
    decoy.write_bytes(b"\0" * 100)
    real_stat = Path.stat
    monkeypatch.setattr(
        Path, "stat", lambda self, **kw: real_stat(decoy if self == fifo else self, **kw)
    )
    results: list[object] = []

    def lookups() -> None:
        results.append(LocalStore([mirror]).find("0" * 64, 100))
        with contextlib.suppress(DigestMismatch, OSError):
            open_verified(fifo, sha256="0" * 64, size=100, what="package file")
        results.append("opened")

    worker = threading.Thread(target=lookups, daemon=True)
    worker.start()
    worker.join(timeout=5)
    finished_in_time = len(results) == 2
    for _ in range(2):  # unblock stuck opens so the thread ends
        if worker.is_alive():
            with fifo.open("wb"):
                pass
            worker.join(timeout=2)
    assert finished_in_time, "a lookup blocked opening a FIFO"
