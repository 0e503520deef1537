"""`refkit manifest build --add-snp`: measured values go into the manifest unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError
from refkit.manifests.authoring import natural_key
from refkit.manifests.measured import add_snp_values, snp_values
from refkit.manifests.model import snp as snp_kind
from refkit.manifests.statement import load_statement
from tests import firmware_factory as ff

Runner = Callable[..., Any]

RELEASE_YAML = """\
schemaVersion: "1.0"
release:
  name: demo
  version: 1.2.3
  created: "2026-01-01T00:00:00Z"
  source: {repository: https://example.org/r, commit: "0123456789abcdef0123456789abcdef01234567"}
"""


@pytest.fixture
def measured(tmp_path: Path, run_cli: Runner) -> Path:
    ovmf = tmp_path / "OVMF.fd"
    ovmf.write_bytes(ff.Image(pages=8).build())
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"kernel bytes")
    r = run_cli(
        "measure",
        "snp",
        "--mode",
        "snp",
        "--vcpus",
        "1-3,16",
        "--vcpu-type",
        "EPYC-Genoa",
        "--ovmf",
        ovmf,
        "--kernel",
        kernel,
        "--append",
        "ro",
        "--json",
    )
    assert r.code == 0, r.stderr
    out = tmp_path / "snp.json"
    out.write_text(r.stdout)
    return out


def test_build_with_measured_values(tmp_path: Path, run_cli: Runner, measured: Path) -> None:
    yaml_file = tmp_path / "release.yaml"
    yaml_file.write_text(RELEASE_YAML)
    out = tmp_path / "release.json"
    r = run_cli("manifest", "build", yaml_file, "--add-snp", measured, "-o", out)
    assert r.code == 0, r.stderr
    statement = load_statement(out.read_bytes(), source="release.json", require_canonical=True)
    doc = json.loads(measured.read_text())
    snp = statement.predicate.of(snp_kind.KIND)
    assert snp
    # every measurement is there, unchanged, in vCPU order
    assert [(e.shape.vcpus, e.measurement) for e in snp] == [
        (m["vcpus"], m["measurement"]) for m in doc["measurements"]
    ]
    first = snp[0]
    assert first.product == "Genoa"
    assert first.vcpu_signature == int(doc["vcpuSignature"], 16)
    assert first.inputs is not None
    assert first.inputs["kernel"].to_json() == {"sha256": doc["kernel"]["sha256"]}
    assert first.inputs["cmdline"].to_json() == {
        "sha256": doc["kernelHashesTable"]["cmdlineSha256"]
    }
    names = {s.name: s.digest.to_json() for s in statement.subjects}
    assert names["vmlinuz"] == {"sha256": doc["kernel"]["sha256"]}
    assert names["OVMF.fd"]["sha384"] == doc["firmware"]["sha384"]


def test_conflicting_subject_is_refused(measured: Path) -> None:
    doc = json.loads(measured.read_text())
    authoring = {
        "subjects": [{"name": "vmlinuz", "kind": "kernel", "digest": {"sha256": "00" * 32}}]
    }
    with pytest.raises(InputError, match="other digests"):
        add_snp_values(authoring, doc, source="snp.json")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(mode="snp:ovmf-hash"), "no launch measurement"),
        (lambda d: d["tool"].update(name="other"), "not a refkit measurement"),
        (lambda d: d.pop("firmware"), "missing"),
        (lambda d: d.update(measurements=[]), "holds no measurement"),
        (lambda d: d["measurements"][0].update(vcpus="4"), "expected an integer"),
    ],
)
def test_bad_measurement_documents(measured: Path, mutate: Any, message: str) -> None:
    doc = json.loads(measured.read_text())
    mutate(doc)
    with pytest.raises(ParseError, match=message):
        snp_values(doc, source="snp.json")


@given(st.lists(st.text(alphabet="ab 0123456789", max_size=8), min_size=2, max_size=8))
def test_natural_order_is_total_and_input_independent(texts: list[str]) -> None:
    # the point is that input order cannot matter, which ruff assumes
    assert sorted(texts, key=natural_key) == sorted(texts[::-1], key=natural_key)  # noqa: C415
    assert sorted(["snp 32 vCPU", "snp 4 vCPU", "snp 8 vCPU"], key=natural_key) == [
        "snp 4 vCPU",
        "snp 8 vCPU",
        "snp 32 vCPU",
    ]
