"""The informational parts of a manifest: release, provenance, artifact kinds.

Unknown fields here are kept and written back unchanged (they describe, they do not
constrain: docs/decisions/0005-fail-closed.md).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from refkit.manifests.model.common import NAME, TOKEN, DigestSet, digests
from refkit.manifests.model.kind import unique
from refkit.reader import Obj, merged, put
from refkit.times import format_time

_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class ArtifactKind(enum.StrEnum):
    """What a subject is. The value is what the JSON holds (``annotations.kind``)."""

    OCI_IMAGE = "oci-image"
    OCI_LAYER = "oci-layer"
    FIRMWARE = "firmware"
    KERNEL = "kernel"
    INITRD = "initrd"
    CMDLINE = "cmdline"
    UKI = "uki"
    ROOTFS = "rootfs"
    DISK_IMAGE = "disk-image"
    MODEL_DISK = "model-disk"
    BINARY = "binary"
    POLICY = "policy"
    OTHER = "other"


@dataclass(frozen=True)
class Source:
    repository: str
    commit: str
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Source:
        return cls(
            obj.text("repository", pattern=NAME), obj.text("commit", pattern=_COMMIT), obj.rest()
        )

    def to_json(self) -> dict[str, Any]:
        return merged({"repository": self.repository, "commit": self.commit}, self.unrecognized)


@dataclass(frozen=True)
class Release:
    """Which release this is; the signer's anti-rollback and expiry use these names."""

    name: str
    version: str
    created: datetime
    source: Source
    expires: datetime | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Release:
        out = cls(
            name=obj.text("name", pattern=NAME),
            version=obj.text("version", pattern=TOKEN),
            created=obj.time("created"),
            expires=obj.opt_time("expires"),
            source=Source.parse(obj.obj("source")),
            unrecognized=obj.rest(),
        )
        if out.expires is not None and out.expires <= out.created:
            raise obj.fail("expires", "must be later than release.created")
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "created": format_time(self.created),
            "source": self.source.to_json(),
        }
        put(out, "expires", None if self.expires is None else format_time(self.expires))
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class PinnedInput:
    name: str
    digest: DigestSet
    version: str | None = None
    uri: str | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> PinnedInput:
        return cls(
            name=obj.text("name", pattern=NAME),
            digest=digests(obj, "digest"),
            version=obj.opt_text("version", pattern=TOKEN),
            uri=obj.opt_text("uri", pattern=NAME),
            unrecognized=obj.rest(),
        )

    @property
    def key(self) -> str:
        return f"input {self.name}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "digest": self.digest.to_json()}
        put(out, "version", self.version)
        put(out, "uri", self.uri)
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class Builder:
    id: str
    version: str | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Builder:
        return cls(obj.text("id", pattern=NAME), obj.opt_text("version", pattern=TOKEN), obj.rest())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        put(out, "version", self.version)
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class Provenance:
    refkit_version: str
    builder: Builder | None = None
    inputs: tuple[PinnedInput, ...] | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Provenance:
        builder = obj.opt_obj("builder")
        out = cls(
            refkit_version=obj.text("refkitVersion", pattern=TOKEN),
            builder=None if builder is None else Builder.parse(builder),
            inputs=obj.objs("inputs", PinnedInput.parse),
            unrecognized=obj.rest(),
        )
        unique(obj, "inputs", out.inputs)
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"refkitVersion": self.refkit_version}
        put(out, "builder", None if self.builder is None else self.builder.to_json())
        put(out, "inputs", None if self.inputs is None else [i.to_json() for i in self.inputs])
        return merged(out, self.unrecognized)
