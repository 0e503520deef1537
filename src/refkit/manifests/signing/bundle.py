"""Sigstore bundle JSON: strict reading of any producer's bundle, deterministic writing of ours.

Spec: sigstore/protobuf-specs ``protos/sigstore_bundle.proto`` (``Bundle``,
``VerificationMaterial``) and ``envelope.proto`` (DSSE), in their proto3 JSON mapping
(camelCase names, ``bytes`` as base64). refkit writes bundle v0.3
(``application/vnd.dev.sigstore.bundle.v0.3+json``) of this shape::

    {"dsseEnvelope": {"payload": B64, "payloadType": "application/vnd.in-toto+json",
                      "signatures": [{"keyid": KEYID, "sig": B64}]},
     "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
     "verificationMaterial": {"publicKey": {"hint": HINT}, "tlogEntries": []}}

serialised as RFC 8785 canonical JSON plus a final newline, so the same signature always
gives the same file.

Reading (:func:`parse_bundle`) accepts media types v0.1 to v0.3 and is strict about every
part refkit interprets: duplicate keys, unknown keys at the top level, in the verification
material, the envelope and its signatures are refused, as are strings with lone surrogate
escapes (not UTF-8 text) and base64 strings that are not the canonical standard encoding
(a second spelling of the same bytes would let a changed byte go unnoticed), and
envelopes with more than :data:`MAX_SIGNATURES` signatures. Transparency-log entries and
timestamps are kept as raw JSON for sigstore-python, which checks them on the keyless
path; refkit's key-based bundles carry none. Every failure is a
:class:`~refkit.errors.ParseError` naming the source and field.

Cost bounds: what refkit does not interpret could otherwise be padded for free (a 64 MiB
key-based bundle of empty ``tlogEntries`` took 27 s and 3.3 GB to parse). Before the JSON
parser builds anything, one linear pass counts the document's strings, arrays, objects
and elements and refuses more than :data:`MAX_BUNDLE_VALUES` (a real keyless bundle has a
few hundred); after parsing, more than :data:`MAX_TLOG_ENTRIES` transparency-log entries are
refused. So parsing costs time linear in the size and memory of a few times the size.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from refkit.errors import InputError, Location, ParseError
from refkit.manifests.canonical import canonical_dumps, loads_strict
from refkit.manifests.constants import BUNDLE_MEDIA_TYPE, MAX_DOCUMENT_BYTES
from refkit.manifests.signing.dsse import Envelope, Signature

#: Bundle media types refkit reads (it writes only the first).
KNOWN_MEDIA_TYPES = (
    BUNDLE_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
)

#: Largest bundle read (bytes).
MAX_BUNDLE_BYTES = MAX_DOCUMENT_BYTES

#: Most signatures read from one envelope. refkit writes one and sigstore-python accepts
#: one; each is tried with each candidate key, so the count bounds the verifier's work.
MAX_SIGNATURES = 16

#: Most strings, arrays, objects and array or object elements in one bundle (counted
#: before the JSON parser runs). Sigstore's keyless bundles hold a few hundred (certificate chain,
#: inclusion proof hashes, checkpoint, timestamps); refkit's key-based bundles about ten.
MAX_BUNDLE_VALUES = 10_000

#: Most transparency-log entries read. Sigstore writes one per signature; refkit's
#: key-based bundles carry none and ignore any (cosign may add its Rekor entry).
MAX_TLOG_ENTRIES = 32

#: One step of :func:`_count_values`: anything but a quote, a backslash or a structural
#: character, then a whole JSON string (escapes included) or one of ``[ { ,``. Matched
#: anchored at each step and with possessive repeats (no backtracking state kept), so
#: the pass is linear in time and constant in memory.
_STEP = re.compile(rb'[^"\\\[{,]*+(?:"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[{,])', re.DOTALL)

_TOP_KEYS = frozenset({"mediaType", "verificationMaterial", "dsseEnvelope", "messageSignature"})
_MATERIAL_KEYS = frozenset(
    {"publicKey", "certificate", "x509CertificateChain", "tlogEntries", "timestampVerificationData"}
)
_ENVELOPE_KEYS = frozenset({"payload", "payloadType", "signatures"})
_SIGNATURE_KEYS = frozenset({"sig", "keyid"})


@dataclass(frozen=True)
class PublicKeyHint:
    """Key-based verification material: an unsigned hint naming the key (may be empty)."""

    hint: str


@dataclass(frozen=True)
class CertificateMaterial:
    """Keyless (or X.509) verification material: DER certificates, leaf first."""

    certificates: tuple[bytes, ...]


VerificationMaterial = PublicKeyHint | CertificateMaterial


@dataclass(frozen=True)
class Bundle:
    """A parsed Sigstore bundle. ``raw`` keeps the exact bytes read (for sigstore-python)."""

    source: str
    media_type: str
    material: VerificationMaterial
    envelope: Envelope | None
    has_message_signature: bool
    tlog_entries: int
    raw: bytes = field(compare=False, repr=False, default=b"")

    @property
    def keyless(self) -> bool:
        return isinstance(self.material, CertificateMaterial)


class _Reader:
    """Field access that turns every shape problem into a ParseError naming the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, message: str, path: str) -> ParseError:
        return ParseError(message, location=Location(self.source, field=path))

    def obj(self, value: Any, path: str, allowed: frozenset[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"expected a JSON object, found {_kind(value)}", path)
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(f"unknown key {unknown[0]!r}", path)
        return value

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(f"expected a string, found {_kind(value)}", path)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # JSON's \ud800 escapes decode to lone surrogates, which no UTF-8 text holds
            # (the PAE encodes the payload type as UTF-8).
            raise self.fail("not UTF-8 text (a lone surrogate escape)", path) from None
        return value

    def b64(self, value: Any, path: str) -> bytes:
        text = self.string(value, path)
        try:
            decoded = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise self.fail("not valid base64", path) from None
        if base64.b64encode(decoded).decode("ascii") != text:
            raise self.fail("not the canonical base64 encoding of its bytes", path)
        return decoded


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def _count_values(data: bytes, limit: int) -> int:
    """How many strings, ``[``, ``{`` and ``,`` (outside strings) ``data`` holds, counting
    up to just past ``limit``: an upper bound on the values a JSON parser would build from
    the document, computed without building any. Stops at the first thing that is not
    JSON (an unterminated string): the parser, reading in the same order, fails there."""
    count = 0
    pos = 0
    end = len(data)
    step = _STEP.match
    while pos < end and count <= limit:
        m = step(data, pos)
        if m is None:
            break
        pos = m.end()
        count += 1
    return count


def check_bundle_cost(data: bytes, *, source: str) -> None:
    """Refuse a document holding more JSON values than any bundle, before it is parsed.

    :func:`parse_bundle` calls it first; code that parses a document which may be a
    bundle some other way (to tell a statement from a bundle) calls it before that.
    Raises :class:`~refkit.errors.ParseError` (exit 2).
    """
    if len(data) <= MAX_BUNDLE_BYTES and _count_values(data, MAX_BUNDLE_VALUES) > MAX_BUNDLE_VALUES:
        raise ParseError(
            f"more than {MAX_BUNDLE_VALUES} JSON strings, arrays, objects and elements: "
            "more than any Sigstore bundle holds",
            location=Location(source),
            hint="a bundle padded with content refkit does not read (empty tlogEntries?) "
            "is refused before it is parsed",
        )


def parse_bundle(data: bytes, *, source: str) -> Bundle:
    """Parse and validate a Sigstore bundle (see the module docstring for what is refused)."""
    check_bundle_cost(data, source=source)
    value = loads_strict(data, source=source, max_bytes=MAX_BUNDLE_BYTES)
    return bundle_from_value(value, data, source=source)


def bundle_from_value(value: Any, data: bytes, *, source: str) -> Bundle:
    """Validate a bundle already parsed with ``loads_strict`` from ``data``, bytes that passed
    :func:`check_bundle_cost` (for readers that parse a document before they know it is
    a bundle: the bytes are parsed once)."""
    r = _Reader(source)
    if isinstance(value, dict) and "_type" in value and "mediaType" not in value:
        raise InputError(
            f"{source}: this is an unsigned in-toto statement, not a Sigstore bundle",
            hint="sign it first, with refkit manifest sign",
        )
    doc = r.obj(value, "$", _TOP_KEYS)
    media_type = r.string(doc.get("mediaType"), "mediaType")
    if media_type not in KNOWN_MEDIA_TYPES:
        raise r.fail(f"unsupported bundle media type {media_type!r}", "mediaType")

    vm = r.obj(doc.get("verificationMaterial"), "verificationMaterial", _MATERIAL_KEYS)
    kinds = [k for k in ("publicKey", "certificate", "x509CertificateChain") if k in vm]
    if len(kinds) != 1:
        raise r.fail(
            "needs exactly one of publicKey, certificate, x509CertificateChain",
            "verificationMaterial",
        )
    material: VerificationMaterial
    if kinds[0] == "publicKey":
        pk = r.obj(vm["publicKey"], "verificationMaterial.publicKey", frozenset({"hint"}))
        material = PublicKeyHint(
            r.string(pk.get("hint", ""), "verificationMaterial.publicKey.hint")
        )
    elif kinds[0] == "certificate":
        cert = r.obj(vm["certificate"], "verificationMaterial.certificate", frozenset({"rawBytes"}))
        material = CertificateMaterial(
            (r.b64(cert.get("rawBytes"), "verificationMaterial.certificate.rawBytes"),)
        )
    else:
        path = "verificationMaterial.x509CertificateChain"
        chain = r.obj(vm["x509CertificateChain"], path, frozenset({"certificates"}))
        certs = chain.get("certificates")
        if not isinstance(certs, list) or not certs:
            raise r.fail("expected a non-empty array", f"{path}.certificates")
        material = CertificateMaterial(
            tuple(
                r.b64(
                    r.obj(c, f"{path}.certificates[{i}]", frozenset({"rawBytes"})).get("rawBytes"),
                    f"{path}.certificates[{i}].rawBytes",
                )
                for i, c in enumerate(certs)
            )
        )
    entries = vm.get("tlogEntries", [])
    if not isinstance(entries, list):
        raise r.fail("expected an array", "verificationMaterial.tlogEntries")
    if len(entries) > MAX_TLOG_ENTRIES:
        raise r.fail(
            f"{len(entries)} transparency-log entries, more than the limit of {MAX_TLOG_ENTRIES}",
            "verificationMaterial.tlogEntries",
        )

    if ("dsseEnvelope" in doc) == ("messageSignature" in doc):
        raise r.fail("needs exactly one of dsseEnvelope, messageSignature", "$")
    envelope = None
    if "dsseEnvelope" in doc:
        envelope = _parse_envelope(r, doc["dsseEnvelope"])
    return Bundle(
        source=source,
        media_type=media_type,
        material=material,
        envelope=envelope,
        has_message_signature="messageSignature" in doc,
        tlog_entries=len(entries),
        raw=bytes(data),
    )


def _parse_envelope(r: _Reader, value: Any) -> Envelope:
    env = r.obj(value, "dsseEnvelope", _ENVELOPE_KEYS)
    payload = r.b64(env.get("payload"), "dsseEnvelope.payload")
    payload_type = r.string(env.get("payloadType"), "dsseEnvelope.payloadType")
    if not payload_type:
        raise r.fail("empty payload type", "dsseEnvelope.payloadType")
    sigs = env.get("signatures")
    if not isinstance(sigs, list) or not sigs:
        raise r.fail("expected a non-empty array", "dsseEnvelope.signatures")
    if len(sigs) > MAX_SIGNATURES:
        raise r.fail(
            f"{len(sigs)} signatures, more than the limit of {MAX_SIGNATURES}",
            "dsseEnvelope.signatures",
        )
    signatures = []
    for i, s in enumerate(sigs):
        path = f"dsseEnvelope.signatures[{i}]"
        obj = r.obj(s, path, _SIGNATURE_KEYS)
        sig = r.b64(obj.get("sig"), f"{path}.sig")
        if not sig:
            raise r.fail("empty signature", f"{path}.sig")
        signatures.append(Signature(sig, r.string(obj.get("keyid", ""), f"{path}.keyid")))
    return Envelope(payload, payload_type, tuple(signatures))


def key_bundle(envelope: Envelope, hint: str) -> dict[str, Any]:
    """The JSON document of a key-based bundle v0.3 holding ``envelope``."""
    signatures = []
    for s in envelope.signatures:
        entry = {"sig": base64.b64encode(s.sig).decode("ascii")}
        if s.keyid:
            entry["keyid"] = s.keyid
        signatures.append(entry)
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(envelope.payload).decode("ascii"),
            "payloadType": envelope.payload_type,
            "signatures": signatures,
        },
    }


def dump_bundle(document: dict[str, Any]) -> bytes:
    """Serialise a bundle document: RFC 8785 canonical JSON and a final newline."""
    return canonical_dumps(document) + b"\n"
