"""NVIDIA RIMs (reference integrity manifests): ISO 19770-2:2015 SWID tags signed with an
enveloped XML-DSig, parsed with a hardened XML parser and verified offline.

Parsing (:func:`parse_rim`) refuses documents over :data:`MAX_RIM_BYTES`, any DOCTYPE
(so no DTD, no entity, no external reference can be declared), and never resolves
entities or reaches the network (lxml with ``resolve_entities=False``,
``no_network=True``, ``load_dtd=False``).

Verification (:func:`verify_rim`) is two separate questions, both answered at the explicit
time ``at``, never the clock:

1. The XML signature, checked by signxml with the signer certificate from KeyInfo
   (the first X509Certificate): reference digest (enveloped-signature + C14N 1.1,
   SHA-384) and SignedInfo signature (ecdsa-sha384). signxml is asked to check the
   signature only (its own chain check rejects NVIDIA's root, whose key usage lacks
   digitalSignature); the values refkit reads afterwards come from what signxml says was
   signed, not from the raw document.
2. The signer chain, checked by :func:`refkit.evidence.gpu.certs.check_chain` up to the
   RIM root pinned by fingerprint (or the caller's root), at ``at``.

Content: ``Meta/@colloquialVersion`` (the driver or VBIOS version), ``@product``,
``@edition``, and ``Payload/Resource`` entries: ``index`` (0-based; RIM index i is SPDM
block i+1), ``active``, ``alternatives`` n and ``Hash0..Hash{n-1}`` in the namespace
``http://www.w3.org/2001/04/xmlenc#sha384``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from types import MappingProxyType
from typing import Any

from cryptography import x509
from lxml import etree  # type: ignore[import-untyped]

from refkit.errors import Location, ParseError
from refkit.evidence.gpu import certs as _certs

MAX_RIM_BYTES = 4 * 1024 * 1024
MAX_RESOURCES = 1024
MAX_ALTERNATIVES = 64

SWID_NS = "http://standards.iso.org/iso/19770/-2/2015/schema.xsd"
HASH_NS = "http://www.w3.org/2001/04/xmlenc#sha384"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"

KIND_DRIVER = "driver"
KIND_VBIOS = "vbios"
KIND_SWITCH_BIOS = "switch-bios"

_VBIOS = re.compile(r"[0-9A-Fa-f]{2}(\.[0-9A-Fa-f]{2}){4}")


def _fail(source: str, message: str, field: str | None = None) -> ParseError:
    return ParseError(message, location=Location(source, field=field))


@dataclass(frozen=True)
class RimEntry:
    """One ``Payload/Resource``: the accepted values of SPDM block ``index + 1``."""

    index: int
    active: bool
    alternatives: tuple[bytes, ...]
    size: int


@dataclass(frozen=True)
class Rim:
    """A parsed RIM (not yet verified): the document and what it says."""

    source: str
    data: bytes
    tag_id: str
    product: str
    edition: str
    version: str
    entries: tuple[RimEntry, ...]
    certificates: tuple[x509.Certificate, ...]

    @cached_property
    def kind(self) -> str:
        if self.edition.upper() == "SWITCH":
            return KIND_SWITCH_BIOS
        return KIND_VBIOS if _VBIOS.fullmatch(self.version) else KIND_DRIVER

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def sha384(self) -> str:
        return hashlib.sha384(self.data).hexdigest()

    @cached_property
    def active(self) -> Mapping[int, RimEntry]:
        return MappingProxyType({e.index: e for e in self.entries if e.active})

    def show(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "tagId": self.tag_id,
            "product": self.product,
            "edition": self.edition,
            "version": self.version,
            "sha256": self.sha256,
            "activeIndexes": sorted(self.active),
            "entries": [
                {
                    "index": e.index,
                    "active": e.active,
                    "size": e.size,
                    "alternatives": [a.hex() for a in e.alternatives],
                }
                for e in self.entries
            ],
            "signer": [c.subject.rfc4514_string() for c in self.certificates],
        }


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_xml(data: bytes, *, source: str) -> Any:
    """The root element of a hardened parse (no DOCTYPE, no entity, size-limited)."""
    if len(data) > MAX_RIM_BYTES:
        raise _fail(source, f"{len(data)} bytes, more than the RIM limit of {MAX_RIM_BYTES}")
    # A DOCTYPE anywhere is refused before parsing: a RIM never needs one, and it is
    # the carrier of entity declarations and external references.
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise _fail(source, "declares a DOCTYPE or ENTITY: refused (no DTDs in RIMs)")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise _fail(source, f"not well-formed XML: {exc}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise _fail(source, "declares a DOCTYPE: refused")
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise _fail(source, "holds an entity reference: refused")
    return root


def _bool(value: str | None, *, source: str, field: str) -> bool:
    if value is None or value.lower() not in ("true", "false"):
        raise _fail(source, "expected True or False", field)
    return value.lower() == "true"


def _int(value: str | None, *, source: str, field: str, hi: int) -> int:
    if value is None or not value.isdigit() or int(value) > hi:
        raise _fail(source, f"expected an integer 0..{hi}", field)
    return int(value)


def read_content(root: Any, *, source: str) -> tuple[str, str, str, str, tuple[RimEntry, ...]]:
    """(tagId, product, edition, version, entries) of a SoftwareIdentity element."""
    if root.tag != f"{{{SWID_NS}}}SoftwareIdentity":
        raise _fail(source, f"root element {str(root.tag)[:80]} is not a SWID SoftwareIdentity")
    meta = root.find(f"{{{SWID_NS}}}Meta")
    if meta is None:
        raise _fail(source, "no Meta element", "Meta")
    version = meta.get("colloquialVersion")
    if not version:
        raise _fail(source, "no colloquialVersion", "Meta/@colloquialVersion")
    payload = root.find(f"{{{SWID_NS}}}Payload")
    if payload is None:
        raise _fail(source, "no Payload element", "Payload")
    entries: list[RimEntry] = []
    seen: set[int] = set()
    for i, res in enumerate(payload.findall(f"{{{SWID_NS}}}Resource")):
        where = f"Payload/Resource[{i}]"
        if i >= MAX_RESOURCES:
            raise _fail(source, f"more than {MAX_RESOURCES} resources", where)
        index = _int(res.get("index"), source=source, field=f"{where}/@index", hi=253)
        if index in seen:
            raise _fail(source, f"index {index} repeated", f"{where}/@index")
        seen.add(index)
        active = _bool(res.get("active"), source=source, field=f"{where}/@active")
        n = _int(
            res.get("alternatives"),
            source=source,
            field=f"{where}/@alternatives",
            hi=MAX_ALTERNATIVES,
        )
        size = _int(res.get("size"), source=source, field=f"{where}/@size", hi=64)
        alts: list[bytes] = []
        for k in range(n):
            value = res.get(f"{{{HASH_NS}}}Hash{k}")
            field = f"{where}/@Hash{k}"
            if value is None:
                raise _fail(source, "missing hash alternative", field)
            try:
                digest = bytes.fromhex(value)
            except ValueError:
                raise _fail(source, "not hex", field) from None
            if len(digest) != size:
                raise _fail(source, f"{len(digest)} bytes, size says {size}", field)
            alts.append(digest)
        entries.append(RimEntry(index, active, tuple(alts), size))
    return (
        root.get("tagId") or "",
        meta.get("product") or root.get("name") or "",
        meta.get("edition") or "",
        version,
        tuple(entries),
    )


def _key_info_certs(root: Any, *, source: str) -> tuple[x509.Certificate, ...]:
    out: list[x509.Certificate] = []
    for i, node in enumerate(root.iterfind(f".//{{{DSIG_NS}}}X509Certificate")):
        if i >= _certs.MAX_CERTS:
            raise _fail(source, "too many certificates in KeyInfo")
        try:
            der = base64.b64decode("".join((node.text or "").split()), validate=True)
            out.append(x509.load_der_x509_certificate(der))
        except (binascii.Error, ValueError):
            raise _fail(
                source, "a KeyInfo X509Certificate does not decode", f"X509Certificate[{i}]"
            ) from None
    return tuple(out)


def looks_like(data: bytes) -> bool:
    """Whether ``data`` starts like a SWID tag (cheap test on the first bytes)."""
    head = data[:2048]
    return b"SoftwareIdentity" in head and b"<" in head[:64]


def parse_rim(data: bytes, *, source: str) -> Rim:
    """Parse a RIM document (hardened); the signature is not checked here."""
    root = parse_xml(data, source=source)
    tag_id, product, edition, version, entries = read_content(root, source=source)
    return Rim(
        source,
        data,
        tag_id,
        product,
        edition,
        version,
        entries,
        _key_info_certs(root, source=source),
    )


@dataclass(frozen=True)
class RimCheck:
    """What :func:`verify_rim` found. ``signature`` is ``valid``, ``digest-mismatch``,
    ``invalid`` or ``no-signer``; ``chain`` as :class:`~refkit.evidence.gpu.certs.ChainFacts`.
    ``signed`` is the RIM as read from what the signature covers (None unless valid)."""

    rim: Rim
    signature: str
    signature_detail: str
    chain: _certs.ChainFacts
    signed: Rim | None

    @property
    def ok(self) -> bool:
        return self.signature == "valid" and self.chain.problem is None


def _signature(rim: Rim) -> tuple[str, str, Rim | None]:
    # Imported here: signxml is only needed when a RIM is verified.
    from signxml.exceptions import InvalidDigest, InvalidInput, SignXMLException
    from signxml.verifier import SignatureConfiguration, XMLVerifier

    if not rim.certificates:
        return "no-signer", "KeyInfo holds no X509Certificate", None
    signer = rim.certificates[0]
    # signxml judges the signature only: a time inside the signer's validity window, so
    # that the explicit verification time is judged once, by the chain check.
    inside = signer.not_valid_before_utc + timedelta(seconds=1)
    config = SignatureConfiguration(verification_time=inside, ignore_ambiguous_key_info=True)
    root = parse_xml(rim.data, source=rim.source)
    try:
        result: Any = XMLVerifier().verify(root, x509_cert=signer, expect_config=config)
    except InvalidDigest as exc:
        return "digest-mismatch", f"the signed content was changed: {exc}", None
    except (InvalidInput, SignXMLException, etree.LxmlError, ValueError) as exc:
        # LxmlError: canonicalization refused the document (e.g. a relative namespace
        # URI); ValueError: a malformed value inside the signature.
        why = str(exc)[:200] or type(exc).__name__
        return "invalid", f"XML signature does not verify: {why}", None
    signed_root = result.signed_xml
    if signed_root is None:
        return "invalid", "the signature covers nothing", None
    tag_id, product, edition, version, entries = read_content(signed_root, source=rim.source)
    signed = Rim(rim.source, rim.data, tag_id, product, edition, version, entries, rim.certificates)
    return "valid", f"ecdsa-sha384 by {signer.subject.rfc4514_string()}", signed


def verify_rim(rim: Rim, *, at: datetime, root: x509.Certificate | None = None) -> RimCheck:
    """The XML signature and the signer chain of ``rim`` at ``at`` (see the module doc)."""
    status, detail, signed = _signature(rim)
    chain = _certs.check_chain(rim.certificates, pinned=_certs.RIM_ROOT_SHA256, at=at, root=root)
    return RimCheck(rim, status, detail, chain, signed)


# ---------------------------------------------------------------------------------------
# Merging and comparing


@dataclass(frozen=True)
class Mismatch:
    """One RIM index whose block value is none of the alternatives (or is absent)."""

    index: int
    expected: tuple[bytes, ...]
    actual: bytes | None
    rim: str


@dataclass(frozen=True)
class Merged:
    """The active entries of several RIMs, keyed by RIM index, and conflicts found."""

    entries: Mapping[int, tuple[RimEntry, str]]
    conflicts: tuple[tuple[int, str, str], ...]

    @cached_property
    def ordered(self) -> tuple[tuple[int, frozenset[bytes], RimEntry, str], ...]:
        """(index, accepted values, entry, RIM name) by index: what every comparison
        walks, built once per merge rather than once per evidence."""
        return tuple(
            (index, frozenset(entry.alternatives), entry, name)
            for index, (entry, name) in sorted(self.entries.items())
        )


def merge(rims: Sequence[Rim]) -> Merged:
    """Merge the active indexes of ``rims``; an index active in two is a conflict."""
    out: dict[int, tuple[RimEntry, str]] = {}
    conflicts: list[tuple[int, str, str]] = []
    for rim in rims:
        name = f"{rim.kind} RIM {rim.version}"
        for index, entry in sorted(rim.active.items()):
            if index in out:
                conflicts.append((index, out[index][1], name))
                continue
            out[index] = (entry, name)
    return Merged(MappingProxyType(out), tuple(conflicts))


def compare_blocks(
    merged: Merged, blocks: Mapping[int, bytes], *, skip: frozenset[int] = frozenset()
) -> tuple[int, tuple[Mismatch, ...]]:
    """(indexes compared, mismatches): RIM index i against block i+1; ``skip`` names RIM
    indexes not compared (the NVDEC rule)."""
    mismatches: list[Mismatch] = []
    compared = 0
    get = blocks.get
    for index, accepted, entry, name in merged.ordered:
        if index in skip:
            continue
        compared += 1
        actual = get(index + 1)
        if actual not in accepted:  # None (block absent) is never accepted
            mismatches.append(Mismatch(index, entry.alternatives, actual, name))
    return compared, tuple(mismatches)
