"""The OMS statement parser: real model_signing payloads, strict refusals, fuzzing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import ParseError
from refkit.weights.oms import (
    ModelManifest,
    Resource,
    files_digest_of,
    parse_statement,
    sort_key,
    split_shard_name,
)
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug, vector


def _payload(folder: str) -> bytes:
    bundle = json.loads(vector("model-signing", folder, "model.sig").read_bytes())
    return base64.b64decode(bundle["dsseEnvelope"]["payload"])


@pytest.mark.parametrize("folder", ["v1.1.0-elliptic-key", "v1.1.0-certificate", "v1.1.0-sigstore"])
def test_real_payloads_parse_and_keep_order(folder: str) -> None:
    data = _payload(folder)
    m = parse_statement(data, source=folder)
    raw = json.loads(data)
    assert m.name == folder
    assert m.files_digest == raw["subject"][0]["digest"]["sha256"]
    assert [r.name for r in m.resources] == [r["name"] for r in raw["predicate"]["resources"]]
    assert m.method == "files"
    assert "ignore-me" in m.ignore_paths


def _good() -> dict[str, Any]:
    resources = [Resource("a:0:10", "sha256-sharded-10", "11" * 32)]
    m = ModelManifest.build(
        name="m",
        method="shards",
        hash_type="sha256",
        shard_size=10,
        allow_symlinks=False,
        ignore_paths=(),
        resources=resources,
    )
    return m.statement()


def _bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(predicateType="https://slsa.dev/provenance/v1"), "$.predicateType"),
        (lambda d: d["subject"].append(d["subject"][0]), "$.subject"),
        (lambda d: d["predicate"]["serialization"].update(method="zip"), "method"),
        (lambda d: d["predicate"]["serialization"].update(hash_type="md5"), "hash_type"),
        (lambda d: d["predicate"]["serialization"].update(shard_size=0), "shard_size"),
        (lambda d: d["predicate"]["resources"][0].update(algorithm="sha256"), "algorithm"),
        (lambda d: d["predicate"]["resources"][0].update(name="a:10:0"), "name"),
        (lambda d: d["predicate"]["resources"][0].update(name="../a:0:10"), "name"),
        (lambda d: d["predicate"]["resources"][0].update(digest="11" * 31), "digest"),
        (lambda d: d["predicate"]["resources"][0].update(extra=1), "extra"),
        (lambda d: d["predicate"]["resources"].append(d["predicate"]["resources"][0]), "twice"),
        (lambda d: d["subject"][0]["digest"].update(sha256="00" * 32), "subject"),
    ],
)
def test_strict_refusals(mutate: Any, field: str) -> None:
    doc = _good()
    mutate(doc)
    with pytest.raises(ParseError) as info:
        parse_statement(_bytes(doc), source="s.json")
    text = str(info.value.diagnostics()) + str(info.value.location)
    assert "s.json" in text
    assert field in text


def test_subject_check_can_be_left_to_the_verifier() -> None:
    doc = _good()
    doc["subject"][0]["digest"]["sha256"] = "00" * 32
    m = parse_statement(_bytes(doc), source="s", check_subject=False)
    assert m.files_digest == "00" * 32
    assert files_digest_of(m.resources) != m.files_digest


def test_not_json_and_duplicate_keys() -> None:
    with pytest.raises(ParseError):
        parse_statement(b"\xff\xfe", source="s")
    with pytest.raises(ParseError):
        parse_statement(b'{"_type": "a", "_type": "b"}', source="s")


def test_shard_names_parse_from_the_right() -> None:
    assert split_shard_name("dir/a:b.bin:0:10") == ("dir/a:b.bin", 0, 10)
    assert split_shard_name("a:01:10") is None  # one spelling per offset
    assert split_shard_name("a:x:10") is None
    assert split_shard_name(":0:1") is None


def test_order_is_model_signings_not_code_points() -> None:
    names = ["a-b", "a/b", "a/c", "a.b"]
    ours = sorted(names, key=lambda n: sort_key(n, "files"))
    # PurePosixPath order, which model_signing 1.1.1 uses (checked against it in
    # test_weights_digest.py): a-b, a.b, a/b... no: components compare "a" < "a-b".
    from pathlib import PurePosixPath

    assert ours == [str(p) for p in sorted(PurePosixPath(n) for n in names)]
    assert ours != sorted(names)  # code-point order differs for these names


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_bytes(data: bytes) -> None:
    try:
        parse_statement(data, source="fuzz")
    except ParseError:
        pass
    except Exception as exc:
        assert_not_a_bug(exc)
        raise


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(
    st.sampled_from(["_type", "subject", "predicateType", "predicate"]),
    st.sampled_from(["", "serialization", "resources"]),
    _json,
)
def test_fuzz_structure(top: str, inner: str, value: Any) -> None:
    doc = _good()
    if inner and top == "predicate":
        doc["predicate"][inner] = value
    else:
        doc[top] = value
    try:
        parse_statement(_bytes(doc), source="fuzz")
    except ParseError:
        pass
    except Exception as exc:
        assert_not_a_bug(exc)
        raise
