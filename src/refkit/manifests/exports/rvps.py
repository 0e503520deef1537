"""Export to Confidential Containers Trustee RVPS reference values.

Follows confidential-containers/trustee at commit
78962cd416dcc8a32f9377e0066a28fe21420f69:

- ``rvps/src/lib.rs`` ``Message`` {``version`` (default ``"0.1.0"``), ``type``,
  ``payload``}: what ``rvps-tool register --path FILE`` sends;
- ``rvps/src/extractors/sample/mod.rs`` and its README: for ``type`` ``"sample"`` the
  payload is standard base64 (with padding) of a JSON object ``{name: [values]}``;
- ``rvps/src/reference_value.rs`` ``ReferenceValue`` {``version`` ``"0.1.0"``, ``name``,
  ``expiration`` ``%Y-%m-%dT%H:%M:%SZ``, ``value``}: how RVPS stores each value (the
  ``hash-value`` list of older releases was dropped upstream in 8462025e, June 2025);
- reference value names and value types as the default attestation policy queries them
  (``attestation-service/src/ear_token/ear_default_policy_cpu.rego``): lists where the
  policy tests membership (``x in query_reference_value(name)``), single values where it
  tests equality; hex as the verifiers print it (lower case, no prefix: ``hex::encode``).

Names written: ``snp_launch_measurement``; ``snp_bootloader``, ``snp_tee_svn``,
``snp_snp_svn``, ``snp_microcode`` (the policy tests membership, so a declared minimum
``n`` becomes the list ``n..255``); ``snp_guest_abi_major``, ``snp_guest_abi_minor``,
``snp_smt_allowed``, ``snp_single_socket`` (from the declared guest policy) and
``snp_smt_enabled``, ``snp_tsme_enabled`` (from declared PLATFORM_INFO), only when every
declared product agrees; ``mr_td``, ``rtmr_0`` .. ``rtmr_3``, ``mr_seam``, ``xfam``;
``mr_config_id`` from policy hashes.

The sample extractor sets each value's expiration to 12 months after registration (it
has no field for it); the ``rvps-values`` form carries the manifest's ``release.expires``
(or, without one, fails: refkit does not invent an expiry).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from refkit.errors import UnsupportedInput
from refkit.manifests.exports import Export, pretty_json
from refkit.manifests.model import declared_snp, declared_tdx, policies
from refkit.manifests.model import snp as snp_kind
from refkit.manifests.model import tdx as tdx_kind
from refkit.manifests.statement import Statement
from refkit.times import format_time

UPSTREAM = "confidential-containers/trustee rvps @ 78962cd416dc"
MESSAGE_VERSION = "0.1.0"
REFERENCE_VALUE_VERSION = "0.1.0"


def _range(minimum: int) -> list[int]:
    return list(range(minimum, 256))


def _add(out: dict[str, dict[Any, None]], name: str, values: list[Any]) -> None:
    """Add ``values`` to the list named ``name``, skipping repeats (first seen first).

    Each list is kept as an insertion-ordered dict while it is built: linear in the number
    of values (a list's ``in`` made 60,000 measurements quadratic).
    """
    bucket = out.setdefault(name, {})
    for value in values:
        bucket.setdefault(value, None)


def reference_values(statement: Statement) -> tuple[dict[str, Any], list[str]]:
    """``{name: value}`` in the Trustee default policy's terms, and warnings."""
    pred = statement.predicate
    out: dict[str, dict[Any, None]] = {}
    scalars_out: dict[str, Any] = {}
    warnings: list[str] = []
    _add(out, "snp_launch_measurement", [r.measurement for r in pred.of(snp_kind.KIND)])
    snp_declared = pred.of(declared_snp.KIND)
    tcbs = {
        (d.minimum_tcb.bootloader, d.minimum_tcb.tee, d.minimum_tcb.snp, d.minimum_tcb.microcode)
        for d in snp_declared
    }
    if len(tcbs) > 1:
        warnings.append(
            "declared SNP minimum TCBs differ per product; RVPS names are not per product, "
            "so the lowest minimum of each component is used"
        )
    if snp_declared:
        for name, attr in (
            ("snp_bootloader", "bootloader"),
            ("snp_tee_svn", "tee"),
            ("snp_snp_svn", "snp"),
            ("snp_microcode", "microcode"),
        ):
            _add(out, name, _range(min(getattr(d.minimum_tcb, attr) for d in snp_declared)))
        scalars: dict[str, set[Any]] = {}
        for d in snp_declared:
            p = d.guest_policy
            for name, value in (
                ("snp_guest_abi_major", (p >> 8) & 0xFF),
                ("snp_guest_abi_minor", p & 0xFF),
                ("snp_smt_allowed", bool(p >> 16 & 1)),
                ("snp_single_socket", bool(p >> 20 & 1)),
            ):
                scalars.setdefault(name, set()).add(value)
            if d.platform_info is not None:
                scalars.setdefault("snp_smt_enabled", set()).add(bool(d.platform_info & 1))
                scalars.setdefault("snp_tsme_enabled", set()).add(bool(d.platform_info >> 1 & 1))
        for name in sorted(scalars):
            values = scalars[name]
            if len(values) == 1:
                scalars_out[name] = next(iter(values))
            else:
                warnings.append(f"{name}: declared products disagree; left out")
        if any(d.allowed_chip_ids for d in snp_declared):
            warnings.append("allowed chip IDs have no RVPS name in the default policy; left out")
    for ref in pred.of(tdx_kind.KIND):
        _add(out, "mr_td", [ref.mrtd])
        for index, rtmr in sorted(ref.rtmrs.items()):
            _add(out, f"rtmr_{index}", [rtmr])
    tdx_declared = pred.of(declared_tdx.KIND)
    for dec in tdx_declared:
        _add(out, "mr_seam", list(dec.mr_seams))
    xfams = {d.xfam for d in tdx_declared if d.xfam is not None}
    if len(xfams) == 1:
        _add(out, "xfam", sorted(xfams))
    elif xfams:
        warnings.append("xfam: declared TDX modules disagree; left out")
    if any(d.td_attributes or d.allowed_piids for d in tdx_declared):
        warnings.append("TDX tdAttributes/allowedPiids have no RVPS name; left out")
    if any(d.min_tcb_evaluation_data_number is not None for d in tdx_declared):
        warnings.append("minTcbEvaluationDataNumber has no RVPS name; left out")
    policy_hashes = pred.of(policies.KIND)
    _add(out, "mr_config_id", [p.mr_config_id for p in policy_hashes if p.mr_config_id])
    if any(p.host_data for p in policy_hashes):
        warnings.append("SNP HOST_DATA has no RVPS name in the default policy; left out")
    handled = (snp_kind.KIND, tdx_kind.KIND, declared_snp.KIND, declared_tdx.KIND, policies.KIND)
    left_out = [k.title for k, _ in pred.kinds() if k not in handled]
    if left_out:
        warnings.append(f"{', '.join(left_out)}: not exported to RVPS; left out")
    result: dict[str, Any] = {k: list(v) for k, v in out.items() if v}
    result.update(scalars_out)
    if not result:
        raise UnsupportedInput("nothing to export: no value RVPS's default policy reads")
    return result, warnings


def message(statement: Statement) -> Export:
    """The ``sample`` provenance message for ``rvps-tool register``."""
    values, warnings = reference_values(statement)
    payload = json.dumps(values, sort_keys=True, separators=(",", ":")).encode("utf-8")
    document = {
        "version": MESSAGE_VERSION,
        "type": "sample",
        "payload": base64.standard_b64encode(payload).decode("ascii"),
    }
    warnings.append("the sample extractor sets each value to expire 12 months after registration")
    return Export("rvps", pretty_json(document), tuple(warnings))


def stored_values(statement: Statement) -> Export:
    """The ``ReferenceValue`` list RVPS stores, carrying ``release.expires``."""
    expires = statement.predicate.release.expires
    if expires is None:
        raise UnsupportedInput(
            "RVPS reference values need an expiration and the manifest has no release.expires",
            hint="set release.expires, or export the rvps sample format (it expires values "
            "12 months after registration)",
        )
    values, warnings = reference_values(statement)
    document = [
        {
            "version": REFERENCE_VALUE_VERSION,
            "name": name,
            "expiration": format_time(expires),
            "value": values[name],
        }
        for name in sorted(values)
    ]
    return Export("rvps-values", pretty_json(document), tuple(warnings))
