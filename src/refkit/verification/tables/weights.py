"""Verification codes of `refkit weights verify`: model signatures and model files."""

from __future__ import annotations

from refkit.verification.codes import CodeInfo, Outcome

_P, _F, _N = Outcome.PASS, Outcome.FAIL, Outcome.NOT_CHECKED

TABLE: tuple[CodeInfo, ...] = (
    # --- the signature over the model manifest
    CodeInfo(
        "weights.signature.valid",
        _P,
        "the bundle's DSSE signature over the model manifest verifies with the trusted key, "
        "certificate chain or Sigstore identity",
    ),
    CodeInfo(
        "weights.signature.invalid",
        _F,
        "the bundle's signature does not verify with the trusted key, certificate chain or "
        "Sigstore identity (the manifest it carries is not read)",
    ),
    CodeInfo(
        "weights.certificate.chain-valid",
        _P,
        "the signing certificate chains to a given trusted certificate, valid when it was "
        "issued, and may sign",
    ),
    CodeInfo(
        "weights.certificate.chain-invalid",
        _F,
        "the signing certificate does not chain to a given trusted certificate, was not "
        "valid, or may not sign",
    ),
    # --- the signed manifest itself
    CodeInfo(
        "weights.manifest.files-digest-match",
        _P,
        "the manifest's subject (files digest) is the SHA-256 over its resource digests",
    ),
    CodeInfo(
        "weights.manifest.files-digest-mismatch",
        _F,
        "the manifest's subject (files digest) is not the SHA-256 over its resource digests",
    ),
    # --- the model directory against the signed manifest
    CodeInfo(
        "weights.files.match",
        _P,
        "every file of the model directory has the signed digests, and no file is missing or extra",
    ),
    CodeInfo("weights.file.changed", _F, "a signed file is present with other content"),
    CodeInfo("weights.file.missing", _F, "a signed file is absent from the model directory"),
    CodeInfo(
        "weights.file.extra",
        _F,
        "the model directory holds a file the signed manifest does not list (and no ignore "
        "rule covers)",
    ),
    # --- weights bind: the files inside the disk against a model manifest
    CodeInfo(
        "weights.bind.files.match",
        _P,
        "the disk holds exactly the manifest's files, each with the manifest's digest",
    ),
    CodeInfo(
        "weights.bind.file.changed",
        _F,
        "a file on the disk has another digest (or size) than the manifest gives",
    ),
    CodeInfo("weights.bind.file.missing", _F, "a file of the manifest is not on the disk"),
    CodeInfo("weights.bind.file.extra", _F, "the disk holds a file the manifest does not name"),
)
