"""refkit.measure.pe: the PE parser and the Authenticode digest.

SHA-256 is checked against ``pesign -h`` (Debian pesign, the peer) on the real PE files
of ../shared/inputs (two signed Debian kernels, two systemd-boot EFI binaries); SHA-384,
which pesign cannot compute, against a second computation in the test whose offsets come
from ``pefile``'s parser (tests/measure_support.py). Malformed images must give a typed
ParseError naming the file and offset; the parser is fuzzed with hypothesis.
"""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError
from refkit.measure.pe import authenticode_digests, load_pe, parse_pe
from tests import measure_support as ms
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug

REAL_PE = [ms.TRIXIE_KERNEL, ms.BOOKWORM_KERNEL, ms.STUB, ms.BOOT_EFI]


def _pesign(path: object) -> str:
    if shutil.which("pesign") is None:
        pytest.skip("needs pesign (Debian package pesign), the Authenticode peer")
    out = subprocess.run(
        ["pesign", "-h", "-i", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("hash: "), out
    return out.split()[1]


@pytest.mark.peer
@pytest.mark.parametrize("spec", REAL_PE, ids=lambda s: s[2].rsplit("/", 1)[-1])
def test_sha256_equals_pesign_on_real_pe_files(spec: tuple[str, str, str]) -> None:
    path = ms.deb_member(spec)
    assert load_pe(path).authenticode("sha256").hex() == _pesign(path)


@pytest.mark.parametrize("spec", REAL_PE, ids=lambda s: s[2].rsplit("/", 1)[-1])
def test_sha384_equals_an_independent_pefile_computation(spec: tuple[str, str, str]) -> None:
    path = ms.deb_member(spec)
    data = path.read_bytes()
    image = parse_pe(data, source=str(path))
    both = authenticode_digests(image, ("sha256", "sha384"))
    assert both["sha384"] == ms.pefile_authenticode(data, "sha384")
    assert both["sha256"] == ms.pefile_authenticode(data, "sha256")


def test_signed_kernel_certificate_table_is_skipped() -> None:
    # The Debian kernels are signed: appending a second signature must not change the
    # digest; only the certificate table grows.
    path = ms.deb_member(ms.TRIXIE_KERNEL)
    data = bytearray(path.read_bytes())
    image = parse_pe(bytes(data), source="k")
    assert image.cert_table is not None
    offset, size = image.cert_table
    assert offset + size == len(data)
    extra = struct.pack("<IHH", 16, 0x200, 2) + bytes(8)
    dir_at = image.cert_dir_offset
    assert dir_at is not None
    struct.pack_into("<I", data, dir_at + 4, size + len(extra))
    grown = parse_pe(bytes(data) + extra, source="k2")
    assert grown.authenticode("sha384") == image.authenticode("sha384")


@pytest.mark.peer
def test_built_pe_with_certificate_equals_pesign(tmp_path: object) -> None:
    from pathlib import Path

    data = ms.build_pe([(".text", b"\x90" * 5000), (".data", b"d" * 700)], cert=b"sig" * 7)
    target = Path(str(tmp_path)) / "built.efi"
    target.write_bytes(data)
    assert parse_pe(data, source="b").authenticode().hex() == _pesign(target)


def test_section_data_is_virtual_size_zero_padded() -> None:
    data = ms.build_pe([(".a", b"abc"), (".b", b"xyz")], virtual_sizes={".b": 8})
    image = parse_pe(data, source="t")
    a, b = image.sections
    assert image.section_data(a) == b"abc"  # raw data is padded to 0x200: cut to 3
    assert image.section_data(b) == b"xyz" + bytes(5)


def _valid() -> bytes:
    return ms.build_pe([(".text", b"t" * 1000), (".data", b"d" * 100)])


def test_truncated_pe_is_a_parse_error() -> None:
    data = _valid()
    for cut in (0x10, 0x90, 0x100, len(data) - 1):
        with pytest.raises(ParseError) as info:
            parse_pe(data[:cut], source="cut.efi")
        assert "cut.efi" in str(info.value)


def test_not_a_pe() -> None:
    with pytest.raises(ParseError, match="no MZ header"):
        parse_pe(b"\x7fELF" + bytes(100), source="elf")


def test_overlapping_sections_are_refused() -> None:
    data = bytearray(_valid())
    image = parse_pe(bytes(data), source="t")
    table = image.checksum_offset - 64 + 112 + 16 * 8
    first = image.sections[0]
    # make section 1's raw data start inside section 0's
    struct.pack_into("<I", data, table + 40 + 20, first.raw_offset + 0x10)
    with pytest.raises(ParseError, match="overlap in the file"):
        parse_pe(bytes(data), source="t")
    data = bytearray(_valid())
    struct.pack_into("<I", data, table + 40 + 12, first.virtual_address + 0x10)
    with pytest.raises(ParseError, match="overlap in memory"):
        parse_pe(bytes(data), source="t")


def test_bogus_certificate_tables_are_refused() -> None:
    data = bytearray(ms.build_pe([(".text", b"t" * 1000)], cert=b"s" * 16))
    image = parse_pe(bytes(data), source="t")
    assert image.cert_table is not None
    assert image.cert_dir_offset is not None
    offset, size = image.cert_table
    at = image.cert_dir_offset
    cases = [
        (offset + 4, size - 4),  # misaligned
        (offset, size + 8),  # past the end of the file
        (0x10, size),  # inside the headers
    ]
    for bad_offset, bad_size in cases:
        bad = bytearray(data)
        struct.pack_into("<II", bad, at, bad_offset, bad_size)
        with pytest.raises(ParseError, match="certificate table"):
            parse_pe(bytes(bad), source="t")
    bad = bytearray(data)
    struct.pack_into("<I", bad, offset, 4)  # a WIN_CERTIFICATE shorter than its header
    with pytest.raises(ParseError, match="certificate entry"):
        parse_pe(bytes(bad), source="t")


def test_load_pe_names_missing_file(tmp_path: object) -> None:
    with pytest.raises(InputError, match="not found"):
        load_pe(f"{tmp_path}/absent.efi")


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, 0x1200), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 0x1300),
)
def test_fuzz_parse_pe_gives_values_or_parse_errors(edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(ms.build_pe([(".text", b"t" * 1000), (".d", b"d" * 50)], cert=b"c" * 8))
    for at, value in edits:
        if at < len(data):
            data[at] = value
    blob = bytes(data[: len(data) - cut]) if cut else bytes(data)
    try:
        image = parse_pe(blob, source="fuzz")
        image.authenticode("sha384")
        for section in image.sections:
            image.section_data(section)
    except InputError as exc:
        assert_not_a_bug(exc)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(blob: bytes) -> None:
    try:
        parse_pe(b"MZ" + blob, source="fuzz")
    except InputError as exc:
        assert_not_a_bug(exc)
