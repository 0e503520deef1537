"""Errors of the pinned-input store, each under refkit's one error root.

Exit codes follow :mod:`refkit.errors`: a pinned input that no source could supply is an
environment problem (3); a malformed lock or archive, or an output that would overwrite a
different file, is bad input (2); extracted bytes that differ from the pinned digest are a
failed verification (1).

Invariant: every message names the package, its version and the pinned sha256, so that a
user can find or copy the exact file that is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from refkit.errors import EnvironmentProblem, InputError, VerificationFailed


class UnsafeArchive(InputError):
    """An archive member would escape the extraction root or is of a refused type."""


class MemberTooLarge(InputError):
    """A member to extract holds more bytes than allowed (the pinned size, for fetch)."""

    def __init__(self, message: str, *, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class OutputConflict(InputError):
    """An output file exists with other content; refkit never overwrites it silently."""


class DigestMismatch(VerificationFailed):
    """Bytes that were verified against a pinned sha256 (or size) and did not match."""


@dataclass(frozen=True)
class Unavailable:
    """One pinned input that no source supplied, and why each source failed."""

    label: str
    """``name version (architecture)`` of the input."""
    filename: str
    sha256: str
    reasons: tuple[str, ...]
    gone: bool = False
    """A download said the archive or index no longer offers this version."""


class MissingInputs(EnvironmentProblem):
    """One or more pinned inputs were neither found locally nor downloaded."""

    def __init__(self, missing: Sequence[Unavailable], *, offline: bool = False) -> None:
        self.missing = tuple(missing)
        lines = []
        for item in self.missing:
            if item.gone:
                lines.append(
                    f"pinned input gone from the archive: {item.label}, sha256 {item.sha256} "
                    "is no longer offered for download"
                )
            else:
                lines.append(f"pinned input not available: {item.label}, sha256 {item.sha256}")
            lines.extend(f"  - {reason}" for reason in item.reasons)
        names = ", ".join(item.filename for item in self.missing)
        hint = (
            f"put a copy of {names} (matched by sha256, any file name) into a mirror "
            "directory and name that directory"
        )
        if offline:
            hint += ", or allow downloads to fetch it by name and version"
        if any(item.gone for item in self.missing):
            hint += (
                "; a copy may survive in another machine's input cache, a CI mirror or a "
                "snapshot archive, or re-pin it on purpose to a version still offered"
            )
        super().__init__("\n".join(lines), hint=hint)
