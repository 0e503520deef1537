"""SEV-SNP authenticity: the real vectors verify, every negative fails with its own code."""

from __future__ import annotations

import threading
import warnings
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError, RefkitError
from refkit.evidence import snp
from refkit.evidence.errors import MaterialMissing
from refkit.evidence.snp.certs import (
    PINNED_ARKS,
    AmdExtensions,
    ExtensionError,
    load_certificate,
    read_certificates,
    read_extensions,
    serial_number,
)
from refkit.measure.cpu import SnpProduct
from refkit.verification import Outcome, PinnedRoot, Result
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug, vector
from tests.snp_evidence_support import (
    AT,
    CLAIMS,
    END,
    REPORTS,
    START,
    amd_extensions,
    chain,
    claims_report_data,
    ec_key,
    hcl_wrap,
    make_pki,
    make_report,
    real,
    rsa_key,
)


def codes(results: tuple[Result, ...]) -> list[str]:
    return [r.code for r in results]


def failing(results: tuple[Result, ...]) -> list[str]:
    return [r.code for r in results if r.fails]


# --- the real vectors -----------------------------------------------------------------------


@pytest.mark.parametrize("name", REPORTS)
def test_every_real_report_verifies_with_the_milan_chain(name: str) -> None:
    report, vcek, ask_ark = real(name)
    results = snp.verify(snp.parse(report, source=name), certificates=[vcek, ask_ark], at=AT)
    assert failing(results) == []
    for code in (
        "snp.chain.ark-pinned",
        "snp.chain.ark-self-signed",
        "snp.chain.ask-signed",
        "snp.chain.vcek-signed",
        "snp.signature.valid",
        "snp.tcb.match",
        "snp.hwid.match",
        "snp.signing-key.match",
        "snp.product.match",
    ):
        assert code in codes(results), code
    anchors = {r.anchor for r in results if r.anchor is not None}
    assert anchors == {PinnedRoot("AMD ARK-Milan", PINNED_ARKS[SnpProduct.MILAN])}
    # No CRL given: reported, not required.
    crl = next(r for r in results if r.code == "snp.crl.absent")
    assert crl.outcome is Outcome.NOT_CHECKED
    assert not crl.required


def test_certificates_are_picked_by_content_from_any_blobs() -> None:
    """Every chain file and every VCEK at once, in any order: each report still finds its
    own VCEK (hwID, TCB) and the Milan chain (pinned ARK)."""
    everything = [chain(p, k) for p in ("turin", "genoa", "milan") for k in ("vlek", "vcek")]
    everything += [real(n)[1] for n in REPORTS]
    everything += [vector("snp", f"invalid-{k}.vcek.der").read_bytes() for k in ("legacy", "new")]
    for name in REPORTS:
        results = snp.verify(
            snp.parse(real(name)[0], source=name), certificates=everything[::-1], at=AT
        )
        assert failing(results) == [], name


def test_v2_c_reports_current_tcb_beside_reported() -> None:
    """milan-v2-c: CURRENT_TCB microcode 0xce, REPORTED_TCB 0x73 (PROVENANCE.md: the VCEK
    matches REPORTED_TCB)."""
    report, vcek, ask_ark = real("milan-v2-c")
    results = snp.verify(snp.parse(report, source="c"), certificates=[vcek, ask_ark], at=AT)
    assert failing(results) == []
    moved = next(r for r in results if r.code == "snp.tcb.current-moved")
    assert "microcode 206" in (moved.actual or "")
    assert "microcode 115" in (moved.expected or "")
    for name in ("milan-v2-a", "gcp-milan-v5"):
        r, v, c = real(name)
        assert "snp.tcb.current-moved" not in codes(
            snp.verify(snp.parse(r, source=name), certificates=[v, c], at=AT)
        )


@pytest.mark.parametrize("kind", ["legacy", "new"])
def test_invalid_vceks_fail_their_chain(kind: str) -> None:
    report, _vcek, ask_ark = real("milan-v2-a")
    bad = vector("snp", f"invalid-{kind}.vcek.der").read_bytes()
    results = snp.verify(snp.parse(report, source="a"), certificates=[bad, ask_ark], at=AT)
    assert "snp.chain.vcek-signature-invalid" in failing(results)
    assert "snp.signature.invalid" in failing(results)


@pytest.mark.parametrize("name", REPORTS)
@pytest.mark.parametrize("product", ["genoa", "turin"])
def test_milan_report_against_another_products_chain_fails_with_its_code(
    name: str, product: str
) -> None:
    report, vcek, _ = real(name)
    results = snp.verify(snp.parse(report, source=name), certificates=[vcek, chain(product)], at=AT)
    assert failing(results) == ["snp.chain.product-mismatch"]


@pytest.mark.parametrize(
    ("at", "code", "role"),
    [
        (datetime(2031, 1, 1, tzinfo=UTC), "snp.certificate.expired", "VCEK"),
        (datetime(2046, 1, 1, tzinfo=UTC), "snp.certificate.expired", "ARK"),
        (datetime(2022, 1, 1, tzinfo=UTC), "snp.certificate.not-yet-valid", "VCEK"),
        (datetime(2019, 1, 1, tzinfo=UTC), "snp.certificate.not-yet-valid", "ARK"),
    ],
)
def test_validity_at_the_verification_time(at: datetime, code: str, role: str) -> None:
    # gcp VCEK: 2025-12-05 .. 2032-12-05; milan-v2-a VCEK 2023-04-03 .. 2030-04-03;
    # Milan ARK 2020-10-22 .. 2045-10-22 (read from the certificates).
    report, vcek, ask_ark = real("milan-v2-a")
    results = snp.verify(snp.parse(report, source="a"), certificates=[vcek, ask_ark], at=at)
    bad = [r for r in results if r.fails]
    assert code in [r.code for r in bad]
    assert any(r.check == f"{role} validity" for r in bad if r.code == code)


def test_a_reused_verifier_gives_what_a_fresh_one_gives() -> None:
    """A verifier remembers validity, TCB and hwID results by the values they read; one
    used for every case in turn must answer each as a fresh verifier does."""
    shared = snp.SnpVerifier()
    a, vcek_a, ask_ark = real("milan-v2-a")
    chip = 0x1A0  # CHIP_ID, 64 bytes
    cases = [(real(n)[0], real(n)[1], AT) for n in REPORTS]
    cases += [
        (a, vcek_a, datetime(2031, 1, 1, tzinfo=UTC)),  # the VCEK has expired
        (a[:chip] + bytes([a[chip] ^ 1]) + a[chip + 1 :], vcek_a, AT),  # another chip
        (a, vcek_a, AT),
    ]
    seen = set()
    for report, vcek, at in cases:
        fresh = snp.SnpVerifier().verify(
            snp.parse(report, source="r"), certificates=[vcek, ask_ark], at=at
        )
        got = shared.verify(snp.parse(report, source="r"), certificates=[vcek, ask_ark], at=at)
        assert got == fresh
        seen.update(codes(got))
    assert {"snp.certificate.expired", "snp.hwid.mismatch", "snp.tcb.current-moved"} <= seen


def test_naive_time_is_refused() -> None:
    report, vcek, ask_ark = real("milan-v2-a")
    with pytest.raises(InputError, match="time zone"):
        snp.verify(
            snp.parse(report, source="a"),
            certificates=[vcek, ask_ark],
            at=datetime(2026, 1, 1),
        )


def test_every_flipped_byte_of_the_signed_region_fails() -> None:
    """All 0x2A0 signed bytes of gcp-milan-v5, each XOR 0x01: a typed parse error or a
    verdict with a failure, never a pass (and never another exception)."""
    report, vcek, ask_ark = real("gcp-milan-v5")
    verifier = snp.SnpVerifier()
    blobs = [vcek, ask_ark]
    outcomes = {"parse": 0, "fail": 0}
    for i in range(0x2A0):
        data = bytearray(report)
        data[i] ^= 0x01
        try:
            ev = snp.parse(bytes(data), source=f"flip {i:#x}")
        except ParseError:
            outcomes["parse"] += 1
            continue
        try:
            results = verifier.verify(ev, certificates=blobs, at=AT)
        except RefkitError as exc:  # e.g. no VCEK once SIGNING_KEY changed: typed
            assert_not_a_bug(exc)
            outcomes["fail"] += 1
            continue
        assert failing(results), f"byte {i:#x} flipped still verifies"
        outcomes["fail"] += 1
    assert sum(outcomes.values()) == 0x2A0
    # Reserved bytes (0x4C, 0x18B-0x19F, 0x208-0x29F, TCB and version reserved bytes, ...)
    # are refused by the parser; the rest reach the signature check.
    assert outcomes["parse"] > 0
    assert outcomes["fail"] > 400


def test_flipped_signature_bytes_fail() -> None:
    report, vcek, ask_ark = real("milan-v2-a")
    for i in (0x2A0, 0x2A0 + 71, 0x2E8, 0x2E8 + 71):
        data = bytearray(report)
        data[i] ^= 0x80
        results = snp.verify(
            snp.parse(bytes(data), source="s"), certificates=[vcek, ask_ark], at=AT
        )
        assert failing(results) == ["snp.signature.invalid"]


def test_tampered_certificate_bytes_fail_or_are_refused() -> None:
    """A flipped byte in the ASK's signature, or in the VCEK's signed part."""
    report, vcek, ask_ark = real("milan-v2-a")
    ask, ark = x509.load_pem_x509_certificates(ask_ark)
    ask_der = bytearray(ask.public_bytes(Encoding.DER))
    ask_der[-10] ^= 0x01  # inside the signature
    results = snp.verify(
        snp.parse(report, source="a"),
        certificates=[vcek, bytes(ask_der), ark.public_bytes(Encoding.DER)],
        at=AT,
    )
    assert failing(results) == ["snp.chain.ask-signature-invalid"]
    v = bytearray(vcek)
    v[-600] ^= 0x01  # inside the TBS (the key or extensions)
    try:
        results = snp.verify(snp.parse(report, source="a"), certificates=[bytes(v), ask_ark], at=AT)
    except RefkitError as exc:
        assert_not_a_bug(exc)
    else:
        assert "snp.chain.vcek-signature-invalid" in failing(results)


def test_missing_material_is_exit_3() -> None:
    report, vcek, ask_ark = real("milan-v2-a")
    ev = snp.parse(report, source="a.bin")
    with pytest.raises(MaterialMissing, match="no VCEK") as info:
        snp.verify(ev, certificates=[ask_ark], at=AT)
    assert info.value.exit_code == 3
    assert info.value.hint
    with pytest.raises(MaterialMissing, match="no ARK for Milan"):
        snp.verify(ev, certificates=[vcek], at=AT)


def test_unpinned_ark_fails_with_its_code() -> None:
    """SYNTHETIC: a self-signed 'ARK-Milan' made here is not AMD's pinned root."""
    pki = make_pki(SnpProduct.MILAN)
    ev = snp.parse(make_report(pki), source="synthetic")
    results = snp.verify(ev, certificates=pki.blobs(), at=AT)  # AMD's pins, not the test's
    assert failing(results) == ["snp.chain.ark-not-pinned"]
    r = next(r for r in results if r.code == "snp.chain.ark-not-pinned")
    assert r.expected == PINNED_ARKS[SnpProduct.MILAN]
    assert r.actual == pki.ark_fingerprint


def test_serial_zero_warning_is_suppressed_exactly() -> None:
    """Real VCEKs have serial 0: cryptography warns on load; refkit's loader does not
    let that warning out, and lets every other warning through."""
    _report, vcek, _ = real("milan-v2-a")
    with warnings.catch_warnings(record=True) as raw:
        warnings.simplefilter("always")
        x509.load_der_x509_certificate(vcek)
    assert any(issubclass(w.category, CryptographyDeprecationWarning) for w in raw)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        cert = load_certificate(vcek)
        serial = serial_number(cert)
        warnings.warn("another warning", UserWarning, stacklevel=1)
    assert serial == 0
    assert [w.category for w in ours] == [UserWarning]


def test_certificate_garbage_is_a_parse_error() -> None:
    for blob in (
        b"not a certificate",
        b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----",
    ):
        with pytest.raises(ParseError):
            read_certificates(blob, source="x")
    # A CRL among the certificates is skipped, not an error.
    assert read_certificates(make_pki().crl(), source="crl") == ()


# --- synthetic: Turin, VLEK, CRL, HCL, binding failures ------------------------------------


def test_synthetic_genoa_chain_verifies_with_its_own_pin() -> None:
    pki = make_pki(SnpProduct.GENOA)
    ev = snp.parse(make_report(pki), source="synthetic genoa")
    results = pki.verifier().verify(ev, certificates=pki.blobs(), at=AT)
    assert failing(results) == []
    assert {r.anchor for r in results if r.anchor} == {
        PinnedRoot("AMD ARK-Genoa", pki.ark_fingerprint)
    }


def test_synthetic_turin_vcek_8_byte_hwid_and_fmc() -> None:
    pki = make_pki(SnpProduct.TURIN)
    ev = snp.parse(make_report(pki), source="synthetic turin")
    results = pki.verifier().verify(ev, certificates=pki.blobs(), at=AT)
    assert failing(results) == []
    hwid = next(r for r in results if r.code == "snp.hwid.match")
    assert "first 8 bytes" in hwid.message
    assert len(hwid.actual or "") == 16
    tcb = next(r for r in results if r.code == "snp.tcb.match")
    assert "fmc 1" in (tcb.actual or "")
    # Another FMC SVN in the report: the VCEK's fmcSPL no longer matches.
    other = make_report(pki, tcb={"fmc": 7, "bootloader": 2, "tee": 3, "snp": 4, "microcode": 5})
    results = pki.verifier().verify(snp.parse(other, source="t"), certificates=pki.blobs(), at=AT)
    assert failing(results) == ["snp.tcb.mismatch"]
    assert "fmc" in next(r for r in results if r.code == "snp.tcb.mismatch").message


def test_synthetic_vlek_chain_verifies_without_hwid() -> None:
    pki = make_pki(SnpProduct.GENOA, vlek=True)
    ev = snp.parse(make_report(pki), source="synthetic vlek")
    results = pki.verifier().verify(ev, certificates=pki.blobs(), at=AT)
    assert failing(results) == []
    hw = next(r for r in results if r.code == "snp.hwid.not-applicable")
    assert "synthetic-csp" in hw.message
    assert not hw.required


def test_signing_key_field_against_the_certificate_type() -> None:
    vcek_pki, vlek_pki = make_pki(SnpProduct.GENOA), make_pki(SnpProduct.GENOA, vlek=True)
    # The report says VLEK, only a VCEK is given.
    says_vlek = make_report(vcek_pki, signing_key=1)
    results = vcek_pki.verifier().verify(
        snp.parse(says_vlek, source="r"), certificates=vcek_pki.blobs(), at=AT
    )
    assert failing(results) == ["snp.signing-key.mismatch"]
    # The report says "no key" (7).
    unsigned = make_report(vlek_pki, signing_key=7)
    results = vlek_pki.verifier().verify(
        snp.parse(unsigned, source="r"), certificates=vlek_pki.blobs(), at=AT
    )
    assert failing(results) == ["snp.signing-key.mismatch"]


def test_mask_chip_key_skips_hwid() -> None:
    pki = make_pki(SnpProduct.GENOA)
    ev = snp.parse(make_report(pki, mask_chip_key=True), source="masked")
    results = pki.verifier().verify(ev, certificates=pki.blobs(), at=AT)
    assert failing(results) == []
    assert "snp.hwid.not-applicable" in codes(results)


def test_product_mismatch_between_cpuid_and_vcek() -> None:
    """SYNTHETIC: a report whose CPUID says Milan signed by a Genoa VCEK."""
    genoa = make_pki(SnpProduct.GENOA)
    data = bytearray(make_report(genoa, sign=False))
    data[0x188:0x18B] = bytes([0x19, 0x01, 0x01])
    results = genoa.verifier().verify(
        snp.parse(bytes(data), source="r"), certificates=genoa.blobs(), at=AT
    )
    assert "snp.product.mismatch" in failing(results)


def _crl_results(pki_crl: bytes) -> list[str]:
    pki = make_pki(SnpProduct.GENOA)
    ev = snp.parse(make_report(pki), source="r")
    return codes(pki.verifier().verify(ev, certificates=pki.blobs(), crls=[pki_crl], at=AT))


def test_crl_checks() -> None:
    """SYNTHETIC CRLs of the test ARK."""
    pki = make_pki(SnpProduct.GENOA)
    assert "snp.crl.not-revoked" in _crl_results(pki.crl())
    assert "snp.crl.revoked" in _crl_results(pki.crl(revoked=(pki.intermediate_serial,)))
    assert "snp.crl.not-revoked" in _crl_results(pki.crl(revoked=(pki.intermediate_serial + 5,)))
    assert "snp.crl.expired" in _crl_results(pki.crl(next_update=AT - timedelta(days=1)))
    assert "snp.crl.not-yet-valid" in _crl_results(
        pki.crl(this_update=AT + timedelta(days=1), next_update=END)
    )
    assert "snp.crl.signature-invalid" in _crl_results(pki.crl(signer=rsa_key("intruder")))
    assert "snp.crl.issuer-mismatch" in _crl_results(pki.crl(issuer="ARK-Turin"))


def test_crl_in_pem_form() -> None:
    pki = make_pki(SnpProduct.GENOA)
    crl = x509.load_der_x509_crl(pki.crl(revoked=(pki.intermediate_serial,)))
    assert "snp.crl.revoked" in _crl_results(crl.public_bytes(Encoding.PEM))


def test_crl_garbage_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not a CRL"):
        _crl_results(b"garbage")


def test_parse_errors_name_the_input_given() -> None:
    report, vcek, _ = real("milan-v2-a")
    ev = snp.parse(report, source="a")
    with pytest.raises(ParseError) as info:
        snp.verify(ev, certificates=[vcek, b"junk"], certificate_names=["v.der", "c.pem"], at=AT)
    assert info.value.location.source == "c.pem"
    with pytest.raises(ParseError) as info:
        snp.verify(ev, certificates=[vcek], crls=[b"junk"], crl_names=["ark.crl"], at=AT)
    assert info.value.location.source == "ark.crl"


def test_synthetic_hcl_claims_binding() -> None:
    pki = make_pki(SnpProduct.GENOA)
    good = hcl_wrap(make_report(pki, report_data=claims_report_data(CLAIMS)), CLAIMS)
    results = pki.verifier().verify(snp.parse(good, source="hcl"), certificates=pki.blobs(), at=AT)
    assert failing(results) == []
    assert "snp.hcl.claims-bound" in codes(results)
    other = CLAIMS.replace(b"HCLAkPub", b"HCLAkPuc")
    bad = hcl_wrap(make_report(pki, report_data=claims_report_data(CLAIMS)), other)
    results = pki.verifier().verify(snp.parse(bad, source="hcl"), certificates=pki.blobs(), at=AT)
    assert failing(results) == ["snp.hcl.claims-mismatch"]


def test_verifier_is_safe_to_share_between_threads() -> None:
    verifier = snp.SnpVerifier()
    cases = [real(n) for n in REPORTS]
    expected = [
        codes(verifier.verify(snp.parse(r, source="t"), certificates=[v, c], at=AT))
        for r, v, c in cases
    ]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                for (r, v, c), want in zip(cases, expected, strict=True):
                    got = codes(
                        verifier.verify(snp.parse(r, source="t"), certificates=[v, c], at=AT)
                    )
                    assert got == want
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# --- the extension reader -------------------------------------------------------------------


def test_real_vcek_extensions() -> None:
    """gcp-milan-v5's VCEK, as cryptography lists its extensions (raw DER values)."""
    _r, vcek, _ = real("gcp-milan-v5")
    ext = read_extensions(read_certificates(vcek, source="vcek.pem")[0].cert)
    assert ext == AmdExtensions(
        struct_version=0,
        product_name="Milan-B0",
        bootloader=4,
        tee=0,
        snp=27,
        microcode=222,
        fmc=None,
        hwid=ext.hwid,
        csp_id=None,
    )
    assert ext.product is SnpProduct.MILAN
    report = snp.parse(real("gcp-milan-v5")[0], source="r").report
    assert ext.hwid == report.chip_id


def _leaf_with(extensions: list[x509.ExtensionType]) -> x509.Certificate:
    key = ec_key("fuzz")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(START)
        .not_valid_after(END)
    )
    for e in extensions:
        builder = builder.add_extension(e, critical=False)
    from cryptography.hazmat.primitives import hashes

    return builder.sign(key, hashes.SHA384())


_OIDS = ["1", "2", "3.1", "3.2", "3.3", "3.8", "3.9", "4", "5"]


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.dictionaries(st.sampled_from(_OIDS), st.binary(max_size=80), max_size=9))
def test_fuzz_extension_reader(values: dict[str, bytes]) -> None:
    """Arbitrary extension values: an AmdExtensions or an ExtensionError, nothing else."""
    cert = _leaf_with(
        [
            x509.UnrecognizedExtension(x509.ObjectIdentifier(f"1.3.6.1.4.1.3704.1.{o}"), v)
            for o, v in values.items()
        ]
    )
    try:
        ext = read_extensions(cert)
    except ExtensionError:
        return
    assert 0 <= ext.bootloader <= 255
    assert ext.hwid is None or len(ext.hwid) in (8, 64)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"tcb": {"bootloader": 300, "tee": 0, "snp": 0, "microcode": 0}}, "out of range"),
        ({"hwid": b"\x01" * 10}, "hwID is 10 bytes"),
    ],
)
def test_malformed_extensions_fail_as_a_check(change: dict[str, object], words: str) -> None:
    args: dict[str, object] = {
        "product_name": "Genoa-B0",
        "tcb": {"bootloader": 1, "tee": 1, "snp": 1, "microcode": 1},
        "hwid": b"\x00" * 64,
    }
    args.update(change)
    cert = _leaf_with(amd_extensions(**args))  # type: ignore[arg-type]
    with pytest.raises(ExtensionError, match=words):
        read_extensions(cert)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1999), st.integers(0, 255)), max_size=6),
    st.integers(-30, 30),
    st.booleans(),
)
def test_fuzz_certificate_blobs(edits: list[tuple[int, int]], resize: int, pem: bool) -> None:
    """Mutated real certificates (DER VCEK or the PEM chain) given to verify: a typed error
    or results, never another exception, never a pass of the gcp report with a changed
    VCEK signature or key."""
    report, vcek, ask_ark = real("gcp-milan-v5")
    blob = bytearray(ask_ark if pem else read_certificates(vcek, source="v")[0].der)
    for offset, value in edits:
        if offset < len(blob):
            blob[offset] = value
    blob = blob[: len(blob) + resize] if resize < 0 else blob + bytes(resize)
    others = [vcek] if pem else [ask_ark]
    try:
        snp.verify(snp.parse(report, source="r"), certificates=[bytes(blob), *others], at=AT)
    except RefkitError as exc:
        assert_not_a_bug(exc)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1200), st.integers(0, 255)), max_size=6))
def test_fuzz_crl_blobs(edits: list[tuple[int, int]]) -> None:
    """Mutated SYNTHETIC CRLs: a typed error or results; a changed CRL never passes as
    signed unless the bytes are unchanged."""
    pki = make_pki(SnpProduct.GENOA)
    original = pki.crl(revoked=(pki.intermediate_serial,))
    blob = bytearray(original)
    for offset, value in edits:
        if offset < len(blob):
            blob[offset] = value
    ev = snp.parse(make_report(pki), source="r")
    try:
        results = pki.verifier().verify(ev, certificates=pki.blobs(), crls=[bytes(blob)], at=AT)
    except RefkitError as exc:
        assert_not_a_bug(exc)
        return
    if bytes(blob) != original:
        assert "snp.crl.not-revoked" not in codes(results)
