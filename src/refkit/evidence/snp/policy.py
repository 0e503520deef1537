"""SNP evidence against a reference manifest: does the report show the released guest?

:func:`compare` runs every check below and returns all results (none stops another). It
assumes :func:`refkit.evidence.snp.verify` established authenticity and the manifest's
signature was verified by the caller; nothing here is cryptographic.

- MEASUREMENT is one of ``referenceValues.snp`` (entries for another product skipped); the
  result names the shape (vCPUs, type, memory, VMM) that matched;
- debug: a policy with DEBUG fails unless ``declared.snp.debugAllowed``;
- guest policy against ``declared.snp.guestPolicy``: the report's ABI at least the
  declared one; permission bits (SMT, MIGRATE_MA, CXL_ALLOW) set only if declared;
  restriction bits (SINGLE_SOCKET, MEM_AES_256_XTS, RAPL_DIS, CIPHERTEXT_HIDING,
  PAGE_SWAP_DISABLE) set whenever declared;
- minimum TCB per component, against REPORTED_TCB and COMMITTED_TCB;
- allowed chip IDs, VMPL, PLATFORM_INFO (equal), mitigation vector (every declared bit in
  CURRENT_MIT_VECTOR; a report before v5 has none);
- HOST_DATA equals one of ``referenceValues.policies[].hostData``;
- ID_KEY_DIGEST / AUTHOR_KEY_DIGEST among the declared allowed digests (schema 1.2).
"""

from __future__ import annotations

from refkit.evidence.snp.evidence import SnpEvidence
from refkit.evidence.snp.report import (
    POLICY_CIPHERTEXT_HIDING,
    POLICY_CXL_ALLOW,
    POLICY_FLAGS,
    POLICY_MEM_AES_256_XTS,
    POLICY_MIGRATE_MA,
    POLICY_PAGE_SWAP_DISABLE,
    POLICY_RAPL_DIS,
    POLICY_SINGLE_SOCKET,
    POLICY_SMT,
    SnpReport,
    decode_tcb,
)
from refkit.manifests.model import ReferenceManifest, SnpDeclared, declared_snp
from refkit.manifests.model import policies as policies_kind
from refkit.manifests.model import snp as snp_kind
from refkit.measure.cpu import SnpProduct
from refkit.verification import Result

_PERMISSIONS = POLICY_SMT | POLICY_MIGRATE_MA | POLICY_CXL_ALLOW
_RESTRICTIONS = (
    POLICY_SINGLE_SOCKET
    | POLICY_MEM_AES_256_XTS
    | POLICY_RAPL_DIS
    | POLICY_CIPHERTEXT_HIDING
    | POLICY_PAGE_SWAP_DISABLE
)


def _names(bits: int) -> str:
    return ", ".join(name for bit, name in POLICY_FLAGS.items() if bits & bit)


def compare(
    evidence: SnpEvidence,
    manifest: ReferenceManifest,
    *,
    product: SnpProduct | None = None,
) -> tuple[Result, ...]:
    """The manifest's checks on ``evidence``. ``product`` overrides the report's own (a v2
    report names none; the caller may know it from the VCEK)."""
    report = evidence.report
    product = product or evidence.product
    declared = None if manifest.declared is None else manifest.declared.for_product(product)
    out = [_measurement(report, manifest, product), _debug(report, declared)]
    if declared is None:
        # Fail closed when the manifest declares SNP values but none applies: the report's
        # product is unknown (v2, no caller's product) or another product's entries only.
        some = manifest.declared is not None and bool(manifest.declared.of(declared_snp.KIND))
        out.append(
            Result.of(
                "snp.declared.absent",
                f"the manifest declares no SNP platform values for {product or 'this report'}"
                + (
                    " (a version 2 report names no product: give the certificate's)"
                    if product is None
                    else ""
                )
                + ": guest policy, minimum TCB, chip IDs and VMPL are not checked",
                check="declared SNP values",
                required=some,
            )
        )
    else:
        out.append(_policy(report, declared))
        out.extend(_minimum_tcb(report, declared, product))
        out.extend(_declared_fields(report, declared))
    out.append(_host_data(report, manifest))
    return tuple(out)


def _measurement(
    report: SnpReport, manifest: ReferenceManifest, product: SnpProduct | None
) -> Result:
    actual = report.measurement.hex()
    entries = [
        (i, e)
        for i, e in enumerate(manifest.of(snp_kind.KIND))
        if e.product is None or product is None or e.product == product
    ]
    if not entries:
        return Result.of(
            "snp.measurement.no-reference",
            f"the manifest has no SNP launch measurement for {product or 'any product'}",
            check="MEASUREMENT",
            actual=actual,
        )
    for i, entry in entries:
        if entry.measurement == actual:
            cpu = entry.vcpu_type or "any vCPU type"
            return Result.of(
                "snp.measurement.match",
                f"MEASUREMENT matches referenceValues.snp[{i}]: {entry.shape.vcpus} vCPUs "
                f"({cpu}), {entry.shape.label(vcpus=False)}, mode {entry.mode.value}",
                check="MEASUREMENT",
                subject=entry.key,
                expected=entry.measurement,
                actual=actual,
            )
    return Result.of(
        "snp.measurement.mismatch",
        f"MEASUREMENT is none of the manifest's {len(entries)} SNP launch measurements",
        check="MEASUREMENT",
        expected=" | ".join(e.measurement for _, e in entries),
        actual=actual,
    )


def _debug(report: SnpReport, declared: SnpDeclared | None) -> Result:
    if not report.debug:
        return Result.of(
            "snp.policy.debug-off",
            "the guest policy does not allow debugging",
            check="debug",
            expected="DEBUG clear",
            actual=f"{report.policy:#x}",
        )
    if declared is not None and declared.debug_allowed:
        return Result.of(
            "snp.policy.debug-allowed",
            "the guest allows debugging (the host can read its memory); the manifest "
            "declares that allowed",
            check="debug",
            actual=f"{report.policy:#x}",
        )
    return Result.of(
        "snp.policy.debug-on",
        "the guest policy allows debugging: the host can read and change the guest's "
        "memory, so nothing it holds is confidential",
        check="debug",
        expected="DEBUG clear",
        actual=f"{report.policy:#x}",
    )


def _policy(report: SnpReport, declared: SnpDeclared) -> Result:
    want, have = declared.guest_policy, report.policy
    problems = []
    want_abi = ((want >> 8) & 0xFF, want & 0xFF)
    if report.abi < want_abi:
        problems.append(
            f"ABI {report.abi[0]}.{report.abi[1]} is older than {want_abi[0]}.{want_abi[1]}"
        )
    extra = have & _PERMISSIONS & ~want
    if extra:
        problems.append(f"allows {_names(extra)} (not declared)")
    missing = want & _RESTRICTIONS & ~have
    if missing:
        problems.append(f"lacks {_names(missing)}")
    return Result.of(
        "snp.policy.mismatch" if problems else "snp.policy.match",
        "; ".join(problems) if problems else "the guest policy satisfies the declared one",
        check="guest policy",
        expected=f"{want:#x}",
        actual=f"{have:#x}",
    )


def _minimum_tcb(
    report: SnpReport, declared: SnpDeclared, product: SnpProduct | None
) -> list[Result]:
    minimum = declared.minimum_tcb
    want = {
        "bootloader": minimum.bootloader,
        "tee": minimum.tee,
        "snp": minimum.snp,
        "microcode": minimum.microcode,
    }
    if minimum.fmc is not None:
        want["fmc"] = minimum.fmc
    out = []
    for which, field in (("reported", "REPORTED_TCB"), ("committed", "COMMITTED_TCB")):
        tcb = decode_tcb(
            report.reported_tcb_raw if which == "reported" else report.committed_tcb_raw, product
        )
        have = tcb.components()
        low = [f"{k} {have.get(k, 0)} < {v}" for k, v in want.items() if have.get(k, 0) < v]
        out.append(
            Result.of(
                "snp.minimum-tcb.below" if low else "snp.minimum-tcb.met",
                f"{field} is below the declared minimum: {', '.join(low)}"
                if low
                else f"{field} meets the declared minimum",
                check=f"minimum TCB ({which})",
                subject=field,
                expected=str(minimum),
                actual=str(tcb),
            )
        )
    return out


def _declared_fields(report: SnpReport, declared: SnpDeclared) -> list[Result]:
    out: list[Result] = []
    if declared.allowed_chip_ids:
        chip = report.chip_id.hex()
        ok = chip in declared.allowed_chip_ids and not report.mask_chip_key
        out.append(
            Result.of(
                "snp.chip-id.allowed" if ok else "snp.chip-id.refused",
                "CHIP_ID is allowed"
                if ok
                else "CHIP_ID is masked (MASK_CHIP_KEY)"
                if report.mask_chip_key
                else f"CHIP_ID is none of the {len(declared.allowed_chip_ids)} allowed",
                check="chip ID",
                expected=" | ".join(declared.allowed_chip_ids),
                actual=chip,
            )
        )
    if declared.vmpl is not None:
        ok = report.vmpl == declared.vmpl
        out.append(
            Result.of(
                "snp.vmpl.match" if ok else "snp.vmpl.mismatch",
                f"the report comes from VMPL {report.vmpl}",
                check="VMPL",
                expected=str(declared.vmpl),
                actual=str(report.vmpl),
            )
        )
    if declared.platform_info is not None:
        ok = report.platform_info == declared.platform_info
        out.append(
            Result.of(
                "snp.platform-info.match" if ok else "snp.platform-info.mismatch",
                f"PLATFORM_INFO is {report.platform_info:#x}",
                check="platform info",
                expected=f"{declared.platform_info:#x}",
                actual=f"{report.platform_info:#x}",
            )
        )
    if declared.minimum_mitigation_vector is not None:
        want = declared.minimum_mitigation_vector
        have = report.current_mit_vector
        ok = have is not None and want & ~have == 0
        out.append(
            Result.of(
                "snp.mitigation.met" if ok else "snp.mitigation.below",
                (
                    f"a version {report.version} report carries no mitigation vector"
                    if have is None
                    else f"CURRENT_MIT_VECTOR {have:#x} "
                    + ("holds" if ok else f"lacks bits {want & ~have:#x} of")
                    + " the declared minimum"
                ),
                check="mitigation vector",
                expected=f"{want:#x}",
                actual=None if have is None else f"{have:#x}",
            )
        )
    if declared.allowed_id_key_digests is not None:
        digest = report.id_key_digest.hex()
        ok = digest in declared.allowed_id_key_digests
        out.append(
            Result.of(
                "snp.id-key.allowed" if ok else "snp.id-key.refused",
                "ID_KEY_DIGEST is " + ("allowed" if ok else "not allowed"),
                check="ID key",
                expected=" | ".join(declared.allowed_id_key_digests),
                actual=digest,
            )
        )
    if declared.allowed_author_key_digests is not None:
        digest = report.author_key_digest.hex()
        ok = report.author_key_en and digest in declared.allowed_author_key_digests
        out.append(
            Result.of(
                "snp.author-key.allowed" if ok else "snp.author-key.refused",
                "AUTHOR_KEY_DIGEST is allowed"
                if ok
                else "AUTHOR_KEY_DIGEST is not allowed"
                if report.author_key_en
                else "no author key signed the ID block (AUTHOR_KEY_EN is 0)",
                check="author key",
                expected=" | ".join(declared.allowed_author_key_digests),
                actual=digest,
            )
        )
    return out


def _host_data(report: SnpReport, manifest: ReferenceManifest) -> Result:
    actual = report.host_data.hex()
    policies = [p for p in manifest.of(policies_kind.KIND) if p.host_data is not None]
    if not policies:
        return Result.of(
            "snp.host-data.no-reference",
            "the manifest names no HOST_DATA policy hash: HOST_DATA is not checked",
            check="HOST_DATA",
            actual=actual,
            required=False,
        )
    for p in policies:
        if p.host_data == actual:
            return Result.of(
                "snp.host-data.match",
                f"HOST_DATA is the hash of policy {p.name}",
                check="HOST_DATA",
                subject=p.name,
                expected=p.host_data,
                actual=actual,
            )
    return Result.of(
        "snp.host-data.mismatch",
        f"HOST_DATA is none of the manifest's {len(policies)} policy hashes",
        check="HOST_DATA",
        expected=" | ".join(p.host_data or "" for p in policies),
        actual=actual,
    )
