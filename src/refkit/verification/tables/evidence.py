"""Verification codes of `refkit evidence verify` and `verify-receipt` that belong to no
evidence family: the manifest gate, freshness (REPORT_DATA), receipts, and how GPU
evidence joins the CPU evidence and the manifest.

The families' own codes live beside this table (``snp.*`` in evidence_snp, ``tdx.*`` in
evidence_tdx).
"""

from __future__ import annotations

from refkit.verification.codes import CodeInfo, Outcome

_P, _F, _N = Outcome.PASS, Outcome.FAIL, Outcome.NOT_CHECKED

TABLE: tuple[CodeInfo, ...] = (
    # --- the manifest gate: verified first, compared only when trusted
    CodeInfo(
        "evidence.manifest.absent",
        _N,
        "no reference manifest was given: authenticity only, the measured values are shown",
    ),
    CodeInfo(
        "evidence.manifest.unsigned",
        _F,
        "the manifest given is a bare statement, not a signed bundle: it is not compared",
    ),
    CodeInfo(
        "evidence.manifest.refused",
        _F,
        "the manifest did not verify against the trust policy: the evidence is not compared "
        "with it",
    ),
    CodeInfo(
        "evidence.compare.empty",
        _F,
        "the manifest holds no value the evidence's family compares: nothing matched",
    ),
    # --- freshness: REPORT_DATA against the caller's nonce or exact value
    CodeInfo(
        "evidence.nonce.match",
        _P,
        "REPORT_DATA starts with the caller's nonce",
    ),
    CodeInfo("evidence.nonce.mismatch", _F, "REPORT_DATA does not start with the caller's nonce"),
    CodeInfo("evidence.report-data.match", _P, "REPORT_DATA equals the caller's 64-byte value"),
    CodeInfo(
        "evidence.report-data.mismatch",
        _F,
        "REPORT_DATA differs from the caller's 64-byte value",
    ),
    CodeInfo(
        "evidence.freshness.unchecked",
        _N,
        "no nonce or REPORT_DATA value was given: the evidence may be a replay of an old one",
    ),
    # --- receipts: replaying a recorded verification offline
    CodeInfo(
        "evidence.receipt.reproduced",
        _P,
        "re-running the verification from the receipt alone gave the recorded verdict",
    ),
    CodeInfo(
        "evidence.receipt.verdict-differs",
        _F,
        "re-running the verification from the receipt gave another verdict than the recorded one",
    ),
    CodeInfo(
        "evidence.receipt.digest-mismatch",
        _F,
        "a file recorded in the receipt does not have the sha256 recorded beside it",
    ),
    # --- the machine: GPU evidence beside the CPU evidence (gpu.* codes: evidence_gpu)
    CodeInfo(
        "evidence.gpu.binding.not-declared",
        _N,
        "the manifest declares no CPU-GPU binding (or no manifest was given): the CPU "
        "evidence's REPORT_DATA was not compared with the GPU evidence",
    ),
    CodeInfo(
        "evidence.gpu.missing",
        _F,
        "the manifest declares a CPU-GPU binding but no GPU evidence was given",
    ),
    CodeInfo(
        "evidence.gpu.not-given",
        _N,
        "the manifest lists GPU reference values but no GPU evidence was given: the GPUs "
        "were not verified",
    ),
)
