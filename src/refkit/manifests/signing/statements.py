"""The view of a signed statement that signing and verification need.

Verification looks at the payload only once its signatures have verified. It parses it
with the manifest model (:func:`refkit.manifests.statement.load_statement`: strict JSON,
full validation), which refuses a statement of another predicate type (SLSA provenance, a
model signature, ...) with :class:`~refkit.manifests.statement.NotARefkitManifest` naming
the type found, and then reads the few fields the trust checks use: predicate type,
``schemaVersion`` and ``release`` {name, version, created, expires}.
"""

from __future__ import annotations

from dataclasses import dataclass

from refkit.manifests.signing.policy import ReleaseFacts
from refkit.manifests.statement import NotARefkitManifest, load_statement

__all__ = ["ManifestView", "NotARefkitManifest", "read_manifest"]


@dataclass(frozen=True)
class ManifestView:
    """The fields of a signed reference manifest that the trust checks read."""

    predicate_type: str
    schema_version: str
    release: ReleaseFacts


def read_manifest(data: bytes, *, source: str) -> ManifestView:
    """Parse and validate a statement; raises ParseError or NotARefkitManifest."""
    # refkit's own checks only: they refuse all the JSON Schema refuses (property-tested),
    # and the schema would take most of the verification time on a large manifest.
    statement = load_statement(data, source=source, schema=False)
    predicate = statement.predicate
    rel = predicate.release
    return ManifestView(
        statement.predicate_type,
        predicate.schema_version,
        ReleaseFacts(rel.name, rel.version, rel.created, rel.expires),
    )
