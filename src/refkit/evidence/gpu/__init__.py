"""NVIDIA GPU and NVSwitch confidential-computing evidence, verified offline.

The family's functions follow the evidence contract of the SNP and TDX families:
:func:`looks_like`, :func:`parse`, :func:`verify` (authenticity: device chain to NVIDIA's
device root pinned by fingerprint, SPDM signature, FWID binding, nonce, revocation from
OCSP files), :func:`compare_rims` (measurements against NVIDIA's signed RIMs),
:func:`compare` (against the signed reference manifest's ``gpu`` entries), :func:`show`,
:func:`measured`, and the CPU↔GPU binding (:func:`expected_report_data`,
:func:`check_binding`). :class:`GpuVerifier` caches verified device chains and RIMs
(keyed by their bytes, the verification time and the anchor) for services and the
benchmark; it is thread-safe. Nothing here reaches the network except :mod:`.fetch`.

Modules: :mod:`.spdm` (byte layouts), :mod:`.certs` (chains, FWID extensions),
:mod:`.rim` (SWID tags, XML-DSig), :mod:`.store` (RIM folders), :mod:`.ocsp`,
:mod:`.evidence` (input formats, authenticity), :mod:`.reference` (RIMs, binding),
:mod:`.manifest` (manifest entries). docs/evidence-gpu.md describes the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from cryptography import x509

from refkit.evidence.gpu import certs as _certs
from refkit.evidence.gpu import rim as _rim
from refkit.evidence.gpu.evidence import GpuEvidence, looks_like, parse_evidence, verify_device
from refkit.evidence.gpu.manifest import compare
from refkit.evidence.gpu.reference import (
    RimCache,
    check_binding,
    compare_rims,
    expected_report_data,
    not_compared,
    rim_results,
)
from refkit.evidence.gpu.rim import Rim, parse_rim, verify_rim
from refkit.evidence.gpu.store import RimStore
from refkit.evidence.memo import Memo
from refkit.manifests.model.gpu import BINDING_REPORT_DATA, KIND, GpuReference
from refkit.manifests.model.kind import Kind
from refkit.manifests.model.predicate import ReferenceManifest
from refkit.verification import Result, Verdict

__all__ = [
    "GpuEvidence",
    "GpuVerifier",
    "Rim",
    "RimCache",
    "RimStore",
    "check_binding",
    "compare",
    "compare_rims",
    "expected_report_data",
    "looks_like",
    "measured",
    "parse",
    "parse_rim",
    "rim_results",
    "rim_verdict",
    "show",
    "verify",
    "verify_rim",
]


def parse(data: bytes, *, source: str, chain: bytes | None = None) -> tuple[GpuEvidence, ...]:
    """Every device evidence in ``data`` (hex text, raw bytes, or a JSON evidence list)."""
    return parse_evidence(data, source=source, chain=chain)


def verify(
    evidence: GpuEvidence,
    *,
    at: datetime,
    nonce: bytes | None,
    ocsp_responses: Sequence[Any] = (),
    device_root: x509.Certificate | None = None,
    nonce_required: bool = True,
) -> tuple[Result, ...]:
    """Authenticity of one device evidence at ``at`` (see :mod:`.evidence`)."""
    return verify_device(
        evidence,
        at=at,
        nonce=nonce,
        ocsp_responses=ocsp_responses,
        device_root=device_root,
        nonce_required=nonce_required,
    )


def rim_verdict(check: _rim.RimCheck, *, at: datetime, root_given: bool = False) -> Verdict:
    """The verdict of one RIM checked on its own (``refkit evidence verify-rim``)."""
    rim = check.rim
    return Verdict(
        f"{rim.kind} RIM {rim.version} ({rim.source})",
        rim_results(check, root_given=root_given),
        {
            "verificationTime": at.isoformat().replace("+00:00", "Z"),
            "rim": {k: v for k, v in rim.show().items() if k != "entries"},
        },
    )


def show(evidence: GpuEvidence) -> dict[str, Any]:
    return evidence.show()


def measured(evidence: GpuEvidence) -> dict[str, str]:
    return evidence.measured()


_MAX_CHAINS = 256


class GpuVerifier:
    """Verifies GPU evidences at one time against fixed anchors, caching the device chain
    checks (keyed by the chain's DER bytes) and the RIM checks (keyed by the RIM's
    SHA-256), each in a :class:`~refkit.evidence.memo.Memo` (bounded, thread-safe)."""

    def __init__(
        self,
        *,
        at: datetime,
        rims: Sequence[Rim] = (),
        ocsp_responses: Sequence[Any] = (),
        device_root: x509.Certificate | None = None,
        rim_root: x509.Certificate | None = None,
        nonce_required: bool = True,
    ) -> None:
        self.at = at
        self.nonce_required = nonce_required
        self.rims = tuple(rims)
        self.ocsp_responses = tuple(ocsp_responses)
        self.device_root = device_root
        self.rim_root = rim_root
        self._chains = Memo(_MAX_CHAINS)
        # The same certificate objects again (a caller that keeps its parsed chains):
        # found by identity, without hashing every DER (a tenth of an evidence's Python
        # time). The entry holds the objects, so their ids stay theirs while it lives.
        self._chains_by_id = Memo(_MAX_CHAINS)
        self._rims = RimCache(at=at, root=rim_root, ocsp_responses=ocsp_responses)

    def chain(self, evidence: GpuEvidence) -> _certs.ChainFacts:
        key = evidence.certificates  # certificates hash and compare by their DER bytes

        def by_der() -> tuple[tuple[x509.Certificate, ...], _certs.ChainFacts]:
            facts = self._chains.get(
                key,
                partial(
                    _certs.check_chain,
                    key,
                    pinned=_certs.DEVICE_ROOT_SHA256,
                    at=self.at,
                    root=self.device_root,
                ),
            )
            return key, facts

        return self._chains_by_id.get(tuple(map(id, key)), by_der)[1]

    def check_rim(self, rim: Rim) -> _rim.RimCheck:
        return self._rims.check(rim)

    def verify_one(
        self,
        evidence: GpuEvidence,
        *,
        nonce: bytes | None,
        manifest: ReferenceManifest | None = None,
    ) -> tuple[Result, ...]:
        """Authenticity, RIM comparison and (with a manifest) the manifest checks."""
        results = list(
            verify_device(
                evidence,
                at=self.at,
                nonce=nonce,
                chain_facts=self.chain(evidence),
                ocsp_responses=self.ocsp_responses,
                device_root=self.device_root,
                nonce_required=self.nonce_required,
            )
        )
        used: tuple[Rim, ...] = ()
        if self.rims:
            rim_res, used = compare_rims(evidence, self.rims, at=self.at, cache=self._rims)
            results.extend(rim_res)
        else:
            pinned = manifest is not None and any(e.measurements for e in manifest.of(_gpu_kind()))
            results.append(not_compared(evidence, required=not pinned))
        if manifest is not None:
            results.extend(compare(evidence, manifest, rims_used=used))
        return tuple(results)

    def verify_all(
        self,
        evidences: Sequence[GpuEvidence],
        *,
        nonce: bytes | None,
        manifest: ReferenceManifest | None = None,
        cpu_report_data: bytes | None = None,
        subject: str = "GPU evidence",
    ) -> Verdict:
        """One verdict for every device, and the binding to the CPU evidence."""
        results: list[Result] = []
        for evidence in evidences:
            results.extend(self.verify_one(evidence, nonce=nonce, manifest=manifest))
        required = manifest is not None and any(
            e.binding == BINDING_REPORT_DATA for e in manifest.of(_gpu_kind())
        )
        results.append(check_binding(evidences, cpu_report_data, required=required))
        facts = {
            "verificationTime": self.at.isoformat().replace("+00:00", "Z"),
            "devices": [e.measured() for e in evidences],
            "expectedReportData": expected_report_data(evidences).hex(),
        }
        return Verdict(subject, tuple(results), facts)


def _gpu_kind() -> Kind[GpuReference]:
    return KIND
