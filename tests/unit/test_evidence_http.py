"""The one HTTPS client of the evidence fetchers: what it refuses before any connection."""

from __future__ import annotations

import pytest

from refkit.errors import EnvironmentProblem
from refkit.evidence.gpu.fetch import UrllibOpener
from refkit.evidence.http import FetchFailed, HttpResponse, body_opener, https_get
from refkit.evidence.snp.fetch import urllib_opener as snp_opener
from refkit.evidence.tdx.fetch import urllib_opener as tdx_opener


@pytest.mark.parametrize(
    "url", ["http://kdsintf.amd.com/vcek/v1/Milan/cert_chain", "file:///etc/passwd", "ftp://x/y"]
)
def test_every_fetcher_refuses_what_is_not_https(url: str) -> None:
    # The refusal comes before urllib opens anything: no network is reached here.
    with pytest.raises(FetchFailed, match="only https"):
        https_get(url, limit=10)
    with pytest.raises(FetchFailed):
        body_opener(limit=10)(url)
    with pytest.raises(EnvironmentProblem):
        snp_opener()(url)
    with pytest.raises(EnvironmentProblem):
        tdx_opener()(url)
    with pytest.raises(EnvironmentProblem):
        UrllibOpener().get(url, limit=10)


def test_headers_are_looked_up_case_insensitively() -> None:
    response = HttpResponse(200, b"", {"tcb-info-issuer-chain": "x"})
    assert response.header("TCB-Info-Issuer-Chain") == "x"
    assert response.header("SGX-TCB-Info-Issuer-Chain", "TCB-Info-Issuer-Chain") == "x"
    assert response.header("missing") is None
