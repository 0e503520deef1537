"""SEV-SNP platform values a release engineer declares, per product (``declared.snp``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from refkit.manifests.model.common import (
    CONSTRAINT_UNKNOWN,
    SNP_CHIP_ID_SIZE,
    SNP_MEASUREMENT_SIZE,
    as_list,
    read_enum,
    sorted_set,
)
from refkit.manifests.model.enums import SnpProduct
from refkit.manifests.model.kind import Kind, View, grouped
from refkit.reader import Obj, merged, put


@dataclass(frozen=True)
class SnpTcb:
    """Minimum SVN per TCB component (u8 each); ``fmc`` exists on Turin only."""

    bootloader: int
    tee: int
    snp: int
    microcode: int
    fmc: int | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> SnpTcb:
        return cls(
            bootloader=obj.integer("bootloader", hi=255),
            tee=obj.integer("tee", hi=255),
            snp=obj.integer("snp", hi=255),
            microcode=obj.integer("microcode", hi=255),
            fmc=obj.opt_integer("fmc", hi=255),
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bootloader": self.bootloader,
            "tee": self.tee,
            "snp": self.snp,
            "microcode": self.microcode,
        }
        put(out, "fmc", self.fmc)
        return merged(out, self.unrecognized)

    def __str__(self) -> str:
        text = f"bootloader {self.bootloader}, tee {self.tee}, snp {self.snp}, "
        text += f"microcode {self.microcode}"
        return text + (f", fmc {self.fmc}" if self.fmc is not None else "")


@dataclass(frozen=True)
class SnpDeclared:
    """SEV-SNP platform values a release engineer declares, per product (None: any).

    ``guestPolicy``, ``platformInfo`` and ``minimumMitigationVector`` are the u64 values of
    the attestation report fields, as JSON integers (all defined bits are below 2**53).

    Schema 1.2 adds ``debugAllowed`` (a guest whose policy allows DEBUG passes only when
    true; ``guestPolicy`` itself still refuses bit 19) and ``allowedIdKeyDigests`` /
    ``allowedAuthorKeyDigests`` (48-byte SHA-384 digests of the ID block's keys the report
    may carry; absent: not checked).
    """

    minimum_tcb: SnpTcb
    guest_policy: int
    product: SnpProduct | None = None
    vmpl: int | None = None
    platform_info: int | None = None
    minimum_mitigation_vector: int | None = None
    allowed_chip_ids: tuple[str, ...] | None = None
    debug_allowed: bool | None = None
    allowed_id_key_digests: tuple[str, ...] | None = None
    allowed_author_key_digests: tuple[str, ...] | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> SnpDeclared:
        out = cls(
            product=read_enum(obj, "product", SnpProduct, required=False),
            minimum_tcb=SnpTcb.parse(obj.obj("minimumTcb")),
            guest_policy=obj.integer("guestPolicy"),
            vmpl=obj.opt_integer("vmpl", hi=3),
            platform_info=obj.opt_integer("platformInfo"),
            minimum_mitigation_vector=obj.opt_integer("minimumMitigationVector"),
            allowed_chip_ids=obj.hex_list("allowedChipIds", SNP_CHIP_ID_SIZE),
            debug_allowed=_opt_bool(obj, "debugAllowed"),
            allowed_id_key_digests=obj.hex_list("allowedIdKeyDigests", SNP_MEASUREMENT_SIZE),
            allowed_author_key_digests=obj.hex_list(
                "allowedAuthorKeyDigests", SNP_MEASUREMENT_SIZE
            ),
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )
        if not out.guest_policy & (1 << 17):
            raise obj.fail("guestPolicy", "bit 17 is reserved and must be 1 (SNP ABI)")
        if out.guest_policy & (1 << 19):
            raise obj.fail(
                "guestPolicy",
                "allows DEBUG (bit 19): a debuggable guest has no confidentiality",
            )
        if out.minimum_tcb.fmc is not None and out.product not in (SnpProduct.TURIN, None):
            raise obj.fail("minimumTcb.fmc", "exists on Turin only")
        return out

    @property
    def key(self) -> str:
        return f"snp {self.product or 'any'}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "minimumTcb": self.minimum_tcb.to_json(),
            "guestPolicy": self.guest_policy,
        }
        put(out, "product", None if self.product is None else self.product.value)
        put(out, "vmpl", self.vmpl)
        put(out, "platformInfo", self.platform_info)
        put(out, "minimumMitigationVector", self.minimum_mitigation_vector)
        put(out, "allowedChipIds", as_list(self.allowed_chip_ids))
        put(out, "debugAllowed", self.debug_allowed)
        put(out, "allowedIdKeyDigests", as_list(self.allowed_id_key_digests))
        put(out, "allowedAuthorKeyDigests", as_list(self.allowed_author_key_digests))
        return merged(out, self.unrecognized)


def _opt_bool(obj: Obj, key: str) -> bool | None:
    value = obj.raw(key)
    if key in obj.value and not isinstance(value, bool):
        raise obj.fail(key, "expected true or false")
    return value if isinstance(value, bool) else None


def for_product(entries: Sequence[SnpDeclared], product: SnpProduct | None) -> SnpDeclared | None:
    """The declared SNP values for ``product``: its own entry, else the one for any."""
    exact = [d for d in entries if d.product is not None and d.product == product]
    if exact:
        return exact[0]
    return next((d for d in entries if d.product is None), None)


def _rows(d: SnpDeclared) -> Iterable[Sequence[str]]:
    rows: list[Sequence[str]] = [
        ("minimum TCB", str(d.minimum_tcb)),
        ("guest policy", f"{d.guest_policy:#x}"),
    ]
    if d.vmpl is not None:
        rows.append(("VMPL", str(d.vmpl)))
    if d.platform_info is not None:
        rows.append(("platform info", f"{d.platform_info:#x}"))
    if d.minimum_mitigation_vector is not None:
        rows.append(("minimum mitigation vector", f"{d.minimum_mitigation_vector:#x}"))
    chips = d.allowed_chip_ids or ()
    rows += [("allowed chip ID" if i == 0 else "", c) for i, c in enumerate(chips)]
    if not chips:
        rows.append(("allowed chip IDs", "any"))
    if d.debug_allowed is not None:
        rows.append(("debug allowed", "yes" if d.debug_allowed else "no"))
    for label, digests in (
        ("allowed ID key digest", d.allowed_id_key_digests),
        ("allowed author key digest", d.allowed_author_key_digests),
    ):
        rows += [(label if i == 0 else "", x) for i, x in enumerate(digests or ())]
    return rows


def view(entries: Sequence[SnpDeclared]) -> View:
    return grouped(
        "Declared SEV-SNP platform values (not computed from source)",
        entries,
        facts=lambda d: (("product", str(d.product or "any")),),
        columns=("field", "value"),
        rows=_rows,
    )


KIND: Kind[SnpDeclared] = Kind(
    container="declared",
    name="snp",
    title="Declared SEV-SNP platform values",
    diff_section="platform",
    parse=SnpDeclared.parse,
    view=view,
    normalise=lambda d: replace(
        d,
        allowed_chip_ids=sorted_set(d.allowed_chip_ids),
        allowed_id_key_digests=sorted_set(d.allowed_id_key_digests),
        allowed_author_key_digests=sorted_set(d.allowed_author_key_digests),
    ),
)
