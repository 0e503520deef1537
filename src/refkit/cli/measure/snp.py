"""``refkit measure snp``: SEV / SEV-ES / SEV-SNP launch measurements.

Options keep sev-snp-measure's names so its users can switch without relearning; see
``refkit.measure.snp`` for what is computed. This module only parses, calls
:func:`refkit.measure.snp.measure` once and renders.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from refkit import __version__
from refkit.cli._options import json_option
from refkit.cli._output import emit_json, emit_text, note, stdout_console
from refkit.errors import InputError
from refkit.measure.cpu import CPU_TYPES, resolve_signature

if TYPE_CHECKING:
    from refkit.measure.snp import SnpRequest, SnpResult

# The engine (refkit.measure.snp) is imported inside the command, after the kernel and
# initrd have started hashing in background threads, so that its import overlaps with
# hashing. These names must equal refkit.measure.snp.SevMode's values (a test checks).
MODES = ("sev", "seves", "snp", "snp:ovmf-hash", "snp:svsm")


def _auto_int(value: str | int | None, name: str) -> int | None:
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value, 0)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an integer (decimal, 0x.. hex)", param_hint=name
        ) from None


# Paths stay text (no pathlib import on this hot path): the library takes str or PathLike.
_PathArg = click.Path(dir_okay=False)


@click.command(context_settings={"max_content_width": 100})
@click.option(
    "--mode",
    type=click.Choice(MODES),
    required=True,
    help="Guest mode. snp:ovmf-hash prints the OVMF launch digest for --snp-ovmf-hash; "
    "snp:svsm measures a Coconut-SVSM guest.",
)
@click.option(
    "--vcpus",
    metavar="N|A-B|LIST",
    help="vCPU count(s): 4, 1-64 or 1,2,4,8 (mixed: 1-4,8). One result per count, "
    "computed in one pass. Required except in modes sev and snp:ovmf-hash.",
)
@click.option(
    "--vcpu-type",
    metavar="CPUTYPE",
    help=f"QEMU CPU model naming the vCPU signature: {', '.join(CPU_TYPES)}.",
)
@click.option("--vcpu-sig", metavar="VALUE", help="vCPU signature (CPUID 1 EAX), e.g. 0x800f12.")
@click.option(
    "--vcpu-family", type=int, metavar="FAMILY", help="vCPU family (with model, stepping)."
)
@click.option("--vcpu-model", type=int, metavar="MODEL", help="vCPU model.")
@click.option("--vcpu-stepping", type=int, metavar="STEPPING", help="vCPU stepping.")
@click.option(
    "--vmm-type",
    default="QEMU",
    show_default=True,
    metavar="VMMTYPE",
    help="Hypervisor whose reset state the VMSA reproduces: QEMU, ec2 or gce.",
)
@click.option(
    "--ovmf", type=_PathArg, required=True, help="OVMF firmware image (e.g. OVMF.amdsev.fd)."
)
@click.option("--kernel", type=_PathArg, help="Kernel for direct boot (its SHA-256 is measured).")
@click.option("--initrd", type=_PathArg, help="Initrd (with --kernel).")
@click.option(
    "--append",
    metavar="CMDLINE",
    help='Kernel command line (with --kernel). --append "" measures the same as none.',
)
@click.option(
    "--guest-features",
    default="0x1",
    show_default=True,
    metavar="VALUE",
    help="SEV_FEATURES of the VMSA (0x1 SNPActive; 0x21 adds DebugSwap).",
)
@click.option(
    "--output-format",
    type=click.Choice(["hex", "base64"]),
    default="hex",
    show_default=True,
    help="Encoding of measurements in text output (JSON carries both).",
)
@click.option(
    "--snp-ovmf-hash",
    metavar="HEX",
    help="Start from this OVMF launch digest (from --mode snp:ovmf-hash) instead of "
    "hashing the OVMF pages; the OVMF file still supplies the metadata.",
)
@click.option(
    "--dump-vmsa",
    is_flag=True,
    help="Write the measured VMSA pages as vmsa<N>.bin (modes seves, snp, snp:svsm).",
)
@click.option(
    "--dump-vmsa-dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder for --dump-vmsa (created if missing).",
)
@click.option("--force", is_flag=True, help="Let --dump-vmsa overwrite differing files.")
@click.option("--svsm", type=_PathArg, help="Coconut-SVSM image (mode snp:svsm).")
@click.option("--vars-size", type=int, metavar="SIZE", help="OVMF_VARS size in bytes (snp:svsm).")
@click.option("--vars-file", type=_PathArg, help="OVMF_VARS file, for its size (snp:svsm).")
@click.option(
    "--explain",
    is_flag=True,
    help="Also list the firmware's metadata sections and how many pages of each type "
    "were measured.",
)
@json_option
def snp(
    mode: str,
    vcpus: str | None,
    vcpu_type: str | None,
    vcpu_sig: str | None,
    vcpu_family: int | None,
    vcpu_model: int | None,
    vcpu_stepping: int | None,
    vmm_type: str,
    ovmf: str,
    kernel: str | None,
    initrd: str | None,
    append: str | None,
    guest_features: str,
    output_format: str,
    snp_ovmf_hash: str | None,
    dump_vmsa: bool,
    dump_vmsa_dir: str,
    force: bool,
    svsm: str | None,
    vars_size: int | None,
    vars_file: str | None,
    explain: bool,
    as_json: bool,
) -> None:
    """Compute AMD SEV, SEV-ES or SEV-SNP launch measurements.

    Same options and results as sev-snp-measure 0.0.13, plus: many vCPU counts in one
    call (--vcpus 1-64), --explain, and --json with the digest of every input so a
    manifest can record exactly what produced each value.

    \b
    Examples:
      refkit measure snp --mode snp --vcpus 4 --vcpu-type EPYC-v4 \\
          --ovmf OVMF.amdsev.fd --kernel vmlinuz --initrd initrd.img --append "console=ttyS0"
      refkit measure snp --mode snp --vcpus 1-64 --vcpu-type EPYC-Milan --ovmf OVMF.amdsev.fd --json
      H=$(refkit measure snp --mode snp:ovmf-hash --ovmf OVMF.amdsev.fd)
      refkit measure snp --mode snp --snp-ovmf-hash $H --vcpus 2 --vcpu-type EPYC-v4 \\
          --ovmf OVMF.amdsev.fd

    Text output is the measurement alone for one vCPU count (as sev-snp-measure prints
    it), else one "COUNT MEASUREMENT" line per count.
    """
    # Hashing of the large inputs has started (refkit._console) or starts now; the
    # engine's import overlaps with it.
    from refkit import _console
    from refkit.hashing import DirectDigester, FileDigester, PrefetchedDigester

    prefetch = _console.prefetched()
    digester: FileDigester = (
        PrefetchedDigester(prefetch.result, _console.ALGORITHMS) if prefetch else DirectDigester()
    )

    from refkit.measure.snp import SevMode, SnpRequest, VmmType, measure, parse_vcpu_counts

    sev_mode = SevMode(mode)
    try:
        vmm = VmmType.parse(vmm_type)
    except ValueError:
        raise InputError(f"unknown vmm type {vmm_type!r}; use one of QEMU, ec2, gce") from None
    if vcpu_type is not None and vcpu_type not in CPU_TYPES:
        raise click.BadParameter(
            f"unknown vCPU type {vcpu_type!r}; known types: {', '.join(CPU_TYPES)}",
            param_hint="--vcpu-type",
        )
    sig = resolve_signature(
        vcpu_type=vcpu_type,
        vcpu_sig=_auto_int(vcpu_sig, "--vcpu-sig"),
        family=vcpu_family,
        model=vcpu_model,
        stepping=vcpu_stepping,
    )
    features = _auto_int(guest_features, "--guest-features")
    assert features is not None
    counts: tuple[int, ...] = ()
    if vcpus is not None and sev_mode.uses_vmsa:
        counts = parse_vcpu_counts(vcpus)
    elif vcpus is not None and sev_mode is SevMode.SEV:
        parse_vcpu_counts(vcpus)  # still refuse nonsense, but SEV has no vCPU state
        note("note: mode sev measures no vCPU state; --vcpus is ignored")
    if dump_vmsa and not sev_mode.uses_vmsa:
        raise InputError(f"--dump-vmsa is not available in mode {mode}")
    if vars_file is not None and vars_size is not None:
        raise InputError("give --vars-size or --vars-file, not both")
    if vars_file is not None:
        try:
            vars_size = os.stat(vars_file).st_size
        except OSError as exc:
            raise InputError(f"cannot read OVMF VARS file {vars_file}: {exc.strerror}") from None
    ovmf_hash = None
    if snp_ovmf_hash is not None:
        try:
            ovmf_hash = bytes.fromhex(snp_ovmf_hash.strip())
        except ValueError:
            raise InputError("--snp-ovmf-hash is not hexadecimal") from None

    request = SnpRequest(
        mode=sev_mode,
        ovmf=ovmf,
        vcpus=counts,
        vcpu_sig=sig,
        vmm_type=vmm,
        guest_features=features,
        kernel=kernel,
        initrd=initrd,
        append=append,
        ovmf_hash=ovmf_hash,
        svsm=svsm,
        vars_size=vars_size,
        keep_vmsa=dump_vmsa,
        input_digests=as_json,
    )
    result = measure(request, digester=digester)

    if dump_vmsa:
        _write_vmsa(result, dump_vmsa_dir, force=force)
    if as_json:
        emit_json(_json_document(result, vcpu_type))
        return
    if explain:
        _render_explain(result)
    encode = _encoder(output_format)
    if len(result.measurements) == 1:
        emit_text(encode(result.measurements[0].digest))
    else:
        for m in result.measurements:
            emit_text(f"{m.vcpus} {encode(m.digest)}")


def _encoder(output_format: str) -> Any:
    import base64

    if output_format == "base64":
        return lambda d: base64.b64encode(d).decode("ascii")
    return lambda d: d.hex()


def _write_vmsa(result: SnpResult, folder_text: str, *, force: bool) -> None:
    from pathlib import Path

    assert result.vmsa is not None
    folder = Path(folder_text)
    count = max(m.vcpus or 1 for m in result.measurements)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            target = folder / f"vmsa{i}.bin"
            page = result.vmsa.page(i)
            if target.exists() and not force and target.read_bytes() != page:
                raise InputError(
                    f"{target} exists with other contents; not overwriting it",
                    hint="remove it, choose another --dump-vmsa-dir, or pass --force",
                )
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(page)
            tmp.replace(target)
    except OSError as exc:
        raise InputError(f"cannot write VMSA pages to {folder}: {exc.strerror or exc}") from None
    note(f"wrote {count} VMSA page(s) to {folder}")


def _digest_doc(fd: Any, *, extra: dict[str, Any] | None = None) -> dict[str, Any] | None:
    if fd is None:
        return None
    doc: dict[str, Any] = {"path": fd.path, "size": fd.size}
    doc.update({alg: value.hex() for alg, value in sorted(fd.digests.items())})
    doc.update(extra or {})
    return doc


def _json_document(result: SnpResult, vcpu_type: str | None) -> dict[str, Any]:
    import base64

    req = result.request
    kh = result.kernel_hashes
    doc: dict[str, Any] = {
        "tool": {"name": "refkit", "version": __version__},
        "mode": req.mode.value,
        "vmmType": req.vmm_type.value,
        "vcpuType": vcpu_type,
        "vcpuSignature": None if req.vcpu_sig is None else f"{req.vcpu_sig:#x}",
        # The SEV_FEATURES actually written into the VMSA pages (seves uses 0, snp:svsm
        # always 0x1, sev has no VMSA).
        "guestFeatures": _features_used(req),
        "firmware": _digest_doc(
            result.ovmf,
            extra={
                "flavour": result.firmware_flavour,
                "launchDigestGiven": req.ovmf_hash.hex() if req.ovmf_hash else None,
            },
        ),
        "kernel": _digest_doc(result.kernel),
        "initrd": _digest_doc(result.initrd),
        "cmdline": None
        if req.kernel is None
        else {"given": req.append is not None, "value": req.append or ""},
        "kernelHashesTable": None
        if kh is None
        else {
            "gpa": f"{kh.table_gpa:#x}",
            "kernelSha256": kh.kernel_sha256.hex(),
            "initrdSha256": kh.initrd_sha256.hex(),
            "cmdlineSha256": kh.cmdline_sha256.hex(),
            "tableSha256": kh.table_sha256.hex(),
        },
        "svsm": _digest_doc(result.svsm),
        "varsSize": req.vars_size,
        "measurements": [
            {
                "vcpus": m.vcpus,
                "measurement": m.digest.hex(),
                "measurementBase64": base64.b64encode(m.digest).decode("ascii"),
            }
            for m in result.measurements
        ],
        "sections": [
            {
                "index": s.number,
                "type": s.type_name,
                "gpa": f"{s.gpa:#x}",
                "size": s.size,
                "measuredAs": s.page_type,
                "pages": s.pages,
                "note": s.note,
            }
            for s in result.sections
        ],
        "pageCounts": result.page_counts,
    }
    return doc


def _features_used(req: SnpRequest) -> str | None:
    mode = req.mode.value
    if mode == "snp":
        return f"{req.guest_features:#x}"
    return {"seves": "0x0", "snp:svsm": "0x1"}.get(mode)


def _render_explain(result: SnpResult) -> None:
    from rich.table import Table

    console = stdout_console()
    req = result.request
    console.print(
        f"mode {req.mode.value}, vmm {req.vmm_type.value}, firmware {result.firmware_source} "
        f"({result.firmware_flavour})"
    )
    if result.sections:
        table = Table(title="SEV metadata sections, in measurement order")
        for col in ("#", "type", "GPA", "size", "measured as", "pages", "note"):
            table.add_column(col, justify="right" if col in ("#", "size", "pages") else "left")
        for s in result.sections:
            table.add_row(
                str(s.number),
                s.type_name,
                f"{s.gpa:#x}",
                f"{s.size:#x}",
                s.page_type,
                str(s.pages),
                s.note,
            )
        console.print(table)
    counts = Table(title="pages measured, by page type")
    counts.add_column("page type")
    counts.add_column("pages", justify="right")
    for name, n in result.page_counts.items():
        counts.add_row(name, str(n))
    if result.page_counts:
        console.print(counts)
    if result.kernel_hashes is not None:
        kh = result.kernel_hashes
        console.print(f"kernel hashes table at {kh.table_gpa:#x}:")
        console.print(f"  kernel  sha256 {kh.kernel_sha256.hex()}")
        console.print(f"  initrd  sha256 {kh.initrd_sha256.hex()}")
        console.print(f"  cmdline sha256 {kh.cmdline_sha256.hex()}")
