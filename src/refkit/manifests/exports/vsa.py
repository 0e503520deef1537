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
ready to be signed like any other statement. ``slsaVersion`` is optional and, when given,
one of :data:`SLSA_VERSIONS` (the SLSA releases that define VSA v1).

Reading (:func:`read_vsa`) is what signing uses to know what it signs: a VSA statement of
exactly the shape written here (subjects of name and digest; ``policy`` and
``inputAttestations`` of uri and digest; no ``dependencyLevels``), every field checked as
the writer checks it, unknown fields refused. A VSA refkit cannot read is not signed.

in-toto-attestation 0.9.3's protobuf model of this predicate differs from the spec in two
fields: ``verifiedLevels`` is a single string there, an array in the spec
(in-toto/attestation#425), and its ``verifier`` has no ``version``. refkit follows the
spec (the upstream maintainers call the spec authoritative); every other field parses
with that model unchanged (tests/unit/test_vsa_interop.py).
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from refkit.errors import InputError
from refkit.manifests.canonical import canonical_dumps, loads_strict
from refkit.manifests.constants import MAX_DOCUMENT_BYTES, STATEMENT_TYPE
from refkit.manifests.exports import Export
from refkit.manifests.model import DigestSet
from refkit.manifests.statement import Statement
from refkit.reader import Obj
from refkit.times import format_time

VSA_PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
UPSTREAM = "slsa-framework/slsa spec/verification_summary.md @ cb6c6429f97d (VSA 1.2)"
UNEVALUATED = "SLSA_BUILD_LEVEL_UNEVALUATED"
_LEVEL = re.compile(r"SLSA_([A-Z]+)_LEVEL_([0-9]+|UNEVALUATED)")
#: Verified properties defined by spec/verified-properties.md at the same commit.
VERIFIED_PROPERTIES = frozenset({"SLSA_SOURCE_TWO_PARTY_REVIEWED", "SLSA_BUILD_REPRODUCED"})
_SLSA_VERSION = re.compile(r"(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})")
#: SLSA specification versions that define VSA v1 (the spec's ``slsaVersion``: the SLSA
#: version the verifier used, MAJOR.MINOR).
SLSA_VERSIONS = ("1.0", "1.1", "1.2")
#: Most subjects and input attestations read from one VSA.
MAX_ITEMS = 10_000
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
    if outcome.slsa_version is not None:
        if not _SLSA_VERSION.fullmatch(outcome.slsa_version):
            raise InputError(
                f"slsaVersion {outcome.slsa_version[:40]!r} is not MAJOR.MINOR",
                hint=f"one of {', '.join(SLSA_VERSIONS)}",
            )
        if outcome.slsa_version not in SLSA_VERSIONS:
            raise InputError(
                f"slsaVersion {outcome.slsa_version!r} is not a SLSA version with VSA v1",
                hint=f"one of {', '.join(SLSA_VERSIONS)}",
            )
    for level in outcome.verified_levels:
        if not level or level != level.strip():
            raise InputError(f"verifiedLevels holds {level[:80]!r}: empty or padded with spaces")
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
    return vsa_document(tuple((s.name, s.digest) for s in statement.subjects), outcome)


def vsa_document(
    subjects: Sequence[tuple[str, DigestSet]], outcome: VerificationOutcome
) -> dict[str, Any]:
    """The VSA in-toto statement recording ``outcome`` for ``subjects`` (name, digest)."""
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
        "subject": [{"name": name, "digest": digest.to_json()} for name, digest in subjects],
        "predicateType": VSA_PREDICATE_TYPE,
        "predicate": predicate,
    }


def export(statement: Statement, outcome: VerificationOutcome) -> Export:
    return Export("vsa", canonical_dumps(vsa_statement(statement, outcome)))


@dataclass(frozen=True)
class SummaryAttestation:
    """A VSA statement as read: its subjects (name, digest) and the outcome it records."""

    subjects: tuple[tuple[str, DigestSet], ...]
    outcome: VerificationOutcome


def read_vsa(data: bytes, *, source: str) -> SummaryAttestation:
    """Parse and validate a VSA statement (see the module docstring for what is refused).

    Raises :class:`~refkit.errors.ParseError` naming the field for a malformed document
    and :class:`~refkit.errors.InputError` for an outcome the writer would refuse too.
    """
    top = Obj(
        loads_strict(data, source=source, max_bytes=MAX_DOCUMENT_BYTES), source=source, path="$"
    )
    if top.text("_type") != STATEMENT_TYPE:
        raise top.fail("_type", f"is not {STATEMENT_TYPE}")
    subjects = top.items("subject", lambda v, path: _subject(v, path, source), min_items=1)
    if len(subjects) > MAX_ITEMS:
        raise top.fail("subject", f"{len(subjects)} subjects, more than {MAX_ITEMS}")
    if top.text("predicateType") != VSA_PREDICATE_TYPE:
        raise top.fail("predicateType", f"is not {VSA_PREDICATE_TYPE}")
    p = top.obj("predicate")
    top.refuse_rest()

    verifier = p.obj("verifier")
    verifier_id = verifier.text("id")
    versions = verifier.opt_obj("version")
    version: dict[str, str] = {}
    if versions is not None:
        for name in versions.value:
            version[name] = versions.text(name)
        versions.refuse_rest()
    verifier.refuse_rest()
    time_verified = p.time("timeVerified")
    resource_uri = p.text("resourceUri")
    policy = p.obj("policy")
    policy_uri = policy.text("uri")
    policy_digest = _opt_digest(policy, "digest")
    policy.refuse_rest()
    attestations = p.opt_items("inputAttestations", lambda v, path: _attestation(v, path, source))
    if attestations is not None and len(attestations) > MAX_ITEMS:
        raise p.fail("inputAttestations", f"more than {MAX_ITEMS} attestations")
    result_text = p.text("verificationResult")
    try:
        result = Result(result_text)
    except ValueError:
        raise p.fail(
            "verificationResult", f"{result_text[:40]!r} is not PASSED or FAILED"
        ) from None
    levels = p.text_list("verifiedLevels")
    if levels is None:
        raise p.fail("verifiedLevels", "is required")
    if result is Result.FAILED and levels != ("FAILED",):
        raise p.fail("verifiedLevels", 'must be ["FAILED"] when the result is FAILED')
    slsa_version = p.opt_text("slsaVersion")
    p.refuse_rest(hint="refkit signs the VSA fields it writes; dependencyLevels is not one")
    outcome = VerificationOutcome(
        verifier_id=verifier_id,
        result=result,
        time_verified=time_verified,
        resource_uri=resource_uri,
        policy_uri=policy_uri,
        policy_digest=policy_digest,
        verifier_version=version,
        verified_levels=levels,
        input_attestations=attestations or (),
        slsa_version=slsa_version,
    )
    try:
        _check(outcome)
    except InputError as exc:
        raise InputError(f"{source}: {exc.message}", hint=exc.hint) from None
    return SummaryAttestation(subjects, outcome)


def _subject(value: Any, path: str, source: str) -> tuple[str, DigestSet]:
    obj = Obj(value, source=source, path=path)
    name = obj.text("name")
    digest = DigestSet.parse(obj.raw("digest", True), obj.at("digest"), source)
    obj.refuse_rest()
    return name, digest


def _opt_digest(obj: Obj, key: str) -> dict[str, str] | None:
    if key not in obj.value:
        return None
    return dict(DigestSet.parse(obj.raw(key), obj.at(key), obj.source).digests)


def _attestation(value: Any, path: str, source: str) -> InputAttestation:
    obj = Obj(value, source=source, path=path)
    uri = obj.opt_text("uri")
    digest = dict(DigestSet.parse(obj.raw("digest", True), obj.at("digest"), source).digests)
    obj.refuse_rest()
    return InputAttestation(digest, uri)
