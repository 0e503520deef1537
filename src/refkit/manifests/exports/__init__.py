"""Exports of a reference manifest into the formats other verifiers consume.

One module per format, each following one upstream version exactly (field names, casing,
hex versus base64) and citing it in its docstring:

- :mod:`.contrast`: Contrast reference values (``snp[]`` / ``tdx[]``);
- :mod:`.rvps`: Confidential Containers Trustee RVPS reference values (the ``sample``
  provenance message that ``rvps-tool register`` sends, and the stored ReferenceValue list);
- :mod:`.vsa`: a SLSA Verification Summary Attestation recording a verification result;
- :mod:`.cyclonedx`: a CycloneDX 1.6 ML-BOM (AI bill of materials) of the release.

Every exporter is a pure function from a :class:`~refkit.manifests.statement.Statement`
(plus, for the VSA, the verification outcome) to an :class:`Export`: the bytes to write
and the warnings about what the target format cannot express. An exporter never drops a
value silently: what it cannot carry is either a warning or an
:class:`~refkit.errors.UnsupportedInput`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Export:
    """An exported document: ``data`` to write, ``warnings`` about what it leaves out."""

    format: str
    data: bytes
    warnings: tuple[str, ...] = ()


def pretty_json(value: Any) -> bytes:
    """Two-space indented JSON in the key order given (like Go's ``json.MarshalIndent``)."""
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


FORMATS = ("contrast", "rvps", "rvps-values", "vsa", "cyclonedx")
