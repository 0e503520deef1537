"""Export a verification result as a SLSA Verification Summary Attestation (VSA) v1.

Follows https://slsa.dev/verification_summary/v1 as specified in
slsa-framework/slsa ``spec/verification_summary.md`` at commit
cb6c6429f97d6c1625d8309458979c4bd14dabb3 (VSA 1.2): an in-toto Statement v1 with
``predicateType`` ``https://slsa.dev/verification_summary/v1`` and the predicate fields
``verifier {id, version}``, ``timeVerified``, ``resourceUri``, ``policy {uri, digest}``,
``inputAttestations [{uri, digest}]``, ``verificationResult`` (``PASSED``/``FAILED``),
``verifiedLevels`` and ``slsaVersion`` (lowerCamelCase; digests are in-toto DigestSets of
lower-case hex).

What refkit puts in it: the subjects are the manifest's artifacts (name and digest) whose
reference values the verifier checked; ``inputAttestations`` lists the signed manifest
(and any other attestation the verifier used) by digest. ``verifiedLevels`` is
``["FAILED"]`` when the result is FAILED (as the spec says) and otherwise the levels the
caller vouches for, by default ``SLSA_BUILD_LEVEL_UNEVALUATED``: refkit checks reference
values, not a SLSA build track, and makes no claim about one.

The verification outcome is an input (:class:`VerificationOutcome`): ``refkit manifest
verify`` passes what it found; ``refkit manifest export --format vsa`` records one given on
the command line. The clock is never read here. The output is canonical JSON (RFC 8785),
ready to be signed like any other statement.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from refkit.errors import InputError
from refkit.manifests.canonical import canonical_dumps
from refkit.manifests.constants import STATEMENT_TYPE
from refkit.manifests.exports import Export
from refkit.manifests.model import DigestSet
from refkit.manifests.statement import Statement
from refkit.times import format_time

VSA_PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
UPSTREAM = "slsa-framework/slsa spec/verification_summary.md @ cb6c6429f97d (VSA 1.2)"
UNEVALUATED = "SLSA_BUILD_LEVEL_UNEVALUATED"
_LEVEL = re.compile(r"SLSA_([A-Z]+)_LEVEL_([0-9]+|UNEVALUATED)")
#: Verified properties defined by spec/verified-properties.md at the same commit.
VERIFIED_PROPERTIES = frozenset({"SLSA_SOURCE_TWO_PARTY_REVIEWED", "SLSA_BUILD_REPRODUCED"})
_SLSA_VERSION = re.compile(r"[0-9]+\.[0-9]+")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+")


class Result(enum.StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class InputAttestation:
    """An attestation the verifier used: its digest, and where to fetch it if known."""

    digest: Mapping[str, str]
    uri: str | None = None

    @classmethod
    def of_bytes(cls, data: bytes, uri: str | None = None) -> InputAttestation:
        return cls({"sha256": hashlib.sha256(data).hexdigest()}, uri)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.uri is not None:
            out["uri"] = self.uri
        out["digest"] = dict(self.digest)
        return out


@dataclass(frozen=True)
class VerificationOutcome:
    """What a verification found, as the VSA records it."""

    verifier_id: str
    result: Result
    time_verified: datetime
    resource_uri: str
    policy_uri: str
    policy_digest: Mapping[str, str] | None = None
    verifier_version: Mapping[str, str] = field(default_factory=dict)
    verified_levels: tuple[str, ...] = (UNEVALUATED,)
    input_attestations: tuple[InputAttestation, ...] = ()
    slsa_version: str | None = None


def _check(outcome: VerificationOutcome) -> None:
    for name, value in (
        ("verifier id", outcome.verifier_id),
        ("resource URI", outcome.resource_uri),
        ("policy URI", outcome.policy_uri),
    ):
        if not _URI.fullmatch(value):
            raise InputError(f"VSA {name} {value!r} is not a URI (scheme:rest)")
    if outcome.policy_digest is not None:
        DigestSet.parse(dict(outcome.policy_digest), "policy.digest", "VSA outcome")
    for att in outcome.input_attestations:
        DigestSet.parse(dict(att.digest), "inputAttestations.digest", "VSA outcome")
        if att.uri is not None and not _URI.fullmatch(att.uri):
            raise InputError(f"VSA input attestation URI {att.uri!r} is not a URI")
    if outcome.slsa_version is not None and not _SLSA_VERSION.fullmatch(outcome.slsa_version):
        raise InputError(f"slsaVersion {outcome.slsa_version!r} is not MAJOR.MINOR")
    if outcome.result is Result.PASSED:
        tracks: set[str] = set()
        for level in outcome.verified_levels:
            if level == "FAILED":
                raise InputError("verifiedLevels holds FAILED but the result is PASSED")
            match = _LEVEL.fullmatch(level)
            if match:
                if match.group(1) in tracks:
                    raise InputError(f"more than one level for SLSA track {match.group(1)}")
                tracks.add(match.group(1))
            elif level.startswith("SLSA_") and level not in VERIFIED_PROPERTIES:
                raise InputError(
                    f"{level!r} is not a SLSA level or verified property",
                    hint="custom values must not start with SLSA_ (VSA spec, SlsaResult)",
                )
        if not outcome.verified_levels:
            raise InputError("verifiedLevels must not be empty when the result is PASSED")


def vsa_statement(statement: Statement, outcome: VerificationOutcome) -> dict[str, Any]:
    """The VSA in-toto statement recording ``outcome`` for the manifest's artifacts."""
    _check(outcome)
    verifier: dict[str, Any] = {"id": outcome.verifier_id}
    if outcome.verifier_version:
        verifier["version"] = dict(outcome.verifier_version)
    policy: dict[str, Any] = {"uri": outcome.policy_uri}
    if outcome.policy_digest is not None:
        policy["digest"] = dict(outcome.policy_digest)
    levels = ["FAILED"] if outcome.result is Result.FAILED else list(outcome.verified_levels)
    predicate: dict[str, Any] = {
        "verifier": verifier,
        "timeVerified": format_time(outcome.time_verified),
        "resourceUri": outcome.resource_uri,
        "policy": policy,
        "verificationResult": outcome.result.value,
        "verifiedLevels": levels,
    }
    if outcome.input_attestations:
        predicate["inputAttestations"] = [a.to_json() for a in outcome.input_attestations]
    if outcome.slsa_version is not None:
        predicate["slsaVersion"] = outcome.slsa_version
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": s.name, "digest": s.digest.to_json()} for s in statement.subjects],
        "predicateType": VSA_PREDICATE_TYPE,
        "predicate": predicate,
    }


def export(statement: Statement, outcome: VerificationOutcome) -> Export:
    return Export("vsa", canonical_dumps(vsa_statement(statement, outcome)))
