"""``refkit measure tdx``: Intel TDX MRTD and RTMR0-2 from boot artifacts.

Parses options, calls :func:`refkit.measure.tdx.measure` once, renders text or JSON.
"""

from __future__ import annotations

import click

from refkit.cli._options import json_option, output_force_option, output_option
from refkit.cli._output import deliver, note, warn
from refkit.errors import InputError

PAGE_ORDERS = ("per-page", "add-all-first")
LOAD_OPTIONS = ("qemu-ovmf", "initrd-first", "verbatim")
_File = click.Path(dir_okay=False)


@click.command(context_settings={"max_content_width": 100})
@click.option("--firmware", type=_File, required=True, help="TDX firmware (e.g. OVMF.inteltdx.fd).")
@click.option("--kernel", type=_File, help="Kernel for direct boot (RTMR1: its Authenticode).")
@click.option("--initrd", type=_File, help="Initrd (with --kernel; RTMR2).")
@click.option("--append", metavar="CMDLINE", help="Kernel command line (with --kernel; RTMR2).")
@click.option(
    "--page-order",
    type=click.Choice(PAGE_ORDERS),
    default="per-page",
    show_default=True,
    help="How the VMM added the firmware pages: per-page (QEMU 9 and later) or "
    "add-all-first (QEMU 8 and older TDX stacks; try it when MRTD differs on such hosts).",
)
@click.option(
    "--load-options",
    type=click.Choice(LOAD_OPTIONS),
    default="qemu-ovmf",
    show_default=True,
    help="How the kernel's load options are formed: qemu-ovmf (CMDLINE then ' initrd=initrd' "
    "when an initrd is given, as OVMF's QEMU loader does), initrd-first, verbatim.",
)
@click.option(
    "--platform-data",
    type=click.Path(file_okay=False),
    multiple=True,
    metavar="DIR",
    help="Captured platform data for RTMR0 (td_hob.bin, acpi/, ...; see docs/tdx-uki.md). "
    "Repeat for one RTMR0 per VM shape.",
)
@click.option(
    "--rtmr0-from-log",
    type=_File,
    multiple=True,
    metavar="CCEL",
    help="Take RTMR0 from a captured reference event log (TDX CCEL). Repeatable.",
)
@click.option("--vcpus", type=click.IntRange(1, 4096), help="vCPU count the values are for.")
@click.option("--memory", "memory_mib", type=click.IntRange(1), help="Memory size in MiB.")
@click.option("--vmm", default="qemu", show_default=True, help="VMM type recorded with values.")
@click.option("--vmm-version", help="VMM version recorded with values (e.g. 9.2.0).")
@output_option
@output_force_option
@json_option
def tdx(
    firmware: str,
    kernel: str | None,
    initrd: str | None,
    append: str | None,
    page_order: str,
    load_options: str,
    platform_data: tuple[str, ...],
    rtmr0_from_log: tuple[str, ...],
    vcpus: int | None,
    memory_mib: int | None,
    vmm: str,
    vmm_version: str | None,
    output: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Compute Intel TDX MRTD and RTMR0-2.

    \b
    MRTD comes from the firmware's TDVF metadata; RTMR1 and RTMR2 from the kernel,
    initrd and command line of a QEMU direct kernel boot; RTMR0 from captured platform
    data or a reference event log. Every value records what it assumes (page order,
    load-options variant, VM shape, inputs' digests) in --json.

    \b
    Examples:
      refkit measure tdx --firmware OVMF.inteltdx.ms.fd
      refkit measure tdx --firmware OVMF.inteltdx.ms.fd --kernel vmlinuz \\
          --initrd initrd.img --append "console=ttyS0" --vcpus 4 --json
    """
    from refkit.measure.tdx import LoadOptions, PageOrder, Shape, TdxRequest, measure
    from refkit.measure.tdx.document import dumps, result_json

    if output not in (None, "-"):
        from refkit.atomic import check_target

        check_target(output, force=force)  # before the work, not after it
    if initrd is not None and kernel is None:
        raise InputError("--initrd needs --kernel")
    if append is not None and kernel is None:
        raise InputError("--append needs --kernel")
    request = TdxRequest(
        firmware=firmware,
        kernel=kernel,
        initrd=initrd,
        append=append,
        page_order=PageOrder(page_order),
        load_options=LoadOptions(load_options),
        platform_data=platform_data,
        reference_logs=rtmr0_from_log,
        shape=Shape(vcpus, memory_mib, vmm, vmm_version),
    )
    result = measure(request)
    for text in result.notes:
        warn(text)
    if as_json:
        deliver(dumps(result_json(result)).decode(), output, force=force)
        return
    if kernel is not None:
        note(f"load options variant: {load_options}; page order: {page_order}")
    lines = [f"MRTD  {result.mrtd}"]
    for value in result.rtmr0:
        shape = value.shape
        label = ", ".join(
            str(x)
            for x in (
                f"{shape.vcpus} vCPU" if shape.vcpus else None,
                f"{shape.memory_mib} MiB" if shape.memory_mib else None,
                shape.vmm,
                shape.vmm_version,
            )
            if x
        )
        lines.append(f"RTMR0 {value.value}  ({value.kind} {value.origin}; {label or 'no shape'})")
    if result.rtmr1 is not None:
        lines.append(f"RTMR1 {result.rtmr1}")
        lines.append(f"RTMR2 {result.rtmr2}")
    deliver("\n".join(lines) + "\n", output, force=force)
