"""The one error root of refkit, and the exit code each kind of failure maps to.

Every failure the library reports is a :class:`RefkitError`. Its subclass decides the
process exit code that the CLI returns (see README, *Exit codes*):

====  ======================  ==========================================================
code  class                   meaning
====  ======================  ==========================================================
0     (none)                  success
1     VerificationFailed      a check ran and the evidence did not match (the *answer*)
2     InputError              usage or bad input: the question could not be asked
3     EnvironmentProblem      the machine lacks something: a tool, a pinned input, network
4     InternalError           a bug in refkit; never a verification result
====  ======================  ==========================================================

Invariants: exit code 1 is reserved for a verification that ran and said no; a crash must
never look like a "no". Messages are one line, say what was wrong and where (file, offset,
field), and a ``hint`` says what to do about it. ``diagnostics()`` renders both.
"""

from __future__ import annotations

import enum
import os
from typing import BinaryIO, ClassVar, NamedTuple


class ExitCode(enum.IntEnum):
    """Process exit codes; documented in the README and stable across releases."""

    OK = 0
    VERIFICATION_FAILED = 1
    BAD_INPUT = 2
    ENVIRONMENT = 3
    INTERNAL = 4


class RefkitError(Exception):
    """Root of every error refkit raises on purpose."""

    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """A human explanation: the message, then the hint on its own line."""
        if self.hint:
            return f"{self.message}\nhint: {self.hint}"
        return self.message


class InputError(RefkitError):
    """Bad input or usage: a file that cannot be read or parsed, an impossible option."""

    exit_code = ExitCode.BAD_INPUT


class Location(NamedTuple):
    """Where in an input a parse failure happened."""

    source: str
    offset: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = [self.source]
        if self.offset is not None:
            parts.append(f"offset {self.offset:#x}")
        if self.field is not None:
            parts.append(self.field)
        return ", ".join(parts)


class ParseError(InputError):
    """An input's bytes or text do not follow its format. Names the file and the offset."""

    def __init__(self, message: str, *, location: Location, hint: str | None = None) -> None:
        super().__init__(f"{location}: {message}", hint=hint)
        self.location = location
        self.reason = message


class NotUnderstood(ParseError):
    """Well-formed input holding something this refkit cannot interpret: refused, never
    ignored (fail closed). An unknown field inside a constraint, or a newer minor schema
    version than the reader knows, could tighten what a verifier must check; skipping it
    would pass what the newer rule fails. ``code`` is the stable verification code a
    verifier reports for it (docs/codes.md)."""

    def __init__(
        self, message: str, *, location: Location, code: str, hint: str | None = None
    ) -> None:
        super().__init__(message, location=location, hint=hint)
        self.code = code


class UnsupportedInput(InputError):
    """A well-formed input that refkit refuses on purpose (wrong firmware flavour, ...)."""


class VerificationFailed(RefkitError):
    """A check ran to its end and the answer is no."""

    exit_code = ExitCode.VERIFICATION_FAILED


class EnvironmentProblem(RefkitError):
    """Something outside refkit is missing: a tool, a pinned input, the network."""

    exit_code = ExitCode.ENVIRONMENT


class OutputClosed(EnvironmentProblem):
    """stdout was closed before the result was written (``refkit ... | head``).

    Not a verification outcome: the result, whatever it was, did not reach the reader.
    """

    def __init__(self) -> None:
        super().__init__("stdout was closed before all output was written")


class MissingTool(EnvironmentProblem):
    """An external program refkit needs is not installed."""

    def __init__(self, tool: str, *, package: str | None = None) -> None:
        hint = f"install it, e.g. apt-get install {package}" if package else None
        super().__init__(f"required tool not found: {tool}", hint=hint)
        self.tool = tool


class InternalError(RefkitError):
    """A bug in refkit: an invariant broke. Never a verification result."""

    exit_code = ExitCode.INTERNAL


def input_os_error(exc: OSError, path: str | os.PathLike[str], *, what: str = "file") -> InputError:
    """The typed error for an OS failure while reading an input (not found, a directory...)."""
    if isinstance(exc, IsADirectoryError):
        return InputError(f"{what} {path} is a directory, not a file")
    if isinstance(exc, FileNotFoundError):
        return InputError(f"{what} not found: {path}")
    if isinstance(exc, PermissionError):
        return InputError(f"{what} {path} is not readable (permission denied)")
    return InputError(f"cannot read {what} {path}: {exc.strerror or exc}")


def _read_at_most(fh: BinaryIO, count: int, size_hint: int) -> bytes:
    """Up to ``count`` bytes of ``fh``, in reads sized by what the file says it holds.

    A single ``read(count)`` would allocate ``count`` bytes up front (the limit, often
    gigabytes) whatever the file holds; a regular file is read in one call of its size plus
    one byte, and what has no size (a pipe) in 1 MiB pieces.
    """
    pieces = []
    step = size_hint + 1 if size_hint else 1 << 20
    while count > 0:
        piece = fh.read(min(step, count))
        if not piece:
            break
        pieces.append(piece)
        count -= len(piece)
        step = 1 << 20
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def read_input_file(
    path: str | os.PathLike[str], *, what: str = "file", limit: int | None = None
) -> bytes:
    """Read a whole input file, turning every OS failure into an :class:`InputError`.

    ``what`` names the input in the message ("OVMF firmware", "kernel"); ``limit`` refuses
    files larger than that many bytes before reading them, and reads no more than one byte
    past it from what has no size (a pipe, ``<(...)``, a device).
    """
    p = os.fspath(path)
    try:
        with open(p, "rb") as fh:
            if limit is None:
                return fh.read()
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                raise InputError(f"{what} {p} is {size} bytes, more than the limit of {limit}")
            data = _read_at_most(fh, limit + 1, size)
            if len(data) > limit:
                raise InputError(f"{what} {p} is more than the limit of {limit} bytes")
            return data
    except OSError as exc:
        raise input_os_error(exc, p, what=what) from exc
