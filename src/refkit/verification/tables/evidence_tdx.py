"""Verification codes of Intel TDX quotes (``refkit.evidence.tdx``): authenticity,
collateral-based TCB status, and the comparison with a reference manifest."""

from __future__ import annotations

from refkit.verification.codes import CodeInfo, Outcome

_P, _F, _N = Outcome.PASS, Outcome.FAIL, Outcome.NOT_CHECKED

TABLE: tuple[CodeInfo, ...] = (
    # --- authenticity: the quote's own chain and signatures
    CodeInfo("tdx.root.pinned", _P, "the PCK chain ends at the pinned Intel SGX Root CA"),
    CodeInfo(
        "tdx.root.not-pinned",
        _F,
        "the PCK chain's root is not the pinned Intel SGX Root CA (or the given root)",
    ),
    CodeInfo("tdx.pck.chain-valid", _P, "PCK leaf, intermediate and root are linked by signatures"),
    CodeInfo(
        "tdx.pck.chain-invalid",
        _F,
        "a PCK chain link is broken: issuer name, CA flag or signature",
    ),
    CodeInfo(
        "tdx.pck.current", _P, "every PCK chain certificate is valid at the verification time"
    ),
    CodeInfo(
        "tdx.pck.not-current",
        _F,
        "a PCK chain certificate is not yet valid or expired at the verification time",
    ),
    CodeInfo("tdx.qe.vendor-intel", _P, "the quote was produced by Intel's quoting enclave"),
    CodeInfo("tdx.qe.vendor-unknown", _F, "the QE vendor ID is not Intel's"),
    CodeInfo("tdx.qe.signature-valid", _P, "the QE report is signed by the PCK leaf key"),
    CodeInfo(
        "tdx.qe.signature-invalid", _F, "the QE report signature does not verify under the PCK key"
    ),
    CodeInfo(
        "tdx.qe.binding-ok",
        _P,
        "QE REPORTDATA = SHA-256(attestation key || QE auth data) || 32 zero bytes",
    ),
    CodeInfo(
        "tdx.qe.binding-mismatch",
        _F,
        "the QE report does not bind the attestation key (REPORTDATA differs)",
    ),
    CodeInfo("tdx.signature.valid", _P, "the quote is signed by the attestation key"),
    CodeInfo(
        "tdx.signature.invalid", _F, "the quote signature does not verify under the attestation key"
    ),
    CodeInfo(
        "tdx.tcb.reported",
        _P,
        "the TCB-related fields (TEE_TCB_SVN, FMSPC, PCESVN, CPUSVN) as the evidence states them",
    ),
    CodeInfo(
        "tdx.collateral.absent",
        _N,
        "no collateral was given: the TCB status (TCB info, QE identity, CRLs) is not checked",
    ),
    # --- collateral
    CodeInfo(
        "tdx.collateral.kind-ok",
        _P,
        "the TCB info is TDX (v3+) and the QE identity is TD_QE (v2/v3)",
    ),
    CodeInfo(
        "tdx.collateral.kind-mismatch",
        _F,
        "the collateral's TCB info or QE identity is not for TDX quotes",
    ),
    CodeInfo(
        "tdx.collateral.current",
        _P,
        "the verification time is inside the TCB info's and QE identity's issue/next-update window",
    ),
    CodeInfo(
        "tdx.collateral.outside-window",
        _F,
        "the verification time is before the issue date or after the next update of the "
        "TCB info or QE identity",
    ),
    CodeInfo(
        "tdx.collateral.chains-valid",
        _P,
        "the TCB info, QE identity and PCK CRL issuer chains reach the pinned root and are current",
    ),
    CodeInfo(
        "tdx.collateral.chain-invalid",
        _F,
        "a collateral issuer chain is broken, ends elsewhere, or is not current",
    ),
    CodeInfo(
        "tdx.collateral.signatures-valid",
        _P,
        "the TCB info and QE identity signatures verify under their signing certificates",
    ),
    CodeInfo(
        "tdx.collateral.signature-invalid",
        _F,
        "the TCB info or QE identity signature does not verify",
    ),
    CodeInfo(
        "tdx.collateral.crls-valid",
        _P,
        "the root CA CRL and PCK CRL are signed by their issuers and current",
    ),
    CodeInfo(
        "tdx.collateral.crl-invalid",
        _F,
        "a CRL is badly signed, not current, or missing for a certificate's issuer",
    ),
    CodeInfo("tdx.collateral.not-revoked", _P, "no certificate of any chain is listed in the CRLs"),
    CodeInfo("tdx.collateral.revoked", _F, "a certificate of a chain is listed as revoked"),
    CodeInfo(
        "tdx.qe-identity.match",
        _P,
        "the QE report matches the QE identity (MRSIGNER, ISVPRODID, MISCSELECT, ATTRIBUTES, TCB)",
    ),
    CodeInfo(
        "tdx.qe-identity.mismatch",
        _F,
        "the QE report does not match the QE identity, or its ISVSVN is below every level",
    ),
    CodeInfo("tdx.tcb.fmspc-match", _P, "the PCK certificate's FMSPC is the TCB info's"),
    CodeInfo("tdx.tcb.fmspc-mismatch", _F, "the TCB info is for another platform (FMSPC)"),
    CodeInfo(
        "tdx.tcb.no-matching-level",
        _F,
        "no TCB level of the TCB info is met by the platform's SGX/TDX components and PCESVN",
    ),
    CodeInfo(
        "tdx.module.identity-match",
        _P,
        "the TDX module's MRSIGNERSEAM and SEAM attributes match the TCB info's module identity",
    ),
    CodeInfo(
        "tdx.module.identity-mismatch",
        _F,
        "the TDX module identity is missing from the TCB info, differs, or its SVN is too low",
    ),
    CodeInfo("tdx.tcb.up-to-date", _P, "TCB status UpToDate"),
    CodeInfo(
        "tdx.tcb.acceptable",
        _P,
        "TCB status SWHardeningNeeded, ConfigurationNeeded or ConfigurationAndSWHardeningNeeded "
        "(the advisory IDs say what to do)",
    ),
    CodeInfo("tdx.tcb.out-of-date", _F, "TCB status OutOfDate or OutOfDateConfigurationNeeded"),
    CodeInfo("tdx.tcb.revoked", _F, "TCB status Revoked"),
    # --- comparison with a manifest
    CodeInfo("tdx.reference.absent", _F, "the manifest has no TDX reference values"),
    CodeInfo(
        "tdx.reference.match",
        _P,
        "MRTD and the declared RTMRs equal one TDX reference entry (the shape is named)",
    ),
    CodeInfo("tdx.mrtd.match", _P, "MRTD equals the reference entry's"),
    CodeInfo("tdx.mrtd.mismatch", _F, "MRTD equals no reference entry's"),
    CodeInfo("tdx.rtmr.match", _P, "an RTMR equals the reference entry's"),
    CodeInfo("tdx.rtmr.mismatch", _F, "an RTMR differs from the closest reference entry's"),
    CodeInfo("tdx.debug.off", _P, "TD_ATTRIBUTES.DEBUG is clear"),
    CodeInfo("tdx.debug.on", _F, "TD_ATTRIBUTES.DEBUG is set: the host can read and change the TD"),
    CodeInfo(
        "tdx.td-attributes.valid",
        _P,
        "TD_ATTRIBUTES has no reserved bit set, SEPT_VE_DISABLE set, and no service TD bound",
    ),
    CodeInfo(
        "tdx.td-attributes.invalid",
        _F,
        "TD_ATTRIBUTES sets a reserved bit or lacks SEPT_VE_DISABLE, or MRSERVICETD is not zero",
    ),
    CodeInfo("tdx.declared.absent", _N, "the manifest declares no TDX platform values (MRSEAM)"),
    CodeInfo("tdx.mrseam.allowed", _P, "MRSEAM is in the manifest's allow-list"),
    CodeInfo("tdx.mrseam.not-allowed", _F, "MRSEAM is not in the manifest's allow-list"),
    CodeInfo("tdx.xfam.match", _P, "XFAM equals the declared value"),
    CodeInfo("tdx.xfam.mismatch", _F, "XFAM differs from the declared value"),
    CodeInfo("tdx.td-attributes.match", _P, "TD_ATTRIBUTES equals the declared value"),
    CodeInfo("tdx.td-attributes.mismatch", _F, "TD_ATTRIBUTES differs from the declared value"),
    CodeInfo(
        "tdx.tcb-eval.sufficient",
        _P,
        "the collateral's TCB evaluation data number is at least the declared minimum",
    ),
    CodeInfo(
        "tdx.tcb-eval.too-old",
        _F,
        "the collateral's TCB evaluation data number is below the declared minimum",
    ),
    CodeInfo(
        "tdx.tcb-eval.not-checked",
        _N,
        "a minimum TCB evaluation data number is declared but no collateral was evaluated",
    ),
    CodeInfo("tdx.mrconfigid.match", _P, "MRCONFIGID equals a manifest policy hash"),
    CodeInfo("tdx.mrconfigid.mismatch", _F, "MRCONFIGID equals no manifest policy hash"),
    CodeInfo("tdx.mrconfigid.not-declared", _N, "the manifest declares no MRCONFIGID policy hash"),
    CodeInfo(
        "tdx.piid.not-checked",
        _N,
        "allowed PIIDs are declared but a TDX quote's PCK certificate carries no PIID to check",
    ),
)
