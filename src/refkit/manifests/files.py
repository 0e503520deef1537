"""Reading manifest files (statement or bundle) and writing outputs without data loss.

:func:`read_statement_file` accepts either a statement (the output of ``refkit manifest
build``) or a Sigstore bundle whose DSSE payload is one (the output of ``refkit manifest
sign``). Reading a bundle here does **not** verify its signature: callers that show or
compare a bundle's content must say so (``refkit manifest verify`` is the check).

:func:`write_output` writes through :mod:`refkit.atomic`, the one atomic writer: never
overwrites an existing file unless asked to, never writes through a link, and maps every
failure to the documented exit codes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from refkit.atomic import write_file
from refkit.errors import Location, ParseError, read_input_file
from refkit.manifests import canonical
from refkit.manifests.constants import IN_TOTO_PAYLOAD_TYPE, MAX_DOCUMENT_BYTES
from refkit.manifests.statement import Statement, parse_statement


@dataclass(frozen=True)
class LoadedStatement:
    """A statement and how it was found: ``from_bundle`` means the signature was not checked."""

    statement: Statement
    source: str
    from_bundle: bool
    canonical: bool


def read_statement_file(path: Path | str, *, what: str = "manifest") -> LoadedStatement:
    """Read a statement or a bundle carrying one; every failure is an InputError."""
    source = os.fspath(path)
    data = read_input_file(path, what=what, limit=MAX_DOCUMENT_BYTES)
    return load_statement_or_bundle(data, source=source)


def load_statement_or_bundle(data: bytes, *, source: str) -> LoadedStatement:
    if b"application/vnd.dev.sigstore.bundle" in data:
        # A bundle padded with what refkit does not read is refused before it is parsed.
        from refkit.manifests.signing.bundle import check_bundle_cost

        check_bundle_cost(data, source=source)
    try:
        value = canonical.loads_strict(data, source=source)
    except ParseError as exc:
        if exc.hint is None and source.endswith((".yaml", ".yml")):
            raise ParseError(
                exc.reason,
                location=exc.location,
                hint="this looks like the YAML authoring form: build it first with "
                f"`refkit manifest build {source} -o release.json`",
            ) from exc
        raise
    if isinstance(value, dict) and "mediaType" in value and "_type" not in value:
        from refkit.manifests.signing.bundle import bundle_from_value

        # parsed once, above, within the bundle size limit (MAX_BUNDLE_BYTES is the
        # document limit) and after check_bundle_cost
        bundle = bundle_from_value(value, data, source=source)
        if bundle.envelope is None:
            raise ParseError("bundle holds no DSSE envelope", location=Location(source))
        if bundle.envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
            raise ParseError(
                f"DSSE payload type is {bundle.envelope.payload_type!r}, "
                f"not {IN_TOTO_PAYLOAD_TYPE}",
                location=Location(source, field="dsseEnvelope.payloadType"),
            )
        payload = bundle.envelope.payload
        inner = f"{source} (DSSE payload)"
        statement_value = canonical.loads_strict(payload, source=inner)
        return LoadedStatement(
            parse_statement(statement_value, source=inner),
            source,
            from_bundle=True,
            canonical=canonical.canonical_dumps(statement_value) == payload,
        )
    return LoadedStatement(
        parse_statement(value, source=source),
        source,
        from_bundle=False,
        canonical=canonical.canonical_dumps(value) == data,
    )


def write_output(path: Path | str, data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path`` atomically; refuse to replace a file unless ``force``.

    A thin use of :func:`refkit.atomic.write_file` (mode 0644), kept for its callers.
    """
    write_file(path, data, mode=0o644, force=force)
