"""GPU and NVSwitch evidence: the input formats, the parsed value, and its authenticity.

Inputs (picked by content, :func:`parse_evidence`):

- NVIDIA's hex text report: one line of hex, request || response (nvtrust's
  ``attestationReport.txt``), with its device chain given separately (PEM, leaf first);
- the JSON evidence list NVIDIA's verifiers pass around: a list of
  ``{"evidence": base64(report bytes), "certificate": base64(PEM chain), "arch": ...}``,
  or the object ``{"nonce": hex, "evidence_list": [...], "arch": ...}`` that wraps it;
- the raw report bytes.

Authenticity (:func:`verify_device`), in order: the device chain to NVIDIA's device root
pinned by fingerprint at ``at``; the SPDM signature (ECDSA P-384, SHA-384 over request ||
response without the signature) with the leaf key; the FWID binding (the report's opaque
field 20 against the leaf's FWID extension); the request nonce against the verifier's;
revocation from OCSP response files, else "not checked".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from cryptography import x509

from refkit.errors import Location, ParseError
from refkit.evidence.errors import MaterialMissing
from refkit.evidence.gpu import certs as _certs
from refkit.evidence.gpu import ocsp as _ocsp
from refkit.evidence.gpu import spdm
from refkit.evidence.memo import Memo
from refkit.verification import PinnedRoot, Result

MAX_EVIDENCE_BYTES = 16 * 1024 * 1024
MAX_DEVICES = 64

DEVICE_ROOT = PinnedRoot("NVIDIA Device Identity CA", _certs.DEVICE_ROOT_SHA256)

_HEX_TEXT = re.compile(rb"\s*([0-9a-fA-F]+)\s*")
_CHIP = re.compile(r"(GH100|GB100|GB10[0-9]|LS_?10|[A-Z]{1,3}[0-9]{2,3})\b")

KIND_GPU = "gpu"
KIND_SWITCH = "switch"


@dataclass(frozen=True)
class LeafFacts:
    """What a device leaf certificate says of the device: its chip and FWID extension
    (``(OID, FWID)``, or None without one; ``fwid_error`` when it is malformed)."""

    chip: str | None
    fwid: tuple[str, bytes] | None
    fwid_error: str | None


# Leaf facts by certificate object: every evidence reads them, a verifier is given the
# same parsed chain again and again, and reading them is a tenth of an evidence's Python
# time. An entry holds its certificate, so its id is no other live certificate's.
_LEAVES = Memo(256)


def leaf_facts(cert: x509.Certificate) -> LeafFacts:
    """The :class:`LeafFacts` of ``cert`` (remembered for the certificate object)."""
    held, facts = _LEAVES.get(id(cert), partial(_read_leaf, cert))
    return facts if held is cert else _read_leaf(cert)[1]


def _read_leaf(cert: x509.Certificate) -> tuple[x509.Certificate, LeafFacts]:
    chip = None
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if cns:
        value = cns[0].value
        name = value if isinstance(value, str) else value.decode("utf-8", "replace")
        match = _CHIP.match(name)
        chip = match.group(1).replace("_", "") if match else None
    fwid: tuple[str, bytes] | None = None
    error = None
    try:
        fwid = _certs.leaf_fwid(cert)
    except _certs.DerError as exc:
        error = str(exc)
    return cert, LeafFacts(chip, fwid, error)


@dataclass(frozen=True)
class GpuEvidence:
    """One device's evidence: the report bytes, its parse, and the chain given with it."""

    source: str
    raw: bytes
    measurements: spdm.SpdmMeasurements
    certificates: tuple[x509.Certificate, ...]
    arch: str | None = None

    # --- opaque fields

    @property
    def kind(self) -> str:
        """``switch`` when the report carries NVSwitch fields (PDI), else ``gpu``."""
        m = self.measurements
        if (
            m.field(spdm.OPAQUE_SWITCH_PDI) is not None
            and m.field(spdm.OPAQUE_DRIVER_VERSION) is None
        ):
            return KIND_SWITCH
        return KIND_GPU

    @property
    def driver_version(self) -> str | None:
        return spdm.text(self.measurements.field(spdm.OPAQUE_DRIVER_VERSION))

    @property
    def vbios_version(self) -> str | None:
        return spdm.vbios_version(self.measurements.field(spdm.OPAQUE_VBIOS_VERSION))

    @property
    def fwid(self) -> bytes | None:
        return self.measurements.field(spdm.OPAQUE_FWID)

    @property
    def nvdec_status(self) -> int | None:
        value = self.measurements.field(spdm.OPAQUE_NVDEC0_STATUS)
        return value[0] if value else None

    @property
    def nonce(self) -> bytes:
        return self.measurements.nonce

    @property
    def chip(self) -> str | None:
        """The chip named by the leaf certificate ("GH100 A01 GSP FMC LF" → GH100;
        "LS_10 ..." → LS10), or None without a chain."""
        return leaf_facts(self.certificates[0]).chip if self.certificates else None

    @property
    def rim_ids(self) -> tuple[str, ...]:
        """NVIDIA's RIM ids for this report, where the report carries what they need."""
        out = []
        m = self.measurements
        if self.driver_version and self.chip:
            out.append(f"NV_GPU_DRIVER_{self.chip}_{self.driver_version}")
        parts = [
            spdm.text(m.field(t))
            for t in (spdm.OPAQUE_PROJECT, spdm.OPAQUE_PROJECT_SKU, spdm.OPAQUE_CHIP_SKU)
        ]
        if self.vbios_version and all(parts):
            prefix = "NV_SWITCH_BIOS" if self.kind == KIND_SWITCH else "NV_GPU_VBIOS"
            out.append(
                f"{prefix}_{'_'.join(p or '' for p in parts)}_{self.vbios_version.replace('.', '')}"
            )
        return tuple(out)

    @property
    def digest(self) -> bytes:
        """SHA-256 over the report bytes (request || response, signature included): what
        the CPU↔GPU binding commits to."""
        return hashlib.sha256(self.raw).digest()

    def blocks(self) -> Mapping[int, bytes]:
        """Block index → value (read-only)."""
        return self.measurements.values

    def show(self) -> dict[str, Any]:
        m = self.measurements
        return {
            "source": self.source,
            "kind": self.kind,
            "chip": self.chip,
            "arch": self.arch,
            "driverVersion": self.driver_version,
            "vbiosVersion": self.vbios_version,
            "rimIds": list(self.rim_ids),
            "nonce": m.nonce.hex(),
            "responderNonce": m.responder_nonce.hex(),
            "slot": m.slot,
            "fwid": self.fwid.hex() if self.fwid else None,
            "nvdec0Status": None if self.nvdec_status is None else f"{self.nvdec_status:#04x}",
            "sha256": self.digest.hex(),
            "blocks": {str(b.number): b.value.hex() for b in m.blocks},
            "opaque": [
                {
                    "type": f.type,
                    "name": spdm.OPAQUE_NAMES.get(f.type, f"type-{f.type}"),
                    "value": f.value.hex(),
                }
                for f in m.opaque
            ],
            "signature": m.signature.hex(),
            "certificates": [c.subject.rfc4514_string() for c in self.certificates],
        }

    def measured(self) -> dict[str, str]:
        out = {"device": self.kind, "chip": self.chip or "-"}
        if self.driver_version:
            out["driver"] = self.driver_version
        if self.vbios_version:
            out["vbios" if self.kind == KIND_GPU else "bios"] = self.vbios_version
        out["sha256"] = self.digest.hex()
        return out


# ---------------------------------------------------------------------------------------
# Input formats


def _from_hex_text(data: bytes) -> bytes | None:
    match = _HEX_TEXT.fullmatch(data)
    if match is None or len(match.group(1)) % 2:
        return None
    return bytes.fromhex(match.group(1).decode("ascii"))


def looks_like(data: bytes) -> bool:
    """Whether ``data`` is a GPU report (hex text or raw) or a JSON evidence list."""
    head = data[:4096].lstrip()
    if head[:1] in (b"[", b"{"):
        return b'"evidence' in head
    if head[:4].lower() == b"11e0":
        return _from_hex_text(head[:64]) is not None or bool(
            re.fullmatch(rb"[0-9a-fA-F]+", head[:64])
        )
    return data[:2] == bytes([spdm.SPDM_VERSION_1_1, spdm.GET_MEASUREMENTS])


def _b64(value: Any, *, source: str, field: str) -> bytes:
    if not isinstance(value, str):
        raise ParseError("expected a base64 string", location=Location(source, field=field))
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ParseError("not base64", location=Location(source, field=field)) from None


def _report_bytes(data: bytes) -> bytes:
    raw = _from_hex_text(data)
    return raw if raw is not None else data


def parse_evidence(
    data: bytes, *, source: str, chain: bytes | None = None
) -> tuple[GpuEvidence, ...]:
    """Every device evidence in ``data`` (hex text, raw, or a JSON evidence list);
    ``chain`` is the PEM chain for a lone report (a JSON list carries its own)."""
    if len(data) > MAX_EVIDENCE_BYTES:
        raise ParseError(
            f"{len(data)} bytes, more than {MAX_EVIDENCE_BYTES}", location=Location(source)
        )
    head = data.lstrip()[:1]
    if head in (b"[", b"{"):
        return _parse_json(data, source=source, chain=chain)
    certs = _certs.load_certificates(chain, source=f"{source} (chain)") if chain else ()
    raw = _report_bytes(data)
    return (GpuEvidence(source, raw, spdm.parse(raw, source=source), certs),)


def _parse_json(data: bytes, *, source: str, chain: bytes | None) -> tuple[GpuEvidence, ...]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"not JSON: {exc}", location=Location(source)) from None
    arch = None
    path = "$"
    if isinstance(value, dict):
        if not isinstance(value.get("evidence_list"), list):
            raise ParseError(
                "expected an evidence_list", location=Location(source, field="$.evidence_list")
            )
        arch = value.get("arch") if isinstance(value.get("arch"), str) else None
        value = value["evidence_list"]
        path = "$.evidence_list"
    if not isinstance(value, list) or not value:
        raise ParseError(
            "expected a non-empty list of evidences", location=Location(source, field=path)
        )
    if len(value) > MAX_DEVICES:
        raise ParseError(
            f"more than {MAX_DEVICES} evidences", location=Location(source, field=path)
        )
    out = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            raise ParseError("expected an object", location=Location(source, field=where))
        report = _b64(item.get("evidence"), source=source, field=f"{where}.evidence")
        report = _report_bytes(report)
        pem = item.get("certificate")
        chain_bytes = (
            _b64(pem, source=source, field=f"{where}.certificate") if pem is not None else chain
        )
        certs = (
            _certs.load_certificates(chain_bytes, source=f"{source} {where}.certificate")
            if chain_bytes
            else ()
        )
        item_arch = item.get("arch") if isinstance(item.get("arch"), str) else arch
        out.append(
            GpuEvidence(
                f"{source}[{i}]",
                report,
                spdm.parse(report, source=f"{source} {where}.evidence"),
                certs,
                item_arch,
            )
        )
    return tuple(out)


# ---------------------------------------------------------------------------------------
# Authenticity

CHAIN_CODES = {
    None: "gpu.device.chain.valid",
    "not-pinned": "gpu.device.chain.not-pinned",
    "root-not-ca": "gpu.device.chain.not-ca",
    "broken": "gpu.device.chain.broken",
    "not-ca": "gpu.device.chain.not-ca",
    "expired": "gpu.device.chain.expired",
}


def verify_device(
    evidence: GpuEvidence,
    *,
    at: datetime,
    nonce: bytes | None,
    chain_facts: _certs.ChainFacts | None = None,
    ocsp_responses: Sequence[Any] = (),
    device_root: x509.Certificate | None = None,
    nonce_required: bool = True,
) -> tuple[Result, ...]:
    """Chain, signature, FWID, nonce and revocation of one device evidence.
    ``nonce_required``: whether a missing ``nonce`` fails the verdict (the caller's policy).

    Raises :class:`~refkit.evidence.errors.MaterialMissing` (exit 3) when the evidence
    came without its device certificate chain."""
    if not evidence.certificates:
        raise MaterialMissing(
            f"the device certificate chain of {evidence.source} was not given",
            hint="give the PEM chain the guest collected with the report (leaf first)",
        )
    who = f"{evidence.kind} {evidence.source}"
    results: list[Result] = []
    facts = chain_facts or _certs.check_chain(
        evidence.certificates, pinned=_certs.DEVICE_ROOT_SHA256, at=at, root=device_root
    )
    results.append(
        Result.of(
            CHAIN_CODES[facts.problem],
            facts.detail,
            check="device certificate chain",
            subject=who,
            anchor=DEVICE_ROOT
            if device_root is None
            else PinnedRoot("given device root", facts.anchor or ""),
        )
    )
    m = evidence.measurements
    leaf = evidence.certificates[0] if evidence.certificates else None
    good = leaf is not None and _certs.verify_p384(leaf.public_key(), m.signature, m.signed)
    results.append(
        Result.of(
            "gpu.report.signature.valid" if good else "gpu.report.signature.invalid",
            "ECDSA P-384 over request || response by the leaf key"
            if good
            else "the signature does not verify with the chain's leaf key (altered report, or "
            "the report of another device)",
            check="report signature",
            subject=who,
        )
    )
    results.append(_fwid_result(evidence, leaf, who))
    if nonce is None:
        results.append(
            Result.of(
                "gpu.nonce.not-given",
                "no nonce given: the report may be a replay",
                check="nonce",
                subject=who,
                actual=m.nonce.hex(),
                required=nonce_required,
            )
        )
    else:
        code = "gpu.nonce.match" if m.nonce == nonce else "gpu.nonce.mismatch"
        results.append(
            Result.of(
                code,
                "the request nonce is the verifier's"
                if code == "gpu.nonce.match"
                else "another nonce",
                check="nonce",
                subject=who,
                expected=nonce.hex(),
                actual=m.nonce.hex(),
            )
        )
    if facts.problem is None:
        results.extend(_ocsp.check_path(facts.path, ocsp_responses, at=at, subject=who))
    return tuple(results)


def _fwid_result(evidence: GpuEvidence, leaf: x509.Certificate | None, who: str) -> Result:
    fwid = evidence.fwid
    if fwid is None:
        return Result.of(
            "gpu.fwid.absent",
            "the report carries no FWID: the firmware is bound by the signature alone",
            check="FWID binding",
            subject=who,
            required=False,
        )
    facts = leaf_facts(leaf) if leaf is not None else None
    if facts is not None and facts.fwid_error is not None:
        return Result.of(
            "gpu.device.chain.bad-extension",
            f"leaf FWID extension: {facts.fwid_error}",
            check="FWID binding",
            subject=who,
        )
    found = facts.fwid if facts is not None else None
    if found is None:
        return Result.of(
            "gpu.fwid.no-extension",
            "the leaf certificate has no FWID extension",
            check="FWID binding",
            subject=who,
            actual=fwid.hex(),
        )
    oid, cert_fwid = found
    # NVIDIA compares the report's FWID with the last 48 bytes of the certificate's.
    ok = cert_fwid[-len(fwid) :] == fwid and len(cert_fwid) >= len(fwid)
    return Result.of(
        "gpu.fwid.match" if ok else "gpu.fwid.mismatch",
        f"report field 20 against extension {oid}",
        check="FWID binding",
        subject=who,
        expected=cert_fwid.hex(),
        actual=fwid.hex(),
    )
