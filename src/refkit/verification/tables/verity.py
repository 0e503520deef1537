"""Verification codes of dm-verity checks (`refkit measure verity`, and the verity half of
`refkit weights bind`; the file comparison's codes are in the weights table)."""

from __future__ import annotations

from refkit.verification.codes import CodeInfo, Outcome

_P, _F, _N = Outcome.PASS, Outcome.FAIL, Outcome.NOT_CHECKED

TABLE: tuple[CodeInfo, ...] = (
    # --- the hash tree stored with an image
    CodeInfo(
        "verity.tree.match",
        _P,
        "the stored hash tree equals, byte for byte, the tree computed from the data",
    ),
    CodeInfo(
        "verity.tree.mismatch",
        _F,
        "the stored hash tree differs from the tree computed from the data (the data or "
        "the tree changed)",
    ),
    CodeInfo(
        "verity.params.mismatch",
        _F,
        "the superblock's parameters (salt, data blocks, ...) differ from those expected",
    ),
    # --- the root hash
    CodeInfo("verity.root.match", _P, "the verity root hash equals the expected one"),
    CodeInfo("verity.root.mismatch", _F, "the verity root hash differs from the expected one"),
    CodeInfo(
        "verity.root.not-given",
        _N,
        "no expected verity root hash was given, so the disk's root was not compared",
    ),
)
