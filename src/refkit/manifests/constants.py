"""Identifiers of the formats refkit produces and consumes (stable: part of the contract)."""

from __future__ import annotations

#: in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md)
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"

#: This project's predicate: a reference manifest. The major version is in the URI; a
#: verifier accepts the predicate versions its policy names.
PREDICATE_TYPE = "https://refkit.dev/reference-manifest/v1"

#: DSSE payload type of an in-toto statement.
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"

#: Sigstore bundle media type, v0.3 (https://github.com/sigstore/protobuf-specs).
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"

#: Largest manifest, statement or bundle refkit reads (bytes). A release with 256 vCPU
#: counts per platform and thousands of model files stays far below it.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
