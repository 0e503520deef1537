"""One verification model for every capability: results with stable codes, three outcomes,
the trust anchor each result rests on, one JSON form, one mapping to exit codes.

Every verifier in refkit (signed manifests, pinned inputs, and later evidence, GPU and
weights) reports a :class:`Verdict`: a tuple of :class:`Result`, each one check's answer.

- ``code``: a registered dotted code (:mod:`refkit.verification.codes`, docs/codes.md).
  A result with an unregistered code, or with an outcome other than its code's, is a bug
  (:class:`~refkit.errors.InternalError`): codes cannot be invented ad hoc.
- ``outcome``: :class:`Outcome` pass, fail or not-checked.
- ``required``: for not-checked, whether the caller's policy needs the check (then it
  fails the verdict).
- ``expected`` / ``actual``: the compared values, as text (hex unbroken), when there are.
- ``anchor``: what the result's trust rests on: a :class:`PinnedRoot` (a root document
  pinned by its sha256 fingerprint), a :class:`SignerKey` (a trusted key, by hex key id),
  a :class:`SigstoreSigner` (an identity and issuer, under a pinned root), a
  :class:`SignerSet` (k of these), or None (the input the caller gave, e.g. a lock).

Exit codes (:func:`exit_code`): any fail, or any required not-checked, is 1
(``VERIFICATION_FAILED``); otherwise 0. Malformed input never becomes a result: it is a
:class:`~refkit.errors.ParseError` (exit 2) raised before or instead of a verdict.

Nothing here does I/O; the CLI renders verdicts (``refkit.cli._report``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, assert_never

from refkit.errors import ExitCode, InternalError, Location, ParseError, VerificationFailed
from refkit.reader import Obj
from refkit.verification.codes import REGISTRY, CodeInfo, Outcome, code_info, codes_markdown

__all__ = [
    "REGISTRY",
    "AllOf",
    "Anchor",
    "Check",
    "ChecksFailed",
    "CodeInfo",
    "Outcome",
    "PinnedRoot",
    "Result",
    "SignerKey",
    "SignerSet",
    "SigstoreSigner",
    "Verdict",
    "anchor_from_json",
    "anchor_to_json",
    "code_info",
    "codes_markdown",
    "exit_code",
]

# ---------------------------------------------------------------------------------------
# Trust anchors


@dataclass(frozen=True)
class PinnedRoot:
    """A root document (e.g. a Sigstore trusted root) pinned by the sha256 of its bytes."""

    name: str
    fingerprint: str


@dataclass(frozen=True)
class SignerKey:
    """A trusted signing key: ``key_id`` is the hex SHA-256 of its DER SubjectPublicKeyInfo."""

    name: str
    key_type: str
    key_id: str


@dataclass(frozen=True)
class SigstoreSigner:
    """A trusted keyless signer: a certificate identity and OIDC issuer under a root."""

    name: str
    identity: str
    issuer: str
    root: PinnedRoot | None = None


@dataclass(frozen=True)
class SignerSet:
    """Signers of which at least ``threshold`` verified: what signed content rests on."""

    signers: tuple[SignerKey | SigstoreSigner, ...]
    threshold: int


Anchor = PinnedRoot | SignerKey | SigstoreSigner | SignerSet


def anchor_to_json(anchor: Anchor | None) -> dict[str, Any] | None:
    """The JSON form of an anchor (``kind`` tells which)."""
    if anchor is None:
        return None
    if isinstance(anchor, PinnedRoot):
        return {"kind": "root", "name": anchor.name, "fingerprint": anchor.fingerprint}
    if isinstance(anchor, SignerKey):
        return {
            "kind": "key",
            "name": anchor.name,
            "keyType": anchor.key_type,
            "keyId": anchor.key_id,
        }
    if isinstance(anchor, SigstoreSigner):
        return {
            "kind": "sigstore",
            "name": anchor.name,
            "identity": anchor.identity,
            "issuer": anchor.issuer,
            "root": anchor_to_json(anchor.root),
        }
    if isinstance(anchor, SignerSet):
        return {
            "kind": "signers",
            "threshold": anchor.threshold,
            "signers": [anchor_to_json(s) for s in anchor.signers],
        }
    assert_never(anchor)


def anchor_from_json(value: Any, *, source: str, path: str = "$") -> Anchor | None:
    """Parse :func:`anchor_to_json`'s form back (strict: unknown fields refused)."""
    if value is None:
        return None
    obj = Obj(value, source=source, path=path)
    kind = obj.text("kind")
    anchor: Anchor
    if kind == "root":
        anchor = PinnedRoot(obj.text("name"), obj.hex("fingerprint", 32))
    elif kind == "key":
        anchor = SignerKey(obj.text("name"), obj.text("keyType"), obj.hex("keyId", 32))
    elif kind == "sigstore":
        root = anchor_from_json(obj.raw("root"), source=source, path=obj.at("root"))
        if root is not None and not isinstance(root, PinnedRoot):
            raise obj.fail("root", "expected a root anchor")
        anchor = SigstoreSigner(obj.text("name"), obj.text("identity"), obj.text("issuer"), root)
    elif kind == "signers":

        def one(v: Any, p: str) -> SignerKey | SigstoreSigner:
            a = anchor_from_json(v, source=source, path=p)
            if not isinstance(a, SignerKey | SigstoreSigner):
                raise ParseError(
                    "expected a key or sigstore anchor", location=Location(source, field=p)
                )
            return a

        anchor = SignerSet(obj.items("signers", one), obj.integer("threshold"))
    else:
        raise obj.fail("kind", f"unknown anchor kind {kind[:40]!r}")
    obj.refuse_rest()
    return anchor


# ---------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Result:
    """One check's answer. Build with :meth:`of`, which takes the outcome from the code."""

    code: str
    outcome: Outcome
    check: str
    message: str
    subject: str | None = None
    expected: str | None = None
    actual: str | None = None
    anchor: Anchor | None = None
    required: bool = True

    def __post_init__(self) -> None:
        info = code_info(self.code)
        if info.outcome is not self.outcome:
            raise InternalError(
                f"verification code {self.code!r} is a {info.outcome.value} code, "
                f"not {self.outcome.value}"
            )

    @classmethod
    def of(
        cls,
        code: str,
        message: str,
        *,
        check: str,
        subject: str | None = None,
        expected: str | None = None,
        actual: str | None = None,
        anchor: Anchor | None = None,
        required: bool = True,
    ) -> Result:
        # Built without __init__: the outcome comes from the code itself, so the check in
        # __post_init__ cannot fail here, and skipping the frozen dataclass's per-field
        # setattr halves the cost (an evidence builds a dozen results).
        result = object.__new__(cls)
        result.__dict__.update(
            code=code,
            outcome=code_info(code).outcome,
            check=check,
            message=message,
            subject=subject,
            expected=expected,
            actual=actual,
            anchor=anchor,
            required=required,
        )
        return result

    def for_subject(self, subject: str | None) -> Result:
        """The same result about another subject (built as :meth:`of` builds)."""
        result = object.__new__(type(self))
        result.__dict__.update(self.__dict__, subject=subject)
        return result

    @property
    def ok(self) -> bool:
        """Not :attr:`fails`: a pass, or a not-checked the caller does not require."""
        return not self.fails

    @property
    def text(self) -> str:
        """The message, after the subject when there is one."""
        return f"{self.subject}: {self.message}" if self.subject else self.message

    @property
    def fails(self) -> bool:
        """Whether this result fails the verdict: a fail, or a required not-checked."""
        if self.outcome is Outcome.FAIL:
            return True
        if self.outcome is Outcome.NOT_CHECKED:
            return self.required
        if self.outcome is Outcome.PASS:
            return False
        assert_never(self.outcome)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "outcome": self.outcome.value,
            "ok": self.ok,
            "check": self.check,
            "subject": self.subject,
            "message": self.message,
            "expected": self.expected,
            "actual": self.actual,
            "anchor": anchor_to_json(self.anchor),
            "required": self.required,
        }

    @classmethod
    def from_json(cls, value: Any, *, source: str, path: str = "$") -> Result:
        """Parse :meth:`to_json`'s form; an unregistered code is a ParseError here (the
        document may come from a newer refkit), not a bug."""
        obj = Obj(value, source=source, path=path)
        code = obj.text("code")
        if code not in REGISTRY:
            raise obj.fail("code", f"unknown verification code {code[:80]!r}")
        try:
            outcome = Outcome(obj.text("outcome"))
        except ValueError:
            raise obj.fail("outcome", "expected pass, fail or not-checked") from None
        if outcome is not REGISTRY[code].outcome:
            raise obj.fail("outcome", f"is not the outcome of {code}")
        required = obj.raw("required", True)
        if not isinstance(required, bool):
            raise obj.fail("required", "expected true or false")
        obj.raw("ok", True)  # derived: checked below
        result = cls(
            code,
            outcome,
            obj.text("check"),
            obj.text("message"),
            _opt_str(obj, "subject"),
            _opt_str(obj, "expected"),
            _opt_str(obj, "actual"),
            anchor_from_json(obj.raw("anchor", True), source=source, path=obj.at("anchor")),
            required,
        )
        if obj.value["ok"] is not (not result.fails):
            raise obj.fail("ok", "does not follow from outcome and required")
        obj.refuse_rest()
        return result


def _opt_str(obj: Obj, key: str) -> str | None:
    value = obj.raw(key, True)
    if value is not None and not isinstance(value, str):
        raise obj.fail(key, "expected a string or null")
    return value


# ---------------------------------------------------------------------------------------
# Checks

F = TypeVar("F", contravariant=True)
G = TypeVar("G")


class Check(Protocol[F]):
    """One question about facts already established (no I/O)."""

    def check(self, facts: F) -> Result: ...


@dataclass(frozen=True)
class AllOf(Generic[G]):
    """Runs every check: none short-circuits, so the verdict lists every problem."""

    checks: tuple[Check[G], ...]

    def run(self, facts: G) -> tuple[Result, ...]:
        return tuple(c.check(facts) for c in self.checks)


# ---------------------------------------------------------------------------------------
# Verdicts and exit codes


def exit_code(results: tuple[Result, ...]) -> ExitCode:
    """The one mapping: any fail or required not-checked is 1, else 0."""
    return ExitCode.VERIFICATION_FAILED if any(r.fails for r in results) else ExitCode.OK


class ChecksFailed(VerificationFailed):
    """The verdict is no (exit 1). ``codes`` lists the failing codes in order."""

    def __init__(self, verdict: Verdict) -> None:
        failing = verdict.failures
        first = "; ".join(f"{r.text} [{r.code}]" for r in failing[:3])
        more = f" (and {len(failing) - 3} more)" if len(failing) > 3 else ""
        super().__init__(f"{verdict.subject}: verification failed: {first}{more}")
        self.verdict = verdict
        self.codes = tuple(r.code for r in failing)


@dataclass(frozen=True)
class Verdict:
    """Every result of one verification of ``subject``, and what they add up to."""

    subject: str
    results: tuple[Result, ...]
    #: Command-specific facts (times, digests) shown beside the results; JSON values.
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures and bool(self.results)

    @property
    def failures(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.fails)

    @property
    def exit_code(self) -> ExitCode:
        if not self.results:
            return ExitCode.VERIFICATION_FAILED  # nothing was checked: never a yes
        return exit_code(self.results)

    def counts(self) -> dict[str, int]:
        out = {o.value: 0 for o in Outcome}
        for r in self.results:
            out[r.outcome.value] += 1
        out["required-not-checked"] = sum(
            1 for r in self.results if r.outcome is Outcome.NOT_CHECKED and r.required
        )
        return out

    @property
    def summary(self) -> str:
        c = self.counts()
        # "N of M checks passed", not a bare "N passed, N failed": CI log readers take
        # that form for a test runner's closing line.
        total = len(self.results)
        text = (
            f"{c['pass']} of {total} checks passed, {c['fail']} failed, "
            f"{c['not-checked']} not checked"
        )
        if c["required-not-checked"]:
            text += f" ({c['required-not-checked']} of them required)"
        return text

    def raise_for_failure(self) -> None:
        """Raise :class:`ChecksFailed` (exit 1) unless the verdict is yes."""
        if not self.ok:
            if not self.results:
                raise VerificationFailed(f"{self.subject}: nothing was checked")
            raise ChecksFailed(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "ok": self.ok,
            "summary": self.counts(),
            "facts": dict(self.facts),
            "results": [r.to_json() for r in self.results],
        }

    @classmethod
    def from_json(cls, value: Any, *, source: str) -> Verdict:
        obj = Obj(value, source=source, path="$")
        facts = obj.raw("facts", True)
        if not isinstance(facts, dict):
            raise obj.fail("facts", "expected an object")
        verdict = cls(
            obj.text("subject"),
            obj.items("results", lambda v, p: Result.from_json(v, source=source, path=p)),
            dict(facts),
        )
        if obj.raw("ok", True) is not verdict.ok or obj.raw("summary", True) != verdict.counts():
            raise obj.fail(None, "ok or summary does not follow from the results")
        obj.refuse_rest()
        return verdict
