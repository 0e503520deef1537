"""Validation of the manifest model: one tamper test per field class, and the invariants.

Each case changes one field of a valid statement and checks the typed error names the
field path. Field classes: hex (case, length, non-hex), digests, times, integers (type,
range, bool-as-int), enums, required fields, uniqueness, cross references, schema version,
and the security-relevant declared values (DEBUG bits).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from refkit.errors import NotUnderstood, ParseError
from refkit.manifests.model import SnpProduct, parse_predicate
from refkit.manifests.model import snp as model_snp
from refkit.manifests.statement import parse_statement
from tests.manifest_support import example_statement

P = "$.predicate"
SNP0 = f"{P}.referenceValues.snp[0]"
TDX0 = f"{P}.referenceValues.tdx[0]"
DSNP0 = f"{P}.declared.snp[0]"
DTDX = f"{P}.declared.tdx[0]"
MODEL0 = f"{P}.models[0]"

DELETE = object()


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set a value at a ``$.a.b[0].c`` path (DELETE removes the key)."""
    parts: list[str | int] = []
    for chunk in path.removeprefix("$.").split("."):
        name, _, rest = chunk.partition("[")
        if name:
            parts.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            parts.append(int(index))
            rest = rest.removeprefix("[")
    node: Any = doc
    for part in parts[:-1]:
        node = node[part]
    if value is DELETE:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value


TAMPERS: list[tuple[str, Any, str]] = [
    # hex: case, length, alphabet, type
    (f"{SNP0}.measurement", "AB" * 48, "lower-case"),
    (f"{SNP0}.measurement", "ab" * 47, "47 bytes, expected 48"),
    (f"{SNP0}.measurement", "zz" * 48, "hex"),
    (f"{SNP0}.measurement", 12, "expected a hex string"),
    (f"{TDX0}.mrtd", "0x" + "ab" * 47, "hex"),
    (f"{TDX0}.rtmrs.2", "ab" * 32, "32 bytes, expected 48"),
    (f"{TDX0}.rtmrs", ["ab" * 48] * 3, "exactly 4"),
    (f"{TDX0}.rtmrs", {}, "at least one"),
    (f"{TDX0}.rtmrs", {"4": "ab" * 48}, "RTMR index 0-3"),
    (f"{TDX0}.eventLog", {"digest": {"sha256": "ab" * 31}}, "31 bytes, expected 32"),
    (f"{MODEL0}.fileDigestRoot.method", "files", "not one this refkit can recompute"),
    (f"{P}.referenceValues.gpu[0].measurements", {"1": []}, "non-empty list"),
    (f"{P}.referenceValues.gpu[0].measurements", {"300": ["ab"]}, "block index"),
    (f"{P}.referenceValues.policies[0].hostData", "ab" * 48, "48 bytes, expected 32"),
    (f"{DSNP0}.allowedChipIds", ["ab" * 32], "32 bytes, expected 64"),
    (f"{DTDX}.mrSeams[0]", "AB" * 48, "lower-case"),
    (f"{DTDX}.xfam", "e7020600", "4 bytes, expected 8"),
    (f"{MODEL0}.verity.rootHash", "ab" * 48, "48 bytes, expected 32"),
    (f"{MODEL0}.verity.salt", "0", "hex"),
    # digests
    ("$.subject[0].digest", {}, "at least one digest"),
    ("$.subject[0].digest", {"md5": "ab" * 16}, "sha256"),
    ("$.subject[0].digest.sha256", "ab" * 31, "31 bytes"),
    ("$.subject[0].digest", {"SHA256": "ab" * 32}, "algorithm"),
    (f"{SNP0}.inputs.ovmf.sha256", "AB" * 32, "lower-case"),
    # times
    (f"{P}.release.created", "2026-01-01T00:00:00+00:00", "RFC 3339"),
    (f"{P}.release.created", "2026-01-01T00:00:00.5Z", "RFC 3339"),
    (f"{P}.release.created", "2026-02-30T00:00:00Z", "valid date"),
    (f"{P}.release.expires", "2025-12-31T23:59:59Z", "later than"),
    # integers: type, range, bool
    (f"{SNP0}.shape.vcpus", 0, "out of range"),
    (f"{SNP0}.shape.vcpus", True, "expected an integer"),
    (f"{SNP0}.shape.vcpus", 4.0, "expected an integer"),
    (f"{SNP0}.guestFeatures", 2**53, "out of range"),
    (f"{SNP0}.vcpuSignature", -1, "out of range"),
    (f"{DSNP0}.minimumTcb.microcode", 256, "out of range"),
    (f"{DSNP0}.vmpl", 4, "out of range"),
    (f"{DTDX}.minTcbEvaluationDataNumber", 2**32, "out of range"),
    (f"{MODEL0}.verity.hashOffset", 90185729, "multiple of dataBlockSize"),
    (f"{MODEL0}.verity.dataBlockSize", 3000, "power of two"),
    (f"{TDX0}.computedBy", {"name": "refkit"}, "is required"),
    (f"{TDX0}.computedBy", {"name": "refkit", "version": "a b"}, "does not match"),
    # enums
    (f"{SNP0}.product", "Rome", "Milan"),
    (f"{SNP0}.mode", "tdx", "snp"),
    (f"{SNP0}.shape.vmm.type", "firecracker", "for SNP must be"),
    ("$.subject[0].annotations.kind", "container", "oci-image"),
    (f"{P}.referenceValues.vtpm[0].bank", "md5", "sha256"),
    (f"{P}.referenceValues.vtpm[0].pcrs", {"24": "ab" * 32}, "PCR index"),
    (f"{P}.referenceValues.vtpm[0].pcrs", {"11": "ab" * 48}, "expected 32"),
    (f"{P}.referenceValues.gpu[0].ccMode", True, "string"),
    # required fields and types
    (f"{P}.release.name", DELETE, "is required"),
    (f"{P}.release.source.commit", "abc", "does not match"),
    (f"{P}.release", [], "expected an object"),
    (f"{P}.referenceValues", DELETE, "is required"),
    (f"{SNP0}.shape", DELETE, "is required"),
    (
        MODEL0,
        {"name": "m", "source": {"repository": "r", "revision": "v1"}},
        "fileDigestRoot, verity or both",
    ),
    (f"{P}.referenceValues.policies[0].hostData", DELETE, "hostData, mrConfigId"),
    ("$.subject", [], "at least 1"),
    ("$.subject[0].annotations", DELETE, "is required"),
    (f"{P}.provenance.refkitVersion", DELETE, "is required"),
    (f"{P}.release.name", "a\nb", "does not match"),
    (f"{P}.release.name", None, "found null"),
    # declared values that would void confidentiality
    (f"{DSNP0}.guestPolicy", 0x30000 | (1 << 19), "DEBUG"),
    (f"{DSNP0}.guestPolicy", 0x10000, "bit 17"),
    (f"{DTDX}.tdAttributes", "0100000000000000", "DEBUG"),
    (f"{DTDX}.mrSeams", [], "at least one"),
    (f"{DSNP0}.minimumTcb.fmc", 1, "Turin only"),
    # schema version
    (f"{P}.schemaVersion", "2.0", "not supported"),
    (f"{P}.schemaVersion", "1", "MAJOR.MINOR"),
    (f"{P}.schemaVersion", 1, "expected a string"),
]


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    TAMPERS,
    ids=[f"{t[0]}={'<deleted>' if t[1] is DELETE else repr(t[1])}"[:70] for t in TAMPERS],
)
def test_tampered_field_is_refused_with_its_path(path: str, value: Any, needle: str) -> None:
    doc = example_statement()
    _set(doc, path, value)
    with pytest.raises(ParseError) as info:
        parse_statement(doc, source="t.json")
    assert needle in info.value.reason
    field = info.value.location.field or ""
    # the error points at the tampered field or one of its parents
    assert path.startswith(field) or field.startswith(path), (field, path)


def test_duplicate_shape_entries_refused() -> None:
    doc = example_statement()
    snp = doc["predicate"]["referenceValues"]["snp"]
    snp.append(copy.deepcopy(snp[0]))
    snp[-1]["measurement"] = "cd" * 48
    with pytest.raises(ParseError, match="duplicates"):
        parse_statement(doc, source="t.json")


def test_same_shape_other_product_is_fine() -> None:
    doc = example_statement()
    snp = doc["predicate"]["referenceValues"]["snp"]
    snp.append(copy.deepcopy(snp[0]))
    snp[-1]["product"] = "Genoa"
    parse_statement(doc, source="t.json")


def test_nothing_to_reference_is_refused() -> None:
    doc = example_statement()
    doc["predicate"]["referenceValues"] = {}
    del doc["predicate"]["models"]
    with pytest.raises(ParseError, match="no reference value"):
        parse_statement(doc, source="t.json")


def test_newer_minor_version_is_refused_unless_read_for_display() -> None:
    """Behaviour change (issue 11, fail closed): 1.x newer than known was read as is."""
    doc = example_statement()
    doc["predicate"]["schemaVersion"] = "1.7"
    doc["predicate"]["newSection"] = {"x": 1}
    with pytest.raises(NotUnderstood) as info:
        parse_statement(doc, source="t.json")
    assert info.value.code == "manifest.schema.newer"
    assert info.value.location.field == "$.predicate.schemaVersion"
    statement = parse_statement(doc, source="t.json", strict=False)
    assert statement.predicate.schema_version == "1.7"
    assert statement.to_json() == doc


def test_typed_access() -> None:
    statement = parse_statement(example_statement(), source="t.json")
    pred = statement.predicate
    assert pred.release.created.tzinfo is not None
    snp = pred.reference_values.of(model_snp.KIND)
    assert snp
    assert snp[0].product is SnpProduct.MILAN
    assert pred.declared is not None
    milan = pred.declared.for_product(SnpProduct.MILAN)
    assert milan is not None
    assert milan.minimum_tcb.microcode == 115
    assert pred.declared.for_product(SnpProduct.GENOA) is None


def test_parse_predicate_alone() -> None:
    doc = example_statement()
    predicate = parse_predicate(doc["predicate"], source="p.json", path="$")
    assert predicate.to_json() == doc["predicate"]
    with pytest.raises(ParseError, match=r"\$\.release"):
        parse_predicate({**doc["predicate"], "release": 1}, source="p.json", path="$")


def test_published_schema_is_valid_and_accepts_the_golden() -> None:
    import json

    from jsonschema import Draft202012Validator

    from refkit.manifests.schema import schema_text

    schema = json.loads(schema_text())
    Draft202012Validator.check_schema(schema)
    predicate = example_statement()["predicate"]
    assert list(Draft202012Validator(schema).iter_errors(predicate)) == []
    predicate["release"]["created"] = "yesterday"
    assert list(Draft202012Validator(schema).iter_errors(predicate))
