"""The view of a signed statement that signing and verification need.

Verification looks at the payload only once its signatures have verified. It reads the
in-toto Statement v1 frame (``_type``, ``subject``, ``predicateType``, ``predicate``) and:

- refuses a predicate type the caller does not accept with :class:`PredicateNotAccepted`
  naming the type found (before reading the predicate);
- parses a refkit reference manifest with the manifest model
  (:func:`refkit.manifests.statement.parse_statement` after strict JSON parsing, full validation; a
  constraint the model does not understand raises :class:`~refkit.errors.NotUnderstood`)
  and reads the few fields the trust checks use: ``schemaVersion`` and ``release``
  {name, version, created, expires};
- for an accepted predicate of another type (e.g. an SLSA verification summary), checks
  the statement frame only: refkit does not interpret that predicate, so the view has no
  schema version and no release facts, and the checks that need them say "not checked".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from refkit.manifests.canonical import loads_strict
from refkit.manifests.constants import MAX_DOCUMENT_BYTES, PREDICATE_TYPE, STATEMENT_TYPE
from refkit.manifests.signing.policy import ReleaseFacts
from refkit.manifests.statement import NotARefkitManifest, PredicateNotAccepted, parse_statement
from refkit.reader import Obj, type_name

__all__ = [
    "ManifestView",
    "NotARefkitManifest",
    "PredicateNotAccepted",
    "read_manifest",
    "read_statement",
]


@dataclass(frozen=True)
class ManifestView:
    """The fields of a signed statement that the trust checks read. ``schema_version`` and
    ``release`` are None for a predicate that is not a refkit reference manifest."""

    predicate_type: str
    schema_version: str | None
    release: ReleaseFacts | None


def read_manifest(data: bytes, *, source: str) -> ManifestView:
    """Parse and validate a refkit manifest statement; raises ParseError (NotUnderstood
    included) or NotARefkitManifest."""
    return _manifest_view(loads_strict(data, source=source, max_bytes=MAX_DOCUMENT_BYTES), source)


def _manifest_view(value: Any, source: str) -> ManifestView:
    # refkit's own checks only: they refuse all the JSON Schema refuses (property-tested),
    # and the schema would take most of the verification time on a large manifest.
    statement = parse_statement(value, source=source, schema=False)
    predicate = statement.predicate
    rel = predicate.release
    return ManifestView(
        statement.predicate_type,
        predicate.schema_version,
        ReleaseFacts(rel.name, rel.version, rel.created, rel.expires),
    )


def read_statement(data: bytes, *, source: str, accepted: Iterable[str]) -> ManifestView:
    """Parse a statement whose predicate type is in ``accepted``; see the module docstring.

    Raises NotARefkitManifest for a type not accepted, ParseError for a malformed frame or
    refkit manifest (NotUnderstood for one this refkit cannot interpret)."""
    accepted = tuple(accepted)
    value = loads_strict(data, source=source, max_bytes=MAX_DOCUMENT_BYTES)
    obj = Obj(value, source=source, path="$")
    stype = obj.text("_type")
    if stype != STATEMENT_TYPE:
        raise obj.fail("_type", f"is {stype[:100]!r}, expected {STATEMENT_TYPE}")
    ptype = obj.raw("predicateType", True)
    if not isinstance(ptype, str) or not ptype:
        raise obj.fail("predicateType", f"expected a non-empty string, found {type_name(ptype)}")
    if ptype not in accepted:
        raise PredicateNotAccepted(
            ptype,
            accepted,
            source=source,
            hint="accept other predicate types with the trust policy's accept.predicate-types",
        )
    if ptype == PREDICATE_TYPE:
        return _manifest_view(value, source)  # parsed once: manifests can be large

    # Another accepted predicate: the frame only (in-toto Statement v1: a non-empty subject
    # list of objects with a digest object, and a predicate object).
    def subject(v: object, path: str) -> None:
        s = Obj(v, source=source, path=path)
        s.obj("digest")

    obj.items("subject", subject, min_items=1)
    obj.obj("predicate")
    return ManifestView(ptype, None, None)
