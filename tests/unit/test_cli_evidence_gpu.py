"""`refkit evidence` with GPU evidence, where the real vectors cannot say it: the positive
CPU-GPU binding (a fake SNP family whose REPORT_DATA is the binding value), the RIM fetch
with an in-memory opener (no network), the GPU input's and receipt's bad inputs, and
fuzzing of the receipt's GPU section."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError
from refkit.evidence.families import Blob
from refkit.evidence.receipt import parse_receipt
from refkit.evidence.verify import GpuInput, VerifyOptions, verify_evidence
from tests import gpu_support as gs
from tests.evidence_support import (
    install_fakes,
    make_evidence,
    public_pem,
    signed_manifest,
    vcek_key,
)
from tests.shared import FUZZ_EXAMPLES

Run = Callable[..., Any]
pytestmark = pytest.mark.vectors
AT = "2025-03-01T00:00:00Z"  # PROVENANCE.md, nvidia/


def _h100(tmp_path: Path) -> list[Any]:
    folder = tmp_path / "rims"
    folder.mkdir(exist_ok=True)
    for name in (gs.DRIVER_RIM, gs.VBIOS_RIM):
        shutil.copy(gs.nv(name), folder)
    report, chain = gs.H100_545
    return ["--gpu-evidence", gs.nv(report), "--gpu-certs", gs.nv(chain), "--rims", folder]


def _binding_of_h100() -> bytes:
    # Computed here from the definition (docs/evidence-gpu.md), independently of refkit:
    # SHA-512 over the sorted SHA-256 digests of the report bytes (hex text decoded).
    raw = bytes.fromhex(gs.read(gs.H100_545[0]).decode().strip())
    return hashlib.sha512(hashlib.sha256(raw).digest()).digest()


def _binding(pred: dict[str, Any]) -> None:
    pred["referenceValues"]["gpu"] = [
        {"model": "H100", "ccMode": "on", "driverVersions": ["545.00"],
         "binding": "report-data-sha512"}
    ]  # fmt: skip


def test_positive_binding_with_a_fake_cpu_family(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fakes(monkeypatch)
    options = signed_manifest(tmp_path, _binding)
    cpu = tmp_path / "cpu.bin"
    cpu.write_bytes(make_evidence("snp", report_data=_binding_of_h100()))
    vcek = tmp_path / "vcek.pem"
    vcek.write_bytes(public_pem(vcek_key()))
    r = run_cli("evidence", "verify", cpu, "--vcek", vcek, *_h100(tmp_path),
                *options, "--gpu-nonce", gs.NONCE_545.hex(), "--at", AT, "--json")  # fmt: skip
    doc = json.loads(r.stdout)
    assert r.code == 0, r.stdout + r.stderr
    codes = [x["code"] for x in doc["results"]]
    assert "gpu.binding.match" in codes
    assert "fake.measurement.match" in codes
    assert doc["facts"]["gpu"]["bindingDeclared"] is True
    assert doc["facts"]["gpu"]["expectedReportData"] == _binding_of_h100().hex()
    # One byte of REPORT_DATA changed: the binding fails, and nothing else does.
    other = bytearray(_binding_of_h100())
    other[0] ^= 1
    cpu.write_bytes(make_evidence("snp", report_data=bytes(other)))
    r = run_cli("evidence", "verify", cpu, "--vcek", vcek, *_h100(tmp_path),
                *options, "--gpu-nonce", gs.NONCE_545.hex(), "--at", AT, "--json")  # fmt: skip
    assert r.code == 1
    assert [x["code"] for x in json.loads(r.stdout)["results"] if not x["ok"]] == [
        "gpu.binding.mismatch"
    ]


def test_matching_report_data_without_a_declared_binding_passes_as_a_match(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fakes(monkeypatch)
    cpu = tmp_path / "cpu.bin"
    cpu.write_bytes(make_evidence("snp", report_data=_binding_of_h100()))
    vcek = tmp_path / "vcek.pem"
    vcek.write_bytes(public_pem(vcek_key()))
    r = run_cli("evidence", "verify", cpu, "--vcek", vcek, *_h100(tmp_path), "--at", AT, "--json")
    assert r.code == 0, r.stdout + r.stderr
    assert "gpu.binding.match" in [x["code"] for x in json.loads(r.stdout)["results"]]


# ---------------------------------------------------------------------------------------
# fetch: NVIDIA's RIM service through a fake opener


class _FakeOpener:
    calls: ClassVar[list[str]] = []
    answers: ClassVar[dict[str, bytes]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        del args, kwargs

    def get(self, url: str, *, limit: int) -> bytes:
        type(self).calls.append(url)
        rim_id = url.rsplit("/", 1)[-1]
        if rim_id not in self.answers:
            raise OSError("HTTP 404")
        return self.answers[rim_id][:limit]


@pytest.fixture
def opener(monkeypatch: pytest.MonkeyPatch) -> type[_FakeOpener]:
    from refkit.evidence.gpu import fetch as gpu_fetch

    _FakeOpener.calls = []
    _FakeOpener.answers = {
        rim_id: json.dumps({"id": rim_id, "rim": base64.b64encode(gs.read(name)).decode()}).encode()
        for rim_id, name in (
            ("NV_GPU_DRIVER_GH100_545.00", gs.DRIVER_RIM),
            ("NV_GPU_VBIOS_1010_0200_882_96005E0001", gs.VBIOS_RIM),
            ("NV_SWITCH_BIOS_5612_0002_890_9610550001", gs.SWITCH_RIM_2024),
        )
    }
    monkeypatch.setattr(gpu_fetch, "UrllibOpener", _FakeOpener)
    return _FakeOpener


def test_fetch_rims_named_by_a_report_then_verify_offline(
    run_cli: Run, tmp_path: Path, opener: type[_FakeOpener]
) -> None:
    folder = tmp_path / "rims"
    # Without its chain the report names its VBIOS RIM only (the chip is read from the
    # leaf certificate); with it, the driver RIM too.
    r = run_cli("evidence", "fetch", gs.nv(gs.H100_545[0]), "--rims", folder, "--json")
    assert r.code == 0, r.stdout + r.stderr
    assert [x["rimId"] for x in json.loads(r.stdout)["rims"]] == [
        "NV_GPU_VBIOS_1010_0200_882_96005E0001"
    ]
    shutil.rmtree(folder)
    opener.calls.clear()
    r = run_cli("evidence", "fetch", gs.nv(gs.H100_545[0]), "--gpu-certs",
                gs.nv(gs.H100_545[1]), "--rims", folder, "--json")  # fmt: skip
    assert r.code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert [x["rimId"] for x in doc["rims"]] == [
        "NV_GPU_DRIVER_GH100_545.00",
        "NV_GPU_VBIOS_1010_0200_882_96005E0001",
    ]
    assert all(x["fetched"] for x in doc["rims"])
    assert len(opener.calls) == 2
    # A second fetch finds them in the folder and does not ask again.
    r = run_cli("evidence", "fetch", gs.nv(gs.H100_545[0]), "--gpu-certs",
                gs.nv(gs.H100_545[1]), "--rims", folder)  # fmt: skip
    assert r.code == 0
    assert len(opener.calls) == 2
    assert "(already there)" in r.stdout
    r = run_cli("evidence", "verify", "--gpu-evidence", gs.nv(gs.H100_545[0]), "--gpu-certs",
                gs.nv(gs.H100_545[1]), "--rims", folder, "--at", AT)  # fmt: skip
    assert r.code == 0, r.stdout + r.stderr


def test_fetch_by_rim_id_into_the_cache(
    run_cli: Run, tmp_path: Path, opener: type[_FakeOpener]
) -> None:
    rim_id = "NV_SWITCH_BIOS_5612_0002_890_9610550001"
    r = run_cli("evidence", "fetch", "--rim-id", rim_id, "--cache", tmp_path)
    assert r.code == 0, r.stdout + r.stderr
    path = tmp_path / "rims" / f"{rim_id}.swidtag"
    assert path.read_bytes() == gs.read(gs.SWITCH_RIM_2024)
    # The switch report names no RIM id: it needs --rim-id.
    r = run_cli("evidence", "fetch", gs.nv(gs.LS10[0]), "--cache", tmp_path)
    assert r.code == 2
    assert "--rim-id" in r.stderr


def test_fetch_failures(run_cli: Run, tmp_path: Path, opener: type[_FakeOpener]) -> None:
    r = run_cli("evidence", "fetch", "--rim-id", "NV_GPU_DRIVER_GH100_1.2.3", "--rims", tmp_path)
    assert r.code == 3  # the service does not answer for it
    assert "Traceback" not in r.stderr
    r = run_cli("evidence", "fetch", "--rim-id", "../../etc/passwd", "--rims", tmp_path)
    assert r.code == 2
    assert run_cli("evidence", "fetch").code == 2
    r = run_cli("evidence", "fetch", "--rim-id", "NV_GPU_DRIVER_GH100_545.00", "--crl")
    assert r.code == 2


# ---------------------------------------------------------------------------------------
# The library's GPU input


WHEN = datetime(2025, 3, 1, tzinfo=UTC)


def test_gpu_input_rules() -> None:
    report = Blob("r.txt", gs.read(gs.H100_545[0]))
    chain = Blob("c.pem", gs.read(gs.H100_545[1]))
    with pytest.raises(InputError):
        GpuInput(evidence=())
    with pytest.raises(InputError):
        GpuInput(evidence=(report,), chains=(chain, chain))
    with pytest.raises(InputError):
        verify_evidence(None, source="x", options=VerifyOptions(at=WHEN))
    one = GpuInput(evidence=(report, report), chains=(chain,))
    assert one.chain_for(1) == chain
    assert len(one.devices()) == 2


def _receipt(tmp_path: Path, run_cli: Run) -> dict[str, Any]:
    path = tmp_path / "r.json"
    r = run_cli("evidence", "verify", *_h100(tmp_path), "--at", AT, "--receipt", path)
    assert r.code == 0, r.stdout + r.stderr
    doc: dict[str, Any] = json.loads(path.read_bytes())
    return doc


def test_receipt_gpu_section_is_read_strictly(run_cli: Run, tmp_path: Path) -> None:
    doc = _receipt(tmp_path, run_cli)
    changes: tuple[Callable[[dict[str, Any]], Any], ...] = (
        lambda d: d["gpu"].update(extra=1),
        lambda d: d["gpu"].update(nonce="zz"),
        lambda d: d["gpu"].update(evidence=[]),
        lambda d: d.pop("gpu"),
        lambda d: d.pop("subject"),
    )
    for change in changes:
        bad = json.loads(json.dumps(doc))
        change(bad)
        with pytest.raises(ParseError):
            parse_receipt(json.dumps(bad).encode(), source="r.json")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(key=st.sampled_from(["evidence", "chains", "rims", "ocsp", "nonce"]), value=_JSON)
def test_fuzz_receipt_gpu_fields(
    run_cli: Run, tmp_path_factory: pytest.TempPathFactory, key: str, value: Any
) -> None:
    doc = _FUZZ_DOC.get("doc")
    if doc is None:
        doc = _FUZZ_DOC["doc"] = _receipt(tmp_path_factory.mktemp("fuzz"), run_cli)
    bad = json.loads(json.dumps(doc))
    bad["gpu"][key] = value
    with contextlib.suppress(ParseError, InputError):
        parse_receipt(json.dumps(bad).encode(), source="r.json")


_FUZZ_DOC: dict[str, Any] = {}


def test_one_verifier_serves_many_threads_and_reuses_its_gpu_verifier() -> None:
    import threading

    from refkit.evidence.verify import EvidenceVerifier

    gpu = GpuInput(
        evidence=(Blob("r.txt", gs.read(gs.H100_545[0])),),
        chains=(Blob("c.pem", gs.read(gs.H100_545[1])),),
        rims=(Blob("d", gs.read(gs.DRIVER_RIM)), Blob("v", gs.read(gs.VBIOS_RIM))),
        nonce=gs.NONCE_545,
    )
    verifier = EvidenceVerifier()
    options = VerifyOptions(at=WHEN, gpu=gpu)
    first = verifier.verify(None, source="gpus", options=options)
    assert first.ok
    outcomes: list[Any] = []

    def work() -> None:
        for _ in range(3):
            outcomes.append(verifier.verify(None, source="gpus", options=options))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 12
    assert all(o.verdict.to_json() == first.verdict.to_json() for o in outcomes)
    assert len(verifier._gpu_verifiers) == 1  # one time, one RIM set: one cached verifier


def test_rims_folder_skips_files_that_are_no_rims(run_cli: Run, tmp_path: Path) -> None:
    args = _h100(tmp_path)
    (tmp_path / "rims" / "big.bin").write_bytes(b"\0" * (5 << 20))
    (tmp_path / "rims" / "notes.txt").write_text("RIMs fetched on 2025-02-01\n")
    r = run_cli("evidence", "verify", *args, "--at", AT)
    assert r.code == 0, r.stdout + r.stderr
