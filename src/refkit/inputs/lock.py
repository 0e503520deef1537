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
                 "extract": [{"path": ..., "output": ..., "size": ..., "sha256": ...}]},
                {"kind": "python-distribution", "name": ..., "version": ...,
                 "filename": ..., "size": ..., "sha256": ...},
                {"kind": "file", "name": ..., "url": ..., "size": ..., "sha256": ...}]}

The two later kinds are a compatible addition to v1: every lock written before them is
still valid and means the same; a lock that uses them is refused by an older refkit with
"unknown input kind" (exit 2), never misread.

Invariants (checked once, here, when the lock is parsed):

* the document is strict JSON (duplicate keys, NaN, BOM refused) and every object has
  exactly the known fields: an unknown field is an error, not ignored, because a newer
  lock field that an older refkit silently skipped could weaken a check;
* names, versions, architectures, suites and components follow Debian's syntax, and
  ``filename`` is exactly ``<name>_<version without epoch>_<architecture>.deb``, so that
  nothing read from a lock can inject a path or URL component;
* digests are 64 lowercase hex digits; sizes are integers in ``[0, MAX_INPUT_SIZE]``;
* member paths are normalised relative POSIX paths (no ``..``, no leading ``/``); output
  names are plain file names, unique across the whole lock even ignoring case.

The document is read with the one strict reader (:class:`refkit.reader.Obj`), which
refuses unknown fields here. Every failure is a :class:`~refkit.errors.ParseError`
naming the lock file and the field (``$.inputs[0].extract[1].sha256``) or, for JSON
syntax, the offset.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from refkit.errors import InputError
from refkit.manifests.canonical import loads_strict
from refkit.reader import Obj, fail

#: Identifier of this lock format; the major version is part of it.
LOCK_SCHEMA: Final = "https://refkit.dev/inputs-lock/v1"

#: The input kinds of lock v1. ``python-distribution`` and ``file`` were added later as a
#: compatible extension: every lock written before them is still valid and means the same.
KIND_DEBIAN_PACKAGE: Final = "debian-package"
KIND_PYTHON_DISTRIBUTION: Final = "python-distribution"
KIND_FILE: Final = "file"
KINDS: Final = (KIND_DEBIAN_PACKAGE, KIND_PYTHON_DISTRIBUTION, KIND_FILE)

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
_PYTHON_KEYS: Final = frozenset({"kind", "name", "version", "filename", "size", "sha256"})
_FILE_KEYS: Final = frozenset({"kind", "name", "url", "size", "sha256"})

# PEP 508 distribution name; PEP 440 versions (public and local parts) in their written
# form: letters, digits and . + ! _ - (the file name check below ties it to the file).
_PY_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_PY_VERSION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.+!_-]*[A-Za-z0-9])?")
_PY_SUFFIXES: Final = (".whl", ".tar.gz", ".zip")
_URL_SCHEMES: Final = ("http", "https")
_MAX_URL: Final = 2048


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

    @property
    def files(self) -> tuple[ExtractSpec, ...]:
        """The files this input puts into an output directory: the extracted members."""
        return self.extract


@dataclass(frozen=True)
class PythonDistribution:
    """A pinned Python distribution file, wheel or sdist (``kind: python-distribution``).

    The pin names exact bytes (one file of a release), not a release: a release has many
    wheels, and an index may add more later."""

    name: str
    """Distribution name as the index spells it (compared normalised, PEP 503)."""
    version: str
    filename: str
    """The file's name on the index; also its name in an output directory."""
    size: int
    sha256: str

    @property
    def label(self) -> str:
        return f"{self.name} {self.version} ({self.filename})"

    @property
    def files(self) -> tuple[ExtractSpec, ...]:
        """The whole file, under its own name."""
        return (ExtractSpec(self.filename, self.filename, self.size, self.sha256),)


@dataclass(frozen=True)
class PlainFile:
    """A pinned file fetched by URL (``kind: file``)."""

    name: str
    """Its name in an output directory (a plain file name) and in recipes."""
    url: str
    """Where it can be downloaded (http or https); only a hint: the bytes must match."""
    size: int
    sha256: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.url})"

    @property
    def files(self) -> tuple[ExtractSpec, ...]:
        return (ExtractSpec(self.name, self.name, self.size, self.sha256),)


#: Every kind of input a lock pins. (Not the manifest's ``LockedInput``, which records
#: an input in a release.)
LockedInput = DebianPackage | PythonDistribution | PlainFile


def normalize_python_name(name: str) -> str:
    """PEP 503 normalised name: runs of ``-``, ``_``, ``.`` become ``-``, lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()


def python_filename_parts(filename: str) -> tuple[str, str] | None:
    """(distribution, version) as written in a wheel or sdist file name, or None."""
    if filename.endswith(".whl"):
        parts = filename[: -len(".whl")].split("-")
        if len(parts) not in (5, 6):  # name-version[-build]-python-abi-platform
            return None
        return parts[0], parts[1]
    for suffix in (".tar.gz", ".zip"):
        if filename.endswith(suffix):
            dist, sep, version = filename[: -len(suffix)].rpartition("-")
            return (dist, version) if sep and dist else None
    return None


@dataclass(frozen=True)
class Lock:
    """A parsed, validated inputs lock."""

    inputs: tuple[LockedInput, ...]
    source: str = "<lock>"
    """Where the lock was read from, for messages."""

    def outputs(self) -> tuple[tuple[LockedInput, ExtractSpec], ...]:
        """Every (input, file it puts into an output directory) pair, in lock order: the
        extracted members of a package; a distribution or plain file itself."""
        return tuple((item, spec) for item in self.inputs for spec in item.files)

    @property
    def packages(self) -> tuple[DebianPackage, ...]:
        """The Debian packages, in lock order."""
        return tuple(item for item in self.inputs if isinstance(item, DebianPackage))

    def named(self, name: str) -> tuple[LockedInput, ...]:
        """The inputs a recipe's ``lock: NAME`` may mean: a package or file of that name, a
        distribution of that (PEP 503 normalised) name; several if several match."""
        py = normalize_python_name(name)
        return tuple(
            item
            for item in self.inputs
            if (
                normalize_python_name(item.name) == py
                if isinstance(item, PythonDistribution)
                else item.name == name
            )
        )


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
    return _parse_document(document, source)


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
        "inputs": [item_to_json(item) for item in lock.inputs],
    }


def item_to_json(item: LockedInput) -> dict[str, Any]:
    """One lock entry as JSON, keys in documentation order."""
    if isinstance(item, DebianPackage):
        return package_to_json(item)
    if isinstance(item, PythonDistribution):
        return {
            "kind": KIND_PYTHON_DISTRIBUTION,
            "name": item.name,
            "version": item.version,
            "filename": item.filename,
            "size": item.size,
            "sha256": item.sha256,
        }
    return {
        "kind": KIND_FILE,
        "name": item.name,
        "url": item.url,
        "size": item.size,
        "sha256": item.sha256,
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


def _text(obj: Obj, key: str, pattern: re.Pattern[str], what: str) -> str:
    value = obj.text(key)
    if not pattern.fullmatch(value):
        raise obj.fail(key, f"{value[:80]!r} is not a valid {what}")
    return value


def _size(obj: Obj, key: str) -> int:
    return obj.integer(key, lo=0, hi=MAX_INPUT_SIZE)


def _known_only(obj: Obj, keys: frozenset[str]) -> None:
    """Refuse unknown fields (no code: a typo in a format refkit owns), naming them all."""
    obj.refuse_rest(hint=f"lock v1 knows only: {', '.join(sorted(keys))}")


def _parse_document(document: Any, source: str) -> Lock:
    """Walk the parsed JSON once with the one strict reader, building the model."""
    top = Obj(document, source=source, path="$")
    schema = top.raw("schema", required=True)
    if schema != LOCK_SCHEMA:  # first: a newer lock's new fields are not "unknown" typos
        shown = schema[:80] if isinstance(schema, str) else schema
        raise top.fail(
            "schema", f"unsupported lock schema {shown!r}", hint=f"this refkit reads {LOCK_SCHEMA}"
        )
    inputs = top.items("inputs", lambda raw, path: _package(raw, path, source))
    _known_only(top, _TOP_KEYS)
    seen_inputs: dict[tuple[str, ...], int] = {}
    # Keyed by the case-folded name: on a case-insensitive file system two outputs that
    # differ only in case would be one file.
    seen_outputs: dict[str, tuple[str, str]] = {}
    for i, item in enumerate(inputs):
        key = _identity_key(item)
        if key in seen_inputs:
            raise fail(
                source,
                f"$.inputs[{i}]",
                f"{item.label} is already pinned by inputs[{seen_inputs[key]}]",
            )
        seen_inputs[key] = i
        field_of = "extract[{j}].output" if isinstance(item, DebianPackage) else "{name}"
        for j, spec in enumerate(item.files):
            where_field = field_of.format(
                j=j, name="filename" if isinstance(item, PythonDistribution) else "name"
            )
            folded = spec.output.casefold()
            if folded in seen_outputs:
                other, where = seen_outputs[folded]
                clash = (
                    f"output {spec.output!r} is already written by {where}"
                    if other == spec.output
                    else f"outputs {other!r} ({where}) and {spec.output!r} differ only in "
                    "case, and would be one file on a case-insensitive file system"
                )
                raise fail(source, f"$.inputs[{i}].{where_field}", clash)
            seen_outputs[folded] = (spec.output, f"inputs[{i}]")
    return Lock(inputs=inputs, source=source)


def _identity_key(item: LockedInput) -> tuple[str, ...]:
    """What may be pinned only once: a package's (name, version, architecture); a
    distribution file; a plain file's name."""
    if isinstance(item, DebianPackage):
        return (KIND_DEBIAN_PACKAGE, item.name, item.version, item.architecture)
    if isinstance(item, PythonDistribution):
        return (KIND_PYTHON_DISTRIBUTION, item.filename)
    return (KIND_FILE, item.name)


def _package(raw: Any, path: str, source: str) -> LockedInput:
    obj = Obj(raw, source=source, path=path)
    kind = obj.text("kind")
    if kind == KIND_PYTHON_DISTRIBUTION:
        return _python_distribution(obj)
    if kind == KIND_FILE:
        return _plain_file(obj)
    if kind != KIND_DEBIAN_PACKAGE:
        raise obj.fail(
            "kind",
            f"unknown input kind {kind[:80]!r}",
            hint=f"lock v1 knows: {', '.join(KINDS)}",
        )
    name = _text(obj, "name", _PACKAGE, "Debian package name")
    version = _text(obj, "version", _VERSION, "Debian version")
    arch = _text(obj, "architecture", _ARCH, "architecture")
    suite = _text(obj, "suite", _SUITE, "suite name")
    component = _text(obj, "component", _COMPONENT, "component")
    source_package = _text(obj, "source", _PACKAGE, "source package name")
    filename = obj.text("filename")
    expected = deb_filename(name, version, arch)
    if filename != expected:
        raise obj.fail(
            "filename",
            f"{filename[:80]!r} is not the archive file name of {name} {version} ({arch})",
            hint=f"it must be {expected!r}",
        )
    size = _size(obj, "size")
    sha256 = _text(obj, "sha256", _SHA256, "sha256 (64 lowercase hex)")
    extract = obj.items("extract", lambda raw_spec, p: _extract_spec(raw_spec, p, source))
    _known_only(obj, _DEB_KEYS)
    paths = [spec.path for spec in extract]
    for j, member in enumerate(paths):
        if member in paths[:j]:
            raise fail(source, f"{path}.extract[{j}].path", f"{member!r} is listed twice")
    return DebianPackage(
        name=name,
        version=version,
        architecture=arch,
        suite=suite,
        component=component,
        source=source_package,
        filename=expected,
        size=size,
        sha256=sha256,
        extract=extract,
    )


def _extract_spec(raw: Any, path: str, source: str) -> ExtractSpec:
    obj = Obj(raw, source=source, path=path)
    member = obj.text("path")
    normalized = normalize_member_path(member)
    if normalized is None or normalized != member:
        raise obj.fail(
            "path",
            f"{member[:80]!r} is not a normalised relative path inside the package",
            hint="write it like usr/share/ovmf/OVMF.amdsev.fd: no leading ./ or /, no ..",
        )
    spec = ExtractSpec(
        path=member,
        output=_text(obj, "output", _OUTPUT, "output file name"),
        size=_size(obj, "size"),
        sha256=_text(obj, "sha256", _SHA256, "sha256 (64 lowercase hex)"),
    )
    _known_only(obj, _EXTRACT_KEYS)
    return spec


def _python_distribution(obj: Obj) -> PythonDistribution:
    name = _text(obj, "name", _PY_NAME, "Python distribution name")
    version = _text(obj, "version", _PY_VERSION, "Python version")
    filename = _text(obj, "filename", _OUTPUT, "plain file name")
    parts = python_filename_parts(filename)
    if parts is None:
        raise obj.fail(
            "filename",
            f"{filename[:80]!r} is not a wheel or sdist file name",
            hint="a wheel is NAME-VERSION-PY-ABI-PLATFORM.whl, an sdist NAME-VERSION.tar.gz",
        )
    dist, file_version = parts
    if normalize_python_name(dist) != normalize_python_name(name) or file_version != version:
        raise obj.fail(
            "filename",
            f"{filename[:80]!r} is not a file of {name} {version}",
            hint="the file name starts with the distribution name and version",
        )
    item = PythonDistribution(
        name=name,
        version=version,
        filename=filename,
        size=_size(obj, "size"),
        sha256=_text(obj, "sha256", _SHA256, "sha256 (64 lowercase hex)"),
    )
    obj.refuse_rest(
        hint=f"a {KIND_PYTHON_DISTRIBUTION} has only: {', '.join(sorted(_PYTHON_KEYS))}"
    )
    return item


def _plain_file(obj: Obj) -> PlainFile:
    import urllib.parse

    name = _text(obj, "name", _OUTPUT, "plain file name")
    url = obj.text("url")
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        parts = None
    if (
        parts is None
        or len(url) > _MAX_URL
        or parts.scheme not in _URL_SCHEMES
        or not parts.netloc
        or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url)
    ):
        raise obj.fail(
            "url",
            f"{url[:80]!r} is not an http or https URL",
            hint="write the full URL, e.g. https://example.org/path/file.tar.gz",
        )
    item = PlainFile(
        name=name,
        url=url,
        size=_size(obj, "size"),
        sha256=_text(obj, "sha256", _SHA256, "sha256 (64 lowercase hex)"),
    )
    obj.refuse_rest(hint=f"a {KIND_FILE} input has only: {', '.join(sorted(_FILE_KEYS))}")
    return item
