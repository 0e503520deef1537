"""Every parsed field of a TDX quote as JSON-able values (hex unbroken), for auditors,
and the few measured values printed when no manifest is given."""

from __future__ import annotations

from typing import Any

from refkit.evidence.tdx.certs import common_name, fingerprint, load_pem_chain
from refkit.evidence.tdx.model import TdxEvidence
from refkit.evidence.tdx.pck import SGX_EXTENSION_OID, parse_sgx_extension


def _pck(evidence: TdxEvidence) -> dict[str, Any]:
    from cryptography import x509

    chain = load_pem_chain(evidence.quote.pck_chain_pem, source=evidence.source, field="pck_chain")
    out: dict[str, Any] = {
        "certificates": [
            {
                "subject": common_name(c),
                "issuer": c.issuer.rfc4514_string(),
                "serial": format(c.serial_number, "x"),
                "notBefore": f"{c.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}",
                "notAfter": f"{c.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}",
                "sha256": fingerprint(c),
            }
            for c in chain
        ]
    }
    try:
        ext = chain[0].extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID))
    except (x509.ExtensionNotFound, ValueError):
        return out
    value = ext.value
    if isinstance(value, x509.UnrecognizedExtension):
        pck = parse_sgx_extension(value.value, source=f"{evidence.source} (PCK SGX extension)")
        out["sgxExtension"] = {
            "ppid": pck.ppid.hex(),
            "tcbComponents": list(pck.tcb_components),
            "pceSvn": pck.pce_svn,
            "cpuSvn": pck.cpu_svn.hex(),
            "pceId": pck.pce_id.hex(),
            "fmspc": pck.fmspc.hex(),
            "sgxType": pck.sgx_type,
            "platformInstanceId": None
            if pck.platform_instance_id is None
            else pck.platform_instance_id.hex(),
        }
    return out


def show(evidence: TdxEvidence) -> dict[str, Any]:
    """Every field: header, body, signature data, QE report, PCK chain and extension."""
    q = evidence.quote
    h, b, qe = q.header, q.body, q.qe_report
    body: dict[str, Any] = {
        "teeTcbSvn": b.tee_tcb_svn.hex(),
        "mrSeam": b.mr_seam.hex(),
        "mrSignerSeam": b.mr_signer_seam.hex(),
        "seamAttributes": b.seam_attributes.hex(),
        "tdAttributes": b.td_attributes.hex(),
        "debug": b.debug,
        "xfam": b.xfam.hex(),
        "mrTd": b.mr_td.hex(),
        "mrConfigId": b.mr_config_id.hex(),
        "mrOwner": b.mr_owner.hex(),
        "mrOwnerConfig": b.mr_owner_config.hex(),
        "rtmrs": {str(i): r.hex() for i, r in enumerate(b.rtmrs)},
        "reportData": b.report_data.hex(),
    }
    if b.tee_tcb_svn2 is not None and b.mr_service_td is not None:
        body["teeTcbSvn2"] = b.tee_tcb_svn2.hex()
        body["mrServiceTd"] = b.mr_service_td.hex()
    return {
        "kind": "tdx",
        "description": evidence.kind,
        "header": {
            "version": h.version,
            "attestationKeyType": h.att_key_type,
            "teeType": h.tee_type,
            "qeSvn": h.qe_svn,
            "pceSvn": h.pce_svn,
            "qeVendorId": h.qe_vendor_id.hex(),
            "userData": h.user_data.hex(),
        },
        "bodyType": q.body_type,
        "body": body,
        "signature": q.signature.hex(),
        "attestationKey": q.attestation_key.hex(),
        "qeReport": {
            "cpuSvn": qe.cpu_svn.hex(),
            "miscSelect": qe.misc_select,
            "attributes": qe.attributes.hex(),
            "mrEnclave": qe.mr_enclave.hex(),
            "mrSigner": qe.mr_signer.hex(),
            "isvProdId": qe.isv_prod_id,
            "isvSvn": qe.isv_svn,
            "reportData": qe.report_data.hex(),
        },
        "qeReportSignature": q.qe_report_signature.hex(),
        "qeAuthData": q.qe_auth_data.hex(),
        "pck": _pck(evidence),
        "signedBytes": len(q.signed),
        "trailingBytes": len(q.trailing),
    }


def measured(evidence: TdxEvidence) -> dict[str, str]:
    """MRTD, RTMR0-3, MRSEAM, MRCONFIGID, TD attributes, XFAM, REPORTDATA (hex)."""
    b = evidence.quote.body
    out = {"MRTD": b.mr_td.hex()}
    out.update({f"RTMR{i}": r.hex() for i, r in enumerate(b.rtmrs)})
    out.update(
        {
            "MRSEAM": b.mr_seam.hex(),
            "MRCONFIGID": b.mr_config_id.hex(),
            "TD_ATTRIBUTES": b.td_attributes.hex(),
            "XFAM": b.xfam.hex(),
            "TEE_TCB_SVN": b.tee_tcb_svn.hex(),
            "REPORTDATA": b.report_data.hex(),
        }
    )
    return out
