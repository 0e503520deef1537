"""Verification codes of NVIDIA GPU and NVSwitch evidence (``refkit.evidence.gpu``)."""

from __future__ import annotations

from refkit.verification.codes import CodeInfo, Outcome

_P, _F, _N = Outcome.PASS, Outcome.FAIL, Outcome.NOT_CHECKED

TABLE: tuple[CodeInfo, ...] = (
    # --- the SPDM report
    CodeInfo(
        "gpu.report.signature.valid",
        _P,
        "the SPDM measurements are signed (ECDSA P-384) by the device chain's leaf key",
    ),
    CodeInfo(
        "gpu.report.signature.invalid",
        _F,
        "the SPDM signature does not verify with the leaf key: altered, or another device's report",
    ),
    CodeInfo("gpu.nonce.match", _P, "the request nonce is the verifier's nonce"),
    CodeInfo("gpu.nonce.mismatch", _F, "the request nonce is not the verifier's nonce (replay?)"),
    CodeInfo("gpu.nonce.not-given", _N, "no nonce was given: freshness not checked"),
    CodeInfo("gpu.fwid.match", _P, "the report's FWID equals the leaf certificate's FWID"),
    CodeInfo("gpu.fwid.mismatch", _F, "the report's FWID differs from the leaf certificate's"),
    CodeInfo(
        "gpu.fwid.no-extension",
        _F,
        "the report carries an FWID but the leaf certificate has no FWID extension",
    ),
    CodeInfo("gpu.fwid.absent", _N, "the report carries no FWID field (older firmware, NVSwitch)"),
    # --- the device certificate chain
    CodeInfo(
        "gpu.device.chain.valid",
        _P,
        "the device chain reaches NVIDIA's device root pinned by fingerprint, valid at the time",
    ),
    CodeInfo(
        "gpu.device.chain.not-pinned", _F, "no certificate of the device chain is the pinned root"
    ),
    CodeInfo(
        "gpu.device.chain.broken",
        _F,
        "a device certificate is not signed by the next one (order, missing link, signature)",
    ),
    CodeInfo(
        "gpu.device.chain.not-ca",
        _F,
        "a device certificate that issues another is not a CA, or the anchor is not a "
        "self-signed CA",
    ),
    CodeInfo(
        "gpu.device.chain.expired",
        _F,
        "a device certificate is not valid at the verification time",
    ),
    CodeInfo("gpu.device.chain.bad-extension", _F, "the leaf's FWID extension is malformed"),
    # --- revocation
    CodeInfo("gpu.revocation.good", _P, "an OCSP response file says the certificate is good"),
    CodeInfo("gpu.revocation.revoked", _F, "an OCSP response file says the certificate is revoked"),
    CodeInfo(
        "gpu.revocation.response-invalid",
        _F,
        "an OCSP response file is not signed by the issuer, stale, or its nonce differs",
    ),
    CodeInfo(
        "gpu.revocation.not-checked",
        _N,
        "no OCSP response was given for the certificate: revocation not checked",
    ),
    # --- RIMs
    CodeInfo("gpu.rim.signature.valid", _P, "the RIM's XML signature verifies with its signer key"),
    CodeInfo("gpu.rim.signature.invalid", _F, "the RIM's XML signature does not verify"),
    CodeInfo(
        "gpu.rim.digest.mismatch",
        _F,
        "the RIM's content differs from what was signed (reference digest mismatch)",
    ),
    CodeInfo("gpu.rim.signer.absent", _F, "the RIM's KeyInfo holds no signer certificate"),
    CodeInfo(
        "gpu.rim.chain.valid",
        _P,
        "the RIM signer chain reaches NVIDIA's RIM root pinned by fingerprint, valid at the time",
    ),
    CodeInfo("gpu.rim.chain.not-pinned", _F, "the RIM signer chain does not reach the pinned root"),
    CodeInfo("gpu.rim.chain.broken", _F, "a RIM chain certificate is not signed by the next one"),
    CodeInfo(
        "gpu.rim.chain.not-ca",
        _F,
        "a RIM chain certificate that issues another is not a CA, or the given root is not a "
        "self-signed CA",
    ),
    CodeInfo(
        "gpu.rim.chain.expired",
        _F,
        "a RIM chain certificate (usually the signer) is not valid at the verification time",
    ),
    CodeInfo("gpu.rim.version.match", _P, "the RIM is for the version the report carries"),
    CodeInfo("gpu.rim.version.mismatch", _F, "the RIM is for another version than the report's"),
    CodeInfo(
        "gpu.rim.absent", _F, "no RIM for the report's driver, VBIOS or BIOS version was given"
    ),
    CodeInfo(
        "gpu.rim.product.mismatch",
        _F,
        "the RIMs for the report's version are for another chip (e.g. GB100 vs GH100)",
    ),
    CodeInfo("gpu.rim.index.conflict", _F, "a measurement index is active in two RIMs"),
    # --- measurements against RIMs
    CodeInfo(
        "gpu.measurements.match",
        _P,
        "every active RIM index equals one of its alternatives in the report (block index+1)",
    ),
    CodeInfo(
        "gpu.measurements.mismatch",
        _F,
        "a measurement block is none of the RIM's alternatives for its index",
    ),
    CodeInfo(
        "gpu.measurements.not-compared",
        _N,
        "no RIMs were given: the measurements were not compared",
    ),
    # --- against the signed reference manifest
    CodeInfo("gpu.manifest.absent", _F, "the manifest lists no GPU reference values"),
    CodeInfo("gpu.manifest.model.match", _P, "the device is the GPU model the manifest allows"),
    CodeInfo(
        "gpu.manifest.model.mismatch", _F, "the device is not a GPU model the manifest allows"
    ),
    CodeInfo("gpu.manifest.driver.match", _P, "the driver version is one the manifest allows"),
    CodeInfo(
        "gpu.manifest.driver.mismatch", _F, "the driver version is not one the manifest allows"
    ),
    CodeInfo("gpu.manifest.vbios.match", _P, "the VBIOS version is one the manifest allows"),
    CodeInfo("gpu.manifest.vbios.mismatch", _F, "the VBIOS version is not one the manifest allows"),
    CodeInfo("gpu.manifest.rim-id.match", _P, "the report's RIM ids are ones the manifest allows"),
    CodeInfo(
        "gpu.manifest.rim-id.mismatch", _F, "a RIM id of the report is not one the manifest allows"
    ),
    CodeInfo("gpu.manifest.rim-digest.match", _P, "the RIM used has the digest the manifest pins"),
    CodeInfo(
        "gpu.manifest.rim-digest.mismatch", _F, "the RIM used is not the document the manifest pins"
    ),
    CodeInfo(
        "gpu.manifest.measurements.match",
        _P,
        "every measurement block the manifest pins has one of its accepted values",
    ),
    CodeInfo(
        "gpu.manifest.measurements.mismatch",
        _F,
        "a measurement block differs from every value the manifest accepts for it",
    ),
    CodeInfo(
        "gpu.manifest.cc-mode.not-checked",
        _N,
        "the report does not state the CC mode; the manifest's is not checked from it",
    ),
    # --- CPU <-> GPU binding
    CodeInfo(
        "gpu.binding.match",
        _P,
        "the CPU evidence's REPORT_DATA is the SHA-512 over the sorted GPU evidence digests",
    ),
    CodeInfo(
        "gpu.binding.mismatch",
        _F,
        "the CPU evidence's REPORT_DATA does not commit to these GPU evidences",
    ),
    CodeInfo(
        "gpu.binding.not-checked",
        _N,
        "no CPU evidence was given: the GPUs are not bound to a CVM",
    ),
)
