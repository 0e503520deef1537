"""Export to a CycloneDX 1.6 ML-BOM (AI bill of materials) of the release.

Built with cyclonedx-python-lib (its model and its ``JsonV1Dot6`` serialiser), valid under
its JSON-schema validator for CycloneDX 1.6. The format AI-supply-chain tools read.

Mapping:

- ``metadata.component``: the release, an ``application`` named ``release.name`` at
  ``release.version``, with a ``vcs`` external reference to its source repository and the
  commit as a property; ``metadata.timestamp`` is ``release.created`` and the serial
  number a UUID5 of the manifest's canonical bytes, so one manifest always exports to the
  same BOM;
- each ``models[]`` entry: a ``machine-learning-model`` component, version = the source
  revision, a ``vcs`` reference to the source repository. Its two identities are
  properties named apart (``refkit:model:files-digest`` with its method, hash type and
  shard size; ``refkit:model:verity-root`` with every verity parameter), not component
  hashes: neither is the hash of one file, and a CycloneDX hash says it is;
- its verity disk, when ``disk`` names a ``model-disk`` subject: a ``data`` component
  with the image's hashes, a dependency of the model;
- every subject (firmware, kernel, initrd, UKI, images, ...): a component (``firmware``,
  ``container`` for OCI images, ``file`` otherwise) with its digests as hashes
  (SHA-256/384/512; other algorithms as ``refkit:digest:<alg>`` properties);
- ``dependencies``: the release depends on every component.

Not carried (warnings): reference values (measurements), declared platform values and
provenance, which CycloneDX has no place for; they stay in the signed manifest.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from refkit.manifests.exports import Export
from refkit.manifests.model import ArtifactKind
from refkit.manifests.statement import Statement

if TYPE_CHECKING:
    from cyclonedx.model.component import Component

SPEC = "CycloneDX 1.6 (cyclonedx-python-lib JsonV1Dot6)"
#: UUID5 namespace of refkit's BOM serial numbers (a fixed random UUID).
_NAMESPACE = uuid.UUID("5b0f3a53-8e1d-4f64-9a43-3ae2b1f0c6d2")
_HASHES = {"sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}


def export(statement: Statement) -> Export:
    """The BOM bytes (JSON) of ``statement``, and what it leaves out."""
    from cyclonedx.model import (
        ExternalReference,
        ExternalReferenceType,
        HashAlgorithm,
        HashType,
        Property,
        XsUri,
    )
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import Tool
    from cyclonedx.output.json import JsonV1Dot6

    from refkit import __version__

    predicate = statement.predicate
    release = predicate.release
    warnings: list[str] = []

    def hashes(digests: dict[str, str], props: list[Any]) -> list[Any]:
        out = []
        for alg, value in sorted(digests.items()):
            if alg in _HASHES:
                out.append(HashType(alg=HashAlgorithm(_HASHES[alg]), content=value))
            else:
                props.append(Property(name=f"refkit:digest:{alg}", value=value))
        return out

    def vcs(repository: str) -> list[Any]:
        try:
            return [ExternalReference(type=ExternalReferenceType.VCS, url=XsUri(repository))]
        except Exception:
            return []

    root = Component(
        type=ComponentType.APPLICATION,
        name=release.name,
        version=release.version,
        bom_ref=f"release:{release.name}@{release.version}",
        external_references=vcs(release.source.repository),
        properties=[Property(name="refkit:source:commit", value=release.source.commit)],
    )
    components: list[Component] = []
    by_subject: dict[str, Component] = {}
    for s in statement.subjects:
        props: list[Any] = [Property(name="refkit:kind", value=s.kind.value)]
        ctype = {
            ArtifactKind.FIRMWARE: ComponentType.FIRMWARE,
            ArtifactKind.OCI_IMAGE: ComponentType.CONTAINER,
            ArtifactKind.MODEL_DISK: ComponentType.DATA,
        }.get(s.kind, ComponentType.FILE)
        component = Component(
            type=ctype,
            name=s.name,
            bom_ref=f"subject:{s.name}",
            hashes=hashes(dict(s.digest.digests), props),
            properties=props,
        )
        by_subject[s.name] = component
        components.append(component)

    for m in predicate.models or ():
        props = [Property(name="refkit:model:source-revision", value=m.source.revision)]
        fdr = m.file_digest_root
        if fdr is not None:
            props.append(
                Property(name="refkit:model:files-digest", value=f"{fdr.algorithm}:{fdr.digest}")
            )
            if fdr.method is not None:
                props.append(Property(name="refkit:model:files-digest-method", value=fdr.method))
            if fdr.hash_type is not None:
                props.append(Property(name="refkit:model:files-hash-type", value=fdr.hash_type))
            if fdr.shard_size is not None:
                props.append(
                    Property(name="refkit:model:files-shard-size", value=str(fdr.shard_size))
                )
        if m.verity is not None:
            v = m.verity
            props.append(
                Property(name="refkit:model:verity-root", value=f"{v.hash_algorithm}:{v.root_hash}")
            )
            props.append(Property(name="refkit:model:verity-hash-offset", value=str(v.hash_offset)))
            props.append(Property(name="refkit:model:verity-salt", value=v.salt))
            props.append(
                Property(
                    name="refkit:model:verity-blocks",
                    value=f"{v.data_block_size}/{v.hash_block_size}",
                )
            )
            props.append(Property(name="refkit:model:verity-format", value=str(v.format_version)))
            if v.uuid is not None:
                props.append(Property(name="refkit:model:verity-uuid", value=v.uuid))
        for excluded in m.excluded_files or ():
            props.append(Property(name="refkit:model:excluded-file", value=excluded))
        for tool, version in sorted((m.tools or {}).items()):
            props.append(Property(name=f"refkit:model:tool:{tool}", value=version))
        model = Component(
            type=ComponentType.MACHINE_LEARNING_MODEL,
            name=m.name,
            version=m.source.revision,
            bom_ref=f"model:{m.name}",
            external_references=vcs(m.source.repository),
            properties=props,
        )
        components.append(model)
        if m.disk is not None and m.disk not in by_subject:
            warnings.append(f"model {m.name}: its disk {m.disk!r} is not a subject; not linked")

    bom = Bom(
        serial_number=uuid.uuid5(_NAMESPACE, statement.canonical_bytes().hex()),
    )
    bom.metadata.timestamp = release.created
    bom.metadata.component = root
    bom.metadata.tools.tools.add(Tool(vendor="refkit", name="refkit", version=__version__))
    for c in components:
        bom.components.add(c)
    bom.register_dependency(root, components)
    for m in predicate.models or ():
        if m.disk is not None and m.disk in by_subject:
            model_c = next(c for c in components if str(c.bom_ref) == f"model:{m.name}")
            bom.register_dependency(model_c, [by_subject[m.disk]])

    if predicate.reference_values.entries():
        warnings.append(
            "reference values (launch measurements) have no place in a CycloneDX BOM; "
            "they stay in the signed manifest"
        )
    if predicate.declared is not None and predicate.declared.entries():
        warnings.append("declared platform values are not carried by a CycloneDX BOM")
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    return Export("cyclonedx", text.encode("utf-8") + b"\n", tuple(warnings))
