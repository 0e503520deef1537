"""``refkit measure replay``: parse a TCG2 or CCEL event log, replay it, explain mismatches.

Parses the options, calls :mod:`refkit.measure.eventlog` and renders; nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from refkit.cli._options import json_option
from refkit.cli._output import emit_json, emit_text

if TYPE_CHECKING:
    from refkit.measure.eventlog import EventLog
    from refkit.measure.eventlog.replay import Values

_BANK_PREFERENCE = ("sha384", "sha256", "sha512", "sha1")


@click.command(context_settings={"max_content_width": 100})
@click.argument("log", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "log_format",
    type=click.Choice(["auto", "tcg2", "ccel"]),
    default="auto",
    show_default=True,
    help="tcg2: a TPM log (PCR indexes); ccel: a TDX CCEL log (MR index 1-4 = RTMR0-3); "
    "auto: tell them apart by the header event.",
)
@click.option(
    "--expect",
    "expects",
    multiple=True,
    metavar="[BANK:]REG=HEX",
    help="Expected register value, e.g. rtmr1=HEX or sha256:pcr7=HEX (the bank defaults to "
    "the one of the value's size; RTMRs are sha384). Repeatable.",
)
@click.option(
    "--expect-file",
    type=click.Path(dir_okay=False),
    help="Expected values or events: a refkit manifest (statement or bundle: its TDX or "
    "vTPM reference values), a document with computed events (a measure --json output, "
    "or another replay's --json), or a reference event log from a known-good boot.",
)
@click.option(
    "--bank",
    metavar="BANK",
    help="The bank whose digests the event list shows (default sha384, else sha256).",
)
@click.option("--no-events", is_flag=True, help="Do not list the events in text output.")
@json_option
def replay(
    log: str,
    log_format: str,
    expects: tuple[str, ...],
    expect_file: str | None,
    bank: str | None,
    no_events: bool,
    as_json: bool,
) -> None:
    """Replay a TPM (TCG2) or TDX (CCEL) event log into its register values.

    Lists every event (register, type, digest, decoded data: EFI variable names, device
    paths, EFI actions, the kernel command line), the value of every register per bank,
    and, with --expect or --expect-file, whether the log reproduces the expected values.
    When computed events are given, a mismatch names the first logged event whose digest
    differs, and the input the computed event came from. Exit 1 when an expectation
    fails.

    \b
    Examples:
      refkit measure replay /sys/kernel/security/tpm0/binary_bios_measurements
      refkit measure replay ccel.bin --expect rtmr1=HEX --expect rtmr2=HEX
      refkit measure replay live.bin --expect-file known-good.bin
      refkit measure replay ccel.bin --expect-file release.json --json
    """
    from refkit.errors import InputError
    from refkit.measure import eventlog as el

    parsed = el.read_log(log, log_format=el.LogFormat(log_format))
    values = el.replay_log(parsed)
    expectations: list[el.Expectation] = []
    if expects:
        pairs = dict(el.parse_expect(text) for text in expects)
        expectations.append(el.Expectation("--expect", pairs))
    if expect_file is not None:
        loaded = el.load_expectation(expect_file, log_format=parsed.format)
        if expectations:
            loaded = tuple(e.merged(expectations[0]) for e in loaded)
            expectations.clear()
        expectations.extend(loaded)
    verdict = el.check(parsed, expectations) if expectations else None

    if as_json:
        document = el.log_document(parsed, values)
        if verdict is not None:
            document["verdict"] = verdict.to_json()
        emit_json(document)
    else:
        if bank is not None and bank not in parsed.banks:
            raise InputError(f"the log has no {bank} bank (it has {', '.join(parsed.banks)})")
        shown = bank or next((b for b in _BANK_PREFERENCE if b in parsed.banks), parsed.banks[0])
        emit_text(_render(parsed, values, shown, events=not no_events))
        if verdict is not None:
            from refkit.cli._report import render_text

            facts = [(k, str(v)) for k, v in verdict.facts.items()]
            notes = [
                f"{r.subject}: expected {r.expected}, log has {r.actual or '(none)'}"
                for r in verdict.failures
                if r.code == "eventlog.register.mismatch"
            ]
            emit_text(render_text(verdict, facts=facts, notes=notes))
    if verdict is not None:
        verdict.raise_for_failure()


def _render(log: EventLog, vals: Values, shown: str, *, events: bool) -> str:
    spec = log.spec_id
    lines = [
        f"event log {log.source}: {log.format.value}, banks {' '.join(log.banks)}, "
        f"{len(log.events) - 1} events after the header, spec {spec.version[0]}.{spec.version[1]}"
        f", log ends at {log.end:#x} of {log.size} bytes"
    ]
    if events:
        lines.append(f"events ({shown} digests):")
        width = max(len(e.register) for e in log.events)
        tw = max(len(e.type_name) for e in log.events)
        for e in log.events[1:]:
            digest = e.digests[shown].hex() if e.extended else "-" * (2 * len(e.digests[shown]))
            lines.append(
                f"  {e.number:>4} {e.offset:#08x} {e.register:<{width}} {e.type_name:<{tw}} "
                f"{digest} {e.decoded.description}"
            )
    for bank, regs in vals.items():
        lines.append(f"registers ({bank}):")
        lines.extend(f"  {reg:<6} {value}" for reg, value in regs.items())
    for line in log.command_lines:
        lines.append(f"kernel command line: {line}")
    return "\n".join(lines)
