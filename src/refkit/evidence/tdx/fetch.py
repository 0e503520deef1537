"""Fetch TDX collateral from Intel's Provisioning Certification Service (PCS) v4 into the
collateral JSON that :func:`~refkit.evidence.tdx.verification` reads (dcap-qvl's shape).

The only network code for Intel. It takes the quote (for the PCK certificate's FMSPC and
its issuing CA) and an :data:`Opener`, a function that GETs one URL, so tests pass an
in-memory fake and verification never reaches the network. Requests (Intel PCS API v4):

- ``{base}/tdx/certification/v4/tcb?fmspc={FMSPC}``: body ``{"tcbInfo": {...},
  "signature": hex}``, issuer chain in the ``TCB-Info-Issuer-Chain`` header (older
  servers: ``SGX-TCB-Info-Issuer-Chain``), URL-encoded PEM;
- ``{base}/tdx/certification/v4/qe/identity``: body ``{"enclaveIdentity": {...},
  "signature": hex}``, chain in ``SGX-Enclave-Identity-Issuer-Chain``;
- ``{base}/sgx/certification/v4/pckcrl?ca={platform|processor}&encoding=der``: the DER CRL,
  chain in ``SGX-PCK-CRL-Issuer-Chain``;
- the root CA CRL from the Intel SGX Root CA's CRL distribution point (by default
  ``https://certificates.trustedservices.intel.com/IntelSGXRootCA.der``).

``tcb_info`` and ``qe_identity`` are the signed members copied byte for byte out of the
response (Intel signs that exact text); nothing is re-serialised. Fetched collateral is
only as good as its verification: :func:`fetch_collateral` checks shapes, and the caller
verifies it like any other collateral. The result is cached under ``cache_dir`` by FMSPC
and CA (``tdx-collateral-<fmspc>-<ca>.json``) when a cache directory is given.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from refkit.atomic import write_file
from refkit.errors import EnvironmentProblem, InputError
from refkit.evidence.http import HttpResponse as HttpResponse  # re-exported for fakes
from refkit.evidence.tdx.certs import common_name, load_pem_chain
from refkit.evidence.tdx.model import TdxEvidence
from refkit.evidence.tdx.verification import pck_extension

INTEL_PCS = "https://api.trustedservices.intel.com"
INTEL_ROOT_CRL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
MAX_RESPONSE = 1024 * 1024


#: GET one URL; raise :class:`~refkit.errors.EnvironmentProblem` when it cannot be reached.
Opener = Callable[[str], HttpResponse]


class FetchFailed(EnvironmentProblem):
    """Intel's service did not give what was asked (exit 3)."""


def urllib_opener(timeout: float = 30.0) -> Opener:
    """The real :data:`Opener` (:func:`refkit.evidence.http.https_get`: https only,
    bounded size); HTTP error statuses are returned for :func:`_get` to word."""
    from refkit.evidence.http import https_get

    return lambda url: https_get(url, limit=MAX_RESPONSE, timeout=timeout)


def _get(opener: Opener, url: str) -> HttpResponse:
    response = opener(url)
    if response.status != 200:
        raise FetchFailed(f"{url}: HTTP {response.status}")
    if len(response.body) > MAX_RESPONSE:
        raise FetchFailed(f"{url}: more than {MAX_RESPONSE} bytes")
    return response


def _chain_header(response: HttpResponse, url: str, *names: str) -> str:
    value = response.header(*names)
    if value is None:
        raise FetchFailed(f"{url}: the response has no {names[0]} header")
    return urllib.parse.unquote(value)


def _signed_member(body: bytes, member: str, url: str) -> tuple[str, str]:
    """The exact text of ``member`` in Intel's ``{member: {...}, "signature": hex}``."""
    try:
        text = body.decode("utf-8")
        decoder = json.JSONDecoder()
        at = len(text) - len(text.lstrip())
        if text[at : at + 1] != "{":
            raise ValueError("not an object")
        at += 1
        spans: dict[str, tuple[int, int]] = {}
        values: dict[str, object] = {}
        while True:
            while text[at].isspace():
                at += 1
            if text[at] == "}":
                break
            key, at = decoder.raw_decode(text, at)
            while text[at].isspace():
                at += 1
            if text[at] != ":":
                raise ValueError("expected ':'")
            at += 1
            while text[at].isspace():
                at += 1
            value, end = decoder.raw_decode(text, at)
            if not isinstance(key, str):
                raise ValueError("a key is not a string")
            spans[key], values[key] = (at, end), value
            at = end
            while text[at].isspace():
                at += 1
            if text[at] == ",":
                at += 1
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise FetchFailed(f"{url}: the body is not Intel's signed JSON ({exc})") from None
    signature = values.get("signature")
    if member not in spans or not isinstance(signature, str):
        raise FetchFailed(f"{url}: the body has no {member} and signature")
    start, end = spans[member]
    return text[start:end], signature


def _pck_ca(evidence: TdxEvidence) -> str:
    chain = load_pem_chain(evidence.quote.pck_chain_pem, source=evidence.source, field="pck_chain")
    issuer = common_name(chain[1]) if len(chain) > 1 else ""
    if "Platform" in issuer:
        return "platform"
    if "Processor" in issuer:
        return "processor"
    raise InputError(f"{evidence.source}: the PCK certificate's issuer {issuer!r} is not a PCK CA")


def fetch_collateral(
    evidence: TdxEvidence,
    *,
    opener: Opener,
    base_url: str = INTEL_PCS,
    root_crl_url: str = INTEL_ROOT_CRL,
) -> bytes:
    """The collateral JSON for ``evidence``'s platform, fetched through ``opener``."""
    chain = load_pem_chain(evidence.quote.pck_chain_pem, source=evidence.source, field="pck_chain")
    fmspc = pck_extension(chain[0], source=evidence.source).fmspc.hex().upper()
    ca = _pck_ca(evidence)
    base = base_url.rstrip("/")

    url = f"{base}/tdx/certification/v4/tcb?fmspc={fmspc}"
    r = _get(opener, url)
    tcb_chain = _chain_header(r, url, "TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain")
    tcb_info, tcb_sig = _signed_member(r.body, "tcbInfo", url)

    url = f"{base}/tdx/certification/v4/qe/identity"
    r = _get(opener, url)
    qe_chain = _chain_header(r, url, "SGX-Enclave-Identity-Issuer-Chain")
    qe_identity, qe_sig = _signed_member(r.body, "enclaveIdentity", url)

    url = f"{base}/sgx/certification/v4/pckcrl?ca={ca}&encoding=der"
    r = _get(opener, url)
    crl_chain = _chain_header(r, url, "SGX-PCK-CRL-Issuer-Chain")
    pck_crl = r.body

    root_crl = _get(opener, root_crl_url).body
    doc = {
        "pck_crl_issuer_chain": crl_chain,
        "root_ca_crl": root_crl.hex(),
        "pck_crl": pck_crl.hex(),
        "tcb_info_issuer_chain": tcb_chain,
        "tcb_info": tcb_info,
        "tcb_info_signature": tcb_sig.lower(),
        "qe_identity_issuer_chain": qe_chain,
        "qe_identity": qe_identity,
        "qe_identity_signature": qe_sig.lower(),
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def cache_name(evidence: TdxEvidence) -> str:
    """The cache file name for ``evidence``'s platform: FMSPC and PCK CA."""
    chain = load_pem_chain(evidence.quote.pck_chain_pem, source=evidence.source, field="pck_chain")
    fmspc = pck_extension(chain[0], source=evidence.source).fmspc.hex()
    return f"tdx-collateral-{fmspc}-{_pck_ca(evidence)}.json"


def fetch(
    evidence: TdxEvidence,
    *,
    opener: Opener,
    cache_dir: Path,
    refresh: bool = False,
    base_url: str = INTEL_PCS,
) -> Path:
    """The cached collateral file for ``evidence``'s platform, fetched when absent (or
    when ``refresh``); returns its path."""
    path = Path(cache_dir) / cache_name(evidence)
    if path.exists() and not refresh:
        return path
    data = fetch_collateral(evidence, opener=opener, base_url=base_url)
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    write_file(path, data, force=True)
    return path
