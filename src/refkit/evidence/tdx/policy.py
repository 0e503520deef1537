"""A TDX quote against a reference manifest: the policy checks, no cryptography.

- Reference values (``referenceValues.tdx``): the quote passes when MRTD and every RTMR an
  entry declares (any subset of 0-3) equal one entry's; the matching entry's shape is
  named. When none matches, the entry closest to the quote (most equal registers) is
  reported register by register, so the failing check names the register that differs.
- TD attributes (as dcap-qvl checks them): DEBUG clear (a debug TD is authentic evidence
  of a guest its host can read and change; the manifest model refuses a declared
  ``tdAttributes`` that allows it), no reserved bit set, SEPT_VE_DISABLE set, MRSERVICETD
  zero on TDX 1.5 bodies.
- Declared values (``declared.tdx``): MRSEAM must be in an entry's allow-list; that
  entry's XFAM and TD attributes, when declared, must be equal; its minimum TCB evaluation
  data number is compared with the collateral's when collateral was evaluated. Without
  ``declared.tdx`` the MRSEAM check is a required not-checked: the TDX module is part of
  the trusted base, so an allow-list is needed (fail closed).
- Policies (``referenceValues.policies``): MRCONFIGID must equal one of the declared
  ``mrConfigId`` hashes, when any is declared.
"""

from __future__ import annotations

from refkit.evidence.tdx.model import TdxEvidence
from refkit.manifests.model import ReferenceManifest
from refkit.manifests.model import declared_tdx as declared_kind
from refkit.manifests.model import policies as policies_kind
from refkit.manifests.model import tdx as tdx_kind
from refkit.verification import Result

# TD_ATTRIBUTES (TDX module ABI, TDINFO_STRUCT): bit 0 DEBUG and bits 1-7 reserved (TUD);
# bits 8-27 reserved, 28 SEPT_VE_DISABLE, 29 reserved, 30 PKS, 31 KL (SEC); bits 32-62
# reserved, 63 PERFMON (OTHER).
_RESERVED = (0xFE) | (0x0FFFFF << 8) | (1 << 29) | (0x7FFFFFFF << 32)
_SEPT_VE_DISABLE = 1 << 28


def _registers(evidence: TdxEvidence) -> dict[str, str]:
    body = evidence.quote.body
    out = {"MRTD": body.mr_td.hex()}
    out.update({f"RTMR{i}": v.hex() for i, v in enumerate(body.rtmrs)})
    return out


def _reference(evidence: TdxEvidence, manifest: ReferenceManifest) -> list[Result]:
    entries = manifest.of(tdx_kind.KIND)
    if not entries:
        return [
            Result.of(
                "tdx.reference.absent",
                "the manifest has no TDX reference values (referenceValues.tdx)",
                check="TDX measurements",
            )
        ]
    actual = _registers(evidence)

    def wanted(e: tdx_kind.TdxReference) -> dict[str, str]:
        out = {"MRTD": e.mrtd}
        out.update({f"RTMR{i}": v for i, v in sorted(e.rtmrs.items())})
        return out

    def score(e: tdx_kind.TdxReference) -> int:
        return sum(actual[k] == v for k, v in wanted(e).items())

    for entry in entries:
        if all(actual[k] == v for k, v in wanted(entry).items()):
            regs = ", ".join(wanted(entry))
            return [
                Result.of(
                    "tdx.reference.match",
                    f"{regs} equal the reference for {entry.shape.label()}",
                    check="TDX measurements",
                    subject=entry.key,
                    actual=actual["MRTD"],
                )
            ]
    closest = max(entries, key=score)
    out: list[Result] = []
    for name, value in wanted(closest).items():
        kind = "mrtd" if name == "MRTD" else "rtmr"
        ok = actual[name] == value
        message = (
            f"equals the reference for {closest.shape.label()}"
            if ok
            else (
                f"differs from the closest reference ({closest.shape.label()})"
                if kind == "rtmr" or len(entries) == 1
                else f"equals none of the {len(entries)} TDX reference entries"
            )
        )
        out.append(
            Result.of(
                f"tdx.{kind}.{'match' if ok else 'mismatch'}",
                message,
                check=name,
                subject=closest.key,
                expected=value,
                actual=actual[name],
            )
        )
    return out


def _attributes(evidence: TdxEvidence) -> list[Result]:
    body = evidence.quote.body
    attrs = int.from_bytes(body.td_attributes, "little")
    out: list[Result] = []
    if body.debug:
        out.append(
            Result.of(
                "tdx.debug.on",
                "TD_ATTRIBUTES.DEBUG is set: the host can read and change this TD",
                check="TD debug",
                expected="0",
                actual="1",
            )
        )
    else:
        out.append(Result.of("tdx.debug.off", "TD_ATTRIBUTES.DEBUG is clear", check="TD debug"))
    problem = None
    if attrs & _RESERVED:
        problem = f"reserved TD_ATTRIBUTES bits set ({attrs & _RESERVED:#018x})"
    elif not attrs & _SEPT_VE_DISABLE:
        problem = "SEPT_VE_DISABLE (bit 28) is clear: the host can inject #VE on pending pages"
    elif body.mr_service_td is not None and any(body.mr_service_td):
        problem = "MRSERVICETD is not zero: a service TD is bound to this TD"
    if problem:
        out.append(
            Result.of(
                "tdx.td-attributes.invalid",
                problem,
                check="TD attributes",
                actual=body.td_attributes.hex(),
            )
        )
    else:
        out.append(
            Result.of(
                "tdx.td-attributes.valid",
                "no reserved bit, SEPT_VE_DISABLE set, no service TD",
                check="TD attributes",
                actual=body.td_attributes.hex(),
            )
        )
    return out


def _declared(
    evidence: TdxEvidence, manifest: ReferenceManifest, tcb_evaluation_data_number: int | None
) -> list[Result]:
    body = evidence.quote.body
    entries = manifest.of(declared_kind.KIND)
    seam = body.mr_seam.hex()
    if not entries:
        return [
            Result.of(
                "tdx.declared.absent",
                "the manifest declares no MRSEAM allow-list (declared.tdx)",
                check="MRSEAM",
                actual=seam,
            )
        ]
    entry = next((e for e in entries if seam in e.mr_seams), None)
    if entry is None:
        allowed = sorted({s for e in entries for s in e.mr_seams})
        return [
            Result.of(
                "tdx.mrseam.not-allowed",
                f"the TDX module is none of the {len(allowed)} allowed",
                check="MRSEAM",
                expected=" | ".join(allowed),
                actual=seam,
            )
        ]
    out = [
        Result.of(
            "tdx.mrseam.allowed",
            f"the allowed TDX module ({entry.module_version or 'any version'})",
            check="MRSEAM",
            subject=entry.key,
            actual=seam,
        )
    ]
    for name, want, got in (
        ("xfam", entry.xfam, body.xfam.hex()),
        ("td-attributes", entry.td_attributes, body.td_attributes.hex()),
    ):
        if want is None:
            continue
        out.append(
            Result.of(
                f"tdx.{name}.{'match' if want == got else 'mismatch'}",
                "equals the declared value" if want == got else "differs from the declared value",
                check=name.upper().replace("-", "_"),
                subject=entry.key,
                expected=want,
                actual=got,
            )
        )
    minimum = entry.min_tcb_evaluation_data_number
    if minimum is not None:
        if tcb_evaluation_data_number is None:
            out.append(
                Result.of(
                    "tdx.tcb-eval.not-checked",
                    "no collateral was evaluated, so its TCB evaluation data number is unknown",
                    check="TCB evaluation data number",
                    subject=entry.key,
                    expected=f">= {minimum}",
                )
            )
        else:
            ok = tcb_evaluation_data_number >= minimum
            out.append(
                Result.of(
                    "tdx.tcb-eval.sufficient" if ok else "tdx.tcb-eval.too-old",
                    "the collateral is recent enough" if ok else "the collateral is too old",
                    check="TCB evaluation data number",
                    subject=entry.key,
                    expected=f">= {minimum}",
                    actual=str(tcb_evaluation_data_number),
                )
            )
    if entry.allowed_piids:
        out.append(
            Result.of(
                "tdx.piid.not-checked",
                "allowed PIIDs are declared; a TDX quote does not carry the platform's PIID",
                check="PIID",
                subject=entry.key,
            )
        )
    return out


def _config_id(evidence: TdxEvidence, manifest: ReferenceManifest) -> list[Result]:
    got = evidence.quote.body.mr_config_id.hex()
    policies = [p for p in manifest.of(policies_kind.KIND) if p.mr_config_id is not None]
    if not policies:
        return [
            Result.of(
                "tdx.mrconfigid.not-declared",
                "the manifest declares no MRCONFIGID policy hash",
                check="MRCONFIGID",
                actual=got,
                required=False,
            )
        ]
    match = next((p for p in policies if p.mr_config_id == got), None)
    if match is not None:
        return [
            Result.of(
                "tdx.mrconfigid.match",
                "equals the policy hash",
                check="MRCONFIGID",
                subject=match.key,
                actual=got,
            )
        ]
    return [
        Result.of(
            "tdx.mrconfigid.mismatch",
            f"equals none of the {len(policies)} policy hashes",
            check="MRCONFIGID",
            expected=" | ".join(str(p.mr_config_id) for p in policies),
            actual=got,
        )
    ]


def compare(
    evidence: TdxEvidence,
    manifest: ReferenceManifest,
    *,
    tcb_evaluation_data_number: int | None = None,
) -> tuple[Result, ...]:
    """Every policy check of the quote against the manifest (see the module docstring).

    ``tcb_evaluation_data_number`` is the evaluated collateral's
    (:attr:`~refkit.evidence.tdx.verification.TdxVerification.tcb_evaluation_data_number`).
    """
    return (
        *_reference(evidence, manifest),
        *_attributes(evidence),
        *_declared(evidence, manifest, tcb_evaluation_data_number),
        *_config_id(evidence, manifest),
    )
