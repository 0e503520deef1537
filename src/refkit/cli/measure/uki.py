"""``refkit measure uki``: vTPM PCR 11, 4 and 9 of a unified kernel image.

Parses options, reads the UKI (or its parts), calls :func:`refkit.measure.uki.predict`
once and renders text (as ``systemd-measure calculate`` prints PCR 11) or JSON.
"""

from __future__ import annotations

import click

from refkit.cli._options import json_option, output_force_option, output_option
from refkit.cli._output import deliver
from refkit.errors import InputError

_File = click.Path(dir_okay=False)
PARTS = (
    "linux",
    "osrel",
    "cmdline",
    "initrd",
    "ucode",
    "splash",
    "dtb",
    "uname",
    "sbat",
    "pcrpkey",
)
RULES = ("252", "257")


def _part_options(func: click.decorators.FC) -> click.decorators.FC:
    for name in reversed(PARTS):
        func = click.option(
            f"--{name}",
            type=_File,
            help=f"File for the .{name} section (instead of a UKI file).",
        )(func)
    return func


@click.command(context_settings={"max_content_width": 100})
@click.argument("uki_file", required=False, type=_File)
@_part_options
@click.option(
    "--stub-rules",
    type=click.Choice(RULES),
    help="systemd-stub version whose section rules apply. Default: the version named in "
    "the UKI's .sdmagic section; required with parts.",
)
@click.option(
    "--bank",
    "banks",
    multiple=True,
    type=click.Choice(["sha1", "sha256", "sha384", "sha512"]),
    help="PCR bank (repeatable). Default: sha256 and sha384.",
)
@click.option("--phases", is_flag=True, help="Print PCR 11 after each boot phase (text).")
@output_option
@output_force_option
@json_option
def uki(
    uki_file: str | None,
    stub_rules: str | None,
    banks: tuple[str, ...],
    phases: bool,
    output: str | None,
    force: bool,
    as_json: bool,
    **parts: str | None,
) -> None:
    """Predict vTPM PCR 11 (systemd-stub), PCR 4 and PCR 9 of a UKI.

    \b
    Give a UKI file, or its parts (--linux, --initrd, --cmdline, ...) as
    systemd-measure takes them. PCR 4 needs the UKI file (its Authenticode digest).

    \b
    Examples:
      refkit measure uki uki.efi
      refkit measure uki --linux vmlinuz --initrd initrd.img --cmdline cmdline.txt \\
          --osrel os-release --stub-rules 252 --json
    """
    from refkit.measure.uki import DEFAULT_BANKS, StubRules, predict, read_uki, uki_from_parts
    from refkit.measure.uki_document import dumps, result_json

    if output not in (None, "-"):
        from refkit.atomic import check_target

        check_target(output, force=force)  # before the work, not after it
    given = {f".{k}": v for k, v in parts.items() if v is not None}
    if uki_file is not None and given:
        raise InputError("give a UKI file or its parts (--linux ...), not both")
    if uki_file is None and not given:
        raise InputError("give a UKI file, or its parts starting with --linux")
    if uki_file is None:
        if stub_rules is None:
            raise InputError(
                "with parts, choose the stub's section rules",
                hint="pass --stub-rules 252 or 257 (the systemd version of the stub)",
            )
        image = uki_from_parts(given)
    else:
        image = read_uki(uki_file)
    rules = None if stub_rules is None else StubRules(stub_rules)
    prediction = predict(image, rules, banks or DEFAULT_BANKS)
    if as_json:
        deliver(dumps(result_json(image, prediction, uki_file)).decode(), output, force=force)
        return
    lines = [
        f"# systemd-stub rules {prediction.rules.value}"
        + (f" (stub {image.stub_version})" if image.stub_version else "")
    ]
    for bank in prediction.banks:
        steps = prediction.pcr11[bank] if phases else prediction.pcr11[bank][-1:]
        lines += [
            f"11:{bank}={value}" + (f"  # {phase}" if phases else "") for phase, value in steps
        ]
    for bank in prediction.banks:
        if prediction.pcr4 is not None:
            lines.append(f"4:{bank}={prediction.pcr4[bank]}")
        if prediction.pcr9 is not None:
            lines.append(f"9:{bank}={prediction.pcr9[bank]}")
    deliver("\n".join(lines) + "\n", output, force=force)
