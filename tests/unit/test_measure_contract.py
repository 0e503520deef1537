"""The measure -> manifest contract owned by the library, and the bad inputs of issue 11.

- the document ``measure snp --json`` prints is written and read by one module, and the
  manifest converter gives the same values from the result and from the document;
- one set of enums (mode, VMM, product), the product from the vCPU signature or the
  request, never from a CPU-name prefix;
- library messages name inputs, never options;
- bounded reads: ``--add-snp /dev/zero``, ``--kernel /dev/zero``, ``--initrd /dev/zero``;
- strict numbers: ``"guestFeatures": "zz"`` / ``"1_0"``, ``--vcpus 1_2``;
- ``-o`` instead of ``> snp.json``; ``--dump-vmsa`` against planted files and links.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError
from refkit.manifests.measured import add_snp_values, load_measurement, snp_values
from refkit.measure.cpu import (
    CPU_TYPES,
    SnpProduct,
    cpu_signature,
    product_of_signature,
    signature_fields,
)
from refkit.measure.snp import (
    MANIFEST_MODES,
    SevMode,
    SnpRequest,
    VmmType,
    launch,
    measure,
    parse_measured,
)
from tests import firmware_factory as ff

Runner = Callable[..., Any]
BASE = ["measure", "snp", "--mode", "snp", "--vcpu-type", "EPYC-Milan"]


@pytest.fixture
def ovmf(tmp_path: Path) -> Path:
    p = tmp_path / "OVMF.fd"
    p.write_bytes(ff.Image(pages=8).build())
    return p


@pytest.fixture
def kernel(tmp_path: Path) -> Path:
    p = tmp_path / "vmlinuz"
    p.write_bytes(b"MZ" + bytes(3000))
    return p


def _request(ovmf: Path, kernel: Path | bytes, /, **kw: Any) -> SnpRequest:
    base: dict[str, Any] = {
        "mode": SevMode.SNP,
        "ovmf": ovmf,
        "vcpus": (1, 4),
        "vcpu_type": "EPYC-Genoa",
        "kernel": kernel,
        "append": "ro",
        "input_digests": True,
    }
    base.update(kw)
    return SnpRequest(**base)


# -- one document, one converter --------------------------------------------------------------


def test_document_round_trip(ovmf: Path, kernel: Path) -> None:
    result = measure(_request(ovmf, kernel))
    m = parse_measured(json.loads(json.dumps(result.to_json())), source="snp.json")
    assert m.mode is SevMode.SNP
    assert m.vmm is VmmType.QEMU
    assert m.product is SnpProduct.GENOA
    assert m.vcpu_signature == CPU_TYPES["EPYC-Genoa"]
    assert m.guest_features == 1
    assert [(v.vcpus, v.measurement) for v in m.measurements] == [
        (x.vcpus, x.digest.hex()) for x in result.measurements
    ]
    assert m.kernel is not None
    assert result.kernel is not None
    assert m.kernel.digests["sha256"] == result.kernel.digests["sha256"].hex()


def test_converter_same_from_result_and_document(ovmf: Path, kernel: Path) -> None:
    result = measure(_request(ovmf, kernel))
    from_result = snp_values(result, source="x")
    from_doc = snp_values(json.loads(json.dumps(result.to_json())), source="x")
    assert from_result == from_doc
    values, subjects = from_result
    assert [v["shape"] for v in values] == [
        {"vcpus": 1, "vmm": {"type": "qemu"}},
        {"vcpus": 4, "vmm": {"type": "qemu"}},
    ]
    assert {v["product"] for v in values} == {"Genoa"}
    assert {s["kind"] for s in subjects} == {"firmware", "kernel"}
    merged = add_snp_values({}, result, source="measured")
    assert merged["referenceValues"]["snp"] == values


def test_cli_json_is_the_library_document(run_cli: Runner, ovmf: Path, kernel: Path) -> None:
    r = run_cli(*BASE, "--vcpus", "2", "--ovmf", ovmf, "--kernel", kernel, "--json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["vmmType"] == "QEMU"  # sev-snp-measure's spelling, as before
    assert doc["product"] == "Milan"
    assert doc["vcpuType"] == "EPYC-Milan"
    assert parse_measured(doc, source="stdout").product is SnpProduct.MILAN


def _doc(ovmf: Path, kernel: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(measure(_request(ovmf, kernel)).to_json()))
    return doc


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("guestFeatures", "zz", "is not 0x followed by lower-case hex"),
        ("guestFeatures", "1_0", "is not 0x followed by lower-case hex"),
        ("guestFeatures", "0x1_0", "is not 0x followed by lower-case hex"),
        ("guestFeatures", "0x" + "f" * 17, "is not 0x followed by lower-case hex"),
        ("guestFeatures", 1, "expected a string"),
        ("vcpuSignature", "0xa0f1_1", "is not 0x followed by lower-case hex"),
        ("vcpuSignature", "0x1" + "0" * 8, "32 bits"),
        ("vmmType", "xen", "unknown VMM type"),
        ("product", "Naples", "unknown product"),
        ("mode", "tdx", "unknown mode"),
        ("surprise", 1, "unknown field"),
    ],
)
def test_bad_fields_are_parse_errors(
    ovmf: Path, kernel: Path, field: str, value: Any, message: str
) -> None:
    # issue 11 item 9: "guestFeatures": "zz" crashed (exit 4) and "1_0" was read as 16
    doc = _doc(ovmf, kernel)
    doc[field] = value
    with pytest.raises(ParseError, match=message):
        snp_values(doc, source="snp.json")


def test_add_snp_reads_both_vmm_spellings(ovmf: Path, kernel: Path) -> None:
    doc = _doc(ovmf, kernel)
    for spelling in ("QEMU", "qemu"):
        doc["vmmType"] = spelling
        values, _ = snp_values(doc, source="snp.json")
        assert values[0]["shape"]["vmm"]["type"] == "qemu"


def test_old_document_without_product_takes_it_from_the_signature(ovmf: Path, kernel: Path) -> None:
    doc = _doc(ovmf, kernel)
    del doc["product"]
    assert snp_values(doc, source="old.json")[0][0]["product"] == "Genoa"
    doc["vcpuType"] = "EPYC-Milan-v9-custom"  # a name is never read for the product
    doc["vcpuSignature"] = hex(CPU_TYPES["EPYC-v4"])
    assert "product" not in snp_values(doc, source="old.json")[0][0]


# -- bounded reads ---------------------------------------------------------------------------


def test_load_measurement_dev_zero_is_refused_quickly() -> None:
    start = time.monotonic()
    with pytest.raises(InputError, match="limit"):
        load_measurement("/dev/zero")
    assert time.monotonic() - start < 30


def test_load_measurement_too_large_file(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as fh:
        fh.truncate(16 * 1024 * 1024 + 1)
    with pytest.raises(InputError, match="limit"):
        load_measurement(big)


def test_load_measurement_reads_cli_output(run_cli: Runner, ovmf: Path, tmp_path: Path) -> None:
    out = tmp_path / "snp.json"
    r = run_cli(*BASE, "--vcpus", "1-2", "--ovmf", ovmf, "--json", "-o", out)
    assert r.code == 0, r.stderr
    assert [v.vcpus for v in load_measurement(out).measurements] == [1, 2]


def test_add_snp_dev_zero_exits_2(run_cli: Runner, tmp_path: Path) -> None:
    from refkit.cli.manifest import build

    if "load_measurement" not in Path(build.__file__).read_text():
        pytest.skip("cli/manifest/build.py does not read --add-snp through load_measurement yet")
    yaml_file = tmp_path / "release.yaml"
    yaml_file.write_text("schemaVersion: '1.0'\n")
    r = run_cli("manifest", "build", yaml_file, "--add-snp", "/dev/zero", "-o", tmp_path / "o")
    assert r.code == 2
    assert "limit" in r.stderr


@pytest.mark.parametrize("option", ["--kernel", "--initrd"])
def test_device_inputs_refused_before_reading(
    run_cli: Runner, ovmf: Path, kernel: Path, option: str
) -> None:
    # issue 11 item 9: --kernel /dev/zero and --initrd /dev/zero never finished
    args = ["--kernel", kernel] if option == "--initrd" else []
    start = time.monotonic()
    r = run_cli(*BASE, "--vcpus", "1", "--ovmf", ovmf, *args, option, "/dev/zero")
    assert r.code == 2
    assert "not a regular file or a pipe" in r.stderr
    assert time.monotonic() - start < 10


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Callable[[bytes], Path]]:
    threads: list[threading.Thread] = []

    def make(data: bytes) -> Path:
        path = tmp_path / f"pipe{len(threads)}"
        os.mkfifo(path)

        def feed() -> None:
            try:
                with path.open("wb") as fh:
                    fh.write(data)
            except BrokenPipeError:
                pass

        t = threading.Thread(target=feed, daemon=True)
        t.start()
        threads.append(t)
        return path

    yield make
    for t in threads:
        t.join(timeout=10)


def test_pipe_kernel_is_measured_like_the_file(
    ovmf: Path, kernel: Path, fifo: Callable[[bytes], Path]
) -> None:
    direct = measure(_request(ovmf, kernel))
    piped = measure(_request(ovmf, fifo(kernel.read_bytes())))
    assert piped.measurements == direct.measurements


def test_limits_refuse_files_and_pipes(
    monkeypatch: pytest.MonkeyPatch, ovmf: Path, kernel: Path, fifo: Callable[[bytes], Path]
) -> None:
    monkeypatch.setattr(launch, "MAX_KERNEL_BYTES", 1000)
    with pytest.raises(InputError, match="more than the limit of 1000"):
        measure(_request(ovmf, kernel))
    with pytest.raises(InputError, match="more than the limit of 1000"):
        measure(_request(ovmf, fifo(bytes(5000))))
    with pytest.raises(InputError, match="limit"):
        measure(_request(ovmf, bytes(1001)))
    monkeypatch.setattr(launch, "MAX_INITRD_BYTES", 10)
    with pytest.raises(InputError, match="more than the limit of 10"):
        measure(_request(ovmf, bytes(10), initrd=kernel))


def test_cmdline_limit(ovmf: Path, kernel: Path) -> None:
    with pytest.raises(InputError, match=r"command line is .* more than the limit"):
        measure(_request(ovmf, kernel, append="x" * (launch.MAX_CMDLINE_BYTES + 1)))


# -- strict numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--vcpus", "1_2"],
        ["--vcpus", "1-1_0"],
        ["--vcpus", "\u0661\u0662"],  # Arabic-Indic digits
        ["--vcpus", "+4"],
        ["--vcpus", "2", "--guest-features", "1_0"],
        ["--vcpus", "2", "--guest-features", "0x1_0"],
        ["--vcpus", "2", "--guest-features", "\u00b2"],
    ],
)
def test_only_ascii_digits_are_numbers(run_cli: Runner, ovmf: Path, args: list[str]) -> None:
    r = run_cli(*BASE, "--ovmf", ovmf, *args)
    assert r.code == 2, r.stdout
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--vcpu-family", "2_5", "--vcpu-model", "1", "--vcpu-stepping", "1"],
        ["--vcpu-family", "25", "--vcpu-model", "0x1", "--vcpu-stepping", "1"],
        ["--vcpu-sig", "0xa0_f11"],
    ],
)
def test_signature_options_are_strict(run_cli: Runner, ovmf: Path, args: list[str]) -> None:
    r = run_cli("measure", "snp", "--mode", "snp", "--vcpus", "1", "--ovmf", ovmf, *args)
    assert r.code == 2
    assert "not an integer" in r.stderr


def test_vars_size_is_strict(run_cli: Runner, ovmf: Path, tmp_path: Path) -> None:
    svsm = tmp_path / "svsm.bin"
    svsm.write_bytes(ff.svsm_image(pages=16, seed=1, info=0x100))
    r = run_cli(
        "measure", "snp", "--mode", "snp:svsm", "--vcpus", "1", "--vcpu-type", "EPYC-v4",
        "--ovmf", ovmf, "--svsm", svsm, "--vars-size", "4_096",
    )  # fmt: skip
    assert r.code == 2
    assert "not an integer" in r.stderr


# -- product ---------------------------------------------------------------------------------


def test_product_of_signature_follows_family_and_model() -> None:
    # DOMAIN.md: family 0x19 models 0x00-0x0F Milan, 0x10-0x1F / 0xA0-0xAF Genoa; 0x1A Turin
    assert product_of_signature(CPU_TYPES["EPYC-Milan"]) is SnpProduct.MILAN
    assert product_of_signature(CPU_TYPES["EPYC-Genoa"]) is SnpProduct.GENOA
    assert product_of_signature(CPU_TYPES["EPYC-Turin"]) is SnpProduct.TURIN
    assert product_of_signature(cpu_signature(0x19, 0xA1, 0)) is SnpProduct.GENOA
    assert product_of_signature(cpu_signature(0x19, 0x20, 0)) is None
    assert product_of_signature(CPU_TYPES["EPYC-v4"]) is None
    assert product_of_signature(CPU_TYPES["EPYC-Rome"]) is None
    assert product_of_signature(None) is None


@given(st.integers(0, 0xFF + 0xF), st.integers(0, 0xFF), st.integers(0, 0xF))
def test_signature_fields_inverts_cpu_signature(family: int, model: int, stepping: int) -> None:
    # families 0x0..0xE keep only the low nibble of the model (no extended model then)
    sig = cpu_signature(family, model, stepping)
    got = signature_fields(sig)
    if family >= 0xF:
        assert got == (family, model, stepping)
    else:
        assert (got[0], got[2]) == (family, stepping)


def test_product_option_and_conflict(run_cli: Runner, ovmf: Path) -> None:
    r = run_cli(
        "measure", "snp", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4",
        "--product", "Turin", "--ovmf", ovmf, "--json",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["product"] == "Turin"
    r = run_cli(*BASE, "--vcpus", "1", "--product", "Genoa", "--ovmf", ovmf)
    assert r.code == 2
    assert "EPYC Milan" in r.stderr


def test_vcpu_type_must_name_the_signature(ovmf: Path, kernel: Path) -> None:
    with pytest.raises(InputError, match="has signature"):
        measure(_request(ovmf, kernel, vcpu_sig=CPU_TYPES["EPYC-Milan"]))


# -- one set of enums ------------------------------------------------------------------------


def test_manifest_enums_are_the_measure_enums() -> None:
    """The manifest model uses these enums (or, before it imports them, the same strings)."""
    from refkit.manifests import model

    if model.SnpMode is not SevMode:
        assert {m.value for m in model.SnpMode} == {m.value for m in MANIFEST_MODES}
    if model.SnpVmm is not VmmType:
        assert {m.value for m in model.SnpVmm} == {m.value for m in VmmType}
    if model.SnpProduct is not SnpProduct:
        assert {m.value for m in model.SnpProduct} == {m.value for m in SnpProduct}


def test_modes_import_without_the_engine() -> None:
    import subprocess
    import sys

    code = "import sys, refkit.measure.snp.modes; print('refkit.measure.snp.launch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.strip() == "False"


# -- library messages name inputs, not options ------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"vcpus": ()},
        {"vcpu_type": None, "vcpu_sig": None},
        {"ovmf_hash": b"\x00" * 47},
        {"mode": SevMode.SEV_ES, "ovmf_hash": b"\x00" * 48},
        {"kernel": None, "initrd": Path("i"), "append": None},
        {"kernel": None},
        {"svsm": Path("s")},
        {"mode": SevMode.SNP_SVSM, "kernel": None, "append": None},
        {"mode": SevMode.SNP_SVSM, "svsm": Path("s"), "kernel": None, "append": None},
        {"guest_features": 1 << 64},
        {"vcpu_type": "EPYC-v9"},
        {"product": SnpProduct.TURIN},
    ],
)
def test_library_messages_never_name_options(ovmf: Path, kernel: Path, kw: Any) -> None:
    with pytest.raises(InputError) as info:
        measure(_request(ovmf, kernel, **kw))
    assert "--" not in info.value.diagnostics()


def test_resolve_signature_messages_never_name_options() -> None:
    from refkit.measure.cpu import resolve_signature

    kws: list[dict[str, Any]] = [{"vcpu_type": "EPYC", "vcpu_sig": 1}, {"family": 25}]
    for kw in kws:
        with pytest.raises(InputError) as info:
            resolve_signature(**kw)
        assert "--" not in str(info.value)


# -- -o instead of a shell redirection -------------------------------------------------------


def test_output_file_written_only_on_success(run_cli: Runner, ovmf: Path, tmp_path: Path) -> None:
    out = tmp_path / "snp.json"
    r = run_cli(*BASE, "--vcpus", "0", "--ovmf", ovmf, "--json", "-o", out)
    assert r.code == 2
    assert not out.exists()  # `> snp.json` would have left an empty file
    r = run_cli(*BASE, "--vcpus", "2", "--ovmf", ovmf, "--json", "-o", out)
    assert r.code == 0, r.stderr
    assert r.stdout == ""
    printed = run_cli(*BASE, "--vcpus", "2", "--ovmf", ovmf, "--json").stdout
    assert out.read_text() == printed
    r = run_cli(*BASE, "--vcpus", "3", "--ovmf", ovmf, "-o", out)
    assert r.code == 2
    assert "exists" in r.stderr
    assert out.read_text() == printed
    r = run_cli(*BASE, "--vcpus", "3", "--ovmf", ovmf, "-o", out, "--force")
    assert r.code == 0
    assert out.read_text() == run_cli(*BASE, "--vcpus", "3", "--ovmf", ovmf).stdout


# -- --dump-vmsa -----------------------------------------------------------------------------


def _dump(run_cli: Runner, ovmf: Path, out: Path, *extra: str) -> Any:
    return run_cli(
        *BASE, "--vcpus", "3", "--ovmf", ovmf, "--dump-vmsa", "--dump-vmsa-dir", out, *extra
    )


def test_dump_vmsa_ignores_planted_temporary_symlink(
    run_cli: Runner, ovmf: Path, tmp_path: Path
) -> None:
    out = tmp_path / "vmsa"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    (out / "vmsa0.bin.tmp").symlink_to(victim)
    r = _dump(run_cli, ovmf, out)
    assert r.code == 0, r.stderr
    assert victim.read_bytes() == b"keep me"
    assert (out / "vmsa0.bin").stat().st_size == 4096
    assert not (out / "vmsa0.bin").is_symlink()


def test_dump_vmsa_writes_nothing_when_one_target_conflicts(
    run_cli: Runner, ovmf: Path, tmp_path: Path
) -> None:
    out = tmp_path / "vmsa"
    out.mkdir()
    (out / "vmsa2.bin").write_bytes(b"precious")
    r = _dump(run_cli, ovmf, out)
    assert r.code == 2
    assert "nothing was written" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["vmsa2.bin"]
    assert (out / "vmsa2.bin").read_bytes() == b"precious"


def test_dump_vmsa_never_follows_an_existing_symlink(
    run_cli: Runner, ovmf: Path, tmp_path: Path
) -> None:
    out = tmp_path / "vmsa"
    out.mkdir()
    (out / "vmsa0.bin").symlink_to("/dev/zero")
    start = time.monotonic()
    r = _dump(run_cli, ovmf, out)
    assert r.code == 2
    assert "symbolic link" in r.stderr
    assert time.monotonic() - start < 10
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    (out / "vmsa1.bin").symlink_to(victim)
    r = _dump(run_cli, ovmf, out, "--force")
    assert r.code == 0, r.stderr
    assert victim.read_bytes() == b"keep me"  # --force replaced the links, not their targets
    assert not (out / "vmsa0.bin").is_symlink()
    assert not (out / "vmsa1.bin").is_symlink()
    assert (out / "vmsa1.bin").read_bytes() == (out / "vmsa2.bin").read_bytes()


def test_dump_vmsa_refuses_a_fifo_without_blocking(
    run_cli: Runner, ovmf: Path, tmp_path: Path
) -> None:
    out = tmp_path / "vmsa"
    out.mkdir()
    os.mkfifo(out / "vmsa0.bin")
    r = _dump(run_cli, ovmf, out)
    assert r.code == 2
    assert "not a regular file" in r.stderr


@pytest.mark.parametrize(("mode", "features"), [(SevMode.SEV, None), (SevMode.SEV_ES, 0)])
def test_sev_and_seves_documents_convert(ovmf: Path, mode: SevMode, features: int | None) -> None:
    vcpus = () if mode is SevMode.SEV else (2,)
    result = measure(
        SnpRequest(mode=mode, ovmf=ovmf, vcpus=vcpus, vcpu_type="EPYC-v4", input_digests=True)
    )
    m = parse_measured(json.loads(json.dumps(result.to_json())), source="x")
    assert m.guest_features == features
    values, _ = snp_values(m)
    assert [v["shape"]["vcpus"] for v in values] == [1 if mode is SevMode.SEV else 2]
    assert values[0]["mode"] == mode.value
    assert values[0]["guestFeatures"] == 0
    assert "product" not in values[0]


@pytest.mark.parametrize("mode", [SevMode.SNP_OVMF_HASH])
def test_engine_only_modes_are_not_manifest_values(ovmf: Path, mode: SevMode) -> None:
    result = measure(SnpRequest(mode=mode, ovmf=ovmf, input_digests=True))
    with pytest.raises(ParseError, match="no launch measurement"):
        snp_values(result)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "snp", "--vcpus", "1"], "--vcpu-type"),
        (["--mode", "snp:svsm", "--vcpus", "1", "--vcpu-type", "EPYC-v4"], "needs --svsm"),
        (["--mode", "snp", "--vcpu-type", "EPYC-v4"], "--vcpus is required"),
        (["--mode", "sev", "--initrd", "x"], "--initrd needs --kernel"),
        (["--mode", "sev", "--append", "ro"], "--append needs --kernel"),
    ],
)
def test_cli_words_usage_mistakes_with_its_options(
    run_cli: Runner, ovmf: Path, args: list[str], message: str
) -> None:
    r = run_cli("measure", "snp", "--ovmf", ovmf, *args)
    assert r.code == 2
    assert message in r.stderr


def test_measurement_without_input_digests_is_not_a_manifest_value(ovmf: Path) -> None:
    result = measure(SnpRequest(mode=SevMode.SNP, ovmf=ovmf, vcpus=(1,), vcpu_type="EPYC-v4"))
    with pytest.raises(ParseError, match="no input digests") as info:
        snp_values(result)
    assert "--" not in info.value.diagnostics()


def test_request_takes_the_enums_strings(ovmf: Path, kernel: Path) -> None:
    as_enums = measure(_request(ovmf, kernel, vmm_type=VmmType.EC2, product=SnpProduct.GENOA))
    as_text = measure(_request(ovmf, kernel, mode="snp", vmm_type="ec2", product="Genoa"))
    assert as_text.measurements == as_enums.measurements
    assert as_text.product is SnpProduct.GENOA
    assert as_text.to_json() == as_enums.to_json()
    for bad in ({"mode": "snp2"}, {"vmm_type": "xen"}, {"product": "Naples"}):
        with pytest.raises(InputError, match="unknown mode, VMM type or product"):
            measure(_request(ovmf, kernel, **bad))
