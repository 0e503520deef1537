"""Signing and verification of reference manifests.

A reference manifest (an in-toto Statement v1 in RFC 8785 canonical JSON) is signed as a
DSSE envelope (``application/vnd.in-toto+json``) and shipped as a Sigstore bundle v0.3.
Each signer produces its own bundle; a verifier counts distinct trusted signers against a
threshold taken from a trust policy.

Modules, from the bottom up:

- :mod:`.keys`: ECDSA P-256 / P-384 and Ed25519 keys (PEM, optionally encrypted) and the
  public-key hints that name them.
- :mod:`.dsse`: the DSSE pre-authentication encoding and envelopes.
- :mod:`.bundle`: strict reading and deterministic writing of Sigstore bundle JSON.
- :mod:`.keyless`: Sigstore keyless signing (online) and offline verification.
- :mod:`.policy`: the trust-policy file and small composable checks (no I/O).
- :mod:`.verify`: the verification procedure, as numbered steps.

Nothing here imports click or rich, prints, or reaches the network, except the keyless
signer whose job that is.
"""
