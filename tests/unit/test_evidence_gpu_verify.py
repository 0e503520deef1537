"""Authenticity of GPU and NVSwitch evidence: the verdicts PROVENANCE.md states for the
nvidia/ vectors at 2025-03-01, broken chains, every flipped byte of a signed region, OCSP
response files from a test CA, and the CPU↔GPU binding."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from refkit.errors import ParseError
from refkit.evidence import gpu
from refkit.evidence.errors import MaterialMissing
from refkit.evidence.gpu import certs
from refkit.evidence.gpu import ocsp as gpu_ocsp
from refkit.verification import Outcome, Result
from tests import gpu_support as gs
from tests.shared import assert_not_a_bug

pytestmark = pytest.mark.vectors


def _evidence(report: str, chain: str) -> gpu.GpuEvidence:
    (ev,) = gpu.parse(gs.read(report), source=report, chain=gs.read(chain))
    return ev


def _by_code(results: tuple[Result, ...]) -> dict[str, Result]:
    return {r.code: r for r in results}


@pytest.mark.parametrize("pair", [gs.H100_545, gs.H100_550, gs.LS10])
def test_positive_reports_verify_at_the_common_time(pair: tuple[str, str]) -> None:
    ev = _evidence(*pair)
    results = gpu.verify(ev, at=gs.AT, nonce=ev.nonce)
    got = gs.codes(results)
    assert "gpu.device.chain.valid" in got
    assert "gpu.report.signature.valid" in got
    assert "gpu.nonce.match" in got
    assert not [r for r in results if r.fails], [r.text for r in results if r.fails]


def test_nonce_is_the_verifiers() -> None:
    ev = _evidence(*gs.H100_545)
    assert "gpu.nonce.match" in gs.codes(gpu.verify(ev, at=gs.AT, nonce=gs.NONCE_545))
    results = _by_code(gpu.verify(ev, at=gs.AT, nonce=bytes(32)))
    assert results["gpu.nonce.mismatch"].actual == gs.NONCE_545.hex()
    assert results["gpu.nonce.mismatch"].fails
    assert results.get("gpu.nonce.mismatch")
    assert "gpu.nonce.match" not in results
    assert _by_code(gpu.verify(ev, at=gs.AT, nonce=None))["gpu.nonce.not-given"].fails


def test_fwid_binding() -> None:
    ev = _evidence(*gs.H100_550)
    r = _by_code(gpu.verify(ev, at=gs.AT, nonce=ev.nonce))["gpu.fwid.match"]
    assert r.actual == ev.fwid.hex() if ev.fwid else False
    # PROVENANCE.md: no FWID in the 2023 report and the NVSwitch report.
    for pair in (gs.H100_545, gs.LS10):
        e = _evidence(*pair)
        assert not _by_code(gpu.verify(e, at=gs.AT, nonce=e.nonce))["gpu.fwid.absent"].fails


@pytest.mark.parametrize("chain", [gs.H100_550[1], gs.H100_545[1], gs.LS10[1]])
def test_invalid_signature_report_fails_with_any_chain(chain: str) -> None:
    # PROVENANCE.md: SPDM signature invalid, and its FWID (87a82912…) matches no leaf.
    ev = _evidence(gs.INVALID_SIG, chain)
    got = _by_code(gpu.verify(ev, at=gs.AT, nonce=ev.nonce))
    assert "gpu.report.signature.invalid" in got
    assert "gpu.fwid.mismatch" in got
    assert (got["gpu.fwid.mismatch"].actual or "").startswith("87a82912")


def test_report_signed_by_another_gpu() -> None:
    ev = _evidence(gs.H100_545[0], gs.H100_550[1])
    got = gs.codes(gpu.verify(ev, at=gs.AT, nonce=ev.nonce))
    assert "gpu.report.signature.invalid" in got
    assert "gpu.device.chain.valid" in got


def _chain_variant(pem_certs: list[bytes]) -> bytes:
    return b"".join(pem_certs)


def _pems(chain: str) -> list[bytes]:
    return [
        c.public_bytes(Encoding.PEM) for c in certs.load_certificates(gs.read(chain), source="c")
    ]


@pytest.mark.parametrize(
    ("order", "code"),
    [
        ([1, 0, 2, 3, 4], "gpu.device.chain.broken"),  # wrong order
        ([0, 2, 3, 4], "gpu.device.chain.broken"),  # a missing link
        ([0, 1, 2, 3], "gpu.device.chain.not-pinned"),  # no root
        ([0], "gpu.device.chain.not-pinned"),
    ],
)
def test_broken_device_chains(order: list[int], code: str) -> None:
    pems = _pems(gs.H100_545[1])
    (ev,) = gpu.parse(
        gs.read(gs.H100_545[0]), source="r", chain=_chain_variant([pems[i] for i in order])
    )
    got = gs.codes(gpu.verify(ev, at=gs.AT, nonce=ev.nonce))
    assert code in got
    assert "gpu.device.chain.valid" not in got


def test_device_chain_outside_its_validity() -> None:
    ev = _evidence(*gs.H100_545)
    # The BROM certificate starts 2020-10-17 (read from the vector's chain).
    early = min(c.not_valid_before_utc for c in ev.certificates) - timedelta(days=1)
    assert "gpu.device.chain.expired" in gs.codes(gpu.verify(ev, at=early, nonce=ev.nonce))


def test_a_non_ca_root_is_refused_as_anchor() -> None:
    ev = _evidence(*gs.H100_545)
    leaf_as_root = ev.certificates[0]
    got = gs.codes(gpu.verify(ev, at=gs.AT, nonce=ev.nonce, device_root=leaf_as_root))
    assert "gpu.device.chain.not-ca" in got


def test_every_flipped_byte_of_the_signed_region_fails() -> None:
    ev = _evidence(*gs.LS10)
    verifier = gpu.GpuVerifier(at=gs.AT)
    signed = len(ev.measurements.signed)
    assert verifier.verify_one(ev, nonce=ev.nonce)  # warm the chain cache
    for at in range(signed):
        raw = bytearray(ev.raw)
        raw[at] ^= 0x01
        try:
            (bad,) = gpu.parse(bytes(raw), source="flip", chain=gs.read(gs.LS10[1]))
        except ParseError:
            continue
        except Exception as exc:  # pragma: no cover
            assert_not_a_bug(exc)
            raise
        results = verifier.verify_one(bad, nonce=ev.nonce)
        assert any(r.fails for r in results), f"flipping byte {at} still passes"
        assert "gpu.report.signature.invalid" in gs.codes(results), at


# ---------------------------------------------------------------------------------------
# A device signed by a test CA: OCSP responses


def _resigned() -> tuple[gpu.GpuEvidence, gs.TestCa, gs.TestCa]:
    root = gs.make_cert("test device root", issuer=None, ca=True)
    leaf = gs.make_cert("test GPU leaf", issuer=root, ca=False)
    ev = _evidence(*gs.H100_545)
    signed = ev.measurements.signed
    der = leaf.key.sign(signed, ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    raw = signed + r.to_bytes(48, "big") + s.to_bytes(48, "big")
    chain = leaf.cert.public_bytes(Encoding.PEM) + root.cert.public_bytes(Encoding.PEM)
    (test_ev,) = gpu.parse(raw, source="resigned", chain=chain)
    return test_ev, root, leaf


def _verify_with(ev: gpu.GpuEvidence, root: gs.TestCa, responses: list[bytes]) -> dict[str, Result]:
    parsed = gpu_ocsp.load_responses([(f"r{i}", r) for i, r in enumerate(responses)])
    results = gpu.verify(ev, at=gs.AT, nonce=ev.nonce, ocsp_responses=parsed, device_root=root.cert)
    assert "gpu.report.signature.valid" in gs.codes(results)
    return {r.code: r for r in results if r.check.startswith("revocation")}


def test_ocsp_good_revoked_and_not_checked() -> None:
    ev, root, leaf = _resigned()
    got = _verify_with(ev, root, [gs.ocsp_response(leaf.cert, root)])
    assert list(got) == ["gpu.revocation.good"]
    got = _verify_with(
        ev, root, [gs.ocsp_response(leaf.cert, root, status=ocsp.OCSPCertStatus.REVOKED)]
    )
    assert list(got) == ["gpu.revocation.revoked"]
    got = _verify_with(ev, root, [])
    r = got["gpu.revocation.not-checked"]
    assert r.outcome is Outcome.NOT_CHECKED
    assert not r.fails
    assert "revocation not checked" in r.message


def test_ocsp_bad_responses_are_refused() -> None:
    ev, root, leaf = _resigned()
    stranger = gs.make_cert("someone else", issuer=None, ca=True)
    delegate = gs.make_cert("responder", issuer=root, ca=False, eku_ocsp=True)
    no_eku = gs.make_cert("not a responder", issuer=root, ca=False)
    cases = {
        "signed by a stranger": gs.ocsp_response(leaf.cert, root, signer=stranger),
        "delegate without OCSPSigning": gs.ocsp_response(leaf.cert, root, signer=no_eku),
        "stale": gs.ocsp_response(
            leaf.cert,
            root,
            this_update=gs.AT - timedelta(days=9),
            next_update=gs.AT - timedelta(days=2),
        ),
        "from the future": gs.ocsp_response(
            leaf.cert, root, this_update=gs.AT + timedelta(days=1), next_update=None
        ),
        "old without nextUpdate": gs.ocsp_response(
            leaf.cert, root, this_update=gs.AT - timedelta(days=8), next_update=None
        ),
    }
    for what, response in cases.items():
        got = _verify_with(ev, root, [response])
        assert list(got) == ["gpu.revocation.response-invalid"], what
    assert list(_verify_with(ev, root, [gs.ocsp_response(leaf.cert, root, signer=delegate)])) == [
        "gpu.revocation.good"
    ]


def test_ocsp_nonce() -> None:
    _ev, root, leaf = _resigned()
    resp = gpu_ocsp.load_responses([("r", gs.ocsp_response(leaf.cert, root, nonce=b"n1"))])
    path = (leaf.cert, root.cert)
    assert gs.codes(gpu_ocsp.check_path(path, resp, at=gs.AT, subject="s", nonce=b"n1")) == [
        "gpu.revocation.good"
    ]
    assert gs.codes(gpu_ocsp.check_path(path, resp, at=gs.AT, subject="s", nonce=b"n2")) == [
        "gpu.revocation.response-invalid"
    ]


def test_ocsp_file_that_is_not_ocsp() -> None:
    with pytest.raises(ParseError):
        gpu_ocsp.load_responses([("x.der", b"not der")])


# ---------------------------------------------------------------------------------------
# Binding


def test_binding_construction_and_check() -> None:
    evs = [_evidence(*gs.H100_545), _evidence(*gs.LS10), _evidence(*gs.H100_550)]
    # Independent computation: SHA-512 over the sorted SHA-256 digests of the report
    # bytes (hex files decoded), as docs/evidence-gpu.md defines.
    digests = sorted(
        hashlib.sha256(bytes.fromhex(gs.read(p[0]).decode().strip())).digest()
        for p in (gs.H100_545, gs.LS10, gs.H100_550)
    )
    expected = hashlib.sha512(b"".join(digests)).digest()
    assert gpu.expected_report_data(evs) == expected
    assert gpu.expected_report_data(list(reversed(evs))) == expected
    assert gpu.check_binding(evs, expected).code == "gpu.binding.match"
    bad = gpu.check_binding(evs[:2], expected)
    assert bad.code == "gpu.binding.mismatch"
    assert bad.fails
    none = gpu.check_binding(evs, None)
    assert none.code == "gpu.binding.not-checked"
    assert not none.fails


def test_verdict_for_the_machine() -> None:
    ev = _evidence(*gs.H100_550)
    verdict = gpu.GpuVerifier(at=gs.AT).verify_all([ev], nonce=ev.nonce)
    # No RIM exists for this report (PROVENANCE.md): measurements not compared, required.
    assert not verdict.ok
    assert [r.code for r in verdict.failures] == ["gpu.measurements.not-compared"]
    assert verdict.facts["devices"][0]["driver"] == "550.90.07"
    assert verdict.to_json()["ok"] is False


def test_a_report_without_its_chain_is_material_missing() -> None:
    (ev,) = gpu.parse(gs.read(gs.H100_545[0]), source="lonely")
    with pytest.raises(MaterialMissing, match="chain of lonely"):
        gpu.verify(ev, at=gs.AT, nonce=ev.nonce)


def test_a_missing_nonce_fails_unless_the_caller_allows_it() -> None:
    ev = _evidence(*gs.H100_545)
    strict = _by_code(gpu.verify(ev, at=gs.AT, nonce=None))["gpu.nonce.not-given"]
    lenient = _by_code(gpu.verify(ev, at=gs.AT, nonce=None, nonce_required=False))
    assert strict.fails
    assert not lenient["gpu.nonce.not-given"].fails
