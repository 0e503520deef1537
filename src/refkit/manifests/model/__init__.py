"""The reference-manifest predicate as typed, frozen values, and its JSON form.

A :class:`ReferenceManifest` is the ``predicate`` of an in-toto Statement v1 whose
``predicateType`` is :data:`~refkit.manifests.constants.PREDICATE_TYPE` (see
:mod:`refkit.manifests.statement` for the statement around it, and docs/manifests.md for
every field). Its parts:

- ``release``: name, version, creation time, optional expiry, source repository and commit;
- ``referenceValues``: values *computed* from source: SNP/TDX/vTPM entries keyed by a
  :class:`Shape` (vCPU count, memory, VMM and its version, GPUs) and recording the input
  digests that produced them; expected policy hashes (HOST_DATA / MRCONFIGID); GPU values;
- ``declared``: platform values a release engineer *declares* (minimum TCB, guest policy,
  chip IDs, MRSEAM, ...), kept apart from computed ones because no rebuild can check them;
- ``models``: model weights (source and revision, per-file digest root, dm-verity disk);
- ``provenance``: refkit version, builder identity, pinned inputs with digests.

One module per kind of reference value (:mod:`.snp`, :mod:`.tdx`, :mod:`.vtpm`,
:mod:`.policies`, :mod:`.gpu`, :mod:`.models`, :mod:`.declared_snp`,
:mod:`.declared_tdx`), each registered once in :mod:`.registry`; the containers, build,
show, diff and the exports iterate over the registry (:mod:`.kind` says what a kind
provides; docs/decisions/0007-manifest-kinds.md how to add one).

Invariants, checked once in :func:`parse_predicate` (the semantic checks, then, when asked,
the JSON Schema in ``schema/`` as a second, independent check): hex values are lower case
without ``0x`` and have the byte length of what they hold; times are RFC 3339 UTC
``YYYY-MM-DDTHH:MM:SSZ``; integers fit the I-JSON range (< 2**53) and their field's width;
entries are unique by key; model disks name a subject. Every failure is a
:class:`~refkit.errors.ParseError` naming the field path. Fail closed
(docs/decisions/0005-fail-closed.md): an unknown field inside a constraint
(``referenceValues``, ``declared``, ``models`` except their ``source`` and ``tools``) or a
newer minor schema version is :class:`~refkit.errors.NotUnderstood`; unknown fields in the
informational parts are kept in ``unrecognized`` and written back unchanged.

The values are immutable: instances are frozen dataclasses holding tuples; mapping fields
hold plain dicts that no method mutates (treat them as read-only).
"""

from __future__ import annotations

from refkit.manifests.model.common import (
    CONSTRAINT_UNKNOWN,
    DIGEST_SIZES,
    SNP_CHIP_ID_SIZE,
    SNP_HOST_DATA_SIZE,
    SNP_MEASUREMENT_SIZE,
    TDX_MR_SIZE,
    TDX_PIID_SIZE,
    TDX_U64_SIZE,
    DigestSet,
    EventLogRef,
    Shape,
    Tool,
    Vmm,
)
from refkit.manifests.model.declared_snp import SnpDeclared, SnpTcb
from refkit.manifests.model.declared_tdx import TdxDeclared
from refkit.manifests.model.enums import SnpMode, SnpProduct, SnpVmm
from refkit.manifests.model.gpu import GpuReference
from refkit.manifests.model.kind import Block, Kind, View
from refkit.manifests.model.models import (
    DigestMethod,
    FileDigestRoot,
    ModelSource,
    ModelWeights,
    Verity,
)
from refkit.manifests.model.policies import PolicyHash
from refkit.manifests.model.predicate import (
    SCHEMA_MAJOR,
    SCHEMA_MINOR,
    SCHEMA_NEWER,
    SCHEMA_VERSION,
    Declared,
    ReferenceManifest,
    ReferenceValues,
    is_newer,
    parse_predicate,
)
from refkit.manifests.model.registry import KINDS
from refkit.manifests.model.release import (
    ArtifactKind,
    Builder,
    PinnedInput,
    Provenance,
    Release,
    Source,
)
from refkit.manifests.model.snp import SnpReference
from refkit.manifests.model.tdx import RTMR_COUNT, TdxReference
from refkit.manifests.model.vtpm import PcrBank, VtpmReference
from refkit.reader import MAX_SAFE_INT

__all__ = [
    "CONSTRAINT_UNKNOWN",
    "DIGEST_SIZES",
    "KINDS",
    "MAX_SAFE_INT",
    "RTMR_COUNT",
    "SCHEMA_MAJOR",
    "SCHEMA_MINOR",
    "SCHEMA_NEWER",
    "SCHEMA_VERSION",
    "SNP_CHIP_ID_SIZE",
    "SNP_HOST_DATA_SIZE",
    "SNP_MEASUREMENT_SIZE",
    "TDX_MR_SIZE",
    "TDX_PIID_SIZE",
    "TDX_U64_SIZE",
    "ArtifactKind",
    "Block",
    "Builder",
    "Declared",
    "DigestMethod",
    "DigestSet",
    "EventLogRef",
    "FileDigestRoot",
    "GpuReference",
    "Kind",
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
    "View",
    "Vmm",
    "VtpmReference",
    "is_newer",
    "parse_predicate",
]
