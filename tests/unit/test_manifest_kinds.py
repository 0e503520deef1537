"""The kinds registry (issue 11 item 2, docs/decisions/0007-manifest-kinds.md).

- every kind the JSON Schema names is registered, and every registered kind is in it;
- per kind, parse -> JSON -> parse is the identity (hypothesis);
- a kind defined in one place (here: a test-only module-like block) is read, written,
  normalised, shown and diffed with no per-kind code anywhere else.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refkit.errors import NotUnderstood
from refkit.manifests.authoring import normalise
from refkit.manifests.diff import diff_statements
from refkit.manifests.model import KINDS, Kind, View
from refkit.manifests.model.kind import grouped
from refkit.manifests.model.registry import registered
from refkit.manifests.schema import schema_text
from refkit.manifests.statement import parse_statement
from refkit.reader import Obj
from tests.manifest_support import example_statement


def _schema_kinds() -> set[str]:
    schema = json.loads(schema_text())
    props = schema["$defs"]
    out = {f"referenceValues.{k}" for k in props["referenceValues"]["properties"]}
    out |= {f"declared.{k}" for k in props["declared"]["properties"]}
    out |= {k for k, v in schema["properties"].items() if v.get("type") == "array"}
    return out


def test_registry_covers_every_kind_the_schema_names() -> None:
    assert {k.path for k in KINDS} == _schema_kinds()


# ----------------------------------------------------------------------------- per kind

H = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKEN = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+:-]{0,11}", fullmatch=True)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=8)


def hexs(size: int) -> st.SearchStrategy[str]:
    return st.binary(min_size=size, max_size=size).map(bytes.hex)


DIGESTS = st.fixed_dictionaries({"sha256": hexs(32)}, optional={"sha384": hexs(48)})
SHAPE = st.fixed_dictionaries(
    {"vcpus": st.integers(1, 4096), "vmm": st.fixed_dictionaries({"type": st.just("qemu")})},
    optional={"memoryMiB": st.integers(1, 2**20), "gpus": st.integers(0, 8)},
)
INPUTS = st.dictionaries(TOKEN, DIGESTS, max_size=2)
TOOL = st.fixed_dictionaries({"name": TOKEN, "version": TOKEN})
LOG = st.fixed_dictionaries({"digest": DIGESTS}, optional={"name": TEXT, "uri": TEXT})
COMPUTED = {"inputs": INPUTS, "computedBy": TOOL}

ENTRIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "referenceValues.snp": st.fixed_dictionaries(
        {
            "shape": SHAPE,
            "measurement": hexs(48),
            "mode": st.sampled_from(["snp", "seves", "sev"]),
            "guestFeatures": st.integers(0, 2**53 - 1),
        },
        optional={
            "product": st.sampled_from(["Milan", "Genoa", "Turin"]),
            "vcpuType": TOKEN,
            "vcpuSignature": st.integers(0, 2**32 - 1),
            **COMPUTED,
        },
    ),
    "referenceValues.tdx": st.fixed_dictionaries(
        {
            "shape": SHAPE,
            "mrtd": hexs(48),
            "rtmrs": st.dictionaries(st.sampled_from("0123"), hexs(48), min_size=1)
            | st.lists(hexs(48), min_size=4, max_size=4),
        },
        optional={"eventLog": LOG, **COMPUTED},
    ),
    "referenceValues.vtpm": st.fixed_dictionaries(
        {
            "bank": st.just("sha256"),
            "pcrs": st.dictionaries(st.integers(0, 23).map(str), hexs(32), min_size=1),
        },
        optional={"shape": SHAPE, "eventLog": LOG, **COMPUTED},
    ),
    "referenceValues.policies": st.fixed_dictionaries(
        {"name": TEXT, "hostData": hexs(32)}, optional={"mrConfigId": hexs(48)}
    ),
    "referenceValues.gpu": st.fixed_dictionaries(
        {"model": TOKEN, "ccMode": st.sampled_from(["on", "off", "devtools", "ppcie"])},
        optional={
            "driverVersions": st.lists(TOKEN, max_size=2),
            "vbiosVersions": st.lists(TOKEN, max_size=2),
            "rimIds": st.lists(TOKEN, max_size=2),
            "rimDigests": st.dictionaries(TOKEN, DIGESTS, max_size=2),
            "measurements": st.dictionaries(
                st.integers(0, 254).map(str), st.lists(hexs(48), min_size=1, max_size=2)
            ),
        },
    ),
    "declared.snp": st.fixed_dictionaries(
        {
            "minimumTcb": st.fixed_dictionaries(
                {k: st.integers(0, 255) for k in ("bootloader", "tee", "snp", "microcode")}
            ),
            "guestPolicy": st.integers(0, 2**26 - 1).map(lambda p: (p | 1 << 17) & ~(1 << 19)),
        },
        optional={
            "product": st.sampled_from(["Milan", "Genoa"]),
            "vmpl": st.integers(0, 3),
            "platformInfo": st.integers(0, 2**53 - 1),
            "minimumMitigationVector": st.integers(0, 2**53 - 1),
            "allowedChipIds": st.lists(hexs(64), max_size=2),
        },
    ),
    "declared.tdx": st.fixed_dictionaries(
        {"mrSeams": st.lists(hexs(48), min_size=1, max_size=2)},
        optional={
            "moduleVersion": TOKEN,
            "xfam": hexs(8),
            "tdAttributes": hexs(8).map(lambda h: "%02x" % (int(h[:2], 16) & 0xFE) + h[2:]),
            "minTcbEvaluationDataNumber": st.integers(0, 2**32 - 1),
            "allowedPiids": st.lists(hexs(16), max_size=2),
        },
    ),
    "models": st.fixed_dictionaries(
        {
            "name": TEXT,
            "source": st.fixed_dictionaries({"repository": TEXT, "revision": TOKEN}),
            "fileDigestRoot": st.fixed_dictionaries(
                {"algorithm": st.just("sha256"), "digest": hexs(32)},
                optional={
                    "method": st.sampled_from(
                        ["model-signing-files", "model-signing-shards", "refkit-files"]
                    )
                },
            ),
        },
        optional={"excludedFiles": st.lists(TEXT, max_size=2)},
    ),
}


def test_every_kind_has_a_strategy() -> None:
    assert set(ENTRIES) == {k.path for k in KINDS}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.path)
@H
@given(data=st.data())
def test_each_kind_round_trips(kind: Kind[Any], data: st.DataObject) -> None:
    raw = data.draw(ENTRIES[kind.path])
    entry = kind.parse(Obj(copy.deepcopy(raw), source="gen", path=f"$.{kind.path}[0]"))
    again = kind.parse(Obj(entry.to_json(), source="gen", path=f"$.{kind.path}[0]"))
    assert again == entry
    assert again.to_json() == entry.to_json()
    assert kind.normalise(kind.normalise(entry)) == kind.normalise(entry)
    assert kind.view([entry]).blocks  # every kind shows something


# ----------------------------------------------------------------------------- a new kind


@dataclass(frozen=True)
class Widget:
    """A made-up reference value: a name and a digest, defined here and nowhere else."""

    name: str
    digests: tuple[str, ...]

    @classmethod
    def parse(cls, obj: Obj) -> Widget:
        out = cls(obj.text("name"), obj.hex_list("digests", 32) or ())
        obj.closed(code="manifest.constraint.unknown")
        return out

    @property
    def key(self) -> str:
        return f"widget {self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "digests": list(self.digests)}


def _view(entries: Sequence[Widget]) -> View:
    return grouped(
        "Widgets",
        entries,
        facts=lambda w: (("widget", w.name),),
        columns=("digest",),
        rows=lambda w: [(d,) for d in w.digests],
    )


WIDGETS: Kind[Widget] = Kind(
    container="referenceValues",
    name="widgets",
    title="Widgets",
    diff_section="measurements",
    parse=Widget.parse,
    view=_view,
    normalise=lambda w: replace(w, digests=tuple(sorted(w.digests))),
)


def _with_widgets(digest: str) -> dict[str, Any]:
    doc = example_statement()
    doc["predicate"]["referenceValues"]["widgets"] = [
        {"name": "b", "digests": [digest, "11" * 32]},
        {"name": "a", "digests": ["22" * 32]},
    ]
    return doc


def test_a_kind_defined_in_one_place_is_read_written_shown_and_diffed() -> None:
    from refkit.cli.manifest.show import render, views
    from refkit.manifests.files import LoadedStatement

    doc = _with_widgets("ff" * 32)
    with pytest.raises(NotUnderstood):  # unknown to this refkit: refused (fail closed)
        parse_statement(copy.deepcopy(doc), source="t.json")
    with registered(WIDGETS):
        old = parse_statement(copy.deepcopy(doc), source="t.json")
        assert old.to_json() == doc
        assert [w.name for w in old.predicate.of(WIDGETS)] == ["b", "a"]
        tidy = normalise(old)
        assert [w.name for w in tidy.predicate.of(WIDGETS)] == ["a", "b"]
        assert tidy.predicate.of(WIDGETS)[1].digests == ("11" * 32, "ff" * 32)
        text = "\n".join(render(views(LoadedStatement(old, "t.json", False, True))))
        assert "Widgets (2)" in text
        assert "ff" * 32 in text.splitlines()[text.splitlines().index("  widget  b") + 2]
        new = parse_statement(_with_widgets("ee" * 32), source="t.json")
        changes = diff_statements(old, new).changes
        assert [(c.section, c.item, c.field) for c in changes] == [
            ("measurements", "widget b", "digests")
        ]
