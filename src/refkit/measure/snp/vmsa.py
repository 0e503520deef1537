"""Initial VMSA pages (the vCPU register state that SEV-ES and SEV-SNP measure).

The page follows the VMCB save-state area of the AMD64 Architecture Programmer's Manual
vol. 2, appendix B, table B-4 ("VMSA layout, state save area for SEV-ES"), which Linux
names ``struct sev_es_save_area``. Only the fields a VMM sets at reset are written; the
rest of the 4 KiB page is zero. Offsets (bytes)::

    0x000 ES  0x010 CS  0x020 SS  0x030 DS  0x040 FS  0x050 GS      segment registers:
    0x060 GDTR 0x070 LDTR 0x080 IDTR 0x090 TR                       {u16 selector,
                                                                     u16 attrib, u32 limit,
                                                                     u64 base}
    0x0D0 EFER  0x148 CR4  0x158 CR0  0x160 DR7  0x168 DR6  0x170 RFLAGS  0x178 RIP
    0x268 G_PAT 0x310 RDX  0x3B0 SEV_FEATURES  0x3E8 XCR0
    0x408 MXCSR (u32)  0x410 X87_FCW (u16)

Initial values per VMM follow what QEMU/KVM, AWS EC2 and Google Compute Engine load, as
recorded by sev-snp-measure 0.0.13 (the reference this module is tested against byte for
byte, including its ``snp:svsm`` layout in which the x87 control word stays 0).
"""

from __future__ import annotations

import hashlib
import struct
from typing import NamedTuple

from refkit.measure.snp.modes import VmmType

PAGE_SIZE = 4096
BSP_EIP = 0xFFFFFFF0


_SEG = struct.Struct("<HHIQ")
_OFF_SEGMENTS = {
    "es": 0x000,
    "cs": 0x010,
    "ss": 0x020,
    "ds": 0x030,
    "fs": 0x040,
    "gs": 0x050,
    "gdtr": 0x060,
    "ldtr": 0x070,
    "idtr": 0x080,
    "tr": 0x090,
}
_OFF_U64 = {
    "efer": 0x0D0,
    "cr4": 0x148,
    "cr0": 0x158,
    "dr7": 0x160,
    "dr6": 0x168,
    "rflags": 0x170,
    "rip": 0x178,
    "g_pat": 0x268,
    "rdx": 0x310,
    "sev_features": 0x3B0,
    "xcr0": 0x3E8,
}
_OFF_MXCSR = 0x408  # u32
_OFF_X87_FCW = 0x410  # u16

_PAT_DEFAULT = 0x0007040600070406  # PAT MSR reset value, APM vol. 2 §A.3
_PAT_GCE = 0x00070106  # GCE's hypervisor overwrites the default


class Segment(NamedTuple):
    selector: int
    attrib: int
    limit: int
    base: int


class SaveArea(NamedTuple):
    """The register values written into one VMSA page."""

    segments: dict[str, Segment]
    registers: dict[str, int]
    mxcsr: int
    x87_fcw: int

    def page(self) -> bytes:
        buf = bytearray(PAGE_SIZE)
        for name, seg in self.segments.items():
            _SEG.pack_into(buf, _OFF_SEGMENTS[name], seg.selector, seg.attrib, seg.limit, seg.base)
        for name, value in self.registers.items():
            struct.pack_into("<Q", buf, _OFF_U64[name], value & 0xFFFFFFFFFFFFFFFF)
        struct.pack_into("<I", buf, _OFF_MXCSR, self.mxcsr)
        struct.pack_into("<H", buf, _OFF_X87_FCW, self.x87_fcw)
        return bytes(buf)


def reset_save_area(eip: int, sev_features: int, vcpu_sig: int, vmm: VmmType) -> SaveArea:
    """Real-mode reset state of a vCPU starting at ``eip`` (OVMF guests, SEV-ES and SNP)."""
    g_pat = _PAT_DEFAULT
    if vmm is VmmType.QEMU:
        cs_flags, ss_flags, tr_flags = 0x9B, 0x93, 0x8B
        rdx, mxcsr, fcw = vcpu_sig, 0x1F80, 0x37F
    elif vmm is VmmType.EC2:
        cs_flags = 0x9A if eip == BSP_EIP else 0x9B
        ss_flags, tr_flags = 0x92, 0x83
        rdx, mxcsr, fcw = 0x600, 0, 0
    else:  # GCE
        cs_flags, ss_flags, tr_flags = 0x9B, 0x93, 0x8B
        g_pat = _PAT_GCE
        rdx, mxcsr, fcw = 0x600, 0, 0
    data_seg = Segment(0, 0x93, 0xFFFF, 0)
    return SaveArea(
        segments={
            "es": data_seg,
            "cs": Segment(0xF000, cs_flags, 0xFFFF, eip & 0xFFFF0000),
            "ss": Segment(0, ss_flags, 0xFFFF, 0),
            "ds": data_seg,
            "fs": data_seg,
            "gs": data_seg,
            "gdtr": Segment(0, 0, 0xFFFF, 0),
            "idtr": Segment(0, 0, 0xFFFF, 0),
            "ldtr": Segment(0, 0x82, 0xFFFF, 0),
            "tr": Segment(0, tr_flags, 0xFFFF, 0),
        },
        registers={
            "efer": 0x1000,  # KVM sets EFER.SVME
            "cr4": 0x40,  # KVM sets CR4.MCE
            "cr0": 0x10,
            "dr7": 0x400,
            "dr6": 0xFFFF0FF0,
            "rflags": 0x2,
            "rip": eip & 0xFFFF,
            "g_pat": g_pat,
            "rdx": rdx,
            "sev_features": sev_features,
            "xcr0": 0x1,
        },
        mxcsr=mxcsr,
        x87_fcw=fcw,
    )


def svsm_save_area(eip: int, vcpu_sig: int) -> SaveArea:
    """Protected-mode start state of a vCPU entering Coconut-SVSM at ``eip`` (QEMU)."""
    flat_data = Segment(16, 0xC93, 0xFFFFFFFF, 0)
    return SaveArea(
        segments={
            "es": flat_data,
            "cs": Segment(8, 0xC9B, 0xFFFFFFFF, 0),
            "ss": flat_data,
            "ds": flat_data,
            "fs": flat_data,
            "gs": Segment(0, 0x093, 0xFFFF, 0),
            "gdtr": Segment(0, 0, 0xFFFF, 0),
            "idtr": Segment(0, 0, 0xFFFF, 0),
            "ldtr": Segment(0, 0x82, 0xFFFF, 0),
            "tr": Segment(0, 0x8B, 0xFFFF, 0),
        },
        registers={
            "efer": 0x1000,
            "cr4": 0x40,
            "cr0": 0x11,
            "dr7": 0x400,
            "dr6": 0xFFFF0FF0,
            "rflags": 0x2,
            "rip": eip,
            "g_pat": _PAT_DEFAULT,
            "rdx": vcpu_sig,
            "sev_features": 0x1,
            "xcr0": 0x1,
        },
        mxcsr=0x1F80,
        x87_fcw=0,  # sev-snp-measure 0.0.13 leaves it 0 in this mode; measured values agree
    )


class VmsaPages(NamedTuple):
    """The VMSA page of the boot processor and the one every other vCPU uses."""

    bsp: bytes
    ap: bytes | None

    def page(self, index: int) -> bytes:
        if index == 0:
            return self.bsp
        if self.ap is None:
            raise ValueError("the firmware has no SEV-ES reset block: only one vCPU can start")
        return self.ap

    def digests(self) -> tuple[bytes, bytes | None]:
        return (
            hashlib.sha384(self.bsp).digest(),
            hashlib.sha384(self.ap).digest() if self.ap is not None else None,
        )
