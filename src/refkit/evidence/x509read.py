"""Reading X.509 certificates from untrusted files: the one reader every evidence family
uses (AMD's, Intel's and NVIDIA's chains).

Two traps, handled here once:

- ``cryptography`` parses some fields lazily: a certificate that loads can still raise
  ``ValueError`` (or ``InvalidVersion``, which is not one) when a field is first read, in
  the middle of a verification. :func:`eager` reads every field a verifier uses at load
  time, so a malformed certificate is a :class:`~refkit.errors.ParseError` there.
- AMD's VCEKs have serial number 0, which RFC 5280 forbids: ``cryptography`` emits a
  ``CryptographyDeprecationWarning`` when it parses one and when its serial is read.
  :func:`load_der` and :func:`serial_number` suppress exactly that warning (category and
  message) and nothing else, under a lock, because ``warnings.catch_warnings`` changes
  process-wide state.
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings
from collections.abc import Iterator

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning

#: What ``cryptography`` raises for a certificate or CRL it cannot read (found by fuzzing
#: the families' readers: several of these are not ValueErrors).
UNPARSABLE: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.InvalidVersion,
    x509.UnsupportedGeneralNameType,
)

_SERIAL_WARNING = re.escape("Parsed a serial number which wasn't positive")
_WARNINGS_LOCK = threading.Lock()


@contextlib.contextmanager
def serial_zero_allowed() -> Iterator[None]:
    """Within: ``cryptography``'s serial-0 deprecation warning, and only it, is silent."""
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=_SERIAL_WARNING, category=CryptographyDeprecationWarning
        )
        yield


def serial_number(cert: x509.Certificate) -> int:
    """A certificate's serial number, without the serial-0 warning."""
    with serial_zero_allowed():
        return cert.serial_number


def eager(cert: x509.Certificate, *, extensions: bool = True) -> x509.Certificate:
    """``cert`` after reading every field a verifier uses (raises one of
    :data:`UNPARSABLE` now rather than later). ``extensions=False`` leaves the extension
    values unread, for a caller that reports a malformed private extension as a failed
    check instead of a parse error."""
    serial_number(cert)
    _ = (cert.subject, cert.issuer, cert.signature, cert.tbs_certificate_bytes)
    _ = (cert.signature_algorithm_oid, cert.not_valid_before_utc, cert.not_valid_after_utc)
    _ = cert.public_key()
    if extensions:
        for ext in cert.extensions:
            _ = ext.value
    return cert


def parse_der(der: bytes, *, extensions: bool = True) -> x509.Certificate:
    """One DER certificate read whole; raises one of :data:`UNPARSABLE` (each family words
    its own :class:`~refkit.errors.ParseError`, naming the file and offset)."""
    with serial_zero_allowed():
        cert = x509.load_der_x509_certificate(der)
    return eager(cert, extensions=extensions)


def parse_pem(pem: bytes, *, extensions: bool = True) -> x509.Certificate:
    """One PEM certificate block read whole; raises one of :data:`UNPARSABLE`."""
    with serial_zero_allowed():
        cert = x509.load_pem_x509_certificate(pem)
    return eager(cert, extensions=extensions)


def parse_pem_all(data: bytes, *, extensions: bool = True) -> tuple[x509.Certificate, ...]:
    """Every PEM certificate block of ``data``, each read whole; raises one of
    :data:`UNPARSABLE` (also when there is none)."""
    with serial_zero_allowed():
        certs = x509.load_pem_x509_certificates(data)
    return tuple(eager(cert, extensions=extensions) for cert in certs)
