"""Helpers for the TDX, PE and UKI measurement tests (no test imports another test).

* :func:`deb_member` extracts one file of a mirrored Debian package (../shared/inputs)
  with ``dpkg-deb`` into a per-process temporary folder, once;
* :func:`build_pe` is a small PE32+ writer (headers, section table, sections, optional
  certificate table) for UKIs and malformed images built in the tests;
* :func:`pefile_authenticode` is a second, independent Authenticode computation: the
  offsets come from ``pefile``'s parser, not from refkit's;
* :func:`tdvf_firmware` builds a synthetic TDX firmware image (TDVF metadata in the
  OVMF footer table), for error cases and the MRTD benchmark;
* :func:`independent_mrtd` recomputes MRTD from the raw bytes of an image, locating the
  TDVF table by its signature instead of the footer table.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import struct
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.shared import shared_input

_CACHE: dict[tuple[str, str], Path] = {}
_ROOT: list[Path] = []

TRIXIE_KERNEL = ("trixie", "linux-image-6.12.107+deb13-cloud-amd64_6.12.107-1_amd64.deb",
                 "./boot/vmlinuz-6.12.107+deb13-cloud-amd64")  # fmt: skip
BOOKWORM_KERNEL = ("bookworm", "linux-image-6.1.0-52-cloud-amd64_6.1.180-1_amd64.deb",
                   "./boot/vmlinuz-6.1.0-52-cloud-amd64")  # fmt: skip
STUB = ("trixie", "systemd-boot-efi_257.13-1~deb13u1_amd64.deb",
        "./usr/lib/systemd/boot/efi/linuxx64.efi.stub")  # fmt: skip
BOOT_EFI = ("trixie", "systemd-boot-efi_257.13-1~deb13u1_amd64.deb",
            "./usr/lib/systemd/boot/efi/systemd-bootx64.efi")  # fmt: skip
UKIFY = ("trixie", "systemd-ukify_257.13-1~deb13u1_all.deb", "./usr/bin/ukify")


def _root() -> Path:
    if not _ROOT:
        path = Path(tempfile.mkdtemp(prefix="refkit-measure-tests-"))
        atexit.register(shutil.rmtree, path, True)
        _ROOT.append(path)
    return _ROOT[0]


def deb_member(spec: tuple[str, str, str]) -> Path:
    """One file of a mirrored .deb, extracted once per test process."""
    suite, deb, member = spec
    key = (deb, member)
    if key in _CACHE:
        return _CACHE[key]
    package = shared_input(suite, deb)
    if shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb to unpack the mirrored package")
    target = _root() / f"{len(_CACHE)}-{Path(member).name}"
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(package)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for info in tar:
            if info.name == member:
                fh = tar.extractfile(info)
                assert fh is not None
                target.write_bytes(fh.read())
                break
    proc.stdout.close()
    proc.wait()
    if not target.exists():
        pytest.skip(f"{member} not found in {package}")
    _CACHE[key] = target
    return target


# -- PE writer ----------------------------------------------------------------------------


def _align(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def build_pe(
    sections: list[tuple[str, bytes]],
    *,
    file_align: int = 0x200,
    section_align: int = 0x1000,
    cert: bytes | None = None,
    virtual_sizes: dict[str, int] | None = None,
) -> bytes:
    """A PE32+ image with ``sections`` in order (name, contents), each VirtualSize the
    length of its contents unless ``virtual_sizes`` says otherwise; ``cert`` appends a
    certificate table (one WIN_CERTIFICATE around the given bytes)."""
    nsec = len(sections)
    opt_size = 112 + 16 * 8
    pe_at = 0x80
    table_at = pe_at + 24 + opt_size
    headers = _align(table_at + 40 * nsec, file_align)
    raw_at = headers
    va = _align(headers, section_align)
    table = b""
    body = b""
    for name, data in sections:
        raw_size = _align(len(data), file_align)
        vsize = (virtual_sizes or {}).get(name, len(data))
        table += struct.pack(
            "<8sIIIIIIHHI", name.encode()[:8], vsize, va, raw_size, raw_at, 0, 0, 0, 0, 0x40000040
        )
        body += data.ljust(raw_size, b"\0")
        raw_at += raw_size
        va = _align(va + max(vsize, 1), section_align)
    size_of_image = va
    dirs = bytearray(16 * 8)
    cert_blob = b""
    if cert is not None:
        entry = struct.pack("<IHH", 8 + len(cert), 0x200, 2) + cert
        cert_blob = entry.ljust(_align(len(entry), 8), b"\0")
        struct.pack_into("<II", dirs, 4 * 8, headers + len(body), len(cert_blob))
    opt = struct.pack(
        "<HBBIIIIIQIIHHHHHHIIIIHHQQQQII",
        0x20B, 2, 40, 0, 0, 0, 0x1000, 0x1000, 0x140000000, section_align, file_align,
        0, 0, 0, 0, 0, 0, 0, size_of_image, headers, 0, 10, 0, 0, 0, 0, 0, 0, 16,
    )  # fmt: skip
    assert len(opt) == 112
    coff = struct.pack("<HHIIIHH", 0x8664, nsec, 0, 0, 0, opt_size, 0x22)
    dos = bytearray(pe_at)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, pe_at)
    head = bytes(dos) + b"PE\0\0" + coff + opt + bytes(dirs) + table
    return head.ljust(headers, b"\0") + body + cert_blob


def pefile_authenticode(data: bytes, algorithm: str) -> bytes:
    """Authenticode digest with every offset taken from pefile's parse (independent of
    refkit.measure.pe): headers minus CheckSum and the certificate directory entry, the
    sections' raw data by file offset, then the rest of the file before the certificates."""
    pefile = pytest.importorskip("pefile")
    pe = pefile.PE(data=data, fast_load=True)
    checksum = pe.OPTIONAL_HEADER.get_file_offset() + 64
    security = pe.OPTIONAL_HEADER.DATA_DIRECTORY[4]
    cert_entry = security.get_file_offset()
    h = hashlib.new(algorithm)
    h.update(data[:checksum])
    h.update(data[checksum + 4 : cert_entry])
    h.update(data[cert_entry + 8 : pe.OPTIONAL_HEADER.SizeOfHeaders])
    end = pe.OPTIONAL_HEADER.SizeOfHeaders
    for section in sorted(pe.sections, key=lambda s: s.PointerToRawData):
        if section.SizeOfRawData:
            h.update(
                data[section.PointerToRawData : section.PointerToRawData + section.SizeOfRawData]
            )
            end = max(end, section.PointerToRawData + section.SizeOfRawData)
    stop = security.VirtualAddress if security.Size else len(data)
    h.update(data[end:stop])
    return h.digest()


# -- TDX firmware -------------------------------------------------------------------------


def tdvf_firmware(
    size: int = 256 * 1024,
    *,
    sections: list[tuple[int, int, int, int, int, int]] | None = None,
    seed: int = 1,
) -> bytes:
    """A synthetic TDX firmware image of ``size`` bytes: random body, a TDVF descriptor
    (sections ``(data_offset, raw_size, gpa, mem_size, type, attributes)``; default a BFV
    of the upper half extended, a CFV of the lower half, a TD HOB and temporary memory)
    and a footer table pointing at it."""
    import random

    from refkit.measure import firmware as fw
    from tests import firmware_factory as ff

    rng = random.Random(seed)
    body = bytearray(rng.randbytes(size))
    half = size // 2
    top = (1 << 32) - size
    if sections is None:
        sections = [
            (half, half, top + half, half, 0, 1),
            (0, half, top, half, 1, 0),
            (0, 0, 0x800000, 0x2000, 2, 0),
            (0, 0, 0x810000, 0x10000, 3, 0),
        ]
    table = struct.pack("<4sIII", b"TDVF", 16 + 32 * len(sections), 1, len(sections))
    table += b"".join(struct.pack("<IIQQII", *s) for s in sections)
    footer = ff.footer_table([(fw.TDX_METADATA_GUID, struct.pack("<I", 0))])
    footer_at = size - 32 - len(footer)
    table_at = footer_at - 0x100 - len(table)
    footer = ff.footer_table([(fw.TDX_METADATA_GUID, struct.pack("<I", size - table_at))])
    body[table_at : table_at + len(table)] = table
    body[footer_at : footer_at + len(footer)] = footer
    return bytes(body)


def independent_mrtd(image: bytes, *, per_page: bool) -> bytes:
    """MRTD recomputed from the raw image: the TDVF table found by its signature, every
    TDH.MEM.PAGE.ADD / TDH.MR.EXTEND record built in a bytearray (Intel TDX module ABI)."""
    at = image.find(b"TDVF")
    while at >= 0:
        length, version, count = struct.unpack_from("<III", image, at + 4)
        if version == 1 and length == 16 + 32 * count:
            break
        at = image.find(b"TDVF", at + 1)
    assert at >= 0, "no TDVF table"
    rows = [struct.unpack_from("<IIQQII", image, at + 16 + 32 * i) for i in range(count)]

    def record(tag: bytes, gpa: int) -> bytes:
        buf = bytearray(128)
        buf[: len(tag)] = tag
        struct.pack_into("<Q", buf, 16, gpa)
        return bytes(buf)

    adds: list[bytes] = []
    extends: list[bytes] = []
    stream: list[bytes] = []
    for offset, raw, gpa, mem, _kind, attrs in rows:
        if attrs & 2:
            continue
        for page in range(mem // 4096):
            page_gpa = gpa + page * 4096
            add = record(b"MEM.PAGE.ADD", page_gpa)
            ext = b""
            if attrs & 1:
                start = page * 4096
                data = (
                    image[offset + start : offset + min(start + 4096, raw)] if start < raw else b""
                )
                data = data.ljust(4096, b"\0")
                for chunk in range(16):
                    ext += record(b"MR.EXTEND", page_gpa + chunk * 256)
                    ext += data[chunk * 256 : chunk * 256 + 256]
            if per_page:
                stream += [add, ext]
            else:
                adds.append(add)
                extends.append(ext)
    return hashlib.sha384(b"".join(stream if per_page else adds + extends)).digest()


def extend_sha384(digests: list[bytes]) -> bytes:
    value = bytes(48)
    for d in digests:
        value = hashlib.sha384(value + d).digest()
    return value
