"""Constants of the TCG event-log specifications: algorithm identifiers, event types.

Sources: TCG Algorithm Registry (TPM_ALG_ID values and digest sizes); TCG PC Client
Platform Firmware Profile (PFP) 1.05, section 10.4.1 (event types, EV_EFI_* from
0x80000000); UEFI 2.10 section 10.3 (device path node types, used by
:mod:`.devicepath`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Algorithm:
    """A TPM hash algorithm: its TPM_ALG_ID, its bank name and its digest size."""

    alg_id: int
    name: str
    size: int

    @property
    def replayable(self) -> bool:
        """Whether this Python can compute the hash, and so replay the bank."""
        return self.name in hashlib.algorithms_available


#: TCG Algorithm Registry: the hash algorithms an event log may carry.
ALGORITHMS: Mapping[int, Algorithm] = MappingProxyType(
    {
        a.alg_id: a
        for a in (
            Algorithm(0x0004, "sha1", 20),
            Algorithm(0x000B, "sha256", 32),
            Algorithm(0x000C, "sha384", 48),
            Algorithm(0x000D, "sha512", 64),
            Algorithm(0x0012, "sm3_256", 32),
            Algorithm(0x0027, "sha3_256", 32),
            Algorithm(0x0028, "sha3_384", 48),
            Algorithm(0x0029, "sha3_512", 64),
        )
    }
)

BANKS: Mapping[str, Algorithm] = MappingProxyType({a.name: a for a in ALGORITHMS.values()})

EV_NO_ACTION = 0x3
EV_SEPARATOR = 0x4
EV_EFI_EVENT_BASE = 0x80000000

#: PFP 1.05 table 9 (and the EFI events after it): event type → name.
EVENT_TYPES: Mapping[int, str] = MappingProxyType(
    {
        0x0: "EV_PREBOOT_CERT",
        0x1: "EV_POST_CODE",
        0x2: "EV_UNUSED",
        0x3: "EV_NO_ACTION",
        0x4: "EV_SEPARATOR",
        0x5: "EV_ACTION",
        0x6: "EV_EVENT_TAG",
        0x7: "EV_S_CRTM_CONTENTS",
        0x8: "EV_S_CRTM_VERSION",
        0x9: "EV_CPU_MICROCODE",
        0xA: "EV_PLATFORM_CONFIG_FLAGS",
        0xB: "EV_TABLE_OF_DEVICES",
        0xC: "EV_COMPACT_HASH",
        0xD: "EV_IPL",
        0xE: "EV_IPL_PARTITION_DATA",
        0xF: "EV_NONHOST_CODE",
        0x10: "EV_NONHOST_CONFIG",
        0x11: "EV_NONHOST_INFO",
        0x12: "EV_OMIT_BOOT_DEVICE_EVENTS",
        0x13: "EV_POST_CODE2",
        0x80000001: "EV_EFI_VARIABLE_DRIVER_CONFIG",
        0x80000002: "EV_EFI_VARIABLE_BOOT",
        0x80000003: "EV_EFI_BOOT_SERVICES_APPLICATION",
        0x80000004: "EV_EFI_BOOT_SERVICES_DRIVER",
        0x80000005: "EV_EFI_RUNTIME_SERVICES_DRIVER",
        0x80000006: "EV_EFI_GPT_EVENT",
        0x80000007: "EV_EFI_ACTION",
        0x80000008: "EV_EFI_PLATFORM_FIRMWARE_BLOB",
        0x80000009: "EV_EFI_HANDOFF_TABLES",
        0x8000000A: "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
        0x8000000B: "EV_EFI_HANDOFF_TABLES2",
        0x8000000C: "EV_EFI_VARIABLE_BOOT2",
        0x8000000D: "EV_EFI_GPT_EVENT2",
        0x80000010: "EV_EFI_HCRTM_EVENT",
        0x800000E0: "EV_EFI_VARIABLE_AUTHORITY",
        0x800000E1: "EV_EFI_SPDM_FIRMWARE_BLOB",
        0x800000E2: "EV_EFI_SPDM_FIRMWARE_CONFIG",
        0x800000E3: "EV_EFI_SPDM_DEVICE_POLICY",
        0x800000E4: "EV_EFI_SPDM_DEVICE_AUTHORITY",
    }
)

EVENT_TYPE_IDS: Mapping[str, int] = MappingProxyType({v: k for k, v in EVENT_TYPES.items()})


def event_type_name(event_type: int) -> str:
    """The PFP name, or ``EV_UNKNOWN_0x...`` for a type the specification does not list."""
    return EVENT_TYPES.get(event_type, f"EV_UNKNOWN_{event_type:#010x}")
