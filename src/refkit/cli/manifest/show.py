"""``refkit manifest show``: a reference manifest (statement or bundle) as readable tables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from refkit.cli._options import json_option
from refkit.cli._output import emit_json, note, stdout_console
from refkit.manifests.authoring import unrecognized_fields
from refkit.manifests.files import LoadedStatement, read_statement_file
from refkit.manifests.model import Shape, SnpReference, TdxReference, VtpmReference
from refkit.manifests.statement import Statement

if TYPE_CHECKING:
    from rich.table import Table

UNVERIFIED = "signature NOT verified (use `refkit manifest verify`)"


@click.command("show")
@click.argument("manifest_file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def show(manifest_file: Path, as_json: bool) -> None:
    """Show a reference manifest: release, artifacts, measurements, declared values.

    \b
    MANIFEST_FILE is a statement (from `build`) or a Sigstore bundle (from `sign`).
    Showing a bundle does not verify its signature: `refkit manifest verify` does.
    With --json, prints {source, fromBundle, signatureVerified, canonical,
    unrecognized, statement}.

    \b
    Examples:
      refkit manifest show release.json
      refkit manifest show release.bundle.json --json
    """
    loaded = read_statement_file(manifest_file)
    if as_json:
        emit_json(
            {
                "source": loaded.source,
                "fromBundle": loaded.from_bundle,
                "signatureVerified": False,
                "canonical": loaded.canonical,
                "unrecognized": unrecognized_fields(loaded.statement),
                "statement": loaded.statement.to_json(),
            }
        )
        return
    if loaded.from_bundle:
        note(f"{loaded.source}: bundle read, {UNVERIFIED}")
    if not loaded.canonical:
        note(f"{loaded.source}: not in canonical form (RFC 8785)")
    console = stdout_console()
    for table in tables(loaded):
        console.print(table)


def _table(title: str, *columns: str) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _shape(shape: Shape | None) -> str:
    return "any" if shape is None else shape.label()


def _digests(value: Any) -> str:
    return "\n".join(f"{k}:{v}" for k, v in sorted(value.digests.items()))


def tables(loaded: LoadedStatement) -> list[Table]:
    statement: Statement = loaded.statement
    pred = statement.predicate
    rel = pred.release
    out: list[Table] = []

    t = _table("Release", "field", "value")
    t.add_row("name", rel.name)
    t.add_row("version", rel.version)
    t.add_row("created", rel.to_json()["created"])
    t.add_row("expires", rel.to_json().get("expires", "never"))
    t.add_row("source", f"{rel.source.repository} @ {rel.source.commit}")
    t.add_row("schema", pred.schema_version)
    t.add_row("file", loaded.source + (f" (bundle; {UNVERIFIED})" if loaded.from_bundle else ""))
    out.append(t)

    t = _table("Artifacts", "name", "kind", "digest")
    for s in statement.subjects:
        t.add_row(s.name, s.kind.value, _digests(s.digest))
    out.append(t)

    rv = pred.reference_values
    if rv.snp:
        t = _table("SEV-SNP measurements", "shape", "product", "mode", "cpu", "measurement")
        for e in rv.snp:
            cpu = e.vcpu_type or ""
            if e.vcpu_signature is not None:
                cpu += f" ({e.vcpu_signature:#x})"
            cpu += f"\nfeatures {e.guest_features:#x}"
            t.add_row(_shape(e.shape), str(e.product or "any"), e.mode.value, cpu, e.measurement)
        out.append(t)
    if rv.tdx:
        t = _table("TDX measurements", "shape", "register", "value")
        for x in rv.tdx:
            t.add_row(_shape(x.shape), "MRTD", x.mrtd)
            for i, r in enumerate(x.rtmrs):
                t.add_row("", f"RTMR{i}", r)
        out.append(t)
    if rv.vtpm:
        t = _table("vTPM PCRs", "shape", "bank", "PCR", "value")
        for v in rv.vtpm:
            for index in sorted(v.pcrs, key=int):
                t.add_row(_shape(v.shape), v.bank.value, index, v.pcrs[index])
        out.append(t)
    if rv.policies:
        t = _table("Policy hashes", "name", "HOST_DATA (SNP)", "MRCONFIGID (TDX)")
        for p in rv.policies:
            t.add_row(p.name, p.host_data or "-", p.mr_config_id or "-")
        out.append(t)
    if rv.gpu:
        t = _table("GPU", "model", "CC mode", "drivers", "VBIOS", "RIM ids")
        for g in rv.gpu:
            t.add_row(
                g.model,
                g.cc_mode,
                ", ".join(g.driver_versions or ()) or "-",
                ", ".join(g.vbios_versions or ()) or "-",
                ", ".join(g.rim_ids or ()) or "-",
            )
        out.append(t)

    computed: list[SnpReference | TdxReference | VtpmReference] = [
        *(rv.snp or ()),
        *(rv.tdx or ()),
        *(rv.vtpm or ()),
    ]
    computed = [c for c in computed if c.inputs or c.computed_by]
    if computed:
        t = _table("What each value was computed from", "value", "computed by", "inputs")
        for c in computed:
            tool = f"{c.computed_by.name} {c.computed_by.version}" if c.computed_by else "-"
            inputs = "\n".join(f"{k} {v}" for k, v in sorted((c.inputs or {}).items()))
            t.add_row(c.key, tool, inputs or "-")
        out.append(t)

    declared = pred.declared
    if declared is not None and (declared.snp or declared.tdx):
        t = _table(
            "Declared platform values (not computed from source)", "platform", "field", "value"
        )
        for d in declared.snp or ():
            label = f"SNP {d.product or 'any'}"
            tcb = d.minimum_tcb
            t.add_row(
                label,
                "minimum TCB",
                f"bootloader {tcb.bootloader}, tee {tcb.tee}, snp {tcb.snp}, "
                f"microcode {tcb.microcode}" + (f", fmc {tcb.fmc}" if tcb.fmc is not None else ""),
            )
            t.add_row("", "guest policy", f"{d.guest_policy:#x}")
            for name, value in (
                ("VMPL", d.vmpl),
                ("platform info", d.platform_info),
                ("minimum mitigation vector", d.minimum_mitigation_vector),
            ):
                if value is not None:
                    t.add_row("", name, f"{value:#x}" if name != "VMPL" else str(value))
            chips = d.allowed_chip_ids
            t.add_row("", "allowed chip IDs", "\n".join(chips) if chips else "any")
        if declared.tdx is not None:
            dx = declared.tdx
            t.add_row("TDX", "MRSEAM allow-list", "\n".join(dx.mr_seams))
            for label, text in (
                ("XFAM", dx.xfam),
                ("TD attributes", dx.td_attributes),
                ("min TCB eval. data number", dx.min_tcb_evaluation_data_number),
            ):
                if text is not None:
                    t.add_row("", label, str(text))
            piids = dx.allowed_piids
            t.add_row("", "allowed PIIDs", "\n".join(piids) if piids else "any")
        out.append(t)

    if pred.models:
        t = _table("Models", "name", "source", "pins")
        for m in pred.models:
            pins = []
            if m.verity is not None:
                ver = m.verity
                pins.append(f"verity root {ver.root_hash}")
                pins.append(
                    f"hash offset {ver.hash_offset}, salt {ver.salt or '-'}, {ver.hash_algorithm}"
                )
            if m.file_digest_root is not None:
                fdr = m.file_digest_root
                pins.append(f"files {fdr.algorithm}:{fdr.digest}")
            if m.disk:
                pins.append(f"disk {m.disk}")
            t.add_row(m.name, f"{m.source.repository}\n@ {m.source.revision}", "\n".join(pins))
        out.append(t)

    if pred.provenance is not None:
        prov = pred.provenance
        t = _table("Provenance", "field", "value")
        t.add_row("refkit", prov.refkit_version)
        if prov.builder is not None:
            t.add_row("builder", prov.builder.id)
        for pin in prov.inputs or ():
            t.add_row("input", f"{pin.name} {pin.version or ''}\n{_digests(pin.digest)}")
        out.append(t)

    unknown = unrecognized_fields(statement)
    if unknown:
        t = _table("Fields refkit does not know (kept as is)", "path")
        for path in unknown:
            t.add_row(path)
        out.append(t)
    return out
