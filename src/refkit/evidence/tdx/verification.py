"""Authenticity of a TDX quote, and its TCB status from collateral.

Steps (Intel TDX DCAP Quote Verification; dcap-qvl's ``verify`` follows the same order),
each reported as a :class:`~refkit.verification.Result`, none short-circuiting:

1. the PCK chain (leaf, intermediate, root) ends at the Intel SGX Root CA pinned by the
   SHA-256 of its DER (or at the root the caller passed), every link signed by its issuer,
   every certificate valid at ``at``;
2. the QE vendor is Intel; the QE report is signed by the PCK leaf key; QE REPORTDATA is
   SHA-256(attestation key || QE auth data) followed by 32 zero bytes;
3. the quote (header and body) is signed by the attestation key;
4. the TCB-related fields (TEE_TCB_SVN, FMSPC, PCESVN, CPUSVN) are reported;
5. with collateral: the TCB info and QE identity are for TDX and current at ``at``, their
   issuer chains reach the pinned root, their signatures verify, the CRLs are signed and
   current and list no certificate of any chain; the QE report matches the QE identity;
   the platform's TCB level is the first one (in Intel's canonical order) that the PCK
   certificate's CPUSVN/PCESVN and the quote's TEE_TCB_SVN meet; the TDX module identity
   is checked as dcap-qvl does; the module and QE statuses converge into the platform's
   as Intel's QVL does (:meth:`TcbStatus.merge`), advisories in order.

Design: parsing and every time-independent cryptographic result are cached by
:class:`TdxVerifier`, keyed by the bytes they came from (PCK chain, collateral, root):
a service verifying many quotes from one platform pays for the two P-256 verifies per
quote and little else. Validity windows depend on ``at`` and are evaluated per call. No
global state: the module-level :func:`verify` uses a fresh verifier each call.

Differences from dcap-qvl, on purpose: TD_ATTRIBUTES.DEBUG, reserved TD attribute bits,
SEPT_VE_DISABLE and MRSERVICETD are policy checks made by
:func:`~refkit.evidence.tdx.policy.compare` (a debug guest is authentic evidence of an
untrustworthy guest); OutOfDate and OutOfDateConfigurationNeeded fail here, where
dcap-qvl returns them as a status.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from refkit.errors import InputError, Location, ParseError
from refkit.evidence.errors import MaterialMissing
from refkit.evidence.memo import Memo
from refkit.evidence.tdx import certs as C
from refkit.evidence.tdx.collateral import (
    Collateral,
    ModuleTcbLevel,
    QeIdentity,
    TcbInfo,
    parse_collateral,
)
from refkit.evidence.tdx.model import TdxEvidence
from refkit.evidence.tdx.pck import SGX_EXTENSION_OID, PckExtension, parse_sgx_extension
from refkit.evidence.tdx.quote import INTEL_QE_VENDOR_ID, EnclaveReport, TdReport
from refkit.verification import PinnedRoot, Result

_ACCEPTABLE = {"SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded"}
_ZERO32 = bytes(32)
#: How dcap-qvl 0.7.0 reads a QE identity level's status (observed with its
#: verify_with_root_ca, tests/unit/test_evidence_tdx_synthetic.py): Intel defines only
#: UpToDate, OutOfDate and Revoked for a QE; the configuration statuses count as UpToDate,
#: the SW-hardening ones are refused.
_QE_STATUS = {
    "UpToDate": "UpToDate",
    "ConfigurationNeeded": "UpToDate",
    "OutOfDateConfigurationNeeded": "UpToDate",
    "OutOfDate": "OutOfDate",
    "Revoked": "Revoked",
}
#: The statuses a TDX module identity level may have (others are refused, as dcap-qvl does).
_MODULE_STATUS = {"UpToDate", "OutOfDate", "Revoked"}


@dataclass(frozen=True)
class Anchor:
    """The trust root: the pinned Intel SGX Root CA, or a certificate the caller gave."""

    fingerprint: str
    cert: x509.Certificate | None  # None: pinned by fingerprint, taken from the chain
    #: What results name as their anchor (built once: results are made per quote).
    result_anchor: PinnedRoot

    @classmethod
    def of(cls, fingerprint: str, cert: x509.Certificate | None) -> Anchor:
        return cls(fingerprint, cert, PinnedRoot(C.INTEL_ROOT_NAME, fingerprint))


@dataclass(frozen=True)
class _Path:
    """A certificate chain resolved against the anchor (time-independent facts)."""

    certs: tuple[x509.Certificate, ...]  # leaf first, ending with the root used
    root_problem: str | None
    link_problem: str | None
    not_before: datetime
    not_after: datetime

    def window_problem(self, at: datetime) -> str | None:
        if self.not_before <= at <= self.not_after:
            return None
        for cert in self.certs:
            problem = C.window_problem(cert, at)
            if problem:
                return problem
        return None


@dataclass(frozen=True)
class _PckFacts:
    path: _Path
    leaf_key: ec.EllipticCurvePublicKey | None
    pck: PckExtension
    chain_fps: tuple[str, ...]
    #: The results about the chain alone (root, links), built once per chain and anchor.
    chain_results: tuple[Result, ...]


@dataclass(frozen=True)
class _CollateralFacts:
    collateral: Collateral
    tcb_path: _Path
    qe_path: _Path
    crl_path: _Path
    tcb_signature_ok: bool
    qe_signature_ok: bool
    root_crl_signed: bool


@dataclass(frozen=True)
class TcbStatus:
    status: str
    advisory_ids: tuple[str, ...]

    def merge(self, other: TcbStatus) -> TcbStatus:
        """Fold a QE or TDX module status into this platform status, as Intel's QVL
        converges them (and dcap-qvl 0.7.0 with it): Revoked wins; OutOfDate turns
        UpToDate/SWHardeningNeeded into OutOfDate and the configuration statuses into
        OutOfDateConfigurationNeeded; UpToDate changes nothing. Advisory IDs are joined in
        order without repeats."""
        status = self.status
        if other.status == "Revoked":
            status = "Revoked"
        elif other.status == "OutOfDate":
            status = {
                "UpToDate": "OutOfDate",
                "SWHardeningNeeded": "OutOfDate",
                "ConfigurationNeeded": "OutOfDateConfigurationNeeded",
                "ConfigurationAndSWHardeningNeeded": "OutOfDateConfigurationNeeded",
            }.get(status, status)
        ids = list(self.advisory_ids)
        ids += [i for i in other.advisory_ids if i not in ids]
        return TcbStatus(status, tuple(ids))


@dataclass(frozen=True)
class TdxVerification:
    """What :meth:`TdxVerifier.evaluate` found: the results, and the TCB facts."""

    results: tuple[Result, ...]
    pck: PckExtension | None
    tcb: TcbStatus | None = None
    tcb_evaluation_data_number: int | None = None


#: The default trust root (immutable).
PINNED_ROOT = Anchor.of(C.INTEL_SGX_ROOT_SHA256, None)


def _resolve(
    chain: tuple[x509.Certificate, ...], anchor: Anchor, *, from_quote: bool = True
) -> _Path:
    """Resolve a leaf-first chain against the anchor; record (not raise) what is wrong.

    A quote's PCK chain without its root is missing material (exit 3: the user may give
    the root). A collateral issuer chain always carries Intel's root: one without it is
    damaged collateral, a failed check (``from_quote=False``).
    """
    root_problem: str | None = None
    certs = list(chain)
    if anchor.cert is None:
        # Leaf and intermediate only (a full chain has three certificates; a third that is
        # not self-issued, or a last one that calls itself the root but is not
        # self-issued, is a wrong root: reported as not pinned, not as missing).
        rootless = (
            len(certs) < 3
            and certs[-1].subject != certs[-1].issuer
            and C.common_name(certs[-1]) != C.INTEL_ROOT_NAME
        )
        ends = f"the chain ends at {C.common_name(certs[-1])}, issued by "
        if rootless and from_quote:
            raise MaterialMissing(
                f"{ends}{certs[-1].issuer.rfc4514_string()}: the root certificate is not included",
                hint="give the Intel SGX Root CA certificate explicitly (it is checked "
                "against the pinned fingerprint only when it is in the chain)",
            )
        fp = C.fingerprint(certs[-1])
        if rootless:
            root_problem = (
                f"{ends}{certs[-1].issuer.rfc4514_string()}: the collateral does not carry the root"
            )
        elif fp != anchor.fingerprint:
            root_problem = (
                f"the chain ends at {C.common_name(certs[-1])} with SHA-256 {fp}, not the "
                f"pinned {C.INTEL_ROOT_NAME}"
            )
    else:
        if C.fingerprint(certs[-1]) == anchor.fingerprint:
            certs[-1] = anchor.cert
        elif certs[-1].subject == certs[-1].issuer:
            root_problem = (
                f"the chain ends at the self-signed {C.common_name(certs[-1])} "
                f"(SHA-256 {C.fingerprint(certs[-1])}), not the given root"
            )
        else:
            certs.append(anchor.cert)
    link_problem = None
    if len(certs) < 2:
        link_problem = "the chain has a single certificate"
    for i in range(len(certs) - 1):
        link_problem = link_problem or C.issued_by(certs[i], certs[i + 1])
    root = certs[-1]
    if link_problem is None and root.subject == root.issuer:
        link_problem = C.issued_by(root, root)
    return _Path(
        tuple(certs),
        root_problem,
        link_problem,
        max(c.not_valid_before_utc for c in certs),
        min(c.not_valid_after_utc for c in certs),
    )


def _chain_results(path: _Path, anchor: Anchor) -> tuple[Result, ...]:
    ra = anchor.result_anchor
    out: list[Result] = []
    if path.root_problem:
        out.append(
            Result.of(
                "tdx.root.not-pinned",
                path.root_problem,
                check="PCK root",
                anchor=ra,
                expected=anchor.fingerprint,
                actual=C.fingerprint(path.certs[-1]),
            )
        )
    else:
        out.append(
            Result.of(
                "tdx.root.pinned",
                f"the PCK chain ends at {C.INTEL_ROOT_NAME}",
                check="PCK root",
                anchor=ra,
                actual=anchor.fingerprint,
            )
        )
    if path.link_problem:
        out.append(
            Result.of("tdx.pck.chain-invalid", path.link_problem, check="PCK chain", anchor=ra)
        )
    else:
        names = " <- ".join(C.common_name(c) for c in path.certs)
        out.append(Result.of("tdx.pck.chain-valid", names, check="PCK chain", anchor=ra))
    return tuple(out)


def pck_extension(cert: x509.Certificate, *, source: str) -> PckExtension:
    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID))
    except x509.ExtensionNotFound:
        raise ParseError(
            "the PCK certificate has no SGX extension (1.2.840.113741.1.13.1)",
            location=Location(source, field="pck_chain[0]"),
        ) from None
    except ValueError as exc:
        raise ParseError(
            f"the PCK certificate's extensions are malformed: {exc}",
            location=Location(source, field="pck_chain[0]"),
        ) from None
    value = ext.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    return parse_sgx_extension(raw, source=f"{source} (PCK SGX extension)")


class TdxVerifier:
    """Verifies TDX quotes, caching what depends only on bytes (chains, collateral).

    Thread-safe; one instance per trust configuration or shared by a service. The caches
    hold parsed chains and signature results keyed by the exact bytes, never a result
    about one quote.
    """

    def __init__(self, *, cache_entries: int = 256) -> None:
        self._anchors = Memo(16)
        self._chains = Memo(cache_entries)
        self._collateral = Memo(cache_entries)
        self._crl_sig = Memo(cache_entries * 4)
        self._results = Memo(cache_entries * 4)

    def _constant(self, code: str, message: str, check: str, anchor: PinnedRoot | None) -> Result:
        """A result that says the same for every quote, built once (Result.of validates
        its code, which costs as much as parsing a quote)."""

        def make() -> Result:
            required = code != "tdx.collateral.absent"
            return Result.of(code, message, check=check, anchor=anchor, required=required)

        return self._results.get(
            (code, message, check, anchor.fingerprint if anchor else None), make
        )

    # -- anchors, chains and collateral (cached)

    def anchor(self, intel_root: bytes | None) -> Anchor:
        if intel_root is None:
            return PINNED_ROOT

        def make() -> Anchor:
            cert = C.load_certificate(intel_root, source="Intel root certificate")
            return Anchor.of(C.fingerprint(cert), cert)

        return self._anchors.get(bytes(intel_root), make)

    def _pck(self, chain_pem: bytes, anchor: Anchor, source: str) -> _PckFacts:
        def make() -> _PckFacts:
            chain = C.load_pem_chain(chain_pem, source=source, field="pck_chain")
            path = _resolve(chain, anchor)
            key = chain[0].public_key()
            return _PckFacts(
                chain_results=_chain_results(path, anchor),
                path=path,
                leaf_key=key
                if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
                else None,
                pck=pck_extension(chain[0], source=source),
                chain_fps=tuple(C.fingerprint(c) for c in chain),
            )

        return self._chains.get((chain_pem, anchor.fingerprint), make)

    def collateral(self, data: bytes, anchor: Anchor, *, source: str) -> _CollateralFacts:
        def make() -> _CollateralFacts:
            col = parse_collateral(data, source=source)
            tcb_path = _resolve(col.tcb_info_issuer_chain, anchor, from_quote=False)
            qe_path = _resolve(col.qe_identity_issuer_chain, anchor, from_quote=False)
            crl_path = _resolve(col.pck_crl_issuer_chain, anchor, from_quote=False)
            tcb_key = col.tcb_info_issuer_chain[0].public_key()
            qe_key = col.qe_identity_issuer_chain[0].public_key()
            return _CollateralFacts(
                collateral=col,
                tcb_path=tcb_path,
                qe_path=qe_path,
                crl_path=crl_path,
                tcb_signature_ok=C.verify_raw(tcb_key, col.tcb_info_signature, col.tcb_info_text),
                qe_signature_ok=C.verify_raw(
                    qe_key, col.qe_identity_signature, col.qe_identity_text
                ),
                root_crl_signed=col.root_ca_crl.signed_by(tcb_path.certs[-1]),
            )

        return self._collateral.get((bytes(data), anchor.fingerprint), make)

    def _crl_signed(self, crl: C.Crl, issuer: x509.Certificate) -> bool:
        return self._crl_sig.get((crl.sha256, C.fingerprint(issuer)), lambda: crl.signed_by(issuer))

    # -- verification

    def verify(
        self,
        evidence: TdxEvidence,
        *,
        intel_root: bytes | None = None,
        collateral: bytes | None = None,
        at: datetime,
    ) -> tuple[Result, ...]:
        return self.evaluate(evidence, intel_root=intel_root, collateral=collateral, at=at).results

    def evaluate(
        self,
        evidence: TdxEvidence,
        *,
        intel_root: bytes | None = None,
        collateral: bytes | None = None,
        at: datetime,
        collateral_source: str = "collateral",
    ) -> TdxVerification:
        """Every result, plus the PCK extension and (with collateral) the TCB status."""
        if at.tzinfo is None:
            raise InputError("the verification time needs a time zone (UTC)")
        quote = evidence.quote
        anchor = self.anchor(intel_root)
        ra = anchor.result_anchor
        facts = self._pck(quote.pck_chain_pem, anchor, evidence.source)
        path = facts.path
        out: list[Result] = []
        add = out.append

        out += facts.chain_results
        window = path.window_problem(at)
        if window:
            add(Result.of("tdx.pck.not-current", window, check="PCK validity", anchor=ra))
        else:
            add(
                self._constant(
                    "tdx.pck.current", "every certificate is valid at the time", "PCK validity", ra
                )
            )

        vendor = quote.header.qe_vendor_id
        if vendor == INTEL_QE_VENDOR_ID:
            add(self._constant("tdx.qe.vendor-intel", "Intel's quoting enclave", "QE vendor", None))
        else:
            add(
                Result.of(
                    "tdx.qe.vendor-unknown",
                    "the quote names another QE vendor",
                    check="QE vendor",
                    expected=INTEL_QE_VENDOR_ID.hex(),
                    actual=vendor.hex(),
                )
            )

        if facts.leaf_key is not None and C.verify_p256(
            facts.leaf_key, quote.qe_report_signature, quote.qe_report_raw
        ):
            add(
                self._constant(
                    "tdx.qe.signature-valid",
                    "signed by the PCK leaf key",
                    "QE report signature",
                    ra,
                )
            )
        else:
            add(
                Result.of(
                    "tdx.qe.signature-invalid",
                    "does not verify under the PCK leaf key",
                    check="QE report signature",
                    anchor=ra,
                )
            )

        expected_rd = hashlib.sha256(quote.attestation_key + quote.qe_auth_data).digest() + _ZERO32
        if quote.qe_report.report_data == expected_rd:
            add(
                self._constant(
                    "tdx.qe.binding-ok",
                    "the QE report binds the attestation key",
                    "QE binding",
                    None,
                )
            )
        else:
            add(
                Result.of(
                    "tdx.qe.binding-mismatch",
                    "QE REPORTDATA is not SHA-256(attestation key || auth data) || zeros",
                    check="QE binding",
                    expected=expected_rd.hex(),
                    actual=quote.qe_report.report_data.hex(),
                )
            )

        att_key = C.p256_key(quote.attestation_key)
        if att_key is not None and C.verify_p256(att_key, quote.signature, quote.signed):
            add(
                self._constant(
                    "tdx.signature.valid", "signed by the attestation key", "quote signature", ra
                )
            )
        else:
            why = "does not verify" if att_key else "the attestation key is not a P-256 point"
            add(
                Result.of(
                    "tdx.signature.invalid",
                    f"{why} under the attestation key",
                    check="quote signature",
                    anchor=ra,
                )
            )

        pck = facts.pck
        body = quote.body
        svn = body.tee_tcb_svn

        def reported() -> Result:
            return Result.of(
                "tdx.tcb.reported",
                f"TEE_TCB_SVN {svn.hex()}, FMSPC {pck.fmspc.hex()}, "
                f"PCESVN {pck.pce_svn}, CPUSVN {pck.cpu_svn.hex()}",
                check="TCB fields",
                actual=svn.hex(),
            )

        # per platform (chain) and TDX TCB: the same for every quote of that platform
        add(self._results.get((quote.pck_chain_pem, svn), reported))
        if collateral is None:
            add(
                self._constant(
                    "tdx.collateral.absent",
                    "no collateral: the TCB status was not evaluated",
                    "TCB status",
                    None,
                )
            )
            return TdxVerification(tuple(out), pck)
        cf = self.collateral(collateral, anchor, source=collateral_source)
        status, results = self._tcb(evidence, facts, cf, anchor, at)
        out += results
        return TdxVerification(
            tuple(out), pck, status, cf.collateral.tcb_info.tcb_evaluation_data_number
        )

    # -- collateral

    def _tcb(
        self,
        evidence: TdxEvidence,
        facts: _PckFacts,
        cf: _CollateralFacts,
        anchor: Anchor,
        at: datetime,
    ) -> tuple[TcbStatus | None, list[Result]]:
        col = cf.collateral
        tcb, qe = col.tcb_info, col.qe_identity
        ra = anchor.result_anchor
        out: list[Result] = []
        add = out.append
        quote = evidence.quote

        kind = None
        if tcb.id != "TDX" or tcb.version < 3:
            kind = f"the TCB info is {tcb.id} version {tcb.version}, not TDX version 3 or later"
        elif qe.id != "TD_QE" or qe.version not in (2, 3):
            kind = f"the QE identity is {qe.id} version {qe.version}, not TD_QE version 2 or 3"
        if kind:
            add(Result.of("tdx.collateral.kind-mismatch", kind, check="collateral kind"))
        else:
            add(
                Result.of(
                    "tdx.collateral.kind-ok",
                    "TCB info TDX, QE identity TD_QE",
                    check="collateral kind",
                )
            )

        window = None
        for name, doc in (("TCB info", tcb), ("QE identity", qe)):
            if at < doc.issue_date:
                window = f"the {name} is issued {doc.issue_date:%Y-%m-%dT%H:%M:%SZ}, after the time"
            elif at > doc.next_update:
                window = (
                    f"the {name} expired at its next update {doc.next_update:%Y-%m-%dT%H:%M:%SZ}"
                )
            if window:
                break
        if window:
            add(Result.of("tdx.collateral.outside-window", window, check="collateral validity"))
        else:
            add(
                Result.of(
                    "tdx.collateral.current",
                    f"TCB info and QE identity valid until "
                    f"{min(tcb.next_update, qe.next_update):%Y-%m-%dT%H:%M:%SZ}",
                    check="collateral validity",
                )
            )

        chain_problem = None
        for name, p in (
            ("TCB info", cf.tcb_path),
            ("QE identity", cf.qe_path),
            ("PCK CRL", cf.crl_path),
        ):
            problem = p.root_problem or p.link_problem or p.window_problem(at)
            if problem:
                chain_problem = f"{name} issuer chain: {problem}"
                break
        if chain_problem is None and cf.crl_path.certs[0].subject != col.pck_crl.issuer_name:
            chain_problem = "the PCK CRL issuer chain does not start at the PCK CRL's issuer"
        pck_path = facts.path
        if (
            col.pck_certificate_chain is not None
            and tuple(C.fingerprint(c) for c in col.pck_certificate_chain) != facts.chain_fps
        ):
            chain_problem = chain_problem or "the collateral's PCK chain differs from the quote's"
        if chain_problem:
            add(
                Result.of(
                    "tdx.collateral.chain-invalid",
                    chain_problem,
                    check="collateral chains",
                    anchor=ra,
                )
            )
        else:
            add(
                Result.of(
                    "tdx.collateral.chains-valid",
                    "TCB info, QE identity and PCK CRL signers",
                    check="collateral chains",
                    anchor=ra,
                )
            )

        if cf.tcb_signature_ok and cf.qe_signature_ok:
            add(
                Result.of(
                    "tdx.collateral.signatures-valid",
                    "TCB info and QE identity",
                    check="collateral signatures",
                    anchor=ra,
                )
            )
        else:
            which = "TCB info" if not cf.tcb_signature_ok else "QE identity"
            add(
                Result.of(
                    "tdx.collateral.signature-invalid",
                    f"the {which} signature does not verify",
                    check="collateral signatures",
                    anchor=ra,
                )
            )

        crls = (col.root_ca_crl, col.pck_crl)
        crl_problem, revoked = None, None
        root = pck_path.certs[-1]
        for p in (pck_path, cf.tcb_path, cf.qe_path):
            certs = p.certs
            for i, cert in enumerate(certs):
                if i == len(certs) - 1:
                    # the root itself: listed in a CRL it issued (webpki check_single_cert_crl)
                    crl = C.find_crl(crls, cert.subject)
                    if crl is not None and cert.serial_number in crl.revoked:
                        revoked = revoked or f"{C.common_name(cert)} is revoked"
                    continue
                issuer = certs[i + 1]
                crl = C.find_crl(crls, cert.issuer)
                what = f"the CRL of {C.common_name(issuer)}"
                if crl is None:
                    crl_problem = crl_problem or f"no CRL from {C.common_name(issuer)} was given"
                    continue
                if not self._crl_signed(crl, issuer):
                    crl_problem = crl_problem or f"{what} is not signed by it"
                else:
                    crl_problem = crl_problem or crl.window_problem(at, what)
                if cert.serial_number in crl.revoked:
                    revoked = revoked or (
                        f"{C.common_name(cert)} (serial {cert.serial_number:x}) is revoked"
                    )
        if not cf.root_crl_signed:
            crl_problem = crl_problem or f"the root CA CRL is not signed by {C.common_name(root)}"
        if crl_problem:
            add(Result.of("tdx.collateral.crl-invalid", crl_problem, check="CRLs", anchor=ra))
        else:
            add(
                Result.of(
                    "tdx.collateral.crls-valid", "root CA CRL and PCK CRL", check="CRLs", anchor=ra
                )
            )
        if revoked:
            add(Result.of("tdx.collateral.revoked", revoked, check="revocation", anchor=ra))
        else:
            add(
                Result.of(
                    "tdx.collateral.not-revoked",
                    "no certificate is listed",
                    check="revocation",
                    anchor=ra,
                )
            )

        qe_status, qe_problem = _qe_identity(quote.qe_report, qe)
        if qe_problem:
            add(Result.of("tdx.qe-identity.mismatch", qe_problem, check="QE identity"))
        else:
            add(
                Result.of(
                    "tdx.qe-identity.match",
                    f"ISVSVN {quote.qe_report.isv_svn}, status {qe_status.status}"
                    if qe_status
                    else "",
                    check="QE identity",
                )
            )

        pck = facts.pck
        if pck.fmspc != tcb.fmspc:
            add(
                Result.of(
                    "tdx.tcb.fmspc-mismatch",
                    "the TCB info is for another platform",
                    check="TCB info platform",
                    expected=tcb.fmspc.hex(),
                    actual=pck.fmspc.hex(),
                )
            )
            return None, out
        add(
            Result.of(
                "tdx.tcb.fmspc-match",
                "the TCB info is for this platform",
                check="TCB info platform",
                actual=pck.fmspc.hex(),
            )
        )

        platform, level_problem = _platform_level(tcb, pck, quote.body.tee_tcb_svn)
        if platform is None:
            add(
                Result.of(
                    "tdx.tcb.no-matching-level",
                    level_problem or "",
                    check="TCB level",
                    actual=f"CPUSVN {pck.cpu_svn.hex()} PCESVN {pck.pce_svn} "
                    f"TEE_TCB_SVN {quote.body.tee_tcb_svn.hex()}",
                )
            )
            return None, out
        module, module_problem = _module_identity(tcb, quote.body)
        if module_problem:
            add(Result.of("tdx.module.identity-mismatch", module_problem, check="TDX module"))
            return None, out
        add(
            Result.of(
                "tdx.module.identity-match",
                "MRSIGNERSEAM and SEAM attributes as the TCB info states",
                check="TDX module",
            )
        )
        status = platform.merge(module) if module else platform
        if qe_status is None:
            return None, out
        final = status.merge(qe_status)
        advisories = ", ".join(final.advisory_ids) or "none"
        text = f"{final.status}; advisories: {advisories}"
        code = {
            "UpToDate": "tdx.tcb.up-to-date",
            "Revoked": "tdx.tcb.revoked",
            "OutOfDate": "tdx.tcb.out-of-date",
            "OutOfDateConfigurationNeeded": "tdx.tcb.out-of-date",
        }.get(final.status, "tdx.tcb.acceptable")
        add(Result.of(code, text, check="TCB status", actual=final.status, anchor=ra))
        return final, out


def _qe_identity(report: EnclaveReport, qe: QeIdentity) -> tuple[TcbStatus | None, str | None]:
    if report.mr_signer != qe.mr_signer:
        return None, f"QE MRSIGNER {report.mr_signer.hex()} is not {qe.mr_signer.hex()}"
    if report.attributes[0] & 0x02:
        return None, "the QE runs in debug mode"
    if report.isv_prod_id != qe.isv_prod_id:
        return None, f"QE ISVPRODID {report.isv_prod_id} is not {qe.isv_prod_id}"
    if report.misc_select & qe.miscselect_mask != qe.miscselect & qe.miscselect_mask:
        return None, "QE MISCSELECT differs under the mask"
    for got, want, mask in zip(report.attributes, qe.attributes, qe.attributes_mask, strict=True):
        if got & mask != want & mask:
            return None, "QE ATTRIBUTES differ under the mask"
    level = _first_level(report.isv_svn, qe.tcb_levels)
    if level is None:
        return None, f"QE ISVSVN {report.isv_svn} is below every QE identity TCB level"
    status = _QE_STATUS.get(level.status)
    if status is None:
        return None, f"the QE identity's TCB status {level.status} is not one a QE can have"
    return TcbStatus(status, level.advisory_ids), None


def _first_level(svn: int, levels: tuple[ModuleTcbLevel, ...]) -> ModuleTcbLevel | None:
    return next((lv for lv in levels if svn >= lv.isv_svn), None)


def _platform_level(
    tcb: TcbInfo, pck: PckExtension, tee_tcb_svn: bytes
) -> tuple[TcbStatus | None, str | None]:
    # Intel's canonical order: SGX components, then PCESVN, then TDX components, highest
    # first (stable, as dcap-qvl sorts before matching).
    # With a TDX module version (TEE_TCB_SVN[1] > 0) its first two bytes (module ISVSVN and
    # version) are judged by the module identity, not by the TDX components (Intel QVL).
    start = 2 if tee_tcb_svn[1] > 0 else 0
    levels = sorted(
        tcb.tcb_levels,
        key=lambda lv: (lv.sgx_components, lv.pce_svn, lv.tdx_components),
        reverse=True,
    )
    for lv in levels:
        if pck.pce_svn < lv.pce_svn:
            continue
        if len(lv.sgx_components) != len(pck.cpu_svn):
            return None, f"a TCB level has {len(lv.sgx_components)} SGX components, not 16"
        if any(a < b for a, b in zip(pck.cpu_svn, lv.sgx_components, strict=True)):
            continue
        if len(lv.tdx_components) != len(tee_tcb_svn):
            return None, f"a TCB level has {len(lv.tdx_components)} TDX components, not 16"
        if any(a < b for a, b in zip(tee_tcb_svn[start:], lv.tdx_components[start:], strict=True)):
            continue
        return TcbStatus(lv.status, lv.advisory_ids), None
    return None, "no TCB level of the TCB info is met by this platform"


def _module_identity(tcb: TcbInfo, body: TdReport) -> tuple[TcbStatus | None, str | None]:
    base = tcb.module
    if base is None:
        return None, "the TDX TCB info has no tdxModule"
    isv_svn, version = body.tee_tcb_svn[0], body.tee_tcb_svn[1]
    signer, attrs, mask = base.mr_signer, base.attributes, base.attributes_mask
    levels = None
    if version > 0:
        wanted = f"TDX_{version:02X}"
        ident = next((m for m in tcb.module_identities if m.id.upper() == wanted), None)
        if ident is None:
            return None, f"the TCB info has no TDX module identity {wanted}"
        signer, attrs, mask, levels = (
            ident.mr_signer,
            ident.attributes,
            ident.attributes_mask,
            ident.tcb_levels,
        )
    if body.mr_signer_seam != signer:
        return None, f"MRSIGNERSEAM {body.mr_signer_seam.hex()} is not {signer.hex()}"
    for got, want, m in zip(body.seam_attributes, attrs, mask, strict=True):
        if got & m != want & m or got & ~m & 0xFF:
            return None, "SEAM attributes differ from the TDX module identity"
    if levels is None:
        return None, None
    level = _first_level(isv_svn, levels)
    if level is None:
        return None, f"TDX module ISVSVN {isv_svn} is below every module TCB level"
    if level.status not in _MODULE_STATUS:
        return (
            None,
            f"the TDX module identity's TCB status {level.status} is not one a module can have",
        )
    return TcbStatus(level.status, level.advisory_ids), None


def verify(
    evidence: TdxEvidence,
    *,
    intel_root: bytes | None = None,
    collateral: bytes | None = None,
    at: datetime,
) -> tuple[Result, ...]:
    """Authenticity (and, with collateral, TCB status) of one quote; see the module doc."""
    return TdxVerifier(cache_entries=4).verify(
        evidence, intel_root=intel_root, collateral=collateral, at=at
    )


__all__ = ["TcbStatus", "TdxVerification", "TdxVerifier", "verify"]
