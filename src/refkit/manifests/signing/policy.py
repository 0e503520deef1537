"""The trust policy: who may sign a reference manifest, how many must, and what is accepted.

A trust policy is a small YAML file (format below, documented in docs/signing.md). This
module parses it strictly and holds the trust decisions as small composable checks in the
style of sigstore-python's ``verify.policy`` (each check answers one question about facts
already established, :class:`AllOf` runs several). It does no I/O: key files named by the
policy are read through the ``read`` callable the caller passes.

File format (version 1)::

    version: 1                      # required
    threshold: 2                    # k of the n signers below; default 1
    signers:                        # required, non-empty
      - name: rebuilder-a           # optional label, unique; default derived from the key
        key: keys/rebuilder-a.pub   # PEM public key file, relative to the policy file
      - name: rebuilder-b
        key-pem: |                  # or the PEM inline
          -----BEGIN PUBLIC KEY-----
          ...
      - name: release-ci
        sigstore:                   # or a Sigstore identity (keyless)
          identity: https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.2.0
          issuer: https://token.actions.githubusercontent.com
    trusted-root: trusted_root.json # Sigstore trusted root; required with sigstore signers
    accept:
      predicate-types: [https://refkit.dev/reference-manifest/v1]   # default: this one
      schema-versions: [1.0]        # optional: accepted predicate.schemaVersion values
    release:
      name: privatemode             # optional: the release name that must be signed
      min-version: "1.4.0"          # optional: anti-rollback floor (semantic version)
    require-expiry: false           # true: a manifest without release.expires fails

Strictness: at most :data:`MAX_POLICY_BYTES`, read by the one strict YAML loader
(:func:`refkit.yamlio.load_yaml`: UTF-8, one document, no tags, anchors, aliases or
directives, no strings holding NUL or lone surrogate escapes, duplicate keys refused, JSON
typing, so ``min-version: 1.10`` is the string "1.10" and needs no quotes) and by the one
strict reader (:class:`refkit.reader.Obj`): unknown keys are refused, so a typo is never
ignored. Every failure is a :class:`~refkit.errors.ParseError` (exit 2) naming the file and
the field.

The checks answer with :class:`refkit.verification.Result` (a registered code, an outcome,
the anchor: the verified signers). A check that needs refkit release facts answers
"not checked" for an accepted predicate of another type, and the result is required (fails
the verdict) when the policy or the caller asked for that check.

Version ordering (anti-rollback) follows Semantic Versioning 2.0.0, section 11:
``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``, numeric identifiers compared as numbers,
a pre-release sorts before its release, build metadata is ignored. A version that is not a
semantic version cannot be ordered and is refused, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath

from refkit.errors import InputError
from refkit.manifests.constants import PREDICATE_TYPE
from refkit.manifests.signing.keyless import SigstoreIdentity
from refkit.manifests.signing.keys import PublicKey, load_public_key
from refkit.reader import Obj
from refkit.times import format_time
from refkit.verification import (
    AllOf,
    Anchor,
    Check,
    PinnedRoot,
    Result,
    SignerKey,
    SigstoreSigner,
)
from refkit.yamlio import load_yaml

__all__ = [
    "MAX_POLICY_BYTES",
    "AllOf",
    "Check",
    "Facts",
    "IdentitySigner",
    "KeySigner",
    "NotExpired",
    "NotOlderThan",
    "PredicateTypeIn",
    "ReleaseFacts",
    "ReleaseNameIs",
    "SchemaVersionIn",
    "SemVer",
    "Signer",
    "Threshold",
    "TrustPolicy",
    "key_signer_name",
    "parse_policy",
    "parse_semver",
    "signer_anchor",
]

#: Largest policy file read (bytes).
MAX_POLICY_BYTES = 1024 * 1024

# ---------------------------------------------------------------------------------------
# Semantic versions


_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?",
    re.ASCII,  # \d is any Unicode digit otherwise
)


@dataclass(frozen=True, order=False)
class SemVer:
    """A semantic version; ``<`` and friends follow SemVer 2.0.0 precedence."""

    text: str
    core: tuple[int, int, int]
    prerelease: tuple[int | str, ...]

    def _key(self) -> tuple[tuple[int, int, int], int, tuple[tuple[int, int | str], ...]]:
        # A release (no pre-release) sorts after every pre-release of the same core;
        # numeric identifiers sort before alphanumeric ones.
        pre = tuple((0, p) if isinstance(p, int) else (1, p) for p in self.prerelease)
        return (self.core, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: SemVer) -> bool:
        return self._key() < other._key()

    def __le__(self, other: SemVer) -> bool:
        return self._key() <= other._key()

    def same_precedence(self, other: SemVer) -> bool:
        return self._key() == other._key()

    def __str__(self) -> str:
        return self.text


def parse_semver(text: str) -> SemVer | None:
    """The semantic version ``text`` spells, or None if it is not one (then it cannot be
    ordered). A leading ``v`` is not accepted: ``v1.2.3`` is not a semantic version."""
    m = _SEMVER.fullmatch(text)  # not match + "$", which allows a final newline
    if m is None or len(text) > 256:
        return None
    pre = tuple(int(p) if p.isdigit() else p for p in m.group(4).split(".")) if m.group(4) else ()
    return SemVer(text, (int(m.group(1)), int(m.group(2)), int(m.group(3))), pre)


# ---------------------------------------------------------------------------------------
# The policy


@dataclass(frozen=True)
class KeySigner:
    """A trusted signer known by its public key."""

    name: str
    key: PublicKey


@dataclass(frozen=True)
class IdentitySigner:
    """A trusted keyless signer known by its Sigstore identity and issuer."""

    name: str
    identity: SigstoreIdentity


Signer = KeySigner | IdentitySigner


@dataclass(frozen=True)
class TrustPolicy:
    """Who may sign, how many must, and what they may sign. Validated on construction."""

    signers: tuple[Signer, ...]
    threshold: int = 1
    trusted_root_path: str | None = None
    predicate_types: tuple[str, ...] = (PREDICATE_TYPE,)
    schema_versions: tuple[str, ...] | None = None
    release_name: str | None = None
    min_version: str | None = None
    require_expiry: bool = False
    source: str = "command line"

    def __post_init__(self) -> None:
        if not self.signers:
            raise InputError(
                f"{self.source}: no trusted signers",
                hint="name at least one trusted key or Sigstore identity",
            )
        if not 1 <= self.threshold <= len(self.signers):
            raise InputError(
                f"{self.source}: threshold {self.threshold} is not between 1 and the "
                f"number of trusted signers ({len(self.signers)})"
            )
        ids = [s.key.key_id if isinstance(s, KeySigner) else s.identity for s in self.signers]
        for i, ident in enumerate(ids):
            if ident in ids[:i]:
                raise InputError(
                    f"{self.source}: signer {self.signers[i].name!r} repeats a trusted signer",
                    hint="a signer listed twice would count once: list each signer once",
                )
        names = [s.name for s in self.signers]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise InputError(f"{self.source}: signer name {dup!r} is used twice")
        if self.min_version is not None and parse_semver(self.min_version) is None:
            raise InputError(
                f"{self.source}: minimum version {self.min_version!r} is not a semantic "
                "version (MAJOR.MINOR.PATCH[-PRE][+BUILD]) and cannot be ordered"
            )

    @property
    def key_signers(self) -> tuple[KeySigner, ...]:
        return tuple(s for s in self.signers if isinstance(s, KeySigner))

    @property
    def identity_signers(self) -> tuple[IdentitySigner, ...]:
        return tuple(s for s in self.signers if isinstance(s, IdentitySigner))


def key_signer_name(key: PublicKey) -> str:
    """Default name of a key signer: its type and the start of its key id."""
    return f"{key.key_type.value}:{key.key_id[:16]}"


def signer_anchor(signer: Signer, root: PinnedRoot | None = None) -> SignerKey | SigstoreSigner:
    """The trust anchor a trusted signer is (``root``: the pinned Sigstore trusted root)."""
    if isinstance(signer, KeySigner):
        return SignerKey(signer.name, signer.key.key_type.value, signer.key.key_id)
    return SigstoreSigner(signer.name, signer.identity.identity, signer.identity.issuer, root)


def parse_policy(
    data: bytes,
    *,
    source: str,
    read: Callable[[PurePath], bytes],
    base_dir: PurePath,
) -> TrustPolicy:
    """Parse a trust-policy file. Key files are read with ``read`` relative to ``base_dir``;
    the trusted-root path is resolved against ``base_dir`` but not read here."""
    doc = Obj(load_yaml(data, source=source, max_bytes=MAX_POLICY_BYTES), source=source, path="$")
    version = doc.raw("version")
    if type(version) is not int or version != 1:
        raise doc.fail("version", f"unsupported policy version {_shown(version)}")
    signers = doc.items("signers", lambda v, p: _signer(v, p, source, read, base_dir), min_items=1)
    raw_threshold = doc.raw("threshold")
    if type(raw_threshold) is int and not 0 <= raw_threshold <= _MAX_THRESHOLD:
        raise doc.fail("threshold", f"{_shown(raw_threshold)} is out of range")
    threshold = doc.opt_integer("threshold")
    root = doc.opt_text("trusted-root")
    accept = doc.opt_obj("accept")
    predicate_types = schema_versions = None
    if accept is not None:
        predicate_types = _nonempty(accept, "predicate-types")
        schema_versions = _nonempty(accept, "schema-versions")
        accept.refuse_rest()
    release = doc.opt_obj("release")
    release_name = min_version = None
    if release is not None:
        release_name = release.opt_text("name")
        min_version = release.opt_text("min-version")
        release.refuse_rest()
    require_expiry = doc.raw("require-expiry")
    if require_expiry is None and "require-expiry" not in doc.value:
        require_expiry = False
    if not isinstance(require_expiry, bool):
        raise doc.fail("require-expiry", "expected true or false")
    doc.refuse_rest()
    return TrustPolicy(
        signers=signers,
        threshold=1 if threshold is None else threshold,
        trusted_root_path=str(base_dir / root) if root else None,
        predicate_types=predicate_types or (PREDICATE_TYPE,),
        schema_versions=schema_versions,
        release_name=release_name,
        min_version=min_version,
        require_expiry=require_expiry,
        source=source,
    )


#: More signers than this in one policy is absurd; a larger threshold is refused as such.
_MAX_THRESHOLD = 10_000


def _shown(value: object) -> str:
    """A value for a message, short; a huge integer (which Python refuses to turn into
    decimal text beyond 4300 digits) is not printed."""
    if type(value) is int and abs(value) > 10**40:
        return "(a very large integer)"
    return repr(value)[:40]


def _nonempty(obj: Obj, key: str) -> tuple[str, ...] | None:
    values = obj.text_list(key)
    if values is not None and not values:
        raise obj.fail(key, "expected a non-empty list of strings")
    return values


def _signer(
    value: object,
    path: str,
    source: str,
    read: Callable[[PurePath], bytes],
    base_dir: PurePath,
) -> Signer:
    s = Obj(value, source=source, path=path)
    kinds = [k for k in ("key", "key-pem", "sigstore") if k in s.value]
    if len(kinds) != 1:
        raise s.fail(None, "needs exactly one of key, key-pem, sigstore")
    name = s.opt_text("name")
    signer: Signer
    if kinds[0] == "sigstore":
        sub = s.obj("sigstore")
        ident = SigstoreIdentity(sub.text("identity"), sub.text("issuer"))
        sub.refuse_rest()
        signer = IdentitySigner(name or ident.identity, ident)
    elif kinds[0] == "key":
        key_path = base_dir / s.text("key")
        key = load_public_key(read(key_path), source=f"{source}: {s.at('key')} ({key_path})")
        signer = KeySigner(name or key_signer_name(key), key)
    else:
        pem = s.text("key-pem")
        key = load_public_key(pem.encode("utf-8"), source=f"{source}: {s.at('key-pem')}")
        signer = KeySigner(name or key_signer_name(key), key)
    s.refuse_rest()
    return signer


# ---------------------------------------------------------------------------------------
# Facts and composable checks


@dataclass(frozen=True)
class ReleaseFacts:
    """The release fields of a signed manifest that the checks look at."""

    name: str
    version: str
    created: datetime | None
    expires: datetime | None


@dataclass(frozen=True)
class Facts:
    """What verification established before the policy checks run. ``release`` is None
    for an accepted predicate that is not a refkit manifest (it has no release facts), and
    ``schema_version`` is None then too."""

    verified_signers: frozenset[str]
    predicate_type: str
    schema_version: str | None
    release: ReleaseFacts | None
    at: datetime
    #: What the signed content's trust rests on (the verified signers).
    anchor: Anchor | None = None


@dataclass(frozen=True)
class Threshold:
    """At least ``k`` distinct trusted signers verified."""

    k: int
    n: int

    def check(self, facts: Facts) -> Result:
        return self.judge(facts.verified_signers, facts.anchor)

    def judge(self, verified_signers: frozenset[str], anchor: Anchor | None = None) -> Result:
        """The check on the signer set alone (verification runs it before reading content)."""
        got = len(verified_signers)
        return Result.of(
            "manifest.threshold.met" if got >= self.k else "manifest.threshold.unmet",
            f"{got} of {self.n} trusted signers verified, {self.k} required",
            check="threshold",
            expected=f">= {self.k}",
            actual=str(got),
            anchor=anchor,
        )


@dataclass(frozen=True)
class PredicateTypeIn:
    """The statement's predicate type is one the policy accepts."""

    accepted: tuple[str, ...]

    def check(self, facts: Facts) -> Result:
        ok = facts.predicate_type in self.accepted
        return Result.of(
            "manifest.predicate-type.accepted" if ok else "manifest.predicate-type.refused",
            f"predicate type {facts.predicate_type}"
            + ("" if ok else f" is not accepted ({', '.join(self.accepted)})"),
            check="predicate-type",
            expected=" | ".join(self.accepted),
            actual=facts.predicate_type,
            anchor=facts.anchor,
        )


@dataclass(frozen=True)
class SchemaVersionIn:
    """The predicate's schemaVersion is one the policy accepts."""

    accepted: tuple[str, ...]

    def check(self, facts: Facts) -> Result:
        expected = " | ".join(self.accepted)
        if facts.schema_version is None:
            return Result.of(
                "manifest.schema-version.not-checked",
                f"predicate type {facts.predicate_type} has no refkit schemaVersion; "
                f"the policy accepts only {', '.join(self.accepted)}",
                check="schema-version",
                expected=expected,
                anchor=facts.anchor,
                required=True,
            )
        ok = facts.schema_version in self.accepted
        return Result.of(
            "manifest.schema-version.accepted" if ok else "manifest.schema-version.refused",
            f"schema version {facts.schema_version}"
            + ("" if ok else f" is not accepted ({', '.join(self.accepted)})"),
            check="schema-version",
            expected=expected,
            actual=facts.schema_version,
            anchor=facts.anchor,
        )


@dataclass(frozen=True)
class NotExpired:
    """The manifest has not expired at the verification time (and has an expiry, if
    ``required``). A manifest created after the verification time is refused with its own
    code (``manifest.not-yet-valid``): it did not exist then."""

    required: bool

    def check(self, facts: Facts) -> Result:
        at, rel = facts.at, facts.release
        stamp = format_time(at)

        def result(code: str, message: str, expected: str | None = None) -> Result:
            return Result.of(
                code,
                message,
                check="expiry",
                expected=expected,
                actual=stamp,
                anchor=facts.anchor,
                required=self.required,
            )

        if rel is None:
            return result(
                "manifest.expiry.not-checked",
                f"predicate type {facts.predicate_type} has no refkit release expiry"
                + ("; the policy requires one" if self.required else ""),
            )
        if rel.created is not None and rel.created > at:
            created = format_time(rel.created)
            return result(
                "manifest.not-yet-valid",
                f"created {created}, after the verification time {stamp}",
                f">= {created}",
            )
        if rel.expires is None:
            return result(
                "manifest.expiry.absent",
                "the manifest has no expiry"
                + ("; the policy requires one" if self.required else ""),
            )
        expires = format_time(rel.expires)
        if at >= rel.expires:
            return result(
                "manifest.expired", f"expired at {expires}, checked at {stamp}", f"< {expires}"
            )
        return result(
            "manifest.not-expired", f"valid until {expires}, checked at {stamp}", f"< {expires}"
        )


@dataclass(frozen=True)
class ReleaseNameIs:
    """The manifest is for the named release (anti-substitution)."""

    name: str
    origin: str

    def check(self, facts: Facts) -> Result:
        if facts.release is None:
            return Result.of(
                "manifest.release-name.not-checked",
                f"predicate type {facts.predicate_type} names no refkit release; "
                f"{self.origin} requires release {self.name!r}",
                check="release-name",
                expected=self.name,
                anchor=facts.anchor,
                required=True,
            )
        ok = facts.release.name == self.name
        return Result.of(
            "manifest.release-name.match" if ok else "manifest.release-name.mismatch",
            f"release {facts.release.name!r}"
            + ("" if ok else f" is not {self.name!r} ({self.origin})"),
            check="release-name",
            expected=self.name,
            actual=facts.release.name,
            anchor=facts.anchor,
        )


@dataclass(frozen=True)
class NotOlderThan:
    """Anti-rollback: the manifest's version is not older than ``floor`` (SemVer order)."""

    floor: str
    origin: str

    def check(self, facts: Facts) -> Result:
        def result(code: str, message: str, actual: str | None) -> Result:
            return Result.of(
                code,
                message,
                check="rollback",
                expected=f">= {self.floor}",
                actual=actual,
                anchor=facts.anchor,
            )

        if facts.release is None:
            return result(
                "manifest.rollback.not-checked",
                f"predicate type {facts.predicate_type} has no refkit release version; "
                f"{self.origin} requires at least {self.floor}",
                None,
            )
        version = facts.release.version
        have = parse_semver(version)
        floor = parse_semver(self.floor)
        if floor is None:
            return result(
                "manifest.version.unordered",
                f"{self.origin} version {self.floor!r} cannot be ordered",
                version,
            )
        if have is None:
            return result(
                "manifest.version.unordered",
                f"version {version!r} is not a semantic version and cannot be "
                f"ordered against {self.floor} ({self.origin})",
                version,
            )
        ok = floor <= have
        return result(
            "manifest.version.not-older" if ok else "manifest.rollback",
            f"version {have} {'is not older than' if ok else 'is older than'} "
            f"{floor} ({self.origin})",
            version,
        )
