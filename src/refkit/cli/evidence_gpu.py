"""``refkit evidence verify-rim``: check one NVIDIA RIM's XML signature and signer chain.

Thin layer: read the RIM (and the optional root), call
:func:`refkit.evidence.gpu.verify_rim`, render the verdict. The ``refkit evidence`` group
(cli/evidence.py) registers :func:`verify_rim_command` as ``verify-rim``; GPU evidence
itself is verified by ``refkit evidence verify --gpu-evidence`` through the evidence frame.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from refkit.cli._options import json_option
from refkit.cli._report import emit_report
from refkit.errors import InputError, ParseError, read_input_file
from refkit.times import format_time, parse_rfc3339

_path = click.Path(path_type=Path)


@click.command("verify-rim")
@click.argument("rim", type=_path)
@click.option(
    "--rim-root",
    type=_path,
    metavar="PEM",
    help="Trust this root instead of NVIDIA's RIM root pinned by fingerprint "
    "(it must be a self-signed CA certificate).",
)
@click.option(
    "--at",
    "at_text",
    metavar="TIME",
    help="Verification time (RFC 3339, e.g. 2025-03-01T00:00:00Z); default: the clock.",
)
@json_option
def verify_rim_command(
    rim: Path, rim_root: Path | None, at_text: str | None, as_json: bool
) -> None:
    """Check one NVIDIA RIM on its own: XML signature and signer chain, offline.

    The signature is checked with the signer certificate in the RIM's KeyInfo; the chain
    must reach NVIDIA's RIM root (pinned by SHA-256) and every certificate must be valid at
    --at. Exit 0 if both hold, 1 if not, 2 for a malformed or hostile RIM (DTDs and
    entities are refused).

    \b
    Example:
      refkit evidence verify-rim NV_GPU_DRIVER_GH100_550.90.07.swidtag --at 2025-03-01T00:00:00Z
    """
    from refkit.evidence import gpu
    from refkit.evidence.gpu.certs import load_certificates
    from refkit.evidence.gpu.rim import MAX_RIM_BYTES

    if at_text is not None:
        try:
            at, at_source = parse_rfc3339(at_text, source="--at", field="time"), "--at"
        except ParseError as exc:
            raise InputError(
                f"--at {exc.reason}", hint="for example --at 2025-03-01T00:00:00Z"
            ) from None
    else:
        at, at_source = datetime.now(UTC), "clock"
    root = None
    if rim_root is not None:
        data = read_input_file(rim_root, what="RIM root", limit=1 << 20)
        certs = load_certificates(data, source=str(rim_root))
        if len(certs) != 1:
            raise InputError(f"--rim-root {rim_root} holds {len(certs)} certificates, not one")
        root = certs[0]
    document = gpu.parse_rim(read_input_file(rim, what="RIM", limit=MAX_RIM_BYTES), source=str(rim))
    check = gpu.verify_rim(document, at=at, root=root)
    verdict = gpu.rim_verdict(check, at=at, root_given=root is not None)
    emit_report(
        verdict,
        as_json=as_json,
        facts=[
            ("RIM", f"{document.kind} {document.version} ({document.product})"),
            ("verification time", f"{format_time(at)} ({at_source})"),
        ],
    )
    verdict.raise_for_failure()
