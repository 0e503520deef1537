"""Verifying signed reference manifests: the procedure, as numbered steps.

Input: one or more Sigstore bundles that carry the same statement (one per signer), a
:class:`~refkit.manifests.signing.policy.TrustPolicy`, the verification time, and optional
anti-rollback floors. Steps (each logged at INFO, each failure recorded in the result):

1. Parse every bundle strictly (malformed input: :class:`~refkit.errors.ParseError`, exit 2).
2. All bundles carry the same DSSE payload type and payload bytes; else fail naming the
   first bundle that differs.
3. Establish each bundle's signer. Key-based: the hint must name a trusted key (either
   hint convention; an empty hint means "try every trusted key") and a signature must
   verify over the DSSE PAE with that key. Keyless: sigstore-python verifies offline
   against the trusted root, for each trusted Sigstore identity in turn.
4. Count *distinct* trusted signers (a signer's bundles count once) against the threshold.
   Below it, stop: an unauthenticated payload is never interpreted.
5. The payload type is ``application/vnd.in-toto+json`` and the payload is a valid
   in-toto Statement v1 whose predicate type the policy accepts (default: only this
   project's); another predicate (SLSA provenance, a model signature) fails naming the
   type found, a malformed one naming the field, and a manifest holding what this refkit
   does not understand (an unknown constraint, a newer schema) fails with that code
   (``manifest.constraint.unknown``, ``manifest.schema.newer``): fail closed.
6. Policy checks on the signed content, all run and all reported: accepted predicate type
   and schema version, expiry at the verification time, release name and anti-rollback
   (policy ``min-version``, the caller's minimum version, a previously trusted manifest).
   For an accepted predicate that is not a refkit manifest (e.g. an SLSA verification
   summary) the checks that need refkit release facts are *not checked*, and that fails
   the verification when the policy or the caller asked for them.

The result (:class:`VerificationResult`) says which signers verified, which bundles failed
and why, every check, and the time used; its :attr:`~VerificationResult.verdict` is the
shared model (:mod:`refkit.verification`: codes, outcomes, anchors). A "no" is a result
with ``ok`` false, never an exception; exceptions mean the question could not be asked
(exit 2 or 3).

What a passing result proves, and what it does not, is in docs/signing.md, *Security model*.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from refkit.errors import InputError, NotUnderstood, ParseError, VerificationFailed
from refkit.manifests.canonical import loads_strict
from refkit.manifests.constants import IN_TOTO_PAYLOAD_TYPE, PREDICATE_TYPE
from refkit.manifests.signing.bundle import (
    Bundle,
    PublicKeyHint,
    bundle_from_value,
    check_bundle_cost,
    parse_bundle,
)
from refkit.manifests.signing.dsse import Envelope, verify_signature
from refkit.manifests.signing.keyless import (
    KeylessVerificationFailed,
    TrustedRoot,
    verify_keyless,
)
from refkit.manifests.signing.keys import describe_hint, hints_of
from refkit.manifests.signing.policy import (
    AllOf,
    Check,
    Facts,
    KeySigner,
    NotExpired,
    NotOlderThan,
    PredicateTypeIn,
    ReleaseFacts,
    ReleaseNameIs,
    SchemaVersionIn,
    Threshold,
    TrustPolicy,
    parse_semver,
    signer_anchor,
)
from refkit.manifests.signing.statements import (
    NotARefkitManifest,
    PredicateNotAccepted,
    read_manifest,
    read_statement,
)
from refkit.times import format_time
from refkit.verification import (
    ChecksFailed,
    PinnedRoot,
    Result,
    SignerKey,
    SignerSet,
    SigstoreSigner,
    Verdict,
    anchor_to_json,
)

_log = logging.getLogger(__name__)


class TrustedRootNeeded(InputError):
    """Keyless bundles and trusted identities, but no Sigstore trusted root was given."""


@dataclass(frozen=True)
class BundleOutcome:
    """What step 3 found for one bundle; ``result`` is the same as a verification result."""

    source: str
    ok: bool
    signer: str | None
    detail: str
    result: Result

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.source,
            "ok": self.ok,
            "signer": self.signer,
            "detail": self.detail,
            "code": self.result.code,
            "outcome": self.result.outcome.value,
            "anchor": anchor_to_json(self.result.anchor),
        }


@dataclass(frozen=True)
class PreviousRelease:
    """A previously trusted release: the new one must have its name and not be older."""

    name: str
    version: str
    source: str


@dataclass(frozen=True)
class VerificationResult:
    """The answer, with everything that led to it. :attr:`verdict` holds the results that
    decide it (:mod:`refkit.verification`); ``ok`` is the verdict."""

    at: datetime
    at_source: str
    payload_type: str | None
    payload_sha256: str | None
    threshold: int
    trusted_signers: int
    verified_signers: tuple[str, ...]
    #: Trusted signers (policy order) that no bundle showed to have signed.
    missing_signers: tuple[str, ...]
    bundles: tuple[BundleOutcome, ...]
    #: Every result that counts: the bundles' (all of them if the threshold was not met,
    #: else those that verified: a bad extra signature does not undo a met threshold),
    #: then the checks of steps 2 to 6 in order.
    checks: tuple[Result, ...] = ()
    predicate_type: str | None = None
    release: ReleaseFacts | None = None
    payload: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def verdict(self) -> Verdict:
        rel = self.release
        subject = f"{rel.name} {rel.version}" if rel else (self.predicate_type or "manifest")
        return Verdict(subject, self.checks)

    @property
    def ok(self) -> bool:
        return self.verdict.ok

    @property
    def failure(self) -> str | None:
        """The failing results' messages, joined (None if the verdict is yes)."""
        return "; ".join(r.text for r in self.verdict.failures) or (
            None if self.checks else "nothing was checked"
        )

    @property
    def unused_bundles(self) -> tuple[BundleOutcome, ...]:
        """Bundles that did not verify and did not count (the threshold was met without)."""
        counted = set(self.checks)
        return tuple(b for b in self.bundles if b.result not in counted)

    def to_json(self) -> dict[str, Any]:
        """The JSON form: docs/signing.md, *Verification results*."""
        rel = self.release
        verdict = self.verdict
        return {
            "ok": self.ok,
            "failure": self.failure,
            "subject": verdict.subject,
            "summary": verdict.counts(),
            "verifiedAt": format_time(self.at),
            "timeSource": self.at_source,
            "payloadType": self.payload_type,
            "payloadSha256": self.payload_sha256,
            "predicateType": self.predicate_type,
            "release": None
            if rel is None
            else {
                "name": rel.name,
                "version": rel.version,
                "created": format_time(rel.created) if rel.created else None,
                "expires": format_time(rel.expires) if rel.expires else None,
            },
            "threshold": self.threshold,
            "trustedSigners": self.trusted_signers,
            "verifiedSigners": list(self.verified_signers),
            "missingSigners": list(self.missing_signers),
            "bundles": [b.to_json() for b in self.bundles],
            # The model's result form, plus "detail" (the message) as before.
            "checks": [{**c.to_json(), "detail": c.text} for c in self.checks],
        }

    def raise_for_failure(self) -> None:
        """Raise :class:`~refkit.verification.ChecksFailed` (exit 1) unless ``ok``."""
        if not self.ok:
            if not self.checks:
                raise VerificationFailed(f"manifest verification failed: {self.failure}")
            raise ChecksFailed(self.verdict)


def verify_manifest(
    bundles: Sequence[tuple[str, bytes]],
    policy: TrustPolicy,
    *,
    at: datetime,
    at_source: str = "clock",
    trusted_root: TrustedRoot | None = None,
    min_version: str | None = None,
    previous: PreviousRelease | None = None,
    min_version_origin: str = "minimum version",
) -> VerificationResult:
    """Verify ``bundles`` (pairs of a name and the bundle's bytes); see the module steps.

    ``min_version_origin`` names where ``min_version`` came from in messages."""
    if not bundles:
        raise InputError("no bundle to verify")
    if at.tzinfo is None:
        raise InputError("the verification time needs a time zone")
    floors = [(min_version, min_version_origin)]
    if previous is not None:
        floors.append((previous.version, f"previous manifest {previous.source}"))
    for floor, origin in floors:
        if floor is not None and parse_semver(floor) is None:
            raise InputError(
                f"{origin}: version {floor!r} is not a semantic version and cannot be ordered",
                hint="anti-rollback orders versions as MAJOR.MINOR.PATCH[-PRE][+BUILD]",
            )
    root_anchor = (
        PinnedRoot(trusted_root.source, hashlib.sha256(trusted_root.data).hexdigest())
        if trusted_root is not None
        else None
    )
    anchors = {s.name: signer_anchor(s, root_anchor) for s in policy.signers}
    base: dict[str, Any] = {
        "at": at,
        "at_source": at_source,
        "threshold": policy.threshold,
        "trusted_signers": len(policy.signers),
    }

    # Step 1: parse every bundle strictly.
    parsed = [parse_bundle(data, source=name) for name, data in bundles]
    for b in parsed:
        if b.envelope is None:
            raise InputError(
                f"{b.source}: signs an artifact, not a statement (no DSSE envelope)",
                hint="a reference manifest bundle carries a DSSE envelope",
            )
    _log.info("step 1: parsed %d bundle(s)", len(parsed))

    # Step 2: one statement.
    first = parsed[0].envelope
    assert first is not None
    base["payload_type"] = first.payload_type
    base["payload_sha256"] = hashlib.sha256(first.payload).hexdigest()
    for b in parsed[1:]:
        env = b.envelope
        assert env is not None
        if (env.payload_type, env.payload) != (first.payload_type, first.payload):
            what = "payload type" if env.payload_type != first.payload_type else "payload"
            differ = Result.of(
                "manifest.bundles.differ",
                f"{b.source} carries a different {what} from {parsed[0].source}",
                check="bundles",
                expected=f"sha256:{base['payload_sha256']}",
                actual=f"sha256:{hashlib.sha256(env.payload).hexdigest()}",
            )
            return VerificationResult(
                verified_signers=(),
                missing_signers=tuple(s.name for s in policy.signers),
                bundles=(),
                checks=(differ,),
                **base,
            )
    _log.info("step 2: all bundles carry payload sha256:%s", base["payload_sha256"])

    # Step 3: each bundle's signer.
    if any(b.keyless for b in parsed) and policy.identity_signers and trusted_root is None:
        raise TrustedRootNeeded(
            "keyless bundles need a Sigstore trusted root to verify offline",
            hint="give a Sigstore trusted root (trusted-root in the trust policy)",
        )
    outcomes = tuple(_establish_signer(b, policy, trusted_root, anchors) for b in parsed)
    for o in outcomes:
        _log.info("step 3: %s: %s", o.source, o.detail)
    verified = tuple(sorted({o.signer for o in outcomes if o.ok and o.signer is not None}))
    base["bundles"] = outcomes
    base["verified_signers"] = verified
    base["missing_signers"] = tuple(s.name for s in policy.signers if s.name not in verified)
    content_anchor = SignerSet(tuple(anchors[n] for n in verified), policy.threshold)

    # Step 4: threshold of distinct signers.
    threshold = Threshold(policy.threshold, len(policy.signers))
    count = threshold.judge(frozenset(verified), content_anchor)
    _log.info("step 4: %s", count.message)
    if count.fails:
        # Below the threshold every bundle's answer explains the failure.
        return VerificationResult(checks=(*(o.result for o in outcomes), count), **base)
    counted: tuple[Result, ...] = (*(o.result for o in outcomes if o.ok), count)

    def stop(result: Result, predicate_type: str | None = None) -> VerificationResult:
        _log.info("step 5: %s: %s", result.code, result.message)
        return VerificationResult(checks=(*counted, result), predicate_type=predicate_type, **base)

    # Step 5: an in-toto statement with a predicate type the caller accepts.
    if first.payload_type != IN_TOTO_PAYLOAD_TYPE:
        return stop(
            Result.of(
                "manifest.payload-type.refused",
                f"payload type {first.payload_type!r} is not {IN_TOTO_PAYLOAD_TYPE!r}",
                check="payload-type",
                expected=IN_TOTO_PAYLOAD_TYPE,
                actual=first.payload_type,
                anchor=content_anchor,
            )
        )
    accepted = policy.predicate_types
    try:
        view = read_statement(
            first.payload, source=f"{parsed[0].source}: payload", accepted=accepted
        )
    except (PredicateNotAccepted, NotARefkitManifest) as exc:
        found = exc.found
        why = (
            f"is not a refkit reference manifest ({PREDICATE_TYPE}), the only type accepted"
            if accepted == (PREDICATE_TYPE,)
            else f"is not accepted ({', '.join(accepted)})"
        )
        return stop(
            Result.of(
                "manifest.predicate-type.refused",
                f"predicate type {found!r} {why}",
                check="predicate-type",
                expected=" | ".join(accepted),
                actual=found,
                anchor=content_anchor,
            ),
            found,
        )
    except NotUnderstood as exc:
        # Fail closed: a constraint this refkit cannot read might fail what it would pass.
        return stop(
            Result.of(
                exc.code,
                f"the signed manifest holds what this refkit does not understand: {exc.message}",
                check="manifest",
                anchor=content_anchor,
            )
        )
    except ParseError as exc:
        # Validly signed, but not a valid manifest: the answer is no (exit 1), with the
        # result reported like any other, not "bad input" (the bundle itself was fine).
        return stop(
            Result.of(
                "manifest.invalid",
                f"the signed payload is not a valid reference manifest: {exc.message}",
                check="manifest",
                anchor=content_anchor,
            )
        )
    rel = view.release
    _log.info(
        "step 5: %s", f"{rel.name} {rel.version}" if rel else f"predicate {view.predicate_type}"
    )

    # Step 6: the policy's checks on the signed content.
    checks: list[Check[Facts]] = [PredicateTypeIn(accepted)]
    if policy.schema_versions is not None:
        checks.append(SchemaVersionIn(policy.schema_versions))
    checks.append(NotExpired(policy.require_expiry))
    if policy.release_name is not None:
        checks.append(ReleaseNameIs(policy.release_name, f"policy {policy.source}"))
    if policy.min_version is not None:
        checks.append(NotOlderThan(policy.min_version, f"policy {policy.source}"))
    if min_version is not None:
        checks.append(NotOlderThan(min_version, min_version_origin))
    if previous is not None:
        checks.append(ReleaseNameIs(previous.name, f"previous manifest {previous.source}"))
        checks.append(NotOlderThan(previous.version, f"previous manifest {previous.source}"))
    facts = Facts(
        verified_signers=frozenset(verified),
        predicate_type=view.predicate_type,
        schema_version=view.schema_version,
        release=view.release,
        at=at,
        anchor=content_anchor,
    )
    results = AllOf(tuple(checks)).run(facts)
    for r in results:
        _log.info("step 6: %s: %s", r.code, r.message)
    return VerificationResult(
        checks=(*counted, *results),
        predicate_type=view.predicate_type,
        release=view.release,
        payload=first.payload,
        **base,
    )


def _establish_signer(
    bundle: Bundle,
    policy: TrustPolicy,
    trusted_root: TrustedRoot | None,
    anchors: dict[str, SignerKey | SigstoreSigner],
) -> BundleOutcome:
    """Step 3 for one bundle: which trusted signer, if any, made it."""
    env = bundle.envelope
    assert env is not None

    def outcome(code: str, detail: str, signer: str | None = None) -> BundleOutcome:
        result = Result.of(
            code,
            detail,
            check="signature",
            subject=bundle.source,
            anchor=anchors[signer] if signer is not None else None,
        )
        return BundleOutcome(bundle.source, not result.fails, signer, detail, result)

    if isinstance(bundle.material, PublicKeyHint):
        return _key_signer(env, bundle.material.hint, policy.key_signers, outcome)
    if not policy.identity_signers:
        return outcome(
            "manifest.signer.untrusted", "keyless bundle, and no Sigstore identity is trusted"
        )
    assert trusted_root is not None
    reasons = []
    for signer in policy.identity_signers:
        try:
            checked = verify_keyless(bundle, trusted_root, signer.identity)
        except KeylessVerificationFailed as exc:
            reasons.append(exc.message.removeprefix(f"{bundle.source}: "))
            continue
        if (checked.payload_type, checked.payload) != (env.payload_type, env.payload):
            # Each parses the bundle; interpret only what sigstore-python verified.
            return outcome(
                "manifest.signature.inconsistent",
                "sigstore-python verified other bytes than refkit read",
            )
        return outcome("manifest.signature.verified", f"verified: {signer.identity}", signer.name)
    return outcome("manifest.signature.invalid", "; ".join(reasons))


def _key_signer(
    env: Envelope,
    hint: str,
    signers: tuple[KeySigner, ...],
    outcome: Callable[..., BundleOutcome],
) -> BundleOutcome:
    candidates = [s for s in signers if not hint or hint in hints_of(s.key)]
    if not candidates:
        return outcome(
            "manifest.signer.untrusted", f"signed by an untrusted key ({describe_hint(hint)})"
        )
    for signer in candidates:
        for sig in env.signatures:
            if verify_signature(env, sig, signer.key):
                return outcome(
                    "manifest.signature.verified",
                    f"verified: {signer.key.label}",
                    signer.name,
                )
    names = ", ".join(s.name for s in candidates)
    return outcome(
        "manifest.signature.invalid", f"signature does not verify with trusted key {names}"
    )


def previous_release(data: bytes, *, source: str) -> PreviousRelease:
    """The release named by a previously trusted manifest, given as a statement or a bundle.

    A bundle's payload is read without verifying it again: the caller trusted it before
    (re-verifying could fail only because it has since expired).
    """
    payload = data
    if b"application/vnd.dev.sigstore.bundle" in data:
        check_bundle_cost(data, source=source)
    doc = loads_strict(data, source=source)
    if isinstance(doc, dict) and "mediaType" in doc:
        env = bundle_from_value(doc, data, source=source).envelope
        if env is None:
            raise InputError(f"{source}: a bundle without a DSSE envelope is not a manifest")
        payload = env.payload
    try:
        view = read_manifest(payload, source=source)
    except NotARefkitManifest as exc:
        raise InputError(exc.message) from None
    assert view.release is not None  # a refkit manifest always has release facts
    return PreviousRelease(view.release.name, view.release.version, source)


def clock() -> datetime:
    """The current time (UTC): the default verification time."""
    return datetime.now(UTC)
