"""Fake evidence families for the frame's tests (no tests here).

The frame (:mod:`refkit.evidence.verify`, receipts, the CLI) is tested against two small
families with the contract's names, so that it is tested apart from the real SNP and TDX
parsers (which have their own tests against real vectors). The fake format, *not* a real
one::

    0x00  magic      8   b"FAKESNP1" or b"FAKETDX1"
    0x08  flags      1   bit 0: debug guest
    0x09  reportData 64
    0x49  measure    48  MEASUREMENT (fake SNP) or MRTD (fake TDX)
    0x79  siglen     2   big-endian
    0x7B  signature      ECDSA P-256 / SHA-256, DER, over bytes [0, 0x79)

Fake SNP authenticity rests on a "VCEK": a PEM public key among the certificates given
(none: MaterialMissing, exit 3). Fake TDX authenticity rests on a root key pinned in this
module, or on ``intel_root`` when given. Their result codes (``fake.*``) are registered only
while the :func:`fake_families` fixture is active.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from refkit.errors import Location, ParseError
from refkit.evidence.errors import MaterialMissing
from refkit.evidence.families import Family, Fetched, Material, Opener
from refkit.manifests.model import snp as snp_model
from refkit.manifests.model import tdx as tdx_model
from refkit.manifests.model.predicate import ReferenceManifest
from refkit.verification import PinnedRoot, Result
from refkit.verification.codes import CodeInfo, Outcome
from tests.shared import PROJECT_ROOT

SIGNING_RELEASE = PROJECT_ROOT / "tests" / "assets" / "signing" / "release.json"
#: The SNP MEASUREMENT and TDX MRTD of the signing tests' manifest (read from it).
_RELEASE = json.loads(SIGNING_RELEASE.read_bytes())
MANIFEST_MEASUREMENT = bytes.fromhex(
    _RELEASE["predicate"]["referenceValues"]["snp"][0]["measurement"]
)
MANIFEST_MRTD = bytes.fromhex(_RELEASE["predicate"]["referenceValues"]["tdx"][0]["mrtd"])
#: Inside the manifest's validity window (created 2026-11-01, expires 2027-02-01).
AT = "2026-12-01T00:00:00Z"

FAKE_CODES = (
    CodeInfo("fake.signature.verified", Outcome.PASS, "fake: the signature verified"),
    CodeInfo("fake.signature.invalid", Outcome.FAIL, "fake: the signature did not verify"),
    CodeInfo("fake.measurement.match", Outcome.PASS, "fake: measurement in the manifest"),
    CodeInfo("fake.measurement.mismatch", Outcome.FAIL, "fake: measurement not in it"),
    CodeInfo("fake.debug.refused", Outcome.FAIL, "fake: a debug guest"),
)

_SIZE = 0x7B


@cache
def vcek_key() -> ec.EllipticCurvePrivateKey:
    """The fake SNP family's signing key (a stand-in for a VCEK)."""
    return ec.generate_private_key(ec.SECP256R1())


@cache
def tdx_root_key() -> ec.EllipticCurvePrivateKey:
    """The fake TDX family's pinned root key."""
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def make_evidence(
    kind: str = "snp",
    *,
    measurement: bytes = MANIFEST_MEASUREMENT,
    report_data: bytes = bytes(range(64)),
    debug: bool = False,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> bytes:
    """Fake evidence bytes, signed by the family's key (or ``key``)."""
    signer = key or (vcek_key() if kind == "snp" else tdx_root_key())
    body = (
        (b"FAKESNP1" if kind == "snp" else b"FAKETDX1")
        + bytes([1 if debug else 0])
        + report_data
        + measurement
    )
    sig = signer.sign(body, ec.ECDSA(hashes.SHA256()))
    return body + len(sig).to_bytes(2, "big") + sig


@dataclass(frozen=True)
class FakeEvidence:
    kind: str
    debug: bool
    report_data: bytes
    measurement: bytes
    signed: bytes
    signature: bytes


def _parse(data: bytes, *, source: str, magic: bytes) -> FakeEvidence:
    if len(data) < _SIZE:
        raise ParseError(
            f"truncated: {len(data)} bytes", location=Location(source, offset=len(data))
        )
    if data[:8] != magic:
        raise ParseError("bad magic", location=Location(source, offset=0))
    if data[8] > 1:
        raise ParseError("reserved flag bits set", location=Location(source, offset=8))
    n = int.from_bytes(data[0x79:0x7B], "big")
    if len(data) != _SIZE + n:
        raise ParseError("bad length", location=Location(source, offset=0x79))
    return FakeEvidence(
        kind=magic[4:7].decode().lower(),
        debug=bool(data[8]),
        report_data=data[9:0x49],
        measurement=data[0x49:0x79],
        signed=data[:0x79],
        signature=data[0x7B:],
    )


def _check(ev: FakeEvidence, public: Any, anchor: str) -> Result:
    root = PinnedRoot(
        anchor,
        hashlib.sha256(
            public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).hexdigest(),
    )
    try:
        public.verify(ev.signature, ev.signed, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return Result.of(
            "fake.signature.invalid", "signature does not verify", check="signature", anchor=root
        )
    return Result.of(
        "fake.signature.verified", "signature verified", check="signature", anchor=root
    )


class _FakeVerifier:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def verify(self, evidence: Any, material: Material, at: datetime) -> tuple[Result, ...]:
        del at
        if self.kind == "snp":
            for blob in material.certificates:
                try:
                    key = serialization.load_pem_public_key(blob.data)
                except ValueError:
                    continue
                return (_check(evidence, key, "fake VCEK"),)
            raise MaterialMissing(
                "no VCEK among the certificates given",
                hint="fetch it with refkit evidence fetch, or give the VCEK file",
            )
        if material.intel_root is not None:
            key = serialization.load_pem_public_key(material.intel_root.data)
        else:
            key = tdx_root_key().public_key()
        return (_check(evidence, key, "fake TDX root"),)


class FakeFamily:
    """A family with the contract's function names over the fake format."""

    def __init__(self, kind: str) -> None:
        self.name = kind
        self.uses = frozenset(
            {"certificates", "crls"} if kind == "snp" else {"intel-root", "collateral"}
        )
        self.debug_words = "the fake debug flag is set"
        self.magic = b"FAKESNP1" if kind == "snp" else b"FAKETDX1"
        self.fetched_urls: list[str] = []

    def looks_like(self, data: bytes) -> bool:
        return data[:8] == self.magic

    def parse(self, data: bytes, *, source: str) -> FakeEvidence:
        return _parse(data, source=source, magic=self.magic)

    def title(self, evidence: Any) -> str:
        return f"fake {self.name} evidence"

    def verifier(self) -> _FakeVerifier:
        return _FakeVerifier(self.name)

    def compare(
        self, evidence: Any, manifest: ReferenceManifest, **context: Any
    ) -> tuple[Result, ...]:
        del context  # the fake verifier gives none
        if self.name == "snp":
            values = [e.measurement for e in manifest.of(snp_model.KIND)]
        else:
            values = [e.mrtd for e in manifest.of(tdx_model.KIND)]
        if not values:
            return ()
        found = evidence.measurement.hex()
        out = [
            Result.of(
                "fake.measurement.match" if found in values else "fake.measurement.mismatch",
                "measurement" + (" in" if found in values else " not in") + " the manifest",
                check="measurement",
                expected=" | ".join(values),
                actual=found,
            )
        ]
        if evidence.debug:
            out.append(Result.of("fake.debug.refused", "debug guest", check="debug"))
        return tuple(out)

    def show(self, evidence: Any) -> dict[str, Any]:
        return {
            "debug": evidence.debug,
            "reportData": evidence.report_data.hex(),
            "measurement": evidence.measurement.hex(),
            "signature": {"der": evidence.signature.hex()},
        }

    def measured(self, evidence: Any) -> dict[str, str]:
        return {"MEASUREMENT" if self.name == "snp" else "MRTD": evidence.measurement.hex()}

    def fetch(
        self,
        evidence: Any,
        *,
        cache_dir: Path,
        opener: Opener | None = None,
        product: str | None = None,
        crl: bool = False,
    ) -> Fetched:
        del product, crl
        from refkit.atomic import write_file
        from refkit.evidence import fetching

        opener = opener or fetching.http_opener()
        target = cache_dir / self.name / f"{evidence.measurement.hex()[:16]}" / "vcek.pem"
        if not target.exists():
            url = f"https://kds.example/{self.name}/{evidence.measurement.hex()}"
            self.fetched_urls.append(url)
            body = opener(url)
            target.parent.mkdir(parents=True, exist_ok=True)
            write_file(target, body)
        return Fetched(certificates=(target,))


def families() -> tuple[Family, ...]:
    return (FakeFamily("snp"), FakeFamily("tdx"))


def install_fakes(monkeypatch: pytest.MonkeyPatch) -> tuple[Family, ...]:
    """Registers the fake codes and makes the fakes the default families (for the CLI),
    for one test (``monkeypatch`` undoes both)."""
    import refkit.evidence.verify as verify_module
    import refkit.verification as verification
    import refkit.verification.codes as codes

    registry = MappingProxyType({**codes.REGISTRY, **{c.code: c for c in FAKE_CODES}})
    monkeypatch.setattr(codes, "REGISTRY", registry)
    monkeypatch.setattr(verification, "REGISTRY", registry)
    fams = families()
    monkeypatch.setattr(verify_module, "default_families", lambda: fams)
    return fams


# ---------------------------------------------------------------------------------------
# Signed manifests for the machine tests (CPU and GPU evidence together)


def signed_manifest(
    tmp_path: Path,
    edit: Any = None,
    *,
    created: str = "2025-01-01T00:00:00Z",
    name: str = "m",
) -> list[Any]:
    """The signing tests' release manifest, its creation time moved to ``created`` (so that
    it is valid at the GPU vectors' time, 2025-03-01) and changed by ``edit(predicate)``,
    signed by a test key; returns the ``evidence verify`` options that use it."""
    from refkit.manifests.canonical import canonical_dumps
    from refkit.manifests.signing.keys import KeyType
    from tests.signing_support import key, sign

    doc = json.loads(SIGNING_RELEASE.read_bytes())
    pred = doc["predicate"]
    pred["schemaVersion"] = "1.2"  # the gpu kind's binding field is schema 1.2
    pred["release"]["created"] = created
    if edit is not None:
        edit(pred)
    k = key(KeyType.ECDSA_P256, 0)
    bundle = tmp_path / f"{name}.bundle.json"
    bundle.write_bytes(sign(canonical_dumps(doc), k))
    pub = tmp_path / f"{name}.pub"
    pub.write_bytes(k.public_key().pem())
    return ["--manifest", bundle, "--key", pub]


def snp_values_of(report: bytes, pred: dict[str, Any]) -> None:
    """Make ``pred``'s SNP values those of a real Milan report (read from its bytes at the
    report layout's offsets: MEASUREMENT 0x90, CHIP_ID 0x1A0, REPORTED_TCB 0x180, POLICY
    0x08), with no policy HOST_DATA (the vectors' is zero)."""
    pred["referenceValues"].pop("policies", None)
    pred["referenceValues"]["snp"][0]["measurement"] = report[0x90:0xC0].hex()
    declared = pred["declared"]["snp"][0]
    declared["allowedChipIds"] = [report[0x1A0:0x1E0].hex()]
    tcb = report[0x180:0x188]  # Milan layout: 0 BL, 1 TEE, 6 SNP, 7 UCODE
    declared["minimumTcb"] = {
        "bootloader": tcb[0],
        "tee": tcb[1],
        "snp": tcb[6],
        "microcode": tcb[7],
    }
    declared["guestPolicy"] = int.from_bytes(report[8:16], "little")
