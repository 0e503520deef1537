"""Verification codes of `refkit evidence verify` for a whole machine: how the frame joins
GPU evidence to the CPU evidence and to the manifest (the GPU family's own codes are
``gpu.*`` in evidence_gpu)."""

from __future__ import annotations

from refkit.verification.codes import CodeInfo, Outcome

_P, _F, _N = Outcome.PASS, Outcome.FAIL, Outcome.NOT_CHECKED

TABLE: tuple[CodeInfo, ...] = (
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
