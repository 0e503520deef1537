"""TDX authenticity: every real quote verifies; every tampered byte, wrong QE binding,
wrong PCK chain and other root fails with its own code."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError
from refkit.evidence import tdx
from refkit.evidence.errors import MaterialMissing
from refkit.evidence.tdx.certs import INTEL_SGX_ROOT_SHA256
from refkit.evidence.tdx.pck import parse_sgx_extension
from refkit.verification import Outcome, PinnedRoot, Result
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug, vector
from tests.tdx_evidence_support import AUTH_TIME, PHALA_QUOTE, QUOTES, read

AUTHENTIC = {
    "tdx.root.pinned",
    "tdx.pck.chain-valid",
    "tdx.pck.current",
    "tdx.qe.vendor-intel",
    "tdx.qe.signature-valid",
    "tdx.qe.binding-ok",
    "tdx.signature.valid",
    "tdx.tcb.reported",
}


def _codes(results: tuple[Result, ...]) -> set[str]:
    return {r.code for r in results}


def _fails(results: tuple[Result, ...]) -> set[str]:
    return {r.code for r in results if r.fails}


@pytest.mark.parametrize("parts", QUOTES, ids=lambda p: p[-1])
def test_every_real_quote_is_authentic(parts: tuple[str, ...]) -> None:
    ev = tdx.parse(read(parts), source=parts[-1])
    results = tdx.verify(ev, intel_root=None, collateral=None, at=AUTH_TIME)
    assert _fails(results) == set()
    assert _codes(results) >= AUTHENTIC
    not_checked = [r for r in results if r.outcome is Outcome.NOT_CHECKED]
    assert [r.code for r in not_checked] == ["tdx.collateral.absent"]
    assert not not_checked[0].required
    pinned = [r.anchor for r in results if r.code == "tdx.root.pinned"]
    assert pinned == [PinnedRoot("Intel SGX Root CA", INTEL_SGX_ROOT_SHA256)]


def test_pinned_fingerprint_is_the_shared_root() -> None:
    # PROVENANCE.md pins 44a0196b...674d3; recompute it from the shared root file
    import hashlib

    cert = x509.load_pem_x509_certificate(vector("intel", "sgx-root-ca.pem").read_bytes())
    der = cert.public_bytes(serialization.Encoding.DER)
    assert hashlib.sha256(der).hexdigest() == INTEL_SGX_ROOT_SHA256


def test_explicit_intel_root_file_verifies() -> None:
    root = vector("intel", "sgx-root-ca.pem").read_bytes()
    ev = tdx.parse(read(PHALA_QUOTE), source="phala")
    assert _fails(tdx.verify(ev, intel_root=root, collateral=None, at=AUTH_TIME)) == set()


def _self_signed_root() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Intel SGX Root CA")])
    now = datetime(2020, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365 * 20))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_other_root_is_not_pinned() -> None:
    other = _self_signed_root()  # same name as Intel's, another key
    ev = tdx.parse(read(PHALA_QUOTE), source="phala")
    fails = _fails(tdx.verify(ev, intel_root=other, collateral=None, at=AUTH_TIME))
    assert "tdx.root.not-pinned" in fails


def test_chain_ending_at_another_root_is_not_pinned() -> None:
    q = tdx.parse(read(PHALA_QUOTE), source="phala").quote
    pem = q.pck_chain_pem
    cut = pem.rfind(b"-----BEGIN CERTIFICATE-----")
    chain = pem[:cut] + _self_signed_root()
    data = _fix_sizes(read(PHALA_QUOTE).replace(pem, chain), len(pem), len(chain))
    ev = tdx.parse(data, source="other-root")
    fails = _fails(tdx.verify(ev, intel_root=None, collateral=None, at=AUTH_TIME))
    assert {"tdx.root.not-pinned", "tdx.pck.chain-invalid"} <= fails


def _fix_sizes(data: bytes, old_len: int, new_len: int) -> bytes:
    """Adjust the three enclosing sizes after the PCK chain changed length."""
    import struct

    q = tdx.parse(read(PHALA_QUOTE), source="x").quote
    out = bytearray(data)
    delta = new_len - old_len
    sig_at = len(q.signed)
    struct.pack_into("<I", out, sig_at, struct.unpack_from("<I", out, sig_at)[0] + delta)
    outer = sig_at + 4 + 128 + 2
    struct.pack_into("<I", out, outer, struct.unpack_from("<I", out, outer)[0] + delta)
    inner = outer + 4 + 384 + 64 + 2 + len(q.qe_auth_data) + 2
    struct.pack_into("<I", out, inner, new_len)
    return bytes(out[: len(q.raw) + delta])


def test_chain_without_its_root_is_missing_material() -> None:
    pem = tdx.parse(read(PHALA_QUOTE), source="phala").quote.pck_chain_pem
    chain = pem[: pem.rfind(b"-----BEGIN CERTIFICATE-----")]
    data = _fix_sizes(read(PHALA_QUOTE).replace(pem, chain), len(pem), len(chain))
    ev = tdx.parse(data, source="no-root")
    with pytest.raises(MaterialMissing, match="root certificate is not included"):
        tdx.verify(ev, collateral=None, at=AUTH_TIME)
    # given explicitly, the root completes the chain
    root = vector("intel", "sgx-root-ca.pem").read_bytes()
    assert _fails(tdx.verify(ev, intel_root=root, collateral=None, at=AUTH_TIME)) == set()


def test_wrong_pck_chain_fails_the_qe_signature() -> None:
    # another platform's genuine chain: the chain is fine, the QE report was not its key's
    ours = tdx.parse(read(PHALA_QUOTE), source="phala").quote
    theirs = tdx.parse(read(("tdx", "v4-b.quote.bin")), source="v4-b").quote
    data = read(PHALA_QUOTE).replace(ours.pck_chain_pem, theirs.pck_chain_pem)
    data = _fix_sizes(data, len(ours.pck_chain_pem), len(theirs.pck_chain_pem))
    results = tdx.verify(tdx.parse(data, source="swapped"), collateral=None, at=AUTH_TIME)
    assert _fails(results) == {"tdx.qe.signature-invalid"}


def test_wrong_qe_binding() -> None:
    # QE auth data is covered by the binding only: change it and only the binding fails
    q = tdx.parse(read(PHALA_QUOTE), source="x").quote
    at = len(q.signed) + 4 + 128 + 6 + 384 + 64 + 2
    data = bytearray(read(PHALA_QUOTE))
    data[at] ^= 1
    results = tdx.verify(tdx.parse(bytes(data), source="binding"), collateral=None, at=AUTH_TIME)
    assert _fails(results) == {"tdx.qe.binding-mismatch"}
    bad = next(r for r in results if r.code == "tdx.qe.binding-mismatch")
    assert bad.expected != bad.actual


def test_every_signed_byte_flip_fails() -> None:
    data = read(PHALA_QUOTE)
    signed = len(tdx.parse(data, source="x").quote.signed)
    verifier = tdx.TdxVerifier()
    for offset in range(signed):
        bad = bytearray(data)
        bad[offset] ^= 0x01
        try:
            ev = tdx.parse(bytes(bad), source="flip")
        except ParseError:
            continue  # a header flip that makes the quote unreadable: typed refusal
        fails = _fails(verifier.verify(ev, collateral=None, at=AUTH_TIME))
        assert "tdx.signature.invalid" in fails, offset


def test_sampled_flips_after_the_signed_region_fail() -> None:
    data = read(PHALA_QUOTE)
    q = tdx.parse(data, source="x").quote
    verifier = tdx.TdxVerifier()
    rng = random.Random(12)  # fixed: the same sample on every run
    offsets = rng.sample(range(len(q.signed), len(q.raw)), 1500)
    framing = 0
    for offset in offsets:
        bad = bytearray(data)
        bad[offset] ^= 1 << rng.randrange(8)
        try:
            ev = tdx.parse(bytes(bad), source="flip")
            results = verifier.verify(ev, collateral=None, at=AUTH_TIME)
        except (ParseError, MaterialMissing):  # typed refusals (a PEM line broken)
            continue
        if not _fails(results):
            # only PEM framing changed (a line break, text between certificates): every
            # certificate's DER and every signed or bound field must be unchanged
            assert _ders(ev.quote.pck_chain_pem) == _ders(q.pck_chain_pem), offset
            assert ev.quote.qe_report_raw == q.qe_report_raw
            assert ev.quote.qe_auth_data == q.qe_auth_data
            assert ev.quote.attestation_key == q.attestation_key
            framing += 1
    assert framing < 100  # the sample is mostly certificate and report bytes


def _ders(pem: bytes) -> list[bytes]:
    from refkit.evidence.tdx.certs import load_pem_chain

    chain = load_pem_chain(pem, source="x", field="chain")
    return [c.public_bytes(serialization.Encoding.DER) for c in chain]


def test_validity_window_of_the_chain() -> None:
    ev = tdx.parse(read(("tdx", "v5-a.quote.bin")), source="v5-a")
    before = tdx.verify(ev, collateral=None, at=datetime(2025, 6, 1, tzinfo=UTC))
    assert _fails(before) == {"tdx.pck.not-current"}
    after = tdx.verify(ev, collateral=None, at=datetime(2034, 1, 1, tzinfo=UTC))
    assert _fails(after) == {"tdx.pck.not-current"}


def test_naive_time_is_refused() -> None:
    ev = tdx.parse(read(PHALA_QUOTE), source="phala")
    with pytest.raises(InputError):
        tdx.verify(ev, collateral=None, at=datetime(2026, 1, 1))


def test_verifier_is_thread_safe_and_caches() -> None:
    verifier = tdx.TdxVerifier()
    evs = [tdx.parse(read(p), source=p[-1]) for p in QUOTES]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                for ev in evs:
                    assert _fails(verifier.verify(ev, collateral=None, at=AUTH_TIME)) == set()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.peer
@pytest.mark.parametrize("parts", QUOTES, ids=lambda p: p[-1])
def test_pck_extension_equals_dcap_qvl(parts: tuple[str, ...]) -> None:
    dcap_qvl = pytest.importorskip("dcap_qvl", reason="dcap-qvl (the peer) is not installed")
    ev = tdx.parse(read(parts), source=parts[-1])
    pem = ev.quote.pck_chain_pem
    leaf = pem[: pem.find(b"-----END CERTIFICATE-----") + 25]
    peer = dcap_qvl.parse_pck_extension_from_pem(leaf)
    ours = tdx.show(ev)["pck"]["sgxExtension"]
    assert ours["fmspc"] == bytes(peer.fmspc).hex()
    assert ours["cpuSvn"] == bytes(peer.cpu_svn).hex()
    assert ours["pceSvn"] == peer.pce_svn
    assert ours["pceId"] == bytes(peer.pce_id).hex()
    assert ours["ppid"] == bytes(peer.ppid).hex()
    assert ours["sgxType"] == peer.sgx_type


def _sgx_extension_bytes() -> bytes:
    ev = tdx.parse(read(PHALA_QUOTE), source="x")
    pem = ev.quote.pck_chain_pem
    cert = x509.load_pem_x509_certificate(pem[: pem.find(b"-----END CERTIFICATE-----") + 25])
    ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.2.840.113741.1.13.1"))
    assert isinstance(ext.value, x509.UnrecognizedExtension)
    return ext.value.value


def test_pck_extension_components_equal_cpusvn() -> None:
    # Intel's profile: the 16 component SVNs are CPUSVN's bytes (two readings agree)
    pck = parse_sgx_extension(_sgx_extension_bytes(), source="ext")
    assert bytes(pck.tcb_components) == pck.cpu_svn


@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_fuzz_pck_extension_reader(data: st.DataObject) -> None:
    raw = bytearray(_sgx_extension_bytes())
    if data.draw(st.booleans()):
        raw = bytearray(data.draw(st.binary(max_size=600)))
    else:
        for _ in range(data.draw(st.integers(1, 6))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    try:
        parse_sgx_extension(bytes(raw), source="fuzz")
    except ParseError as exc:
        assert_not_a_bug(exc)


@settings(
    max_examples=FUZZ_EXAMPLES // 3, suppress_health_check=[HealthCheck.too_slow], deadline=None
)
@given(st.lists(st.tuples(st.integers(0, 5005), st.integers(0, 255)), min_size=1, max_size=4))
def test_fuzz_verify_on_mutated_quotes(edits: list[tuple[int, int]]) -> None:
    data = bytearray(read(PHALA_QUOTE))
    for offset, value in edits:
        data[offset % len(data)] = value
    try:
        ev = tdx.parse(bytes(data), source="fuzz")
        results = tdx.verify(ev, collateral=None, at=AUTH_TIME)
    except (ParseError, MaterialMissing) as exc:
        assert_not_a_bug(exc)
        return
    changed = bytes(data) != read(PHALA_QUOTE)
    signed_or_chain = any(o % len(data) < len(ev.quote.raw) for o, _v in edits)
    if (
        changed
        and signed_or_chain
        and bytes(data[: len(ev.quote.raw)]) != read(PHALA_QUOTE)[: len(ev.quote.raw)]
    ):
        assert _fails(results)
