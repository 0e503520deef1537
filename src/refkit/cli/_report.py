"""The one renderer of verification results (:mod:`refkit.verification`).

On a terminal (or any text output): a title line (``VERIFIED: ...`` / ``FAILED: ...``),
the command's facts as ``name: value`` lines, then one line per check::

    PASS  manifest.threshold.met      2 of 2 trusted signers verified, 2 required
    FAIL  manifest.expired            expired at 2027-02-01T00:00:00Z, checked at ...
    SKIP  manifest.expiry.absent      the manifest has no expiry (not checked)

``SKIP`` is "not checked"; one the caller's policy requires is marked ``required`` and
fails the verification. Lines are never wrapped, so a hex value stays whole on its line
(``grep`` finds it). ``--json`` prints the model's JSON form instead (each command may add
its own keys around it; docs/signing.md documents manifest verify's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, assert_never

from refkit.cli._output import emit_json, emit_text
from refkit.verification import Outcome, Result, Verdict


def tag(result: Result) -> str:
    """PASS, FAIL or SKIP (not checked)."""
    if result.outcome is Outcome.PASS:
        return "PASS"
    if result.outcome is Outcome.FAIL:
        return "FAIL"
    if result.outcome is Outcome.NOT_CHECKED:
        return "SKIP"
    assert_never(result.outcome)


def result_lines(results: Sequence[Result], *, indent: str = "  ") -> list[str]:
    """One line per result, the code column aligned; never wrapped."""
    width = max((len(r.code) for r in results), default=0)
    lines = []
    for r in results:
        line = f"{indent}{tag(r)}  {r.code:<{width}}  {r.text}"
        if r.outcome is Outcome.NOT_CHECKED:
            line += " (not checked; required)" if r.required else " (not checked)"
        lines.append(line)
    return lines


def render_text(
    verdict: Verdict,
    *,
    facts: Iterable[tuple[str, str]] = (),
    notes: Iterable[str] = (),
) -> str:
    """The terminal form: title, facts, one line per result, notes, summary."""
    lines = [f"{'VERIFIED' if verdict.ok else 'FAILED'}: {verdict.subject}"]
    lines.extend(f"  {name}: {value}" for name, value in facts)
    lines.extend(result_lines(verdict.results))
    lines.extend(f"  note: {n}" for n in notes)
    lines.append(f"  summary: {verdict.summary}")
    return "\n".join(lines)


def emit_report(
    verdict: Verdict,
    *,
    as_json: bool,
    document: dict[str, Any] | None = None,
    facts: Iterable[tuple[str, str]] = (),
    notes: Iterable[str] = (),
) -> None:
    """Print ``verdict`` on stdout: JSON (``document``, default the model's form) or text."""
    if as_json:
        emit_json(verdict.to_json() if document is None else document)
    else:
        emit_text(render_text(verdict, facts=facts, notes=notes))
