"""Reading manifest files (statement or bundle) and writing outputs without data loss.

:func:`read_statement_file` accepts either a statement (the output of ``refkit manifest
build``) or a Sigstore bundle whose DSSE payload is one (the output of ``refkit manifest
sign``). Reading a bundle here does **not** verify its signature: callers that show or
compare a bundle's content must say so (``refkit manifest verify`` is the check).

:func:`write_output` never overwrites an existing file unless asked to, and writes
atomically: the data goes to a temporary file in the target directory, is flushed to disk,
then linked (no overwrite) or renamed (``force``) into place, so a reader never sees half a
file and a crash never leaves one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from refkit.errors import InputError, Location, ParseError, read_input_file
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
        from refkit.manifests.signing.bundle import parse_bundle

        bundle = parse_bundle(data, source=source)
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
    """Write ``data`` to ``path`` atomically; refuse to replace a file unless ``force``."""
    target = Path(path)
    try:
        os.lstat(target)
        present = True
    except (FileNotFoundError, NotADirectoryError):
        present = False
    except OSError as exc:  # e.g. a parent without search permission
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    if present and os.path.isdir(target):
        raise InputError(f"output {target} is a directory")
    if present and not force:
        raise InputError(
            f"output {target} exists", hint="pass --force to replace it, or choose another name"
        )
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except FileNotFoundError:
        raise InputError(f"output directory {directory} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot write in {directory}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # fails if the target appeared meanwhile: no clobbering
            except FileExistsError:
                raise InputError(
                    f"output {target} exists", hint="pass --force to replace it"
                ) from None
            except OSError:
                # file systems without hard links: fall back to an exclusive create
                with open(target, "xb") as out:
                    out.write(data)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
