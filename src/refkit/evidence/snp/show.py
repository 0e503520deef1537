"""SNP evidence as JSON-able values: every field (:func:`show`) or the few that identify the
guest (:func:`measured`). Bytes are lower-case hex, unbroken; bit fields are integers with
their set flags named; TCB versions are decoded for the report's product (CPUID; before
Turin for a v2 report, whose product only the VCEK names)."""

from __future__ import annotations

from typing import Any

from refkit.evidence.snp.evidence import SnpEvidence
from refkit.evidence.snp.report import PLATFORM_INFO_FLAGS, POLICY_FLAGS, SnpReport, TcbVersion


def _flags(value: int, names: dict[int, str]) -> list[str]:
    return [name for bit, name in names.items() if value & bit]


def _tcb(tcb: TcbVersion) -> dict[str, Any]:
    return {"raw": tcb.raw.hex(), **tcb.components()}


def _report(r: SnpReport) -> dict[str, Any]:
    product = r.cpu_product
    out: dict[str, Any] = {
        "version": r.version,
        "guestSvn": r.guest_svn,
        "policy": {
            "value": r.policy,
            "hex": f"{r.policy:#x}",
            "abi": f"{r.abi[0]}.{r.abi[1]}",
            "flags": _flags(r.policy, POLICY_FLAGS),
            "debug": r.debug,
        },
        "familyId": r.family_id.hex(),
        "imageId": r.image_id.hex(),
        "vmpl": r.vmpl,
        "signatureAlgorithm": r.signature_algo,
        "currentTcb": _tcb(r.tcb("current", product)),
        "platformInfo": {
            "value": r.platform_info,
            "flags": _flags(r.platform_info, PLATFORM_INFO_FLAGS),
        },
        "authorKeyEnabled": r.author_key_en,
        "maskChipKey": r.mask_chip_key,
        "signingKey": r.signing_key.name,
        "reportData": r.report_data.hex(),
        "measurement": r.measurement.hex(),
        "hostData": r.host_data.hex(),
        "idKeyDigest": r.id_key_digest.hex(),
        "authorKeyDigest": r.author_key_digest.hex(),
        "reportId": r.report_id.hex(),
        "reportIdMa": r.report_id_ma.hex(),
        "reportedTcb": _tcb(r.tcb("reported", product)),
        "cpuid": None
        if r.cpuid is None
        else {"family": r.cpuid[0], "model": r.cpuid[1], "stepping": r.cpuid[2]},
        "product": None if product is None else product.value,
        "chipId": r.chip_id.hex(),
        "committedTcb": _tcb(r.tcb("committed", product)),
        "currentVersion": str(r.current_version),
        "committedVersion": str(r.committed_version),
        "launchTcb": _tcb(r.tcb("launch", product)),
        "launchMitigationVector": r.launch_mit_vector,
        "currentMitigationVector": r.current_mit_vector,
        "signature": {"r": r.signature_r.hex(), "s": r.signature_s.hex()},
    }
    return out


def show(evidence: SnpEvidence) -> dict[str, Any]:
    """Every parsed field of the evidence."""
    out: dict[str, Any] = {
        "kind": evidence.kind,
        "source": evidence.source,
        "report": _report(evidence.report),
    }
    if evidence.hcl is not None:
        h = evidence.hcl
        claims = h.claims_json()
        out["hcl"] = {
            "version": h.version,
            "reportSize": h.report_size,
            "requestType": h.request_type,
            "status": h.status,
            "dataVersion": h.data_version,
            "reportType": h.report_type,
            "claimsHash": h.hash_name,
            "claimsDigest": h.claims_digest.hex(),
            "runtimeClaims": claims if claims is not None else h.runtime_claims.hex(),
        }
    return out


def measured(evidence: SnpEvidence) -> dict[str, str]:
    """The values printed when no manifest is given: what a reader compares by eye."""
    r = evidence.report
    product = r.cpu_product
    out = {
        "kind": evidence.kind,
        "version": str(r.version),
        "measurement": r.measurement.hex(),
        "hostData": r.host_data.hex(),
        "reportData": r.report_data.hex(),
        "policy": f"{r.policy:#x}",
        "debug": "yes" if r.debug else "no",
        "vmpl": str(r.vmpl),
        "reportedTcb": str(r.tcb("reported", product)),
        "chipId": r.chip_id.hex(),
        "signingKey": r.signing_key.name,
    }
    if product is not None:
        out["product"] = product.value
    return out
