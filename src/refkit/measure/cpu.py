"""vCPU signatures: the CPUID Fn0000_0001_EAX value a VMM loads into RDX at reset.

AMD CPUID Specification (publication 25481), "CPUID Fn0000_0001_EAX Family, Model,
Stepping Identifiers": family above 0xF is split into a base family 0xF and an extended
family (family - 0xF); the model into low and high nibbles.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from refkit.errors import InputError


class SnpProduct(enum.StrEnum):
    """AMD EPYC generations that run SEV-SNP guests, spelled as AMD's key distribution
    service and Contrast spell them (the manifest's ``product``)."""

    MILAN = "Milan"
    GENOA = "Genoa"
    TURIN = "Turin"


def cpu_signature(family: int, model: int, stepping: int) -> int:
    """The 32-bit signature for a family, model and stepping."""
    if not 0 <= family <= 0xFF + 0xF:
        raise ValueError(f"family {family} is out of range (0..{0xFF + 0xF})")
    if not 0 <= model <= 0xFF:
        raise ValueError(f"model {model} is out of range (0..255)")
    if not 0 <= stepping <= 0xF:
        raise ValueError(f"stepping {stepping} is out of range (0..15)")
    if family > 0xF:
        family_low, family_high = 0xF, (family - 0xF) & 0xFF
    else:
        family_low, family_high = family, 0
    return (
        (family_high << 20)
        | (((model >> 4) & 0xF) << 16)
        | (family_low << 8)
        | ((model & 0xF) << 4)
        | (stepping & 0xF)
    )


def signature_fields(signature: int) -> tuple[int, int, int]:
    """(family, model, stepping) of a signature: the inverse of :func:`cpu_signature`."""
    base_family = (signature >> 8) & 0xF
    family = base_family + ((signature >> 20) & 0xFF) if base_family == 0xF else base_family
    model = (((signature >> 16) & 0xF) << 4) | ((signature >> 4) & 0xF)
    return family, model, signature & 0xF


def product_of_signature(signature: int | None) -> SnpProduct | None:
    """The EPYC generation a vCPU signature names, or None when it names none.

    AMD's family/model ranges (DOMAIN.md, attestation report CPUID fields): family 0x19
    models 0x00-0x0F Milan, 0x10-0x1F and 0xA0-0xAF Genoa; family 0x1A Turin. Anything
    else (e.g. EPYC-v4's family 0x17, which has no SEV-SNP) gives None, never a guess.
    """
    if signature is None or not 0 <= signature <= 0xFFFFFFFF:
        return None
    family, model, _ = signature_fields(signature)
    if family == 0x19 and model <= 0x0F:
        return SnpProduct.MILAN
    if family == 0x19 and (0x10 <= model <= 0x1F or 0xA0 <= model <= 0xAF):
        return SnpProduct.GENOA
    if family == 0x1A:
        return SnpProduct.TURIN
    return None


_EPYC = cpu_signature(23, 1, 2)
_ROME = cpu_signature(23, 49, 0)
_MILAN = cpu_signature(25, 1, 1)
_GENOA = cpu_signature(25, 17, 0)
_TURIN = cpu_signature(26, 0, 0)

#: QEMU's named AMD EPYC CPU models (``builtin_x86_defs``) and their signatures.
CPU_TYPES: Mapping[str, int] = MappingProxyType(
    {
        "EPYC": _EPYC,
        "EPYC-v1": _EPYC,
        "EPYC-v2": _EPYC,
        "EPYC-IBPB": _EPYC,
        "EPYC-v3": _EPYC,
        "EPYC-v4": _EPYC,
        "EPYC-Rome": _ROME,
        "EPYC-Rome-v1": _ROME,
        "EPYC-Rome-v2": _ROME,
        "EPYC-Rome-v3": _ROME,
        "EPYC-Milan": _MILAN,
        "EPYC-Milan-v1": _MILAN,
        "EPYC-Milan-v2": _MILAN,
        "EPYC-Genoa": _GENOA,
        "EPYC-Genoa-v1": _GENOA,
        "EPYC-Turin": _TURIN,
    }
)


def resolve_signature(
    *,
    vcpu_type: str | None = None,
    vcpu_sig: int | None = None,
    family: int | None = None,
    model: int | None = None,
    stepping: int | None = None,
) -> int | None:
    """The signature from exactly one of: a named type, a raw value, or family/model/stepping.

    Returns None when none is given (the caller decides whether the VMM needs one).
    """
    fms = (family, model, stepping)
    given = [
        name
        for name, present in (
            ("a vCPU type", vcpu_type is not None),
            ("a vCPU signature", vcpu_sig is not None),
            ("a vCPU family/model/stepping", any(v is not None for v in fms)),
        )
        if present
    ]
    if len(given) > 1:
        raise InputError(f"give only one of {', '.join(given)}: they all set the vCPU signature")
    if vcpu_type is not None:
        try:
            return CPU_TYPES[vcpu_type]
        except KeyError:
            raise InputError(
                f"unknown vCPU type {vcpu_type!r}; known types: {', '.join(CPU_TYPES)}"
            ) from None
    if vcpu_sig is not None:
        if not 0 <= vcpu_sig <= 0xFFFFFFFF:
            raise InputError(f"vCPU signature {vcpu_sig:#x} does not fit in 32 bits")
        return vcpu_sig
    if family is not None or model is not None or stepping is not None:
        if family is None or model is None or stepping is None:
            raise InputError("the vCPU family, model and stepping go together: give all three")
        try:
            return cpu_signature(family, model, stepping)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    return None
