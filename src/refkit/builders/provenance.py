"""In-toto links for builder steps: which inputs (materials) produced which outputs (products).

One link per artifact, made with the ``in-toto`` package (link format of the in-toto
specification v1.0, section 4.4, as ``in-toto-verify`` reads it):

* ``name``: the artifact name (the step name a layout refers to);
* ``materials``: every input file's sha256, keyed ``INPUT/...`` (a pinned file under its
  archive file name, a member under its member path, each file of a directory or tree
  artifact under its relative path);
* ``products``: the output's sha256, keyed ``ARTIFACT`` (a file) or ``ARTIFACT/REL`` (each
  file of a tree);
* ``command``: ``["refkit-builder", BUILDER, VERSION, PARAMS]`` with the params as
  canonical JSON: a builder runs in-process, so the command is the builder's identity;
* ``environment``: ``SOURCE_DATE_EPOCH``, refkit's version and the external tools the
  builder ran, with their versions; nothing about the machine (host name, user, directory),
  so the link is the same wherever the artifact is rebuilt;
* ``byproducts``: the builder's facts (an OCI manifest digest, a verity root hash...).

The unsigned link is deterministic and cached with the artifact; it is signed, when a key
is given, each time it is written (a Metablock with the in-toto key id of the signer).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from refkit.manifests.canonical import canonical_dumps

if TYPE_CHECKING:
    from refkit.manifests.signing.keys import PrivateKey

#: The ``command`` of every link starts with this word.
COMMAND_WORD = "refkit-builder"


def link_dict(
    *,
    name: str,
    builder: str,
    version: str,
    params: Mapping[str, Any],
    materials: Mapping[str, str],
    products: Mapping[str, str],
    environment: Mapping[str, Any],
    facts: Mapping[str, Any],
) -> dict[str, Any]:
    """The unsigned link as a JSON object (``materials``/``products``: path -> sha256 hex)."""
    from in_toto.models.link import Link

    link = Link(
        name=name,
        materials={k: {"sha256": materials[k]} for k in sorted(materials)},
        products={k: {"sha256": products[k]} for k in sorted(products)},
        byproducts={"facts": json.loads(json.dumps(dict(facts)))},
        command=[COMMAND_WORD, builder, version, canonical_dumps(dict(params)).decode()],
        environment=json.loads(json.dumps(dict(environment))),
    )
    link.validate()
    signed: dict[str, Any] = json.loads(link.signable_bytes)
    return signed


def link_document(signed: Mapping[str, Any], key: PrivateKey | None) -> tuple[bytes, str | None]:
    """The link as an in-toto Metablock (JSON bytes, sorted keys) and the signer's in-toto
    key id (None when unsigned). Unsigned links carry an empty signature list."""
    from in_toto.models.link import Link
    from in_toto.models.metadata import Metablock

    link = Link.read(dict(signed))
    block = Metablock(signed=link)
    keyid: str | None = None
    if key is not None:
        from securesystemslib.signer import CryptoSigner  # type: ignore[attr-defined]

        signer = CryptoSigner(key.key)
        block.create_signature(signer)
        keyid = signer.public_key.keyid
    text = json.dumps(block.to_dict(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    return text.encode(), keyid


def link_filename(name: str, keyid: str | None) -> str:
    """in-toto's file name for a step's link: ``NAME.KEYID8.link`` (``NAME.link`` unsigned)."""
    return f"{name}.{keyid[:8]}.link" if keyid else f"{name}.link"
