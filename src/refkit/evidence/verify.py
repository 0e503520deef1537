"""Verifying attestation evidence, optionally against a signed reference manifest.

The procedure, in the order it runs (every step's results are kept; none short-circuits
the others, except that an untrusted manifest is never read):

1. **Recognise** the evidence from its bytes (:func:`refkit.evidence.families.detect`):
   AMD SEV-SNP report, Azure HCL report, Intel TDX quote v4/v5. Anything else is a
   :class:`~refkit.errors.ParseError` (exit 2), as is evidence its family cannot parse.
2. **The manifest first.** When a manifest is given, its bundles are verified with
   :func:`refkit.manifests.signing.verify.verify_manifest`, exactly as
   ``refkit manifest verify`` does (trust policy or trusted keys, threshold, predicate type,
   expiry and anti-rollback at the same verification time). Its results join the verdict.
   A bare statement (no signature) is refused (``evidence.manifest.unsigned``); a manifest
   that does not verify is refused (``evidence.manifest.refused``): in both cases the
   evidence is not compared with it.
3. **Authenticity**: the family's ``verify`` (signatures, certificate chains to pinned
   roots, TCB binding, collateral when given) at the verification time. Missing
   certificates or collateral raise :class:`~refkit.evidence.errors.MaterialMissing`
   (exit 3): verification never fetches.
4. **Freshness**: REPORT_DATA against the caller's nonce (a *prefix* match: REPORT_DATA
   starts with the nonce's bytes, the rest is whatever the attester bound after it) or an
   exact 64-byte value. Neither given: ``evidence.freshness.unchecked`` (not required).
5. **Comparison** with the trusted manifest: the family's ``compare`` (measurements, policy
   bits, TCB floors, chip IDs, ...). No manifest: ``evidence.manifest.absent`` (not
   required) and the measured values are reported instead.

6. **GPUs** (when GPU evidence is given, :class:`GpuInput`): each NVIDIA GPU or NVSwitch
   report through :class:`refkit.evidence.gpu.GpuVerifier` (device chain to the pinned
   device root, SPDM signature, FWID, the GPU request nonce, OCSP files, NVIDIA's RIMs,
   the trusted manifest's ``gpu`` entries), then the CPU-GPU binding: when the trusted
   manifest's ``gpu`` entries declare ``binding: report-data-sha512``, the CPU evidence's
   REPORT_DATA must equal :func:`refkit.evidence.gpu.expected_report_data` of every GPU
   evidence given (``gpu.binding.*``; without CPU evidence it fails as not checked). A
   manifest that declares no binding leaves it unchecked
   (``evidence.gpu.binding.not-declared``, not required) unless REPORT_DATA happens to
   match. Without CPU evidence (``data`` None) steps 3-5 are skipped and the GPUs are
   verified alone. A manifest whose ``gpu`` entries declare the binding fails a CPU-only
   verification (``evidence.gpu.missing``); one that merely lists GPUs reports
   ``evidence.gpu.not-given`` (not required).

A debug-enabled guest is authentic evidence of an untrustworthy guest: authenticity
passes, and the outcome carries a warning in plain words (``warnings``; the verdict's
``facts.warnings`` in JSON). The families fail the manifest comparison for it unless the
manifest allows debugging.

Everything here is pure: bytes in, a :class:`EvidenceOutcome` out; no file, clock or
network access (the caller gives the time). :class:`EvidenceVerifier` keeps per-family
verifiers (which cache verified chains and collateral by their bytes) and parsed
manifests (by payload digest) behind a lock, so one instance serves many threads.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from refkit.errors import InputError, Location, ParseError
from refkit.evidence.errors import MaterialMissing
from refkit.evidence.families import (
    Blob,
    Family,
    FamilyVerifier,
    Material,
    checked,
    default_families,
    detect,
)
from refkit.times import format_time
from refkit.verification import Result, Verdict

if TYPE_CHECKING:
    from refkit.manifests.model.predicate import ReferenceManifest
    from refkit.manifests.signing.keyless import TrustedRoot
    from refkit.manifests.signing.policy import TrustPolicy
    from refkit.manifests.signing.verify import VerificationResult

#: Largest evidence file read (an HCL report is 2,600 bytes, a quote with its chain ~8 KB).
MAX_EVIDENCE_BYTES = 1 << 20
#: Largest certificate or CRL file read.
MAX_CERTIFICATE_BYTES = 4 << 20
#: Largest collateral document read.
MAX_COLLATERAL_BYTES = 16 << 20
#: REPORT_DATA is 64 bytes in both families.
REPORT_DATA_SIZE = 64


@dataclass(frozen=True)
class ReportDataCheck:
    """What the caller expects in REPORT_DATA: a nonce prefix, or the exact 64 bytes."""

    value: bytes
    exact: bool

    def __post_init__(self) -> None:
        if self.exact and len(self.value) != REPORT_DATA_SIZE:
            raise InputError(
                f"the expected REPORT_DATA is {len(self.value)} bytes; it must be exactly "
                f"{REPORT_DATA_SIZE}",
                hint="to check only a prefix of REPORT_DATA, give it as a nonce",
            )
        if not self.exact and not 1 <= len(self.value) <= REPORT_DATA_SIZE:
            raise InputError(
                f"the nonce is {len(self.value)} bytes; it must be 1 to {REPORT_DATA_SIZE}"
            )

    def check(self, report_data: bytes) -> Result:
        n = len(self.value)
        if self.exact:
            same = report_data == self.value
            return Result.of(
                "evidence.report-data.match" if same else "evidence.report-data.mismatch",
                "REPORT_DATA equals the expected value"
                if same
                else "REPORT_DATA differs from the expected value",
                check="report-data",
                expected=self.value.hex(),
                actual=report_data.hex(),
            )
        same = report_data[:n] == self.value
        return Result.of(
            "evidence.nonce.match" if same else "evidence.nonce.mismatch",
            f"REPORT_DATA starts with the {n}-byte nonce"
            if same
            else f"REPORT_DATA does not start with the {n}-byte nonce",
            check="nonce",
            expected=self.value.hex(),
            actual=report_data[:n].hex(),
        )

    def to_json(self) -> dict[str, Any]:
        return {"match": "exact" if self.exact else "prefix", "hex": self.value.hex()}


# ---------------------------------------------------------------------------------------
# The manifest and whom to trust for it


@dataclass(frozen=True)
class TrustInput:
    """Whom the manifest must be signed by: a trust-policy file (with every file it names,
    read once, so that a receipt can replay it) or trusted public keys (threshold 1)."""

    policy: Blob | None = None
    #: Files the policy names (keys, Sigstore trusted root), by the path it resolves them to.
    files: tuple[Blob, ...] = ()
    keys: tuple[Blob, ...] = ()

    def __post_init__(self) -> None:
        if (self.policy is None) == (not self.keys):
            raise InputError("a manifest is trusted by a trust policy or by keys, one of them")

    def resolve(self) -> tuple[TrustPolicy, TrustedRoot | None]:
        """The parsed policy, and the Sigstore trusted root it names (if any)."""
        from refkit.manifests.signing.keyless import TrustedRoot
        from refkit.manifests.signing.keys import load_public_key
        from refkit.manifests.signing.policy import (
            KeySigner,
            Signer,
            TrustPolicy,
            key_signer_name,
            parse_policy,
        )

        if self.policy is None:
            signers: list[Signer] = []
            for blob in self.keys:
                key = load_public_key(blob.data, source=blob.source)
                if not any(isinstance(s, KeySigner) and s.key == key for s in signers):
                    signers.append(KeySigner(key_signer_name(key), key))
            return TrustPolicy(signers=tuple(signers)), None
        files = {b.source: b.data for b in self.files}

        def read(path: PurePath) -> bytes:
            data = files.get(str(path))
            if data is None:
                raise ParseError(
                    f"names {path}, which was not read with it",
                    location=Location(self.policy.source if self.policy else "trust policy"),
                )
            return data

        policy = parse_policy(
            self.policy.data,
            source=self.policy.source,
            read=read,
            base_dir=PurePath(self.policy.source).parent,
        )
        root = None
        if policy.trusted_root_path is not None:
            path = PurePath(policy.trusted_root_path)
            root = TrustedRoot(str(path), read(path))
        return policy, root


def trust_from_policy(data: bytes, *, source: str, read: Callable[[PurePath], bytes]) -> TrustInput:
    """A :class:`TrustInput` for the policy file ``data`` (found at ``source``): every file
    it names is read once with ``read`` and kept beside it."""
    from refkit.manifests.signing.policy import parse_policy

    files: dict[str, bytes] = {}

    def recording(path: PurePath) -> bytes:
        body = read(path)
        files[str(path)] = body
        return body

    policy = parse_policy(data, source=source, read=recording, base_dir=PurePath(source).parent)
    if policy.trusted_root_path is not None:
        recording(PurePath(policy.trusted_root_path))
    return TrustInput(
        policy=Blob(source, data), files=tuple(Blob(k, v) for k, v in sorted(files.items()))
    )


@dataclass(frozen=True)
class ManifestInput:
    """A signed reference manifest (one bundle per signer) and whom to trust for it."""

    bundles: tuple[Blob, ...]
    trust: TrustInput

    def __post_init__(self) -> None:
        if not self.bundles:
            raise InputError("a manifest needs at least one bundle")


class RimsMissing(MaterialMissing):
    """No RIM was given for GPU evidence whose measurements must be compared (exit 3);
    ``rim_ids`` are the ids the reports name (an NVSwitch report names none)."""

    def __init__(self, message: str, *, hint: str, rim_ids: tuple[str, ...]) -> None:
        super().__init__(message, hint=hint)
        self.rim_ids = rim_ids


#: Largest RIM or OCSP file read for GPU evidence (RIMs are about 20 KB).
MAX_GPU_FILE_BYTES = 4 << 20
#: GPU verifiers (each caching device chains and RIM checks) an EvidenceVerifier keeps.
GPU_VERIFIERS = 16
#: At most this many GPU evidence files, chains, RIMs or OCSP responses in one verification.
MAX_GPU_FILES = 1000


@dataclass(frozen=True)
class GpuInput:
    """The GPU side of a machine: NVIDIA GPU/NVSwitch evidence and what it rests on.

    ``evidence``: report files (NVIDIA's hex text, raw bytes, or a JSON evidence list,
    which carries each device's chain). ``chains``: PEM device chains (leaf first) for the
    lone reports, either one per evidence file in the same order or one for all of them
    (a JSON list's own chains take precedence). ``rims``: RIM documents (picked by
    content). ``ocsp``: DER OCSP responses. ``nonce``: the verifier's GPU request nonce;
    None leaves GPU freshness unchecked (``gpu.nonce.not-given``, not required).
    """

    evidence: tuple[Blob, ...]
    chains: tuple[Blob, ...] = ()
    rims: tuple[Blob, ...] = ()
    ocsp: tuple[Blob, ...] = ()
    nonce: bytes | None = None

    def __post_init__(self) -> None:
        if not self.evidence:
            raise InputError("GPU verification needs at least one GPU evidence file")
        if len(self.chains) not in (0, 1, len(self.evidence)):
            raise InputError(
                f"{len(self.chains)} GPU certificate chains for {len(self.evidence)} GPU "
                "evidence files: give one chain per evidence file (same order) or one for all"
            )
        for what, items in (
            ("GPU evidence files", self.evidence),
            ("RIMs", self.rims),
            ("OCSP responses", self.ocsp),
        ):
            if len(items) > MAX_GPU_FILES:
                raise InputError(f"more than {MAX_GPU_FILES} {what}")

    def chain_for(self, index: int) -> Blob | None:
        if not self.chains:
            return None
        return self.chains[index] if len(self.chains) > 1 else self.chains[0]

    def devices(self) -> tuple[Any, ...]:
        """Every device evidence, parsed (a ParseError, exit 2, for malformed input)."""
        from refkit.evidence import gpu

        out: list[Any] = []
        for i, blob in enumerate(self.evidence):
            chain = self.chain_for(i)
            out.extend(
                gpu.parse(
                    blob.data, source=blob.source, chain=None if chain is None else chain.data
                )
            )
        return tuple(out)

    def parsed_rims(self) -> tuple[Any, ...]:
        from refkit.evidence import gpu

        return tuple(gpu.parse_rim(b.data, source=b.source) for b in self.rims)

    def ocsp_responses(self) -> tuple[Any, ...]:
        from refkit.evidence.gpu import ocsp

        return tuple(ocsp.load_responses([(b.source, b.data) for b in self.ocsp]))

    def to_json(self) -> dict[str, Any]:
        """What receipts and JSON facts record of it besides the blobs."""
        return {"nonce": None if self.nonce is None else self.nonce.hex()}


@dataclass(frozen=True)
class VerifyOptions:
    """Everything one verification uses besides the evidence."""

    at: datetime
    at_source: str = "caller"
    manifest: ManifestInput | None = None
    material: Material = field(default_factory=Material)
    report_data: ReportDataCheck | None = None
    #: GPU evidence to verify with (or instead of) the CPU evidence.
    gpu: GpuInput | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise InputError("the verification time needs a time zone")


@dataclass(frozen=True)
class EvidenceOutcome:
    """One verification's answer: the verdict, and what the evidence is."""

    verdict: Verdict
    family: str
    title: str
    measured: dict[str, str]
    warnings: tuple[str, ...]
    evidence: Any = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.verdict.ok


# ---------------------------------------------------------------------------------------
# The verifier


class EvidenceVerifier:
    """Verifies evidence; reusable and thread-safe (see the module docstring).

    ``families`` defaults to every family this refkit has
    (:func:`~refkit.evidence.families.default_families`); tests pass their own.
    """

    def __init__(self, families: Sequence[Family] | None = None) -> None:
        self._families = tuple(default_families() if families is None else families)
        self._lock = threading.Lock()
        self._verifiers: dict[str, FamilyVerifier] = {}
        self._policies: dict[TrustInput, tuple[TrustPolicy, TrustedRoot | None]] = {}
        self._manifests: dict[str, ReferenceManifest] = {}
        self._gpu_verifiers: dict[tuple[Any, ...], Any] = {}

    @property
    def families(self) -> tuple[Family, ...]:
        return self._families

    def detect(self, data: bytes, *, source: str) -> Family:
        return detect(data, self._families, source=source)

    def parse(self, data: bytes, *, source: str) -> tuple[Family, Any]:
        """Step 1: the family and the parsed evidence."""
        family = self.detect(data, source=source)
        return family, family.parse(data, source=source)

    def _verifier(self, family: Family) -> FamilyVerifier:
        with self._lock:
            verifier = self._verifiers.get(family.name)
            if verifier is None:
                verifier = self._verifiers[family.name] = family.verifier()
            return verifier

    def _trust(self, trust: TrustInput) -> tuple[TrustPolicy, TrustedRoot | None]:
        with self._lock:
            found = self._policies.get(trust)
        if found is None:
            found = trust.resolve()
            with self._lock:
                self._policies.setdefault(trust, found)
        return found

    def _manifest(self, payload: bytes, *, source: str) -> ReferenceManifest:
        from refkit.manifests.statement import load_statement

        digest = hashlib.sha256(payload).hexdigest()
        with self._lock:
            found = self._manifests.get(digest)
        if found is None:
            found = load_statement(payload, source=source, schema=False).predicate
            with self._lock:
                self._manifests.setdefault(digest, found)
        return found

    def verify(self, data: bytes | None, *, source: str, options: VerifyOptions) -> EvidenceOutcome:
        """Run the procedure of the module docstring on ``data`` (named ``source``).

        ``data`` None: no CPU evidence; ``options.gpu`` must then be given and the GPUs
        are verified alone (``source`` names the verdict's subject)."""
        at = options.at.replace(microsecond=0)  # receipts record whole seconds
        if data is None and options.gpu is None:
            raise InputError("give CPU evidence, GPU evidence, or both")
        if data is None and options.report_data is not None:
            raise InputError(
                "a nonce or expected REPORT_DATA is checked in CPU evidence, and none was given",
                hint="the GPU request nonce is given on its own",
            )
        family: Family | None = None
        evidence: Any = None
        if data is not None:
            family, evidence = self.parse(data, source=source)
        # Parse every GPU input before any check, so malformed input is exit 2 alone.
        devices: tuple[Any, ...] = ()
        rims: tuple[Any, ...] = ()
        ocsp: tuple[Any, ...] = ()
        if options.gpu is not None:
            devices = options.gpu.devices()
            rims = options.gpu.parsed_rims()
            ocsp = options.gpu.ocsp_responses()
        results: list[Result] = []

        # Step 2: the manifest, before anything is compared with it.
        manifest: ReferenceManifest | None = None
        manifest_facts: dict[str, Any] | None = None
        if options.manifest is not None:
            manifest, manifest_results, manifest_facts = self._verify_manifest(
                options.manifest, at=at, at_source=options.at_source
            )
            results.extend(manifest_results)

        warnings: list[str] = []
        measured: dict[str, str] = {}
        report_data: bytes | None = None
        unused: list[str] = []
        if family is not None:
            report_data = bytes(evidence.report_data)
            results.extend(
                self._cpu(family, evidence, options, manifest, report_data, at, warnings)
            )
            measured.update(family.measured(evidence))
            unused = sorted(options.material.kinds() - family.uses)
        else:
            unused = sorted(options.material.kinds())

        # Step 6: the GPUs, their manifest entries, and the CPU-GPU binding.
        gpu_facts: dict[str, Any] | None = None
        if options.gpu is not None:
            gpu_results, gpu_facts = self._gpu(
                options.gpu, devices, rims, ocsp, manifest, report_data, at
            )
            results.extend(gpu_results)
            for i, device in enumerate(devices):
                measured.update({f"gpu[{i}] {k}": v for k, v in device.measured().items()})
        elif manifest is not None:
            results.extend(_gpu_not_given(manifest))

        title = family.title(evidence) if family is not None else ""
        if devices:
            kinds = sorted({d.kind for d in devices})
            gpus = f"{len(devices)} NVIDIA {' and '.join(kinds)} evidence" + (
                "s" if len(devices) > 1 else ""
            )
            title = f"{title} + {gpus}" if title else gpus
        name = family.name if family is not None else "gpu"
        if family is not None and devices:
            name = f"{family.name}+gpu"
        facts: dict[str, Any] = {
            "evidence": source if data is not None else None,
            "evidenceSha256": None if data is None else hashlib.sha256(data).hexdigest(),
            "family": name,
            "kind": title,
            "verifiedAt": format_time(at),
            "timeSource": options.at_source,
            "debug": bool(evidence.debug) if family is not None else False,
            "warnings": warnings,
            "measured": measured,
            "manifest": manifest_facts,
            "unusedMaterial": unused,
        }
        if gpu_facts is not None:
            facts["gpu"] = gpu_facts
        verdict = Verdict(source, tuple(results), facts)
        return EvidenceOutcome(verdict, name, title, measured, tuple(warnings), evidence)

    def _cpu(
        self,
        family: Family,
        evidence: Any,
        options: VerifyOptions,
        manifest: ReferenceManifest | None,
        report_data: bytes,
        at: datetime,
        warnings: list[str],
    ) -> list[Result]:
        """Steps 3-5 for the CPU evidence."""
        results: list[Result] = []
        # Step 3: authenticity (and what the comparison needs from it).
        found, context = checked(self._verifier(family), evidence, options.material, at)
        results.extend(found)

        # Step 4: freshness.
        if options.report_data is not None:
            results.append(options.report_data.check(report_data))
        else:
            results.append(
                Result.of(
                    "evidence.freshness.unchecked",
                    "no nonce or expected REPORT_DATA was given: this evidence may be a "
                    "replay of an older one",
                    check="freshness",
                    actual=report_data.hex(),
                    required=False,
                )
            )

        # Step 5: comparison with the trusted manifest.
        if options.manifest is None:
            results.append(
                Result.of(
                    "evidence.manifest.absent",
                    "no reference manifest given: authenticity only; compare the measured "
                    "values by hand",
                    check="manifest",
                    required=False,
                )
            )
        elif manifest is not None:
            compared = family.compare(evidence, manifest, **context)
            if not compared:
                compared = (
                    Result.of(
                        "evidence.compare.empty",
                        f"the manifest holds no value the {family.name} evidence is compared with",
                        check="compare",
                    ),
                )
            results.extend(compared)

        if evidence.debug:
            warnings.append(
                f"DEBUG GUEST: {family.debug_words}: the host can read and change this "
                "guest's memory. The evidence is authentic, but it does not show a "
                "confidential guest"
                + (
                    "; the manifest comparison fails unless the manifest allows debugging."
                    if options.manifest is not None
                    else "."
                )
            )
        return results

    def _gpu_verifier(
        self, given: GpuInput, rims: Sequence[Any], ocsp: Sequence[Any], at: datetime
    ) -> Any:
        """A GPU verifier for this time, RIM set and OCSP set: kept (the last
        :data:`GPU_VERIFIERS` of them) so that a service verifying many machines against
        the same RIMs checks each device chain and RIM once."""
        from refkit.evidence import gpu

        key = (
            at,
            given.nonce is not None,
            tuple(b.sha256 for b in given.rims),
            tuple(b.sha256 for b in given.ocsp),
        )
        with self._lock:
            found = self._gpu_verifiers.pop(key, None)
            if found is not None:
                self._gpu_verifiers[key] = found  # most recently used last
                return found
        made = gpu.GpuVerifier(
            at=at, rims=rims, ocsp_responses=ocsp, nonce_required=given.nonce is not None
        )
        with self._lock:
            self._gpu_verifiers[key] = made
            while len(self._gpu_verifiers) > GPU_VERIFIERS:
                del self._gpu_verifiers[next(iter(self._gpu_verifiers))]
        return made

    def _gpu(
        self,
        given: GpuInput,
        devices: Sequence[Any],
        rims: Sequence[Any],
        ocsp: Sequence[Any],
        manifest: ReferenceManifest | None,
        cpu_report_data: bytes | None,
        at: datetime,
    ) -> tuple[list[Result], dict[str, Any]]:
        """Step 6: every GPU (authenticity, RIMs, manifest entries) and the binding."""
        from refkit.evidence import gpu
        from refkit.manifests.model.gpu import KIND

        pinned = manifest is not None and any(e.measurements for e in manifest.of(KIND))
        if not rims and not pinned:
            ids = tuple(sorted({i for d in devices for i in d.rim_ids}))
            raise RimsMissing(
                "no NVIDIA RIM was given: the GPU firmware and driver measurements cannot be "
                "compared with NVIDIA's reference values",
                hint="fetch the RIMs where the network is reachable (refkit evidence fetch"
                + (f": {', '.join(ids)}" if ids else "")
                + ") and give their folder"
                + ("" if ids else "; an NVSwitch report does not name its BIOS RIM id"),
                rim_ids=ids,
            )
        verifier = self._gpu_verifier(given, rims, ocsp, at)
        results: list[Result] = []
        for device in devices:
            results.extend(verifier.verify_one(device, nonce=given.nonce, manifest=manifest))
        declared = binding_declared(manifest)
        expected = gpu.expected_report_data(devices)
        if declared or cpu_report_data is None:
            results.append(gpu.check_binding(devices, cpu_report_data, required=declared))
        elif cpu_report_data == expected:
            results.append(gpu.check_binding(devices, cpu_report_data))
        else:
            results.append(
                Result.of(
                    "evidence.gpu.binding.not-declared",
                    "the manifest declares no CPU-GPU binding: REPORT_DATA was not compared "
                    "with the GPU evidence, which another machine could have relayed"
                    if manifest is not None
                    else "no manifest declares a CPU-GPU binding: REPORT_DATA was not compared "
                    "with the GPU evidence, which another machine could have relayed",
                    check="CPU-GPU binding",
                    subject="GPU evidence",
                    expected=expected.hex(),
                    actual=cpu_report_data.hex(),
                    required=False,
                )
            )
        facts: dict[str, Any] = {
            "evidence": [{"source": b.source, "sha256": b.sha256} for b in given.evidence],
            "devices": [
                {"source": d.source, "kind": d.kind, "digest": d.digest.hex(), **d.measured()}
                for d in devices
            ],
            "rims": [{"source": r.source, "kind": r.kind, "version": r.version} for r in rims],
            "ocspResponses": len(ocsp),
            "nonce": None if given.nonce is None else given.nonce.hex(),
            "bindingDeclared": declared,
            "expectedReportData": expected.hex(),
        }
        return results, facts

    def _verify_manifest(
        self, given: ManifestInput, *, at: datetime, at_source: str
    ) -> tuple[ReferenceManifest | None, list[Result], dict[str, Any]]:
        from refkit.manifests.signing.verify import verify_manifest

        unsigned = [b for b in given.bundles if _bare_statement(b)]
        if unsigned:
            names = ", ".join(b.source for b in unsigned)
            return (
                None,
                [
                    Result.of(
                        "evidence.manifest.unsigned",
                        f"{names}: a bare statement, not a signed bundle; an unsigned manifest "
                        "is never compared",
                        check="manifest",
                        subject=unsigned[0].source,
                    )
                ],
                {"bundles": [b.source for b in given.bundles], "trusted": False},
            )
        policy, root = self._trust(given.trust)
        checked: VerificationResult = verify_manifest(
            [(b.source, b.data) for b in given.bundles],
            policy,
            at=at,
            at_source=at_source,
            trusted_root=root,
        )
        results = list(checked.checks)
        facts: dict[str, Any] = {
            "bundles": [b.source for b in given.bundles],
            "trusted": checked.ok,
            "payloadSha256": checked.payload_sha256,
            "release": None
            if checked.release is None
            else f"{checked.release.name} {checked.release.version}",
            "verifiedSigners": list(checked.verified_signers),
        }
        if not checked.ok or checked.payload is None:
            results.append(
                Result.of(
                    "evidence.manifest.refused",
                    "the manifest did not verify against the trust given: the evidence is "
                    "not compared with it",
                    check="manifest",
                    subject=given.bundles[0].source,
                )
            )
            return None, results, facts
        manifest = self._manifest(checked.payload, source=f"{given.bundles[0].source}: payload")
        return manifest, results, facts


def binding_declared(manifest: ReferenceManifest | None) -> bool:
    """Whether a trusted manifest's ``gpu`` entries declare the REPORT_DATA binding."""
    if manifest is None:
        return False
    from refkit.manifests.model.gpu import BINDING_REPORT_DATA, KIND

    return any(e.binding == BINDING_REPORT_DATA for e in manifest.of(KIND))


def _gpu_not_given(manifest: ReferenceManifest) -> list[Result]:
    """A CPU-only verification against a manifest that lists GPUs."""
    from refkit.manifests.model.gpu import KIND

    if not manifest.of(KIND):
        return []
    if binding_declared(manifest):
        return [
            Result.of(
                "evidence.gpu.missing",
                "the manifest binds the CPU evidence to GPU evidence, and no GPU evidence "
                "was given",
                check="GPU evidence",
            )
        ]
    return [
        Result.of(
            "evidence.gpu.not-given",
            "the manifest lists GPU reference values, and no GPU evidence was given: the "
            "GPUs were not verified",
            check="GPU evidence",
            required=False,
        )
    ]


def _bare_statement(blob: Blob) -> bool:
    """Whether a manifest file is an unsigned in-toto statement rather than a bundle."""
    if b'"mediaType"' in blob.data:
        return False
    from refkit.manifests.canonical import loads_strict
    from refkit.manifests.constants import MAX_DOCUMENT_BYTES

    value = loads_strict(blob.data, source=blob.source, max_bytes=MAX_DOCUMENT_BYTES)
    return isinstance(value, dict) and "_type" in value and "mediaType" not in value


def verify_evidence(
    data: bytes | None,
    *,
    source: str,
    options: VerifyOptions,
    families: Sequence[Family] | None = None,
) -> EvidenceOutcome:
    """Verify one piece of evidence (a one-off :class:`EvidenceVerifier`)."""
    return EvidenceVerifier(families).verify(data, source=source, options=options)
