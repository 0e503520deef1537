"""Intel TDX platform values a release engineer declares, per TDX module (``declared.tdx``).

Since schema 1.1 ``declared.tdx`` is a list with one entry per TDX module version
(``moduleVersion``, e.g. ``1.5.20``; absent: any version), the way ``declared.snp`` is
per product: each module release has its own MRSEAM (DOMAIN.md 6, Intel publishes it in
the module's sigstruct) and verifiers keep an allow-list that changes with every module
release, so an entry per version lets a release add or retire one module without
touching the others. The schema 1.0 spelling, one object, is still read: it is one entry
for any module version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from refkit.manifests.model.common import (
    CONSTRAINT_UNKNOWN,
    TDX_MR_SIZE,
    TDX_PIID_SIZE,
    TDX_U64_SIZE,
    TOKEN,
    as_list,
    sorted_set,
)
from refkit.manifests.model.kind import Kind, View, grouped
from refkit.reader import Obj, merged, put


@dataclass(frozen=True)
class TdxDeclared:
    """TDX platform values declared by the release engineer for one module version.

    ``xfam`` and ``tdAttributes`` are the 8 bytes as they appear in the TD report
    (little-endian), in hex, as Contrast writes ``Xfam``.
    """

    mr_seams: tuple[str, ...]
    module_version: str | None = None
    xfam: str | None = None
    td_attributes: str | None = None
    min_tcb_evaluation_data_number: int | None = None
    allowed_piids: tuple[str, ...] | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Obj) -> TdxDeclared:
        mr_seams = obj.hex_list("mrSeams", TDX_MR_SIZE)
        if not mr_seams:
            raise obj.fail("mrSeams", "needs at least one MRSEAM (the TDX module allow-list)")
        out = cls(
            mr_seams=mr_seams,
            module_version=obj.opt_text("moduleVersion", pattern=TOKEN),
            xfam=obj.opt_hex("xfam", TDX_U64_SIZE),
            td_attributes=obj.opt_hex("tdAttributes", TDX_U64_SIZE),
            min_tcb_evaluation_data_number=obj.opt_integer(
                "minTcbEvaluationDataNumber", hi=2**32 - 1
            ),
            allowed_piids=obj.hex_list("allowedPiids", TDX_PIID_SIZE),
            unrecognized=obj.closed(code=CONSTRAINT_UNKNOWN),
        )
        if out.td_attributes is not None and int(out.td_attributes[:2], 16) & 1:
            raise obj.fail(
                "tdAttributes", "allows DEBUG (bit 0): a debug TD has no confidentiality"
            )
        return out

    @property
    def key(self) -> str:
        return f"tdx module {self.module_version or 'any'}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mrSeams": list(self.mr_seams)}
        put(out, "moduleVersion", self.module_version)
        put(out, "xfam", self.xfam)
        put(out, "tdAttributes", self.td_attributes)
        put(out, "minTcbEvaluationDataNumber", self.min_tcb_evaluation_data_number)
        put(out, "allowedPiids", as_list(self.allowed_piids))
        return merged(out, self.unrecognized)


def _legacy(container: Obj) -> tuple[TdxDeclared, ...] | None:
    """Schema 1.0: ``declared.tdx`` was one object (for any module version)."""
    sub = container.value.get("tdx")
    if not isinstance(sub, dict):
        return None
    return (TdxDeclared.parse(container.obj("tdx")),)


def _rows(d: TdxDeclared) -> Iterable[Sequence[str]]:
    rows: list[Sequence[str]] = [
        ("MRSEAM" if i == 0 else "", seam) for i, seam in enumerate(d.mr_seams)
    ]
    for label, text in (
        ("XFAM", d.xfam),
        ("TD attributes", d.td_attributes),
        ("min TCB eval. data number", d.min_tcb_evaluation_data_number),
    ):
        if text is not None:
            rows.append((label, str(text)))
    piids = d.allowed_piids or ()
    rows += [("allowed PIID" if i == 0 else "", p) for i, p in enumerate(piids)]
    if not piids:
        rows.append(("allowed PIIDs", "any"))
    return rows


def view(entries: Sequence[TdxDeclared]) -> View:
    return grouped(
        "Declared TDX platform values (not computed from source)",
        entries,
        facts=lambda d: (("TDX module", d.module_version or "any"),),
        columns=("field", "value"),
        rows=_rows,
    )


def normalise(d: TdxDeclared) -> TdxDeclared:
    return replace(
        d, mr_seams=tuple(sorted(set(d.mr_seams))), allowed_piids=sorted_set(d.allowed_piids)
    )


KIND: Kind[TdxDeclared] = Kind(
    container="declared",
    name="tdx",
    title="Declared TDX platform values",
    diff_section="platform",
    parse=TdxDeclared.parse,
    view=view,
    normalise=normalise,
    read_legacy=_legacy,
)
