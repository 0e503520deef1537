"""The boot events that extend TDX RTMR0-2, computed from boot artifacts.

Each event is a :class:`~refkit.measure.events.MeasuredEvent` whose ``sha384`` digest is
what the firmware or kernel extends, and whose ``source`` names the input that fed it, so
a replay can name the first differing event and its input. The registers follow the
UEFI CC measurement mapping that TDVF uses (PCR 0/1/7 -> RTMR0, PCR 2-6 -> RTMR1, PCR 8-15
-> RTMR2); RTMR values are SHA-384 extends starting from 48 zero bytes.

Event order and digest rules, checked against the real CCEL log of a TDX boot on Google
Cloud (../shared/vectors/tdx/ccel-gcp): EV_EFI_ACTION digests are SHA-384 of the ASCII text
without a NUL; EV_SEPARATOR is SHA-384 of four zero bytes; EV_EFI_VARIABLE_DRIVER_CONFIG
digests the whole UEFI_VARIABLE_DATA structure, EV_EFI_VARIABLE_BOOT only the variable's
data.

RTMR1 for QEMU direct kernel boot (OVMF ``TryRunningQemuKernel``): the kernel image is
loaded first (its Authenticode SHA-384), then ReadyToBoot logs "Calling EFI Application
from Boot Option" and the separator, then the kernel exits boot services (two actions).
RTMR2: the Linux EFI stub measures its load options (UTF-16LE with the NUL terminator;
how the VMM/firmware formats them is a :class:`LoadOptions` variant) and the initrd
(SHA-384 of its bytes).
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import Sequence

from refkit.measure.events import MeasuredEvent

CALLING_EFI_APPLICATION = "Calling EFI Application from Boot Option"
EXIT_BOOT_SERVICES = "Exit Boot Services Invocation"
EXIT_BOOT_SERVICES_OK = "Exit Boot Services Returned with Success"
EFI_GLOBAL_VARIABLE = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
EFI_IMAGE_SECURITY_DATABASE = "d719b2cb-3d3a-4596-a3bc-dad00e67656f"


class LoadOptions(enum.Enum):
    """How the kernel's load options are formed from the command line (none is guessed:
    the variant is a parameter recorded with every value)."""

    #: OVMF's X86QemuLoadImageLib: the command line, then " initrd=initrd" when QEMU
    #: passes an initrd (no load options at all when both are empty)
    QEMU_OVMF = "qemu-ovmf"
    #: "initrd=initrd " then the command line (stacks that prepend the initrd argument)
    INITRD_FIRST = "initrd-first"
    #: the command line exactly as given
    VERBATIM = "verbatim"

    def text(self, cmdline: str, has_initrd: bool) -> str | None:
        """The load-options string, or None when the firmware passes none."""
        if self is LoadOptions.VERBATIM:
            return cmdline
        if not has_initrd:
            return cmdline or None
        if self is LoadOptions.QEMU_OVMF:
            return f"{cmdline} initrd=initrd"
        return f"initrd=initrd {cmdline}"


def sha384(data: bytes) -> str:
    return hashlib.sha384(data).hexdigest()


def event(
    register: str,
    event_type: str,
    data: bytes,
    description: str,
    source: str | None,
    *,
    digest_of: bytes | None = None,
) -> MeasuredEvent:
    """An event whose digest is SHA-384 of ``digest_of`` (default: of ``data``)."""
    measured = data if digest_of is None else digest_of
    return MeasuredEvent(
        register=register,
        event_type=event_type,
        digests={"sha384": sha384(measured)},
        description=description,
        source=source,
        data=data,
    )


def action(register: str, text: str) -> MeasuredEvent:
    return event(register, "EV_EFI_ACTION", text.encode("ascii"), text, "firmware (fixed text)")


def separator(register: str) -> MeasuredEvent:
    return event(register, "EV_SEPARATOR", bytes(4), "separator", "firmware (fixed)")


def variable_data(guid: str, name: str, data: bytes) -> bytes:
    """UEFI_VARIABLE_DATA: GUID (little-endian), u64 name length in characters, u64 data
    length, UTF-16LE name without NUL, data (TCG PC Client PFP, section 10.2.6)."""
    encoded = name.encode("utf-16-le")
    return (
        uuid.UUID(guid).bytes_le
        + (len(encoded) // 2).to_bytes(8, "little")
        + len(data).to_bytes(8, "little")
        + encoded
        + data
    )


def rtmr1_events(kernel_authenticode_sha384: bytes, kernel_source: str) -> list[MeasuredEvent]:
    """RTMR1 of a QEMU direct kernel boot."""
    kernel = MeasuredEvent(
        register="rtmr1",
        event_type="EV_EFI_BOOT_SERVICES_APPLICATION",
        digests={"sha384": kernel_authenticode_sha384.hex()},
        description="kernel image (Authenticode SHA-384)",
        source=kernel_source,
    )
    return [
        kernel,
        action("rtmr1", CALLING_EFI_APPLICATION),
        separator("rtmr1"),
        action("rtmr1", EXIT_BOOT_SERVICES),
        action("rtmr1", EXIT_BOOT_SERVICES_OK),
    ]


def rtmr2_events(
    cmdline: str,
    variant: LoadOptions,
    initrd_sha384: bytes | None,
    initrd_source: str | None,
) -> list[MeasuredEvent]:
    """RTMR2: the kernel's load options, then the initrd (when one is given)."""
    events: list[MeasuredEvent] = []
    text = variant.text(cmdline, initrd_sha384 is not None)
    if text is not None:
        encoded = text.encode("utf-16-le") + b"\0\0"
        events.append(
            event(
                "rtmr2",
                "EV_EVENT_TAG",
                encoded,
                f"kernel load options ({variant.value}): {text!r}",
                f"command line, load-options variant {variant.value}",
            )
        )
    if initrd_sha384 is not None:
        events.append(
            MeasuredEvent(
                register="rtmr2",
                event_type="EV_EVENT_TAG",
                digests={"sha384": initrd_sha384.hex()},
                description="initrd (SHA-384 of its bytes)",
                source=initrd_source,
            )
        )
    return events


def replay_rtmrs(events: Sequence[MeasuredEvent]) -> dict[str, str]:
    """RTMR0-3 (hex) after ``events``; registers without events stay zero."""
    from refkit.measure.events import replay

    values = {f"rtmr{i}": bytes(48).hex() for i in range(4)}
    values.update(replay(events, "sha384"))
    return values
