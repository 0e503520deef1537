"""A reference manifest as an in-toto Statement v1: parse, validate, serialise canonically.

Follows in-toto Attestation Framework Statement v1
(https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md) with
ResourceDescriptor subjects (spec/v1/resource_descriptor.md)::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": ..., "digest": {"sha256": ...}, "annotations": {"kind": ...}}],
     "predicateType": "https://refkit.dev/reference-manifest/v1",
     "predicate": {"schemaVersion": "1.1", "release": {...}, ...}}

Subjects are the release's artifacts (OCI images, firmware, kernel, initrd, cmdline, UKI,
model disks); each carries its :class:`~refkit.manifests.model.ArtifactKind` in
``annotations.kind``. The predicate is :class:`~refkit.manifests.model.ReferenceManifest`.

Contract with the signing code (stable):

- :func:`load_statement` parses bytes strictly (duplicate keys, NaN, BOM, depth, size:
  :mod:`refkit.manifests.canonical`) and validates; malformed input raises
  :class:`~refkit.errors.ParseError`, a statement of another predicate type raises
  :class:`NotARefkitManifest` naming the type found. ``require_canonical=True`` also
  refuses bytes that are not exactly RFC 8785. :func:`parse_statement` does the same for
  an already-parsed dict.
- :class:`Statement` is frozen; ``to_json()`` gives the dict back, unknown fields
  included at every level; ``canonical_bytes()`` is its RFC 8785 serialisation, the bytes
  that are signed and hashed.
- ``predicate["release"]`` holds ``name``, ``version``, ``created``, optional
  ``expires`` (RFC 3339 UTC) and ``source {repository, commit}``; ``predicate
  ["schemaVersion"]`` the schema version.

Invariants: whatever parses can be serialised canonically; subject names are unique and
non-empty; every subject has a sha256, sha384 or sha512 digest in lower-case hex; a
model's ``disk`` names a subject of kind model-disk.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from refkit.errors import InputError, Location, ParseError
from refkit.manifests import canonical
from refkit.manifests.constants import MAX_DOCUMENT_BYTES, PREDICATE_TYPE, STATEMENT_TYPE
from refkit.manifests.model import ArtifactKind, DigestSet, ReferenceManifest, parse_predicate
from refkit.reader import Obj, fail, merged, put, type_name

__all__ = [
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "NotARefkitManifest",
    "PredicateNotAccepted",
    "Statement",
    "Subject",
    "for_display",
    "load_statement",
    "parse_statement",
]

_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,512}")
#: A release with more subjects than this is refused as absurd.
MAX_SUBJECTS = 10_000

_DISPLAY = contextvars.ContextVar("refkit_manifest_display", default=False)


@contextlib.contextmanager
def for_display() -> Iterator[None]:
    """Statements parsed inside are read for display only (``strict=False``).

    ``manifest show`` and ``diff`` read through :mod:`refkit.manifests.files`, which does not
    take the flag; they wrap the read in this instead. Never wrap a verification in it.
    """
    token = _DISPLAY.set(True)
    try:
        yield
    finally:
        _DISPLAY.reset(token)


class NotARefkitManifest(InputError):
    """A well-formed in-toto statement whose predicate is not a refkit reference manifest."""

    def __init__(self, found: str, *, source: str) -> None:
        super().__init__(
            f"{source}: predicate type is {found!r}, not a refkit reference manifest "
            f"({PREDICATE_TYPE})",
            hint="pass a manifest built with `refkit manifest build`",
        )
        self.found = found
        self.source = source


class PredicateNotAccepted(InputError):
    """A well-formed statement whose predicate type the caller does not accept, to verify
    or to sign (``doing`` says which): the one refusal of an unaccepted type."""

    def __init__(
        self,
        found: str,
        accepted: Collection[str],
        *,
        source: str,
        doing: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(
            f"{source}: predicate type {found[:200]!r} is not accepted{doing} "
            f"(accepted: {', '.join(sorted(accepted))})",
            hint=hint,
        )
        self.found = found
        self.accepted = tuple(accepted)


@dataclass(frozen=True)
class Subject:
    """One released artifact: an in-toto ResourceDescriptor with name, digest and kind."""

    name: str
    digest: DigestSet
    kind: ArtifactKind
    uri: str | None = None
    media_type: str | None = None
    #: Annotations other than ``kind``, kept verbatim.
    annotations: Mapping[str, Any] = field(default_factory=dict)
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, path: str, source: str) -> Subject:
        obj = Obj(value, source=source, path=path)
        ann = obj.obj("annotations")
        kind_text = ann.text("kind")
        try:
            kind = ArtifactKind(kind_text)
        except ValueError:
            allowed = ", ".join(k.value for k in ArtifactKind)
            raise ann.fail("kind", f"{kind_text!r} is not one of: {allowed}") from None
        return cls(
            name=obj.text("name", pattern=_NAME),
            digest=DigestSet.parse(obj.raw("digest", True), obj.at("digest"), source),
            kind=kind,
            uri=obj.opt_text("uri", pattern=_NAME),
            media_type=obj.opt_text("mediaType", pattern=_NAME),
            annotations=ann.rest(),
            unrecognized=obj.rest(),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "digest": self.digest.to_json(),
            "annotations": merged({"kind": self.kind.value}, self.annotations),
        }
        put(out, "uri", self.uri)
        put(out, "mediaType", self.media_type)
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class Statement:
    """An in-toto Statement v1 carrying a refkit reference manifest."""

    subjects: tuple[Subject, ...]
    predicate: ReferenceManifest
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @property
    def predicate_type(self) -> str:
        return PREDICATE_TYPE

    def subject(self, name: str) -> Subject | None:
        return next((s for s in self.subjects if s.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return merged(
            {
                "_type": STATEMENT_TYPE,
                "subject": [s.to_json() for s in self.subjects],
                "predicateType": PREDICATE_TYPE,
                "predicate": self.predicate.to_json(),
            },
            self.unrecognized,
        )

    def canonical_bytes(self) -> bytes:
        """RFC 8785 bytes of :meth:`to_json`: what is signed and hashed."""
        return canonical.canonical_dumps(self.to_json())


def load_statement(
    data: bytes, *, source: str, require_canonical: bool = False, schema: bool = True
) -> Statement:
    """Parse and validate statement bytes (strict JSON; canonical too if asked).

    ``schema=False`` skips the published JSON Schema and keeps refkit's own checks, which
    refuse everything the schema refuses (a property test holds them to it); verification
    uses it because jsonschema costs most of the time on large manifests.
    """
    if require_canonical:
        value = canonical.require_canonical(data, source=source)
    else:
        value = canonical.loads_strict(data, source=source, max_bytes=MAX_DOCUMENT_BYTES)
    return parse_statement(value, source=source, schema=schema)


def parse_statement(
    value: dict[str, Any], *, source: str, schema: bool = False, strict: bool | None = None
) -> Statement:
    """Validate an already-parsed statement and build the typed :class:`Statement`.

    ``schema=True`` also applies the published JSON Schema (build and sign do; reading
    skips it: refkit's own checks refuse everything it refuses, and it is not linear
    enough for 60,000 values). ``strict`` (default: True unless inside
    :func:`for_display`) is :func:`~refkit.manifests.model.parse_predicate`'s.
    """
    if strict is None:
        strict = not _DISPLAY.get()
    with canonical.gc_paused():
        return _parse_statement(value, source=source, schema=schema, strict=strict)


def _parse_statement(
    value: dict[str, Any], *, source: str, schema: bool, strict: bool
) -> Statement:
    obj = Obj(value, source=source, path="$")
    stype = obj.text("_type")
    if stype != STATEMENT_TYPE:
        raise obj.fail("_type", f"is {stype[:100]!r}, expected {STATEMENT_TYPE}")
    ptype = obj.raw("predicateType")
    if not isinstance(ptype, str):
        raise obj.fail("predicateType", f"expected a string, found {type_name(ptype)}")
    if ptype != PREDICATE_TYPE:
        raise NotARefkitManifest(ptype[:200], source=source)
    raw_subjects = obj.raw("subject", True)
    if isinstance(raw_subjects, list) and len(raw_subjects) > MAX_SUBJECTS:
        raise obj.fail("subject", f"has more than {MAX_SUBJECTS} entries")
    subjects = obj.items("subject", lambda v, p: Subject.parse(v, p, source), min_items=1)
    predicate = parse_predicate(
        obj.raw("predicate", True), source=source, schema=schema, strict=strict
    )
    statement = Statement(subjects=subjects, predicate=predicate, unrecognized=obj.rest())
    _check_references(statement, source)
    try:
        # Invariant for the signer: whatever parses can be written canonically (no lone
        # surrogates, no integers beyond I-JSON, even in fields refkit does not know).
        # Checked on the input: the model writes back validated known fields and the
        # unknown ones verbatim, so the input is canonicalisable iff the output is.
        canonical.canonical_dumps(value)
    except InputError as exc:
        raise ParseError(
            f"cannot be written as canonical JSON: {exc.message}", location=Location(source)
        ) from None
    return statement


def _check_references(statement: Statement, source: str) -> None:
    seen: dict[str, int] = {}
    for i, subject in enumerate(statement.subjects):
        if subject.name in seen:
            raise fail(
                source, f"$.subject[{i}].name", f"duplicates $.subject[{seen[subject.name]}]"
            )
        seen[subject.name] = i
    by_name = {s.name: s for s in statement.subjects}
    for i, model in enumerate(statement.predicate.models or ()):
        if model.disk is None:
            continue
        disk = by_name.get(model.disk)
        where = f"$.predicate.models[{i}].disk"
        if disk is None:
            raise fail(source, where, f"names {model.disk!r}, which is not a subject")
        if disk.kind is not ArtifactKind.MODEL_DISK:
            raise fail(
                source,
                where,
                f"names subject {model.disk!r} of kind {disk.kind}, not model-disk",
            )
