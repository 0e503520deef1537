"""The firmware-table parser and the refusals: real vectors, synthetic images, fuzzing."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError, UnsupportedInput
from refkit.guid import guid_bytes_le, guid_str
from refkit.measure import firmware as fw
from refkit.measure.firmware import parse_firmware
from refkit.measure.snp import CPU_TYPES, SevMode, SnpRequest, measure
from tests import firmware_factory as ff
from tests.shared import vector

SIG = CPU_TYPES["EPYC-v4"]


def write(tmp_path: Path, data: bytes, name: str = "fw.fd") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def snp(ovmf: Path, **kw: object) -> list[bytes]:
    kw.setdefault("vcpus", (1,))
    kw.setdefault("vcpu_sig", SIG)
    r = measure(SnpRequest(mode=kw.pop("mode", SevMode.SNP), ovmf=ovmf, **kw))  # type: ignore[arg-type]
    return [m.digest for m in r.measurements]


# -- real firmware (../shared/vectors/firmware; Debian ovmf-amdsev / ovmf-inteltdx 2026.08+ds-2)


@pytest.mark.vectors
def test_debian_amdsev_tables() -> None:
    data = vector("firmware", "OVMF.amdsev.fd").read_bytes()
    f = parse_firmware(data, source="OVMF.amdsev.fd")
    # DOMAIN.md §2 records these for this build: hashes table at 0x810C00 inside the
    # SNP_KERNEL_HASHES page at 0x810000, AP reset EIP 0x80B004.
    assert f.hashes_table_gpa == 0x810C00
    assert f.sev_es_reset_eip == 0x80B004
    assert f.sev_sections is not None
    kh = [s for s in f.sev_sections if s.kind is fw.SevSectionType.SNP_KERNEL_HASHES]
    assert [(s.gpa, s.size) for s in kh] == [(0x810000, 0x1000)]
    # it also carries a TDVF descriptor and the IGVM parameter entry (unknown to SEV)
    assert f.tdvf_sections is not None
    assert fw.IGVM_PARAMETERS_GUID in f.footer
    assert not f.is_tdx_build


@pytest.mark.vectors
@pytest.mark.parametrize("mode", [SevMode.SNP, SevMode.SEV_ES, SevMode.SEV, SevMode.SNP_OVMF_HASH])
def test_tdx_build_is_refused_in_sev_modes(mode: SevMode) -> None:
    ovmf = vector("firmware", "OVMF.inteltdx.ms.fd")
    assert parse_firmware(ovmf.read_bytes(), source="x").is_tdx_build
    vcpus = (2,) if mode in (SevMode.SNP, SevMode.SEV_ES) else ()
    with pytest.raises(UnsupportedInput, match="Intel TDX build"):
        snp(ovmf, mode=mode, vcpus=vcpus)


# -- refusals on synthetic firmware --------------------------------------------------------


def test_no_footer_table_is_refused(tmp_path: Path) -> None:
    ovmf = write(tmp_path, bytes(16 * 4096))  # like a generic OVMF_CODE: no SEV tables
    with pytest.raises(UnsupportedInput, match="no SEV metadata") as exc:
        snp(ovmf)
    assert "ovmf-amdsev" in exc.value.diagnostics()


def test_no_kernel_hashes_section_with_kernel(tmp_path: Path) -> None:
    image = ff.Image(sections=[ff.Section(0x800000, 0x1000, 1), ff.Section(0x801000, 0x1000, 2)])
    ovmf = write(tmp_path, image.build())
    kernel = write(tmp_path, b"kernel", "k")
    assert snp(ovmf)  # fine without a kernel
    with pytest.raises(UnsupportedInput, match="no SNP_KERNEL_HASHES section"):
        snp(ovmf, kernel=kernel)


@pytest.mark.parametrize("mode", [SevMode.SEV, SevMode.SEV_ES])
def test_sev_kernel_needs_hashes_table(tmp_path: Path, mode: SevMode) -> None:
    ovmf = write(tmp_path, ff.Image(hashes_table_gpa=None).build())
    kernel = write(tmp_path, b"kernel", "k")
    vcpus = (1,) if mode is SevMode.SEV_ES else ()
    with pytest.raises(UnsupportedInput, match="no SEV kernel hashes table"):
        snp(ovmf, mode=mode, vcpus=vcpus, kernel=kernel)


def test_unknown_section_type_is_named(tmp_path: Path) -> None:
    image = ff.Image(sections=[ff.Section(0x800000, 0x1000, 1), ff.Section(0x801000, 0x1000, 0x77)])
    with pytest.raises(UnsupportedInput, match="unknown type 0x77"):
        snp(write(tmp_path, image.build()))


def test_unknown_footer_guid_is_skipped(tmp_path: Path) -> None:
    plain = write(tmp_path, ff.Image(seed=5).build(), "a.fd")
    extra = ff.Image(seed=5, extra_entries=[("01234567-89ab-cdef-0123-456789abcdef", b"xyz" * 7)])
    other = write(tmp_path, extra.build(), "b.fd")
    # The body differs only in the footer bytes, so digests differ, but both measure.
    assert snp(plain)
    assert snp(other)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (ff.Section(0x800800, 0x1000, 1), "not page-aligned"),
        (ff.Section(0x800000, 0x1800, 1), "not page-aligned"),
        (ff.Section(0xFFFFF000, 0x2000, 1), "does not fit below 4 GiB"),
        (ff.Section(0, 0, 4), "is empty"),
    ],
)
def test_bad_sections(tmp_path: Path, section: ff.Section, message: str) -> None:
    image = ff.Image(sections=[ff.Section(0x800000, 0x1000, 2), section])
    with pytest.raises(UnsupportedInput, match=message):
        snp(write(tmp_path, image.build()))


def test_size_not_page_multiple(tmp_path: Path) -> None:
    data = ff.Image().build()
    with pytest.raises(ParseError, match="not a multiple of the 4096-byte page size"):
        snp(write(tmp_path, data[1000:]))


def test_truncated_footer_table(tmp_path: Path) -> None:
    data = bytearray(ff.Image(pages=4).build())
    header = len(data) - 32 - 18
    struct.pack_into("<H", data, header, 0xFFF0)  # claims more than the image holds
    with pytest.raises(ParseError, match="runs past the start"):
        parse_firmware(bytes(data), source="t.fd")
    struct.pack_into("<H", data, header, 10)
    with pytest.raises(ParseError, match="smaller than its own 18-byte header"):
        parse_firmware(bytes(data), source="t.fd")


def test_corrupted_entry_size_names_offset(tmp_path: Path) -> None:
    data = bytearray(ff.Image(pages=4).build())
    last_entry_size_at = len(data) - 32 - 18 - 18
    struct.pack_into("<H", data, last_entry_size_at, 3)
    with pytest.raises(ParseError) as exc:
        parse_firmware(bytes(data), source="t.fd")
    assert exc.value.location.offset == last_entry_size_at
    assert "t.fd, offset" in str(exc.value)


def test_bad_sev_metadata_signature() -> None:
    data = bytearray(ff.Image(pages=4).build())
    at = data.index(b"ASEV")
    data[at : at + 4] = b"XSEV"
    with pytest.raises(ParseError, match="bad SEV metadata signature"):
        parse_firmware(bytes(data), source="t.fd")


def test_ap_needs_reset_block(tmp_path: Path) -> None:
    ovmf = write(tmp_path, ff.Image(reset_eip=None).build())
    assert snp(ovmf, vcpus=(1,))
    with pytest.raises(UnsupportedInput, match="no SEV-ES reset block"):
        snp(ovmf, vcpus=(1, 2))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"vcpus": ()}, "needs at least one vCPU count"),
        ({"vcpus": (0,)}, "within 1..512"),
        ({"vcpus": (513,)}, "within 1..512"),
        ({"vcpu_sig": None}, "needs the vCPU signature"),
        ({"ovmf_hash": b"\x00" * 47}, "48 bytes"),
        ({"mode": SevMode.SEV_ES, "ovmf_hash": b"\x00" * 48}, "only in mode snp"),
        ({"initrd": Path("i")}, "an initrd needs a kernel"),
        ({"append": "x"}, "command line needs a kernel"),
        ({"svsm": Path("s")}, "belong to mode snp:svsm"),
        ({"mode": SevMode.SNP_SVSM, "vars_size": 4096}, "needs an SVSM image"),
        ({"guest_features": 1 << 64}, "64 bits"),
    ],
)
def test_request_errors(tmp_path: Path, kw: dict[str, object], message: str) -> None:
    ovmf = write(tmp_path, ff.Image().build())
    with pytest.raises(InputError, match=message):
        snp(ovmf, **kw)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="OVMF firmware not found"):
        snp(tmp_path / "nope.fd")
    with pytest.raises(InputError, match="is a directory"):
        snp(tmp_path)
    ovmf = write(tmp_path, ff.Image().build())
    with pytest.raises(InputError, match="kernel not found"):
        snp(ovmf, kernel=tmp_path / "no-kernel")


# -- GUID encoding ---------------------------------------------------------------------------


@given(st.binary(min_size=16, max_size=16))
def test_guid_round_trip(raw: bytes) -> None:
    import uuid

    assert guid_str(raw) == str(uuid.UUID(bytes_le=raw))
    assert guid_bytes_le(guid_str(raw)) == raw


# -- fuzzing: arbitrary and mutated tails give a Firmware or a ParseError, nothing else -----


def _parse_or_typed_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_firmware(data, source="fuzz")


@given(st.binary(max_size=600))
def test_fuzz_arbitrary(data: bytes) -> None:
    _parse_or_typed_error(data)


_BASE = ff.Image(
    pages=2, extra_entries=[("11111111-2222-3333-4444-555555555555", b"q" * 9)]
).build()


@settings(max_examples=400)
@given(st.lists(st.tuples(st.integers(0, 700), st.integers(0, 255)), min_size=1, max_size=12))
def test_fuzz_mutated_tail(mutations: list[tuple[int, int]]) -> None:
    data = bytearray(_BASE)
    for back, value in mutations:
        data[len(data) - 1 - back] = value
    _parse_or_typed_error(bytes(data))


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 8191), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzz_mutated_metadata_measures_or_refuses(
    tmp_path_factory: pytest.TempPathFactory, mutations: list[tuple[int, int]]
) -> None:
    data = bytearray(_BASE)
    for back, value in mutations:
        data[len(data) - 1 - back] = value
    ovmf = tmp_path_factory.mktemp("fz") / "f.fd"
    ovmf.write_bytes(bytes(data))
    with contextlib.suppress(InputError):
        snp(ovmf, vcpus=(1, 2))
