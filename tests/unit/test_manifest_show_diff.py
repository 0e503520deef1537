"""`refkit manifest show` and `diff`: library diff semantics and CLI exit codes/messages."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import ExitCode
from refkit.manifests.canonical import canonical_dumps
from refkit.manifests.diff import ChangeKind, diff_statements
from refkit.manifests.statement import parse_statement
from tests.manifest_support import ASSETS, example_statement

RELEASE = ASSETS / "release.json"


def _write(tmp: Path, name: str, doc: dict[str, Any]) -> Path:
    path = tmp / name
    path.write_bytes(canonical_dumps(doc))
    return path


def _changed() -> dict[str, Any]:
    doc = example_statement()
    pred = doc["predicate"]
    pred["release"]["version"] = "1.1.0"
    doc["subject"][1]["digest"]["sha256"] = "ee" * 32  # ghcr.io/example/vllm
    doc["subject"].append(
        {"name": "new.img", "digest": {"sha256": "ff" * 32}, "annotations": {"kind": "other"}}
    )
    pred["referenceValues"]["snp"][0]["measurement"] = "cc" * 48
    del pred["referenceValues"]["snp"][1]
    pred["declared"]["snp"][0]["minimumTcb"]["microcode"] = 120
    pred["models"][0]["verity"]["rootHash"] = "dd" * 32
    pred["x-new"] = True
    return doc


def test_identical_has_no_changes() -> None:
    a = parse_statement(example_statement(), source="a")
    result = diff_statements(a, a)
    assert not result.differs
    assert result.to_json()["identical"] is True


def test_reordering_is_not_a_change() -> None:
    doc = example_statement()
    other = copy.deepcopy(doc)
    other["subject"].reverse()
    other["predicate"]["referenceValues"]["snp"].reverse()
    a = parse_statement(doc, source="a")
    b = parse_statement(other, source="b")
    assert not diff_statements(a, b).differs


def test_changes_are_grouped() -> None:
    a = parse_statement(example_statement(), source="a")
    b = parse_statement(_changed(), source="b")
    result = diff_statements(a, b)
    sections = result.by_section()
    assert list(sections) == [
        "release",
        "artifacts",
        "measurements",
        "platform",
        "models",
        "other",
    ]
    (release,) = sections["release"]
    assert (release.field, release.before, release.after) == ("version", "1.0.0", "1.1.0")
    kinds = {(c.item, c.kind) for c in sections["artifacts"]}
    assert ("new.img", ChangeKind.ADDED) in kinds
    assert ("ghcr.io/example/vllm", ChangeKind.CHANGED) in kinds
    assert any(
        c.kind is ChangeKind.REMOVED and "8 vCPU" in c.item for c in sections["measurements"]
    )
    assert any(c.field == "measurement" for c in sections["measurements"])
    assert sections["platform"][0].field == "minimumTcb.microcode"
    assert sections["models"][0].field == "verity.rootHash"
    assert sections["other"][0].item == "predicate.x-new"
    doc = result.to_json()
    assert doc["identical"] is False
    assert doc["old"] == "example-inference-service 1.0.0"
    assert doc["new"] == "example-inference-service 1.1.0"


def test_cli_diff_exit_codes(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    a = _write(tmp_path, "a.json", example_statement())
    b = _write(tmp_path, "b.json", _changed())
    r = run_cli("manifest", "diff", a, a)
    assert r.code == 0
    assert "no differences" in r.stdout
    r = run_cli("manifest", "diff", a, a, "--exit-code")
    assert r.code == 0
    r = run_cli("manifest", "diff", a, b)
    assert r.code == 0
    assert "artifacts:" in r.stdout
    assert "~ example-inference-service" not in r.stdout
    assert "+ new.img" in r.stdout
    r = run_cli("manifest", "diff", a, b, "--exit-code")
    assert r.code == ExitCode.VERIFICATION_FAILED
    r = run_cli("manifest", "diff", a, b, "--json")
    assert r.code == 0
    doc = json.loads(r.stdout)
    assert set(doc["sections"]) >= {"release", "artifacts", "measurements"}


def test_cli_diff_bad_input_is_2(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    a = _write(tmp_path, "a.json", example_statement())
    bad = tmp_path / "bad.json"
    bad.write_text('{"_type": 1, "_type": 2}', encoding="utf-8")
    r = run_cli("manifest", "diff", a, bad, "--exit-code")
    assert r.code == ExitCode.BAD_INPUT
    assert "duplicate JSON key" in r.stderr
    r = run_cli("manifest", "diff", a, tmp_path / "missing.json")
    assert r.code == ExitCode.BAD_INPUT
    assert "not found" in r.stderr


def test_cli_show_table(run_cli: Callable[..., Any]) -> None:
    r = run_cli("manifest", "show", RELEASE)
    assert r.code == 0
    for needle in (
        "Release",
        "example-inference-service",
        "SEV-SNP launch measurements",
        "TDX measurements",
        "RTMR3",
        "Declared SEV-SNP platform values",
        "Declared TDX platform values",
        "MRSEAM",
        "all-MiniLM-L6-v2",
        "Provenance",
        "input ovmf",
    ):
        assert needle in r.stdout, needle
    assert r.stderr == ""


def test_cli_show_json(run_cli: Callable[..., Any]) -> None:
    r = run_cli("manifest", "show", RELEASE, "--json")
    assert r.code == 0
    doc = json.loads(r.stdout)
    assert doc["statement"] == json.loads(RELEASE.read_bytes())
    assert doc["fromBundle"] is False
    assert doc["signatureVerified"] is False
    assert doc["canonical"] is True
    assert doc["unrecognized"] == []


def test_cli_show_notes_non_canonical_and_unknown(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    doc = example_statement()
    doc["predicate"]["x-extra"] = 1
    path = tmp_path / "pretty.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    r = run_cli("manifest", "show", path)
    assert r.code == 0
    assert "not in canonical form" in r.stderr
    assert "x-extra" in r.stdout


def test_cli_show_other_predicate_names_it(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    doc = example_statement()
    doc["predicateType"] = "https://slsa.dev/provenance/v1"
    path = _write(tmp_path, "slsa.json", doc)
    r = run_cli("manifest", "show", path)
    assert r.code == ExitCode.BAD_INPUT
    assert "https://slsa.dev/provenance/v1" in r.stderr


def test_cli_show_bundle(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    from refkit.manifests.signing import keys
    from refkit.manifests.signing import sign as signing

    key = keys.generate(keys.KeyType.ED25519)
    bundle = signing.sign_manifest(RELEASE.read_bytes(), source="release.json", key=key)
    path = tmp_path / "release.bundle.json"
    path.write_bytes(bundle)
    r = run_cli("manifest", "show", path)
    assert r.code == 0, r.stderr
    assert "NOT verified" in r.stderr
    assert "example-inference-service" in r.stdout
    r = run_cli("manifest", "show", path, "--json")
    doc = json.loads(r.stdout)
    assert doc["fromBundle"] is True
    assert doc["signatureVerified"] is False
    assert doc["statement"] == json.loads(RELEASE.read_bytes())
    r = run_cli("manifest", "diff", path, RELEASE, "--exit-code")
    assert r.code == 0


# ----------------------------------------------------------------------------- issue 11


def _many_vcpus(count: int, *, measurement_of: Any = None) -> dict[str, Any]:
    """The golden manifest with one SNP entry per vCPU count 1..count (same inputs)."""
    import hashlib

    doc = example_statement()
    snp = doc["predicate"]["referenceValues"]["snp"]
    template = next(e for e in snp if "inputs" in e)
    entries = []
    for vcpus in range(1, count + 1):
        entry = copy.deepcopy(template)
        entry["shape"]["vcpus"] = vcpus
        # a stand-in value per count: sha384 of the count's decimal text
        entry["measurement"] = (measurement_of or (lambda v: hashlib.sha384(b"%d" % v)))(
            vcpus
        ).hexdigest()
        entries.append(entry)
    doc["predicate"]["referenceValues"]["snp"] = entries
    return doc


def test_cli_show_64_vcpus_groups_and_keeps_hex_whole(
    tmp_path: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was 1,547 lines at 80 columns with wrapped measurements and inputs per vCPU count."""
    monkeypatch.setenv("COLUMNS", "80")
    path = tmp_path / "m.json"
    doc = _many_vcpus(64)
    path.write_bytes(canonical_dumps(doc))
    r = run_cli("manifest", "show", path)
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    for entry in doc["predicate"]["referenceValues"]["snp"]:
        # `show | grep <measurement>` finds each one, on its vCPU count's row
        hits = [line for line in lines if entry["measurement"] in line]
        assert hits == [f"  {entry['shape']['vcpus']:<5}  {entry['measurement']}"]
    ovmf = doc["predicate"]["referenceValues"]["snp"][0]["inputs"]["ovmf"]["sha256"]
    assert sum(ovmf in line for line in lines) == 2  # the subject, and the shared input once
    hex_free = [line for line in lines if not any(len(w) >= 64 for w in line.split())]
    assert all(len(line) <= 80 for line in hex_free)  # only whole hex values pass 80
    assert len(lines) <= 160, len(lines)  # 156 with this manifest (was 1,547)


def test_diff_sorts_vcpu_counts_as_numbers() -> None:
    """Was 1, 10, 11, ..., 2 (text order)."""
    import hashlib

    old = parse_statement(_many_vcpus(12), source="old")
    new = parse_statement(
        _many_vcpus(12, measurement_of=lambda v: hashlib.sha384(b"new %d" % v)), source="new"
    )
    items = [c.item for c in diff_statements(old, new).changes if c.section == "measurements"]
    counts = [int(item.split(" vCPU")[0].rsplit(" ", 1)[1]) for item in items]
    assert counts == list(range(1, 13))


def test_show_reads_a_newer_minor_with_a_warning(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    doc = example_statement()
    doc["predicate"]["schemaVersion"] = "1.9"
    doc["predicate"]["referenceValues"]["snp"][0]["minimumSvnNew"] = 3
    path = tmp_path / "newer.json"
    path.write_bytes(canonical_dumps(doc))
    r = run_cli("manifest", "show", path)
    assert r.code == 0, r.stderr
    assert "newer than this refkit knows" in r.stderr
    assert "referenceValues.snp[0].minimumSvnNew" in r.stdout
    r = run_cli("manifest", "diff", path, path)
    assert r.code == 0, r.stderr


@pytest.mark.parametrize(
    ("small", "large"),
    [(2_000, 20_000), pytest.param(6_000, 60_000, marks=pytest.mark.slow)],
)
def test_show_diff_export_scale_linearly(tmp_path: Path, small: int, large: int) -> None:
    """Issue 11: 60k SNP values (42 MB) took 90 s to show, 58 s to diff, 26 s to export.

    Compares N with 10 N values: linear work takes ~10 times longer; the quadratic parts
    this guards against (list membership per value, GC walks over every object, rich
    tables) took 100 times longer. The bound leaves room for a busy machine. The 60k case
    parses 40 MB of JSON (several seconds in Python), so it is marked slow.
    """
    import hashlib
    import time

    from refkit.cli.manifest.show import render, views
    from refkit.manifests.exports import rvps
    from refkit.manifests.files import read_statement_file

    doc = example_statement()
    template = json.dumps(doc["predicate"]["referenceValues"]["snp"][0])
    template = template.replace('"vcpus": 4', '"vcpus": %(vcpus)d')
    template = template.replace('"memoryMiB": 16384', '"memoryMiB": %(memory)d')
    measurement = doc["predicate"]["referenceValues"]["snp"][0]["measurement"]
    template = template.replace(measurement, "%(measurement)s")

    def run(count: int) -> float:
        entries = ",".join(
            template
            % {
                "vcpus": i % 4000 + 1,
                "memory": 1024 * (i // 4000 + 1),
                "measurement": hashlib.sha384(b"%d" % i).hexdigest(),
            }
            for i in range(count)
        )
        doc["predicate"]["referenceValues"]["snp"] = []
        text = canonical_dumps(doc).decode()
        text = text.replace('"snp":[]', f'"snp":[{entries}]', 1)
        path = tmp_path / f"{count}.json"
        path.write_text(text, encoding="utf-8")
        start = time.perf_counter()
        loaded = read_statement_file(path)
        assert len(loaded.statement.predicate.reference_values.entries()) > count
        render(views(loaded))
        diff_statements(loaded.statement, loaded.statement)
        rvps.message(loaded.statement)
        return time.perf_counter() - start

    first = run(small)
    second = run(large)
    assert second < 25 * first, (first, second)
