"""Verification codes of `refkit manifest verify`: bundles, signatures, statement, policy."""

from __future__ import annotations

from refkit.verification.codes import CodeInfo, Outcome

_P, _F, _N = Outcome.PASS, Outcome.FAIL, Outcome.NOT_CHECKED

TABLE: tuple[CodeInfo, ...] = (
    # --- manifest verify: bundles and signatures (steps 2-4)
    CodeInfo("manifest.bundles.differ", _F, "the bundles do not all carry the same statement"),
    CodeInfo(
        "manifest.signature.verified", _P, "a bundle's signature verified with a trusted signer"
    ),
    CodeInfo(
        "manifest.signature.invalid",
        _F,
        "a bundle's signature does not verify with the trusted signer it names",
    ),
    CodeInfo(
        "manifest.signer.untrusted",
        _F,
        "a bundle is signed by a key or identity the policy does not trust",
    ),
    CodeInfo(
        "manifest.signature.inconsistent",
        _F,
        "the keyless verifier and refkit read different signed bytes",
    ),
    CodeInfo("manifest.threshold.met", _P, "enough distinct trusted signers verified"),
    CodeInfo(
        "manifest.threshold.unmet", _F, "fewer distinct trusted signers verified than the threshold"
    ),
    # --- manifest verify: the signed statement (step 5)
    CodeInfo(
        "manifest.payload-type.refused", _F, "the DSSE payload type is not an in-toto statement"
    ),
    CodeInfo("manifest.predicate-type.accepted", _P, "the statement's predicate type is accepted"),
    CodeInfo(
        "manifest.predicate-type.refused", _F, "the statement's predicate type is not accepted"
    ),
    CodeInfo(
        "manifest.invalid", _F, "the signed payload is not a valid statement or reference manifest"
    ),
    CodeInfo(
        "manifest.constraint.unknown",
        _F,
        "the manifest holds a constraint field this refkit does not know",
    ),
    CodeInfo(
        "manifest.schema.newer", _F, "the manifest's schemaVersion is newer than this refkit knows"
    ),
    # --- manifest verify: policy checks on the content (step 6)
    CodeInfo("manifest.schema-version.accepted", _P, "the schemaVersion is one the policy accepts"),
    CodeInfo(
        "manifest.schema-version.refused", _F, "the schemaVersion is not one the policy accepts"
    ),
    CodeInfo(
        "manifest.schema-version.not-checked",
        _N,
        "the predicate has no refkit schemaVersion to check",
    ),
    CodeInfo("manifest.not-expired", _P, "the manifest has not expired at the verification time"),
    CodeInfo("manifest.expired", _F, "the manifest expired at or before the verification time"),
    CodeInfo("manifest.not-yet-valid", _F, "the manifest was created after the verification time"),
    CodeInfo("manifest.expiry.absent", _N, "the manifest sets no expiry"),
    CodeInfo(
        "manifest.expiry.not-checked",
        _N,
        "the predicate has no refkit release facts: expiry not checked",
    ),
    CodeInfo("manifest.release-name.match", _P, "the release name is the expected one"),
    CodeInfo("manifest.release-name.mismatch", _F, "the release name is not the expected one"),
    CodeInfo(
        "manifest.release-name.not-checked", _N, "the predicate has no refkit release name to check"
    ),
    CodeInfo("manifest.version.not-older", _P, "the release version is not older than the floor"),
    CodeInfo("manifest.rollback", _F, "the release version is older than the floor (rollback)"),
    CodeInfo(
        "manifest.version.unordered",
        _F,
        "the release version is not a semantic version and cannot be ordered",
    ),
    CodeInfo(
        "manifest.rollback.not-checked",
        _N,
        "the predicate has no refkit release version: rollback not checked",
    ),
)
