"""NVIDIA RIMs: the verdicts PROVENANCE.md states at 2025-03-01 (and 2026-06-01 for the
re-signed switch RIM), the comparisons with zero and with the stated mismatches, hardened
parsing (DTDs, entities, external references), flipped signed content, an independent
XML-signature check (lxml C14N + cryptography, no signxml), and the RIM store."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree  # type: ignore[import-untyped]

from refkit.errors import ParseError
from refkit.evidence import gpu
from refkit.evidence.errors import MaterialMissing
from refkit.evidence.gpu import certs, rim
from refkit.hashing import map_ordered
from tests import gpu_support as gs
from tests.shared import FUZZ_EXAMPLES

pytestmark = pytest.mark.vectors


def _rim(name: str) -> rim.Rim:
    return rim.parse_rim(gs.read(name), source=name)


def _codes(name: str, at: object = gs.AT, root: x509.Certificate | None = None) -> list[str]:
    check = rim.verify_rim(_rim(name), at=at, root=root)  # type: ignore[arg-type]
    return gs.codes(gpu.rim_results(check, root_given=root is not None))


@pytest.mark.parametrize(
    ("name", "kind", "version", "active"),
    [
        (gs.DRIVER_RIM, "driver", "545.00", 21),
        (gs.VBIOS_RIM, "vbios", "96.00.5E.00.01", 12),
        (gs.VBIOS_PROD_RIM, "vbios", "96.00.5E.00.01", 12),
        (gs.SWITCH_RIM_2024, "switch-bios", "96.10.55.00.01", 31),
    ],
)
def test_positive_rims(name: str, kind: str, version: str, active: int) -> None:
    r = _rim(name)
    # PROVENANCE.md: versions and active index counts.
    assert (r.kind, r.version, len(r.active)) == (kind, version, active)
    assert _codes(name) == ["gpu.rim.signature.valid", "gpu.rim.chain.valid"]


def test_the_verification_time_decides() -> None:
    # PROVENANCE.md: the 2026 re-signed switch RIM fails at the common time (signer not
    # yet valid) and passes at 2026-06-01, when the nvtrust RIMs have expired.
    assert _codes(gs.SWITCH_RIM_2026) == ["gpu.rim.signature.valid", "gpu.rim.chain.expired"]
    assert _codes(gs.SWITCH_RIM_2026, gs.AT_2026) == [
        "gpu.rim.signature.valid",
        "gpu.rim.chain.valid",
    ]
    assert _codes(gs.DRIVER_RIM, gs.AT_2026) == ["gpu.rim.signature.valid", "gpu.rim.chain.expired"]


def test_negative_rims_fail_for_the_stated_reason() -> None:
    assert _codes(gs.BAD_SIG_RIM) == ["gpu.rim.signature.invalid", "gpu.rim.chain.valid"]
    assert _codes(gs.BAD_CHAIN_RIM) == ["gpu.rim.signature.valid", "gpu.rim.chain.not-pinned"]
    assert _codes(gs.MISMATCH_RIM) == ["gpu.rim.digest.mismatch", "gpu.rim.chain.valid"]


def test_a_leaf_given_as_root_is_refused() -> None:
    wrong = certs.load_certificates(gs.read(gs.WRONG_ROOT), source="root")[0]
    # PROVENANCE.md: that RIM's own leaf (CA=false): must be refused as a trust anchor.
    assert _codes(gs.BAD_CHAIN_RIM, root=wrong) == [
        "gpu.rim.signature.valid",
        "gpu.rim.chain.not-ca",
    ]
    real = certs.load_certificates(gs.read("roots/verifier_RIM_root.pem"), source="root")[0]
    assert certs.fingerprint(real) == certs.RIM_ROOT_SHA256
    assert _codes(gs.DRIVER_RIM, root=real) == ["gpu.rim.signature.valid", "gpu.rim.chain.valid"]
    dev = certs.load_certificates(gs.read("roots/verifier_device_root.pem"), source="root")[0]
    assert certs.fingerprint(dev) == certs.DEVICE_ROOT_SHA256


def _compare(report: tuple[str, str], rims: list[str]) -> tuple[list[str], tuple[object, ...]]:
    (ev,) = gpu.parse(gs.read(report[0]), source="r", chain=gs.read(report[1]))
    results, _ = gpu.compare_rims(ev, [_rim(n) for n in rims], at=gs.AT)
    return gs.codes(results), results


def test_complete_positives_compare_with_zero_mismatches() -> None:
    got, _ = _compare(gs.H100_545, [gs.DRIVER_RIM, gs.VBIOS_RIM])
    assert "gpu.measurements.match" in got
    assert "gpu.measurements.mismatch" not in got
    got, _ = _compare(gs.LS10, [gs.SWITCH_RIM_2024])
    assert "gpu.measurements.match" in got
    assert "gpu.measurements.mismatch" not in got


def test_prod_vbios_rim_mismatches_at_the_stated_indexes() -> None:
    _got, results = _compare(gs.H100_545, [gs.DRIVER_RIM, gs.VBIOS_PROD_RIM])
    bad = [r for r in results if r.code == "gpu.measurements.mismatch"]  # type: ignore[attr-defined]
    # PROVENANCE.md: mismatches at RIM indexes 1, 2, 3, 9.
    assert [r.message.split()[2] for r in bad] == ["1", "2", "3", "9"]  # type: ignore[attr-defined]
    assert all(r.expected and r.actual for r in bad)  # type: ignore[attr-defined]


def test_altered_rim_is_not_used_for_comparison() -> None:
    # It is a GPU VBIOS RIM relabelled, so it is not even a switch BIOS RIM: the switch's
    # RIM is missing (exit 3), and nothing passes.
    with pytest.raises(MaterialMissing, match=r"switch-bios RIM for version 96\.10\.55\.00\.01"):
        _compare(gs.LS10, [gs.MISMATCH_RIM])
    # Compared as if it were trusted, it would mismatch at 11 indexes (PROVENANCE.md).
    (ev,) = gpu.parse(gs.read(gs.LS10[0]), source="r")
    _, mism = rim.compare_blocks(rim.merge([_rim(gs.MISMATCH_RIM)]), ev.blocks())
    assert [m.index for m in mism] == [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11]


def test_rim_for_another_version_and_missing_rims() -> None:
    got, _ = _compare(gs.H100_545, [gs.BAD_SIG_RIM, gs.VBIOS_RIM])
    assert "gpu.rim.version.mismatch" in got  # driver RIM 550.144.03 vs report 545.00
    with pytest.raises(MaterialMissing) as info:
        _compare(gs.H100_545, [gs.VBIOS_RIM])
    assert info.value.hint is not None
    assert "NV_GPU_DRIVER_GH100_545.00" in info.value.hint


def test_index_active_in_two_rims_is_a_conflict() -> None:
    (_ev,) = gpu.parse(gs.read(gs.H100_545[0]), source="r", chain=gs.read(gs.H100_545[1]))
    driver = _rim(gs.DRIVER_RIM)
    vbios = _rim(gs.VBIOS_RIM)
    merged = rim.merge([driver, vbios, vbios])
    assert len(merged.conflicts) == len(vbios.active)
    assert rim.merge([driver, vbios]).conflicts == ()


def test_nvdec_rule_skips_index_35() -> None:
    (ev,) = gpu.parse(gs.read(gs.H100_545[0]), source="r")
    assert ev.nvdec_status == 0x55  # disabled in this report
    merged = rim.merge([_rim(gs.DRIVER_RIM), _rim(gs.VBIOS_RIM)])
    assert 35 in merged.entries
    n_all, _ = rim.compare_blocks(merged, ev.blocks())
    n_skip, mism = rim.compare_blocks(merged, ev.blocks(), skip=frozenset({35}))
    assert n_skip == n_all - 1
    assert not mism


# ---------------------------------------------------------------------------------------
# Hardened parsing


@pytest.mark.parametrize(
    "doc",
    [
        b'<!DOCTYPE x [<!ENTITY e "boom">]><SoftwareIdentity>&e;</SoftwareIdentity>',
        b'<!DOCTYPE x SYSTEM "http://example.invalid/x.dtd"><SoftwareIdentity/>',
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>',
        b'<?xml version="1.0"?>\n<!doctype x><a/>',
        b"<a><b></a>",
        b"",
        b"<a/>",
        b'<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd"/>',
    ],
)
def test_hostile_or_malformed_xml_is_refused(doc: bytes) -> None:
    with pytest.raises(ParseError):
        rim.parse_rim(doc, source="evil.xml")


def test_entity_inserted_into_a_real_rim_is_refused() -> None:
    data = gs.read(gs.DRIVER_RIM)
    evil = b'<!DOCTYPE SoftwareIdentity [<!ENTITY v "545.00">]>' + data.replace(
        b'"545.00"', b'"&v;"', 1
    )
    with pytest.raises(ParseError, match="DOCTYPE"):
        rim.parse_rim(evil, source="evil")


def test_oversized_rim_is_refused() -> None:
    with pytest.raises(ParseError, match="limit"):
        rim.parse_rim(b" " * (rim.MAX_RIM_BYTES + 1), source="big")


def _flip_positions(data: bytes, start: bytes, length: int) -> range:
    at = data.index(start)
    return range(at, at + length)


def _assert_flips_fail(name: str, positions: range) -> None:
    """Flipping any byte at ``positions`` (all before the signature) is a parse error or a
    RIM that does not verify. Chunks of positions run in refkit's own process pool: one
    verification takes about 12 ms, and the slow test flips every signed byte."""
    data = gs.read(name)
    sig_at = data.index(b"<ds:Signature")
    assert all(at < sig_at for at in positions)
    chunks = [(name, positions[i : i + 64]) for i in range(0, len(positions), 64)]
    still = [
        at for found in map_ordered(_flips_that_verify, chunks, processes=True) for at in found
    ]
    assert still == [], f"flipping bytes {still} still verifies"


def _flips_that_verify(chunk: tuple[str, range]) -> list[int]:
    name, positions = chunk
    data = gs.read(name)
    found = []
    for at in positions:
        flipped = bytearray(data)
        flipped[at] ^= 0x01
        try:
            parsed = rim.parse_rim(bytes(flipped), source="flip")
        except ParseError:
            continue
        if rim.verify_rim(parsed, at=gs.AT).ok:
            found.append(at)
    return found


def test_flipped_version_and_hash_bytes_fail() -> None:
    data = gs.read(gs.VBIOS_RIM)
    _assert_flips_fail(gs.VBIOS_RIM, _flip_positions(data, b'colloquialVersion="', 34))
    first_active = data.index(b'active="True"')
    hash_at = data.index(b"Hash0=", first_active)
    _assert_flips_fail(gs.VBIOS_RIM, range(hash_at, hash_at + 104))


@pytest.mark.slow
def test_every_flipped_byte_of_the_signed_content_fails() -> None:
    data = gs.read(gs.VBIOS_RIM)
    _assert_flips_fail(gs.VBIOS_RIM, range(data.index(b"<ds:Signature")))


# ---------------------------------------------------------------------------------------
# Independent XML-signature check: no signxml


_DS = "{http://www.w3.org/2000/09/xmldsig#}"


def _independent_check(data: bytes) -> tuple[bool, bool]:
    """(reference digest ok, SignedInfo signature ok), computed with lxml and cryptography.

    C14N 1.1 and 1.0 differ only in how xml:id/xml:base are inherited into a document
    subset; these RIMs have no xml:* attributes and the reference is the whole document,
    so lxml's inclusive C14N 1.0 gives the C14N 1.1 bytes here.
    """
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    sig = root.find(f"{_DS}Signature")
    assert sig is not None
    signed_info = sig.find(f"{_DS}SignedInfo")
    digest_value = base64.b64decode(signed_info.findtext(f".//{_DS}DigestValue"))
    signature_value = base64.b64decode("".join(sig.findtext(f"{_DS}SignatureValue").split()))
    cert_text = sig.findtext(f".//{_DS}X509Certificate")
    signer = x509.load_der_x509_certificate(base64.b64decode("".join(cert_text.split())))
    signed_info_c14n = etree.tostring(signed_info, method="c14n")
    copy = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    copy.remove(copy.find(f"{_DS}Signature"))  # the enveloped-signature transform
    digest_ok = hashlib.sha384(etree.tostring(copy, method="c14n")).digest() == digest_value
    half = len(signature_value) // 2
    der = encode_dss_signature(
        int.from_bytes(signature_value[:half], "big"), int.from_bytes(signature_value[half:], "big")
    )
    key = signer.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    try:
        key.verify(der, signed_info_c14n, ec.ECDSA(hashes.SHA384()))
        sig_ok = True
    except Exception:
        sig_ok = False
    return digest_ok, sig_ok


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (gs.DRIVER_RIM, (True, True)),
        (gs.VBIOS_RIM, (True, True)),
        (gs.VBIOS_PROD_RIM, (True, True)),
        (gs.SWITCH_RIM_2024, (True, True)),
        (gs.SWITCH_RIM_2026, (True, True)),
        (gs.BAD_CHAIN_RIM, (True, True)),
        (gs.BAD_SIG_RIM, (True, False)),  # PROVENANCE.md: reference digest still correct
        (gs.MISMATCH_RIM, (False, True)),  # content altered after signing
    ],
)
def test_independent_xmldsig_agrees_with_refkit(name: str, expected: tuple[bool, bool]) -> None:
    assert _independent_check(gs.read(name)) == expected
    check = rim.verify_rim(_rim(name), at=gs.AT)
    assert (check.signature == "valid") == all(expected)


# ---------------------------------------------------------------------------------------
# The store


def test_store_picks_by_content(tmp_path: Path) -> None:
    names = {
        "a": gs.DRIVER_RIM,
        "b.bin": gs.VBIOS_RIM,
        "c": gs.SWITCH_RIM_2024,
        "d-copy": gs.SWITCH_RIM_2024,
    }
    for target, name in names.items():
        (tmp_path / target).write_bytes(gs.read(name))
    (tmp_path / "notes.txt").write_text("not a RIM")
    store = gpu.RimStore.open(tmp_path)
    assert len(store.rims) == 3  # the copy counts once
    assert [r.source for r in store.find("driver", "545.00")] == [str(tmp_path / "a")]
    assert store.find("vbios", "96.00.5e.00.01")  # case-insensitive, as NVIDIA compares
    assert not store.find("vbios", "96.00.9F.00.01")
    (ev,) = gpu.parse(gs.read(gs.H100_545[0]), source="r", chain=gs.read(gs.H100_545[1]))
    verdict = gpu.GpuVerifier(at=gs.AT, rims=store.rims).verify_all([ev], nonce=gs.NONCE_545)
    assert verdict.ok, [r.text for r in verdict.failures]


def test_store_prefers_the_rim_that_matches(tmp_path: Path) -> None:
    for name in (gs.DRIVER_RIM, gs.VBIOS_PROD_RIM, gs.VBIOS_RIM):
        (tmp_path / Path(name).name).write_bytes(gs.read(name))
    store = gpu.RimStore.open(tmp_path)
    (ev,) = gpu.parse(gs.read(gs.H100_545[0]), source="r", chain=gs.read(gs.H100_545[1]))
    results, used = gpu.compare_rims(ev, store.rims, at=gs.AT)
    assert "gpu.measurements.match" in gs.codes(results)
    assert {Path(r.source).name for r in used} == {
        Path(gs.DRIVER_RIM).name,
        Path(gs.VBIOS_RIM).name,
    }


def test_store_errors(tmp_path: Path) -> None:
    from refkit.errors import InputError

    with pytest.raises(InputError):
        gpu.RimStore.open(tmp_path / "absent")
    (tmp_path / "bad.xml").write_bytes(b"<SoftwareIdentity><unclosed></SoftwareIdentity>")
    with pytest.raises(ParseError):
        gpu.RimStore.open(tmp_path)


# ---------------------------------------------------------------------------------------
# Fuzzing the hardened RIM parser (the signature check is not run here: flips above)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30_000), st.integers(1, 255)), min_size=1, max_size=4))
def test_fuzz_mutated_rim_parse(flips: list[tuple[int, int]]) -> None:
    data = bytearray(gs.read(gs.VBIOS_RIM))
    for at, x in flips:
        data[at % len(data)] ^= x
    try:
        parsed = rim.parse_rim(bytes(data), source="fuzz")
    except ParseError:
        return
    assert all(len(a) == e.size for e in parsed.entries for a in e.alternatives)


def test_rim_for_another_chip_is_refused() -> None:
    # The GB100 RIM (97.00.83.00.09), relabelled by the test to the report's VBIOS version.
    data = gs.read(gs.BAD_CHAIN_RIM).replace(b'"97.00.83.00.09"', b'"96.00.5E.00.01"')
    other_chip = rim.parse_rim(data, source="gb100")
    assert other_chip.product == "GB100"
    (ev,) = gpu.parse(gs.read(gs.H100_545[0]), source="r", chain=gs.read(gs.H100_545[1]))
    results, used = gpu.compare_rims(ev, [_rim(gs.DRIVER_RIM), other_chip], at=gs.AT)
    assert "gpu.rim.product.mismatch" in gs.codes(results)
    assert [r.kind for r in used] == ["driver"]


# ---------------------------------------------------------------------------------------
# A verifier remembers comparisons by their inputs (bench/evidence_gpu.py)


def _with_block_byte_flipped(report: bytes, block: int) -> bytes:
    """The report with one byte of block ``block``'s value flipped (uniform 55-byte
    blocks from offset 45: the 37-byte request and the 8-byte response header)."""
    at = 45 + (block - 1) * 55 + 7
    return report[:at] + bytes([report[at] ^ 1]) + report[at + 1 :]


def test_a_remembered_comparison_is_the_fresh_one_for_each_device_and_record() -> None:
    raw = bytes.fromhex(gs.read(gs.H100_545[0]).decode().strip())
    chain = gs.read(gs.H100_545[1])
    rims = [_rim(gs.DRIVER_RIM), _rim(gs.VBIOS_RIM)]
    verifier = gpu.GpuVerifier(at=gs.AT, rims=rims)
    for source, report in [
        ("gpu0", raw),
        ("gpu1", raw),  # same record: remembered, about gpu1
        ("gpu2", _with_block_byte_flipped(raw, 2)),  # another record: compared anew
        ("gpu3", raw),
    ]:
        (ev,) = gpu.parse(report, source=source, chain=chain)
        got = verifier.verify_one(ev, nonce=ev.nonce)
        fresh, _ = gpu.compare_rims(ev, rims, at=gs.AT)  # no verifier, nothing remembered
        assert [r for r in got if r.check in {"RIM selection", "measurements"}] == [
            r for r in fresh if r.check in {"RIM selection", "measurements"}
        ]
        assert all(r.subject for r in got)
        mine = [r for r in got if r.check in {"RIM selection", "measurements"}]
        assert mine
        assert {r.subject for r in mine} == {f"gpu {source}"}
        mismatched = [r.message.split()[2] for r in got if r.code == "gpu.measurements.mismatch"]
        assert mismatched == (["1"] if source == "gpu2" else [])
