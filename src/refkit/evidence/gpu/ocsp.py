"""Revocation from OCSP responses given as files (RFC 6960), never from the network.

NVIDIA's OCSP responder cannot be reached offline, so the caller brings DER responses
(``--ocsp DIR``). For each certificate of a verified path (root excluded) the response
whose single response names it (issuer name and key hashes, serial) is checked:

- the signature: by the issuer itself, or by a responder certificate included in the
  response that the issuer signed and that carries the OCSPSigning extended key usage;
- freshness at the explicit time ``at``: ``thisUpdate <= at`` and, when ``nextUpdate`` is
  absent, ``at - thisUpdate <= MAX_AGE``, else ``at <= nextUpdate``;
- the nonce extension, when the response carries one and the caller gave the request nonce.

A certificate without a response is "revocation not checked" (not required: an offline
verifier cannot always have one), said plainly in the message and in the JSON code.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from refkit.errors import Location, ParseError
from refkit.verification import Result

MAX_AGE = timedelta(days=7)
CHECK = "revocation (OCSP)"


def load_responses(blobs: Sequence[tuple[str, bytes]]) -> tuple[ocsp.OCSPResponse, ...]:
    """Parse DER OCSP responses given as (source, bytes)."""
    out = []
    for source, data in blobs:
        try:
            out.append(ocsp.load_der_ocsp_response(data))
        except ValueError as exc:
            raise ParseError(f"not a DER OCSP response: {exc}", location=Location(source)) from None
    return tuple(out)


def _verify_sig(
    key: object, signature: bytes, data: bytes, algo: hashes.HashAlgorithm | None
) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and algo is not None:
            key.verify(signature, data, ec.ECDSA(algo))
        elif isinstance(key, rsa.RSAPublicKey) and algo is not None:
            key.verify(signature, data, padding.PKCS1v15(), algo)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _signed_by_issuer(resp: ocsp.OCSPResponse, issuer: x509.Certificate) -> bool:
    algo = resp.signature_hash_algorithm
    if _verify_sig(issuer.public_key(), resp.signature, resp.tbs_response_bytes, algo):
        return True
    for responder in resp.certificates:
        try:
            responder.verify_directly_issued_by(issuer)
            eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            continue
        if _verify_sig(responder.public_key(), resp.signature, resp.tbs_response_bytes, algo):
            return True
    return False


def _matches(
    single: ocsp.OCSPSingleResponse, cert: x509.Certificate, issuer: x509.Certificate
) -> bool:
    if single.serial_number != cert.serial_number:
        return False
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, single.hash_algorithm)
    req = builder.build()
    return (
        req.issuer_name_hash == single.issuer_name_hash
        and req.issuer_key_hash == single.issuer_key_hash
    )


def _name(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = cns[0].value if cns else cert.subject.rfc4514_string()
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def check_path(
    path: Sequence[x509.Certificate],
    responses: Sequence[ocsp.OCSPResponse],
    *,
    at: datetime,
    subject: str,
    nonce: bytes | None = None,
) -> tuple[Result, ...]:
    """One result per certificate of ``path`` (leaf first, root last and skipped)."""
    if not responses:
        return (
            Result.of(
                "gpu.revocation.not-checked",
                "revocation not checked: no OCSP responses were given (NVIDIA's OCSP "
                "responder is not contacted offline)",
                check=CHECK,
                subject=subject,
                required=False,
            ),
        )
    results: list[Result] = []
    for cert, issuer in itertools.pairwise(path):
        who = f"{subject}: {_name(cert)}"
        found = None
        for resp in responses:
            if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
                continue
            for single in resp.responses:
                if _matches(single, cert, issuer):
                    found = (resp, single)
                    break
            if found:
                break
        if found is None:
            results.append(
                Result.of(
                    "gpu.revocation.not-checked",
                    "revocation not checked: no OCSP response given for this certificate "
                    "(NVIDIA's OCSP responder is not contacted offline)",
                    check=CHECK,
                    subject=who,
                    required=False,
                )
            )
            continue
        resp, single = found
        problem = None
        if not _signed_by_issuer(resp, issuer):
            problem = "not signed by the issuer or an OCSP responder it delegated to"
        elif single.this_update_utc > at:
            problem = f"produced after the verification time ({single.this_update_utc.isoformat()})"
        elif single.next_update_utc is not None and at > single.next_update_utc:
            problem = f"stale: nextUpdate {single.next_update_utc.isoformat()} is before the time"
        elif single.next_update_utc is None and at - single.this_update_utc > MAX_AGE:
            problem = f"stale: thisUpdate {single.this_update_utc.isoformat()}, no nextUpdate"
        else:
            try:
                ext = resp.extensions.get_extension_for_class(x509.OCSPNonce).value
                if nonce is not None and ext.nonce != nonce:
                    problem = "its nonce is not the request's"
            except x509.ExtensionNotFound:
                pass
        if problem:
            results.append(
                Result.of(
                    "gpu.revocation.response-invalid",
                    f"OCSP response {problem}",
                    check=CHECK,
                    subject=who,
                )
            )
        elif single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
            when = single.revocation_time_utc
            results.append(
                Result.of(
                    "gpu.revocation.revoked",
                    f"revoked{f' at {when.isoformat()}' if when else ''}",
                    check=CHECK,
                    subject=who,
                    expected="good",
                    actual="revoked",
                )
            )
        elif single.certificate_status is ocsp.OCSPCertStatus.GOOD:
            results.append(Result.of("gpu.revocation.good", "OCSP: good", check=CHECK, subject=who))
        else:
            results.append(
                Result.of(
                    "gpu.revocation.not-checked",
                    "revocation not checked: the OCSP response says unknown",
                    check=CHECK,
                    subject=who,
                    required=False,
                )
            )
    return tuple(results)
