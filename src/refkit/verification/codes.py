"""The registry of verification codes: every code a check may report, in one table.

A code is a stable, dotted, lower-case name (``manifest.threshold.unmet``) that clients
and conformance suites match on; its meaning and its outcome class never change once
released (a new meaning gets a new code). A code names what was found, so each code has
exactly one outcome: ``manifest.expired`` is always a failure, ``manifest.not-expired``
always a pass, ``manifest.expiry.absent`` always "not checked".

docs/codes.md is generated from this table (``python -m refkit.verification``) and a
test keeps the two equal. Adding a code: add a line here, regenerate docs/codes.md.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from types import MappingProxyType

from refkit.errors import InternalError


class Outcome(enum.Enum):
    """What a check found. NOT_CHECKED is neither a pass nor a crash: the check could not
    be made (a fact is absent, or the evidence is of a kind the check does not apply to);
    whether that fails the verification is the caller's policy (``required``)."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    NOT_CHECKED = "not-checked"


@dataclass(frozen=True)
class CodeInfo:
    """One registered code: its name, a one-line meaning, and its outcome class."""

    code: str
    outcome: Outcome
    meaning: str


_CODE = re.compile(r"[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+")

_P, _F, _N = Outcome.PASS, Outcome.FAIL, Outcome.NOT_CHECKED

_TABLE: tuple[CodeInfo, ...] = (
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
    # --- inputs verify
    CodeInfo("inputs.digest.match", _P, "a pinned file is present with the pinned size and sha256"),
    CodeInfo(
        "inputs.digest.mismatch",
        _F,
        "a pinned file is present with other content than the lock pins",
    ),
    CodeInfo("inputs.file.missing", _F, "a pinned file is absent"),
)


def _index(table: tuple[CodeInfo, ...]) -> MappingProxyType[str, CodeInfo]:
    out: dict[str, CodeInfo] = {}
    for info in table:
        if not _CODE.fullmatch(info.code) or info.code in out:
            raise InternalError(f"verification code {info.code!r} is malformed or repeated")
        out[info.code] = info
    return MappingProxyType(dict(sorted(out.items())))


#: Every registered code, sorted by name.
REGISTRY = _index(_TABLE)


def code_info(code: str) -> CodeInfo:
    """The registered code; an unregistered one is a bug (:class:`InternalError`)."""
    info = REGISTRY.get(code)
    if info is None:
        raise InternalError(f"verification code {code!r} is not registered")
    return info


def codes_markdown() -> str:
    """docs/codes.md: every code, its outcome class and meaning, as a Markdown table."""
    lines = [
        "# Verification codes",
        "",
        "<!-- Generated by `python -m refkit.verification > docs/codes.md`; do not edit. -->",
        "",
        "Every check refkit reports carries one of these codes. A code is stable across",
        "releases: its meaning and outcome never change (a new meaning gets a new code).",
        "Outcomes: `pass`; `fail` (exit 1); `not-checked` (exit 1 only when the caller's",
        "policy requires the check, reported as `required: true`). See docs/signing.md,",
        "*Verification results*, for the JSON form.",
        "",
        "| code | outcome | meaning |",
        "|---|---|---|",
    ]
    lines.extend(f"| `{i.code}` | {i.outcome.value} | {i.meaning} |" for i in REGISTRY.values())
    return "\n".join(lines) + "\n"
