"""Verification codes of `refkit inputs verify`: pinned files."""

from __future__ import annotations

from refkit.verification.codes import CodeInfo, Outcome

_P, _F, _N = Outcome.PASS, Outcome.FAIL, Outcome.NOT_CHECKED

TABLE: tuple[CodeInfo, ...] = (
    # --- inputs verify
    CodeInfo("inputs.digest.match", _P, "a pinned file is present with the pinned size and sha256"),
    CodeInfo(
        "inputs.digest.mismatch",
        _F,
        "a pinned file is present with other content than the lock pins",
    ),
    CodeInfo("inputs.file.missing", _F, "a pinned file is absent"),
)
