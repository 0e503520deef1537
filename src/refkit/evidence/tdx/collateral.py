"""TDX collateral in the JSON shape dcap-qvl uses (``QuoteCollateralV3``), read strictly.

One JSON object with the fields (names from dcap-qvl's ``QuoteCollateralV3`` and the
shared vector tdx/phala/v4.collateral.json):

- ``pck_crl_issuer_chain``, ``tcb_info_issuer_chain``, ``qe_identity_issuer_chain``: PEM
  chains (signer, then the Intel SGX Root CA), as Intel's provisioning service returns them
  in its ``*-Issuer-Chain`` headers;
- ``root_ca_crl``, ``pck_crl``: the CRLs' DER bytes, in hex;
- ``tcb_info``, ``qe_identity``: the signed JSON texts exactly as Intel signed them
  (the ``tcbInfo`` / ``enclaveIdentity`` member of Intel's response), as strings;
- ``tcb_info_signature``, ``qe_identity_signature``: 64-byte ``r || s`` in hex;
- ``pck_certificate_chain`` (optional): a PEM PCK chain that replaces the quote's.

The TCB info (Intel "TDX TCB Info" v3) and QE identity (v2) texts are parsed into frozen
values with only the fields verification reads, every one type-checked; unknown fields
are ignored there (they are Intel's, covered by Intel's signature, and the evaluation
follows dcap-qvl's field set). Every defect is a :class:`~refkit.errors.ParseError` naming
the field, never another exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509

from refkit.errors import Location, ParseError
from refkit.evidence.tdx.certs import Crl, load_crl, load_pem_chain
from refkit.times import parse_rfc3339

#: TCB statuses Intel defines, each with dcap-qvl's severity (merging takes the worst).
STATUS_SEVERITY = {
    "UpToDate": 0,
    "SWHardeningNeeded": 1,
    "ConfigurationNeeded": 2,
    "ConfigurationAndSWHardeningNeeded": 3,
    "OutOfDate": 4,
    "OutOfDateConfigurationNeeded": 5,
    "Revoked": 6,
}

MAX_COLLATERAL_SIZE = 4 * 1024 * 1024

_FIELDS = (
    "pck_crl_issuer_chain",
    "root_ca_crl",
    "pck_crl",
    "tcb_info_issuer_chain",
    "tcb_info",
    "tcb_info_signature",
    "qe_identity_issuer_chain",
    "qe_identity",
    "qe_identity_signature",
)


@dataclass(frozen=True)
class TcbLevel:
    sgx_components: tuple[int, ...]
    tdx_components: tuple[int, ...]
    pce_svn: int
    status: str
    advisory_ids: tuple[str, ...]
    tcb_date: str


@dataclass(frozen=True)
class ModuleTcbLevel:
    isv_svn: int
    status: str
    advisory_ids: tuple[str, ...]


@dataclass(frozen=True)
class ModuleIdentity:
    id: str
    mr_signer: bytes
    attributes: bytes
    attributes_mask: bytes
    tcb_levels: tuple[ModuleTcbLevel, ...]


@dataclass(frozen=True)
class TcbInfo:
    id: str
    version: int
    issue_date: datetime
    next_update: datetime
    fmspc: bytes
    pce_id: bytes
    tcb_evaluation_data_number: int
    tcb_levels: tuple[TcbLevel, ...]
    module: ModuleIdentity | None
    module_identities: tuple[ModuleIdentity, ...]


@dataclass(frozen=True)
class QeIdentity:
    id: str
    version: int
    issue_date: datetime
    next_update: datetime
    tcb_evaluation_data_number: int
    miscselect: int
    miscselect_mask: int
    attributes: bytes
    attributes_mask: bytes
    mr_signer: bytes
    isv_prod_id: int
    tcb_levels: tuple[ModuleTcbLevel, ...]


@dataclass(frozen=True)
class Collateral:
    """The collateral, parsed; ``raw`` is the bytes it was read from (the cache key)."""

    raw: bytes
    pck_crl_issuer_chain: tuple[x509.Certificate, ...]
    root_ca_crl: Crl
    pck_crl: Crl
    tcb_info_issuer_chain: tuple[x509.Certificate, ...]
    tcb_info_text: bytes
    tcb_info: TcbInfo
    tcb_info_signature: bytes
    qe_identity_issuer_chain: tuple[x509.Certificate, ...]
    qe_identity_text: bytes
    qe_identity: QeIdentity
    qe_identity_signature: bytes
    pck_certificate_chain: tuple[x509.Certificate, ...] | None


class _J:
    """Typed access to one JSON object, failing with the field path."""

    def __init__(self, value: Any, source: str, path: str) -> None:
        if not isinstance(value, dict):
            raise ParseError("expected a JSON object", location=Location(source, field=path))
        self.value = value
        self.source = source
        self.path = path

    def fail(self, key: str, message: str) -> ParseError:
        return ParseError(message, location=Location(self.source, field=f"{self.path}.{key}"))

    def get(self, key: str) -> Any:
        if key not in self.value:
            raise self.fail(key, "is missing")
        return self.value[key]

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise self.fail(key, "expected a string")
        return value

    def integer(self, key: str, hi: int) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
            raise self.fail(key, f"expected an integer 0..{hi}")
        return value

    def hexbytes(self, key: str, size: int | None = None) -> bytes:
        text = self.text(key)
        try:
            value = bytes.fromhex(text)
        except ValueError:
            raise self.fail(key, "is not hex") from None
        if size is not None and len(value) != size:
            raise self.fail(key, f"is {len(value)} bytes, expected {size}")
        return value

    def time(self, key: str) -> datetime:
        return parse_rfc3339(self.text(key), source=self.source, field=f"{self.path}.{key}")

    def objs(self, key: str, *, optional: bool = False) -> list[_J]:
        if optional and key not in self.value:
            return []
        value = self.get(key)
        if not isinstance(value, list):
            raise self.fail(key, "expected a list")
        return [_J(v, self.source, f"{self.path}.{key}[{i}]") for i, v in enumerate(value)]

    def obj(self, key: str) -> _J:
        return _J(self.get(key), self.source, f"{self.path}.{key}")

    def status(self) -> str:
        status = self.text("tcbStatus")
        if status not in STATUS_SEVERITY:
            raise self.fail("tcbStatus", f"unknown TCB status {status[:40]!r}")
        return status

    def advisories(self) -> tuple[str, ...]:
        if "advisoryIDs" not in self.value:
            return ()
        value = self.value["advisoryIDs"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail("advisoryIDs", "expected a list of strings")
        return tuple(value)


def _components(j: _J, key: str, *, optional: bool = False) -> tuple[int, ...]:
    return tuple(c.integer("svn", 255) for c in j.objs(key, optional=optional))


def _module_levels(j: _J, isv_hi: int) -> tuple[ModuleTcbLevel, ...]:
    return tuple(
        ModuleTcbLevel(lv.obj("tcb").integer("isvsvn", isv_hi), lv.status(), lv.advisories())
        for lv in j.objs("tcbLevels")
    )


def _module(j: _J, *, with_levels: bool) -> ModuleIdentity:
    return ModuleIdentity(
        id=j.text("id") if with_levels else "",
        mr_signer=j.hexbytes("mrsigner", 48),
        attributes=j.hexbytes("attributes", 8),
        attributes_mask=j.hexbytes("attributesMask", 8),
        tcb_levels=_module_levels(j, 255) if with_levels else (),
    )


def _json_text(text: str, *, source: str, field: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"is not JSON: {exc}", location=Location(source, field=field)) from None


def parse_tcb_info(text: str, *, source: str, path: str = "$.tcb_info") -> TcbInfo:
    j = _J(_json_text(text, source=source, field=path), source, path)
    levels = tuple(
        TcbLevel(
            sgx_components=_components(lv.obj("tcb"), "sgxtcbcomponents"),
            tdx_components=_components(lv.obj("tcb"), "tdxtcbcomponents", optional=True),
            pce_svn=lv.obj("tcb").integer("pcesvn", 0xFFFF),
            status=lv.status(),
            advisory_ids=lv.advisories(),
            tcb_date=lv.text("tcbDate"),
        )
        for lv in j.objs("tcbLevels")
    )
    return TcbInfo(
        id=j.text("id"),
        version=j.integer("version", 255),
        issue_date=j.time("issueDate"),
        next_update=j.time("nextUpdate"),
        fmspc=j.hexbytes("fmspc", 6),
        pce_id=j.hexbytes("pceId", 2),
        tcb_evaluation_data_number=j.integer("tcbEvaluationDataNumber", 2**32 - 1),
        tcb_levels=levels,
        module=_module(j.obj("tdxModule"), with_levels=False) if "tdxModule" in j.value else None,
        module_identities=tuple(
            _module(m, with_levels=True) for m in j.objs("tdxModuleIdentities", optional=True)
        ),
    )


def parse_qe_identity(text: str, *, source: str, path: str = "$.qe_identity") -> QeIdentity:
    j = _J(_json_text(text, source=source, field=path), source, path)
    return QeIdentity(
        id=j.text("id"),
        version=j.integer("version", 255),
        issue_date=j.time("issueDate"),
        next_update=j.time("nextUpdate"),
        tcb_evaluation_data_number=j.integer("tcbEvaluationDataNumber", 2**32 - 1),
        miscselect=int.from_bytes(j.hexbytes("miscselect", 4), "little"),
        miscselect_mask=int.from_bytes(j.hexbytes("miscselectMask", 4), "little"),
        attributes=j.hexbytes("attributes", 16),
        attributes_mask=j.hexbytes("attributesMask", 16),
        mr_signer=j.hexbytes("mrsigner", 32),
        isv_prod_id=j.integer("isvprodid", 0xFFFF),
        tcb_levels=_module_levels(j, 0xFFFF),
    )


def parse_collateral(data: bytes, *, source: str) -> Collateral:
    """Read the dcap-qvl collateral JSON (see the module docstring)."""
    if len(data) > MAX_COLLATERAL_SIZE:
        raise ParseError(
            f"oversized: {len(data)} bytes (at most {MAX_COLLATERAL_SIZE})",
            location=Location(source, MAX_COLLATERAL_SIZE, "collateral"),
        )
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"is not JSON: {exc}", location=Location(source, field="$")) from None
    top = _J(value, source, "$")
    unknown = sorted(set(top.value) - set(_FIELDS) - {"pck_certificate_chain"})
    if unknown:
        raise top.fail(unknown[0][:40], "is not a collateral field (dcap-qvl QuoteCollateralV3)")

    def chain(key: str) -> tuple[x509.Certificate, ...]:
        return load_pem_chain(top.text(key).encode(), source=source, field=f"$.{key}")

    def crl(key: str) -> Crl:
        return load_crl(top.hexbytes(key), source=source, field=f"$.{key}")

    pck_chain = None
    if top.value.get("pck_certificate_chain") is not None:
        pck_chain = chain("pck_certificate_chain")
    tcb_text = top.text("tcb_info")
    qe_text = top.text("qe_identity")
    return Collateral(
        raw=bytes(data),
        pck_crl_issuer_chain=chain("pck_crl_issuer_chain"),
        root_ca_crl=crl("root_ca_crl"),
        pck_crl=crl("pck_crl"),
        tcb_info_issuer_chain=chain("tcb_info_issuer_chain"),
        tcb_info_text=tcb_text.encode(),
        tcb_info=parse_tcb_info(tcb_text, source=source),
        tcb_info_signature=top.hexbytes("tcb_info_signature", 64),
        qe_identity_issuer_chain=chain("qe_identity_issuer_chain"),
        qe_identity_text=qe_text.encode(),
        qe_identity=parse_qe_identity(qe_text, source=source),
        qe_identity_signature=top.hexbytes("qe_identity_signature", 64),
        pck_certificate_chain=pck_chain,
    )
