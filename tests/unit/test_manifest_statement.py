"""The statement contract the signing code builds on: load, refuse, round-trip, canonical."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from refkit.errors import InputError, ParseError
from refkit.manifests.canonical import canonical_dumps
from refkit.manifests.constants import PREDICATE_TYPE, STATEMENT_TYPE
from refkit.manifests.statement import (
    NotARefkitManifest,
    Statement,
    load_statement,
    parse_statement,
)
from tests.manifest_support import ASSETS, example_statement


def test_loads_the_golden_statement() -> None:
    data = (ASSETS / "release.json").read_bytes()
    statement = load_statement(data, source="release.json", require_canonical=True)
    assert isinstance(statement, Statement)
    assert statement.canonical_bytes() == data
    release = statement.to_json()["predicate"]["release"]
    assert set(release) >= {"name", "version", "created", "source"}
    assert statement.predicate.release.version == release["version"]


def test_contract_shape() -> None:
    value = example_statement()
    statement = parse_statement(value, source="mem")
    out = statement.to_json()
    assert out["_type"] == STATEMENT_TYPE
    assert out["predicateType"] == PREDICATE_TYPE
    assert out["predicate"]["schemaVersion"] == "1.2"
    assert out == value
    assert statement.canonical_bytes() == canonical_dumps(value)
    with pytest.raises(AttributeError):
        statement.subjects = ()  # type: ignore[misc]


def test_wrong_predicate_type_names_it() -> None:
    value = example_statement()
    value["predicateType"] = "https://slsa.dev/provenance/v1"
    with pytest.raises(
        NotARefkitManifest, match=re.escape("https://slsa.dev/provenance/v1")
    ) as info:
        parse_statement(value, source="x.json")
    assert isinstance(info.value, InputError)
    assert not isinstance(info.value, ParseError)
    assert info.value.found == "https://slsa.dev/provenance/v1"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"{", "invalid JSON"),
        (b'{"a": 1, "a": 2}', "duplicate JSON key"),
        (b"[]", "expected an object"),
        (b'{"_type": "https://in-toto.io/Statement/v0.1"}', "_type"),
    ],
)
def test_malformed_is_parse_error(data: bytes, needle: str) -> None:
    with pytest.raises(ParseError, match=needle):
        load_statement(data, source="bad.json")


def test_unknown_fields_survive_in_informational_parts() -> None:
    """Behaviour change (issue 11): inside constraints they are now refused
    (test_manifest_fail_closed.py); the informational parts keep them as before."""
    value = example_statement()
    value["x-top"] = {"a": [1, 2]}
    value["subject"][0]["x-subject"] = True
    value["subject"][0]["annotations"]["x-ann"] = "kept"
    pred = value["predicate"]
    pred["x-pred"] = None
    pred["release"]["x-rel"] = 1
    pred["release"]["source"]["x-src"] = "s"
    pred["models"][0]["source"]["x-msrc"] = "v"
    pred["provenance"]["x-prov"] = "v"
    pred["provenance"]["builder"]["x-builder"] = "v"
    pred["provenance"]["inputs"][0]["x-input"] = "v"
    expect = copy.deepcopy(value)
    assert parse_statement(value, source="mem").to_json() == expect
    # and through bytes
    data = json.dumps(value).encode()
    assert load_statement(data, source="mem").to_json() == expect


def test_require_canonical_refuses_pretty_json() -> None:
    data = json.dumps(example_statement(), indent=2).encode()
    load_statement(data, source="pretty.json")
    with pytest.raises(ParseError, match="not canonical"):
        load_statement(data, source="pretty.json", require_canonical=True)


def _bad(value: dict[str, Any], needle: str) -> None:
    with pytest.raises(ParseError, match=needle):
        parse_statement(value, source="t.json")


def test_duplicate_subject_names_refused() -> None:
    value = example_statement()
    value["subject"].append(copy.deepcopy(value["subject"][0]))
    _bad(value, r"\$\.subject\[\d\]\.name.*duplicates")


def test_model_disk_must_name_a_model_disk_subject() -> None:
    value = example_statement()
    value["predicate"]["models"][0]["disk"] = "nope"
    _bad(value, "not a subject")
    value["predicate"]["models"][0]["disk"] = value["subject"][0]["name"]
    _bad(value, "not model-disk")


def test_absurd_sizes_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import refkit.manifests.statement as statement_module

    data = (ASSETS / "release.json").read_bytes()
    monkeypatch.setattr(statement_module, "MAX_DOCUMENT_BYTES", len(data) - 1)
    with pytest.raises(InputError, match="limit"):
        load_statement(data, source="big.json")
    monkeypatch.setattr(statement_module, "MAX_SUBJECTS", 2)
    with pytest.raises(ParseError, match="more than 2"):
        parse_statement(example_statement(), source="many.json")


def test_not_an_object_or_no_predicate() -> None:
    with pytest.raises(ParseError, match="expected an object"):
        parse_statement([], source="t")  # type: ignore[arg-type]
    value = example_statement()
    del value["predicate"]
    with pytest.raises(ParseError, match=r"\$\.predicate.*required"):
        parse_statement(value, source="t")
    value = example_statement()
    value["predicateType"] = 7
    with pytest.raises(ParseError, match="predicateType"):
        parse_statement(value, source="t")


def test_bundle_with_foreign_payload_names_the_type() -> None:
    import base64

    from refkit.manifests.files import load_statement_or_bundle

    value = example_statement()
    value["predicateType"] = "https://model_signing/signature/v1.0"
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "x"}},
        "dsseEnvelope": {
            "payload": base64.b64encode(canonical_dumps(value)).decode(),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": base64.b64encode(b"s").decode(), "keyid": ""}],
        },
    }
    with pytest.raises(NotARefkitManifest, match="model_signing"):
        load_statement_or_bundle(json.dumps(bundle).encode(), source="b.json")


def test_library_never_imports_click_or_rich() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import refkit.manifests.statement, refkit.manifests.authoring, refkit.manifests.diff\n"
        "import refkit.manifests.files, refkit.yamlio\n"
        "import refkit.manifests.exports.contrast, refkit.manifests.exports.rvps\n"
        "import refkit.manifests.exports.vsa, refkit.manifests.schema\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'rich')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_schema_1_0_manifest_is_still_read() -> None:
    """The bytes refkit 0.1.0 wrote (assets/manifests/release-1.0.json) mean the same."""
    old = load_statement(
        (ASSETS / "release-1.0.json").read_bytes(), source="1.0", require_canonical=True
    )
    new = load_statement((ASSETS / "release.json").read_bytes(), source="1.2")
    assert old.predicate.schema_version == "1.0"
    assert old.predicate.reference_values == new.predicate.reference_values
    assert old.predicate.declared == new.predicate.declared


def test_schema_1_1_manifest_is_still_read() -> None:
    """The golden as built before schema 1.2 (assets/manifests/release-1.1.json) reads as
    the same predicate: 1.2 only added optional fields to declared.snp."""
    old = load_statement(
        (ASSETS / "release-1.1.json").read_bytes(), source="1.1", require_canonical=True
    )
    new = load_statement((ASSETS / "release.json").read_bytes(), source="1.2")
    assert old.predicate.schema_version == "1.1"
    assert new.predicate.schema_version == "1.2"
    assert old.predicate.reference_values == new.predicate.reference_values
    assert old.predicate.declared == new.predicate.declared
