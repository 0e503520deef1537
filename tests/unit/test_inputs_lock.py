"""Inputs lock: the demo lock, round trip, every validation rule, and fuzzing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError
from refkit.inputs.lock import (
    LOCK_SCHEMA,
    deb_filename,
    dumps_lock,
    load_lock,
    normalize_member_path,
    parse_lock,
)
from tests.shared import PROJECT_ROOT

DEMO_LOCK = PROJECT_ROOT / "images" / "demo" / "inputs.lock.json"
SHA_A = "a" * 64


def _doc() -> dict[str, Any]:
    return {
        "schema": LOCK_SCHEMA,
        "inputs": [
            {
                "kind": "debian-package",
                "name": "libfoo1",
                "version": "1:2.3-4",
                "architecture": "amd64",
                "suite": "trixie",
                "component": "main",
                "source": "libfoo",
                "filename": "libfoo1_2.3-4_amd64.deb",
                "size": 10,
                "sha256": SHA_A,
                "extract": [
                    {
                        "path": "usr/lib/libfoo.so.1",
                        "output": "libfoo.so.1",
                        "size": 3,
                        "sha256": SHA_A,
                    }
                ],
            }
        ],
    }


def _parse(doc: Any) -> Any:
    return parse_lock(json.dumps(doc).encode(), source="test.lock.json")


def test_demo_lock_pins_the_shared_mirror_digests() -> None:
    lock = load_lock(DEMO_LOCK)
    by_name = {item.name: item for item in lock.packages}
    ovmf = by_name["ovmf-amdsev"]
    assert (ovmf.version, ovmf.suite, ovmf.source) == ("2026.08+ds-2", "sid", "edk2")
    assert ovmf.sha256 == "92c9b6d15e4eeb371938c3f99080c1a8fc057dfd6bc0509d37f8b615e9edebfb"
    assert [(s.path, s.output) for s in ovmf.extract] == [
        ("usr/share/ovmf/OVMF.amdsev.fd", "OVMF.amdsev.fd")
    ]
    kernel = by_name["linux-image-6.12.107+deb13-cloud-amd64"]
    assert (kernel.version, kernel.suite) == ("6.12.107-1", "trixie")
    assert [s.output for s in kernel.extract] == ["vmlinuz"]


def test_demo_lock_matches_shared_sha256sums() -> None:
    from tests.shared import shared_input

    sums = {}
    for line in shared_input("SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[Path(name).name] = digest
    for item in load_lock(DEMO_LOCK).packages:
        assert sums[item.filename] == item.sha256


def test_round_trip_is_exact() -> None:
    text = DEMO_LOCK.read_text()
    assert dumps_lock(load_lock(DEMO_LOCK)) == text
    lock = _parse(_doc())
    assert _parse(json.loads(dumps_lock(lock))) == lock


def test_epoch_is_not_in_the_filename() -> None:
    assert deb_filename("libfoo1", "1:2.3-4", "amd64") == "libfoo1_2.3-4_amd64.deb"
    assert _parse(_doc()).inputs[0].version == "1:2.3-4"


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda d: d.update(schema="v0"), "$.schema", "unsupported lock schema"),
        (lambda d: d.update(extra=1), "$.extra", "unknown field 'extra'"),
        (lambda d: d.pop("inputs"), "$.inputs", "is required"),
        (lambda d: d.update(inputs={}), "$.inputs", "expected a list"),
        (
            lambda d: d["inputs"][0].update(kind="oci-image"),
            "$.inputs[0].kind",
            "unknown input kind",
        ),
        (
            lambda d: d["inputs"][0].update(name="Foo"),
            "$.inputs[0].name",
            "not a valid Debian package",
        ),
        (
            lambda d: d["inputs"][0].update(version="a1"),
            "$.inputs[0].version",
            "not a valid Debian version",
        ),
        (lambda d: d["inputs"][0].update(suite="../x"), "$.inputs[0].suite", "not a valid suite"),
        (lambda d: d["inputs"][0].update(component="Main"), "$.inputs[0].component", "component"),
        (lambda d: d["inputs"][0].update(source="l"), "$.inputs[0].source", "source package"),
        (
            lambda d: d["inputs"][0].update(filename="../libfoo1_2.3-4_amd64.deb"),
            "$.inputs[0].filename",
            "not the archive file name",
        ),
        (lambda d: d["inputs"][0].update(size=True), "$.inputs[0].size", "expected an integer"),
        (lambda d: d["inputs"][0].update(size=-1), "$.inputs[0].size", "out of range"),
        (lambda d: d["inputs"][0].update(size=1.5), "$.inputs[0].size", "expected an integer"),
        (
            lambda d: d["inputs"][0].update(sha256="A" * 64),
            "$.inputs[0].sha256",
            "64 lowercase hex",
        ),
        (lambda d: d["inputs"][0].update(sha256=None), "$.inputs[0].sha256", "expected a string"),
        (lambda d: d["inputs"][0].update(extract=None), "$.inputs[0].extract", "expected a list"),
        (
            lambda d: d["inputs"][0]["extract"][0].update(path="/etc/x"),
            "$.inputs[0].extract[0].path",
            "normalised",
        ),
        (
            lambda d: d["inputs"][0]["extract"][0].update(path="./usr/x"),
            "$.inputs[0].extract[0].path",
            "normalised",
        ),
        (
            lambda d: d["inputs"][0]["extract"][0].update(path="usr/../x"),
            "$.inputs[0].extract[0].path",
            "normalised",
        ),
        (
            lambda d: d["inputs"][0]["extract"][0].update(path=3),
            "$.inputs[0].extract[0].path",
            "string",
        ),
        (
            lambda d: d["inputs"][0]["extract"][0].update(output="a/b"),
            "$.inputs[0].extract[0].output",
            "output file",
        ),
        (
            lambda d: d["inputs"][0]["extract"][0].update(output=".."),
            "$.inputs[0].extract[0].output",
            "output file",
        ),
        (
            lambda d: d["inputs"][0]["extract"][0].update(sha="x"),
            "$.inputs[0].extract[0].sha",
            "unknown field 'sha'",
        ),
        (
            lambda d: d["inputs"][0]["extract"].append(dict(d["inputs"][0]["extract"][0])),
            "$.inputs[0].extract[1].path",
            "listed twice",
        ),
        (
            lambda d: d["inputs"].append(copy.deepcopy(d["inputs"][0])),
            "$.inputs[1]",
            "already pinned",
        ),
    ],
)
def test_validation_names_the_field(mutate: Any, field: str, message: str) -> None:
    # Read with refkit.reader.Obj since issue 11 (one strict reader): fields are named
    # as JSON paths ($.inputs[0].size) and messages use the reader's words.
    doc = _doc()
    mutate(doc)
    with pytest.raises(ParseError) as info:
        _parse(doc)
    assert info.value.location.field == field
    assert message in info.value.reason
    assert "test.lock.json" in str(info.value)


def test_outputs_are_unique_across_inputs() -> None:
    doc = _doc()
    second = copy.deepcopy(doc["inputs"][0])
    second.update(name="libbar1", filename="libbar1_2.3-4_amd64.deb")
    second["extract"][0]["path"] = "usr/lib/other"
    doc["inputs"].append(second)
    with pytest.raises(ParseError, match="already written by inputs\\[0\\]"):
        _parse(doc)


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b'{"schema": 1, "schema": 2}', b"\xef\xbb\xbf{}", b"[NaN]", b"\xff"],
)
def test_bad_json_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_lock(data, source="x.json")


def test_load_lock_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_lock(tmp_path / "missing.json")
    with pytest.raises(InputError, match="is a directory"):
        load_lock(tmp_path)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("./usr/bin/x", "usr/bin/x"),
        ("usr/bin/", "usr/bin"),
        ("usr", "usr"),
        ("", None),
        ("./", None),
        ("/etc/passwd", None),
        ("../x", None),
        ("a/../b", None),
        ("a//b", None),
        ("a/./b", None),
        ("a\x00b", None),
    ],
)
def test_normalize_member_path(raw: str, normalized: str | None) -> None:
    assert normalize_member_path(raw) == normalized


# ------------------------------------------------------------------------------ fuzzing

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _result_or_parse_error(data: bytes) -> None:
    try:
        lock = parse_lock(data, source="fuzz.json")
    except ParseError as exc:
        error = exc
    else:
        assert isinstance(lock.inputs, tuple)
        return
    assert error.location.source == "fuzz.json"


@given(st.binary(max_size=300))
def test_fuzz_bytes(data: bytes) -> None:
    _result_or_parse_error(data)


@given(_json)
def test_fuzz_json_values(value: Any) -> None:
    _result_or_parse_error(json.dumps(value).encode())


_PATHS = [
    ("schema",),
    ("inputs",),
    ("inputs", 0),
    *[("inputs", 0, key) for key in _doc()["inputs"][0]],
    ("inputs", 0, "extract", 0),
    *[("inputs", 0, "extract", 0, key) for key in ("path", "output", "size", "sha256")],
]


@given(st.sampled_from(_PATHS), _json | st.just("__delete__"))
def test_fuzz_one_field_of_a_valid_lock(path: tuple[Any, ...], value: Any) -> None:
    doc: Any = _doc()
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if value == "__delete__":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    _result_or_parse_error(json.dumps(doc).encode())
