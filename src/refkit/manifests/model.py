"""The reference-manifest predicate as typed, frozen values, and its JSON form.

A :class:`ReferenceManifest` is the ``predicate`` of an in-toto Statement v1 whose
``predicateType`` is :data:`~refkit.manifests.constants.PREDICATE_TYPE` (see
:mod:`refkit.manifests.statement` for the statement around it, and docs/manifests.md for
every field). Its parts:

- ``release``: name, version, creation time, optional expiry, source repository and commit;
- ``referenceValues``: values *computed* from source, each SNP/TDX/vTPM entry keyed by a
  :class:`Shape` (vCPU count, memory, VMM and its version, GPUs) and recording the input
  digests that produced it; expected policy hashes (HOST_DATA / MRCONFIGID); GPU values;
- ``declared``: platform values a release engineer *declares* (minimum TCB, guest policy,
  chip IDs, MRSEAM, ...), kept apart from computed ones because no rebuild can check them;
- ``models``: model weights (source and revision, per-file digest root, dm-verity disk);
- ``provenance``: refkit version, builder identity, pinned inputs with digests.

Invariants, checked once in :func:`parse_predicate` (the semantic checks here, then the
JSON Schema in ``schema/`` as a second, independent check): hex values are lower case without ``0x``
and have the byte length of what they hold (SNP MEASUREMENT, MRTD, RTMRs, MRSEAM: 48;
HOST_DATA: 32; chip ID: 64); times are RFC 3339 UTC ``YYYY-MM-DDTHH:MM:SSZ``; integers fit
the I-JSON range (< 2**53) and their field's width; entries keyed by shape are unique;
model disks name a subject. Every failure is a :class:`~refkit.errors.ParseError` naming
the field path. Fields this version does not know are kept in ``unrecognized`` at every
level and written back unchanged, so a newer manifest survives an older refkit.

The values are immutable: instances are frozen dataclasses holding tuples; mapping fields
hold plain dicts that no method mutates (treat them as read-only).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from refkit.reader import (
    MAX_SAFE_INT,
    Obj,
    check_hex,
    fail,
    merged,
    put,
    type_name,
)
from refkit.times import format_time

#: The schema version refkit writes. Readers accept any ``1.x``: minor versions only add
#: optional fields, which older readers keep as unrecognized.
SCHEMA_VERSION = "1.0"
SCHEMA_MAJOR = 1
_SCHEMA_VERSION = re.compile(r"(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})")

#: Byte length of each digest algorithm refkit knows; other algorithm names are kept if
#: they hold lower-case hex, but at least one known one must be present.
DIGEST_SIZES: Mapping[str, int] = {"sha256": 32, "sha384": 48, "sha512": 64}
_ALGORITHM = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,512}")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+:-]{0,127}")
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PCR_INDEX = re.compile(r"[0-9]|1[0-9]|2[0-3]")

SNP_MEASUREMENT_SIZE = 48
SNP_HOST_DATA_SIZE = 32
SNP_CHIP_ID_SIZE = 64
TDX_MR_SIZE = 48
TDX_U64_SIZE = 8
TDX_PIID_SIZE = 16
RTMR_COUNT = 4


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


class SnpProduct(enum.StrEnum):
    """AMD EPYC generations, spelled as AMD's key distribution service and Contrast do."""

    MILAN = "Milan"
    GENOA = "Genoa"
    TURIN = "Turin"


class SnpMode(enum.StrEnum):
    """The guest type a launch digest was computed for (sev-snp-measure ``--mode``)."""

    SNP = "snp"
    SEV_ES = "seves"
    SEV = "sev"


class SnpVmm(enum.StrEnum):
    """VMM flavours whose VMSA register defaults differ (sev-snp-measure ``--vmm-type``)."""

    QEMU = "qemu"
    EC2 = "ec2"
    GCE = "gce"


class PcrBank(enum.StrEnum):
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"

    @property
    def size(self) -> int:
        return {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}[self.value]


def _enum(obj: Obj, key: str, kind: type[enum.StrEnum], *, required: bool = True) -> Any:
    value = obj.text(key) if required else obj.opt_text(key)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise obj.fail(key, f"{value!r} is not one of: {allowed}") from None


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
            if not _ALGORITHM.fullmatch(alg):
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

    def __str__(self) -> str:
        alg = next((a for a in DIGEST_SIZES if a in self.digests), sorted(self.digests)[0])
        return f"{alg}:{self.digests[alg]}"


def _digests(obj: Obj, key: str) -> DigestSet:
    return DigestSet.parse(obj.raw(key, True), obj.at(key), obj.source)


def _opt_digests(obj: Obj, key: str) -> DigestSet | None:
    value = obj.raw(key, False)
    if key not in obj.value:
        return None
    return DigestSet.parse(value, obj.at(key), obj.source)


def _digest_map(obj: Obj, key: str) -> Mapping[str, DigestSet] | None:
    sub = obj.opt_obj(key)
    if sub is None:
        return None
    out: dict[str, DigestSet] = {}
    for name, value in sub.value.items():
        if not _TOKEN.fullmatch(name):
            raise sub.fail(name, "is not a valid input name")
        out[name] = DigestSet.parse(value, sub.at(name), obj.source)
    return out


def _digest_map_json(value: Mapping[str, DigestSet] | None) -> dict[str, Any] | None:
    return None if value is None else {k: v.to_json() for k, v in value.items()}


# --------------------------------------------------------------------------- release


@dataclass(frozen=True)
class Source:
    repository: str
    commit: str
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Source:
        return cls(
            obj.text("repository", pattern=_NAME), obj.text("commit", pattern=_COMMIT), obj.rest()
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
            name=obj.text("name", pattern=_NAME),
            version=obj.text("version", pattern=_TOKEN),
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
class Tool:
    """The tool (and version) that computed a value: values are only as stable as it is."""

    name: str
    version: str
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Tool:
        return cls(
            obj.text("name", pattern=_TOKEN), obj.text("version", pattern=_TOKEN), obj.rest()
        )

    def to_json(self) -> dict[str, Any]:
        return merged({"name": self.name, "version": self.version}, self.unrecognized)


def _tool(obj: Obj) -> Tool | None:
    sub = obj.opt_obj("computedBy")
    return None if sub is None else Tool.parse(sub)


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
            obj.text("type", pattern=_TOKEN), obj.opt_text("version", pattern=_TOKEN), obj.rest()
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        put(out, "version", self.version)
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class Shape:
    """The VM shape a computed value holds for (DOMAIN.md section 1: values are keyed by it)."""

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
            vmm=Vmm.parse(obj.obj("vmm")),
            gpus=obj.opt_integer("gpus", lo=0, hi=1024),
            unrecognized=obj.rest(),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"vcpus": self.vcpus, "vmm": self.vmm.to_json()}
        put(out, "memoryMiB", self.memory_mib)
        put(out, "gpus", self.gpus)
        return merged(out, self.unrecognized)

    def label(self) -> str:
        parts = [f"{self.vcpus} vCPU"]
        if self.memory_mib is not None:
            parts.append(f"{self.memory_mib} MiB")
        parts.append(self.vmm.type + (f" {self.vmm.version}" if self.vmm.version else ""))
        if self.gpus:
            parts.append(f"{self.gpus} GPU")
        return ", ".join(parts)


def _shape(obj: Obj) -> Shape:
    return Shape.parse(obj.obj("shape"))


# --------------------------------------------------------------------------- computed values


@dataclass(frozen=True)
class SnpReference:
    """One SEV-SNP launch MEASUREMENT and everything that produced it."""

    shape: Shape
    measurement: str
    mode: SnpMode
    guest_features: int
    product: SnpProduct | None = None
    vcpu_type: str | None = None
    vcpu_signature: int | None = None
    inputs: Mapping[str, DigestSet] | None = None
    computed_by: Tool | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, path: str, source: str) -> SnpReference:
        obj = Obj(value, source=source, path=path)
        out = cls(
            shape=_shape(obj),
            product=_enum(obj, "product", SnpProduct, required=False),
            measurement=obj.hex("measurement", SNP_MEASUREMENT_SIZE),
            mode=_enum(obj, "mode", SnpMode),
            guest_features=obj.integer("guestFeatures"),
            vcpu_type=obj.opt_text("vcpuType", pattern=_TOKEN),
            vcpu_signature=obj.opt_integer("vcpuSignature", hi=2**32 - 1),
            inputs=_digest_map(obj, "inputs"),
            computed_by=_tool(obj),
            unrecognized=obj.rest(),
        )
        if out.shape.vmm.type not in {v.value for v in SnpVmm}:
            allowed = ", ".join(v.value for v in SnpVmm)
            raise fail(source, f"{path}.shape.vmm.type", f"for SNP must be one of: {allowed}")
        return out

    @property
    def key(self) -> str:
        """What identifies this entry among its peers (unique within a manifest)."""
        sig = "-" if self.vcpu_signature is None else hex(self.vcpu_signature)
        return (
            f"snp {self.product or 'any'} {self.shape.label()} mode={self.mode}"
            f" features={self.guest_features:#x} cpu={self.vcpu_type or '-'}/{sig}"
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "shape": self.shape.to_json(),
            "measurement": self.measurement,
            "mode": self.mode.value,
            "guestFeatures": self.guest_features,
        }
        put(out, "product", None if self.product is None else self.product.value)
        put(out, "vcpuType", self.vcpu_type)
        put(out, "vcpuSignature", self.vcpu_signature)
        put(out, "inputs", _digest_map_json(self.inputs))
        put(out, "computedBy", None if self.computed_by is None else self.computed_by.to_json())
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class TdxReference:
    """One TDX MRTD and RTMR0-3 set for a shape (RTMR0 depends on the VMM's ACPI tables)."""

    shape: Shape
    mrtd: str
    rtmrs: tuple[str, str, str, str]
    inputs: Mapping[str, DigestSet] | None = None
    computed_by: Tool | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, path: str, source: str) -> TdxReference:
        obj = Obj(value, source=source, path=path)
        rtmrs = obj.hex_list("rtmrs", TDX_MR_SIZE)
        if rtmrs is None:
            raise obj.fail("rtmrs", "is required")
        if len(rtmrs) != RTMR_COUNT:
            raise obj.fail("rtmrs", f"needs exactly {RTMR_COUNT} values (RTMR0-3)")
        return cls(
            shape=_shape(obj),
            mrtd=obj.hex("mrtd", TDX_MR_SIZE),
            rtmrs=(rtmrs[0], rtmrs[1], rtmrs[2], rtmrs[3]),
            inputs=_digest_map(obj, "inputs"),
            computed_by=_tool(obj),
            unrecognized=obj.rest(),
        )

    @property
    def key(self) -> str:
        return f"tdx {self.shape.label()}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "shape": self.shape.to_json(),
            "mrtd": self.mrtd,
            "rtmrs": list(self.rtmrs),
        }
        put(out, "inputs", _digest_map_json(self.inputs))
        put(out, "computedBy", None if self.computed_by is None else self.computed_by.to_json())
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class VtpmReference:
    """Expected vTPM PCR values of one bank: ``{"4": hex, "11": hex}``."""

    bank: PcrBank
    pcrs: Mapping[str, str]
    shape: Shape | None = None
    inputs: Mapping[str, DigestSet] | None = None
    computed_by: Tool | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, path: str, source: str) -> VtpmReference:
        obj = Obj(value, source=source, path=path)
        bank: PcrBank = _enum(obj, "bank", PcrBank)
        pcr_obj = obj.obj("pcrs")
        pcrs: dict[str, str] = {}
        for index, hexval in pcr_obj.value.items():
            if not _PCR_INDEX.fullmatch(index):
                raise pcr_obj.fail(index, "is not a PCR index 0-23 (written as a string)")
            if not isinstance(hexval, str):
                raise pcr_obj.fail(index, f"expected a hex string, found {type_name(hexval)}")
            pcrs[index] = check_hex(hexval, source=source, path=pcr_obj.at(index), size=bank.size)
        if not pcrs:
            raise obj.fail("pcrs", "needs at least one PCR")
        shape_obj = obj.opt_obj("shape")
        return cls(
            bank=bank,
            pcrs=pcrs,
            shape=None if shape_obj is None else Shape.parse(shape_obj),
            inputs=_digest_map(obj, "inputs"),
            computed_by=_tool(obj),
            unrecognized=obj.rest(),
        )

    @property
    def key(self) -> str:
        return f"vtpm {self.bank} {self.shape.label() if self.shape else 'any shape'}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bank": self.bank.value, "pcrs": dict(self.pcrs)}
        put(out, "shape", None if self.shape is None else self.shape.to_json())
        put(out, "inputs", _digest_map_json(self.inputs))
        put(out, "computedBy", None if self.computed_by is None else self.computed_by.to_json())
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class PolicyHash:
    """A workload policy's expected hash, as SNP HOST_DATA and/or TDX MRCONFIGID carry it."""

    name: str
    host_data: str | None = None
    mr_config_id: str | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, path: str, source: str) -> PolicyHash:
        obj = Obj(value, source=source, path=path)
        out = cls(
            name=obj.text("name", pattern=_NAME),
            host_data=obj.opt_hex("hostData", SNP_HOST_DATA_SIZE),
            mr_config_id=obj.opt_hex("mrConfigId", TDX_MR_SIZE),
            unrecognized=obj.rest(),
        )
        if out.host_data is None and out.mr_config_id is None:
            raise obj.fail(None, "needs hostData, mrConfigId or both")
        return out

    @property
    def key(self) -> str:
        return f"policy {self.name}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        put(out, "hostData", self.host_data)
        put(out, "mrConfigId", self.mr_config_id)
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class GpuReference:
    """Accepted NVIDIA GPU state (lightly typed: verification of GPU evidence comes later).

    ``rimIds`` name NVIDIA RIMs (``NV_GPU_DRIVER_GH100_<version>``, ...) whose per-index
    measurement alternatives are the digests behind these versions.
    """

    model: str
    cc_mode: str
    driver_versions: tuple[str, ...] | None = None
    vbios_versions: tuple[str, ...] | None = None
    rim_ids: tuple[str, ...] | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, path: str, source: str) -> GpuReference:
        obj = Obj(value, source=source, path=path)
        return cls(
            model=obj.text("model", pattern=_TOKEN),
            cc_mode=obj.text("ccMode", pattern=re.compile(r"on|off|devtools|ppcie")),
            driver_versions=obj.text_list("driverVersions", pattern=_TOKEN),
            vbios_versions=obj.text_list("vbiosVersions", pattern=_TOKEN),
            rim_ids=obj.text_list("rimIds", pattern=_TOKEN),
            unrecognized=obj.rest(),
        )

    @property
    def key(self) -> str:
        return f"gpu {self.model} cc={self.cc_mode}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "ccMode": self.cc_mode}
        put(out, "driverVersions", _list(self.driver_versions))
        put(out, "vbiosVersions", _list(self.vbios_versions))
        put(out, "rimIds", _list(self.rim_ids))
        return merged(out, self.unrecognized)


def _list(value: tuple[Any, ...] | None) -> list[Any] | None:
    return None if value is None else list(value)


@dataclass(frozen=True)
class ReferenceValues:
    """Values computed from source. Empty sections are absent, not empty lists."""

    snp: tuple[SnpReference, ...] | None = None
    tdx: tuple[TdxReference, ...] | None = None
    vtpm: tuple[VtpmReference, ...] | None = None
    policies: tuple[PolicyHash, ...] | None = None
    gpu: tuple[GpuReference, ...] | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> ReferenceValues:
        def p(parser: Any) -> Any:
            return lambda v, path: parser(v, path, obj.source)

        out = cls(
            snp=obj.opt_items("snp", p(SnpReference.parse)),
            tdx=obj.opt_items("tdx", p(TdxReference.parse)),
            vtpm=obj.opt_items("vtpm", p(VtpmReference.parse)),
            policies=obj.opt_items("policies", p(PolicyHash.parse)),
            gpu=obj.opt_items("gpu", p(GpuReference.parse)),
            unrecognized=obj.rest(),
        )
        for key in ("snp", "tdx", "vtpm", "policies", "gpu"):
            _unique(obj, key, getattr(out, key))
        return out

    def entries(
        self,
    ) -> tuple[SnpReference | TdxReference | VtpmReference | PolicyHash | GpuReference, ...]:
        return (
            *(self.snp or ()),
            *(self.tdx or ()),
            *(self.vtpm or ()),
            *(self.policies or ()),
            *(self.gpu or ()),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("snp", "tdx", "vtpm", "policies", "gpu"):
            items = getattr(self, key)
            put(out, key, None if items is None else [i.to_json() for i in items])
        return merged(out, self.unrecognized)


def _unique(obj: Obj, key: str, items: tuple[Any, ...] | None) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items or ()):
        if item.key in seen:
            raise fail(
                obj.source,
                f"{obj.at(key)}[{i}]",
                f"duplicates {obj.at(key)}[{seen[item.key]}] ({item.key})",
                hint="each entry must differ in what keys it (shape, product, bank, name ...)",
            )
        seen[item.key] = i


# --------------------------------------------------------------------------- declared values


@dataclass(frozen=True)
class SnpTcb:
    """Minimum SVN per TCB component (u8 each); ``fmc`` exists on Turin only."""

    bootloader: int
    tee: int
    snp: int
    microcode: int
    fmc: int | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> SnpTcb:
        return cls(
            bootloader=obj.integer("bootloader", hi=255),
            tee=obj.integer("tee", hi=255),
            snp=obj.integer("snp", hi=255),
            microcode=obj.integer("microcode", hi=255),
            fmc=obj.opt_integer("fmc", hi=255),
            unrecognized=obj.rest(),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bootloader": self.bootloader,
            "tee": self.tee,
            "snp": self.snp,
            "microcode": self.microcode,
        }
        put(out, "fmc", self.fmc)
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class SnpDeclared:
    """SEV-SNP platform values a release engineer declares, per product (None: any).

    ``guestPolicy``, ``platformInfo`` and ``minimumMitigationVector`` are the u64 values of
    the attestation report fields, as JSON integers (all defined bits are below 2**53).
    """

    minimum_tcb: SnpTcb
    guest_policy: int
    product: SnpProduct | None = None
    vmpl: int | None = None
    platform_info: int | None = None
    minimum_mitigation_vector: int | None = None
    allowed_chip_ids: tuple[str, ...] | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, path: str, source: str) -> SnpDeclared:
        obj = Obj(value, source=source, path=path)
        out = cls(
            product=_enum(obj, "product", SnpProduct, required=False),
            minimum_tcb=SnpTcb.parse(obj.obj("minimumTcb")),
            guest_policy=obj.integer("guestPolicy"),
            vmpl=obj.opt_integer("vmpl", hi=3),
            platform_info=obj.opt_integer("platformInfo"),
            minimum_mitigation_vector=obj.opt_integer("minimumMitigationVector"),
            allowed_chip_ids=obj.hex_list("allowedChipIds", SNP_CHIP_ID_SIZE),
            unrecognized=obj.rest(),
        )
        if not out.guest_policy & (1 << 17):
            raise obj.fail("guestPolicy", "bit 17 is reserved and must be 1 (SNP ABI)")
        if out.guest_policy & (1 << 19):
            raise obj.fail(
                "guestPolicy",
                "allows DEBUG (bit 19): a debuggable guest has no confidentiality",
            )
        if out.minimum_tcb.fmc is not None and out.product not in (SnpProduct.TURIN, None):
            raise obj.fail("minimumTcb.fmc", "exists on Turin only")
        return out

    @property
    def key(self) -> str:
        return f"snp {self.product or 'any'}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "minimumTcb": self.minimum_tcb.to_json(),
            "guestPolicy": self.guest_policy,
        }
        put(out, "product", None if self.product is None else self.product.value)
        put(out, "vmpl", self.vmpl)
        put(out, "platformInfo", self.platform_info)
        put(out, "minimumMitigationVector", self.minimum_mitigation_vector)
        put(out, "allowedChipIds", _list(self.allowed_chip_ids))
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class TdxDeclared:
    """TDX platform values declared by the release engineer.

    ``xfam`` and ``tdAttributes`` are the 8 bytes as they appear in the TD report
    (little-endian), in hex, as Contrast writes ``Xfam``.
    """

    mr_seams: tuple[str, ...]
    xfam: str | None = None
    td_attributes: str | None = None
    min_tcb_evaluation_data_number: int | None = None
    allowed_piids: tuple[str, ...] | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> TdxDeclared:
        mr_seams = obj.hex_list("mrSeams", TDX_MR_SIZE)
        if not mr_seams:
            raise obj.fail("mrSeams", "needs at least one MRSEAM (the TDX module allow-list)")
        out = cls(
            mr_seams=mr_seams,
            xfam=obj.opt_hex("xfam", TDX_U64_SIZE),
            td_attributes=obj.opt_hex("tdAttributes", TDX_U64_SIZE),
            min_tcb_evaluation_data_number=obj.opt_integer(
                "minTcbEvaluationDataNumber", hi=2**32 - 1
            ),
            allowed_piids=obj.hex_list("allowedPiids", TDX_PIID_SIZE),
            unrecognized=obj.rest(),
        )
        if out.td_attributes is not None and int(out.td_attributes[:2], 16) & 1:
            raise obj.fail(
                "tdAttributes", "allows DEBUG (bit 0): a debug TD has no confidentiality"
            )
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mrSeams": list(self.mr_seams)}
        put(out, "xfam", self.xfam)
        put(out, "tdAttributes", self.td_attributes)
        put(out, "minTcbEvaluationDataNumber", self.min_tcb_evaluation_data_number)
        put(out, "allowedPiids", _list(self.allowed_piids))
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class Declared:
    snp: tuple[SnpDeclared, ...] | None = None
    tdx: TdxDeclared | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Declared:
        tdx = obj.opt_obj("tdx")
        out = cls(
            snp=obj.opt_items("snp", lambda v, p: SnpDeclared.parse(v, p, obj.source)),
            tdx=None if tdx is None else TdxDeclared.parse(tdx),
            unrecognized=obj.rest(),
        )
        _unique(obj, "snp", out.snp)
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        put(out, "snp", None if self.snp is None else [s.to_json() for s in self.snp])
        put(out, "tdx", None if self.tdx is None else self.tdx.to_json())
        return merged(out, self.unrecognized)

    def for_product(self, product: SnpProduct | None) -> SnpDeclared | None:
        """The declared SNP values for ``product``: its own entry, else the one for any."""
        entries = self.snp or ()
        exact = [d for d in entries if d.product is not None and d.product == product]
        if exact:
            return exact[0]
        return next((d for d in entries if d.product is None), None)


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelSource:
    repository: str
    revision: str
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> ModelSource:
        return cls(
            obj.text("repository", pattern=_NAME), obj.text("revision", pattern=_TOKEN), obj.rest()
        )

    def to_json(self) -> dict[str, Any]:
        return merged({"repository": self.repository, "revision": self.revision}, self.unrecognized)


@dataclass(frozen=True)
class Verity:
    """dm-verity parameters: every one of them changes the root hash (DOMAIN.md 5)."""

    root_hash: str
    hash_offset: int
    salt: str
    hash_algorithm: str = "sha256"
    data_block_size: int = 4096
    hash_block_size: int = 4096
    format_version: int = 1
    uuid: str | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> Verity:
        alg = obj.text("hashAlgorithm", pattern=re.compile("|".join(DIGEST_SIZES)))
        block = re.compile(r"512|1024|2048|4096|8192|16384|32768|65536")
        out = cls(
            root_hash=obj.hex("rootHash", DIGEST_SIZES[alg]),
            hash_offset=obj.integer("hashOffset"),
            salt=obj.hex("salt"),
            hash_algorithm=alg,
            data_block_size=obj.integer("dataBlockSize", lo=512, hi=65536),
            hash_block_size=obj.integer("hashBlockSize", lo=512, hi=65536),
            format_version=obj.integer("formatVersion", lo=0, hi=1),
            uuid=obj.opt_text("uuid", pattern=_UUID),
            unrecognized=obj.rest(),
        )
        for key, size in (
            ("dataBlockSize", out.data_block_size),
            ("hashBlockSize", out.hash_block_size),
        ):
            if not block.fullmatch(str(size)):
                raise obj.fail(key, "must be a power of two from 512 to 65536")
        if out.hash_offset % out.data_block_size:
            raise obj.fail("hashOffset", "must be a multiple of dataBlockSize")
        if len(out.salt) > 512:
            raise obj.fail("salt", "is longer than 256 bytes")
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rootHash": self.root_hash,
            "hashOffset": self.hash_offset,
            "salt": self.salt,
            "hashAlgorithm": self.hash_algorithm,
            "dataBlockSize": self.data_block_size,
            "hashBlockSize": self.hash_block_size,
            "formatVersion": self.format_version,
        }
        put(out, "uuid", self.uuid)
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class FileDigestRoot:
    """A digest over the model's files (e.g. an OpenSSF model_signing subject digest)."""

    algorithm: str
    digest: str
    method: str | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> FileDigestRoot:
        alg = obj.text("algorithm", pattern=re.compile("|".join(DIGEST_SIZES)))
        return cls(
            algorithm=alg,
            digest=obj.hex("digest", DIGEST_SIZES[alg]),
            method=obj.opt_text("method", pattern=_NAME),
            unrecognized=obj.rest(),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"algorithm": self.algorithm, "digest": self.digest}
        put(out, "method", self.method)
        return merged(out, self.unrecognized)


@dataclass(frozen=True)
class ModelWeights:
    """One model's weights: where they come from and the digests that pin them."""

    name: str
    source: ModelSource
    excluded_files: tuple[str, ...] | None = None
    file_digest_root: FileDigestRoot | None = None
    verity: Verity | None = None
    disk: str | None = None
    tools: Mapping[str, str] | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, path: str, source: str) -> ModelWeights:
        obj = Obj(value, source=source, path=path)
        fdr = obj.opt_obj("fileDigestRoot")
        ver = obj.opt_obj("verity")
        tools_obj = obj.opt_obj("tools")
        tools: dict[str, str] | None = None
        if tools_obj is not None:
            tools = {}
            for name in tools_obj.value:
                if not _TOKEN.fullmatch(name):
                    raise tools_obj.fail(name, "is not a valid tool name")
                tools[name] = tools_obj.text(name, pattern=_TOKEN)
        out = cls(
            name=obj.text("name", pattern=_NAME),
            source=ModelSource.parse(obj.obj("source")),
            excluded_files=obj.text_list("excludedFiles", pattern=_NAME),
            file_digest_root=None if fdr is None else FileDigestRoot.parse(fdr),
            verity=None if ver is None else Verity.parse(ver),
            disk=obj.opt_text("disk", pattern=_NAME),
            tools=tools,
            unrecognized=obj.rest(),
        )
        if out.file_digest_root is None and out.verity is None:
            raise obj.fail(None, "needs fileDigestRoot, verity or both: nothing pins the weights")
        return out

    @property
    def key(self) -> str:
        return f"model {self.name}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "source": self.source.to_json()}
        put(out, "excludedFiles", _list(self.excluded_files))
        put(
            out,
            "fileDigestRoot",
            None if self.file_digest_root is None else self.file_digest_root.to_json(),
        )
        put(out, "verity", None if self.verity is None else self.verity.to_json())
        put(out, "disk", self.disk)
        put(out, "tools", None if self.tools is None else dict(self.tools))
        return merged(out, self.unrecognized)


# --------------------------------------------------------------------------- provenance


@dataclass(frozen=True)
class PinnedInput:
    name: str
    digest: DigestSet
    version: str | None = None
    uri: str | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, path: str, source: str) -> PinnedInput:
        obj = Obj(value, source=source, path=path)
        return cls(
            name=obj.text("name", pattern=_NAME),
            digest=_digests(obj, "digest"),
            version=obj.opt_text("version", pattern=_TOKEN),
            uri=obj.opt_text("uri", pattern=_NAME),
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
        return cls(
            obj.text("id", pattern=_NAME), obj.opt_text("version", pattern=_TOKEN), obj.rest()
        )

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
            refkit_version=obj.text("refkitVersion", pattern=_TOKEN),
            builder=None if builder is None else Builder.parse(builder),
            inputs=obj.opt_items("inputs", lambda v, p: PinnedInput.parse(v, p, obj.source)),
            unrecognized=obj.rest(),
        )
        _unique(obj, "inputs", out.inputs)
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"refkitVersion": self.refkit_version}
        put(out, "builder", None if self.builder is None else self.builder.to_json())
        put(out, "inputs", None if self.inputs is None else [i.to_json() for i in self.inputs])
        return merged(out, self.unrecognized)


# --------------------------------------------------------------------------- the predicate


@dataclass(frozen=True)
class ReferenceManifest:
    """The predicate of a refkit reference manifest (``predicate`` of the statement)."""

    release: Release
    reference_values: ReferenceValues
    schema_version: str = SCHEMA_VERSION
    declared: Declared | None = None
    models: tuple[ModelWeights, ...] | None = None
    provenance: Provenance | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": self.schema_version,
            "release": self.release.to_json(),
            "referenceValues": self.reference_values.to_json(),
        }
        put(out, "declared", None if self.declared is None else self.declared.to_json())
        put(out, "models", None if self.models is None else [m.to_json() for m in self.models])
        put(out, "provenance", None if self.provenance is None else self.provenance.to_json())
        return merged(out, self.unrecognized)


def parse_predicate(
    value: Any, *, source: str, path: str = "$.predicate", schema: bool = True
) -> ReferenceManifest:
    """Validate a predicate (semantic checks, then the JSON Schema) and build the model.

    Raises :class:`~refkit.errors.ParseError` naming the field path on any failure.
    """
    from refkit.manifests.schema import validate_predicate

    obj = Obj(value, source=source, path=path)
    version = obj.text("schemaVersion")
    match = _SCHEMA_VERSION.fullmatch(version)
    if match is None:
        raise obj.fail("schemaVersion", f"{version!r} is not MAJOR.MINOR")
    if int(match.group(1)) != SCHEMA_MAJOR:
        raise obj.fail(
            "schemaVersion",
            f"schema version {version} is not supported (this refkit reads {SCHEMA_MAJOR}.x)",
            hint="use a refkit release that supports this manifest's schema version",
        )
    out = ReferenceManifest(
        schema_version=version,
        release=Release.parse(obj.obj("release")),
        reference_values=ReferenceValues.parse(obj.obj("referenceValues")),
        declared=_opt(obj, "declared", Declared.parse),
        models=obj.opt_items("models", lambda v, p: ModelWeights.parse(v, p, source)),
        provenance=_opt(obj, "provenance", Provenance.parse),
        unrecognized=obj.rest(),
    )
    _unique(obj, "models", out.models)
    if not out.reference_values.entries() and not out.models:
        raise obj.fail("referenceValues", "holds no reference value and there are no models")
    # The published schema is checked too, after the semantic checks (whose messages are
    # the more helpful): a document refkit accepts always follows the schema it ships.
    if schema:
        validate_predicate(value, source=source, path=path)
    return out


def _opt(obj: Obj, key: str, parser: Any) -> Any:
    sub = obj.opt_obj(key)
    return None if sub is None else parser(sub)


__all__ = [
    "DIGEST_SIZES",
    "MAX_SAFE_INT",
    "SCHEMA_VERSION",
    "ArtifactKind",
    "Builder",
    "Declared",
    "DigestSet",
    "FileDigestRoot",
    "GpuReference",
    "ModelSource",
    "ModelWeights",
    "PcrBank",
    "PinnedInput",
    "PolicyHash",
    "Provenance",
    "ReferenceManifest",
    "ReferenceValues",
    "Release",
    "Shape",
    "SnpDeclared",
    "SnpMode",
    "SnpProduct",
    "SnpReference",
    "SnpTcb",
    "SnpVmm",
    "Source",
    "TdxDeclared",
    "TdxReference",
    "Tool",
    "Verity",
    "Vmm",
    "VtpmReference",
    "parse_predicate",
]
