"""``refkit measure snp``: SEV / SEV-ES / SEV-SNP launch measurements.

Options keep sev-snp-measure's names so its users can switch without relearning; see
``refkit.measure.snp`` for what is computed. This module only parses, calls
:func:`refkit.measure.snp.measure` once and renders.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

import click

from refkit.cli._options import json_option
from refkit.cli._output import deliver, note, state, stdout_console
from refkit.errors import InputError
from refkit.measure.cpu import CPU_TYPES, SnpProduct, resolve_signature

if TYPE_CHECKING:
    from refkit.measure.snp import SnpResult

# The engine (refkit.measure.snp) is imported inside the command, after the kernel and
# initrd have started hashing in background threads, so that its import overlaps with
# hashing. These names must equal refkit.measure.snp.SevMode's values (a test checks).
MODES = ("sev", "seves", "snp", "snp:ovmf-hash", "snp:svsm")


_DECIMAL = re.compile(r"[0-9]{1,20}")
_HEX = re.compile(r"0[xX][0-9a-fA-F]{1,16}")


def _auto_int(value: str | None, name: str, *, hex_ok: bool = True) -> int | None:
    """ASCII decimal digits, or 0x and hex digits: nothing else (``1_0`` is not 10)."""
    if value is None:
        return None
    text = value.strip(" ")
    if _DECIMAL.fullmatch(text):
        return int(text)
    if hex_ok and _HEX.fullmatch(text):
        return int(text, 16)
    what = "decimal, 0x.. hex" if hex_ok else "decimal digits"
    raise click.BadParameter(
        f"{value[:40]!r} is not an integer ({what})", param_hint=name
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
@click.option("--vcpu-family", metavar="FAMILY", help="vCPU family (with model, stepping).")
@click.option("--vcpu-model", metavar="MODEL", help="vCPU model.")
@click.option("--vcpu-stepping", metavar="STEPPING", help="vCPU stepping.")
@click.option(
    "--product",
    type=click.Choice([p.value for p in SnpProduct]),
    help="EPYC generation the values are for (recorded in --json and manifests). Default: "
    "the one the vCPU signature names (EPYC-Milan, -Genoa, -Turin), else none.",
)
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
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write the result (text, or the --json document) to FILE, atomically, only once "
    "it is complete; '-' is stdout (the default). An existing FILE is kept unless --force.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing --output file and differing --dump-vmsa files.",
)
@click.option("--svsm", type=_PathArg, help="Coconut-SVSM image (mode snp:svsm).")
@click.option("--vars-size", metavar="SIZE", help="OVMF_VARS size in bytes (snp:svsm).")
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
    vcpu_family: str | None,
    vcpu_model: str | None,
    vcpu_stepping: str | None,
    product: str | None,
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
    output: str | None,
    force: bool,
    svsm: str | None,
    vars_size: str | None,
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
      refkit measure snp --mode snp --vcpus 1-64 --vcpu-type EPYC-Milan --ovmf OVMF.amdsev.fd \\
          --json -o snp.json
      H=$(refkit measure snp --mode snp:ovmf-hash --ovmf OVMF.amdsev.fd)
      refkit measure snp --mode snp --snp-ovmf-hash $H --vcpus 2 --vcpu-type EPYC-v4 \\
          --ovmf OVMF.amdsev.fd

    Text output is the measurement alone for one vCPU count (as sev-snp-measure prints
    it), else one "COUNT MEASUREMENT" line per count. With -o FILE nothing is written
    unless the measurement succeeds (a shell redirection would leave an empty file).

    \b
    Input limits: firmware, SVSM and VARS 256 MiB, kernel 512 MiB, initrd 2 GiB (a
    regular file or a pipe; devices are refused), command line 1 MiB.
    """
    # Hashing of the large inputs has started (refkit._console) or starts now; the
    # engine's import overlaps with it.
    from refkit import _console
    from refkit.hashing import DirectDigester, FileDigester, PrefetchedDigester

    prefetch = state().prefetch
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
    try:
        sig = resolve_signature(
            vcpu_type=vcpu_type,
            vcpu_sig=_auto_int(vcpu_sig, "--vcpu-sig"),
            family=_auto_int(vcpu_family, "--vcpu-family", hex_ok=False),
            model=_auto_int(vcpu_model, "--vcpu-model", hex_ok=False),
            stepping=_auto_int(vcpu_stepping, "--vcpu-stepping", hex_ok=False),
        )
    except InputError as exc:
        raise InputError(
            str(exc),
            hint="give one of --vcpu-type, --vcpu-sig, or --vcpu-family with --vcpu-model "
            "and --vcpu-stepping",
        ) from None
    features = _auto_int(guest_features, "--guest-features")
    assert features is not None
    # The library names inputs; these usage mistakes are worded with the options here.
    if initrd is not None and kernel is None:
        raise InputError("--initrd needs --kernel")
    if append not in (None, "") and kernel is None:
        raise InputError("--append needs --kernel")
    if snp_ovmf_hash is not None and sev_mode is not SevMode.SNP:
        raise InputError("--snp-ovmf-hash works only with --mode snp")
    if sev_mode is not SevMode.SNP_SVSM and (svsm, vars_size, vars_file) != (None,) * 3:
        raise InputError("--svsm, --vars-size and --vars-file belong to mode snp:svsm")
    if sev_mode.uses_vmsa and vcpus is None:
        raise InputError(f"--vcpus is required in mode {mode}")
    if sev_mode.uses_vmsa and sig is None and (vmm is VmmType.QEMU or sev_mode is SevMode.SNP_SVSM):
        raise InputError(
            f"mode {mode} with vmm type {vmm.peer_name} needs the vCPU signature",
            hint="give --vcpu-type, --vcpu-sig or --vcpu-family/--vcpu-model/--vcpu-stepping",
        )
    if sev_mode is SevMode.SNP_SVSM and svsm is None:
        raise InputError("mode snp:svsm needs --svsm")
    if sev_mode is SevMode.SNP_SVSM and vars_size is None and vars_file is None:
        raise InputError("mode snp:svsm needs --vars-size or --vars-file")
    if (
        output not in (None, "-") and not force and os.path.lexists(str(output))
    ):  # fail before the work
        raise InputError(f"output {output} exists", hint="pass --force to replace it")
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
    vars_bytes = _auto_int(vars_size, "--vars-size", hex_ok=False)
    if vars_file is not None:
        try:
            vars_bytes = os.stat(vars_file).st_size
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
        vars_size=vars_bytes,
        keep_vmsa=dump_vmsa,
        input_digests=as_json,
        vcpu_type=vcpu_type,
        product=None if product is None else SnpProduct(product),
    )
    result = measure(request, digester=digester)

    if dump_vmsa:
        _write_vmsa(result, dump_vmsa_dir, force=force)
    if as_json:
        from refkit.measure.snp.document import dumps

        deliver(dumps(result.to_json()).decode(), output, force=force)
        return
    if explain:
        _render_explain(result)
    encode = _encoder(output_format)
    if len(result.measurements) == 1:
        text = encode(result.measurements[0].digest)
    else:
        text = "\n".join(f"{m.vcpus} {encode(m.digest)}" for m in result.measurements)
    deliver(text + "\n", output, force=force)


def _encoder(output_format: str) -> Any:
    import base64

    if output_format == "base64":
        return lambda d: base64.b64encode(d).decode("ascii")
    return lambda d: d.hex()


def _write_vmsa(result: SnpResult, folder_text: str, *, force: bool) -> None:
    """Write vmsa<N>.bin for every measured vCPU: all of them, or none.

    Every target is checked before any is written: an existing file with the same bytes
    is kept, anything else there (other bytes, a symbolic link, a device) stops the
    command unless --force, and --force replaces the entry itself, never what a link
    points to. Existing files are compared with a bounded read that does not follow
    links. Each page is written through the atomic writer (random temporary name,
    created exclusively), so a planted temporary file cannot redirect the write.
    """
    from pathlib import Path

    from refkit.manifests.files import write_output

    assert result.vmsa is not None
    vmsa = result.vmsa
    folder = Path(folder_text)
    count = max(m.vcpus or 1 for m in result.measurements)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {folder}: {exc.strerror or exc}") from None
    pending: list[tuple[Path, bytes, bool]] = []
    for i in range(count):
        target = folder / f"vmsa{i}.bin"
        page = vmsa.page(i)
        state = _existing(target, page)
        if state == "same":
            continue
        if state != "absent" and not force:
            raise InputError(
                f"{target} exists {state}; not overwriting it (nothing was written)",
                hint="remove it, choose another --dump-vmsa-dir, or pass --force",
            )
        pending.append((target, page, state != "absent"))
    for target, page, replace in pending:
        write_output(target, page, force=replace)
    note(f"wrote {count} VMSA page(s) to {folder}")


def _existing(target: Any, page: bytes) -> str:
    """'absent', 'same', or how an existing entry differs from ``page``."""
    import stat

    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        raise InputError(f"cannot inspect {target}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(info.st_mode):
        return "as a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return "and is not a regular file"
    if info.st_size != len(page):
        return "with other contents"
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"cannot read {target}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return "and is not a regular file"
        data = fh.read(len(page) + 1)
    return "same" if data == page else "with other contents"


def _render_explain(result: SnpResult) -> None:
    from rich.table import Table

    console = stdout_console()
    req = result.request
    console.print(
        f"mode {req.mode.value}, vmm {req.vmm_type.peer_name}, firmware {result.firmware_source} "
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
