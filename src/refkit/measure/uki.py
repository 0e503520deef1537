"""vTPM PCR prediction for a unified kernel image (UKI): PCR 11, PCR 4 and PCR 9.

PCR 11 (systemd-stub): for each UKI section the stub measures, in the stub's canonical
section order, extend H(section name + NUL) then H(section contents at VirtualSize); then
systemd extends each boot phase as H(ASCII phase name, no NUL): ``enter-initrd``,
``leave-initrd``, ``sysinit``, ``ready``. The value after each phase is reported, as
``systemd-measure calculate`` does. Which sections are measured depends on the stub's
systemd version (:class:`StubRules`): 252 measures .linux .osrel .cmdline .initrd .splash
.dtb .pcrpkey; 257 adds .ucode, .uname and .sbat. Sections that select content per
machine or profile (.profile, .dtbauto, .hwids, .efifw) are refused: their measurement
depends on the booted machine. A UKI file names its stub in the .sdmagic section
("systemd-stub 257.13-1~deb13u1"); versions without known rules are refused unless the
caller chooses the rules.

PCR 4 (firmware, from a UKI file): EV_EFI_ACTION "Calling EFI Application from Boot
Option", the separator, the Authenticode digest of the UKI, then of its .linux section
(the stub loads the kernel through the firmware, which measures it). PCR 9 (the Linux EFI
stub): the load options (the .cmdline text as UTF-16LE with a NUL terminator) and the
initrd the kernel receives (.ucode then .initrd under 257 rules; no add-ons, credentials
or system extensions, which the stub would append). PCR 4 and PCR 9 follow
../shared/DOMAIN.md section 4; no captured vTPM log of a UKI boot checked them here.

Pure: bytes or paths in, :class:`~refkit.measure.events.MeasuredEvent` lists and values out.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from refkit.errors import InputError, UnsupportedInput, read_input_file
from refkit.measure.events import MeasuredEvent, replay
from refkit.measure.pe import MAX_PE_BYTES, PeImage, authenticode_digests, parse_pe

PHASES = ("enter-initrd", "leave-initrd", "sysinit", "ready")
DEFAULT_BANKS = ("sha256", "sha384")
MAX_PART_BYTES = 2 * 1024 * 1024 * 1024
CALLING_EFI_APPLICATION = "Calling EFI Application from Boot Option"
#: Sections whose measurement depends on the machine or profile booted: not modelled.
UNMODELLED_SECTIONS = (".profile", ".dtbauto", ".hwids", ".efifw")
_STUB_VERSION = re.compile(rb"systemd-stub ([0-9]+)([^ #\0]*)")


class StubRules(enum.Enum):
    """Which sections a systemd-stub version measures into PCR 11, in order."""

    SYSTEMD_252 = "252"
    SYSTEMD_257 = "257"

    @property
    def sections(self) -> tuple[str, ...]:
        if self is StubRules.SYSTEMD_252:
            return (".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".pcrpkey")
        return (
            ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb",
            ".uname", ".sbat", ".pcrpkey",
        )  # fmt: skip


@dataclass(frozen=True)
class Part:
    """One UKI section's contents and where they came from."""

    data: bytes = field(repr=False)
    source: str


@dataclass(frozen=True)
class Uki:
    """A UKI as the stub sees it: its sections, the stub version, the whole image."""

    parts: Mapping[str, Part]
    stub_version: str | None
    image: PeImage | None = None


def stub_version(image: PeImage) -> str | None:
    """The systemd-stub version named in .sdmagic, e.g. ``257.13-1~deb13u1``."""
    section = image.find(".sdmagic")
    if section is None:
        return None
    found = _STUB_VERSION.search(image.section_data(section))
    return None if found is None else (found.group(1) + found.group(2)).decode("ascii", "replace")


def rules_for(version: str | None) -> StubRules:
    """The rules of a stub version; unknown versions are refused, never guessed."""
    major = None if version is None else version.split(".")[0].split("-")[0]
    for rules in StubRules:
        if rules.value == major:
            return rules
    raise UnsupportedInput(
        f"no PCR 11 rules known for systemd-stub {version or '(version not found)'}; "
        f"known: {', '.join(r.value for r in StubRules)}",
        hint="choose the rules of the stub that will boot it explicitly",
    )


def read_uki(path: str | os.PathLike[str] | bytes) -> Uki:
    """Read a UKI file: every section it carries, by name (a duplicate is refused)."""
    if isinstance(path, bytes):
        image = parse_pe(path, source="<UKI bytes>")
    else:
        image = parse_pe(
            read_input_file(path, what="UKI", limit=MAX_PE_BYTES), source=os.fspath(path)
        )
    parts: dict[str, Part] = {}
    for section in image.sections:
        if section.name in parts and section.name.startswith("."):
            raise UnsupportedInput(
                f"{image.source}: section {section.name} appears twice (multi-profile UKI?)"
            )
        parts[section.name] = Part(
            image.section_data(section), f"{image.source} section {section.name}"
        )
    if ".linux" not in parts:
        raise UnsupportedInput(
            f"{image.source}: not a UKI: it has no .linux section "
            f"(sections: {', '.join(image.section_names)})"
        )
    return Uki(parts, stub_version(image), image)


def uki_from_parts(
    files: Mapping[str, str | os.PathLike[str] | bytes], stub: str | None = None
) -> Uki:
    """A UKI given as its parts: section name (".linux", ...) -> file or bytes."""
    if ".linux" not in files:
        raise InputError("a UKI needs a kernel (.linux)")
    parts = {}
    for name, item in files.items():
        if isinstance(item, bytes):
            parts[name] = Part(item, f"<{name} bytes>")
        else:
            parts[name] = Part(
                read_input_file(item, what=f"{name} file", limit=MAX_PART_BYTES), os.fspath(item)
            )
    return Uki(parts, stub)


def _digests(data: bytes, banks: Sequence[str]) -> dict[str, str]:
    return {b: hashlib.new(b, data).hexdigest() for b in banks}


def _event(
    register: str, kind: str, data: bytes, banks: Sequence[str], what: str, source: str | None
) -> MeasuredEvent:
    return MeasuredEvent(register, kind, _digests(data, banks), what, source, data)


def pcr11_events(
    uki: Uki, rules: StubRules, banks: Sequence[str] = DEFAULT_BANKS
) -> list[MeasuredEvent]:
    """PCR 11's section events (without the boot phases)."""
    for name in UNMODELLED_SECTIONS:
        if name in uki.parts:
            raise UnsupportedInput(
                f"the UKI has a {name} section: its PCR 11 value depends on the machine "
                f"or profile booted, which refkit does not model"
            )
    events = []
    for name in rules.sections:
        part = uki.parts.get(name)
        if part is None or not part.data:
            continue
        events.append(
            _event(
                "pcr11",
                "EV_IPL",
                name.encode() + b"\0",
                banks,
                f"section name {name}",
                "systemd-stub",
            )
        )
        events.append(_event("pcr11", "EV_IPL", part.data, banks, f"section {name}", part.source))
    return events


def phase_events(
    banks: Sequence[str] = DEFAULT_BANKS, phases: Sequence[str] = PHASES
) -> list[MeasuredEvent]:
    return [
        _event(
            "pcr11", "EV_IPL", p.encode("ascii"), banks, f"boot phase {p}", "systemd (fixed text)"
        )
        for p in phases
    ]


def pcr4_events(uki: Uki, banks: Sequence[str] = DEFAULT_BANKS) -> list[MeasuredEvent]:
    """PCR 4 (needs the UKI file: its Authenticode digest)."""
    if uki.image is None:
        raise InputError("PCR 4 needs the UKI file itself (its Authenticode digest)")
    linux = parse_pe(uki.parts[".linux"].data, source=f"{uki.image.source} section .linux")
    return [
        _event(
            "pcr4", "EV_EFI_ACTION", CALLING_EFI_APPLICATION.encode(), banks,
            CALLING_EFI_APPLICATION, "firmware (fixed text)",
        ),
        _event("pcr4", "EV_SEPARATOR", bytes(4), banks, "separator", "firmware (fixed)"),
        MeasuredEvent(
            "pcr4", "EV_EFI_BOOT_SERVICES_APPLICATION",
            {a: d.hex() for a, d in authenticode_digests(uki.image, banks).items()},
            "UKI image (Authenticode)", uki.image.source,
        ),
        MeasuredEvent(
            "pcr4", "EV_EFI_BOOT_SERVICES_APPLICATION",
            {a: d.hex() for a, d in authenticode_digests(linux, banks).items()},
            "kernel in .linux (Authenticode)", linux.source,
        ),
    ]  # fmt: skip


def pcr9_events(
    uki: Uki, rules: StubRules, banks: Sequence[str] = DEFAULT_BANKS
) -> list[MeasuredEvent]:
    """PCR 9: the kernel's load options (from .cmdline) and the initrd it receives."""
    events = []
    cmdline = uki.parts.get(".cmdline")
    if cmdline is not None:
        text = cmdline.data.rstrip(b"\0").decode("utf-8", "replace").rstrip()
        events.append(
            _event(
                "pcr9",
                "EV_EVENT_TAG",
                text.encode("utf-16-le") + b"\0\0",
                banks,
                f"load options {text!r}",
                cmdline.source,
            )
        )
    pieces = [".ucode", ".initrd"] if rules is StubRules.SYSTEMD_257 else [".initrd"]
    initrd = [uki.parts[p] for p in pieces if p in uki.parts and uki.parts[p].data]
    if initrd:
        events.append(
            _event(
                "pcr9",
                "EV_EVENT_TAG",
                b"".join(p.data for p in initrd),
                banks,
                "initrd as the kernel receives it",
                " + ".join(p.source for p in initrd),
            )
        )
    return events


def pcr_events(
    uki: Uki,
    rules: StubRules | None = None,
    banks: Sequence[str] = DEFAULT_BANKS,
    *,
    phases: Sequence[str] = PHASES,
) -> list[MeasuredEvent]:
    """Every computed event: PCR 4 (UKI files only), PCR 9, PCR 11 with its boot phases."""
    chosen = rules or rules_for(uki.stub_version)
    events = pcr4_events(uki, banks) if uki.image is not None else []
    events += pcr9_events(uki, chosen, banks)
    events += pcr11_events(uki, chosen, banks)
    events += phase_events(banks, phases)
    return events


@dataclass(frozen=True)
class PcrPrediction:
    rules: StubRules
    banks: tuple[str, ...]
    #: bank -> [(phase path, PCR 11 hex)], after each boot phase, as systemd-measure prints
    pcr11: Mapping[str, tuple[tuple[str, str], ...]]
    #: bank -> hex, or None when not computable from the inputs
    pcr4: Mapping[str, str] | None
    pcr9: Mapping[str, str] | None
    events: tuple[MeasuredEvent, ...]


def predict(
    uki: Uki,
    rules: StubRules | None = None,
    banks: Sequence[str] = DEFAULT_BANKS,
    *,
    pcrs: Sequence[int] = (4, 9, 11),
) -> PcrPrediction:
    """PCR 11 after each phase, PCR 4 and PCR 9 (those of ``pcrs`` that the inputs
    allow), in every bank."""
    for bank in banks:
        if bank not in ("sha1", "sha256", "sha384", "sha512"):
            raise InputError(f"unknown bank {bank!r}; use sha1, sha256, sha384 or sha512")
    chosen = rules or rules_for(uki.stub_version)
    events = pcr4_events(uki, banks) if uki.image is not None and 4 in pcrs else []
    events += pcr9_events(uki, chosen, banks) if 9 in pcrs else []
    sections = pcr11_events(uki, chosen, banks)
    events += sections + phase_events(banks, PHASES)
    pcr11: dict[str, tuple[tuple[str, str], ...]] = {}
    for bank in banks:
        steps = []
        for i in range(1, len(PHASES) + 1):
            value = replay(sections + phase_events((bank,), PHASES[:i]), bank)["pcr11"]
            steps.append((":".join(PHASES[:i]), value))
        pcr11[bank] = tuple(steps)
    pcr4 = pcr9 = None
    if any(e.register == "pcr4" for e in events):
        pcr4 = {b: replay([e for e in events if e.register == "pcr4"], b)["pcr4"] for b in banks}
    nine = [e for e in events if e.register == "pcr9"]
    if nine:
        pcr9 = {b: replay(nine, b)["pcr9"] for b in banks}
    return PcrPrediction(chosen, tuple(banks), pcr11, pcr4, pcr9, tuple(events))
