"""The JSON Schema of the reference-manifest predicate, shipped as package data.

``reference-manifest-v1.schema.json`` (JSON Schema draft 2020-12) describes the predicate of
schema version 1.x (this file: 1.2): required fields, types, hex patterns and integer
ranges. Constraint objects are closed (``additionalProperties: false``: fail closed,
docs/decisions/0005-fail-closed.md); informational parts allow unknown properties. refkit
applies it when building and signing, after the semantic checks of
:mod:`refkit.manifests.model`; publishers of other tools can use the same file.

Invariant: a schema violation is reported as one :class:`~refkit.errors.ParseError` whose
field path (``$.predicate.release.created``) points at the most relevant failure.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from refkit.errors import Location, ParseError

SCHEMA_FILE = "reference-manifest-v1.schema.json"


def schema_text() -> str:
    """The schema file's text, as shipped."""
    return resources.files(__name__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate_predicate(value: Any, *, source: str, path: str = "$.predicate") -> None:
    """Raise :class:`ParseError` if ``value`` does not follow the predicate schema."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(value))
    if error is None:
        return
    where = path + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    message = error.message
    if len(message) > 300:
        message = message[:300] + "..."
    raise ParseError(f"schema: {message}", location=Location(source, field=where))
