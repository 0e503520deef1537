"""Sigstore keyless signing (online) and offline verification, through sigstore-python.

Keyless signing (:class:`SigstoreSigner`) obtains an OIDC identity token, a short-lived
certificate from Fulcio binding an ephemeral key to that identity, and a Rekor
transparency-log entry; the result is a Sigstore bundle v0.3 holding a DSSE envelope over
the exact payload bytes. It is the only code in refkit that reaches the network; every
network, TUF or OIDC failure becomes :class:`~refkit.errors.EnvironmentProblem` (exit 3).
Callers take a :class:`KeylessSigner` so that tests pass a fake.

Offline verification (:func:`verify_keyless`) needs only the bundle, a trusted-root file
(Sigstore ``TrustedRoot`` JSON, e.g. the production or staging root embedded in
sigstore-python) and the expected identity (certificate SAN) and OIDC issuer. It checks,
as sigstore-python's ``Verifier`` does (its steps 1-8): the certificate chains to a Fulcio
CA of the trusted root at the signing time, the signing time is established by a verified
transparency-log entry or timestamp, the certificate's identity and issuer match, the
signature is valid over the DSSE PAE (or the artifact) and the log entry is consistent
with the bundle. The verification time is the bundle's signed time, not the clock: a
keyless result does not depend on ``--at``.

sigstore-python is imported lazily (it costs about 0.4 s) and is optional: without it,
keyless operations fail with :class:`~refkit.errors.EnvironmentProblem` naming the extra.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from refkit.errors import EnvironmentProblem, InputError, VerificationFailed
from refkit.manifests.constants import MAX_DOCUMENT_BYTES
from refkit.manifests.signing.bundle import Bundle

if TYPE_CHECKING:
    from sigstore.verify import Verifier

_INSTALL_HINT = "install refkit with the sigstore extra: pip install 'refkit[sigstore]'"


class KeylessVerificationFailed(VerificationFailed):
    """sigstore-python verified a keyless bundle and said no; the message says why."""


class KeylessSigningFailed(EnvironmentProblem):
    """Keyless signing could not reach Sigstore or obtain an identity (signing with a key
    would not need either)."""


@dataclass(frozen=True)
class SigstoreIdentity:
    """An expected signer: the certificate's identity (SAN) and the OIDC issuer."""

    identity: str
    issuer: str

    def __post_init__(self) -> None:
        # sigstore-python's Identity(issuer="") checks no issuer at all: an empty value
        # (an unset variable in a script) must not widen trust to every OIDC issuer.
        for what, value in (("identity", self.identity), ("issuer", self.issuer)):
            if not value:
                raise InputError(
                    f"empty Sigstore {what}",
                    hint="give both the exact certificate identity and its OIDC issuer",
                )

    def __str__(self) -> str:
        return f"{self.identity} (issuer {self.issuer})"


@dataclass(frozen=True)
class TrustedRoot:
    """A Sigstore trusted-root document, kept as bytes (parsed by sigstore-python on use)."""

    source: str
    data: bytes


@dataclass(frozen=True)
class KeylessVerified:
    """A keyless bundle that verified: who signed and, for DSSE, what was signed."""

    identity: SigstoreIdentity
    payload_type: str | None
    payload: bytes | None


def _require_sigstore() -> None:
    try:
        import sigstore  # noqa: F401
    except ImportError:
        raise EnvironmentProblem(
            "keyless (Sigstore) operations need sigstore-python, which is not installed",
            hint=_INSTALL_HINT,
        ) from None


@functools.lru_cache(maxsize=8)
def _verifier(data: bytes, source: str) -> Verifier:
    from sigstore.errors import Error
    from sigstore.models import TrustedRoot as SigstoreTrustedRoot
    from sigstore.verify import Verifier
    from sigstore_models.trustroot.v1 import TrustedRoot as TrustedRootModel

    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError(f"{source}: {len(data)} bytes is too large for a trusted root")
    try:
        root = SigstoreTrustedRoot(TrustedRootModel.from_json(data))
        return Verifier(trusted_root=root)
    except (Error, ValueError) as exc:
        raise InputError(f"{source}: not a usable Sigstore trusted root ({exc})") from None


def verify_keyless(
    bundle: Bundle,
    trusted_root: TrustedRoot,
    identity: SigstoreIdentity,
    *,
    artifact: bytes | None = None,
) -> KeylessVerified:
    """Verify a keyless bundle offline: signature, certificate chain, log entry, identity.

    For a DSSE bundle returns the payload and its type (not interpreted here); for a
    message-signature bundle, ``artifact`` must be the signed bytes. Raises
    :class:`KeylessVerificationFailed` when the answer is no, and
    :class:`~refkit.errors.InputError` for a bundle or trusted root sigstore cannot read.
    """
    _require_sigstore()
    from sigstore.errors import Error, VerificationError
    from sigstore.models import Bundle as SigstoreBundle
    from sigstore.models import InvalidBundle
    from sigstore.verify.policy import Identity

    if not bundle.keyless:
        raise InputError(f"{bundle.source}: not a keyless bundle (it names a public key)")
    verifier = _verifier(trusted_root.data, trusted_root.source)
    try:
        parsed = SigstoreBundle.from_json(bundle.raw)
    except InvalidBundle as exc:
        raise InputError(f"{bundle.source}: sigstore-python refuses it: {exc}") from None
    except (Error, ValueError) as exc:
        raise InputError(f"{bundle.source}: not a readable Sigstore bundle ({exc})") from None
    policy = Identity(identity=identity.identity, issuer=identity.issuer)
    try:
        if bundle.envelope is not None:
            payload_type, payload = verifier.verify_dsse(parsed, policy)
            return KeylessVerified(identity, payload_type, payload)
        if artifact is None:
            raise InputError(f"{bundle.source}: signs an artifact, and no artifact was given")
        verifier.verify_artifact(artifact, parsed, policy)
        return KeylessVerified(identity, None, None)
    except VerificationError as exc:
        raise KeylessVerificationFailed(f"{bundle.source}: {exc}") from None
    except Error as exc:  # sigstore's deliberate refusals (e.g. a malformed envelope)
        raise KeylessVerificationFailed(f"{bundle.source}: {exc.diagnostics().strip()}") from None
    except ValueError as exc:
        # Malformed content that sigstore-python only decodes while verifying (a checkpoint's
        # base64, an RFC 3161 token's ASN.1): the bundle is bad input, not a "no".
        raise InputError(f"{bundle.source}: malformed Sigstore bundle content: {exc}") from None


class KeylessSigner(Protocol):
    """Signs a payload keylessly and returns the Sigstore bundle's JSON bytes."""

    def sign_dsse(self, payload: bytes) -> bytes: ...


@dataclass(frozen=True)
class SigstoreSigner:
    """Keyless signing with Sigstore's public-good (or staging) instance. Online.

    The identity token is ``identity_token`` if given, else an ambient credential (e.g.
    GitHub Actions' OIDC), else the interactive browser flow of sigstore-python.
    """

    staging: bool = False
    identity_token: str | None = None

    def sign_dsse(self, payload: bytes) -> bytes:
        _require_sigstore()
        import requests
        from sigstore import dsse, oidc
        from sigstore.errors import Error
        from sigstore.models import ClientTrustConfig
        from sigstore.sign import SigningContext

        instance = "staging" if self.staging else "production"
        try:
            trust = ClientTrustConfig.staging() if self.staging else ClientTrustConfig.production()
            context = SigningContext.from_trust_config(trust)
            raw_token = self.identity_token or oidc.detect_credential()
            if raw_token is None:
                issuer = oidc.Issuer(trust.signing_config.get_oidc_url())
                token = issuer.identity_token()
            else:
                token = oidc.IdentityToken(raw_token)
            with context.signer(token, cache=False) as signer:
                bundle = signer.sign_dsse(dsse.Statement(payload))
        except (Error, oidc.IssuerError, requests.RequestException, OSError) as exc:
            detail = exc.diagnostics() if isinstance(exc, Error) else str(exc)
            raise KeylessSigningFailed(
                f"keyless signing with Sigstore ({instance}) failed: "
                f"{' '.join(detail.split()) or type(exc).__name__}",
                hint="keyless signing needs the network (OIDC, Fulcio, Rekor) and an identity; "
                "signing with a key works offline",
            ) from exc
        except oidc.ExpiredIdentity as exc:
            raise KeylessSigningFailed(
                "the OIDC identity token has expired", hint="obtain a fresh token"
            ) from exc
        return bundle.to_json().encode("utf-8")
