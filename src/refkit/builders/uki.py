"""The ``uki`` builder: a unified kernel image through the pinned trixie ``ukify`` and
systemd-stub, with its PCR predictions.

Inputs (names in the recipe's ``inputs``):

- ``kernel`` (required): the kernel image (e.g. the member ``boot/vmlinuz-...`` of a
  pinned ``linux-image`` package);
- ``stub`` (required): systemd-stub, as the file or as the pinned ``systemd-boot-efi``
  package (then its member ``usr/lib/systemd/boot/efi/linuxx64.efi.stub`` is taken);
- ``ukify`` (required): the ``ukify`` script, as the file or as the pinned
  ``systemd-ukify`` package (member ``usr/lib/systemd/ukify``); it runs under refkit's
  own interpreter, which carries ``pefile``;
- ``initrd``, ``os_release``, ``cmdline`` (optional files): the .initrd, .osrel and
  .cmdline sections; ``initrd`` may be a directory, whose files are joined in name order
  (ukify pads each to 4 bytes). The command line and os-release may instead be given as the
  ``cmdline`` and ``os_release`` parameters (not both ways).

Determinism: trixie's ukify writes a reproducible PE image (no build time in the COFF
header, sections in a fixed order); nothing of the build machine gets in because every
section is given explicitly: os-release is either the input/parameter or disabled (ukify
would otherwise copy the host's ``/etc/os-release``), the stub and the EFI architecture
are named, the kernel release (.uname) comes from the kernel image itself or the ``uname``
parameter, and the tool runs in the fixed environment of :mod:`refkit.builders._run`.
No Secure Boot signing and no PCR signature (.pcrsig) are done here: both need keys and
the signature would change the Authenticode digest, not the sections.

Facts: each section's size and sha256 (of its contents at VirtualSize, what the stub
measures), the stub's version from .sdmagic, and the PCR 11 prediction after each boot
phase plus PCR 4 and PCR 9 in SHA-256 and SHA-384 (:mod:`refkit.measure.uki`).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from refkit.builders._run import is_deb, opt, run, sorted_facts
from refkit.builders.api import BuildContext, Built, register
from refkit.errors import EnvironmentProblem, InputError
from refkit.measure import uki as measure

STUB_MEMBER: Final = "usr/lib/systemd/boot/efi/linuxx64.efi.stub"
UKIFY_MEMBER: Final = "usr/lib/systemd/ukify"
#: The banks the facts carry (the vTPM's SHA-256 bank; SHA-384 as TDX RTMRs use).
BANKS: Final = ("sha256", "sha384")


def _from_package(path: Path, member: str, dest: Path) -> Path:
    """``path`` itself, or when it is a Debian package, its ``member`` written to ``dest``."""
    if not is_deb(path):
        return path
    from refkit.inputs.deb import extract_files

    with open(path, "rb") as stream, open(dest, "xb") as sink:
        extract_files(stream, {member: sink}, source=os.fspath(path))
    return dest


def _initrds(path: Path | None) -> list[Path]:
    """The initrd parts in the order the kernel gets them: one file, or a directory's
    regular files by sorted name (e.g. microcode first by naming). ukify joins several,
    each zero-padded to 4 bytes."""
    if path is None:
        return []
    if not path.is_dir():
        return [path]
    parts = sorted((p for p in path.iterdir()), key=lambda p: p.name)
    for p in parts:
        if p.is_symlink() or not p.is_file():
            raise InputError(f"initrd folder {path}: {p.name} is not a regular file")
    if not parts:
        raise InputError(f"initrd folder {path} is empty")
    return parts


def _text_or_file(ctx: BuildContext, name: str) -> tuple[str | None, Path | None]:
    """The ``name`` section's text from the parameter, or its file from the input."""
    text = ctx.params.get(name)
    path = ctx.inputs.get(name)
    if text is not None and path is not None:
        raise InputError(f"{ctx.name}: {name} is given both as a parameter and as an input")
    return (None if text is None else str(text)), path


class UkiBuilder:
    name = "uki"
    version = "1"
    tree_output = False
    params_schema: Mapping[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "cmdline": {"type": "string", "description": "the kernel command line (.cmdline)"},
            "os_release": {"type": "string", "description": "the os-release text (.osrel)"},
            "uname": {
                "type": "string",
                "description": "the kernel release (.uname); read from the kernel when absent",
            },
        },
    }

    def build(self, ctx: BuildContext) -> Built:
        for required in ("kernel", "stub", "ukify"):
            if required not in ctx.inputs:
                raise InputError(f"{ctx.name}: the uki builder needs an input named {required!r}")
        unknown = sorted(
            set(ctx.inputs) - {"kernel", "stub", "ukify", "initrd", "os_release", "cmdline"}
        )
        if unknown:
            raise InputError(f"{ctx.name}: the uki builder has no input named {unknown[0]!r}")
        if is_deb(ctx.inputs["kernel"]):
            raise InputError(
                f"{ctx.name}: the kernel input is a Debian package; name its kernel image "
                f"as the input's member (e.g. boot/vmlinuz-<release>)"
            )
        work = ctx.workdir
        ctx.progress("unpacking ukify and systemd-stub", None, None)
        stub = _from_package(ctx.inputs["stub"], STUB_MEMBER, work / "linuxx64.efi.stub")
        ukify = _from_package(ctx.inputs["ukify"], UKIFY_MEMBER, work / "ukify")
        argv = [
            sys.executable,
            os.fspath(ukify),
            "build",
            opt("linux", os.fspath(ctx.inputs["kernel"])),
            opt("stub", os.fspath(stub)),
            opt("efi-arch", "x64"),
            opt("output", os.fspath(ctx.output)),
        ]
        for initrd in _initrds(ctx.inputs.get("initrd")):
            argv.append(opt("initrd", os.fspath(initrd)))
        cmdline, cmdline_file = _text_or_file(ctx, "cmdline")
        if cmdline is not None:
            argv.append(opt("cmdline", cmdline))
        elif cmdline_file is not None:
            argv.append(opt("cmdline", "@" + os.fspath(cmdline_file)))
        osrel, osrel_file = _text_or_file(ctx, "os_release")
        if osrel is not None:
            (work / "os-release").write_text(osrel, encoding="utf-8")
            osrel_file = work / "os-release"
        # an empty value disables .osrel: never the build machine's /etc/os-release
        argv.append(opt("os-release", "" if osrel_file is None else "@" + os.fspath(osrel_file)))
        if "uname" in ctx.params:
            argv.append(opt("uname", str(ctx.params["uname"])))
        ctx.progress("ukify build", None, None)
        run(argv, what="ukify build", epoch=ctx.source_date_epoch, workdir=work)
        if not ctx.output.is_file():
            raise EnvironmentProblem(f"ukify reported success but wrote no {ctx.output}")
        version = run(
            [sys.executable, os.fspath(ukify), opt("version")],
            what="ukify",
            epoch=ctx.source_date_epoch,
            workdir=work,
        ).stdout.strip()
        return Built(
            facts=sorted_facts(uki_facts(ctx.output)),
            tools={"ukify": version.removeprefix("ukify ").strip() or "unknown"},
        )


def uki_facts(path: Path) -> dict[str, Any]:
    """Sections (size, sha256), stub version and PCR predictions of the UKI at ``path``."""
    uki = measure.read_uki(path)
    prediction = measure.predict(uki, banks=BANKS)
    sections = {
        name: {"size": len(part.data), "sha256": hashlib.sha256(part.data).hexdigest()}
        for name, part in sorted(uki.parts.items())
    }
    return {
        "sections": sections,
        "stubVersion": uki.stub_version,
        "pcrRules": prediction.rules.value,
        "pcr11": {bank: dict(steps) for bank, steps in sorted(prediction.pcr11.items())},
        "pcr4": None if prediction.pcr4 is None else dict(sorted(prediction.pcr4.items())),
        "pcr9": None if prediction.pcr9 is None else dict(sorted(prediction.pcr9.items())),
    }


BUILDER: Final = register(UkiBuilder())
