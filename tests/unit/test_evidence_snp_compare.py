"""SNP evidence against a manifest: end to end with the real gcp-milan-v5 report, the
schema 1.2 fields, and one failing check per changed value."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from refkit.errors import ParseError
from refkit.evidence import snp
from refkit.manifests.model import ReferenceManifest, parse_predicate
from refkit.manifests.schema import validate_predicate
from refkit.measure.cpu import SnpProduct
from refkit.verification import Result
from tests.manifest_support import example_statement
from tests.shared import vector
from tests.snp_evidence_support import AT, real


def _evidence() -> snp.SnpEvidence:
    return snp.parse(vector("snp", "gcp-milan-v5.report.bin").read_bytes(), source="gcp")


def _predicate() -> dict[str, Any]:
    """The golden predicate with its SNP parts replaced by gcp-milan-v5's real values,
    read from the report's bytes at the DOMAIN.md offsets (not through refkit's parser)."""
    data = vector("snp", "gcp-milan-v5.report.bin").read_bytes()
    pred: dict[str, Any] = copy.deepcopy(example_statement()["predicate"])
    pred["referenceValues"]["snp"] = [
        {
            "shape": {"vcpus": 2, "memoryMiB": 8192, "vmm": {"type": "gce"}},
            "measurement": ("ab" * 48),
            "mode": "snp",
            "guestFeatures": 1,
            "product": "Milan",
        },
        {
            "shape": {"vcpus": 4, "memoryMiB": 16384, "vmm": {"type": "gce"}},
            "measurement": data[0x90:0xC0].hex(),
            "mode": "snp",
            "guestFeatures": 1,
            "product": "Milan",
        },
    ]
    pred["referenceValues"]["policies"] = [{"name": "empty", "hostData": data[0xC0:0xE0].hex()}]
    reported = data[0x180:0x188]
    pred["declared"]["snp"] = [
        {
            "product": "Milan",
            "minimumTcb": {
                "bootloader": reported[0],
                "tee": reported[1],
                "snp": reported[6],
                "microcode": reported[7],
            },
            "guestPolicy": int.from_bytes(data[8:16], "little"),
            "vmpl": int.from_bytes(data[0x30:0x34], "little"),
            "platformInfo": int.from_bytes(data[0x40:0x48], "little"),
            "minimumMitigationVector": int.from_bytes(data[0x200:0x208], "little"),
            "allowedChipIds": [data[0x1A0:0x1E0].hex()],
            "allowedIdKeyDigests": [data[0xE0:0x110].hex()],
        }
    ]
    return pred


def _manifest(pred: dict[str, Any]) -> ReferenceManifest:
    validate_predicate(pred, source="t.json")  # the JSON Schema accepts the 1.2 fields
    return parse_predicate(pred, source="t.json")


def _by_code(results: tuple[Result, ...]) -> dict[str, Result]:
    return {r.code: r for r in results}


def test_manifest_of_the_real_values_passes_every_check() -> None:
    results = snp.compare(_evidence(), _manifest(_predicate()))
    assert [r.code for r in results if r.fails] == []
    got = _by_code(results)
    match = got["snp.measurement.match"]
    assert "referenceValues.snp[1]" in match.message
    assert "4 vCPUs" in match.message
    for code in (
        "snp.policy.debug-off",
        "snp.policy.match",
        "snp.minimum-tcb.met",
        "snp.chip-id.allowed",
        "snp.vmpl.match",
        "snp.platform-info.match",
        "snp.mitigation.met",
        "snp.id-key.allowed",
        "snp.host-data.match",
    ):
        assert code in got, code


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(pred: dict[str, Any]) -> None:
        node: Any = pred
        *head, last = path.split("/")
        for key in head:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_set("referenceValues/snp/1/measurement", "cd" * 48), "snp.measurement.mismatch"),
        (_set("referenceValues/policies/0/hostData", "01" * 32), "snp.host-data.mismatch"),
        (_set("declared/snp/0/minimumTcb/microcode", 223), "snp.minimum-tcb.below"),
        (_set("declared/snp/0/minimumTcb/snp", 28), "snp.minimum-tcb.below"),
        (_set("declared/snp/0/vmpl", 1), "snp.vmpl.mismatch"),
        (_set("declared/snp/0/platformInfo", 0x21), "snp.platform-info.mismatch"),
        (_set("declared/snp/0/minimumMitigationVector", 0x1F), "snp.mitigation.below"),
        (_set("declared/snp/0/allowedChipIds", ["00" * 64]), "snp.chip-id.refused"),
        (_set("declared/snp/0/allowedIdKeyDigests", ["01" * 48]), "snp.id-key.refused"),
        (_set("declared/snp/0/allowedAuthorKeyDigests", ["00" * 48]), "snp.author-key.refused"),
        (_set("declared/snp/0/guestPolicy", 0x30000 | 1 << 20), "snp.policy.mismatch"),
        (_set("declared/snp/0/guestPolicy", 0x30105), "snp.policy.mismatch"),
    ],
)
def test_changing_one_value_fails_naming_that_check(
    change: Callable[[dict[str, Any]], None], code: str
) -> None:
    pred = _predicate()
    change(pred)
    results = snp.compare(_evidence(), _manifest(pred))
    assert {r.code for r in results if r.fails} == {code}


def test_policy_mismatch_names_the_bits() -> None:
    pred = _predicate()
    pred["declared"]["snp"][0]["guestPolicy"] = 0x30000 | 1 << 20
    r = _by_code(snp.compare(_evidence(), _manifest(pred)))["snp.policy.mismatch"]
    assert "SINGLE_SOCKET" in r.message
    # The report's policy 0x30000 allows SMT (bit 16): a declared 0x20000 does not.
    pred = _predicate()
    pred["declared"]["snp"][0]["guestPolicy"] = 0x20000
    got = _by_code(snp.compare(_evidence(), _manifest(pred)))
    assert "allows SMT" in got["snp.policy.mismatch"].message


def test_entries_of_another_product_are_not_compared() -> None:
    pred = _predicate()
    for e in pred["referenceValues"]["snp"]:
        e["product"] = "Genoa"
    pred["declared"]["snp"][0]["product"] = "Genoa"
    got = _by_code(snp.compare(_evidence(), _manifest(pred)))
    assert got["snp.measurement.no-reference"].fails
    # Declared values exist, none for this product: fail closed.
    assert got["snp.declared.absent"].fails


def test_a_manifest_without_declared_snp_values_does_not_require_them() -> None:
    pred = _predicate()
    del pred["declared"]["snp"]
    got = _by_code(snp.compare(_evidence(), _manifest(pred)))
    assert not got["snp.declared.absent"].fails
    assert [r.code for r in got.values() if r.fails] == []


def test_debug_guest_fails_unless_the_manifest_allows_debug() -> None:
    """The real milan-v2-b report is a debug guest (policy 0xb0000)."""
    report, vcek, ask_ark = real("milan-v2-b")
    ev = snp.parse(report, source="b")
    assert ev.debug
    # Authenticity is unaffected: the evidence is genuine evidence of a debug guest.
    assert not [r for r in snp.verify(ev, certificates=[vcek, ask_ark], at=AT) if r.fails]
    pred = _predicate()
    got = _by_code(snp.compare(ev, _manifest(pred), product=SnpProduct.MILAN))
    assert got["snp.policy.debug-on"].fails
    pred["declared"]["snp"][0]["debugAllowed"] = True
    got = _by_code(snp.compare(ev, _manifest(pred), product=SnpProduct.MILAN))
    assert "snp.policy.debug-allowed" in got
    assert "snp.policy.debug-on" not in got
    assert "snp.policy.match" in got  # DEBUG is judged by debugAllowed, not the bit check


def test_v2_report_takes_the_product_from_the_vcek() -> None:
    report, vcek, ask_ark = real("milan-v2-a")
    ev = snp.parse(report, source="a")
    pred = _predicate()
    # Without the product, the Milan declared values cannot apply: that fails closed.
    assert _by_code(snp.compare(ev, _manifest(pred)))["snp.declared.absent"].fails
    product = snp.product(ev, certificates=[ask_ark, vcek])
    assert product is SnpProduct.MILAN  # the VCEK's product name is Milan-B0
    got = _by_code(snp.compare(ev, _manifest(pred), product=product))
    assert "snp.declared.absent" not in got
    assert got["snp.mitigation.below"].fails  # a v2 report carries no mitigation vector


# --- schema 1.2 ---------------------------------------------------------------------------


def test_schema_1_2_fields_round_trip() -> None:
    pred = _predicate()
    pred["declared"]["snp"][0]["debugAllowed"] = False
    pred["declared"]["snp"][0]["allowedAuthorKeyDigests"] = ["02" * 48, "01" * 48]
    m = _manifest(pred)
    declared = m.declared.for_product(SnpProduct.MILAN) if m.declared else None
    assert declared is not None
    assert declared.debug_allowed is False
    assert declared.allowed_id_key_digests == ("00" * 48,)
    out = m.to_json()["declared"]["snp"][0]
    assert out["debugAllowed"] is False
    assert out["allowedAuthorKeyDigests"] == ["02" * 48, "01" * 48]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("debugAllowed", "yes", "true or false"),
        ("debugAllowed", None, "true or false"),
        ("allowedIdKeyDigests", ["00" * 47], "47 bytes"),
        ("allowedAuthorKeyDigests", "00" * 48, "list"),
    ],
)
def test_schema_1_2_fields_are_checked(field: str, value: Any, words: str) -> None:
    pred = _predicate()
    pred["declared"]["snp"][0][field] = value
    with pytest.raises(ParseError, match=words):
        parse_predicate(pred, source="t.json")
