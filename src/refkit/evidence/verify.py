"""Verifying attestation evidence, optionally against a signed reference manifest.

The procedure, in the order it runs (every step's results are kept; none short-circuits
the others, except that an untrusted manifest is never read):

1. **Recognise** the evidence from its bytes (:func:`refkit.evidence.families.detect`):
   AMD SEV-SNP report, Azure HCL report, Intel TDX quote v4/v5. Anything else is a
   :class:`~refkit.errors.ParseError` (exit 2), as is evidence its family cannot parse.
2. **The manifest first.** When a manifest is given, its bundles are verified with
   :func:`refkit.manifests.signing.verify.verify_manifest`, exactly as
   ``refkit manifest verify`` does (trust policy or trusted keys, threshold, predicate type,
   expiry and anti-rollback at the same verification time). Its results join the verdict.
   A bare statement (no signature) is refused (``evidence.manifest.unsigned``); a manifest
   that does not verify is refused (``evidence.manifest.refused``): in both cases the
   evidence is not compared with it.
3. **Authenticity**: the family's ``verify`` (signatures, certificate chains to pinned
   roots, TCB binding, collateral when given) at the verification time. Missing
   certificates or collateral raise :class:`~refkit.evidence.errors.MaterialMissing`
   (exit 3): verification never fetches.
4. **Freshness**: REPORT_DATA against the caller's nonce (a *prefix* match: REPORT_DATA
   starts with the nonce's bytes, the rest is whatever the attester bound after it) or an
   exact 64-byte value. Neither given: ``evidence.freshness.unchecked`` (not required).
5. **Comparison** with the trusted manifest: the family's ``compare`` (measurements, policy
   bits, TCB floors, chip IDs, ...). No manifest: ``evidence.manifest.absent`` (not
   required) and the measured values are reported instead.

A debug-enabled guest is authentic evidence of an untrustworthy guest: authenticity
passes, and the outcome carries a warning in plain words (``warnings``; the verdict's
``facts.warnings`` in JSON). The families fail the manifest comparison for it unless the
manifest allows debugging.

Everything here is pure: bytes in, a :class:`EvidenceOutcome` out; no file, clock or
network access (the caller gives the time). :class:`EvidenceVerifier` keeps per-family
verifiers (which cache verified chains and collateral by their bytes) and parsed
manifests (by payload digest) behind a lock, so one instance serves many threads.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from refkit.errors import InputError, Location, ParseError
from refkit.evidence.families import (
    Blob,
    Family,
    FamilyVerifier,
    Material,
    default_families,
    detect,
)
from refkit.times import format_time
from refkit.verification import Result, Verdict

if TYPE_CHECKING:
    from refkit.manifests.model.predicate import ReferenceManifest
    from refkit.manifests.signing.keyless import TrustedRoot
    from refkit.manifests.signing.policy import TrustPolicy
    from refkit.manifests.signing.verify import VerificationResult

#: Largest evidence file read (an HCL report is 2,600 bytes, a quote with its chain ~8 KB).
MAX_EVIDENCE_BYTES = 1 << 20
#: Largest certificate or CRL file read.
MAX_CERTIFICATE_BYTES = 4 << 20
#: Largest collateral document read.
MAX_COLLATERAL_BYTES = 16 << 20
#: REPORT_DATA is 64 bytes in both families.
REPORT_DATA_SIZE = 64


@dataclass(frozen=True)
class ReportDataCheck:
    """What the caller expects in REPORT_DATA: a nonce prefix, or the exact 64 bytes."""

    value: bytes
    exact: bool

    def __post_init__(self) -> None:
        if self.exact and len(self.value) != REPORT_DATA_SIZE:
            raise InputError(
                f"the expected REPORT_DATA is {len(self.value)} bytes; it must be exactly "
                f"{REPORT_DATA_SIZE}",
                hint="to check only a prefix of REPORT_DATA, give it as a nonce",
            )
        if not self.exact and not 1 <= len(self.value) <= REPORT_DATA_SIZE:
            raise InputError(
                f"the nonce is {len(self.value)} bytes; it must be 1 to {REPORT_DATA_SIZE}"
            )

    def check(self, report_data: bytes) -> Result:
        n = len(self.value)
        if self.exact:
            same = report_data == self.value
            return Result.of(
                "evidence.report-data.match" if same else "evidence.report-data.mismatch",
                "REPORT_DATA equals the expected value"
                if same
                else "REPORT_DATA differs from the expected value",
                check="report-data",
                expected=self.value.hex(),
                actual=report_data.hex(),
            )
        same = report_data[:n] == self.value
        return Result.of(
            "evidence.nonce.match" if same else "evidence.nonce.mismatch",
            f"REPORT_DATA starts with the {n}-byte nonce"
            if same
            else f"REPORT_DATA does not start with the {n}-byte nonce",
            check="nonce",
            expected=self.value.hex(),
            actual=report_data[:n].hex(),
        )

    def to_json(self) -> dict[str, Any]:
        return {"match": "exact" if self.exact else "prefix", "hex": self.value.hex()}


# ---------------------------------------------------------------------------------------
# The manifest and whom to trust for it


@dataclass(frozen=True)
class TrustInput:
    """Whom the manifest must be signed by: a trust-policy file (with every file it names,
    read once, so that a receipt can replay it) or trusted public keys (threshold 1)."""

    policy: Blob | None = None
    #: Files the policy names (keys, Sigstore trusted root), by the path it resolves them to.
    files: tuple[Blob, ...] = ()
    keys: tuple[Blob, ...] = ()

    def __post_init__(self) -> None:
        if (self.policy is None) == (not self.keys):
            raise InputError("a manifest is trusted by a trust policy or by keys, one of them")

    def resolve(self) -> tuple[TrustPolicy, TrustedRoot | None]:
        """The parsed policy, and the Sigstore trusted root it names (if any)."""
        from refkit.manifests.signing.keyless import TrustedRoot
        from refkit.manifests.signing.keys import load_public_key
        from refkit.manifests.signing.policy import (
            KeySigner,
            Signer,
            TrustPolicy,
            key_signer_name,
            parse_policy,
        )

        if self.policy is None:
            signers: list[Signer] = []
            for blob in self.keys:
                key = load_public_key(blob.data, source=blob.source)
                if not any(isinstance(s, KeySigner) and s.key == key for s in signers):
                    signers.append(KeySigner(key_signer_name(key), key))
            return TrustPolicy(signers=tuple(signers)), None
        files = {b.source: b.data for b in self.files}

        def read(path: PurePath) -> bytes:
            data = files.get(str(path))
            if data is None:
                raise ParseError(
                    f"names {path}, which was not read with it",
                    location=Location(self.policy.source if self.policy else "trust policy"),
                )
            return data

        policy = parse_policy(
            self.policy.data,
            source=self.policy.source,
            read=read,
            base_dir=PurePath(self.policy.source).parent,
        )
        root = None
        if policy.trusted_root_path is not None:
            path = PurePath(policy.trusted_root_path)
            root = TrustedRoot(str(path), read(path))
        return policy, root


def trust_from_policy(data: bytes, *, source: str, read: Callable[[PurePath], bytes]) -> TrustInput:
    """A :class:`TrustInput` for the policy file ``data`` (found at ``source``): every file
    it names is read once with ``read`` and kept beside it."""
    from refkit.manifests.signing.policy import parse_policy

    files: dict[str, bytes] = {}

    def recording(path: PurePath) -> bytes:
        body = read(path)
        files[str(path)] = body
        return body

    policy = parse_policy(data, source=source, read=recording, base_dir=PurePath(source).parent)
    if policy.trusted_root_path is not None:
        recording(PurePath(policy.trusted_root_path))
    return TrustInput(
        policy=Blob(source, data), files=tuple(Blob(k, v) for k, v in sorted(files.items()))
    )


@dataclass(frozen=True)
class ManifestInput:
    """A signed reference manifest (one bundle per signer) and whom to trust for it."""

    bundles: tuple[Blob, ...]
    trust: TrustInput

    def __post_init__(self) -> None:
        if not self.bundles:
            raise InputError("a manifest needs at least one bundle")


@dataclass(frozen=True)
class VerifyOptions:
    """Everything one verification uses besides the evidence."""

    at: datetime
    at_source: str = "caller"
    manifest: ManifestInput | None = None
    material: Material = field(default_factory=Material)
    report_data: ReportDataCheck | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise InputError("the verification time needs a time zone")


@dataclass(frozen=True)
class EvidenceOutcome:
    """One verification's answer: the verdict, and what the evidence is."""

    verdict: Verdict
    family: str
    title: str
    measured: dict[str, str]
    warnings: tuple[str, ...]
    evidence: Any = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.verdict.ok


# ---------------------------------------------------------------------------------------
# The verifier


class EvidenceVerifier:
    """Verifies evidence; reusable and thread-safe (see the module docstring).

    ``families`` defaults to every family this refkit has
    (:func:`~refkit.evidence.families.default_families`); tests pass their own.
    """

    def __init__(self, families: Sequence[Family] | None = None) -> None:
        self._families = tuple(default_families() if families is None else families)
        self._lock = threading.Lock()
        self._verifiers: dict[str, FamilyVerifier] = {}
        self._policies: dict[TrustInput, tuple[TrustPolicy, TrustedRoot | None]] = {}
        self._manifests: dict[str, ReferenceManifest] = {}

    @property
    def families(self) -> tuple[Family, ...]:
        return self._families

    def detect(self, data: bytes, *, source: str) -> Family:
        return detect(data, self._families, source=source)

    def parse(self, data: bytes, *, source: str) -> tuple[Family, Any]:
        """Step 1: the family and the parsed evidence."""
        family = self.detect(data, source=source)
        return family, family.parse(data, source=source)

    def _verifier(self, family: Family) -> FamilyVerifier:
        with self._lock:
            verifier = self._verifiers.get(family.name)
            if verifier is None:
                verifier = self._verifiers[family.name] = family.verifier()
            return verifier

    def _trust(self, trust: TrustInput) -> tuple[TrustPolicy, TrustedRoot | None]:
        with self._lock:
            found = self._policies.get(trust)
        if found is None:
            found = trust.resolve()
            with self._lock:
                self._policies.setdefault(trust, found)
        return found

    def _manifest(self, payload: bytes, *, source: str) -> ReferenceManifest:
        from refkit.manifests.statement import load_statement

        digest = hashlib.sha256(payload).hexdigest()
        with self._lock:
            found = self._manifests.get(digest)
        if found is None:
            found = load_statement(payload, source=source, schema=False).predicate
            with self._lock:
                self._manifests.setdefault(digest, found)
        return found

    def verify(self, data: bytes, *, source: str, options: VerifyOptions) -> EvidenceOutcome:
        """Run the procedure of the module docstring on ``data`` (named ``source``)."""
        at = options.at.replace(microsecond=0)  # receipts record whole seconds
        family, evidence = self.parse(data, source=source)
        results: list[Result] = []

        # Step 2: the manifest, before anything is compared with it.
        manifest: ReferenceManifest | None = None
        manifest_facts: dict[str, Any] | None = None
        if options.manifest is not None:
            manifest, manifest_results, manifest_facts = self._verify_manifest(
                options.manifest, at=at, at_source=options.at_source
            )
            results.extend(manifest_results)

        # Step 3: authenticity.
        results.extend(self._verifier(family).verify(evidence, options.material, at))

        # Step 4: freshness.
        report_data = bytes(evidence.report_data)
        if options.report_data is not None:
            results.append(options.report_data.check(report_data))
        else:
            results.append(
                Result.of(
                    "evidence.freshness.unchecked",
                    "no nonce or expected REPORT_DATA was given: this evidence may be a "
                    "replay of an older one",
                    check="freshness",
                    actual=report_data.hex(),
                    required=False,
                )
            )

        # Step 5: comparison with the trusted manifest.
        if options.manifest is None:
            results.append(
                Result.of(
                    "evidence.manifest.absent",
                    "no reference manifest given: authenticity only; compare the measured "
                    "values by hand",
                    check="manifest",
                    required=False,
                )
            )
        elif manifest is not None:
            compared = family.compare(evidence, manifest)
            if not compared:
                compared = (
                    Result.of(
                        "evidence.compare.empty",
                        f"the manifest holds no value the {family.name} evidence is compared with",
                        check="compare",
                    ),
                )
            results.extend(compared)

        warnings: list[str] = []
        if evidence.debug:
            warnings.append(
                f"DEBUG GUEST: {family.debug_words}: the host can read and change this "
                "guest's memory. The evidence is authentic, but it does not show a "
                "confidential guest"
                + (
                    "; the manifest comparison fails unless the manifest allows debugging."
                    if options.manifest is not None
                    else "."
                )
            )
        unused = sorted(options.material.kinds() - family.uses)
        title = family.title(evidence)
        measured = family.measured(evidence)
        facts: dict[str, Any] = {
            "evidence": source,
            "evidenceSha256": hashlib.sha256(data).hexdigest(),
            "family": family.name,
            "kind": title,
            "verifiedAt": format_time(at),
            "timeSource": options.at_source,
            "debug": bool(evidence.debug),
            "warnings": warnings,
            "measured": measured,
            "manifest": manifest_facts,
            "unusedMaterial": unused,
        }
        verdict = Verdict(source, tuple(results), facts)
        return EvidenceOutcome(verdict, family.name, title, measured, tuple(warnings), evidence)

    def _verify_manifest(
        self, given: ManifestInput, *, at: datetime, at_source: str
    ) -> tuple[ReferenceManifest | None, list[Result], dict[str, Any]]:
        from refkit.manifests.signing.verify import verify_manifest

        unsigned = [b for b in given.bundles if _bare_statement(b)]
        if unsigned:
            names = ", ".join(b.source for b in unsigned)
            return (
                None,
                [
                    Result.of(
                        "evidence.manifest.unsigned",
                        f"{names}: a bare statement, not a signed bundle; an unsigned manifest "
                        "is never compared",
                        check="manifest",
                        subject=unsigned[0].source,
                    )
                ],
                {"bundles": [b.source for b in given.bundles], "trusted": False},
            )
        policy, root = self._trust(given.trust)
        checked: VerificationResult = verify_manifest(
            [(b.source, b.data) for b in given.bundles],
            policy,
            at=at,
            at_source=at_source,
            trusted_root=root,
        )
        results = list(checked.checks)
        facts: dict[str, Any] = {
            "bundles": [b.source for b in given.bundles],
            "trusted": checked.ok,
            "payloadSha256": checked.payload_sha256,
            "release": None
            if checked.release is None
            else f"{checked.release.name} {checked.release.version}",
            "verifiedSigners": list(checked.verified_signers),
        }
        if not checked.ok or checked.payload is None:
            results.append(
                Result.of(
                    "evidence.manifest.refused",
                    "the manifest did not verify against the trust given: the evidence is "
                    "not compared with it",
                    check="manifest",
                    subject=given.bundles[0].source,
                )
            )
            return None, results, facts
        manifest = self._manifest(checked.payload, source=f"{given.bundles[0].source}: payload")
        return manifest, results, facts


def _bare_statement(blob: Blob) -> bool:
    """Whether a manifest file is an unsigned in-toto statement rather than a bundle."""
    if b'"mediaType"' in blob.data:
        return False
    from refkit.manifests.canonical import loads_strict
    from refkit.manifests.constants import MAX_DOCUMENT_BYTES

    value = loads_strict(blob.data, source=blob.source, max_bytes=MAX_DOCUMENT_BYTES)
    return isinstance(value, dict) and "_type" in value and "mediaType" not in value


def verify_evidence(
    data: bytes,
    *,
    source: str,
    options: VerifyOptions,
    families: Sequence[Family] | None = None,
) -> EvidenceOutcome:
    """Verify one piece of evidence (a one-off :class:`EvidenceVerifier`)."""
    return EvidenceVerifier(families).verify(data, source=source, options=options)
