"""Export to Contrast reference values (``snp[]`` and ``tdx[]``).

Follows edgelesssys/contrast ``internal/manifest/referencevalues.go`` at commit
07866dc08e532c76192360045a0bab694b7d3816 (types ``ReferenceValues``,
``SNPReferenceValues``, ``SNPTCB``, ``TDXReferenceValues``), serialised with Go's
``encoding/json`` defaults: struct field names as keys in declaration order, ``HexString``
as lower-case hex strings, ``SVN`` and integers as JSON numbers, booleans as booleans, the
``snp``/``tdx`` lists omitted when empty (``omitempty``), an absent allow-list as ``null``
(a nil slice) and a declared empty one as ``[]``. ``GuestPolicy`` and
``PlatformInfo`` are go-sev-guest's ``abi.SnpPolicy`` and ``abi.SnpPlatformInfo`` (no JSON
tags), decoded from the u64 report fields with the bit positions of google/go-sev-guest
``abi/abi.go`` at commit af1c107a648f47253da23a9de7a7c82ec073cfdb (``ParseSnpPolicy``,
``ParseSnpPlatformInfo``).

Mapping (Contrast accepts a workload if *any* one set matches):

- one ``snp[]`` set per computed SNP measurement crossed with the declared SNP values for its
  product (a computed entry without a product yields one set per declared product);
  ``Platform`` is ``Metal-QEMU-SNP`` (``Metal-QEMU-SNP-GPU`` when the shape has GPUs);
  ``CPUs`` is the shape's vCPU count;
- one ``tdx[]`` set per computed TDX entry crossed with each declared TDX module entry and
  each of its MRSEAMs; ``Platform`` is ``Metal-QEMU-TDX``; ``MemoryIntegrity``,
  ``SMTDisabled`` and ``StaticPlatform`` are false (refkit's model has no such declaration
  yet).

Not expressible in Contrast, reported as warnings: SNP entries for products other than
Milan/Genoa or for VMMs other than QEMU, VMPL, TDX ``tdAttributes``, TDX entries that
declare only some RTMRs (Contrast compares all four), and every other kind of reference
value in the registry (vTPM values, policy hashes, which Contrast keeps in ``Policies``,
GPU values, models, and any kind added later). Refused
(:class:`~refkit.errors.UnsupportedInput`): SNP measurements without declared SNP values
(Contrast requires MinimumTCB and GuestPolicy), TDX measurements without declared MRSEAMs.
"""

from __future__ import annotations

from typing import Any

from refkit.errors import UnsupportedInput
from refkit.manifests.exports import Export, pretty_json
from refkit.manifests.model import (
    SnpDeclared,
    SnpProduct,
    SnpReference,
    TdxDeclared,
    TdxReference,
    declared_snp,
    declared_tdx,
)
from refkit.manifests.model import snp as snp_kind
from refkit.manifests.model import tdx as tdx_kind
from refkit.manifests.statement import Statement

UPSTREAM = "edgelesssys/contrast internal/manifest/referencevalues.go @ 07866dc08e53"
CONTRAST_PRODUCTS = (SnpProduct.MILAN, SnpProduct.GENOA)

# go-sev-guest abi.SnpPolicy field → guest policy bit (SEV-SNP ABI, guest policy table).
_POLICY_BITS = (
    ("SMT", 16),
    ("MigrateMA", 18),
    ("Debug", 19),
    ("SingleSocket", 20),
    ("CXLAllowed", 21),
    ("MemAES256XTS", 22),
    ("RAPLDis", 23),
    ("CipherTextHidingDRAM", 24),
    ("PageSwapDisable", 25),
)
# go-sev-guest abi.SnpPlatformInfo field → PLATFORM_INFO bit.
_PLATFORM_INFO_BITS = (
    ("SMTEnabled", 0),
    ("TSMEEnabled", 1),
    ("ECCEnabled", 2),
    ("RAPLDisabled", 3),
    ("CiphertextHidingDRAMEnabled", 4),
    ("AliasCheckComplete", 5),
    ("TIOEnabled", 7),
)


def guest_policy(policy: int) -> dict[str, Any]:
    """``abi.SnpPolicy`` as Go marshals it, from the u64 guest policy."""
    out: dict[str, Any] = {"ABIMinor": policy & 0xFF, "ABIMajor": (policy >> 8) & 0xFF}
    out.update({name: bool(policy >> bit & 1) for name, bit in _POLICY_BITS})
    return out


def platform_info(info: int) -> dict[str, Any]:
    """``abi.SnpPlatformInfo`` as Go marshals it, from the u64 PLATFORM_INFO."""
    return {name: bool(info >> bit & 1) for name, bit in _PLATFORM_INFO_BITS}


def _snp_set(ref: SnpReference, product: SnpProduct, dec: SnpDeclared) -> dict[str, Any]:
    tcb = dec.minimum_tcb
    platform = "Metal-QEMU-SNP-GPU" if ref.shape.gpus else "Metal-QEMU-SNP"
    return {
        "Platform": platform,
        "ProductName": product.value,
        "TrustedMeasurement": ref.measurement,
        "MinimumTCB": {
            "BootloaderVersion": tcb.bootloader,
            "TEEVersion": tcb.tee,
            "SNPVersion": tcb.snp,
            "MicrocodeVersion": tcb.microcode,
        },
        "GuestPolicy": guest_policy(dec.guest_policy),
        "PlatformInfo": platform_info(dec.platform_info or 0),
        "MinimumMitigationVector": dec.minimum_mitigation_vector or 0,
        # a nil Go slice marshals as null, an empty one as []: keep the distinction
        "AllowedChipIDs": None if dec.allowed_chip_ids is None else list(dec.allowed_chip_ids),
        "CPUs": ref.shape.vcpus,
    }


def _tdx_set(ref: TdxReference, mr_seam: str, tdx: TdxDeclared) -> dict[str, Any]:
    return {
        "Platform": "Metal-QEMU-TDX",
        "MinTCBEvaluationDataNumber": tdx.min_tcb_evaluation_data_number or 0,
        "MrTd": ref.mrtd,
        "MrSeam": mr_seam,
        "Rtmrs": [ref.rtmrs[str(i)] for i in range(4)],
        "Xfam": tdx.xfam or "",
        "AllowedPIIDs": None if tdx.allowed_piids is None else list(tdx.allowed_piids),
        "MemoryIntegrity": False,
        "SMTDisabled": False,
        "StaticPlatform": False,
        "CPUs": ref.shape.vcpus,
    }


def reference_values(statement: Statement) -> tuple[dict[str, Any], list[str]]:
    """The Contrast ``ReferenceValues`` object and the warnings about what it leaves out."""
    pred = statement.predicate
    declared = pred.declared
    warnings: list[str] = []
    snp: list[dict[str, Any]] = []
    for ref in pred.of(snp_kind.KIND):
        if ref.shape.vmm.type != "qemu":
            warnings.append(f"skipped {ref.key}: Contrast supports QEMU only")
            continue
        products = [ref.product] if ref.product else list(CONTRAST_PRODUCTS)
        emitted = False
        for product in products:
            if product not in CONTRAST_PRODUCTS:
                warnings.append(f"skipped {ref.key}: Contrast supports Milan and Genoa only")
                continue
            dec = declared.for_product(product) if declared else None
            if dec is None:
                if ref.product is None:
                    continue
                raise UnsupportedInput(
                    f"{ref.key}: no declared SNP values for {product}",
                    hint="Contrast needs MinimumTCB and GuestPolicy: add declared.snp",
                )
            if dec.vmpl not in (None, 0):
                warnings.append(f"{ref.key}: VMPL {dec.vmpl} is not expressible in Contrast")
            snp.append(_snp_set(ref, product, dec))
            emitted = True
        if not emitted and ref.product is None:
            raise UnsupportedInput(
                f"{ref.key}: no declared SNP values for Milan or Genoa",
                hint="Contrast needs MinimumTCB and GuestPolicy: add declared.snp",
            )
    tdx: list[dict[str, Any]] = []
    tdx_refs = pred.of(tdx_kind.KIND)
    if tdx_refs:
        tdx_declared = pred.of(declared_tdx.KIND)
        if not tdx_declared:
            raise UnsupportedInput(
                "TDX measurements without declared TDX values",
                hint="Contrast needs MrSeam: add declared.tdx with mrSeams",
            )
        if any(d.td_attributes is not None for d in tdx_declared):
            warnings.append("declared tdx.tdAttributes is not part of this Contrast version")
        for tref in tdx_refs:
            if len(tref.rtmrs) != 4:
                warnings.append(f"skipped {tref.key}: Contrast needs all four RTMRs")
                continue
            for dec_tdx in tdx_declared:
                for seam in dec_tdx.mr_seams:
                    tdx.append(_tdx_set(tref, seam, dec_tdx))
    handled = (snp_kind.KIND, tdx_kind.KIND, declared_snp.KIND, declared_tdx.KIND)
    for kind, _entries in pred.kinds():
        if kind not in handled:
            what = (
                kind.title[0].lower() + kind.title[1:] if kind.title[1:2].islower() else kind.title
            )
            note = " (Contrast keeps them in Policies)" if kind.name == "policies" else ""
            warnings.append(f"{what}{note} are not part of Contrast reference values; left out")
    out: dict[str, Any] = {}
    if snp:
        out["snp"] = snp
    if tdx:
        out["tdx"] = tdx
    if not out:
        raise UnsupportedInput("nothing to export: no SNP or TDX values Contrast can express")
    return out, warnings


def export(statement: Statement) -> Export:
    value, warnings = reference_values(statement)
    return Export("contrast", pretty_json(value), tuple(warnings))
