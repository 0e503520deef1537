"""GPU evidence against reference values: NVIDIA's RIMs, the signed manifest's ``gpu``
entries, and the CPU↔GPU binding.

RIMs (:func:`compare_rims`): a GPU needs its driver RIM (by the report's driver version)
and its VBIOS RIM (by its VBIOS version); an NVSwitch its BIOS RIM. Each RIM used must
verify (XML signature, chain to the pinned RIM root at ``at``). Their active indexes are
merged (an index active in two is ``gpu.rim.index.conflict``) and RIM index i is
compared with SPDM block i+1 against the alternatives; when the report says NVDEC0 is
disabled (opaque field 11 = 0x55) RIM index 35 is skipped, as NVIDIA does. Every
mismatching index is its own result with the expected alternatives and the actual value.
When a store holds several RIMs for one version, the one that verifies and matches best
is used (ties: source order).

Binding (:func:`expected_report_data`): the CPU evidence's 64-byte REPORT_DATA must be
SHA-512 over the concatenation of the SHA-256 digests of every GPU evidence (its report
bytes, request || response, signature included), sorted bytewise. The GPU reports carry
the verifier's nonce, so a CPU report bound to them is as fresh as they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from cryptography import x509

from refkit.evidence.errors import MaterialMissing
from refkit.evidence.gpu import certs as _certs
from refkit.evidence.gpu import ocsp as _ocsp
from refkit.evidence.gpu import rim as _rim
from refkit.evidence.gpu import spdm
from refkit.evidence.gpu.evidence import KIND_SWITCH, GpuEvidence
from refkit.evidence.memo import Memo
from refkit.verification import PinnedRoot, Result

RIM_ROOT = PinnedRoot("NVIDIA CoRIM signing Root CA", _certs.RIM_ROOT_SHA256)
NVDEC_RIM_INDEX = 35

RIM_CHAIN_CODES = {
    None: "gpu.rim.chain.valid",
    "not-pinned": "gpu.rim.chain.not-pinned",
    "root-not-ca": "gpu.rim.chain.not-ca",
    "broken": "gpu.rim.chain.broken",
    "not-ca": "gpu.rim.chain.not-ca",
    "expired": "gpu.rim.chain.expired",
}


def rim_results(check: _rim.RimCheck, *, root_given: bool = False) -> tuple[Result, ...]:
    """The signature and chain results of one RIM check."""
    rim = check.rim
    who = f"{rim.kind} RIM {rim.version}"
    sig_code = {
        "valid": "gpu.rim.signature.valid",
        "digest-mismatch": "gpu.rim.digest.mismatch",
        "invalid": "gpu.rim.signature.invalid",
        "no-signer": "gpu.rim.signer.absent",
    }[check.signature]
    anchor = RIM_ROOT if not root_given else PinnedRoot("given RIM root", check.chain.anchor or "")
    return (
        Result.of(sig_code, check.signature_detail, check="RIM signature", subject=who),
        Result.of(
            RIM_CHAIN_CODES[check.chain.problem],
            check.chain.detail,
            check="RIM signer chain",
            subject=who,
            anchor=anchor,
        ),
    )


def _id_kind(rim_id: str) -> str:
    if rim_id.startswith("NV_GPU_DRIVER_"):
        return _rim.KIND_DRIVER
    if rim_id.startswith("NV_SWITCH_BIOS_"):
        return _rim.KIND_SWITCH_BIOS
    return _rim.KIND_VBIOS


def needed(evidence: GpuEvidence) -> tuple[tuple[str, str | None], ...]:
    """(RIM kind, version from the report) pairs this evidence needs."""
    if evidence.kind == KIND_SWITCH:
        return ((_rim.KIND_SWITCH_BIOS, evidence.vbios_version),)
    return ((_rim.KIND_DRIVER, evidence.driver_version), (_rim.KIND_VBIOS, evidence.vbios_version))


#: What a RIM comparison reads: the RIMs (by SHA-256), then from the evidence its
#: (kind, version) needs, chip, NVDEC0 status and measurement record.
_ComparisonKey = tuple[
    tuple[str, ...], tuple[tuple[str, str | None], ...], str | None, int | None, bytes
]
#: (results, RIMs used); the evidence's own results without a subject.
_Comparison = tuple[tuple[Result, ...], tuple[_rim.Rim, ...]]

#: Comparisons a verifier keeps (one per distinct firmware and RIM set; each holds a
#: measurement record of a few KiB), and RIMs (checks, results, merges). Past either
#: the memory starts again empty.
MAX_REMEMBERED_COMPARISONS = 1024
MAX_REMEMBERED_RIMS = 1024


class RimCache:
    """What a verifier learns about its RIMs once, at one time and anchor: each RIM's
    check and results (signature, chain, revocation), the merge of each set of RIMs used
    together, and each comparison. Keyed by the RIMs' SHA-256 (:class:`Memo`: bounded,
    thread-safe)."""

    def __init__(
        self,
        *,
        at: datetime,
        root: x509.Certificate | None = None,
        ocsp_responses: Sequence[Any] = (),
    ) -> None:
        self.at = at
        self.root = root
        self.ocsp_responses = tuple(ocsp_responses)
        self._checks = Memo(MAX_REMEMBERED_RIMS)
        self._results = Memo(MAX_REMEMBERED_RIMS)
        self._merged = Memo(MAX_REMEMBERED_RIMS)
        self._compared = Memo(MAX_REMEMBERED_COMPARISONS)

    def check(self, rim: _rim.Rim) -> _rim.RimCheck:
        return self._checks.get(
            rim.sha256, partial(_rim.verify_rim, rim, at=self.at, root=self.root)
        )

    def results(self, rim: _rim.Rim) -> tuple[Result, ...]:
        """Signature and chain results, then revocation when the RIM verified."""

        def make() -> tuple[Result, ...]:
            check = self.check(rim)
            made = rim_results(check, root_given=self.root is not None)
            if check.ok:
                made += _ocsp.check_path(
                    check.chain.path,
                    self.ocsp_responses,
                    at=self.at,
                    subject=f"{rim.kind} RIM {rim.version}",
                )
            return made

        return self._results.get(rim.sha256, make)

    def comparison(self, key: _ComparisonKey, make: Callable[[], _Comparison]) -> _Comparison:
        """A comparison made once per distinct inputs (see :func:`compare_rims`)."""
        return self._compared.get(key, make)

    def merged(self, rims: Sequence[_rim.Rim]) -> _rim.Merged:
        return self._merged.get(tuple(r.sha256 for r in rims), partial(_rim.merge, rims))


def compare_rims(
    evidence: GpuEvidence,
    rims: Sequence[_rim.Rim],
    *,
    at: datetime,
    rim_root: x509.Certificate | None = None,
    ocsp_responses: Sequence[Any] = (),
    cache: RimCache | None = None,
) -> tuple[tuple[Result, ...], tuple[_rim.Rim, ...]]:
    """(results, RIMs used): see the module doc. ``cache`` (a verifier's) replaces
    ``at``, ``rim_root`` and ``ocsp_responses`` with its own and keeps RIM work between
    evidences.

    Raises :class:`~refkit.evidence.errors.MaterialMissing` (exit 3) when no RIM of a
    needed kind was given at all; RIMs of that kind for other versions are a failing
    ``gpu.rim.version.mismatch`` instead."""
    memo = cache or RimCache(at=at, root=rim_root, ocsp_responses=ocsp_responses)
    who = f"{evidence.kind} {evidence.source}"
    # The comparison is a function of the RIMs and of what the key names: GPUs of one
    # model and firmware report the same record, so a fleet verifier compares each
    # firmware once and only the results' subject changes from device to device.
    key = (
        tuple(r.sha256 for r in rims),
        needed(evidence),
        evidence.chip,
        evidence.nvdec_status,
        evidence.measurements.record,
    )
    results, chosen = memo.comparison(key, partial(_compare_rims, evidence, rims, memo))
    # The evidence's own results were made without a subject (a RIM's always has one).
    return tuple(r if r.subject is not None else r.for_subject(who) for r in results), chosen


def _compare_rims(evidence: GpuEvidence, rims: Sequence[_rim.Rim], memo: RimCache) -> _Comparison:
    results: list[Result] = []
    chosen: list[_rim.Rim] = []
    blocks = evidence.blocks()
    for kind, version in needed(evidence):
        if version is None:
            results.append(
                Result.of(
                    "gpu.rim.absent",
                    f"the report carries no {kind} version, so no {kind} RIM applies",
                    check="RIM selection",
                )
            )
            continue
        candidates = [r for r in rims if r.kind == kind and r.version.lower() == version.lower()]
        chip = evidence.chip
        if candidates and chip is not None:
            for_chip = [r for r in candidates if r.product.upper().replace("_", "") == chip]
            if not for_chip:
                results.append(
                    Result.of(
                        "gpu.rim.product.mismatch",
                        f"the {kind} RIMs for version {version} are for another chip",
                        check="RIM selection",
                        expected=chip,
                        actual=", ".join(sorted({r.product for r in candidates})),
                    )
                )
                continue
            candidates = for_chip
        if not candidates:
            others = sorted({r.version for r in rims if r.kind == kind})
            if others:
                results.append(
                    Result.of(
                        "gpu.rim.version.mismatch",
                        f"the {kind} RIMs given are for other versions",
                        check="RIM selection",
                        expected=version,
                        actual=", ".join(others),
                    )
                )
            else:
                ids = [i for i in evidence.rim_ids if _id_kind(i) == kind]
                raise MaterialMissing(
                    f"no {kind} RIM for version {version} was given for {evidence.source}",
                    hint=f"fetch {ids[0] if ids else 'it'} from NVIDIA's RIM service into the "
                    "RIM folder (refkit evidence fetch) where the network is reachable",
                )
            continue
        check = _best(candidates, memo, blocks)
        results.extend(memo.results(check.rim))
        results.append(
            Result.of(
                "gpu.rim.version.match",
                f"{kind} RIM for the report's version",
                check="RIM selection",
                expected=version,
                actual=check.rim.version,
            )
        )
        if check.ok and check.signed is not None:
            chosen.append(check.signed)
    if chosen:
        # Only RIMs that verified are compared; a missing or bad one has failed above.
        results.extend(_measurements(evidence, memo.merged(chosen), blocks))
    return tuple(results), tuple(chosen)


def _best(
    candidates: Sequence[_rim.Rim], memo: RimCache, blocks: Mapping[int, bytes]
) -> _rim.RimCheck:
    if len(candidates) == 1:
        return memo.check(candidates[0])
    scored = []
    for order, cand in enumerate(candidates):
        check = memo.check(cand)
        if check.ok and check.signed is not None:
            _, mism = _rim.compare_blocks(memo.merged([check.signed]), blocks)
            scored.append((0, len(mism), order, check))
        else:
            scored.append((1, 0, order, check))
    scored.sort(key=lambda s: s[:3])
    return scored[0][3]


def _measurements(
    evidence: GpuEvidence, merged: _rim.Merged, blocks: Mapping[int, bytes]
) -> list[Result]:
    out: list[Result] = []
    for index, first, second in merged.conflicts:
        out.append(
            Result.of(
                "gpu.rim.index.conflict",
                f"RIM index {index} is active in both {first} and {second}",
                check="RIM merge",
            )
        )
    skip = (
        frozenset({NVDEC_RIM_INDEX})
        if evidence.nvdec_status == spdm.NVDEC_DISABLED
        else frozenset()
    )
    compared, mismatches = _rim.compare_blocks(merged, blocks, skip=skip)
    for m in mismatches:
        out.append(
            Result.of(
                "gpu.measurements.mismatch",
                f"RIM index {m.index} (block {m.index + 1}, from the {m.rim}) is none of its "
                f"{len(m.expected)} alternative(s)",
                check="measurements",
                expected=" | ".join(e.hex() for e in m.expected),
                actual=m.actual.hex() if m.actual is not None else "(block absent)",
            )
        )
    if not mismatches and not merged.conflicts:
        note = f"; RIM index {NVDEC_RIM_INDEX} skipped (NVDEC0 disabled)" if skip else ""
        out.append(
            Result.of(
                "gpu.measurements.match",
                f"{compared} active RIM indexes match{note}",
                check="measurements",
            )
        )
    return out


def not_compared(evidence: GpuEvidence, *, required: bool = True) -> Result:
    return Result.of(
        "gpu.measurements.not-compared",
        "no RIMs were given: the GPU firmware and driver measurements were not compared",
        check="measurements",
        subject=f"{evidence.kind} {evidence.source}",
        required=required,
    )


# ---------------------------------------------------------------------------------------
# Binding


def expected_report_data(evidences: Sequence[GpuEvidence]) -> bytes:
    """The 64-byte REPORT_DATA that binds a CPU evidence to ``evidences``."""
    return hashlib.sha512(b"".join(sorted(e.digest for e in evidences))).digest()


def check_binding(
    evidences: Sequence[GpuEvidence], report_data: bytes | None, *, required: bool = False
) -> Result:
    """Whether the CPU evidence's REPORT_DATA commits to ``evidences``; ``required``
    (the manifest declares a binding) makes a missing CPU evidence fail the verdict."""
    expected = expected_report_data(evidences)
    if report_data is None:
        return Result.of(
            "gpu.binding.not-checked",
            "no CPU evidence: the GPUs are verified alone, not bound to a CVM"
            + (" (the manifest requires the binding)" if required else ""),
            check="CPU-GPU binding",
            subject="GPU evidence",
            expected=expected.hex(),
            required=required,
        )
    ok = report_data == expected
    return Result.of(
        "gpu.binding.match" if ok else "gpu.binding.mismatch",
        f"REPORT_DATA against SHA-512 over the {len(evidences)} sorted GPU evidence digests",
        check="CPU-GPU binding",
        subject="GPU evidence",
        expected=expected.hex(),
        actual=report_data.hex(),
    )
