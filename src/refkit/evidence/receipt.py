"""Verification receipts: one file holding everything a verdict rested on, replayable offline.

A receipt lets an auditor replay a client's decision later, with nothing but the receipt
and refkit: the evidence's bytes, every certificate, CRL and collateral file given, the
manifest bundles with the trust policy (and every file it names) or the trusted keys,
the nonce or expected REPORT_DATA, the verification time, the refkit version, and the
verdict that was reached.

Format (canonical JSON, RFC 8785, so the same verification gives the same bytes)::

    {
      "_type": "https://refkit.dev/evidence-receipt/v1",
      "refkitVersion": "0.1.0",
      "verifiedAt": "2026-11-30T10:00:00Z", "timeSource": "clock",
      "evidence": BLOB | null,        # null: GPUs verified alone
      "subject": "...",               # only when evidence is null: the verdict's subject
      "material": {"certificates": [BLOB...], "crls": [BLOB...],
                   "intelRoot": BLOB | null, "collateral": BLOB | null},
      "manifest": null | {"bundles": [BLOB...],
                          "trust": {"policy": BLOB | null, "files": [BLOB...],
                                    "keys": [BLOB...]}},
      "reportData": null | {"match": "prefix" | "exact", "hex": "..."},
      "gpu": {"evidence": [BLOB...], "chains": [BLOB...], "rims": [BLOB...],
              "ocsp": [BLOB...], "nonce": "hex" | null},      # only when GPUs were given
      "verdict": VERDICT
    }

where ``BLOB`` is ``{"source": name given, "sha256": hex, "base64": bytes}`` and
``VERDICT`` is :meth:`refkit.verification.Verdict.to_json`. Reading is strict: unknown
fields, a wrong type, bad base64 or a malformed verdict are a
:class:`~refkit.errors.ParseError` (exit 2). A blob whose bytes do not have the sha256
recorded beside them is a failed verification (``evidence.receipt.digest-mismatch``).

Replay (:func:`replay_receipt`) runs the same verification at the recorded time and
compares every result's code, outcome, requirement, subject, expected and actual value
with the recorded verdict: the same answer is ``evidence.receipt.reproduced``, any other
``evidence.receipt.verdict-differs``, which names the first difference. Messages are not
compared (a later refkit may word them differently).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from refkit import __version__
from refkit.errors import InputError
from refkit.evidence.families import Blob, Family, Material
from refkit.evidence.verify import (
    EvidenceOutcome,
    EvidenceVerifier,
    GpuInput,
    ManifestInput,
    ReportDataCheck,
    TrustInput,
    VerifyOptions,
)
from refkit.reader import Obj
from refkit.times import format_time
from refkit.verification import Result, Verdict

RECEIPT_TYPE = "https://refkit.dev/evidence-receipt/v1"
#: Largest receipt read.
MAX_RECEIPT_BYTES = 64 << 20


def _blob(blob: Blob) -> dict[str, Any]:
    return {
        "source": blob.source,
        "sha256": blob.sha256,
        "base64": base64.b64encode(blob.data).decode("ascii"),
    }


def _opt_blob(blob: Blob | None) -> dict[str, Any] | None:
    return None if blob is None else _blob(blob)


def receipt_document(
    data: bytes | None, *, source: str, options: VerifyOptions, outcome: EvidenceOutcome
) -> dict[str, Any]:
    """The receipt of one verification, as a JSON value (``data`` None: GPUs alone)."""
    m = options.material
    manifest = options.manifest
    doc = {
        "_type": RECEIPT_TYPE,
        "refkitVersion": __version__,
        "verifiedAt": format_time(options.at),
        "timeSource": options.at_source,
        "evidence": None if data is None else _blob(Blob(source, data)),
        "material": {
            "certificates": [_blob(b) for b in m.certificates],
            "crls": [_blob(b) for b in m.crls],
            "intelRoot": _opt_blob(m.intel_root),
            "collateral": _opt_blob(m.collateral),
        },
        "manifest": None
        if manifest is None
        else {
            "bundles": [_blob(b) for b in manifest.bundles],
            "trust": {
                "policy": _opt_blob(manifest.trust.policy),
                "files": [_blob(b) for b in manifest.trust.files],
                "keys": [_blob(b) for b in manifest.trust.keys],
            },
        },
        "reportData": None if options.report_data is None else options.report_data.to_json(),
        "verdict": outcome.verdict.to_json(),
    }
    if data is None:
        doc["subject"] = source
    gpu = options.gpu
    if gpu is not None:
        doc["gpu"] = {
            "evidence": [_blob(b) for b in gpu.evidence],
            "chains": [_blob(b) for b in gpu.chains],
            "rims": [_blob(b) for b in gpu.rims],
            "ocsp": [_blob(b) for b in gpu.ocsp],
            **gpu.to_json(),
        }
    return doc


def receipt_bytes(
    data: bytes | None, *, source: str, options: VerifyOptions, outcome: EvidenceOutcome
) -> bytes:
    """The receipt file's bytes: canonical JSON and a newline."""
    from refkit.manifests.canonical import canonical_dumps

    doc = receipt_document(data, source=source, options=options, outcome=outcome)
    return canonical_dumps(doc) + b"\n"


# ---------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class Receipt:
    """A parsed receipt: the recorded inputs and verdict."""

    source: str
    refkit_version: str
    #: The CPU evidence; None when the GPUs were verified alone.
    evidence: Blob | None
    #: The verdict's subject (the CPU evidence's name, else the recorded subject).
    subject: str
    options: VerifyOptions
    verdict: Verdict
    #: Blobs whose bytes do not match their recorded sha256: (field path, blob source).
    digest_mismatches: tuple[tuple[str, str], ...]


class _Reader:
    def __init__(self) -> None:
        self.mismatches: list[tuple[str, str]] = []

    def blob(self, value: Any, source: str, path: str) -> Blob:
        obj = Obj(value, source=source, path=path)
        name = obj.text("source")
        digest = obj.hex("sha256", 32)
        text = obj.raw("base64", True)
        if not isinstance(text, str):
            raise obj.fail("base64", "expected base64 text")
        try:
            data = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise obj.fail("base64", "is not valid base64") from None
        obj.refuse_rest()
        if hashlib.sha256(data).hexdigest() != digest:
            self.mismatches.append((path, name))
        return Blob(name, data)

    def opt_blob(self, obj: Obj, key: str) -> Blob | None:
        value = obj.raw(key, True)
        return None if value is None else self.blob(value, obj.source, obj.at(key))

    def blobs(self, obj: Obj, key: str) -> tuple[Blob, ...]:
        return obj.items(key, lambda v, p: self.blob(v, obj.source, p))


def parse_receipt(data: bytes, *, source: str) -> Receipt:
    """Parse a receipt strictly (see the module docstring); a ParseError for any flaw."""
    from refkit.manifests.canonical import loads_strict
    from refkit.times import parse_time

    if len(data) > MAX_RECEIPT_BYTES:
        raise InputError(f"{source}: a receipt of more than {MAX_RECEIPT_BYTES} bytes")
    value = loads_strict(data, source=source, max_bytes=MAX_RECEIPT_BYTES)
    doc = Obj(value, source=source, path="$")
    kind = doc.text("_type")
    if kind != RECEIPT_TYPE:
        raise doc.fail("_type", f"is {kind[:80]!r}, not a refkit evidence receipt ({RECEIPT_TYPE})")
    r = _Reader()
    version = doc.text("refkitVersion")
    at = parse_time(doc.text("verifiedAt"), source=source, path=doc.at("verifiedAt"))
    at_source = doc.text("timeSource")
    evidence = r.opt_blob(doc, "evidence")
    if evidence is None:
        doc.raw("evidence", True)  # present (null), not absent
        subject = doc.text("subject")
    else:
        subject = evidence.source
    mat = doc.obj("material")
    material = Material(
        certificates=r.blobs(mat, "certificates"),
        crls=r.blobs(mat, "crls"),
        intel_root=r.opt_blob(mat, "intelRoot"),
        collateral=r.opt_blob(mat, "collateral"),
    )
    mat.refuse_rest()
    manifest = None
    man = doc.raw("manifest", True)
    if man is not None:
        mobj = doc.obj("manifest")
        tobj = mobj.obj("trust")
        try:
            trust = TrustInput(
                policy=r.opt_blob(tobj, "policy"),
                files=r.blobs(tobj, "files"),
                keys=r.blobs(tobj, "keys"),
            )
        except InputError as exc:
            raise tobj.fail(None, exc.message) from None
        tobj.refuse_rest()
        bundles = r.blobs(mobj, "bundles")
        if not bundles:
            raise mobj.fail("bundles", "expected at least one bundle")
        manifest = ManifestInput(bundles=bundles, trust=trust)
        mobj.refuse_rest()
    report_data = None
    if doc.raw("reportData", True) is not None:
        robj = doc.obj("reportData")
        match = robj.text("match")
        if match not in ("prefix", "exact"):
            raise robj.fail("match", "expected prefix or exact")
        raw = bytes.fromhex(robj.hex("hex"))
        try:
            report_data = ReportDataCheck(raw, exact=match == "exact")
        except InputError as exc:
            raise robj.fail("hex", exc.message) from None
        robj.refuse_rest()
    gpu = None
    gobj = doc.opt_obj("gpu")
    if gobj is not None:
        nonce_hex = gobj.raw("nonce", True)
        if nonce_hex is not None:
            nonce_hex = gobj.hex("nonce")
        try:
            gpu = GpuInput(
                evidence=r.blobs(gobj, "evidence"),
                chains=r.blobs(gobj, "chains"),
                rims=r.blobs(gobj, "rims"),
                ocsp=r.blobs(gobj, "ocsp"),
                nonce=None if nonce_hex is None else bytes.fromhex(nonce_hex),
            )
        except InputError as exc:
            raise gobj.fail(None, exc.message) from None
        gobj.refuse_rest()
    if evidence is None and gpu is None:
        raise doc.fail("evidence", "is null and the receipt holds no GPU evidence either")
    verdict = Verdict.from_json(doc.raw("verdict", True), source=f"{source}: verdict")
    doc.refuse_rest()
    options = VerifyOptions(
        at=at,
        at_source=at_source,
        manifest=manifest,
        material=material,
        report_data=report_data,
        gpu=gpu,
    )
    return Receipt(source, version, evidence, subject, options, verdict, tuple(r.mismatches))


# ---------------------------------------------------------------------------------------
# Replaying


@dataclass(frozen=True)
class ReplayOutcome:
    """What replaying a receipt found: the re-run verdict plus the receipt's own result."""

    receipt: Receipt
    verdict: Verdict
    rerun: EvidenceOutcome | None

    @property
    def ok(self) -> bool:
        return self.verdict.ok


def _key(r: Result) -> tuple[Any, ...]:
    return (r.code, r.outcome, r.required, r.subject, r.expected, r.actual)


def _first_difference(recorded: Verdict, rerun: Verdict) -> str | None:
    a, b = recorded.results, rerun.results
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if _key(x) != _key(y):
            return (
                f"check {i + 1}: recorded {x.code} ({x.outcome.value}), "
                f"re-run {y.code} ({y.outcome.value})"
            )
    if len(a) != len(b):
        return f"recorded {len(a)} checks, the re-run made {len(b)}"
    if recorded.ok != rerun.ok:
        return f"recorded verdict ok={recorded.ok}, re-run ok={rerun.ok}"
    return None


def replay_receipt(
    data: bytes, *, source: str, families: Sequence[Family] | None = None
) -> ReplayOutcome:
    """Parse a receipt and re-run its verification offline; see the module docstring."""
    receipt = parse_receipt(data, source=source)
    facts: dict[str, Any] = {
        "receipt": source,
        "recordedBy": receipt.refkit_version,
        "replayedBy": __version__,
        "verifiedAt": format_time(receipt.options.at),
        "recordedOk": receipt.verdict.ok,
    }
    if receipt.digest_mismatches:
        results = tuple(
            Result.of(
                "evidence.receipt.digest-mismatch",
                f"{name}: its bytes do not have the recorded sha256 ({path}): the receipt "
                "was altered",
                check="receipt",
                subject=source,
            )
            for path, name in receipt.digest_mismatches
        )
        return ReplayOutcome(receipt, Verdict(f"receipt {source}", results, facts), None)
    rerun = EvidenceVerifier(families).verify(
        None if receipt.evidence is None else receipt.evidence.data,
        source=receipt.subject,
        options=receipt.options,
    )
    difference = _first_difference(receipt.verdict, rerun.verdict)
    if difference is None:
        mark = Result.of(
            "evidence.receipt.reproduced",
            f"the re-run reached the recorded verdict ({'pass' if rerun.ok else 'fail'}, "
            f"{len(rerun.verdict.results)} checks)",
            check="receipt",
            subject=source,
        )
    else:
        mark = Result.of(
            "evidence.receipt.verdict-differs",
            f"the re-run reached another verdict than the recorded one: {difference}",
            check="receipt",
            subject=source,
            expected="recorded: " + ("pass" if receipt.verdict.ok else "fail"),
            actual="re-run: " + ("pass" if rerun.ok else "fail"),
        )
    facts.update(
        {
            "evidence": rerun.verdict.facts.get("evidence"),
            "kind": rerun.title,
            "warnings": list(rerun.warnings),
            "measured": rerun.measured,
        }
    )
    verdict = Verdict(f"receipt {source}", (*rerun.verdict.results, mark), facts)
    return ReplayOutcome(receipt, verdict, rerun)
