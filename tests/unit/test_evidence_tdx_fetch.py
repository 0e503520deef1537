"""Intel PCS collateral fetch with an in-memory opener: the URLs asked, and the JSON built
from the answers verifies exactly as the original collateral does."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from refkit.errors import EnvironmentProblem
from refkit.evidence import tdx
from refkit.evidence.tdx.fetch import (
    INTEL_PCS,
    INTEL_ROOT_CRL,
    FetchFailed,
    HttpResponse,
    cache_name,
    fetch,
    fetch_collateral,
)
from tests.tdx_evidence_support import PHALA_COLLATERAL, PHALA_QUOTE, PHALA_TIME, read


def _pcs(collateral: dict[str, str]) -> dict[str, HttpResponse]:
    """What Intel's PCS answers, rebuilt from the collateral (spacing as Intel sends it)."""

    def enc(pem: str) -> str:
        return urllib.parse.quote(pem)

    tdx_base = f"{INTEL_PCS}/tdx/certification/v4"
    return {
        f"{tdx_base}/tcb?fmspc=B0C06F000000": HttpResponse(
            200,
            (
                '{"tcbInfo":'
                + collateral["tcb_info"]
                + ',"signature":"'
                + collateral["tcb_info_signature"]
                + '"}'
            ).encode(),
            {"tcb-info-issuer-chain": enc(collateral["tcb_info_issuer_chain"])},
        ),
        f"{tdx_base}/qe/identity": HttpResponse(
            200,
            (
                '{ "enclaveIdentity" : '
                + collateral["qe_identity"]
                + ' , "signature" : "'
                + collateral["qe_identity_signature"]
                + '" }'
            ).encode(),
            {"sgx-enclave-identity-issuer-chain": enc(collateral["qe_identity_issuer_chain"])},
        ),
        f"{INTEL_PCS}/sgx/certification/v4/pckcrl?ca=platform&encoding=der": HttpResponse(
            200,
            bytes.fromhex(collateral["pck_crl"]),
            {"sgx-pck-crl-issuer-chain": enc(collateral["pck_crl_issuer_chain"])},
        ),
        INTEL_ROOT_CRL: HttpResponse(200, bytes.fromhex(collateral["root_ca_crl"])),
    }


class FakeOpener:
    def __init__(self, answers: dict[str, HttpResponse]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, url: str) -> HttpResponse:
        self.asked.append(url)
        return self.answers.get(url, HttpResponse(404, b""))


def test_fetched_collateral_verifies_like_the_original() -> None:
    original = json.loads(read(PHALA_COLLATERAL))
    opener = FakeOpener(_pcs(original))
    ev = tdx.parse(read(PHALA_QUOTE), source="phala")
    fetched = fetch_collateral(ev, opener=opener)
    assert sorted(opener.asked) == sorted(_pcs(original))
    doc = json.loads(fetched)
    for key in original:  # the signed texts byte for byte, CRLs and chains unchanged
        assert doc[key] == original[key], key
    verifier = tdx.TdxVerifier()
    a = verifier.verify(ev, collateral=fetched, at=PHALA_TIME)
    b = verifier.verify(ev, collateral=read(PHALA_COLLATERAL), at=PHALA_TIME)
    assert a == b
    assert not any(r.fails for r in a)


def test_http_error_is_an_environment_problem() -> None:
    answers = _pcs(json.loads(read(PHALA_COLLATERAL)))
    del answers[INTEL_ROOT_CRL]
    ev = tdx.parse(read(PHALA_QUOTE), source="phala")
    with pytest.raises(FetchFailed, match="HTTP 404") as info:
        fetch_collateral(ev, opener=FakeOpener(answers))
    assert isinstance(info.value, EnvironmentProblem)


def test_missing_chain_header_and_bad_body() -> None:
    original = json.loads(read(PHALA_COLLATERAL))
    ev = tdx.parse(read(PHALA_QUOTE), source="phala")
    answers = _pcs(original)
    url = f"{INTEL_PCS}/tdx/certification/v4/qe/identity"
    answers[url] = HttpResponse(200, answers[url].body, {})
    with pytest.raises(FetchFailed, match="header"):
        fetch_collateral(ev, opener=FakeOpener(answers))
    answers = _pcs(original)
    answers[url] = HttpResponse(200, b"<html>", answers[url].headers)
    with pytest.raises(FetchFailed, match="signed JSON"):
        fetch_collateral(ev, opener=FakeOpener(answers))


def test_cache_by_platform(tmp_path: Path) -> None:
    ev = tdx.parse(read(PHALA_QUOTE), source="phala")
    opener = FakeOpener(_pcs(json.loads(read(PHALA_COLLATERAL))))
    path = fetch(ev, opener=opener, cache_dir=tmp_path)
    assert path.name == cache_name(ev) == "tdx-collateral-b0c06f000000-platform.json"
    asked = len(opener.asked)
    assert fetch(ev, opener=opener, cache_dir=tmp_path) == path
    assert len(opener.asked) == asked  # served from the cache
    fetch(ev, opener=opener, cache_dir=tmp_path, refresh=True)
    assert len(opener.asked) == 2 * asked
