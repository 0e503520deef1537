"""AMD SEV / SEV-ES / SEV-SNP launch measurement of an OVMF guest, for many vCPU counts.

What the AMD Secure Processor measures while QEMU (or EC2, or GCE) launches the guest:

- ``sev``:   SHA-256(OVMF || padded kernel hashes table, when a kernel is given);
- ``seves``: the same, followed by one VMSA page per vCPU (guest features 0);
- ``snp``:   the SNP launch digest (:mod:`.gctx`) over (1) the OVMF image as NORMAL pages
  ending at 4 GiB, (2) the SEV metadata sections in table order (for ec2, CPUID pages
  after all others), (3) one VMSA page per vCPU;
- ``snp:ovmf-hash``: only step (1) of ``snp``; a later ``snp`` call may start from it;
- ``snp:svsm``: OVMF, then a Coconut-SVSM image below it (and below the OVMF variable
  store), then the SVSM's metadata sections and its VMSA pages.

The result is bit-for-bit that of sev-snp-measure 0.0.13 for every input it accepts (the
differential tests run both). Beyond it, one call computes any set of vCPU counts: the
digest after k VMSA pages is the measurement for k vCPUs, so counts are taken in ascending
order from one running state. Inputs are hashed once, in parallel threads.

Refused (:class:`~refkit.errors.InputError`, never a number): firmware without the
metadata the mode needs, TDX builds in SEV modes, unknown metadata section types, sections
that are not whole pages or do not fit below 4 GiB, a kernel with a firmware that has no
kernel hashes table, vCPU counts outside 1..512, inputs beyond their size limit.

Size limits (generous: far beyond any real input, small enough to refuse ``/dev/zero``
quickly): firmware, SVSM and VARS images 256 MiB (:data:`MAX_FIRMWARE_BYTES`), kernel 512
MiB (:data:`MAX_KERNEL_BYTES`), initrd 2 GiB (:data:`MAX_INITRD_BYTES`), command line 1 MiB
of UTF-8 (:data:`MAX_CMDLINE_BYTES`; x86 Linux itself takes 2 KiB by default). A kernel or
initrd must be a regular file or a pipe: a device (``/dev/zero``) has no end and is refused
before it is read; a pipe is read up to its limit and refused past it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from refkit.errors import InputError, UnsupportedInput, input_os_error, read_input_file
from refkit.hashing import (
    DirectDigester,
    FileDigest,
    FileDigester,
    digest_bytes,
    run_parallel,
)
from refkit.measure.cpu import CPU_TYPES, SnpProduct, product_of_signature
from refkit.measure.firmware import (
    FOUR_GIB,
    PAGE_SIZE,
    SVSM_INFO_GUID,
    Firmware,
    SevSection,
    SevSectionType,
    check_page_layout,
    parse_firmware,
)
from refkit.measure.snp.gctx import LaunchDigest, PageType, page_digests
from refkit.measure.snp.hashes import PADDED_TABLE_LEN, KernelHashes, cmdline_bytes
from refkit.measure.snp.modes import SevMode, VmmType
from refkit.measure.snp.vmsa import (
    BSP_EIP,
    VmsaPages,
    reset_save_area,
    svsm_save_area,
)

#: A file path as callers hold it (text or a path object).
StrPath = str | os.PathLike[str]
#: An input given by path, or as its bytes (e.g. a kernel a builder has just produced).
Input = StrPath | bytes

MAX_VCPUS = 512
#: Largest firmware, SVSM or VARS image accepted (the whole image must sit below 4 GiB).
MAX_FIRMWARE_BYTES = 256 * 1024 * 1024
#: Largest kernel accepted (Debian's cloud kernels are about 10 MiB).
MAX_KERNEL_BYTES = 512 * 1024 * 1024
#: Largest initrd accepted.
MAX_INITRD_BYTES = 2 * 1024 * 1024 * 1024
#: Longest kernel command line accepted, in bytes of UTF-8.
MAX_CMDLINE_BYTES = 1024 * 1024
_STREAM_CHUNK = 1 << 20

AMD_SEV_FIRMWARE_HINT = (
    "use an AMD SEV build of OVMF with kernel-hashes support, e.g. OVMF.amdsev.fd "
    "from Debian's ovmf-amdsev package (generic OVMF.fd, OVMF_CODE.fd and Intel TDX "
    "builds cannot be measured for SEV-SNP)"
)


class SnpRequest(NamedTuple):
    """Everything that determines a launch measurement.

    ``vcpu_sig`` is the resolved CPUID signature (see :mod:`.cpu`); it may be None only
    where the VMM does not use it (SEV, ec2, gce). ``append`` None and ``""`` measure the
    same (QEMU hashes a lone NUL for both) but are recorded as given. ``ovmf_hash`` seeds
    the SNP digest with a published OVMF launch digest instead of hashing the image.

    ``vcpu_type`` records the QEMU CPU model name the signature came from (it must name
    ``vcpu_sig`` when both are given; alone, it sets it). ``product`` is the EPYC generation
    the values are for; when None it is derived from the signature (and stays None when the
    signature names none). Neither changes the measurement: both are recorded in the result.
    """

    mode: SevMode
    ovmf: Input
    vcpus: tuple[int, ...] = ()
    vcpu_sig: int | None = None
    vmm_type: VmmType = VmmType.QEMU
    guest_features: int = 0x1
    kernel: Input | None = None
    initrd: Input | None = None
    append: str | None = None
    ovmf_hash: bytes | None = None
    svsm: Input | None = None
    vars_size: int | None = None
    keep_vmsa: bool = False
    input_digests: bool = False
    vcpu_type: str | None = None
    product: SnpProduct | None = None


class Measurement(NamedTuple):
    """One launch measurement; ``vcpus`` is None for modes without VMSA pages."""

    vcpus: int | None
    digest: bytes


class SectionReport(NamedTuple):
    """How one SEV metadata section was measured (for ``--explain``)."""

    number: int
    type_name: str
    gpa: int
    size: int
    page_type: str
    pages: int
    note: str = ""


class KernelHashesReport(NamedTuple):
    """The hashes table as it was placed in guest memory."""

    table_gpa: int
    kernel_sha256: bytes
    initrd_sha256: bytes
    cmdline_sha256: bytes
    table_sha256: bytes


class SnpResult(NamedTuple):
    """A measurement run: the measurements plus everything needed to reproduce them."""

    request: SnpRequest
    measurements: tuple[Measurement, ...]
    firmware_source: str
    firmware_flavour: str
    ovmf: FileDigest | None
    kernel: FileDigest | None
    initrd: FileDigest | None
    svsm: FileDigest | None
    kernel_hashes: KernelHashesReport | None
    sections: tuple[SectionReport, ...]
    page_counts: dict[str, int]
    vmsa: VmsaPages | None = None
    product: SnpProduct | None = None

    @property
    def guest_features_used(self) -> int | None:
        """The SEV_FEATURES written into the VMSA pages (None where there are none).

        ``seves`` writes 0 and ``snp:svsm`` 0x1 whatever was asked; ``sev`` and
        ``snp:ovmf-hash`` have no VMSA.
        """
        mode = self.request.mode
        if mode is SevMode.SNP:
            return self.request.guest_features
        return {SevMode.SEV_ES: 0, SevMode.SNP_SVSM: 1}.get(mode)

    def to_json(self) -> dict[str, Any]:
        """The measurement document (``refkit measure snp --json``): see :mod:`.document`."""
        from refkit.measure.snp.document import result_json

        return result_json(self)


def _count(text: str, item: str) -> int:
    # ASCII digits only: int() would also take "1_2", " 3", "+4" and non-ASCII digits.
    digits = text.strip(" ")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 4:
        raise InputError(
            f"cannot read vCPU count {item[:40]!r}: use N, A-B or a comma-separated list "
            "of decimal numbers"
        )
    return int(digits)


def parse_vcpu_counts(text: str) -> tuple[int, ...]:
    """``"4"``, ``"1-64"``, ``"1,2,4,8"``, ``"1-4,8,16-18"`` → sorted, distinct counts.

    Counts are ASCII decimal digits (spaces around them are allowed); nothing else is read
    as a number (``1_2`` is not 12).
    """
    counts: set[int] = set()
    if not text.strip():
        raise InputError("the vCPU count list is empty; give a count, a range (1-64) or a list")
    for part in text.split(","):
        item = part.strip(" ")
        if "-" in item:
            lo_s, hi_s = item.split("-", 1)
            lo, hi = _count(lo_s, item), _count(hi_s, item)
            if lo > hi:
                raise InputError(f"vCPU range {item!r} runs backwards")
            values: Iterable[int] = range(lo, hi + 1)
        else:
            lo = hi = _count(item, item)
            values = (lo,)
        if lo < 1 or hi > MAX_VCPUS:
            raise InputError(f"vCPU count out of range in {item!r}: counts are 1..{MAX_VCPUS}")
        counts.update(values)
    return tuple(sorted(counts))


def measure(request: SnpRequest, *, digester: FileDigester | None = None) -> SnpResult:
    """Compute the launch measurement(s) that ``request`` describes.

    ``digester`` supplies the SHA-256 of the kernel and initrd files; pass a
    :class:`~refkit.hashing.PrefetchedDigester` over hashing started earlier to overlap it
    with other work. By default they are hashed here, in parallel with the firmware pages.
    """
    request = _check_request(request)
    # A pipe or device is always read here, once, within its limit; the digester serves
    # regular files only (the console script prefetches nothing else).
    files = digester or DirectDigester()
    ovmf_data, source = _load(request.ovmf, "OVMF firmware")
    check_page_layout(ovmf_data, source=source)
    firmware = parse_firmware(ovmf_data, source=source)
    mode = request.mode

    svsm_fw: Firmware | None = None
    if mode is SevMode.SNP_SVSM:
        svsm_fw, svsm_end = _load_svsm(request, firmware)
        metadata_fw = svsm_fw
    else:
        metadata_fw = firmware
        svsm_end = FOUR_GIB
        _check_sev_firmware(firmware, mode)
    if mode in (SevMode.SNP, SevMode.SNP_OVMF_HASH, SevMode.SNP_SVSM):
        _check_snp_sections(metadata_fw, mode, kernel_given=request.kernel is not None)
    kernel_in_sev = request.kernel is not None and mode in (SevMode.SEV, SevMode.SEV_ES)
    if kernel_in_sev and not firmware.has_kernel_hashes_table:
        raise UnsupportedInput(
            f"{source}: a kernel was given but this firmware has no SEV kernel hashes "
            f"table ({firmware.flavour()})",
            hint=AMD_SEV_FIRMWARE_HINT,
        )

    # -- hash every input once, in parallel ---------------------------------------------
    want_ovmf_pages = mode in (SevMode.SNP, SevMode.SNP_OVMF_HASH, SevMode.SNP_SVSM) and (
        request.ovmf_hash is None
    )
    tasks: dict[str, Callable[[], Any]] = {}
    if want_ovmf_pages:
        tasks["ovmf_pages"] = lambda: page_digests(ovmf_data)
    if request.input_digests:
        tasks["ovmf"] = lambda: digest_bytes(ovmf_data, ("sha256", "sha384"), path=source)
    if svsm_fw is not None:
        svsm_bytes = svsm_fw.data
        tasks["svsm_pages"] = lambda: page_digests(svsm_bytes)
        if request.input_digests:
            tasks["svsm"] = lambda: digest_bytes(svsm_bytes, ("sha256", "sha384"))
    if request.kernel is not None:
        kernel_in = request.kernel
        kernel_src = _open_input(kernel_in, "kernel", MAX_KERNEL_BYTES)
        tasks["kernel"] = lambda: _digest(kernel_src, files, "kernel", MAX_KERNEL_BYTES)
        if request.initrd is not None:
            initrd_src = _open_input(request.initrd, "initrd", MAX_INITRD_BYTES)
            tasks["initrd"] = lambda: _digest(initrd_src, files, "initrd", MAX_INITRD_BYTES)
    results = dict(zip(tasks, run_parallel(list(tasks.values())), strict=True))

    kernel_hashes: KernelHashes | None = None
    if request.kernel is not None:
        initrd_fd: FileDigest | None = results.get("initrd")
        kernel_hashes = KernelHashes(
            kernel=results["kernel"].digests["sha256"],
            initrd=(
                initrd_fd.digests["sha256"] if initrd_fd is not None else hashlib.sha256().digest()
            ),
            cmdline=hashlib.sha256(cmdline_bytes(request.append)).digest(),
        )

    ovmf_fd: FileDigest | None = results.get("ovmf")
    vmsa_pages = _vmsa_pages(request, firmware, svsm_fw) if mode.uses_vmsa else None

    sections: list[SectionReport] = []
    page_counts: dict[str, int] = {}
    if mode in (SevMode.SEV, SevMode.SEV_ES):
        measurements = _sev_digests(request, ovmf_data, kernel_hashes, vmsa_pages)
    else:
        ld = LaunchDigest(request.ovmf_hash) if request.ovmf_hash else LaunchDigest()
        if want_ovmf_pages:
            ld.normal_pages(firmware.gpa(), results["ovmf_pages"])
        if svsm_fw is not None:
            ld.normal_pages(svsm_fw.gpa(svsm_end), results["svsm_pages"])
        if mode is SevMode.SNP_OVMF_HASH:
            measurements = (Measurement(None, ld.digest),)
        else:
            vmm = VmmType.QEMU if mode is SevMode.SNP_SVSM else request.vmm_type
            sections = _measure_sections(ld, metadata_fw, kernel_hashes, vmm)
            assert vmsa_pages is not None
            measurements = _vmsa_measurements(ld, vmsa_pages, request.vcpus)
        page_counts = {t.name: n for t, n in sorted(ld.counts.items())}
        if measurements and measurements[-1].vcpus:
            page_counts[PageType.VMSA.name] = measurements[-1].vcpus

    return SnpResult(
        request=request,
        measurements=measurements,
        firmware_source=source,
        firmware_flavour=firmware.flavour(),
        ovmf=ovmf_fd,
        kernel=results.get("kernel"),
        initrd=results.get("initrd"),
        svsm=results.get("svsm"),
        kernel_hashes=_kernel_hashes_report(firmware, kernel_hashes),
        sections=tuple(sections),
        page_counts=page_counts,
        vmsa=vmsa_pages if request.keep_vmsa else None,
        product=request.product or product_of_signature(request.vcpu_sig),
    )


def _load(item: Input, what: str) -> tuple[bytes, str]:
    """An image's bytes and the name to use for it in messages."""
    if isinstance(item, bytes):
        if len(item) > MAX_FIRMWARE_BYTES:
            raise InputError(f"{what} of {len(item)} bytes is larger than {MAX_FIRMWARE_BYTES}")
        return item, f"<{what} bytes>"
    return read_input_file(item, what=what, limit=MAX_FIRMWARE_BYTES), os.fspath(item)


class _Source(NamedTuple):
    """A kernel or initrd checked before hashing: bytes, a regular file, or a pipe."""

    item: Input
    pipe: bool


def _open_input(item: Input, what: str, limit: int) -> _Source:
    """Refuse, before any reading, an input over its limit or one that never ends."""
    if isinstance(item, bytes):
        if len(item) > limit:
            raise InputError(f"the {what} is {len(item)} bytes, more than the limit of {limit}")
        return _Source(item, pipe=False)
    try:
        info = os.stat(item)
    except OSError as exc:
        raise input_os_error(exc, item, what=what) from None
    if stat.S_ISREG(info.st_mode):
        if info.st_size > limit:
            raise InputError(
                f"{what} {os.fspath(item)} is {info.st_size} bytes, more than the limit of {limit}"
            )
        return _Source(item, pipe=False)
    if stat.S_ISFIFO(info.st_mode):
        return _Source(item, pipe=True)
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{what} {os.fspath(item)} is a directory, not a file")
    raise InputError(
        f"{what} {os.fspath(item)} is not a regular file or a pipe (a device has no end)"
    )


def _digest(src: _Source, files: FileDigester, what: str, limit: int) -> FileDigest:
    item = src.item
    if isinstance(item, bytes):
        return digest_bytes(item, ("sha256",), path=f"<{what} bytes>")
    if src.pipe:
        return _digest_pipe(item, what, limit)
    fd = files.digest(item, what=what)
    if fd.size > limit:
        raise InputError(f"{what} {os.fspath(item)} is more than the limit of {limit} bytes")
    return fd


def _digest_pipe(path: StrPath, what: str, limit: int) -> FileDigest:
    """SHA-256 of what a pipe carries, refused once it passes ``limit`` bytes."""
    h = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_STREAM_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise InputError(
                        f"{what} {os.fspath(path)} is more than the limit of {limit} bytes"
                    )
                h.update(chunk)
    except OSError as exc:
        raise input_os_error(exc, path, what=what) from None
    return FileDigest(os.fspath(path), size, {"sha256": h.digest()})


# -- checks ----------------------------------------------------------------------------


def _check_request(req: SnpRequest) -> SnpRequest:
    """Refuse an inconsistent request; return it with the vCPU type's signature filled in.

    Messages name the inputs ("the initrd"), never a command-line option: the CLI adds
    its own wording where it helps.
    """
    try:  # a caller may give the enums' strings
        mode = SevMode(req.mode)
        vmm = req.vmm_type if isinstance(req.vmm_type, VmmType) else VmmType.parse(req.vmm_type)
        product = None if req.product is None else SnpProduct(req.product)
    except ValueError as exc:
        raise InputError(f"unknown mode, VMM type or product: {exc}") from None
    req = req._replace(mode=mode, vmm_type=vmm, product=product)
    if req.vcpu_type is not None:
        named = CPU_TYPES.get(req.vcpu_type)
        if named is None:
            raise InputError(
                f"unknown vCPU type {req.vcpu_type!r}; known types: {', '.join(CPU_TYPES)}"
            )
        if req.vcpu_sig is None:
            req = req._replace(vcpu_sig=named)
        elif req.vcpu_sig != named:
            raise InputError(
                f"vCPU type {req.vcpu_type} has signature {named:#x}, not {req.vcpu_sig:#x}"
            )
    if product is not None:
        implied = product_of_signature(req.vcpu_sig)
        if implied is not None and implied is not product:
            raise InputError(
                f"the vCPU signature {req.vcpu_sig:#x} is an EPYC {implied.value}, "
                f"not the product {product.value} given"
            )
    if req.ovmf_hash is not None:
        if mode is not SevMode.SNP:
            raise InputError("a given OVMF launch digest works only in mode snp")
        if len(req.ovmf_hash) != 48:
            raise InputError(
                f"the OVMF launch digest must be 48 bytes (96 hex digits), got {len(req.ovmf_hash)}"
            )
    if req.initrd is not None and req.kernel is None:
        raise InputError("an initrd needs a kernel")
    if req.append is not None and req.kernel is None and req.append != "":
        raise InputError("a kernel command line needs a kernel")
    if req.append is not None and len(req.append) * 4 > MAX_CMDLINE_BYTES:
        size = len(req.append.encode("utf-8", "surrogatepass"))
        if size > MAX_CMDLINE_BYTES:
            raise InputError(
                f"the kernel command line is {size} bytes, more than the limit of "
                f"{MAX_CMDLINE_BYTES}"
            )
    if mode.uses_vmsa:
        if not req.vcpus:
            raise InputError(f"mode {mode.value} needs at least one vCPU count")
        if any(not 1 <= n <= MAX_VCPUS for n in req.vcpus):
            raise InputError(f"vCPU counts must be within 1..{MAX_VCPUS}")
        if req.vcpu_sig is None and (req.vmm_type is VmmType.QEMU or mode is SevMode.SNP_SVSM):
            raise InputError(
                f"mode {mode.value} with vmm type {req.vmm_type.peer_name} needs the vCPU "
                "signature: a vCPU type, a raw signature or a family/model/stepping"
            )
    if mode is SevMode.SNP_SVSM:
        if req.svsm is None:
            raise InputError("mode snp:svsm needs an SVSM image")
        if req.vars_size is None:
            raise InputError("mode snp:svsm needs the OVMF VARS size")
        if req.vmm_type is not VmmType.QEMU:
            raise InputError("mode snp:svsm is defined for vmm type QEMU only")
        if req.kernel is not None:
            raise InputError("mode snp:svsm does not measure a kernel")
    elif req.svsm is not None or req.vars_size is not None:
        raise InputError("an SVSM image and an OVMF VARS size belong to mode snp:svsm")
    if req.vars_size is not None and (req.vars_size < 0 or req.vars_size % PAGE_SIZE):
        raise InputError(f"OVMF VARS size {req.vars_size} is not a whole number of pages")
    if not 0 <= req.guest_features < 1 << 64:
        raise InputError("the guest features (SEV_FEATURES) must fit in 64 bits")
    if req.vcpu_sig is not None and not 0 <= req.vcpu_sig < 1 << 64:
        raise InputError("the vCPU signature must fit in 64 bits")
    return req


def _check_sev_firmware(fw: Firmware, mode: SevMode) -> None:
    if fw.is_tdx_build:
        raise UnsupportedInput(
            f"{fw.source}: this is an Intel TDX build of OVMF ({fw.flavour()}); it cannot "
            f"launch an AMD SEV guest (mode {mode.value})",
            hint=AMD_SEV_FIRMWARE_HINT,
        )


def _check_snp_sections(fw: Firmware, mode: SevMode, *, kernel_given: bool) -> None:
    what = "SVSM image" if mode is SevMode.SNP_SVSM else "firmware"
    if fw.sev_sections is None:
        raise UnsupportedInput(
            f"{fw.source}: the {what} has no SEV metadata ({fw.flavour()}); SEV-SNP needs "
            "the metadata that lists the pages the guest expects to be pre-validated",
            hint=AMD_SEV_FIRMWARE_HINT,
        )
    if mode is SevMode.SNP_OVMF_HASH:
        return
    if fw.empty_sev_sections:
        s = fw.empty_sev_sections[0]
        raise UnsupportedInput(
            f"{fw.source}: SEV metadata section {s.number} ({s.type_name}) is empty (size 0 "
            f"at {s.gpa:#x}): the {what} was built without SEV support",
            hint=AMD_SEV_FIRMWARE_HINT,
        )
    for s in fw.sev_sections:
        if s.kind is None:
            raise UnsupportedInput(
                f"{fw.source}: SEV metadata section {s.number} has {s.type_name}, which refkit "
                "does not know how to measure",
                hint="a newer OVMF may need a newer refkit; report the firmware's version",
            )
        if s.gpa % PAGE_SIZE or s.size % PAGE_SIZE:
            raise UnsupportedInput(
                f"{fw.source}: SEV metadata section {s.number} ({s.type_name}) at {s.gpa:#x} "
                f"size {s.size:#x} is not page-aligned"
            )
        if s.gpa + max(s.size, PAGE_SIZE) > FOUR_GIB:
            raise UnsupportedInput(
                f"{fw.source}: SEV metadata section {s.number} ({s.type_name}) does not fit "
                "below 4 GiB"
            )
    hashes = [s for s in fw.sev_sections if s.kind is SevSectionType.SNP_KERNEL_HASHES]
    if kernel_given:
        if not hashes:
            raise UnsupportedInput(
                f"{fw.source}: a kernel was given but the {what} has no SNP_KERNEL_HASHES "
                "section, so the kernel, initrd and command line would not be measured",
                hint=AMD_SEV_FIRMWARE_HINT,
            )
        table_gpa = fw.hashes_table_gpa
        if table_gpa is None:
            raise UnsupportedInput(
                f"{fw.source}: the {what} has an SNP_KERNEL_HASHES section but no hashes "
                "table entry in its footer table",
                hint=AMD_SEV_FIRMWARE_HINT,
            )
        for s in hashes:
            if s.size != PAGE_SIZE:
                raise UnsupportedInput(
                    f"{fw.source}: SNP_KERNEL_HASHES section {s.number} is {s.size:#x} bytes; "
                    "QEMU fills exactly one page"
                )
            offset = table_gpa & (PAGE_SIZE - 1)
            if offset + PADDED_TABLE_LEN > PAGE_SIZE:
                raise UnsupportedInput(
                    f"{fw.source}: the kernel hashes table at {table_gpa:#x} crosses a page "
                    "boundary"
                )


def _load_svsm(req: SnpRequest, ovmf: Firmware) -> tuple[Firmware, int]:
    assert req.svsm is not None and req.vars_size is not None
    data, source = _load(req.svsm, "SVSM image")
    end = ovmf.gpa() - req.vars_size
    if end < 0:
        raise InputError(f"OVMF VARS size {req.vars_size} puts the SVSM below address 0")
    check_page_layout(data, source=source, end=end)
    fw = parse_firmware(data, source=source)
    if fw.footer_u32(SVSM_INFO_GUID) is None:
        raise UnsupportedInput(
            f"{source}: no SVSM info entry ({SVSM_INFO_GUID}) in the footer table: not a "
            "Coconut-SVSM image"
        )
    return fw, end


# -- measurement -----------------------------------------------------------------------


def _vmsa_pages(req: SnpRequest, ovmf: Firmware, svsm: Firmware | None) -> VmsaPages:
    sig = req.vcpu_sig or 0
    if req.mode is SevMode.SNP_SVSM:
        assert svsm is not None and req.vars_size is not None
        entry = svsm.footer_u32(SVSM_INFO_GUID)
        assert entry is not None
        eip = entry + svsm.gpa(ovmf.gpa() - req.vars_size)
        page = svsm_save_area(eip, sig).page()
        return VmsaPages(page, page)
    features = 0 if req.mode is SevMode.SEV_ES else req.guest_features
    bsp = reset_save_area(BSP_EIP, features, sig, req.vmm_type).page()
    ap_eip = ovmf.sev_es_reset_eip
    if not ap_eip:
        if max(req.vcpus) > 1:
            raise UnsupportedInput(
                f"{ovmf.source}: the firmware has no SEV-ES reset block, so application "
                "processors cannot start: only 1 vCPU can be measured",
                hint=AMD_SEV_FIRMWARE_HINT,
            )
        return VmsaPages(bsp, None)
    return VmsaPages(bsp, reset_save_area(ap_eip, features, sig, req.vmm_type).page())


def _vmsa_measurements(
    ld: LaunchDigest, pages: VmsaPages, counts: Sequence[int]
) -> tuple[Measurement, ...]:
    bsp_digest, ap_digest = pages.digests()
    wanted = set(counts)
    out = []
    for n in range(1, max(counts) + 1):
        digest = bsp_digest if n == 1 else ap_digest
        assert digest is not None
        ld.vmsa_page(digest)
        if n in wanted:
            out.append(Measurement(n, ld.digest))
    ld.counts.pop(PageType.VMSA, None)  # reported separately: pages for the largest count
    return tuple(out)


def _sev_digests(
    req: SnpRequest,
    ovmf_data: bytes,
    kernel_hashes: KernelHashes | None,
    pages: VmsaPages | None,
) -> tuple[Measurement, ...]:
    # SEV and SEV-ES: one SHA-256 over the image, the table and the VMSA pages.
    h = hashlib.sha256(ovmf_data)
    if kernel_hashes is not None:
        h.update(kernel_hashes.table())
    if req.mode is SevMode.SEV:
        return (Measurement(None, h.digest()),)
    assert pages is not None
    wanted = set(req.vcpus)
    out = []
    for n in range(1, max(req.vcpus) + 1):
        h.update(pages.page(n - 1))
        if n in wanted:
            out.append(Measurement(n, h.copy().digest()))
    return tuple(out)


def _measure_sections(
    ld: LaunchDigest, fw: Firmware, kernel_hashes: KernelHashes | None, vmm: VmmType
) -> list[SectionReport]:
    assert fw.sev_sections is not None
    reports: list[SectionReport] = []
    deferred: list[SevSection] = []
    for s in fw.sev_sections:
        kind = s.kind
        if kind is SevSectionType.CPUID and vmm is VmmType.EC2:
            deferred.append(s)  # EC2 measures the CPUID page after all other sections
            continue
        reports.append(_measure_section(ld, fw, s, kernel_hashes, vmm))
    for s in deferred:
        ld.update(PageType.CPUID, s.gpa, bytes(48))
        reports.append(
            SectionReport(s.number, s.type_name, s.gpa, s.size, "CPUID", 1, "after all (ec2)")
        )
    return reports


def _measure_section(
    ld: LaunchDigest,
    fw: Firmware,
    s: SevSection,
    kernel_hashes: KernelHashes | None,
    vmm: VmmType,
) -> SectionReport:
    kind = s.kind
    pages = s.size // PAGE_SIZE
    if kind is SevSectionType.SNP_SEC_MEM:
        page_type = PageType.UNMEASURED if vmm is VmmType.GCE else PageType.ZERO
        ld.blank_pages(page_type, s.gpa, s.size)
        return SectionReport(s.number, s.type_name, s.gpa, s.size, page_type.name, pages)
    if kind is SevSectionType.SNP_SECRETS:
        ld.update(PageType.SECRETS, s.gpa, bytes(48))
        return SectionReport(s.number, s.type_name, s.gpa, s.size, "SECRETS", 1)
    if kind is SevSectionType.CPUID:
        ld.update(PageType.CPUID, s.gpa, bytes(48))
        return SectionReport(s.number, s.type_name, s.gpa, s.size, "CPUID", 1)
    if kind is SevSectionType.SVSM_CAA:
        ld.blank_pages(PageType.ZERO, s.gpa, s.size)
        return SectionReport(s.number, s.type_name, s.gpa, s.size, "ZERO", pages)
    if kind is SevSectionType.SNP_KERNEL_HASHES:
        if kernel_hashes is None:
            ld.blank_pages(PageType.ZERO, s.gpa, s.size)
            return SectionReport(
                s.number, s.type_name, s.gpa, s.size, "ZERO", pages, "no kernel given"
            )
        table_gpa = fw.hashes_table_gpa
        assert table_gpa is not None
        page = kernel_hashes.page(table_gpa & (PAGE_SIZE - 1))
        ld.data_pages(s.gpa, page)
        return SectionReport(
            s.number, s.type_name, s.gpa, s.size, "NORMAL", 1, f"hashes table at {table_gpa:#x}"
        )
    raise UnsupportedInput(f"{fw.source}: cannot measure SEV metadata section {s.type_name}")


def _kernel_hashes_report(fw: Firmware, kh: KernelHashes | None) -> KernelHashesReport | None:
    if kh is None:
        return None
    return KernelHashesReport(
        table_gpa=fw.hashes_table_gpa or 0,
        kernel_sha256=kh.kernel,
        initrd_sha256=kh.initrd,
        cmdline_sha256=kh.cmdline,
        table_sha256=hashlib.sha256(kh.table()).digest(),
    )
