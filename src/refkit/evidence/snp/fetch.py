"""The only code that reaches AMD's key distribution service (KDS), and its local cache.

URL forms (AMD publication 57230, "VCEK Certificate and KDS Interface Specification"):

- VCEK: ``{base}/vcek/v1/{product}/{hwID}?blSPL=B&teeSPL=T&snpSPL=S&ucodeSPL=U``, hwID the
  64-byte CHIP_ID in hex; on Turin the hwID is the first 8 bytes of CHIP_ID and the query
  begins with ``fmcSPL=F``. The SPLs are REPORTED_TCB's (the TCB the VCEK is bound to).
  The answer is one DER certificate.
- ASK + ARK: ``{base}/vcek/v1/{product}/cert_chain`` (PEM, ASK then ARK); ASVK + ARK:
  ``{base}/vlek/v1/{product}/cert_chain``.
- CRL of the ARK: ``{base}/vcek/v1/{product}/crl`` (DER) (``/vlek/v1/.../crl`` for ASVKs).

A VLEK cannot be fetched: AMD issues it to a cloud provider, which installs it in its
hosts; there is no hwID URL for it. For a VLEK-signed report only the ASVK chain is fetched.

The service rate-limits (about one certificate per 10 s per address) and has been down for
hours, so everything is cached on disk and verification never fetches. Cache layout under
``cache_dir`` (one directory per product; the VCEK by chip and TCB):

    amd/<Product>/vcek-chain.pem            ASK, ARK
    amd/<Product>/vlek-chain.pem            ASVK, ARK
    amd/<Product>/vcek.crl, vlek.crl        the ARK's CRLs (replaced on refresh)
    amd/<Product>/<hwID hex>/<REPORTED_TCB hex>/vcek.der

Network access goes through an :class:`Opener` passed in (tests pass an in-memory fake);
:func:`urllib_opener` is the real one. Files are written through :mod:`refkit.atomic`.
Fetched bytes are checked to be what they claim (a certificate, a chain, a CRL) before
they are cached; whether they are *genuine* is decided at verification, by the pinned ARK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from cryptography import x509

from refkit.atomic import write_file
from refkit.errors import ParseError, UnsupportedInput
from refkit.evidence.http import FetchFailed
from refkit.evidence.snp.certs import Role, read_certificates
from refkit.evidence.snp.evidence import SnpEvidence
from refkit.evidence.snp.report import SigningKey, decode_tcb
from refkit.measure.cpu import SnpProduct

KDS_BASE: Final = "https://kdsintf.amd.com"
#: Largest answer read from the service (a certificate is ~1.4 KiB, a CRL a few KiB).
MAX_ANSWER: Final = 1024 * 1024
TIMEOUT: Final = 30.0


class Opener(Protocol):
    """Fetches a URL's body or raises :class:`~refkit.errors.EnvironmentProblem`."""

    def __call__(self, url: str) -> bytes: ...


class KdsUnavailable(FetchFailed):
    """AMD's key distribution service did not answer with what was asked (exit 3)."""


def urllib_opener(*, timeout: float = TIMEOUT) -> Callable[[str], bytes]:
    """The real :class:`Opener`: HTTPS GET with a timeout and a size limit
    (:func:`refkit.evidence.http.body_opener`, which all evidence fetchers share)."""
    from refkit.evidence.http import body_opener

    return body_opener(limit=MAX_ANSWER, timeout=timeout)


def _spl(report_tcb: bytes, product: SnpProduct) -> str:
    tcb = decode_tcb(report_tcb, product)
    query = f"blSPL={tcb.bootloader}&teeSPL={tcb.tee}&snpSPL={tcb.snp}&ucodeSPL={tcb.microcode}"
    if product is SnpProduct.TURIN:
        query = f"fmcSPL={tcb.fmc}&{query}"
    return query


def hwid_of(chip_id: bytes, product: SnpProduct) -> str:
    """The hwID the service indexes VCEKs by: CHIP_ID, its first 8 bytes on Turin."""
    return (chip_id[:8] if product is SnpProduct.TURIN else chip_id).hex()


def vcek_url(
    product: SnpProduct, chip_id: bytes, reported_tcb: bytes, *, base: str = KDS_BASE
) -> str:
    """The VCEK's URL for a chip at a TCB (REPORTED_TCB's 8 bytes)."""
    hwid = hwid_of(chip_id, product)
    return f"{base}/vcek/v1/{product.value}/{hwid}?{_spl(reported_tcb, product)}"


def chain_url(product: SnpProduct, *, vlek: bool = False, base: str = KDS_BASE) -> str:
    return f"{base}/{'vlek' if vlek else 'vcek'}/v1/{product.value}/cert_chain"


def crl_url(product: SnpProduct, *, vlek: bool = False, base: str = KDS_BASE) -> str:
    return f"{base}/{'vlek' if vlek else 'vcek'}/v1/{product.value}/crl"


@dataclass(frozen=True)
class Fetched:
    """The cached files for one report, and whether each came from the network now."""

    certificates: tuple[Path, ...]
    crl: Path | None
    downloaded: tuple[Path, ...]


def cache_paths(
    cache_dir: Path, product: SnpProduct, chip_id: bytes, reported_tcb: bytes
) -> tuple[Path, Path]:
    """(VCEK path, product directory) in the cache layout of the module docstring."""
    root = cache_dir / "amd" / product.value
    return root / hwid_of(chip_id, product) / reported_tcb.hex() / "vcek.der", root


def _check_vcek(data: bytes, url: str) -> None:
    try:
        certs = read_certificates(data, source=url)
    except ParseError as exc:
        raise KdsUnavailable(f"{url}: the answer is not a certificate ({exc.reason})") from None
    if len(certs) != 1 or certs[0].role is not Role.VCEK:
        raise KdsUnavailable(f"{url}: the answer is not one VCEK certificate")


def _check_chain(data: bytes, url: str, inter: Role) -> None:
    try:
        roles = sorted(c.role.value for c in read_certificates(data, source=url))
    except ParseError as exc:
        raise KdsUnavailable(
            f"{url}: the answer is not a certificate chain ({exc.reason})"
        ) from None
    if roles != sorted([inter.value, Role.ARK.value]):
        raise KdsUnavailable(f"{url}: the answer is not an {inter.value} and ARK chain")


def _check_crl(data: bytes, url: str) -> None:
    try:
        x509.load_der_x509_crl(data)
    except (ValueError, x509.InvalidVersion):
        raise KdsUnavailable(f"{url}: the answer is not a DER CRL") from None


def fetch(
    evidence: SnpEvidence,
    cache_dir: Path,
    opener: Opener,
    *,
    product: SnpProduct | None = None,
    crl: bool = False,
    base: str = KDS_BASE,
) -> Fetched:
    """Fetch (or reuse from the cache) what verifying ``evidence`` needs.

    ``product`` is required for a v2 report (no CPUID). ``crl`` also fetches the ARK's CRL,
    replacing the cached one (CRLs expire; certificates do not change). Raises
    :class:`UnsupportedInput` when the report cannot name its VCEK (masked chip ID, or
    product unknown) and :class:`KdsUnavailable` when the service fails.
    """
    report = evidence.report
    product = evidence.product or product
    if product is None:
        raise UnsupportedInput(
            f"{evidence.source}: a version {report.version} report does not name its product "
            "(no CPUID): give the product (Milan, Genoa or Turin)"
        )
    if report.signing_key is SigningKey.NONE:
        raise UnsupportedInput(f"{evidence.source}: the report is not signed (SIGNING_KEY 7)")
    vlek = report.signing_key is SigningKey.VLEK
    vcek_path, root = cache_paths(cache_dir, product, report.chip_id, report.reported_tcb_raw)
    chain_path = root / ("vlek-chain.pem" if vlek else "vcek-chain.pem")
    downloaded: list[Path] = []
    certificates = [chain_path]

    def get(url: str, path: Path, check: Callable[[bytes, str], None], *, refresh: bool) -> None:
        if path.is_file() and not refresh:
            return
        data = opener(url)
        check(data, url)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, data, force=True)
        downloaded.append(path)

    get(
        chain_url(product, vlek=vlek, base=base),
        chain_path,
        lambda d, u: _check_chain(d, u, Role.ASVK if vlek else Role.ASK),
        refresh=False,
    )
    if not vlek:
        if report.mask_chip_key:
            raise UnsupportedInput(
                f"{evidence.source}: MASK_CHIP_KEY is set, the CHIP_ID is masked: the VCEK "
                "cannot be looked up by chip; obtain it from the host"
            )
        get(
            vcek_url(product, report.chip_id, report.reported_tcb_raw, base=base),
            vcek_path,
            _check_vcek,
            refresh=False,
        )
        certificates.insert(0, vcek_path)
    crl_path = None
    if crl:
        crl_path = root / ("vlek.crl" if vlek else "vcek.crl")
        get(crl_url(product, vlek=vlek, base=base), crl_path, _check_crl, refresh=True)
    return Fetched(tuple(certificates), crl_path, tuple(downloaded))
