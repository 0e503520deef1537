"""Recipes: which artifacts to build, by which builder, from which pinned inputs.

A recipe is YAML read with refkit's strict loader (:func:`refkit.yamlio.load_yaml`: the
JSON data model only, no tags, anchors or duplicate keys), checked against the JSON Schema
published at ``src/refkit/builders/schema/recipe.schema.json`` and then against what the
schema cannot say:

* every artifact names a registered builder, and its ``params`` satisfy that builder's
  ``params_schema``;
* every ``{artifact: NAME}`` input names an artifact of the recipe, and the dependencies
  between artifacts form no cycle (the cycle is named in the error);
* ``member`` is given only with a single lock name;
* ``{file: PATH}`` paths and the ``lock`` path are relative, without ``..``;
* lock names exist in the lock (:func:`check_lock_names`, once the lock is read).

Every failure is a :class:`~refkit.errors.ParseError` naming the recipe file and the field
(``$.artifacts.app.inputs.rootfs``), exit code 2. The result is a frozen :class:`Recipe`;
:meth:`Recipe.order` gives the build order (dependencies first, ties by name, so the order
is the same on every machine).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from refkit.builders.api import Builder
from refkit.errors import InputError, Location, ParseError, read_input_file
from refkit.yamlio import load_yaml

#: The schema's identifier; ``version: 1`` recipes follow it.
RECIPE_SCHEMA_ID: Final = "https://refkit.dev/recipe/v1"
#: Largest recipe read (bytes).
MAX_RECIPE_BYTES: Final = 1024 * 1024
#: Environment variable a recipe without ``source_date_epoch`` takes its time from.
SDE_VARIABLE: Final = "SOURCE_DATE_EPOCH"
#: Largest SOURCE_DATE_EPOCH accepted (9999-12-31T23:59:59Z), as the schema says.
MAX_EPOCH: Final = 253402300799

_SCHEMA_PATH = Path(__file__).with_name("schema") / "recipe.schema.json"


@dataclass(frozen=True)
class LockRef:
    """``{lock: NAME | [NAMES], member: PATH?}``: pinned inputs of the lock, by name.

    ``several`` records whether the recipe gave a list: a list resolves to a directory
    holding each pinned file, a single name to the pinned file itself (or the member)."""

    names: tuple[str, ...]
    member: str | None = None
    several: bool = False


@dataclass(frozen=True)
class FileRef:
    """``{file: PATH}``: a file or directory of the repository (relative to its root)."""

    path: str


@dataclass(frozen=True)
class ArtifactRef:
    """``{artifact: NAME}``: another artifact's output."""

    name: str


InputRef = LockRef | FileRef | ArtifactRef


@dataclass(frozen=True)
class Artifact:
    name: str
    builder: str
    inputs: Mapping[str, InputRef]
    params: Mapping[str, Any]
    optional: bool = False
    """Skipped (with its dependents) where its builder lacks a tool, instead of failing."""

    def depends_on(self) -> tuple[str, ...]:
        """The artifacts whose outputs this one reads, sorted."""
        return tuple(sorted({r.name for r in self.inputs.values() if isinstance(r, ArtifactRef)}))


@dataclass(frozen=True)
class Recipe:
    source: str
    """Where the recipe was read from, for messages."""
    directory: Path
    """The recipe file's directory: ``lock`` is relative to it."""
    root: Path
    """The repository root: ``{file: ...}`` inputs are relative to it."""
    source_date_epoch: int | None
    lock: Path | None
    artifacts: Mapping[str, Artifact]

    def order(self) -> tuple[Artifact, ...]:
        """Every artifact, dependencies first; among ready artifacts, by name."""
        return tuple(self.artifacts[n] for n in topological_order(self.artifacts, self.source))

    def lock_names(self) -> tuple[str, ...]:
        """Every lock name the recipe refers to, sorted."""
        return tuple(
            sorted(
                {
                    name
                    for art in self.artifacts.values()
                    for ref in art.inputs.values()
                    if isinstance(ref, LockRef)
                    for name in ref.names
                }
            )
        )


@cache
def recipe_schema() -> Mapping[str, Any]:
    """The published JSON Schema of a recipe (parsed once)."""
    loaded: dict[str, Any] = json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))
    return MappingProxyType(loaded)


def _field(path: Sequence[Any]) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _schema_error(document: Any, source: str) -> ParseError | None:
    """The first (deepest, then leftmost) schema violation, as a ParseError; None if valid."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(recipe_schema())
    errors = sorted(
        validator.iter_errors(document),
        key=lambda e: (-len(e.absolute_path), [str(p) for p in e.absolute_path]),
    )
    if not errors:
        return None
    best = jsonschema.exceptions.best_match(errors) or errors[0]
    where = _field(list(best.absolute_path))
    message = _schema_message(best)
    return ParseError(message, location=Location(source, field=where))


def _schema_message(error: Any) -> str:
    if error.validator == "oneOf" and error.absolute_path and "inputs" in error.absolute_path:
        return (
            "an input is one of {lock: NAME | [NAMES], member: PATH}, {file: PATH} or "
            "{artifact: NAME}"
        )
    if error.validator == "not":
        return f"{error.instance!r} must be a relative path without '..' or backslashes"
    text = str(error.message)
    return text if len(text) <= 200 else text[:200] + "..."


def parse_recipe(
    data: bytes | str,
    *,
    source: str,
    directory: Path,
    builders: Mapping[str, Builder] | None,
) -> Recipe:
    """Parse and check a recipe (see the module docstring).

    ``builders`` is the registry to check builder names and params against; ``None`` skips
    those two checks (for tools that read only a recipe's inputs, as ``inputs lock`` does).
    """
    document = load_yaml(data, source=source, max_bytes=MAX_RECIPE_BYTES)
    problem = _schema_error(document, source)
    if problem is not None:
        raise problem
    artifacts: dict[str, Artifact] = {}
    for name in sorted(document["artifacts"]):
        raw = document["artifacts"][name]
        where = f"$.artifacts.{name}"
        builder_name: str = raw["builder"]
        params: dict[str, Any] = raw.get("params", {})
        if builders is not None:
            builder = builders.get(builder_name)
            if builder is None:
                known = ", ".join(sorted(builders)) or "none"
                raise ParseError(
                    f"unknown builder {builder_name!r} (known: {known})",
                    location=Location(source, field=f"{where}.builder"),
                )
            _check_params(builder, params, source, f"{where}.params")
        inputs: dict[str, InputRef] = {}
        for input_name in sorted(raw.get("inputs", {})):
            inputs[input_name] = _input_ref(
                raw["inputs"][input_name], source, f"{where}.inputs.{input_name}"
            )
        for input_name, ref in inputs.items():
            if isinstance(ref, ArtifactRef) and ref.name not in document["artifacts"]:
                raise ParseError(
                    f"no artifact named {ref.name!r} in this recipe",
                    location=Location(source, field=f"{where}.inputs.{input_name}.artifact"),
                )
        artifacts[name] = Artifact(
            name=name,
            builder=builder_name,
            inputs=MappingProxyType(inputs),
            params=MappingProxyType(params),
            optional=bool(raw.get("optional", False)),
        )
    topological_order(artifacts, source)  # refuse cycles now, not when building
    lock = document.get("lock")
    root_text = document.get("root")
    root = (directory / root_text).resolve() if root_text is not None else find_root(directory)
    return Recipe(
        source=source,
        directory=directory,
        root=root,
        source_date_epoch=document.get("source_date_epoch"),
        lock=None if lock is None else directory / lock,
        artifacts=MappingProxyType(artifacts),
    )


def load_recipe(path: Path, *, builders: Mapping[str, Builder] | None) -> Recipe:
    """Read and parse the recipe file at ``path``."""
    data = read_input_file(path, what="recipe", limit=MAX_RECIPE_BYTES)
    return parse_recipe(data, source=str(path), directory=path.resolve().parent, builders=builders)


def _check_params(builder: Builder, params: Mapping[str, Any], source: str, where: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(dict(builder.params_schema))
    errors = sorted(validator.iter_errors(params), key=lambda e: [str(p) for p in e.path])
    if errors:
        best = jsonschema.exceptions.best_match(errors) or errors[0]
        field = where + _field(list(best.absolute_path))[1:]
        raise ParseError(
            f"builder {builder.name}: {_schema_message(best)}",
            location=Location(source, field=field),
        )


def _input_ref(raw: Mapping[str, Any], source: str, where: str) -> InputRef:
    if "file" in raw:
        return FileRef(raw["file"])
    if "artifact" in raw:
        return ArtifactRef(raw["artifact"])
    names = raw["lock"]
    member = raw.get("member")
    several = isinstance(names, list)
    if several and member is not None:
        raise ParseError(
            "member can only be taken from one pinned input, not a list",
            location=Location(source, field=f"{where}.member"),
        )
    return LockRef(names=tuple(names) if several else (names,), member=member, several=several)


def topological_order(artifacts: Mapping[str, Artifact], source: str) -> tuple[str, ...]:
    """Artifact names, every dependency before its dependents; ties broken by name.

    A cycle is a :class:`ParseError` naming the artifacts on it, in order.
    """
    done: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise ParseError(
                "dependency cycle: " + " -> ".join(cycle),
                location=Location(source, field=f"$.artifacts.{name}"),
            )
        state[name] = 1
        path.append(name)
        for dep in artifacts[name].depends_on():
            visit(dep, path)
        path.pop()
        state[name] = 2
        done.append(name)

    for name in sorted(artifacts):
        visit(name, [])
    return tuple(done)


def find_root(directory: Path) -> Path:
    """The nearest directory at or above ``directory`` holding ``.git``; else ``directory``."""
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists():
            return candidate
    return directory


def check_lock_names(recipe: Recipe, names_in_lock: Sequence[str], lock_source: str) -> None:
    """Refuse a recipe naming an input its lock does not pin (exit 2, the name in the error)."""
    pinned = set(names_in_lock)
    for art in recipe.order():
        for input_name, ref in art.inputs.items():
            if not isinstance(ref, LockRef):
                continue
            for name in ref.names:
                if name not in pinned:
                    raise ParseError(
                        f"{name!r} is not pinned in the lock {lock_source}",
                        location=Location(
                            recipe.source, field=f"$.artifacts.{art.name}.inputs.{input_name}"
                        ),
                        hint="pin it first, then rebuild",
                    )


def source_date_epoch(recipe: Recipe, environ: Mapping[str, str] | None = None) -> int:
    """The recipe's ``source_date_epoch``; else ``SOURCE_DATE_EPOCH``; else the committer
    time of the repository's ``HEAD`` (what ``git log -1 --format=%ct`` prints)."""
    if recipe.source_date_epoch is not None:
        return recipe.source_date_epoch
    env = os.environ if environ is None else environ
    text = env.get(SDE_VARIABLE)
    if text is not None:
        if not text.isdigit() or int(text) > MAX_EPOCH:
            raise InputError(
                f"{SDE_VARIABLE}={text[:40]!r} is not a whole number of seconds in [0, {MAX_EPOCH}]"
            )
        return int(text)
    committed = _commit_time(recipe.root)
    if committed is not None:
        return committed
    raise InputError(
        f"{recipe.source}: no source_date_epoch: the recipe gives none, {SDE_VARIABLE} is "
        "not set and the repository has no git history to take it from",
        hint=f"add source_date_epoch to the recipe or set {SDE_VARIABLE}",
    )


def _commit_time(root: Path) -> int | None:
    """The committer time of ``HEAD`` in ``root`` (read from the commit object), or None."""
    try:
        text = subprocess.run(
            ["git", "-C", str(root), "cat-file", "commit", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if not line:
            break  # the headers end at the first empty line
        if line.startswith("committer "):
            fields = line.rsplit(" ", 2)
            if len(fields) == 3 and fields[1].isdigit():
                return int(fields[1])
    return None
