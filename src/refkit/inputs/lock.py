"""The inputs lock: a versioned JSON document that pins every input of a build.

A lock names each input by identity (for a Debian package: name, version, architecture,
suite, component, source package, archive file name) *and* by content (size and sha256 of
the ``.deb``), and lists the files to extract from it, each with its path inside the
package, the output name and the size and sha256 of the extracted bytes. The content pins
are what matter: a file is accepted from any source (a local mirror, a download) only if its
bytes match them. The identity fields say where to look and let a download be attempted.

Format (``docs/inputs.md`` documents every field)::

    {"schema": "https://refkit.dev/inputs-lock/v1",
     "inputs": [{"kind": "debian-package", "name": ..., "version": ..., "architecture": ...,
                 "suite": ..., "component": "main", "source": ..., "filename": ...,
                 "size": ..., "sha256": ...,
                 "extract": [{"path": ..., "output": ..., "size": ..., "sha256": ...}]}]}

Invariants (checked once, here, when the lock is parsed):

* the document is strict JSON (duplicate keys, NaN, BOM refused) and every object has
  exactly the known keys: an unknown key is an error, not ignored, because a newer lock
  field that an older refkit silently skipped could weaken a check;
* names, versions, architectures, suites and components follow Debian's syntax, and
  ``filename`` is exactly ``<name>_<version without epoch>_<architecture>.deb``, so that
  nothing read from a lock can inject a path or URL component;
* digests are 64 lowercase hex digits; sizes are integers in ``[0, MAX_INPUT_SIZE]``;
* member paths are normalised relative POSIX paths (no ``..``, no leading ``/``); output
  names are plain file names, unique across the whole lock even ignoring case.

Every failure is a :class:`~refkit.errors.ParseError` naming the lock file and the field
(``inputs[0].extract[1].sha256``) or, for JSON syntax, the offset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from refkit.errors import InputError, Location, ParseError
from refkit.manifests.canonical import loads_strict

#: Identifier of this lock format; the major version is part of it.
LOCK_SCHEMA: Final = "https://refkit.dev/inputs-lock/v1"

#: The one input kind of lock v1.
KIND_DEBIAN_PACKAGE: Final = "debian-package"

#: Largest input or extracted file a lock may pin (bytes): 16 GiB.
MAX_INPUT_SIZE: Final = 16 * 1024**3

#: Largest lock file refkit reads (bytes).
MAX_LOCK_BYTES: Final = 16 * 1024 * 1024

_SHA256 = re.compile(r"[0-9a-f]{64}")
# Debian policy 5.6.1 (Source), 5.6.7 (Package): lowercase letters, digits, + - . ;
# at least two characters, starting with an alphanumeric.
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
# Debian policy 5.6.12 (Version): [epoch:]upstream_version[-debian_revision].
_VERSION = re.compile(r"(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*")
_ARCH = re.compile(r"[a-z0-9][a-z0-9-]*")
_SUITE = re.compile(r"[a-z0-9][a-z0-9.+_-]*")
_COMPONENT = re.compile(r"[a-z][a-z0-9-]*")
_OUTPUT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*")

_TOP_KEYS: Final = frozenset({"schema", "inputs"})
_DEB_KEYS: Final = frozenset(
    {
        "kind",
        "name",
        "version",
        "architecture",
        "suite",
        "component",
        "source",
        "filename",
        "size",
        "sha256",
        "extract",
    }
)
_EXTRACT_KEYS: Final = frozenset({"path", "output", "size", "sha256"})


@dataclass(frozen=True)
class ExtractSpec:
    """One file to take out of a package, and what its bytes must be."""

    path: str
    """Path inside the package's data archive, relative, without a leading ``./``."""
    output: str
    """File name to write in the output directory."""
    size: int
    sha256: str


@dataclass(frozen=True)
class DebianPackage:
    """A pinned Debian binary package (``kind: debian-package``)."""

    name: str
    version: str
    architecture: str
    suite: str
    """Where the version was taken from (``sid``, ``trixie``): informative for downloads,
    which look the file up in the archive's pool, shared by all suites."""
    component: str
    source: str
    """Source package name (without version): decides the pool directory."""
    filename: str
    size: int
    sha256: str
    extract: tuple[ExtractSpec, ...]

    @property
    def label(self) -> str:
        """``name version (architecture)``, how messages name the package."""
        return f"{self.name} {self.version} ({self.architecture})"


#: Every kind of pinned input. Lock v1 knows one; OCI images and plain files come later.
PinnedInput = DebianPackage


@dataclass(frozen=True)
class Lock:
    """A parsed, validated inputs lock."""

    inputs: tuple[PinnedInput, ...]
    source: str = "<lock>"
    """Where the lock was read from, for messages."""

    def outputs(self) -> tuple[tuple[PinnedInput, ExtractSpec], ...]:
        """Every (input, file to extract) pair, in lock order."""
        return tuple((item, spec) for item in self.inputs for spec in item.extract)


def deb_filename(name: str, version: str, architecture: str) -> str:
    """The archive's file name of a binary package: the epoch is not part of it."""
    _epoch, _sep, rest = version.rpartition(":")
    return f"{name}_{rest}_{architecture}.deb"


def normalize_member_path(path: str) -> str | None:
    """A member path as a normalised relative POSIX path, or None if it is unsafe.

    Leading ``./`` and trailing ``/`` are dropped. Refused: empty paths, absolute paths,
    ``..`` components, empty or ``.`` components in the middle, NUL bytes.
    """
    if "\x00" in path:
        return None
    stripped = path
    while stripped.startswith("./"):
        stripped = stripped[2:]
    stripped = stripped.rstrip("/")
    if not stripped or stripped.startswith("/"):
        return None
    parts = stripped.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return stripped


def parse_lock(data: bytes, *, source: str) -> Lock:
    """Parse and validate a lock document; see the module docstring for the rules."""
    document = loads_strict(data, source=source, max_bytes=MAX_LOCK_BYTES)
    return _Validator(source).lock(document)


def load_lock(path: Path | str) -> Lock:
    """Read and parse a lock file."""
    p = Path(path)
    try:
        with p.open("rb") as handle:
            data = handle.read(MAX_LOCK_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"inputs lock not found: {p}") from None
    except IsADirectoryError:
        raise InputError(f"inputs lock {p} is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"cannot read inputs lock {p}: {exc.strerror or exc}") from exc
    return parse_lock(data, source=str(p))


def lock_to_json(lock: Lock) -> dict[str, Any]:
    """The JSON document of a lock (the inverse of :func:`parse_lock`)."""
    return {
        "schema": LOCK_SCHEMA,
        "inputs": [package_to_json(item) for item in lock.inputs],
    }


def package_to_json(item: DebianPackage) -> dict[str, Any]:
    return {
        "kind": KIND_DEBIAN_PACKAGE,
        "name": item.name,
        "version": item.version,
        "architecture": item.architecture,
        "suite": item.suite,
        "component": item.component,
        "source": item.source,
        "filename": item.filename,
        "size": item.size,
        "sha256": item.sha256,
        "extract": [
            {"path": s.path, "output": s.output, "size": s.size, "sha256": s.sha256}
            for s in item.extract
        ],
    }


def dumps_lock(lock: Lock) -> str:
    """A lock as text: two-space indent, keys in documentation order, final newline."""
    return json.dumps(lock_to_json(lock), indent=2, ensure_ascii=False) + "\n"


class _Validator:
    """Walks the parsed JSON once, building the model or raising a located ParseError."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, message: str, hint: str | None = None) -> ParseError:
        return ParseError(message, location=Location(self.source, field=field), hint=hint)

    def obj(self, value: Any, field: str, keys: frozenset[str]) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(field, f"must be an object, not {_json_type(value)}")
        unknown = sorted(set(value) - keys)
        if unknown:
            raise self.fail(
                field,
                f"unknown key {unknown[0]!r}",
                hint=f"lock v1 knows only: {', '.join(sorted(keys))}",
            )
        missing = sorted(keys - set(value))
        if missing:
            raise self.fail(field, f"missing key {missing[0]!r}")
        return value

    def text(self, value: Any, field: str, pattern: re.Pattern[str], what: str) -> str:
        if not isinstance(value, str):
            raise self.fail(field, f"must be a string, not {_json_type(value)}")
        if not pattern.fullmatch(value):
            raise self.fail(field, f"{value!r} is not a valid {what}")
        return value

    def size(self, value: Any, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"must be an integer, not {_json_type(value)}")
        if not 0 <= value <= MAX_INPUT_SIZE:
            raise self.fail(field, f"{value} is outside [0, {MAX_INPUT_SIZE}]")
        return value

    def lock(self, document: Any) -> Lock:
        top = self.obj(document, "(document)", _TOP_KEYS)
        schema = top["schema"]
        if schema != LOCK_SCHEMA:
            raise self.fail(
                "schema",
                f"unsupported lock schema {schema!r}",
                hint=f"this refkit reads {LOCK_SCHEMA}",
            )
        raw_inputs = top["inputs"]
        if not isinstance(raw_inputs, list):
            raise self.fail("inputs", f"must be an array, not {_json_type(raw_inputs)}")
        inputs = tuple(self.package(raw, f"inputs[{i}]") for i, raw in enumerate(raw_inputs))
        seen_inputs: dict[tuple[str, str, str], int] = {}
        # Keyed by the case-folded name: on a case-insensitive file system two outputs that
        # differ only in case would be one file.
        seen_outputs: dict[str, tuple[str, str]] = {}
        for i, item in enumerate(inputs):
            key = (item.name, item.version, item.architecture)
            if key in seen_inputs:
                raise self.fail(
                    f"inputs[{i}]", f"{item.label} is already pinned by inputs[{seen_inputs[key]}]"
                )
            seen_inputs[key] = i
            for j, spec in enumerate(item.extract):
                folded = spec.output.casefold()
                if folded in seen_outputs:
                    other, where = seen_outputs[folded]
                    clash = (
                        f"output {spec.output!r} is already written by {where}"
                        if other == spec.output
                        else f"outputs {other!r} ({where}) and {spec.output!r} differ only in "
                        "case, and would be one file on a case-insensitive file system"
                    )
                    raise self.fail(f"inputs[{i}].extract[{j}].output", clash)
                seen_outputs[folded] = (spec.output, f"inputs[{i}]")
        return Lock(inputs=inputs, source=self.source)

    def package(self, raw: Any, field: str) -> DebianPackage:
        if isinstance(raw, dict) and raw.get("kind") != KIND_DEBIAN_PACKAGE and "kind" in raw:
            raise self.fail(
                f"{field}.kind",
                f"unknown input kind {raw['kind']!r}",
                hint=f"lock v1 knows only {KIND_DEBIAN_PACKAGE!r}",
            )
        obj = self.obj(raw, field, _DEB_KEYS)
        name = self.text(obj["name"], f"{field}.name", _PACKAGE, "Debian package name")
        version = self.text(obj["version"], f"{field}.version", _VERSION, "Debian version")
        arch = self.text(obj["architecture"], f"{field}.architecture", _ARCH, "architecture")
        suite = self.text(obj["suite"], f"{field}.suite", _SUITE, "suite name")
        component = self.text(obj["component"], f"{field}.component", _COMPONENT, "component")
        source = self.text(obj["source"], f"{field}.source", _PACKAGE, "source package name")
        filename = obj["filename"]
        expected = deb_filename(name, version, arch)
        if filename != expected:
            raise self.fail(
                f"{field}.filename",
                f"{filename!r} is not the archive file name of {name} {version} ({arch})",
                hint=f"it must be {expected!r}",
            )
        size = self.size(obj["size"], f"{field}.size")
        sha256 = self.text(obj["sha256"], f"{field}.sha256", _SHA256, "sha256 (64 lowercase hex)")
        raw_extract = obj["extract"]
        if not isinstance(raw_extract, list):
            raise self.fail(f"{field}.extract", f"must be an array, not {_json_type(raw_extract)}")
        extract = tuple(
            self.extract_spec(spec, f"{field}.extract[{j}]") for j, spec in enumerate(raw_extract)
        )
        paths = [spec.path for spec in extract]
        for j, path in enumerate(paths):
            if path in paths[:j]:
                raise self.fail(f"{field}.extract[{j}].path", f"{path!r} is listed twice")
        return DebianPackage(
            name=name,
            version=version,
            architecture=arch,
            suite=suite,
            component=component,
            source=source,
            filename=expected,
            size=size,
            sha256=sha256,
            extract=extract,
        )

    def extract_spec(self, raw: Any, field: str) -> ExtractSpec:
        obj = self.obj(raw, field, _EXTRACT_KEYS)
        path = obj["path"]
        if not isinstance(path, str):
            raise self.fail(f"{field}.path", f"must be a string, not {_json_type(path)}")
        normalized = normalize_member_path(path)
        if normalized is None or normalized != path:
            raise self.fail(
                f"{field}.path",
                f"{path!r} is not a normalised relative path inside the package",
                hint="write it like usr/share/ovmf/OVMF.amdsev.fd: no leading ./ or /, no ..",
            )
        output = self.text(obj["output"], f"{field}.output", _OUTPUT, "output file name")
        return ExtractSpec(
            path=path,
            output=output,
            size=self.size(obj["size"], f"{field}.size"),
            sha256=self.text(
                obj["sha256"], f"{field}.sha256", _SHA256, "sha256 (64 lowercase hex)"
            ),
        )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
