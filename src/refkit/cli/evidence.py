"""``refkit evidence``: verify, show and fetch for attestation evidence; replay receipts.

Thin layer: each command reads its files (with size limits), builds the library's options,
calls one library function (:mod:`refkit.evidence.verify`, :mod:`refkit.evidence.receipt`,
a family's fetcher) and renders the verdict with the one renderer (``_report``).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import click

from refkit.cli._options import json_option
from refkit.cli._output import emit_json, emit_text, note, warn
from refkit.cli._report import emit_report
from refkit.errors import InputError, ParseError, read_input_file

if TYPE_CHECKING:
    from refkit.evidence.families import Blob
    from refkit.evidence.verify import EvidenceOutcome, GpuInput, ManifestInput, ReportDataCheck

_file = click.Path(dir_okay=False, path_type=Path)
_dir = click.Path(file_okay=False, path_type=Path)

#: At most this many files are read from a --certs directory.
MAX_CERT_FILES = 1000


@click.group()
def evidence() -> None:
    """Verify live attestation evidence, offline, optionally against a signed manifest.

    \b
    The evidence is recognised from its bytes: an AMD SEV-SNP report (versions 2 to 5),
    an Azure HCL report wrapping one, or an Intel TDX quote (versions 4 and 5); NVIDIA
    GPU and NVSwitch evidence joins it with --gpu-evidence, checked against NVIDIA's
    signed RIMs, so one verdict covers the machine. Only `fetch` reaches the network
    (AMD's key distribution service, Intel's provisioning service, NVIDIA's RIM
    service); `verify`, `verify-rim` and `verify-receipt` never do.

    \b
    Example flow:
      refkit evidence show report.bin
      refkit evidence fetch report.bin                  # once, online: certificates
      refkit evidence verify report.bin --certs ~/.cache/refkit/evidence/... \\
          --manifest release.bundle.json --key release.key.pub --nonce 00112233 \\
          --receipt decision.json
      refkit evidence verify-receipt decision.json      # later, offline: same verdict
    """


# ---------------------------------------------------------------------------------------
# verify


@evidence.command()
@click.argument("evidence_path", metavar="[CPU_EVIDENCE]", type=_file, required=False)
@click.option(
    "--manifest",
    "bundles",
    multiple=True,
    type=_file,
    help="Signed reference manifest (Sigstore bundle); repeat for one bundle per co-signer. "
    "Needs --policy or --key.",
)
@click.option("--policy", "policy_path", type=_file, help="Trust policy for the manifest.")
@click.option("--key", "keys", multiple=True, type=_file, help="Trusted PEM public key (repeat).")
@click.option(
    "--vcek",
    "vceks",
    multiple=True,
    type=_file,
    help="SNP: the VCEK or VLEK, or any certificate file such as an ASK/ARK chain (PEM or "
    "DER; repeat).",
)
@click.option(
    "--certs",
    "cert_dirs",
    multiple=True,
    type=_dir,
    help="SNP: a directory of PEM/DER certificates (ASK, ARK, VCEK...), any file names.",
)
@click.option("--crl", "crls", multiple=True, type=_file, help="SNP: AMD CRL (DER or PEM).")
@click.option(
    "--intel-root",
    type=_file,
    help="TDX: Intel SGX Root CA to use instead of the one pinned in refkit.",
)
@click.option(
    "--collateral",
    type=_file,
    help="TDX: collateral JSON (dcap-qvl shape) for the TCB status; without it the TCB "
    "status is not checked.",
)
@click.option(
    "--gpu-evidence",
    "gpu_evidence",
    multiple=True,
    type=_file,
    help="NVIDIA GPU or NVSwitch evidence: NVIDIA's hex text report, or a JSON evidence "
    "list (repeat for several files).",
)
@click.option(
    "--gpu-certs",
    "gpu_certs",
    multiple=True,
    type=_file,
    help="PEM device chain (leaf first) of a --gpu-evidence report: one per --gpu-evidence "
    "in the same order, or one for all (JSON evidence lists carry their own).",
)
@click.option(
    "--rims",
    "rim_dirs",
    multiple=True,
    type=_dir,
    help="GPU: a folder of NVIDIA RIMs (picked by content; filled by `refkit evidence fetch "
    "--rim-id`).",
)
@click.option(
    "--ocsp",
    "ocsp_dirs",
    multiple=True,
    type=_dir,
    help="GPU: a folder of DER OCSP responses for the device and RIM chains; without it "
    "revocation is not checked.",
)
@click.option(
    "--gpu-nonce",
    metavar="HEX",
    help="GPU: the 32-byte nonce the verifier gave the GPUs (every report's request nonce "
    "must equal it); without it GPU freshness is not checked.",
)
@click.option("--nonce", metavar="HEX", help="REPORT_DATA must start with these bytes.")
@click.option("--report-data", metavar="HEX", help="REPORT_DATA must equal these 64 bytes.")
@click.option(
    "--at",
    "at_text",
    metavar="TIME",
    help="Verification time (RFC 3339, e.g. 2025-06-20T00:00:00Z); default: the clock. "
    "Recorded in the output and the receipt.",
)
@click.option(
    "--receipt",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write everything the verdict rested on to this file (replay: verify-receipt).",
)
@click.option("--force", is_flag=True, help="Replace the --receipt file if it exists.")
@json_option
def verify(
    evidence_path: Path | None,
    bundles: tuple[Path, ...],
    policy_path: Path | None,
    keys: tuple[Path, ...],
    vceks: tuple[Path, ...],
    cert_dirs: tuple[Path, ...],
    crls: tuple[Path, ...],
    intel_root: Path | None,
    collateral: Path | None,
    gpu_evidence: tuple[Path, ...],
    gpu_certs: tuple[Path, ...],
    rim_dirs: tuple[Path, ...],
    ocsp_dirs: tuple[Path, ...],
    gpu_nonce: str | None,
    nonce: str | None,
    report_data: str | None,
    at_text: str | None,
    receipt: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Verify a machine: CPU_EVIDENCE and/or its GPUs, against the signed manifest.

    \b
    Steps: (1) the manifest's signatures against --policy or --key, exactly as
    `refkit manifest verify` (an unsigned or untrusted manifest is refused and never
    compared); (2) the evidence's signature and certificate chain to the pinned AMD
    or Intel root, at --at; (3) REPORT_DATA against --nonce (a prefix: REPORT_DATA
    starts with the nonce's bytes) or --report-data (all 64 bytes); (4) the evidence
    against the manifest (measurement, policy, TCB, chip IDs, ...); (5) with
    --gpu-evidence, every NVIDIA GPU/NVSwitch report (device chain to NVIDIA's pinned
    root, SPDM signature, FWID, --gpu-nonce, --ocsp files, NVIDIA's RIMs from --rims,
    the manifest's gpu entries) and, when the manifest declares it, the binding:
    CPU REPORT_DATA = SHA-512 over the sorted SHA-256 digests of the GPU reports.
    Without CPU_EVIDENCE the GPUs are verified alone. Without --manifest:
    authenticity only, and the measured values are printed. One table and one exit
    code for the whole machine. --nonce is checked in the CPU evidence's REPORT_DATA;
    --gpu-nonce in the GPU reports.
    A debug-enabled guest is authentic but not confidential: it passes authenticity
    with a warning, and fails any manifest that does not allow debugging.

    \b
    Exit codes: 0 every check passed, 1 a check failed, 2 malformed evidence or bad
    usage, 3 a certificate or collateral is missing (fetch it or give it), 4 a bug.

    \b
    Examples:
      refkit evidence verify report.bin --vcek vcek.der --certs amd/
      refkit evidence verify report.bin --certs certs/ --crl milan.crl \\
          --manifest release.bundle.json --policy trust.yaml --nonce "$NONCE" --json
      refkit evidence verify quote.bin --collateral collateral.json \\
          --at 2025-06-20T00:00:00Z --receipt receipt.json
      refkit evidence verify --gpu-evidence report.txt --gpu-certs chain.pem \\
          --rims rims/ --gpu-nonce "$GPU_NONCE" --at 2025-03-01T00:00:00Z
      refkit evidence verify report.bin --certs amd/ --gpu-evidence gpus.json \\
          --rims rims/ --manifest release.bundle.json --policy trust.yaml
    """
    from refkit.evidence.errors import MaterialMissing
    from refkit.evidence.families import Blob, Material
    from refkit.evidence.receipt import receipt_bytes
    from refkit.evidence.verify import (
        MAX_CERTIFICATE_BYTES,
        MAX_COLLATERAL_BYTES,
        MAX_EVIDENCE_BYTES,
        RimsMissing,
        VerifyOptions,
        verify_evidence,
    )

    if nonce is not None and report_data is not None:
        raise click.UsageError("give --nonce or --report-data, not both")
    if evidence_path is None and not gpu_evidence:
        raise click.UsageError("give CPU_EVIDENCE, --gpu-evidence FILE, or both")
    if evidence_path is None and (nonce is not None or report_data is not None):
        raise click.UsageError(
            "--nonce and --report-data are checked in CPU_EVIDENCE; for the GPUs use --gpu-nonce"
        )
    if not gpu_evidence:
        extra = [
            name
            for name, given in (
                ("--gpu-certs", gpu_certs),
                ("--rims", rim_dirs),
                ("--ocsp", ocsp_dirs),
                ("--gpu-nonce", gpu_nonce),
            )
            if given
        ]
        if extra:
            raise click.UsageError(
                f"{', '.join(extra)} apply to --gpu-evidence, which was not given"
            )
    gpu = _gpu_input(gpu_evidence, gpu_certs, rim_dirs, ocsp_dirs, gpu_nonce)
    check = _report_data_check(nonce, report_data)
    manifest = _manifest_input(bundles, policy_path, keys)
    at, at_source = _at(at_text)
    certs = [
        Blob(str(p), read_input_file(p, what="certificate", limit=MAX_CERTIFICATE_BYTES))
        for p in vceks
    ]
    for d in cert_dirs:
        certs.extend(_directory_blobs(d))
    material = Material(
        certificates=tuple(certs),
        crls=tuple(
            Blob(str(p), read_input_file(p, what="CRL", limit=MAX_CERTIFICATE_BYTES)) for p in crls
        ),
        intel_root=None
        if intel_root is None
        else Blob(
            str(intel_root),
            read_input_file(intel_root, what="Intel root", limit=MAX_CERTIFICATE_BYTES),
        ),
        collateral=None
        if collateral is None
        else Blob(
            str(collateral),
            read_input_file(collateral, what="collateral", limit=MAX_COLLATERAL_BYTES),
        ),
    )
    data = (
        None
        if evidence_path is None
        else read_input_file(evidence_path, what="evidence", limit=MAX_EVIDENCE_BYTES)
    )
    options = VerifyOptions(
        at=at,
        at_source=at_source,
        manifest=manifest,
        material=material,
        report_data=check,
        gpu=gpu,
    )
    source = str(evidence_path) if evidence_path is not None else _gpu_subject(gpu_evidence)
    try:
        outcome = verify_evidence(data, source=source, options=options)
    except RimsMissing as exc:
        raise MaterialMissing(exc.message, hint=_rims_hint(exc.rim_ids)) from None
    if receipt is not None:
        from refkit.atomic import write_file

        write_file(
            receipt,
            receipt_bytes(data, source=source, options=options, outcome=outcome),
            force=force,
        )
    _render(outcome, as_json=as_json)
    if receipt is not None:
        note(f"receipt written to {receipt} (replay: refkit evidence verify-receipt {receipt})")
    outcome.verdict.raise_for_failure()


def _gpu_subject(files: tuple[Path, ...]) -> str:
    return "GPU evidence " + ", ".join(str(p) for p in files)


def _rims_hint(rim_ids: tuple[str, ...]) -> str:
    if not rim_ids:
        return (
            "fetch the RIMs where the network is reachable (refkit evidence fetch --rim-id ID "
            "--rims DIR; an NVSwitch report does not name its BIOS RIM id) and pass --rims DIR"
        )
    ids = " ".join(f"--rim-id {i}" for i in rim_ids)
    return (
        f"fetch them where the network is reachable: refkit evidence fetch {ids} --rims DIR; "
        "then pass --rims DIR"
    )


def _gpu_input(
    evidence_files: tuple[Path, ...],
    chains: tuple[Path, ...],
    rim_dirs: tuple[Path, ...],
    ocsp_dirs: tuple[Path, ...],
    gpu_nonce: str | None,
) -> GpuInput | None:
    from refkit.evidence.families import Blob
    from refkit.evidence.gpu.evidence import MAX_EVIDENCE_BYTES as MAX_GPU_EVIDENCE_BYTES
    from refkit.evidence.gpu.rim import MAX_RIM_BYTES
    from refkit.evidence.gpu.rim import looks_like as looks_like_rim
    from refkit.evidence.verify import MAX_CERTIFICATE_BYTES, GpuInput

    if not evidence_files:
        return None
    if len(chains) not in (0, 1, len(evidence_files)):
        raise click.UsageError(
            f"{len(chains)} --gpu-certs for {len(evidence_files)} --gpu-evidence: give one "
            "per --gpu-evidence (same order) or one for all"
        )
    nonce = None
    if gpu_nonce is not None:
        try:
            nonce = bytes.fromhex(gpu_nonce.strip().removeprefix("0x"))
        except ValueError:
            raise InputError(f"--gpu-nonce: {gpu_nonce[:80]!r} is not hex") from None
        if not nonce:
            raise InputError("--gpu-nonce: empty")
    rims: list[Blob] = []
    for d in rim_dirs:
        rims.extend(_rim_blobs(d, limit=MAX_RIM_BYTES, looks_like=looks_like_rim))
    ocsp: list[Blob] = []
    for d in ocsp_dirs:
        ocsp.extend(
            _directory_blobs(d, option="--ocsp", what="OCSP response", limit=MAX_CERTIFICATE_BYTES)
        )
    return GpuInput(
        evidence=tuple(
            Blob(str(p), read_input_file(p, what="GPU evidence", limit=MAX_GPU_EVIDENCE_BYTES))
            for p in evidence_files
        ),
        chains=tuple(
            Blob(
                str(p),
                read_input_file(p, what="GPU certificate chain", limit=MAX_CERTIFICATE_BYTES),
            )
            for p in chains
        ),
        rims=tuple(rims),
        ocsp=tuple(ocsp),
        nonce=nonce,
    )


def _rim_blobs(directory: Path, *, limit: int, looks_like: Any) -> list[Blob]:
    """The RIMs of a --rims folder, by content: files larger than a RIM can be, or that do
    not start like a SWID tag, are skipped (a folder may hold notes or other files)."""
    from refkit.evidence.families import Blob

    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except FileNotFoundError:
        raise InputError(f"--rims: directory not found: {directory}") from None
    except OSError as exc:
        raise InputError(f"--rims: cannot list {directory}: {exc.strerror or exc}") from None
    files = [e for e in entries if e.is_file()]
    if len(files) > MAX_CERT_FILES:
        raise InputError(f"--rims: {directory} holds more than {MAX_CERT_FILES} files")
    out = []
    for e in files:
        try:
            if e.stat().st_size > limit:
                continue
        except OSError as exc:
            raise InputError(f"--rims: cannot read {e.path}: {exc.strerror or exc}") from None
        data = read_input_file(Path(e.path), what="RIM", limit=limit)
        if looks_like(data):
            out.append(Blob(str(Path(directory) / e.name), data))
    return out


def _render(outcome: EvidenceOutcome, *, as_json: bool) -> None:
    for w in outcome.warnings:
        warn(w)
    facts = outcome.verdict.facts
    unused = facts.get("unusedMaterial") or []
    if unused:
        note(f"not used for {outcome.family} evidence: {', '.join(unused)}")
    if as_json:
        emit_report(outcome.verdict, as_json=True)
        return
    lines: list[tuple[str, str]] = [("kind", outcome.title)]
    gpu = facts.get("gpu")
    if gpu is not None:
        rims = ", ".join(f"{r['kind']} {r['version']}" for r in gpu["rims"]) or "none"
        lines.append(("GPU RIMs given", rims))
        lines.append(("GPU nonce", gpu["nonce"] or "not given (freshness not checked)"))
        lines.append(
            (
                "CPU-GPU binding",
                "declared by the manifest" if gpu["bindingDeclared"] else "not declared",
            )
        )
    lines.extend(("warning", w) for w in outcome.warnings)
    lines.append(("time", f"{facts['verifiedAt']} ({facts['timeSource']})"))
    manifest = facts.get("manifest")
    if manifest is not None:
        release = manifest.get("release") or ", ".join(manifest["bundles"])
        lines.append(
            ("manifest", f"{release} ({'trusted' if manifest['trusted'] else 'NOT trusted'})")
        )
    lines.extend((f"measured {name}", value) for name, value in outcome.measured.items())
    emit_report(outcome.verdict, as_json=False, facts=lines)


def _report_data_check(nonce: str | None, report_data: str | None) -> ReportDataCheck | None:
    from refkit.evidence.verify import ReportDataCheck

    for option, text, exact in (("--nonce", nonce, False), ("--report-data", report_data, True)):
        if text is None:
            continue
        cleaned = text.strip().removeprefix("0x")
        try:
            value = bytes.fromhex(cleaned)
        except ValueError:
            raise InputError(f"{option}: {text[:80]!r} is not hex") from None
        try:
            return ReportDataCheck(value, exact=exact)
        except InputError as exc:
            hint = "give a 64-byte value (128 hex digits), or use --nonce for a prefix"
            raise InputError(f"{option}: {exc.message}", hint=hint if exact else None) from None
    return None


def _manifest_input(
    bundles: tuple[Path, ...], policy_path: Path | None, keys: tuple[Path, ...]
) -> ManifestInput | None:
    from refkit.evidence.families import Blob
    from refkit.evidence.verify import ManifestInput, TrustInput, trust_from_policy
    from refkit.manifests.signing.bundle import MAX_BUNDLE_BYTES
    from refkit.manifests.signing.keys import MAX_KEY_BYTES
    from refkit.manifests.signing.policy import MAX_POLICY_BYTES

    if not bundles:
        if policy_path is not None or keys:
            raise click.UsageError("--policy and --key say whom to trust for --manifest: give one")
        return None
    if (policy_path is None) == (not keys):
        raise click.UsageError(
            "--manifest needs whom to trust: --policy TRUST.yaml or --key PUB (not both)"
        )
    if policy_path is not None:
        data = read_input_file(policy_path, what="trust policy", limit=MAX_POLICY_BYTES)

        def read(path: PurePath) -> bytes:
            return read_input_file(
                Path(path), what="file named by the trust policy", limit=64 << 20
            )

        trust = trust_from_policy(data, source=str(policy_path), read=read)
    else:
        trust = TrustInput(
            keys=tuple(
                Blob(str(k), read_input_file(k, what="public key", limit=MAX_KEY_BYTES))
                for k in keys
            )
        )
    return ManifestInput(
        bundles=tuple(
            Blob(str(b), read_input_file(b, what="bundle", limit=MAX_BUNDLE_BYTES)) for b in bundles
        ),
        trust=trust,
    )


def _at(at_text: str | None) -> tuple[datetime, str]:
    from refkit.times import parse_rfc3339

    if at_text is None:
        from refkit.manifests.signing.verify import clock

        return clock().replace(microsecond=0), "clock"
    try:
        return parse_rfc3339(at_text, source="--at", field="time"), "--at"
    except ParseError as exc:
        raise InputError(
            f"--at {exc.reason}", hint="for example --at 2026-12-01T00:00:00Z"
        ) from None


def _directory_blobs(
    directory: Path,
    *,
    option: str = "--certs",
    what: str = "certificate",
    limit: int | None = None,
) -> list[Blob]:
    """Every regular file in ``directory`` (not its subdirectories), sorted by name."""
    from refkit.evidence.families import Blob
    from refkit.evidence.verify import MAX_CERTIFICATE_BYTES

    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except FileNotFoundError:
        raise InputError(f"{option}: directory not found: {directory}") from None
    except NotADirectoryError:
        raise InputError(f"{option}: {directory} is not a directory") from None
    except OSError as exc:
        raise InputError(f"{option}: cannot list {directory}: {exc.strerror or exc}") from None
    files = [e for e in entries if e.is_file()]
    if len(files) > MAX_CERT_FILES:
        raise InputError(f"{option}: {directory} holds more than {MAX_CERT_FILES} files")
    return [
        Blob(
            str(Path(directory) / e.name),
            read_input_file(
                Path(e.path), what=what, limit=MAX_CERTIFICATE_BYTES if limit is None else limit
            ),
        )
        for e in files
    ]


# ---------------------------------------------------------------------------------------
# show


@evidence.command()
@click.argument("evidence_path", metavar="EVIDENCE", type=_file)
@json_option
def show(evidence_path: Path, as_json: bool) -> None:
    """Print every parsed field of EVIDENCE (nothing is verified).

    \b
    For auditors: each field of the SNP report (and its HCL wrapper) or TDX quote
    (header, body, signature data, certification chain), of an NVIDIA GPU/NVSwitch
    report (hex text or JSON evidence list: SPDM blocks, opaque fields, versions, RIM
    ids) or of an NVIDIA RIM (SWID tag: kind, version, indexes and alternatives), hex
    values unbroken. The kind is recognised from the content.

    \b
    Examples:
      refkit evidence show report.bin
      refkit evidence show quote.bin --json
      refkit evidence show attestationReport.txt
      refkit evidence show NV_GPU_DRIVER_GH100_550.90.07.swidtag --json
    """
    from refkit.evidence.gpu.evidence import MAX_EVIDENCE_BYTES as MAX_GPU_EVIDENCE_BYTES

    data = read_input_file(evidence_path, what="evidence", limit=MAX_GPU_EVIDENCE_BYTES)
    name, kind, fields = _shown(data, source=str(evidence_path))
    if as_json:
        emit_json(
            {
                "evidence": str(evidence_path),
                "family": name,
                "kind": kind,
                "fields": fields,
            }
        )
        return
    lines = [f"{evidence_path}: {kind}"]
    lines.extend(f"  {name}: {value}" for name, value in _flatten(fields))
    emit_text("\n".join(lines))


def _shown(data: bytes, *, source: str) -> tuple[str, str, dict[str, Any]]:
    """(family name, kind in words, fields) of any evidence or RIM, by content."""
    from refkit.evidence import gpu
    from refkit.evidence.gpu import rim as gpu_rim
    from refkit.evidence.verify import MAX_EVIDENCE_BYTES, EvidenceVerifier

    verifier = EvidenceVerifier()
    if not any(f.looks_like(data) for f in verifier.families):
        if gpu_rim.looks_like(data):
            document = gpu.parse_rim(data, source=source)
            kind = f"NVIDIA {document.kind} RIM {document.version} ({document.product})"
            return "rim", kind, document.show()
        if gpu.looks_like(data):
            devices = gpu.parse(data, source=source)
            kinds = ", ".join(
                f"{d.kind} {d.driver_version or d.vbios_version or ''}".strip() for d in devices
            )
            kind = f"NVIDIA evidence of {len(devices)} device(s): {kinds}"
            return "gpu", kind, {"devices": [gpu.show(d) for d in devices]}
    if len(data) > MAX_EVIDENCE_BYTES:
        raise InputError(f"{source}: more than {MAX_EVIDENCE_BYTES} bytes of evidence")
    family, parsed = verifier.parse(data, source=source)
    return family.name, family.title(parsed), dict(family.show(parsed))


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for k, v in value.items():
            out.extend(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = []
        for i, v in enumerate(value):
            out.extend(_flatten(v, f"{prefix}[{i}]"))
        return out or [(prefix, "[]")]
    if isinstance(value, bool):
        return [(prefix, "true" if value else "false")]
    return [(prefix, "null" if value is None else str(value))]


# ---------------------------------------------------------------------------------------
# fetch


@evidence.command()
@click.argument("evidence_path", metavar="[EVIDENCE]", type=_file, required=False)
@click.option(
    "--cache",
    "cache_dir",
    type=_dir,
    help="Cache directory (default: $XDG_CACHE_HOME/refkit/evidence, else "
    "~/.cache/refkit/evidence).",
)
@click.option(
    "--product",
    type=click.Choice(["Milan", "Genoa", "Turin"]),
    help="SNP: the product, for a version 2 report (which does not name it).",
)
@click.option("--crl", "with_crl", is_flag=True, help="SNP: fetch the product's CRL too (anew).")
@click.option(
    "--rim-id",
    "rim_ids",
    multiple=True,
    metavar="ID",
    help="GPU: fetch this NVIDIA RIM (e.g. NV_GPU_DRIVER_GH100_550.90.07; repeat) from "
    "NVIDIA's RIM service into the RIM folder.",
)
@click.option(
    "--gpu-certs",
    "gpu_chain",
    type=_file,
    help="GPU: the report's PEM device chain; the driver RIM id needs the chip it names.",
)
@click.option(
    "--rims",
    "rim_dir",
    type=_dir,
    help="GPU: the RIM folder to fill (default: the cache's rims/ folder); verify reads it "
    "with --rims.",
)
@json_option
def fetch(
    evidence_path: Path | None,
    cache_dir: Path | None,
    product: str | None,
    with_crl: bool,
    rim_ids: tuple[str, ...],
    gpu_chain: Path | None,
    rim_dir: Path | None,
    as_json: bool,
) -> None:
    """Fetch what verifying EVIDENCE needs, into a cache (the one command that goes online).

    \b
    SNP: the VCEK for the report's product, chip ID and reported TCB, the ASK/ARK
    chain and the CRL from AMD's key distribution service (a VLEK cannot be fetched by
    chip ID: get it from the cloud provider). TDX: the collateral (TCB info, QE identity,
    CRLs) from Intel's provisioning service. Files are cached by (product, chip, TCB),
    so a second fetch does not go online; AMD's service answers about once per 10
    seconds per address. GPU: NVIDIA's RIMs, by --rim-id or by the RIM ids an NVIDIA
    GPU report names (with --gpu-certs for the driver RIM's chip; an NVSwitch report
    names none: give --rim-id), from NVIDIA's RIM
    service into the RIM folder (a RIM already there is not fetched again; signatures
    are checked by verify, offline). Prints the files and the verify options that use
    them.

    \b
    Examples:
      refkit evidence fetch report.bin --crl
      refkit evidence fetch old-v2-report.bin --product Milan
      refkit evidence fetch quote.bin --cache ./evidence-cache --json
      refkit evidence fetch attestationReport.txt --gpu-certs chain.pem --rims ./rims
      refkit evidence fetch --rim-id NV_SWITCH_BIOS_5612_0002_890_9610550001 --rims ./rims
    """
    from refkit.evidence.fetching import default_cache_dir
    from refkit.evidence.verify import MAX_EVIDENCE_BYTES, EvidenceVerifier

    cache = cache_dir if cache_dir is not None else default_cache_dir()
    data = None
    if evidence_path is not None:
        from refkit.evidence.gpu.evidence import MAX_EVIDENCE_BYTES as MAX_GPU_EVIDENCE_BYTES

        data = read_input_file(evidence_path, what="evidence", limit=MAX_GPU_EVIDENCE_BYTES)
    gpu_data = data is not None and _is_gpu(data)
    if data is None or gpu_data or rim_ids:
        if product is not None or with_crl:
            raise click.UsageError("--product and --crl are for SNP reports")
        if data is None and not rim_ids:
            raise click.UsageError("give EVIDENCE, --rim-id ID, or both")
        if data is not None and not gpu_data:
            raise click.UsageError(
                "--rim-id fetches NVIDIA RIMs; fetch for CPU evidence in a separate call"
            )
        chain = None
        if gpu_chain is not None:
            from refkit.evidence.verify import MAX_CERTIFICATE_BYTES

            chain = read_input_file(
                gpu_chain, what="GPU certificate chain", limit=MAX_CERTIFICATE_BYTES
            )
        _fetch_rims(
            data,
            chain=chain,
            source=str(evidence_path),
            rim_ids=rim_ids,
            folder=rim_dir if rim_dir is not None else cache / "rims",
            as_json=as_json,
        )
        return
    if rim_dir is not None or gpu_chain is not None:
        raise click.UsageError("--rims and --gpu-certs are for NVIDIA GPU evidence and RIMs")
    assert evidence_path is not None
    if len(data) > MAX_EVIDENCE_BYTES:
        raise InputError(f"{evidence_path}: more than {MAX_EVIDENCE_BYTES} bytes of evidence")
    family, parsed = EvidenceVerifier().parse(data, source=str(evidence_path))
    note(f"fetching for {family.title(parsed)} into {cache} ...")
    if family.name != "snp" and (product is not None or with_crl):
        raise click.UsageError("--product and --crl are for SNP reports")
    got = family.fetch(parsed, cache_dir=cache, product=product, crl=with_crl)
    options = [f"--vcek {p}" for p in got.certificates]
    options.extend(f"--crl {p}" for p in got.crls)
    if got.collateral is not None:
        options.append(f"--collateral {got.collateral}")
    if as_json:
        emit_json(
            {
                "evidence": str(evidence_path),
                "family": family.name,
                "cache": str(cache),
                "certificates": [str(p) for p in got.certificates],
                "crls": [str(p) for p in got.crls],
                "collateral": None if got.collateral is None else str(got.collateral),
                "verifyOptions": options,
            }
        )
        return
    lines = [f"{p}" for p in (*got.certificates, *got.crls)]
    if got.collateral is not None:
        lines.append(str(got.collateral))
    lines.append(f"verify with: refkit evidence verify {evidence_path} {' '.join(options)}")
    emit_text("\n".join(lines))


def _is_gpu(data: bytes) -> bool:
    """Whether ``data`` is NVIDIA GPU evidence (and no CPU family's)."""
    from refkit.evidence import gpu
    from refkit.evidence.families import default_families

    return bool(gpu.looks_like(data)) and not any(f.looks_like(data) for f in default_families())


def _fetch_rims(
    data: bytes | None,
    *,
    chain: bytes | None,
    source: str,
    rim_ids: tuple[str, ...],
    folder: Path,
    as_json: bool,
) -> None:
    """Fetch NVIDIA RIMs (given ids, and those the GPU reports in ``data`` name)."""
    from refkit.evidence import gpu
    from refkit.evidence.gpu import fetch as gpu_fetch

    wanted = list(rim_ids)
    if data is not None:
        for device in gpu.parse(data, source=source, chain=chain):
            wanted.extend(i for i in device.rim_ids if i not in wanted)
    if not wanted:
        raise InputError(
            f"{source}: the report names no RIM id (an NVSwitch report does not)",
            hint="give the RIM ids with --rim-id (e.g. NV_SWITCH_BIOS_<project>_<SKU>_<chip "
            "SKU>_<BIOS version without dots>)",
        )
    ids = [gpu_fetch.check_rim_id(i) for i in dict.fromkeys(wanted)]
    note(f"fetching {len(ids)} NVIDIA RIM(s) into {folder} ...")
    folder.mkdir(parents=True, exist_ok=True)
    got = gpu_fetch.fetch_rims(ids, folder, opener=gpu_fetch.UrllibOpener())
    if as_json:
        emit_json(
            {
                "rims": [
                    {"rimId": f.rim_id, "path": str(f.path), "fetched": f.fetched} for f in got
                ],
                "folder": str(folder),
                "verifyOptions": [f"--rims {folder}"],
            }
        )
        return
    lines = [f"{f.path}{'' if f.fetched else ' (already there)'}" for f in got]
    lines.append(f"verify with: refkit evidence verify ... --gpu-evidence FILE --rims {folder}")
    emit_text("\n".join(lines))


# ---------------------------------------------------------------------------------------
# verify-receipt


@evidence.command("verify-receipt")
@click.argument("receipt_path", metavar="RECEIPT", type=_file)
@json_option
def verify_receipt(receipt_path: Path, as_json: bool) -> None:
    """Replay the verification recorded in RECEIPT, offline, and compare verdicts.

    \b
    The receipt holds the evidence, certificates, CRLs, collateral, manifest bundles,
    trust policy or keys, nonce and verification time of one `evidence verify
    --receipt`: refkit runs the same verification again from it alone (no other file,
    no network) and checks that it reaches the recorded verdict
    (evidence.receipt.reproduced, or evidence.receipt.verdict-differs naming the first
    difference). Exit 0 only when it reproduces and the verdict passed; 1 when the
    recorded verdict was a no, or differs, or the receipt was altered; 2 malformed.

    \b
    Example:
      refkit evidence verify-receipt receipt.json --json
    """
    from refkit.evidence.receipt import MAX_RECEIPT_BYTES, replay_receipt

    data = read_input_file(receipt_path, what="receipt", limit=MAX_RECEIPT_BYTES)
    replay = replay_receipt(data, source=str(receipt_path))
    verdict = replay.verdict
    if replay.rerun is not None:
        for w in replay.rerun.warnings:
            warn(w)
    facts = verdict.facts
    lines = [
        (
            "recorded",
            f"by refkit {facts['recordedBy']}, verdict {'pass' if facts['recordedOk'] else 'fail'}",
        ),
        ("time", str(facts["verifiedAt"])),
    ]
    if replay.rerun is not None:
        lines.insert(0, ("kind", replay.rerun.title))
        lines.extend(("warning", w) for w in replay.rerun.warnings)
    emit_report(verdict, as_json=as_json, facts=lines)
    verdict.raise_for_failure()


def _register() -> None:
    from refkit.cli.evidence_gpu import verify_rim_command

    evidence.add_command(verify_rim_command, "verify-rim")


_register()
