"""deb(5) extraction: built packages for every rule, dpkg-deb as a peer on real packages,
and fuzzing (a result or a typed input error, never another exception)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refkit.errors import EnvironmentProblem, InputError, ParseError
from refkit.inputs.deb import extract_files, parse_control, read_control, read_layout
from refkit.inputs.errors import UnsafeArchive
from refkit.inputs.lock import load_lock
from tests.inputs_support import (
    Entry,
    ar_archive,
    make_deb,
    sha256,
    simple_entries,
)
from tests.shared import PROJECT_ROOT, shared_input


def _extract(deb: bytes, *paths: str) -> dict[str, bytes]:
    sinks = {path: io.BytesIO() for path in paths}
    result = extract_files(io.BytesIO(deb), sinks, source="t.deb")
    for path, sink in sinks.items():
        assert result[path].sha256 == sha256(sink.getvalue())
        assert result[path].size == len(sink.getvalue())
    return {path: sink.getvalue() for path, sink in sinks.items()}


@pytest.mark.parametrize("compression", ["", ".gz", ".xz", ".bz2", ".lzma"])
def test_every_compression(compression: str) -> None:
    deb = make_deb(simple_entries(b"payload"), compression=compression)
    assert _extract(deb, "usr/share/fw/image.fd") == {"usr/share/fw/image.fd": b"payload"}


def test_only_named_members_and_several_at_once() -> None:
    deb = make_deb(simple_entries(b"fw"))
    got = _extract(deb, "boot/vmlinuz-1", "usr/share/fw/image.fd")
    assert got == {"boot/vmlinuz-1": b"kernel " * 100, "usr/share/fw/image.fd": b"fw"}


def test_symlink_is_followed_inside_the_package() -> None:
    deb = make_deb(simple_entries())
    sink = io.BytesIO()
    result = extract_files(io.BytesIO(deb), {"boot/vmlinuz": sink}, source="t.deb")
    assert sink.getvalue() == b"kernel " * 100
    assert result["boot/vmlinuz"].member == "boot/vmlinuz-1"


@pytest.mark.parametrize(
    ("link", "expected_member"),
    [
        ("../real/file", "real/file"),
        ("/real/file", "real/file"),  # absolute: relative to the package root
        ("./../real/./file", "real/file"),
    ],
)
def test_symlink_targets(link: str, expected_member: str) -> None:
    entries = [Entry("./real/file", b"data"), Entry("./bin/x", kind="symlink", link=link)]
    result = extract_files(io.BytesIO(make_deb(entries)), {"bin/x": io.BytesIO()}, source="t.deb")
    assert result["bin/x"].member == expected_member


def test_symlink_chain_and_hard_link() -> None:
    entries = [
        Entry("./a/file", b"data"),
        Entry("./a/hard", kind="hardlink", link="./a/file"),
        Entry("./b/one", kind="symlink", link="two"),
        Entry("./b/two", kind="symlink", link="../a/hard"),
    ]
    assert _extract(make_deb(entries), "b/one", "a/hard") == {"b/one": b"data", "a/hard": b"data"}


@pytest.mark.parametrize(
    ("entries", "request_path", "error", "message"),
    [
        ([Entry("./x", kind="symlink", link="../../etc/passwd")], "x", UnsafeArchive, "leaves"),
        ([Entry("./x", kind="symlink", link="/../etc/passwd")], "x", UnsafeArchive, "leaves"),
        ([Entry("./x", kind="hardlink", link="../etc/passwd")], "x", UnsafeArchive, "leaves"),
        ([Entry("./x", kind="symlink", link="x")], "x", UnsafeArchive, "more than 16 links"),
        ([Entry("./x", kind="symlink", link="nowhere")], "x", UnsafeArchive, "not in it"),
        ([Entry("./dev/null", kind="chr")], "dev/null", UnsafeArchive, "device file"),
        ([Entry("./p", kind="fifo")], "p", UnsafeArchive, "FIFO"),
        ([Entry("./d/", kind="dir")], "d", InputError, "is a directory"),
        ([Entry("./a", b"")], "b", InputError, "has no member 'b'"),
    ],
)
def test_refused_requests(
    entries: list[Entry], request_path: str, error: type[Exception], message: str
) -> None:
    deb = make_deb([Entry("./ok", b"fine"), *entries])
    with pytest.raises(error, match=message):
        extract_files(io.BytesIO(deb), {request_path: io.BytesIO()}, source="t.deb")


@pytest.mark.parametrize(
    "bad",
    [
        Entry("../evil", b"x"),
        Entry("/etc/evil", b"x"),
        Entry("./a/../../evil", b"x"),
        Entry("./ok", b"again"),  # duplicate name
    ],
)
def test_unsafe_member_anywhere_refuses_the_archive(bad: Entry) -> None:
    deb = make_deb([Entry("./ok", b"fine"), bad])
    with pytest.raises(UnsafeArchive):
        extract_files(io.BytesIO(deb), {"ok": io.BytesIO()}, source="t.deb")


def test_requested_path_must_be_normalised() -> None:
    with pytest.raises(InputError, match="normalised"):
        extract_files(io.BytesIO(make_deb([])), {"./ok": io.BytesIO()}, source="t.deb")


def test_layout_allows_underscore_members_and_ignores_trailing_ones() -> None:
    deb = make_deb(simple_entries(b"fw"), extra_before_data=[("_reserved", b"zz")])
    deb = deb + ar_archive([("trailing", b"x")])[8:]
    layout = read_layout(io.BytesIO(deb), source="t.deb")
    assert layout.data.name == "data.tar.xz"
    assert layout.data_compression == ".xz"
    assert _extract(deb, "usr/share/fw/image.fd")["usr/share/fw/image.fd"] == b"fw"


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("control.tar.gz", b"")], "not debian-binary"),
        ([("debian-binary", b"3.0\n")], "unsupported deb format version"),
        ([("debian-binary", b"2.0\n"), ("data.tar.xz", b"")], "where control.tar was expected"),
        ([("debian-binary", b"2.0\n"), ("control.tar", b"")], "missing data.tar"),
        (
            [("debian-binary", b"2.0\n"), ("control.tar", b""), ("data.tar.rar", b"")],
            "where data.tar was expected",
        ),
    ],
)
def test_layout_errors(members: list[tuple[str, bytes]], message: str) -> None:
    with pytest.raises(ParseError, match=message):
        read_layout(io.BytesIO(ar_archive(members)), source="t.deb")


def test_corrupt_data_member_is_a_parse_error_with_offset() -> None:
    deb = bytearray(make_deb(simple_entries()))
    layout = read_layout(io.BytesIO(bytes(deb)), source="t.deb")
    start = layout.data.data_offset
    deb[start + 20 : start + 60] = b"\x00" * 40
    with pytest.raises(ParseError) as info:
        extract_files(io.BytesIO(bytes(deb)), {"boot/vmlinuz-1": io.BytesIO()}, source="t.deb")
    assert info.value.location.offset == start


def test_sink_write_failure_is_an_environment_problem() -> None:
    class Full(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, _b: object) -> int:
            raise OSError(28, "No space left on device")

    with pytest.raises(EnvironmentProblem, match="No space left"):
        extract_files(
            io.BytesIO(make_deb(simple_entries())),
            {"usr/share/fw/image.fd": Full()},  # type: ignore[dict-item]
            source="t.deb",
        )


def test_read_control_and_parse_control() -> None:
    fields = read_control(io.BytesIO(make_deb([])), source="t.deb")
    assert fields == {
        "Package": "hello",
        "Version": "1.0-1",
        "Architecture": "all",
        "Source": "hello-src",
    }
    assert parse_control(b"A: 1\nB: x\n y\n\nC: z\n", source="c")["B"] == "x\ny"
    with pytest.raises(ParseError, match="appears twice"):
        parse_control(b"A: 1\nA: 2\n", source="c")
    with pytest.raises(ParseError, match="continuation"):
        parse_control(b" x\n", source="c")


@given(st.binary(max_size=300))
def test_fuzz_parse_control(data: bytes) -> None:
    try:
        fields = parse_control(data, source="c")
    except ParseError as exc:
        error = exc
    else:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
        return
    assert error.location.source == "c"


# ------------------------------------------------------------ peer: dpkg-deb on real debs

DPKG_DEB = shutil.which("dpkg-deb")
needs_dpkg = pytest.mark.skipif(
    DPKG_DEB is None, reason="dpkg-deb not installed (apt-get install dpkg): differential test"
)

REAL_DEBS = [
    "sid/ovmf-amdsev_2026.08+ds-2_all.deb",
    "trixie/kmod_34.2-2_amd64.deb",  # relative symlinks, a symlink to a directory
    "bookworm/perl_5.36.0-7+deb12u4_amd64.deb",  # a hard link
    "bookworm/tar_1.34+dfsg-1.2+deb12u1_amd64.deb",  # an absolute symlink
]


def _dpkg_tree(deb: Path, root: Path) -> Path:
    assert DPKG_DEB is not None
    subprocess.run([DPKG_DEB, "-x", str(deb), str(root)], check=True)
    return root


def _chroot_target(root: Path, path: Path) -> Path | None:
    """Resolve ``path`` inside ``root`` as a chroot would; None if it is not a file there."""
    current = path
    for _ in range(17):
        if current.is_symlink():
            link = os.readlink(current)
            base = root if link.startswith("/") else current.parent
            current = Path(os.path.normpath(base / link.lstrip("/")))
            if not current.is_relative_to(root):
                return None
            continue
        return current if current.is_file() and not current.is_symlink() else None
    return None


@needs_dpkg
@pytest.mark.peer
@pytest.mark.parametrize("name", REAL_DEBS)
def test_matches_dpkg_deb_on_every_file(name: str, tmp_path: Path) -> None:
    deb = shared_input(*name.split("/"))
    root = _dpkg_tree(deb, tmp_path / "tree")
    files: dict[str, Path] = {}
    for dirpath, _dirs, names in os.walk(root):
        for entry in names:
            path = Path(dirpath, entry)
            target = _chroot_target(root, path)
            if target is not None and not _escapes_via_dir_link(root, path):
                files[path.relative_to(root).as_posix()] = target
    assert files, "dpkg-deb extracted no files"
    sinks = {member: io.BytesIO() for member in files}
    with deb.open("rb") as handle:
        result = extract_files(handle, sinks, source=str(deb))
    for member, expected in files.items():
        assert sinks[member].getvalue() == expected.read_bytes(), member
        assert result[member].sha256 == sha256(expected.read_bytes())
    if "perl_" in name or "kmod_" in name:  # links were followed, not just regular files
        assert any(result[m].member != m for m in files)


def _escapes_via_dir_link(root: Path, path: Path) -> bool:
    """Files reached through a symlinked directory are not members in their own right."""
    rel = path.relative_to(root)
    return any((root / Path(*rel.parts[:i])).is_symlink() for i in range(1, len(rel.parts)))


@needs_dpkg
@pytest.mark.peer
@pytest.mark.slow
def test_demo_lock_digests_match_dpkg_deb_and_refkit(tmp_path: Path) -> None:
    """The extracted sha256 values in images/demo/inputs.lock.json, from both extractors."""
    lock = load_lock(PROJECT_ROOT / "images" / "demo" / "inputs.lock.json")
    for item in lock.packages:
        deb = next(shared_input().rglob(item.filename))
        root = _dpkg_tree(deb, tmp_path / item.name)
        sinks = {spec.path: io.BytesIO() for spec in item.extract}
        with deb.open("rb") as handle:
            assert sha256(handle.read()) == item.sha256
            handle.seek(0)
            result = extract_files(handle, sinks, source=str(deb))
        for spec in item.extract:
            from_dpkg = (root / spec.path).read_bytes()
            assert sha256(from_dpkg) == spec.sha256 == result[spec.path].sha256
            assert len(from_dpkg) == spec.size
            assert sinks[spec.path].getvalue() == from_dpkg


# ----------------------------------------------------------------------------- fuzzing

_SMALL = make_deb(simple_entries(b"fw" * 50), compression=".gz")
_SMALL_TAR = make_deb(simple_entries(b"fw" * 50), compression="")


def _result_or_typed_error(deb: bytes) -> None:
    error: InputError | EnvironmentProblem | None = None
    try:
        _extract(deb, "usr/share/fw/image.fd", "boot/vmlinuz")
    except InputError as exc:  # ParseError, UnsafeArchive, a missing member
        error = exc
    except EnvironmentProblem as exc:  # only: a mutated name asked for zstd
        error = exc
    if isinstance(error, ParseError):
        assert error.location.source == "t.deb"
    if isinstance(error, EnvironmentProblem):
        assert "zstd" in error.message


@given(st.binary(max_size=600))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _result_or_typed_error(data)


@pytest.mark.parametrize("base", [_SMALL, _SMALL_TAR], ids=["gz", "uncompressed"])
@given(
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 10**6),
)
def test_fuzz_mutated_package(base: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(base)
    for index, byte in flips:
        data[index % len(data)] = byte
    _result_or_typed_error(bytes(data[: cut % (len(data) + 1)]))


def _has_zstd_decoder() -> bool:
    import importlib.util

    stdlib = importlib.util.find_spec("compression") is not None and (
        importlib.util.find_spec("compression.zstd") is not None
    )
    return stdlib or importlib.util.find_spec("zstandard") is not None


@pytest.mark.skipif(_has_zstd_decoder(), reason="this Python can decode zstd")
def test_zstd_without_a_decoder_is_an_environment_problem() -> None:
    members = [("debian-binary", b"2.0\n"), ("control.tar.gz", b""), ("data.tar.zst", b"x")]
    with pytest.raises(EnvironmentProblem, match="no zstd decoder") as info:
        extract_files(io.BytesIO(ar_archive(members)), {"a": io.BytesIO()}, source="t.deb")
    assert info.value.hint is not None
    assert "zstandard" in info.value.hint


ZSTD = shutil.which("zstd")


@pytest.mark.skipif(not _has_zstd_decoder(), reason="needs Python 3.14+ or the zstandard module")
@pytest.mark.skipif(ZSTD is None, reason="needs the zstd tool to build the fixture")
def test_zstd_data_archive() -> None:
    from tests.inputs_support import tar_bytes

    assert ZSTD is not None
    raw = tar_bytes(simple_entries(b"zstd payload"))
    packed = subprocess.run([ZSTD, "-q", "-c"], input=raw, capture_output=True, check=True).stdout
    members = [("debian-binary", b"2.0\n"), ("control.tar.gz", b""), ("data.tar.zst", packed)]
    got = _extract(ar_archive(members), "usr/share/fw/image.fd")
    assert got == {"usr/share/fw/image.fd": b"zstd payload"}
    corrupt = [*members[:2], ("data.tar.zst", packed[:4] + b"garbage" + packed[11:])]
    with pytest.raises(ParseError, match="zstd"):  # the decoder's own error type is mapped
        _extract(ar_archive(corrupt), "usr/share/fw/image.fd")
