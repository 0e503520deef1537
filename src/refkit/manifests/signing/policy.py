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
      schema-versions: ["1"]        # optional: accepted predicate.schemaVersion values
    release:
      name: privatemode             # optional: the release name that must be signed
      min-version: "1.4.0"          # optional: anti-rollback floor (semantic version)
    require-expiry: false           # true: a manifest without release.expires fails

Strictness: UTF-8, at most :data:`MAX_POLICY_BYTES`, one document, YAML safe loading with
no tags, anchors, aliases or directives, no strings holding NUL or lone surrogate escapes,
duplicate keys and unknown keys refused, and versions must be quoted strings (YAML would
read ``1.10`` as the number 1.1). Every failure is a :class:`~refkit.errors.ParseError`
(exit 2) naming the file and the field.

Version ordering (anti-rollback) follows Semantic Versioning 2.0.0, section 11:
``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``, numeric identifiers compared as numbers,
a pre-release sorts before its release, build metadata is ignored. A version that is not a
semantic version cannot be ordered and is refused, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any, Protocol

import yaml

from refkit.errors import InputError, Location, ParseError
from refkit.manifests.constants import PREDICATE_TYPE
from refkit.manifests.signing.keyless import SigstoreIdentity
from refkit.manifests.signing.keys import PublicKey, load_public_key
from refkit.times import format_time

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
                hint="give --key, --identity/--issuer or a --policy file naming signers",
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


# ---------------------------------------------------------------------------------------
# Strict YAML


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, f"mapping key {key!r} is not a string", key_node.start_mark
            )
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)

_REFUSED_TOKENS: tuple[tuple[type[yaml.Token], str], ...] = (
    (yaml.AnchorToken, "anchors"),
    (yaml.AliasToken, "aliases"),
    (yaml.TagToken, "tags"),
    (yaml.DirectiveToken, "directives"),
)


def _plain_scalar(value: str) -> bool:
    # Double-quoted escapes ("\0", "\ud800") give what no path holds (NUL: open() raises
    # ValueError) and what UTF-8 cannot encode (lone surrogates: PEM and names are encoded).
    return "\0" not in value and not any("\ud800" <= ch <= "\udfff" for ch in value)


def load_yaml_strict(data: bytes, *, source: str, max_bytes: int = MAX_POLICY_BYTES) -> Any:
    """Parse one YAML document strictly (see the module docstring)."""
    if len(data) > max_bytes:
        raise InputError(f"{source}: {len(data)} bytes is more than the limit of {max_bytes}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("not valid UTF-8", location=Location(source, exc.start)) from None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.ScalarToken) and not _plain_scalar(token.value):
                mark = token.start_mark
                raise ParseError(
                    f"a string holds NUL or a lone surrogate escape (line {mark.line + 1})",
                    location=Location(source, mark.index),
                )
            for kind, what in _REFUSED_TOKENS:
                if isinstance(token, kind):
                    mark = token.start_mark
                    raise ParseError(
                        f"YAML {what} are not allowed (line {mark.line + 1})",
                        location=Location(source, mark.index),
                    )
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1} column {mark.column + 1})" if mark else ""
        raise ParseError(
            f"invalid YAML: {exc.problem or exc.context}{where}",
            location=Location(source, mark.index if mark else None),
        ) from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise ParseError(f"invalid YAML: {exc}", location=Location(source)) from None


class _Fields:
    """Typed access to a parsed mapping, refusing unknown keys; errors name the field."""

    def __init__(self, value: Any, path: str, allowed: Iterable[str], source: str) -> None:
        self.source = source
        self.path = path
        if not isinstance(value, dict):
            raise self.fail(f"expected a mapping, found {type(value).__name__}", path)
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise self.fail(f"unknown key {unknown[0]!r}", path)
        self.value: dict[str, Any] = value

    def fail(self, message: str, path: str) -> ParseError:
        return ParseError(message, location=Location(self.source, field=path))

    def _sub(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path != "$" else key

    def str_(self, key: str, *, required: bool = False) -> str | None:
        if key not in self.value:
            if required:
                raise self.fail("missing", self._sub(key))
            return None
        v = self.value[key]
        if not isinstance(v, str) or not v:
            raise self.fail(f"expected a non-empty string, found {v!r} (quote it)", self._sub(key))
        return v

    def int_(self, key: str, default: int) -> int:
        v = self.value.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(f"expected an integer, found {v!r}", self._sub(key))
        return v

    def bool_(self, key: str, default: bool) -> bool:
        v = self.value.get(key, default)
        if not isinstance(v, bool):
            raise self.fail(f"expected true or false, found {v!r}", self._sub(key))
        return v

    def str_list(self, key: str) -> tuple[str, ...] | None:
        if key not in self.value:
            return None
        v = self.value[key]
        if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
            raise self.fail("expected a non-empty list of quoted strings", self._sub(key))
        return tuple(v)

    def sub(self, key: str, allowed: Iterable[str]) -> _Fields | None:
        if key not in self.value:
            return None
        return _Fields(self.value[key], self._sub(key), allowed, self.source)


def parse_policy(
    data: bytes,
    *,
    source: str,
    read: Callable[[PurePath], bytes],
    base_dir: PurePath,
) -> TrustPolicy:
    """Parse a trust-policy file. Key files are read with ``read`` relative to ``base_dir``;
    the trusted-root path is resolved against ``base_dir`` but not read here."""
    doc = _Fields(
        load_yaml_strict(data, source=source),
        "$",
        ("version", "threshold", "signers", "trusted-root", "accept", "release", "require-expiry"),
        source,
    )
    if type(doc.value.get("version")) is not int or doc.value["version"] != 1:
        raise doc.fail(f"unsupported policy version {doc.value.get('version')!r}", "version")
    raw_signers = doc.value.get("signers")
    if not isinstance(raw_signers, list) or not raw_signers:
        raise doc.fail("expected a non-empty list", "signers")
    signers: list[Signer] = []
    for i, raw in enumerate(raw_signers):
        path = f"signers[{i}]"
        s = _Fields(raw, path, ("name", "key", "key-pem", "sigstore"), source)
        kinds = [k for k in ("key", "key-pem", "sigstore") if k in s.value]
        if len(kinds) != 1:
            raise s.fail("needs exactly one of key, key-pem, sigstore", path)
        name = s.str_("name")
        if kinds[0] == "sigstore":
            sub = s.sub("sigstore", ("identity", "issuer"))
            assert sub is not None
            ident = SigstoreIdentity(
                sub.str_("identity", required=True) or "", sub.str_("issuer", required=True) or ""
            )
            signers.append(IdentitySigner(name or ident.identity, ident))
            continue
        if kinds[0] == "key":
            rel = s.str_("key", required=True) or ""
            key_path = base_dir / rel
            key = load_public_key(read(key_path), source=f"{source}: {path}.key ({key_path})")
        else:
            pem = s.str_("key-pem", required=True) or ""
            key = load_public_key(pem.encode("utf-8"), source=f"{source}: {path}.key-pem")
        signers.append(KeySigner(name or key_signer_name(key), key))

    accept = doc.sub("accept", ("predicate-types", "schema-versions"))
    release = doc.sub("release", ("name", "min-version"))
    root = doc.str_("trusted-root")
    return TrustPolicy(
        signers=tuple(signers),
        threshold=doc.int_("threshold", 1),
        trusted_root_path=str(base_dir / root) if root else None,
        predicate_types=(accept.str_list("predicate-types") if accept else None)
        or (PREDICATE_TYPE,),
        schema_versions=accept.str_list("schema-versions") if accept else None,
        release_name=release.str_("name") if release else None,
        min_version=release.str_("min-version") if release else None,
        require_expiry=doc.bool_("require-expiry", False),
        source=source,
    )


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
    """What verification established before the policy checks run."""

    verified_signers: frozenset[str]
    predicate_type: str
    schema_version: str | None
    release: ReleaseFacts
    at: datetime


@dataclass(frozen=True)
class CheckResult:
    """One check's answer, with a one-line explanation."""

    check: str
    ok: bool
    detail: str


class Check(Protocol):
    """A single trust question about :class:`Facts`."""

    def check(self, facts: Facts) -> CheckResult: ...


@dataclass(frozen=True)
class Threshold:
    """At least ``k`` distinct trusted signers verified."""

    k: int
    n: int

    def check(self, facts: Facts) -> CheckResult:
        return self.judge(facts.verified_signers)

    def judge(self, verified_signers: frozenset[str]) -> CheckResult:
        """The check on the signer set alone (verification runs it before reading content)."""
        got = len(verified_signers)
        return CheckResult(
            "threshold",
            got >= self.k,
            f"{got} of {self.n} trusted signers verified, {self.k} required",
        )


@dataclass(frozen=True)
class PredicateTypeIn:
    """The statement's predicate type is one the policy accepts."""

    accepted: tuple[str, ...]

    def check(self, facts: Facts) -> CheckResult:
        ok = facts.predicate_type in self.accepted
        return CheckResult(
            "predicate-type",
            ok,
            f"predicate type {facts.predicate_type}"
            + ("" if ok else f" is not accepted ({', '.join(self.accepted)})"),
        )


@dataclass(frozen=True)
class SchemaVersionIn:
    """The predicate's schemaVersion is one the policy accepts."""

    accepted: tuple[str, ...]

    def check(self, facts: Facts) -> CheckResult:
        ok = facts.schema_version in self.accepted
        return CheckResult(
            "schema-version",
            ok,
            f"schema version {facts.schema_version}"
            + ("" if ok else f" is not accepted ({', '.join(self.accepted)})"),
        )


@dataclass(frozen=True)
class NotExpired:
    """The manifest has not expired at the verification time (and has an expiry, if
    ``required``). A manifest whose creation time is after the verification time is
    refused too: it did not exist then."""

    required: bool

    def check(self, facts: Facts) -> CheckResult:
        at, rel = facts.at, facts.release
        stamp = format_time(at)
        if rel.created is not None and rel.created > at:
            return CheckResult("expiry", False, f"created {format_time(rel.created)} after {stamp}")
        if rel.expires is None:
            if self.required:
                return CheckResult("expiry", False, "the manifest has no expiry; policy needs one")
            return CheckResult("expiry", True, "the manifest has no expiry")
        if at >= rel.expires:
            return CheckResult(
                "expiry", False, f"expired at {format_time(rel.expires)}, checked at {stamp}"
            )
        return CheckResult(
            "expiry", True, f"valid until {format_time(rel.expires)}, checked at {stamp}"
        )


@dataclass(frozen=True)
class ReleaseNameIs:
    """The manifest is for the named release (anti-substitution)."""

    name: str
    origin: str

    def check(self, facts: Facts) -> CheckResult:
        ok = facts.release.name == self.name
        return CheckResult(
            "release-name",
            ok,
            f"release {facts.release.name!r}"
            + ("" if ok else f" is not {self.name!r} ({self.origin})"),
        )


@dataclass(frozen=True)
class NotOlderThan:
    """Anti-rollback: the manifest's version is not older than ``floor`` (SemVer order)."""

    floor: str
    origin: str

    def check(self, facts: Facts) -> CheckResult:
        have = parse_semver(facts.release.version)
        floor = parse_semver(self.floor)
        if floor is None:
            return CheckResult(
                "rollback", False, f"{self.origin} version {self.floor!r} cannot be ordered"
            )
        if have is None:
            return CheckResult(
                "rollback",
                False,
                f"version {facts.release.version!r} is not a semantic version and cannot be "
                f"ordered against {self.floor} ({self.origin})",
            )
        ok = floor <= have
        return CheckResult(
            "rollback",
            ok,
            f"version {have} {'is not older than' if ok else 'is older than'} "
            f"{floor} ({self.origin})",
        )


@dataclass(frozen=True)
class AllOf:
    """Runs every check (none short-circuits, so the result lists every problem)."""

    checks: tuple[Check, ...]

    def run(self, facts: Facts) -> tuple[CheckResult, ...]:
        return tuple(c.check(facts) for c in self.checks)
