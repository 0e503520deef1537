"""AMD KDS fetching with an in-memory opener (no network), and show/measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from refkit.errors import UnsupportedInput
from refkit.evidence import snp
from refkit.evidence.http import FetchFailed
from refkit.evidence.snp import fetch as kds
from refkit.evidence.snp.certs import read_certificates, read_extensions
from refkit.measure.cpu import SnpProduct
from tests.snp_evidence_support import (
    AT,
    CHIP_ID,
    CLAIMS,
    REPORTS,
    chain,
    claims_report_data,
    hcl_wrap,
    make_pki,
    make_report,
    real,
)


class FakeKds:
    """An in-memory AMD KDS: URL -> bytes; records every request."""

    def __init__(self, answers: dict[str, bytes]) -> None:
        self.answers = answers
        self.requests: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.requests.append(url)
        if url not in self.answers:
            raise kds.KdsUnavailable(f"{url}: HTTP 404")
        return self.answers[url]


def _gcp_urls() -> tuple[str, str, str]:
    """gcp-milan-v5's URLs, with the SPLs read from its real VCEK's extensions (a second,
    independent source of the TCB values) and the hwID from the VCEK too."""
    _report, vcek, _ = real("gcp-milan-v5")
    ext = read_extensions(read_certificates(vcek, source="v")[0].cert)
    assert ext.hwid is not None
    vcek_url = (
        f"https://kdsintf.amd.com/vcek/v1/Milan/{ext.hwid.hex()}"
        f"?blSPL={ext.bootloader}&teeSPL={ext.tee}&snpSPL={ext.snp}&ucodeSPL={ext.microcode}"
    )
    return (
        vcek_url,
        "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain",
        "https://kdsintf.amd.com/vcek/v1/Milan/crl",
    )


def test_fetch_builds_the_kds_urls_and_caches_by_product_hwid_tcb(tmp_path: Path) -> None:
    report, vcek, ask_ark = real("gcp-milan-v5")
    ev = snp.parse(report, source="gcp")
    vcek_url, chain_url, crl_url = _gcp_urls()
    crl = make_pki(SnpProduct.MILAN).crl()  # SYNTHETIC CRL bytes: only its form is checked
    fake = FakeKds({vcek_url: vcek, chain_url: ask_ark, crl_url: crl})
    got = kds.fetch(ev, tmp_path, fake, crl=True)
    assert fake.requests == [chain_url, vcek_url, crl_url]
    vcek_path = tmp_path / "amd" / "Milan" / _chip_hex(ev) / report[0x180:0x188].hex() / "vcek.der"
    assert got.certificates == (vcek_path, tmp_path / "amd" / "Milan" / "vcek-chain.pem")
    assert vcek_path.read_bytes() == vcek
    assert got.crl == tmp_path / "amd" / "Milan" / "vcek.crl"
    # The cached files verify the report offline.
    results = snp.verify(ev, certificates=[p.read_bytes() for p in got.certificates], at=AT)
    assert [r.code for r in results if r.fails] == []
    # Second call: certificates from the cache, only the CRL is refreshed.
    again = kds.fetch(ev, tmp_path, fake, crl=True)
    assert fake.requests[3:] == [crl_url]
    assert again.downloaded == (got.crl,)
    kds.fetch(ev, tmp_path, fake)
    assert len(fake.requests) == 4


def _chip_hex(ev: snp.SnpEvidence) -> str:
    return ev.report.chip_id.hex()


def test_turin_url_uses_the_8_byte_hwid_and_fmc_spl() -> None:
    """SYNTHETIC Turin report: TCB fmc 1, bl 2, tee 3, snp 4, ucode 5 (support module)."""
    ev = snp.parse(make_report(make_pki(SnpProduct.TURIN)), source="turin")
    url = kds.vcek_url(SnpProduct.TURIN, ev.report.chip_id, ev.report.reported_tcb_raw)
    assert url == (
        f"https://kdsintf.amd.com/vcek/v1/Turin/{CHIP_ID[:8].hex()}"
        "?fmcSPL=1&blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=5"
    )


def test_vlek_report_fetches_only_the_asvk_chain(tmp_path: Path) -> None:
    pki = make_pki(SnpProduct.GENOA, vlek=True)
    ev = snp.parse(make_report(pki), source="vlek")
    fake = FakeKds({"https://kdsintf.amd.com/vlek/v1/Genoa/cert_chain": chain("genoa", "vlek")})
    got = kds.fetch(ev, tmp_path, fake)
    assert got.certificates == (tmp_path / "amd" / "Genoa" / "vlek-chain.pem",)
    assert fake.requests == ["https://kdsintf.amd.com/vlek/v1/Genoa/cert_chain"]


def test_v2_report_needs_the_product(tmp_path: Path) -> None:
    report, vcek, ask_ark = real("milan-v2-a")
    ev = snp.parse(report, source="v2")
    with pytest.raises(UnsupportedInput, match="does not name its product"):
        kds.fetch(ev, tmp_path, FakeKds({}))
    chain_url = "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain"
    vurl = kds.vcek_url(SnpProduct.MILAN, ev.report.chip_id, ev.report.reported_tcb_raw)
    got = kds.fetch(
        ev, tmp_path, FakeKds({chain_url: ask_ark, vurl: vcek}), product=SnpProduct.MILAN
    )
    assert len(got.certificates) == 2


def test_masked_chip_id_cannot_be_fetched(tmp_path: Path) -> None:
    ev = snp.parse(make_report(make_pki(), mask_chip_key=True), source="masked")
    fake = FakeKds({"https://kdsintf.amd.com/vcek/v1/Genoa/cert_chain": chain("genoa")})
    with pytest.raises(UnsupportedInput, match="MASK_CHIP_KEY"):
        kds.fetch(ev, tmp_path, fake)


@pytest.mark.parametrize("answer", [b"<html>rate limited</html>", b"", None])
def test_a_wrong_answer_is_not_cached(tmp_path: Path, answer: bytes | None) -> None:
    report, _vcek, _ = real("gcp-milan-v5")
    ev = snp.parse(report, source="gcp")
    _vurl, chain_url, _ = _gcp_urls()
    answers = {} if answer is None else {chain_url: answer}
    with pytest.raises(kds.KdsUnavailable):
        kds.fetch(ev, tmp_path, FakeKds(answers))
    assert not list(tmp_path.rglob("*.pem"))
    # A chain of the wrong kind (the VLEK chain where the VCEK chain was asked) too.
    with pytest.raises(kds.KdsUnavailable, match="ASK and ARK"):
        kds.fetch(ev, tmp_path, FakeKds({chain_url: chain("milan", "vlek")}))


def test_urllib_opener_refuses_non_https() -> None:
    # the one HTTPS client of the evidence fetchers (refkit.evidence.http) refuses it
    with pytest.raises(FetchFailed, match="https"):
        kds.urllib_opener()("file:///etc/passwd")


# --- show / measured ------------------------------------------------------------------------


@pytest.mark.parametrize("name", REPORTS)
def test_show_is_json_and_complete(name: str) -> None:
    report = real(name)[0]
    ev = snp.parse(report, source=name)
    doc = snp.show(ev)
    json.dumps(doc)  # JSON-able
    r = doc["report"]
    assert r["measurement"] == report[0x90:0xC0].hex()
    assert r["chipId"] == report[0x1A0:0x1E0].hex()
    assert r["signature"]["r"] == report[0x2A0:0x2E8].hex()
    assert r["policy"]["debug"] is (name == "milan-v2-b")
    m = snp.measured(ev)
    assert m["measurement"] == r["measurement"]
    assert m["debug"] == ("yes" if name == "milan-v2-b" else "no")


def test_show_of_hcl_includes_the_claims() -> None:
    data = hcl_wrap(make_report(make_pki(), report_data=claims_report_data(CLAIMS)), CLAIMS)
    doc = snp.show(snp.parse(data, source="hcl"))
    assert doc["kind"] == "azure-hcl-report"
    assert doc["hcl"]["runtimeClaims"]["keys"][0]["kid"] == "HCLAkPub"
    json.dumps(doc)
