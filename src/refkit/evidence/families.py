"""The evidence families and the one table that dispatches to them.

A *family* is one kind of attestation evidence with its parser, authenticity check,
manifest comparison, display and fetcher: AMD SEV-SNP (raw reports and Azure's HCL
wrapper, :mod:`refkit.evidence.snp`) and Intel TDX (quotes v4 and v5,
:mod:`refkit.evidence.tdx`). The frame (:mod:`refkit.evidence.verify`) sees a family only
through :class:`Family`, so the table below is the one place that names the modules, and
tests pass their own families to the verifier instead of changing any global.

Which family a file belongs to is decided by its bytes (each family's ``looks_like``),
never by its name. The families' ``looks_like`` recognise disjoint formats; if more than
one claimed the same bytes that would be a bug (:class:`~refkit.errors.InternalError`).

Material (certificates, CRLs, Intel root, collateral) is passed to every family as
:class:`Material`; each family takes what it uses and says which kinds those are
(:attr:`Family.uses`), so the caller can say which given files did not apply.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from refkit.errors import InternalError, Location, ParseError

if TYPE_CHECKING:
    from refkit.manifests.model.predicate import ReferenceManifest
    from refkit.verification import Result

#: A function that fetches one URL and returns its body (raising EnvironmentProblem when it
#: cannot): the only way the families' fetchers reach the network. Tests pass a fake. A
#: family whose service answers in headers too (Intel's issuer chains) has its own opener
#: type; :meth:`Family.fetch` takes the family's kind, or None for the family's real one.
Opener = Callable[[str], bytes]


@dataclass(frozen=True)
class Blob:
    """The bytes of one input file and the name it was given by (for messages, receipts)."""

    source: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Material:
    """What authenticity may rest on besides the evidence: every file the caller gave.

    ``certificates`` are whole files (PEM or DER, any number of certificates each): the SNP
    family picks the chain by content. ``intel_root`` None means the Intel SGX Root CA
    pinned in refkit; ``collateral`` None means the TDX TCB status is not checked.
    """

    certificates: tuple[Blob, ...] = ()
    crls: tuple[Blob, ...] = ()
    intel_root: Blob | None = None
    collateral: Blob | None = None

    def kinds(self) -> frozenset[str]:
        """The kinds of material present (the names :attr:`Family.uses` lists)."""
        present = {
            "certificates": bool(self.certificates),
            "crls": bool(self.crls),
            "intel-root": self.intel_root is not None,
            "collateral": self.collateral is not None,
        }
        return frozenset(k for k, v in present.items() if v)


class Evidence(Protocol):
    """What the frame reads of a family's parsed evidence (frozen values)."""

    @property
    def debug(self) -> bool: ...

    @property
    def report_data(self) -> bytes: ...


class FamilyVerifier(Protocol):
    """A family's authenticity check; may cache verified chains and collateral keyed by
    their bytes (thread-safe: one verifier serves many threads)."""

    def verify(self, evidence: Any, material: Material, at: datetime) -> tuple[Result, ...]: ...


def checked(
    verifier: FamilyVerifier, evidence: Any, material: Material, at: datetime
) -> tuple[tuple[Result, ...], dict[str, Any]]:
    """Authenticity results and the *context* the family's ``compare`` needs from them
    (keyword arguments: SNP's ``product`` read from the VCEK for a v2 report, TDX's
    ``tcb_evaluation_data_number`` of the evaluated collateral). A verifier with a
    ``check`` method gives both; one with only ``verify`` (a test's) gives no context."""
    check = getattr(verifier, "check", None)
    if check is None:
        return tuple(verifier.verify(evidence, material, at)), {}
    results, context = check(evidence, material, at)
    return tuple(results), dict(context)


@dataclass(frozen=True)
class Fetched:
    """Files a family's fetcher placed in the cache, by the kind of material they are."""

    certificates: tuple[Path, ...] = ()
    crls: tuple[Path, ...] = ()
    collateral: Path | None = None


class Family(Protocol):
    """One evidence family, as the frame uses it."""

    #: Short name: ``snp`` or ``tdx`` (receipts and JSON record it).
    name: str
    #: Material kinds the family uses (names as in :meth:`Material.kinds`).
    uses: frozenset[str]
    #: What makes one of its guests debuggable, in words ("the guest policy's DEBUG bit").
    debug_words: str

    def looks_like(self, data: bytes) -> bool: ...

    def parse(self, data: bytes, *, source: str) -> Any: ...

    def title(self, evidence: Any) -> str:
        """What the evidence is, for people ("AMD SEV-SNP report v5 (Milan)")."""
        ...

    def verifier(self) -> FamilyVerifier: ...

    def compare(
        self, evidence: Any, manifest: ReferenceManifest, **context: Any
    ) -> tuple[Result, ...]:
        """The evidence against the manifest; ``context`` is what :func:`checked` gave."""
        ...

    def show(self, evidence: Any) -> dict[str, Any]: ...

    def measured(self, evidence: Any) -> dict[str, str]: ...

    def fetch(
        self,
        evidence: Any,
        *,
        cache_dir: Path,
        opener: Any = None,
        product: str | None = None,
        crl: bool = False,
    ) -> Fetched:
        """Fetch what verifying ``evidence`` needs into ``cache_dir`` (cached: no request
        when the files are there). ``opener`` None: the family's real network opener.
        SNP only: ``product`` (Milan, Genoa, Turin) for a report that does not name it
        (v2), ``crl`` to fetch the product's CRL too (always anew: CRLs expire)."""
        ...


def detect(data: bytes, families: Sequence[Family], *, source: str) -> Family:
    """The family whose format ``data`` is in; a :class:`ParseError` (exit 2) for none."""
    found = [f for f in families if f.looks_like(data)]
    if len(found) > 1:
        names = ", ".join(f.name for f in found)
        raise InternalError(f"{source}: more than one evidence family claims it ({names})")
    if not found:
        head = data[:8].hex() or "(empty)"
        raise ParseError(
            f"not attestation evidence refkit knows ({len(data)} bytes starting {head}): "
            "expected an AMD SEV-SNP report, an Azure HCL report or an Intel TDX quote "
            "(version 4 or 5)",
            location=Location(source, offset=0),
            hint="give the raw binary evidence, not hex or base64 text",
        )
    return found[0]


@functools.cache
def _module(*parts: str) -> Any:
    """A family module by name (imported on first use, then kept: a module is immutable
    for this purpose, like ``sys.modules``; typed by the :class:`Family` it is adapted to,
    not by its own annotations)."""
    import importlib

    return importlib.import_module(".".join(("refkit", "evidence", *parts)))


# ---------------------------------------------------------------------------------------
# The real families. Each adapter imports its module on first use, so `refkit evidence`
# costs only what the evidence at hand needs.


class _ModuleFamily:
    """What every real family adapter does the same way: recognise, parse, show and
    summarise through the functions its module (``refkit.evidence.<name>``) exports."""

    name: str

    def looks_like(self, data: bytes) -> bool:
        return bool(_module(self.name).looks_like(data))

    def parse(self, data: bytes, *, source: str) -> Any:
        return _module(self.name).parse(data, source=source)

    def show(self, evidence: Any) -> dict[str, Any]:
        return dict(_module(self.name).show(evidence))

    def measured(self, evidence: Any) -> dict[str, str]:
        return dict(_module(self.name).measured(evidence))


class _SnpFamily(_ModuleFamily):
    name = "snp"
    uses = frozenset({"certificates", "crls"})
    debug_words = "the guest policy's DEBUG bit (19) is set"

    def title(self, evidence: Any) -> str:
        hcl = " in an Azure HCL report" if getattr(evidence, "hcl", None) is not None else ""
        version = getattr(getattr(evidence, "report", None), "version", None)
        product = getattr(evidence, "product", None)
        text = "AMD SEV-SNP report" + (f" v{version}" if version is not None else "")
        return text + (f" ({product})" if product is not None else "") + hcl

    def verifier(self) -> FamilyVerifier:
        snp = _module("snp")
        return _SnpVerifier(snp.SnpVerifier())

    def compare(
        self, evidence: Any, manifest: ReferenceManifest, **context: Any
    ) -> tuple[Result, ...]:
        snp = _module("snp")
        return tuple(snp.compare(evidence, manifest, product=context.get("product")))

    def fetch(
        self,
        evidence: Any,
        *,
        cache_dir: Path,
        opener: Any = None,
        product: str | None = None,
        crl: bool = False,
    ) -> Fetched:
        fetch = _module("snp", "fetch")
        options: dict[str, Any] = {"crl": crl}
        if product is not None:
            from refkit.measure.cpu import SnpProduct

            options["product"] = SnpProduct(product)
        if opener is None:
            from refkit.evidence.fetching import http_opener

            real: Any = getattr(fetch, "urllib_opener", None) or getattr(fetch, "http_opener", None)
            opener = (real or http_opener)()
        return _as_fetched(fetch.fetch(evidence, cache_dir=cache_dir, opener=opener, **options))


@dataclass(frozen=True)
class _SnpVerifier:
    inner: Any

    def verify(self, evidence: Any, material: Material, at: datetime) -> tuple[Result, ...]:
        try:
            return tuple(
                self.inner.verify(
                    evidence,
                    certificates=[b.data for b in material.certificates],
                    crls=[b.data for b in material.crls],
                    at=at,
                )
            )
        except ParseError as exc:
            raise _named(exc, material) from exc

    def check(
        self, evidence: Any, material: Material, at: datetime
    ) -> tuple[tuple[Result, ...], dict[str, Any]]:
        """Results, and the product for the comparison: a v2 report carries no CPUID, so
        its product is the VCEK's (docs/evidence-snp.md)."""
        results = self.verify(evidence, material, at)
        snp = _module("snp")
        try:
            product = snp.product(evidence, certificates=[b.data for b in material.certificates])
        except ParseError as exc:
            raise _named(exc, material) from exc
        return results, {"product": product}


_INPUT_NUMBER = re.compile(r"(certificate|CRL) input ([0-9]+)", re.IGNORECASE)


def _named(exc: ParseError, material: Material) -> ParseError:
    """``exc`` with the file's name where the family numbered its inputs ("certificate
    input 3": the third blob given), so the message says which file is at fault."""
    match = _INPUT_NUMBER.fullmatch(exc.location.source)
    if match is None:
        return exc
    blobs = material.certificates if match.group(1).lower() == "certificate" else material.crls
    index = int(match.group(2)) - 1
    if not 0 <= index < len(blobs):
        return exc
    location = Location(blobs[index].source, exc.location.offset, exc.location.field)
    return ParseError(exc.reason, location=location, hint=exc.hint)


class _TdxFamily(_ModuleFamily):
    name = "tdx"
    uses = frozenset({"intel-root", "collateral"})
    debug_words = "TD_ATTRIBUTES.DEBUG is set"

    def title(self, evidence: Any) -> str:
        version = getattr(getattr(evidence, "quote", None), "version", None)
        return "Intel TDX quote" + (f" v{version}" if version is not None else "")

    def verifier(self) -> FamilyVerifier:
        tdx = _module("tdx")
        return _TdxVerifier(tdx.TdxVerifier())

    def compare(
        self, evidence: Any, manifest: ReferenceManifest, **context: Any
    ) -> tuple[Result, ...]:
        tdx = _module("tdx")
        number = context.get("tcb_evaluation_data_number")
        return tuple(tdx.compare(evidence, manifest, tcb_evaluation_data_number=number))

    def fetch(
        self,
        evidence: Any,
        *,
        cache_dir: Path,
        opener: Any = None,
        product: str | None = None,
        crl: bool = False,
    ) -> Fetched:
        del product, crl  # SNP's: Intel's collateral holds its CRLs, the quote its platform
        fetch = _module("tdx", "fetch")
        got = fetch.fetch(evidence, cache_dir=cache_dir, opener=opener or fetch.urllib_opener())
        return got if isinstance(got, Fetched) else Fetched(collateral=Path(got))


@dataclass(frozen=True)
class _TdxVerifier:
    inner: Any

    def verify(self, evidence: Any, material: Material, at: datetime) -> tuple[Result, ...]:
        return tuple(
            self.inner.verify(
                evidence,
                intel_root=None if material.intel_root is None else material.intel_root.data,
                collateral=None if material.collateral is None else material.collateral.data,
                at=at,
            )
        )

    def check(
        self, evidence: Any, material: Material, at: datetime
    ) -> tuple[tuple[Result, ...], dict[str, Any]]:
        """Results, and the evaluated collateral's TCB evaluation data number (None without
        collateral) so that a declared minimum is checked (docs/evidence-tdx.md)."""
        found = self.inner.evaluate(
            evidence,
            intel_root=None if material.intel_root is None else material.intel_root.data,
            collateral=None if material.collateral is None else material.collateral.data,
            at=at,
            collateral_source=(
                "collateral" if material.collateral is None else material.collateral.source
            ),
        )
        return tuple(found.results), {
            "tcb_evaluation_data_number": found.tcb_evaluation_data_number
        }


def _as_fetched(value: Any) -> Fetched:
    """A family fetcher's answer as :class:`Fetched`: one of ours, a path (one certificate
    file), or an object with ``certificates`` and ``crl``/``crls``/``collateral``."""
    if isinstance(value, Fetched):
        return value
    if isinstance(value, Path):
        return Fetched(certificates=(value,))
    crls = getattr(value, "crls", None)
    if crls is None:
        one = getattr(value, "crl", None)
        crls = () if one is None else (one,)
    collateral = getattr(value, "collateral", None)
    return Fetched(
        certificates=tuple(Path(p) for p in getattr(value, "certificates", ())),
        crls=tuple(Path(p) for p in crls),
        collateral=None if collateral is None else Path(collateral),
    )


def default_families() -> tuple[Family, ...]:
    """The families this refkit knows, in detection order: the one dispatch table."""
    return (_SnpFamily(), _TdxFamily())
