"""Verification codes of AMD SEV-SNP evidence (:mod:`refkit.evidence.snp`).

Authenticity (``snp.chain.*``, ``snp.signature.*``, ``snp.tcb.*``, ``snp.hwid.*``,
``snp.signing-key.*``, ``snp.product.*``, ``snp.certificate.*``, ``snp.crl.*``,
``snp.hcl.*``) and the comparison with a manifest (``snp.measurement.*``, ``snp.policy.*``,
``snp.minimum-tcb.*``, ``snp.chip-id.*``, ``snp.vmpl.*``, ``snp.host-data.*``,
``snp.id-key.*``, ``snp.author-key.*``, ``snp.platform-info.*``, ``snp.mitigation.*``).
"""

from __future__ import annotations

from refkit.verification.codes import CodeInfo, Outcome

_P, _F, _N = Outcome.PASS, Outcome.FAIL, Outcome.NOT_CHECKED

TABLE: tuple[CodeInfo, ...] = (
    # --- certificate chain: ARK -> ASK -> VCEK or ARK -> ASVK -> VLEK
    CodeInfo("snp.chain.ark-pinned", _P, "the ARK is the one pinned for the product (sha256)"),
    CodeInfo(
        "snp.chain.ark-not-pinned",
        _F,
        "a self-signed AMD root was given for the product but is not the pinned ARK",
    ),
    CodeInfo("snp.chain.ark-self-signed", _P, "the ARK's self-signature verifies (RSASSA-PSS)"),
    CodeInfo("snp.chain.ark-signature-invalid", _F, "the ARK's self-signature does not verify"),
    CodeInfo("snp.chain.ask-signed", _P, "the ASK or ASVK is signed by the pinned ARK"),
    CodeInfo(
        "snp.chain.ask-signature-invalid",
        _F,
        "no ASK or ASVK given for the product is signed by the pinned ARK",
    ),
    CodeInfo("snp.chain.vcek-signed", _P, "the VCEK or VLEK is signed by the ASK or ASVK"),
    CodeInfo(
        "snp.chain.vcek-signature-invalid",
        _F,
        "the VCEK or VLEK is not signed by the product's ASK or ASVK",
    ),
    CodeInfo(
        "snp.chain.product-mismatch",
        _F,
        "the certificates given are for another product than the report's",
    ),
    CodeInfo(
        "snp.chain.algorithm-refused",
        _F,
        "a certificate is not signed with RSASSA-PSS SHA-384 (AMD's only algorithm)",
    ),
    # --- the report's signature and what binds it to the VCEK/VLEK
    CodeInfo("snp.signature.valid", _P, "the report's ECDSA P-384 signature verifies"),
    CodeInfo(
        "snp.signature.invalid",
        _F,
        "the report's signature does not verify with the VCEK or VLEK",
    ),
    CodeInfo("snp.signing-key.match", _P, "the report's SIGNING_KEY names the certificate type"),
    CodeInfo(
        "snp.signing-key.mismatch",
        _F,
        "the report's SIGNING_KEY names another key type than the certificate (VCEK/VLEK)",
    ),
    CodeInfo("snp.tcb.match", _P, "the VCEK's TCB extensions equal the report's REPORTED_TCB"),
    CodeInfo(
        "snp.tcb.mismatch",
        _F,
        "the VCEK's TCB extensions differ from the report's REPORTED_TCB",
    ),
    CodeInfo(
        "snp.tcb.current-moved",
        _P,
        "CURRENT_TCB differs from REPORTED_TCB (the VCEK is bound to REPORTED_TCB)",
    ),
    CodeInfo("snp.hwid.match", _P, "the VCEK's hwID equals the report's CHIP_ID"),
    CodeInfo("snp.hwid.mismatch", _F, "the VCEK's hwID differs from the report's CHIP_ID"),
    CodeInfo(
        "snp.hwid.not-applicable",
        _N,
        "no hwID check: a VLEK has no hwID, or MASK_CHIP_KEY hides the CHIP_ID",
    ),
    CodeInfo("snp.product.match", _P, "the VCEK's product name is the report's product"),
    CodeInfo(
        "snp.product.mismatch",
        _F,
        "the VCEK's product name is not the product the report's CPUID names",
    ),
    CodeInfo(
        "snp.vcek.extension-invalid",
        _F,
        "the VCEK or VLEK lacks an AMD extension or holds a malformed one",
    ),
    CodeInfo("snp.certificate.valid", _P, "a certificate is within its validity at the time"),
    CodeInfo("snp.certificate.expired", _F, "a certificate had expired at the time"),
    CodeInfo("snp.certificate.not-yet-valid", _F, "a certificate was not yet valid at the time"),
    # --- revocation
    CodeInfo("snp.crl.not-revoked", _P, "the ARK's CRL does not list the ASK or ASVK"),
    CodeInfo("snp.crl.revoked", _F, "the ARK's CRL lists the ASK or ASVK"),
    CodeInfo("snp.crl.signature-invalid", _F, "a CRL for the product is not signed by the ARK"),
    CodeInfo("snp.crl.expired", _F, "the CRL's nextUpdate is before the time"),
    CodeInfo("snp.crl.not-yet-valid", _F, "the CRL's thisUpdate is after the time"),
    CodeInfo(
        "snp.crl.issuer-mismatch",
        _F,
        "CRLs were given, but none is issued by the product's ARK",
    ),
    CodeInfo("snp.crl.absent", _N, "no CRL was given: revocation not checked"),
    # --- Azure HCL wrapper
    CodeInfo(
        "snp.hcl.claims-bound",
        _P,
        "REPORT_DATA begins with the hash of the HCL report's runtime claims",
    ),
    CodeInfo(
        "snp.hcl.claims-mismatch",
        _F,
        "REPORT_DATA does not begin with the hash of the HCL report's runtime claims",
    ),
    # --- comparison with a reference manifest
    CodeInfo("snp.measurement.match", _P, "MEASUREMENT is one of the manifest's SNP values"),
    CodeInfo("snp.measurement.mismatch", _F, "MEASUREMENT is none of the manifest's SNP values"),
    CodeInfo(
        "snp.measurement.no-reference",
        _N,
        "the manifest has no SNP launch measurement for the report's product",
    ),
    CodeInfo("snp.declared.absent", _N, "the manifest declares no SNP platform values"),
    CodeInfo("snp.policy.debug-off", _P, "the guest policy does not allow debugging"),
    CodeInfo(
        "snp.policy.debug-allowed",
        _P,
        "the guest allows debugging and the manifest declares debugging allowed",
    ),
    CodeInfo(
        "snp.policy.debug-on",
        _F,
        "the guest allows debugging (no confidentiality) and the manifest does not allow it",
    ),
    CodeInfo("snp.policy.match", _P, "the guest policy satisfies the declared guest policy"),
    CodeInfo(
        "snp.policy.mismatch",
        _F,
        "the guest policy allows more, restricts less, or has an older ABI than declared",
    ),
    CodeInfo("snp.minimum-tcb.met", _P, "a TCB of the report is at least the declared minimum"),
    CodeInfo(
        "snp.minimum-tcb.below", _F, "a TCB component of the report is below the declared minimum"
    ),
    CodeInfo("snp.chip-id.allowed", _P, "CHIP_ID is one of the declared allowed chip IDs"),
    CodeInfo("snp.chip-id.refused", _F, "CHIP_ID is not one of the declared allowed chip IDs"),
    CodeInfo("snp.vmpl.match", _P, "the report comes from the declared VMPL"),
    CodeInfo("snp.vmpl.mismatch", _F, "the report comes from another VMPL than declared"),
    CodeInfo("snp.host-data.match", _P, "HOST_DATA equals one of the manifest's policy hashes"),
    CodeInfo("snp.host-data.mismatch", _F, "HOST_DATA equals none of the manifest's policy hashes"),
    CodeInfo("snp.host-data.no-reference", _N, "the manifest has no HOST_DATA policy hash"),
    CodeInfo("snp.id-key.allowed", _P, "ID_KEY_DIGEST is one the manifest allows"),
    CodeInfo("snp.id-key.refused", _F, "ID_KEY_DIGEST is not one the manifest allows"),
    CodeInfo("snp.author-key.allowed", _P, "AUTHOR_KEY_DIGEST is one the manifest allows"),
    CodeInfo(
        "snp.author-key.refused",
        _F,
        "AUTHOR_KEY_DIGEST is not one the manifest allows, or no author key signed the ID block",
    ),
    CodeInfo("snp.platform-info.match", _P, "PLATFORM_INFO equals the declared value"),
    CodeInfo("snp.platform-info.mismatch", _F, "PLATFORM_INFO differs from the declared value"),
    CodeInfo(
        "snp.mitigation.met",
        _P,
        "the current mitigation vector holds every bit of the declared minimum",
    ),
    CodeInfo(
        "snp.mitigation.below",
        _F,
        "the mitigation vector lacks a declared bit, or the report (before v5) has none",
    ),
)
