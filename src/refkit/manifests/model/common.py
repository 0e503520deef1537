"""Building blocks every kind of reference value shares: digests, shapes, tools, event logs.

Field readers here follow one rule (docs/decisions/0005-fail-closed.md): an object that is
part of a *constraint* ends with :meth:`~refkit.reader.Obj.closed` (unknown fields are
refused with :data:`CONSTRAINT_UNKNOWN`), an *informational* one ends with
:meth:`~refkit.reader.Obj.rest` (unknown fields are kept and written back).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from refkit.reader import Obj, check_hex, fail, merged, put, type_name

#: Stable code of the refusal of an unknown field inside a constraint (docs/codes.md).
CONSTRAINT_UNKNOWN = "manifest.constraint.unknown"

#: Byte length of each digest algorithm refkit knows; other algorithm names are kept if
#: they hold lower-case hex, but at least one known one must be present.
DIGEST_SIZES: Mapping[str, int] = {"sha256": 32, "sha384": 48, "sha512": 64}
ALGORITHM = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
NAME = re.compile(r"[^\x00-\x1f\x7f]{1,512}")
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+:-]{0,127}")
KNOWN_ALGORITHM = re.compile("|".join(DIGEST_SIZES))

SNP_MEASUREMENT_SIZE = 48
SNP_HOST_DATA_SIZE = 32
SNP_CHIP_ID_SIZE = 64
TDX_MR_SIZE = 48
TDX_U64_SIZE = 8
TDX_PIID_SIZE = 16

E = TypeVar("E", bound=enum.StrEnum)
V = TypeVar("V")

#: Values already validated, by their JSON content: a manifest with 60,000 entries repeats
#: the same VMM, tool and input digests 60,000 times, and each copy would cost a parse and
#: a few hundred bytes. Only successes are kept (a failure names its own path), the key
#: includes the reading mode, and every cached value holds only strings (so ``True`` can
#: never stand for ``1``). Cleared when full.
_VALIDATED: dict[tuple[Any, ...], Any] = {}
_VALIDATED_LIMIT = 1 << 16


def validated_once(key: tuple[Any, ...], build: Callable[[], V]) -> V:
    """``build()``, or the value an equal ``key`` built before (values are immutable)."""
    try:
        hit = _VALIDATED.get(key)
    except TypeError:  # something unhashable inside: nothing to share
        return build()
    if hit is not None:
        return cast(V, hit)
    out = build()
    if len(_VALIDATED) >= _VALIDATED_LIMIT:
        _VALIDATED.clear()
    _VALIDATED[key] = out
    return out


def read_enum(obj: Obj, key: str, kind: type[E], *, required: bool = True) -> Any:
    """``obj[key]`` as a member of ``kind`` (None if optional and absent)."""
    value = obj.text(key) if required else obj.opt_text(key)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise obj.fail(key, f"{value[:80]!r} is not one of: {allowed}") from None


def as_list(value: tuple[Any, ...] | None) -> list[Any] | None:
    return None if value is None else list(value)


def sorted_set(items: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """An allow-list in canonical order (sorted, without repeats)."""
    return None if items is None else tuple(sorted(set(items)))


# --------------------------------------------------------------------------- digests


@dataclass(frozen=True)
class DigestSet:
    """``{algorithm: lower-case hex}``, the in-toto DigestSet."""

    digests: Mapping[str, str]

    @classmethod
    def parse(cls, value: Any, path: str, source: str) -> DigestSet:
        if not isinstance(value, dict):
            raise fail(source, path, f"expected a digest object, found {type_name(value)}")
        if not value:
            raise fail(source, path, "needs at least one digest")
        out: dict[str, str] = {}
        for alg, hexval in value.items():
            where = f"{path}.{alg}"
            if not ALGORITHM.fullmatch(alg):
                raise fail(source, where, "is not a digest algorithm name")
            if not isinstance(hexval, str):
                raise fail(source, where, f"expected a hex string, found {type_name(hexval)}")
            check_hex(hexval, source=source, path=where, size=DIGEST_SIZES.get(alg))
            if not hexval:
                raise fail(source, where, "is empty")
            out[alg] = hexval
        if not set(out) & set(DIGEST_SIZES):
            raise fail(source, path, f"needs one of {', '.join(DIGEST_SIZES)}")
        return cls(out)

    def to_json(self) -> dict[str, str]:
        return dict(self.digests)

    def texts(self) -> list[str]:
        """Every digest as ``algorithm:hex``, sorted by algorithm."""
        return [f"{k}:{v}" for k, v in sorted(self.digests.items())]

    def __str__(self) -> str:
        alg = next((a for a in DIGEST_SIZES if a in self.digests), sorted(self.digests)[0])
        return f"{alg}:{self.digests[alg]}"


def digests(obj: Obj, key: str) -> DigestSet:
    value = obj.raw(key, True)
    return _digest_set(value, obj.at(key), obj.source)


def _digest_set(value: Any, path: str, source: str) -> DigestSet:
    if not isinstance(value, dict):
        return DigestSet.parse(value, path, source)
    return validated_once(("digests", *value.items()), lambda: DigestSet.parse(value, path, source))


def digest_map(obj: Obj, key: str) -> Mapping[str, DigestSet] | None:
    """``{name: DigestSet}`` (the inputs a value was computed from, RIM digests, ...)."""
    sub = obj.opt_obj(key)
    if sub is None:
        return None

    def build() -> Mapping[str, DigestSet]:
        out: dict[str, DigestSet] = {}
        for name, value in sub.value.items():
            if not TOKEN.fullmatch(name):
                raise sub.fail(name[:80], "is not a valid name (letters, digits, ._+:-)")
            out[name] = _digest_set(value, sub.at(name), obj.source)
        return out

    try:
        key_items = tuple(
            (k, *v.items()) if isinstance(v, dict) else (k, v) for k, v in sub.value.items()
        )
    except AttributeError:
        return build()
    return validated_once(("digest map", *key_items), build)


def digest_map_json(value: Mapping[str, DigestSet] | None) -> dict[str, Any] | None:
    return None if value is None else {k: v.to_json() for k, v in value.items()}


# --------------------------------------------------------------------------- tools, logs


@dataclass(frozen=True)
class Tool:
    """The tool (and version) that computed a value: values are only as stable as it is."""

    name: str
    version: str
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Tool:
        return cls(
            obj.text("name", pattern=TOKEN),
            obj.text("version", pattern=TOKEN),
            obj.closed(code=CONSTRAINT_UNKNOWN),
        )

    def to_json(self) -> dict[str, Any]:
        return merged({"name": self.name, "version": self.version}, self.unrecognized)

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def tool(obj: Obj) -> Tool | None:
    sub = obj.opt_obj("computedBy")
    if sub is None:
        return None
    return validated_once(("tool", sub.lenient, *sub.value.items()), lambda: Tool.parse(sub))


def tool_json(value: Tool | None) -> dict[str, Any] | None:
    return None if value is None else value.to_json()


@dataclass(frozen=True)
class EventLogRef:
    """The reference event log a register value was replayed from (schema 1.1).

    ``digest`` pins the log's bytes (a TDX CCEL or a TCG PC Client log as a verifier
    replays it); ``name`` and ``uri`` say where to find it. A verifier that holds the log
    can replay it and name the first event that differs instead of only "mismatch".
    """

    digest: DigestSet
    name: str | None = None
    uri: str | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> EventLogRef:
        return cls(
            digest=digests(obj, "digest"),
            name=obj.opt_text("name", pattern=NAME),
            uri=obj.opt_text("uri", pattern=NAME),
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"digest": self.digest.to_json()}
        put(out, "name", self.name)
        put(out, "uri", self.uri)
        return merged(out, self.unrecognized)

    def __str__(self) -> str:
        where = self.name or self.uri
        return f"{self.digest}" + (f" ({where})" if where else "")


def event_log(obj: Obj) -> EventLogRef | None:
    sub = obj.opt_obj("eventLog")
    return None if sub is None else EventLogRef.parse(sub)


# --------------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class Vmm:
    """The virtual machine monitor: ``type`` (qemu, ec2, gce, cloud-hypervisor, ...)."""

    type: str
    version: str | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Vmm:
        return cls(
            obj.text("type", pattern=TOKEN),
            obj.opt_text("version", pattern=TOKEN),
            obj.closed(code=CONSTRAINT_UNKNOWN),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        put(out, "version", self.version)
        return merged(out, self.unrecognized)

    def __str__(self) -> str:
        return self.type + (f" {self.version}" if self.version else "")


def _vmm(obj: Obj) -> Vmm:
    return validated_once(("vmm", obj.lenient, *obj.value.items()), lambda: Vmm.parse(obj))


@dataclass(frozen=True)
class Shape:
    """The VM shape a computed value holds for: computed values are keyed by it."""

    vcpus: int
    vmm: Vmm
    memory_mib: int | None = None
    gpus: int | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Shape:
        return cls(
            vcpus=obj.integer("vcpus", lo=1, hi=4096),
            memory_mib=obj.opt_integer("memoryMiB", lo=1, hi=2**40),
            vmm=_vmm(obj.obj("vmm")),
            gpus=obj.opt_integer("gpus", lo=0, hi=1024),
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"vcpus": self.vcpus, "vmm": self.vmm.to_json()}
        put(out, "memoryMiB", self.memory_mib)
        put(out, "gpus", self.gpus)
        return merged(out, self.unrecognized)

    def label(self, *, vcpus: bool = True) -> str:
        parts = [f"{self.vcpus} vCPU"] if vcpus else []
        if self.memory_mib is not None:
            parts.append(f"{self.memory_mib} MiB")
        parts.append(str(self.vmm))
        if self.gpus:
            parts.append(f"{self.gpus} GPU")
        return ", ".join(parts)


def shape(obj: Obj) -> Shape:
    return Shape.parse(obj.obj("shape"))


def opt_shape(obj: Obj) -> Shape | None:
    sub = obj.opt_obj("shape")
    return None if sub is None else Shape.parse(sub)
