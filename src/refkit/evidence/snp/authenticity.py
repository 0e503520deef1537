"""Is this SEV-SNP report authentic? The chain, the signature, and what binds them.

:meth:`SnpVerifier.verify` reads as its steps; each gives one or more
:class:`~refkit.verification.Result` (codes in ``verification/tables/evidence_snp.py``), and
none stops the others once a chain is chosen, so a verdict lists every problem:

1. the report's SIGNING_KEY names the key type (VCEK or VLEK) to look for; a report that
   says "no key" fails here;
2. the certificates are read by content and the VCEK/VLEK picked (its product name, hwID
   and TCB extensions are what sort several candidates); none at all is
   :class:`~refkit.evidence.errors.MaterialMissing` (exit 3);
3. the product: CPUID (v3+) and the VCEK's product name must agree (v2: the VCEK's);
4. the chain for that product: the ARK pinned by SHA-256 (a self-signed ARK that is not
   pinned fails ``snp.chain.ark-not-pinned``; chains of another product only fail
   ``snp.chain.product-mismatch``), its self-signature, ASK/ASVK signed by the ARK,
   VCEK/VLEK signed by the ASK/ASVK, each RSASSA-PSS SHA-384 salt 48, checked directly;
5. each certificate's validity at ``at``;
6. the report signature, ECDSA P-384 with SHA-384 over ``[0, 0x2A0)``;
7. the VCEK's TCB extensions against REPORTED_TCB (and CURRENT_TCB reported when it moved
   on), its hwID against CHIP_ID (8 bytes on Turin), the SIGNING_KEY against the type;
8. revocation: a CRL issued by the ARK, signed by it, current at ``at``, not listing the
   ASK/ASVK (none given: not checked, not required);
9. for Azure's HCL report, the runtime claims' hash at the start of REPORT_DATA.

Caching: a :class:`SnpVerifier` keeps parsed certificates (by their bytes), the chain
signature results (by the three fingerprints) and parsed CRLs (by their bytes) in bounded
dictionaries behind a lock; nothing is cached per report, so every report's signature is
checked. Instances are safe to share between threads; there is no module-level state
except the default verifier of :func:`verify`, which is such an instance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from refkit.errors import InputError, Location, ParseError
from refkit.evidence.errors import MaterialMissing
from refkit.evidence.memo import Memo
from refkit.evidence.snp.certs import (
    PINNED_ARKS,
    AmdCertificate,
    AmdExtensions,
    ExtensionError,
    Role,
    crl_signed_by,
    pss_signed_by,
    read_certificates,
    read_extensions,
    serial_number,
    split_der,
)
from refkit.evidence.snp.evidence import SnpEvidence
from refkit.evidence.snp.hcl import claims_bound
from refkit.evidence.snp.report import SigningKey, SnpReport, decode_tcb
from refkit.measure.cpu import SnpProduct
from refkit.verification import PinnedRoot, Result

_FETCH_HINT = (
    "supply the certificates: AMD's key distribution service issues the VCEK for this "
    "chip and TCB and the ASK/ARK chain per product ('refkit evidence fetch' caches them)"
)


def _anchor(ark: AmdCertificate, product: SnpProduct) -> PinnedRoot:
    return PinnedRoot(f"AMD ARK-{product.value}", ark.fingerprint)


def _parse_crl(blob: bytes, source: str) -> x509.CertificateRevocationList:
    """A CRL (PEM or one DER element), every field used later read once here: ``cryptography``
    parses lazily, and a malformed field must be a :class:`ParseError`, not a crash later."""
    try:
        if b"-----BEGIN" in blob:
            crl = x509.load_pem_x509_crl(blob)
        else:
            parts = split_der(blob)
            if len(parts) != 1:
                raise ValueError(f"{len(parts)} DER elements, expected one CRL")
            crl = x509.load_der_x509_crl(blob)
        _ = (crl.issuer, crl.last_update_utc, crl.next_update_utc, crl.signature)
        _ = (crl.tbs_certlist_bytes, crl.signature_algorithm_oid)
        for revoked in crl:
            _ = (revoked.serial_number, revoked.revocation_date_utc)
    except (ValueError, UnsupportedAlgorithm, x509.InvalidVersion) as exc:
        raise ParseError(f"not a CRL (DER or PEM): {exc}", location=Location(source, 0)) from None
    return crl


class SnpVerifier:
    """Verifies SNP evidence; caches what does not depend on the report (thread-safe).

    ``pinned_arks`` maps each product to the SHA-256 of its ARK's DER; the default is
    AMD's (:data:`~refkit.evidence.snp.certs.PINNED_ARKS`). Tests pin their own roots.
    """

    def __init__(
        self,
        *,
        pinned_arks: Mapping[SnpProduct, str] = PINNED_ARKS,
        cache_limit: int = 1024,
    ) -> None:
        self._pins = dict(pinned_arks)
        self._pinned_fps = {fp: product for product, fp in self._pins.items()}
        self._blobs = Memo(cache_limit)
        self._chains = Memo(cache_limit)
        self._leaf = Memo(cache_limit)
        self._crls = Memo(cache_limit)

    # --- cached pieces -------------------------------------------------------------------

    def certificates(
        self, blobs: Sequence[bytes], names: Sequence[str] | None = None
    ) -> tuple[AmdCertificate, ...]:
        """Every certificate in ``blobs`` (parsed once per distinct blob); ``names`` (file
        names, say) label parse errors."""
        out: list[AmdCertificate] = []
        for i, blob in enumerate(blobs):
            source = names[i] if names and i < len(names) else f"certificate input {i + 1}"
            out.extend(
                self._blobs.get(bytes(blob), partial(read_certificates, blob, source=source))
            )
        return tuple(out)

    def _leaf_facts(
        self, leaf: AmdCertificate
    ) -> tuple[AmdExtensions | ExtensionError, ec.EllipticCurvePublicKey | None]:
        def make() -> tuple[AmdExtensions | ExtensionError, ec.EllipticCurvePublicKey | None]:
            try:
                ext: AmdExtensions | ExtensionError = read_extensions(leaf.cert)
            except ExtensionError as exc:
                ext = exc
            key = leaf.public_key
            ok = isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP384R1)
            return ext, key if ok else None  # type: ignore[return-value]

        return self._leaf.get(leaf.der, make)

    def _chain_results(
        self, ark: AmdCertificate, inter: AmdCertificate, leaf: AmdCertificate, product: SnpProduct
    ) -> tuple[tuple[Result, ...], PinnedRoot]:
        """The chain's signature results and its anchor (cached by the three fingerprints)."""

        def make() -> tuple[tuple[Result, ...], PinnedRoot]:
            anchor = _anchor(ark, product)
            out = [
                Result.of(
                    "snp.chain.ark-pinned",
                    f"ARK-{product.value} is the pinned root",
                    check="ARK pinned",
                    expected=self._pins[product],
                    actual=ark.fingerprint,
                    anchor=anchor,
                )
            ]
            for cert, issuer, what, ok_code, bad_code in (
                (ark, ark, "ARK self-signature", "snp.chain.ark-self-signed",
                 "snp.chain.ark-signature-invalid"),
                (inter, ark, f"{inter.role.value} signed by ARK", "snp.chain.ask-signed",
                 "snp.chain.ask-signature-invalid"),
                (leaf, inter, f"{leaf.role.value} signed by {inter.role.value}",
                 "snp.chain.vcek-signed", "snp.chain.vcek-signature-invalid"),
            ):  # fmt: skip
                if pss_signed_by(cert.cert, issuer):
                    out.append(
                        Result.of(
                            ok_code,
                            f"{cert.common_name} is signed by {issuer.common_name} "
                            "(RSASSA-PSS SHA-384)",
                            check=what,
                            subject=cert.label,
                            anchor=anchor,
                        )
                    )
                else:
                    out.append(
                        Result.of(
                            bad_code,
                            f"{cert.common_name} is not signed by {issuer.common_name} "
                            "with RSASSA-PSS SHA-384 (salt 48)",
                            check=what,
                            subject=cert.label,
                            anchor=anchor,
                        )
                    )
            return tuple(out), anchor

        return self._chains.get((ark.fingerprint, inter.fingerprint, leaf.fingerprint), make)

    def crls(
        self, blobs: Sequence[bytes], names: Sequence[str] | None = None
    ) -> tuple[x509.CertificateRevocationList, ...]:
        """Every CRL (parsed once per distinct blob); ``names`` label parse errors."""
        return tuple(
            self._crls.get(
                bytes(b),
                partial(
                    _parse_crl, b, names[i] if names and i < len(names) else f"CRL input {i + 1}"
                ),
            )
            for i, b in enumerate(blobs)
        )

    # --- the steps -----------------------------------------------------------------------

    def verify(
        self,
        evidence: SnpEvidence,
        *,
        certificates: Sequence[bytes],
        crls: Sequence[bytes] = (),
        at: datetime,
        certificate_names: Sequence[str] | None = None,
        crl_names: Sequence[str] | None = None,
    ) -> tuple[Result, ...]:
        """Authenticity of ``evidence`` at time ``at`` (see the module docstring).

        ``certificate_names`` / ``crl_names`` (optional, parallel to the blobs) name the
        inputs in parse errors, e.g. the files they came from.
        """
        if at.tzinfo is None:
            raise InputError("the verification time must carry a time zone (UTC)")
        report = evidence.report
        certs = self.certificates(certificates, certificate_names)
        crl_list = self.crls(crls, crl_names)

        # 1. the key type the report names
        if report.signing_key is SigningKey.NONE:
            return (
                Result.of(
                    "snp.signing-key.mismatch",
                    "the report's SIGNING_KEY is 7 (no key): it is not signed",
                    check="signing key",
                    expected="VCEK or VLEK",
                    actual="none",
                ),
            )
        leaf_role = Role.VCEK if report.signing_key is SigningKey.VCEK else Role.VLEK
        inter_role = Role.ASK if leaf_role is Role.VCEK else Role.ASVK

        # 2. the leaf
        leaves = [c for c in certs if c.role is leaf_role]
        if not leaves:
            other = Role.VLEK if leaf_role is Role.VCEK else Role.VCEK
            if any(c.role is other for c in certs):
                return (
                    Result.of(
                        "snp.signing-key.mismatch",
                        f"the report is signed with a {leaf_role.value} (SIGNING_KEY "
                        f"{int(report.signing_key)}) but only a {other.value} was given",
                        check="signing key",
                        expected=leaf_role.value,
                        actual=other.value,
                    ),
                )
            raise MaterialMissing(
                f"{evidence.source}: no {leaf_role.value} among the certificates given "
                f"(the report is signed with a {leaf_role.value})",
                hint=_FETCH_HINT
                if leaf_role is Role.VCEK
                else "a VLEK comes from the cloud provider, not by chip ID: supply it",
            )
        leaf, ext, key = self._pick_leaf(leaves, report)

        # 3. the product
        results: list[Result] = []
        if isinstance(ext, ExtensionError):
            results.append(
                Result.of(
                    "snp.vcek.extension-invalid",
                    str(ext),
                    check="VCEK extensions",
                    subject=leaf.label,
                )
            )
            product = report.cpu_product
        else:
            product = report.cpu_product or ext.product
            results.append(
                self._leaf.get(
                    (leaf.der, report.cpu_product),
                    partial(self._product_result, report.cpu_product, ext, leaf),
                )
            )
        if product is None:
            results.append(
                Result.of(
                    "snp.product.mismatch",
                    "the product is unknown: the report has no CPUID product and the "
                    "certificate names none refkit knows",
                    check="product",
                    subject=leaf.label,
                )
            )
            return tuple(results)

        # 4. the chain
        ark, inter, problem = self._pick_chain(certs, product, inter_role, evidence.source)
        if problem is not None:
            return (*results, problem)
        assert ark is not None and inter is not None
        chain_results, anchor = self._chain_results(ark, inter, leaf, product)
        results.extend(chain_results)

        # 5. validity (this step and the TCB and hwID ones are functions of a few small
        # values, remembered like the leaf's facts: a fleet's reports repeat them)
        results.extend(
            self._leaf.get(
                (ark.fingerprint, inter.fingerprint, leaf.fingerprint, at, anchor),
                partial(_validity, (ark, inter, leaf), at, anchor),
            )
        )

        # 6. the report signature
        results.append(_signature(report, key, leaf, anchor))

        # 7. bindings (the key type: the leaf was picked by it, so this is the pass)
        results.append(
            self._leaf.get((leaf.der, anchor), partial(_signing_key_match, leaf, anchor))
        )
        if not isinstance(ext, ExtensionError):
            results.extend(
                self._leaf.get(
                    (
                        leaf.fingerprint,
                        report.reported_tcb_raw,
                        report.current_tcb_raw,
                        product,
                        anchor,
                    ),
                    partial(_tcb, report, ext, product, anchor),
                )
            )
            results.append(
                self._leaf.get(
                    (leaf.fingerprint, report.chip_id, report.mask_chip_key, product, anchor),
                    partial(_hwid, report, ext, leaf, product, anchor),
                )
            )

        # 8. revocation
        results.extend(_revocation(crl_list, ark, inter, at, anchor))

        # 9. Azure HCL
        if evidence.hcl is not None:
            digest = evidence.hcl.claims_digest
            bound = claims_bound(evidence.hcl, report)
            results.append(
                Result.of(
                    "snp.hcl.claims-bound" if bound else "snp.hcl.claims-mismatch",
                    f"REPORT_DATA {'begins' if bound else 'does not begin'} with the "
                    f"{evidence.hcl.hash_name} of the HCL runtime claims",
                    check="HCL runtime claims",
                    expected=digest.hex(),
                    actual=report.report_data[: len(digest)].hex(),
                    anchor=anchor,
                )
            )
        return tuple(results)

    def product(self, evidence: SnpEvidence, *, certificates: Sequence[bytes]) -> SnpProduct | None:
        """The report's product: CPUID (v3+), else the product name of the VCEK/VLEK that
        :meth:`verify` would pick among ``certificates`` (v2). None when neither names one.
        For :func:`refkit.evidence.snp.compare` on v2 reports."""
        report = evidence.report
        if report.cpu_product is not None:
            return report.cpu_product
        role = Role.VLEK if report.signing_key is SigningKey.VLEK else Role.VCEK
        leaves = [c for c in self.certificates(certificates) if c.role is role]
        if not leaves:
            return None
        _leaf, ext, _key = self._pick_leaf(leaves, report)
        return None if isinstance(ext, ExtensionError) else ext.product

    def _pick_leaf(
        self, leaves: list[AmdCertificate], report: SnpReport
    ) -> tuple[AmdCertificate, AmdExtensions | ExtensionError, ec.EllipticCurvePublicKey | None]:
        """The best VCEK/VLEK for the report: right product, hwID and TCB first."""
        if len(leaves) == 1:
            return (leaves[0], *self._leaf_facts(leaves[0]))
        best: tuple[int, int] | None = None
        chosen = None
        for i, leaf in enumerate(leaves):
            ext, key = self._leaf_facts(leaf)
            score = 0
            if not isinstance(ext, ExtensionError):
                product = report.cpu_product or ext.product
                score += 4 * (report.cpu_product in (None, ext.product))
                score += 2 * _hwid_matches(report, ext, product)
                score += (
                    ext.components() == decode_tcb(report.reported_tcb_raw, product).components()
                )
            if best is None or (score, -i) > best:
                best, chosen = (score, -i), (leaf, ext, key)
        assert chosen is not None
        return chosen

    def _product_result(
        self, cpu: SnpProduct | None, ext: AmdExtensions, leaf: AmdCertificate
    ) -> Result:
        """The product check for a leaf and the report's CPUID product (cached per pair)."""
        if cpu is None:
            return Result.of(
                "snp.product.match",
                "the report names no CPU (version 2): the product is the "
                f"certificate's ({ext.product_name})",
                check="product",
                subject=leaf.label,
                actual=ext.product_name,
            )
        if ext.product is cpu:
            return Result.of(
                "snp.product.match",
                f"CPUID names {cpu.value}, the certificate {ext.product_name}",
                check="product",
                subject=leaf.label,
                expected=cpu.value,
                actual=ext.product_name,
            )
        return Result.of(
            "snp.product.mismatch",
            f"CPUID names {cpu.value} but the certificate is for {ext.product_name}",
            check="product",
            subject=leaf.label,
            expected=cpu.value,
            actual=ext.product_name,
        )

    def _pick_chain(
        self,
        certs: tuple[AmdCertificate, ...],
        product: SnpProduct,
        inter_role: Role,
        source: str,
    ) -> tuple[AmdCertificate | None, AmdCertificate | None, Result | None]:
        arks = [c for c in certs if self._pinned_fps.get(c.fingerprint) is product]
        inters = [c for c in certs if c.role is inter_role and c.product is product]
        if arks and inters:
            ark = arks[0]
            signed = [c for c in inters if pss_signed_by(c.cert, ark)] if len(inters) > 1 else []
            return ark, (signed or inters)[0], None
        unpinned = [
            c for c in certs if c.role is Role.ARK and c.product is product and c not in arks
        ]
        if not arks and unpinned:
            c = unpinned[0]
            return (
                None,
                None,
                Result.of(
                    "snp.chain.ark-not-pinned",
                    f"the {c.common_name} given is not the pinned AMD root for {product.value}",
                    check="ARK pinned",
                    subject=c.label,
                    expected=self._pins.get(product, "(no pin)"),
                    actual=c.fingerprint,
                ),
            )
        others = sorted(
            {
                str(c.product)
                for c in certs
                if c.product not in (None, product)
                and (c.role is inter_role or c.fingerprint in self._pinned_fps)
            }
        )
        if others:
            return (
                None,
                None,
                Result.of(
                    "snp.chain.product-mismatch",
                    f"the report is from a {product.value} but the certificate chain given is "
                    f"for {', '.join(others)}",
                    check="chain product",
                    expected=product.value,
                    actual=", ".join(others),
                ),
            )
        missing = "ARK" if not arks else inter_role.value
        raise MaterialMissing(
            f"{source}: no {missing} for {product.value} among the certificates given",
            hint=_FETCH_HINT,
        )


def _validity(
    certs: tuple[AmdCertificate, ...], at: datetime, anchor: PinnedRoot
) -> tuple[Result, ...]:
    """One pass for the whole chain, or one failure per certificate outside its window."""
    at_text = at.isoformat()
    out = []
    for cert in certs:
        if cert.not_before <= at <= cert.not_after:
            continue
        if at < cert.not_before:
            code, text = "snp.certificate.not-yet-valid", "is not yet valid"
        else:
            code, text = "snp.certificate.expired", "had expired"
        out.append(
            Result.of(
                code,
                f"{text} at {at_text} (valid {cert.window})",
                check=f"{cert.role.value} validity",
                subject=cert.label,
                expected=cert.window,
                actual=at_text,
                anchor=anchor,
            )
        )
    if out:
        return tuple(out)
    return (
        Result.of(
            "snp.certificate.valid",
            f"{', '.join(c.common_name for c in certs)} are valid at {at_text}",
            check="certificate validity",
            expected=" ; ".join(c.window for c in certs),
            actual=at_text,
            anchor=anchor,
        ),
    )


def _signature(
    report: SnpReport,
    key: ec.EllipticCurvePublicKey | None,
    leaf: AmdCertificate,
    anchor: PinnedRoot,
) -> Result:
    r = int.from_bytes(report.signature_r, "little")
    s = int.from_bytes(report.signature_s, "little")
    ok = False
    why = "does not verify"
    if key is None:
        why = "cannot be checked: the certificate's key is not ECDSA P-384"
    else:
        try:
            key.verify(encode_dss_signature(r, s), report.signed_bytes, ec.ECDSA(hashes.SHA384()))
            ok = True
        except (InvalidSignature, ValueError):
            pass
    if ok:
        return Result.of(
            "snp.signature.valid",
            f"ECDSA P-384 signature over [0, 0x2A0) verifies with the {leaf.role.value}",
            check="report signature",
            subject=leaf.label,
            anchor=anchor,
        )
    return Result.of(
        "snp.signature.invalid",
        f"the report's signature {why} with the {leaf.role.value}",
        check="report signature",
        subject=leaf.label,
        anchor=anchor,
    )


def _tcb(
    report: SnpReport, ext: AmdExtensions, product: SnpProduct, anchor: PinnedRoot
) -> tuple[Result, ...]:
    reported = decode_tcb(report.reported_tcb_raw, product)
    want = reported.components()
    have = ext.components()
    if product is not SnpProduct.TURIN:
        have.pop("fmc", None)
    cert_text = ", ".join(f"{k} {v}" for k, v in have.items())
    if want == have:
        code, text = "snp.tcb.match", "the certificate's TCB equals REPORTED_TCB"
    else:
        diff = [k for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k)]
        code = "snp.tcb.mismatch"
        text = f"the certificate's TCB differs from REPORTED_TCB in {', '.join(diff)}"
    out = [
        Result.of(
            code,
            text,
            check="TCB binding",
            expected=str(reported),
            actual=cert_text,
            anchor=anchor,
        )
    ]
    if report.current_tcb_raw != report.reported_tcb_raw:
        current = decode_tcb(report.current_tcb_raw, product)
        out.append(
            Result.of(
                "snp.tcb.current-moved",
                f"CURRENT_TCB ({current}) differs from REPORTED_TCB ({reported}); the "
                "certificate is bound to REPORTED_TCB",
                check="current TCB",
                expected=str(reported),
                actual=str(current),
                anchor=anchor,
            )
        )
    return tuple(out)


def _hwid_matches(report: SnpReport, ext: AmdExtensions, product: SnpProduct | None) -> bool:
    if ext.hwid is None:
        return False
    if len(ext.hwid) == 8:
        return product is SnpProduct.TURIN and report.chip_id[:8] == ext.hwid
    return report.chip_id == ext.hwid


def _hwid(
    report: SnpReport,
    ext: AmdExtensions,
    leaf: AmdCertificate,
    product: SnpProduct,
    anchor: PinnedRoot,
) -> Result:
    if leaf.role is Role.VLEK:
        return Result.of(
            "snp.hwid.not-applicable",
            "a VLEK is issued to a cloud provider, not to a chip: no hwID to compare"
            + (f" (CSP {ext.csp_id})" if ext.csp_id else ""),
            check="hwID",
            subject=leaf.label,
            required=False,
        )
    if report.mask_chip_key:
        return Result.of(
            "snp.hwid.not-applicable",
            "MASK_CHIP_KEY is set: the report's CHIP_ID is masked",
            check="hwID",
            subject=leaf.label,
            required=False,
        )
    ok = _hwid_matches(report, ext, product)
    hwid = ext.hwid.hex() if ext.hwid is not None else "(absent)"
    n = len(ext.hwid) if ext.hwid is not None else 64
    return Result.of(
        "snp.hwid.match" if ok else "snp.hwid.mismatch",
        f"the VCEK's hwID ({n} bytes) {'equals' if ok else 'differs from'} "
        + ("the first 8 bytes of CHIP_ID" if n == 8 else "CHIP_ID"),
        check="hwID",
        subject=leaf.label,
        expected=report.chip_id[:n].hex(),
        actual=hwid,
        anchor=anchor,
    )


def _signing_key_match(leaf: AmdCertificate, anchor: PinnedRoot) -> Result:
    number = int(SigningKey.VCEK if leaf.role is Role.VCEK else SigningKey.VLEK)
    return Result.of(
        "snp.signing-key.match",
        f"SIGNING_KEY {number} names a {leaf.role.value}, the certificate is a {leaf.role.value}",
        check="signing key",
        expected=leaf.role.value,
        actual=leaf.role.value,
        anchor=anchor,
    )


#: Results are immutable values: the one "no CRL" answer is shared.
_CRL_ABSENT = Result.of(
    "snp.crl.absent",
    "no CRL given: the ASK/ASVK's revocation was not checked",
    check="revocation",
    required=False,
)


def _revocation(
    crls: tuple[x509.CertificateRevocationList, ...],
    ark: AmdCertificate,
    inter: AmdCertificate,
    at: datetime,
    anchor: PinnedRoot,
) -> list[Result]:
    if not crls:
        return [_CRL_ABSENT]
    mine = [c for c in crls if c.issuer == ark.cert.subject]
    if not mine:
        return [
            Result.of(
                "snp.crl.issuer-mismatch",
                f"none of the {len(crls)} CRLs given is issued by {ark.common_name}",
                check="revocation",
                expected=ark.cert.subject.rfc4514_string(),
                actual="; ".join(c.issuer.rfc4514_string() for c in crls),
                anchor=anchor,
            )
        ]
    out: list[Result] = []
    for crl in mine:
        subject = f"CRL of {ark.common_name} (thisUpdate {crl.last_update_utc.isoformat()})"
        if not crl_signed_by(crl, ark):
            out.append(
                Result.of(
                    "snp.crl.signature-invalid",
                    f"the CRL is not signed by {ark.common_name} (RSASSA-PSS SHA-384)",
                    check="CRL signature",
                    subject=subject,
                    anchor=anchor,
                )
            )
            continue
        next_update = crl.next_update_utc
        if crl.last_update_utc > at:
            out.append(
                Result.of(
                    "snp.crl.not-yet-valid",
                    f"the CRL's thisUpdate is after {at.isoformat()}",
                    check="CRL validity",
                    subject=subject,
                    expected=at.isoformat(),
                    actual=crl.last_update_utc.isoformat(),
                    anchor=anchor,
                )
            )
            continue
        if next_update is None or next_update < at:
            out.append(
                Result.of(
                    "snp.crl.expired",
                    f"the CRL's nextUpdate "
                    f"({next_update.isoformat() if next_update else 'absent'}) "
                    f"is before {at.isoformat()}",
                    check="CRL validity",
                    subject=subject,
                    expected=at.isoformat(),
                    actual=next_update.isoformat() if next_update else None,
                    anchor=anchor,
                )
            )
            continue
        revoked = crl.get_revoked_certificate_by_serial_number(serial_number(inter.cert))
        if revoked is not None:
            out.append(
                Result.of(
                    "snp.crl.revoked",
                    f"{inter.common_name} (serial {serial_number(inter.cert):#x}) is revoked "
                    f"since {revoked.revocation_date_utc.isoformat()}",
                    check="revocation",
                    subject=inter.label,
                    anchor=anchor,
                )
            )
        else:
            out.append(
                Result.of(
                    "snp.crl.not-revoked",
                    f"{inter.common_name} (serial {serial_number(inter.cert):#x}) is not on "
                    f"the CRL current at {at.isoformat()}",
                    check="revocation",
                    subject=inter.label,
                    anchor=anchor,
                )
            )
    return out
