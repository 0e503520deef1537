"""The pinned-input store: every input a reproducible build uses, pinned by sha256.

A lock (:mod:`refkit.inputs.lock`) pins each input by identity and content. :func:`fetch`
finds each one by content in local directories (:mod:`refkit.inputs.store`), downloads it
by name and version otherwise (:mod:`refkit.inputs.debian`), and extracts the pinned files
safely (:mod:`refkit.inputs.deb`, over :mod:`refkit.inputs.ar`), checking every digest.

Pins of Python distributions and plain files (by URL) are kinds of the same lock; a
content-addressed download cache (:mod:`refkit.inputs.cache`) keeps every download, and
:func:`refkit.inputs.resolve.resolve_input` turns one pin into a verified local file for
builders. :mod:`refkit.inputs.update` re-pins a recipe's inputs on purpose.

Invariants: bytes are accepted only when their size and sha256 match the lock, whatever
their source; nothing here prints or imports the CLI; network access happens only through
a :class:`~refkit.inputs.debian.Downloader` passed in by the caller.
"""

from __future__ import annotations

from refkit.inputs.errors import (
    DigestMismatch,
    MissingInputs,
    OutputConflict,
    Unavailable,
    UnsafeArchive,
)
from refkit.inputs.fetching import (
    CheckResult,
    CheckStatus,
    FetchResult,
    InputResult,
    Origin,
    OriginKind,
    OutputResult,
    OutputStatus,
    Progress,
    ProgressCallback,
    Stage,
    check,
    fetch,
)
from refkit.inputs.lock import (
    LOCK_SCHEMA,
    DebianPackage,
    ExtractSpec,
    Lock,
    LockedInput,
    PlainFile,
    PythonDistribution,
    load_lock,
    parse_lock,
)

__all__ = [
    "LOCK_SCHEMA",
    "CheckResult",
    "CheckStatus",
    "DebianPackage",
    "DigestMismatch",
    "ExtractSpec",
    "FetchResult",
    "InputResult",
    "Lock",
    "LockedInput",
    "MissingInputs",
    "Origin",
    "OriginKind",
    "OutputConflict",
    "OutputResult",
    "OutputStatus",
    "PlainFile",
    "Progress",
    "ProgressCallback",
    "PythonDistribution",
    "Stage",
    "Unavailable",
    "UnsafeArchive",
    "check",
    "fetch",
    "load_lock",
    "parse_lock",
]
