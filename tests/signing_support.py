"""Shared helpers of the signing tests: statements, keys, bundles (imported by the test
modules; test modules never import each other)."""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any

from refkit.manifests.canonical import canonical_dumps
from refkit.manifests.signing.keys import KeyType, PrivateKey, generate
from refkit.manifests.signing.sign import sign_manifest

ASSETS = Path(__file__).resolve().parent / "assets" / "signing"
RELEASE = ASSETS / "release.json"

SLSA_IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
WHL_IDENTITY = (
    "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
)
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def statement(**release: Any) -> bytes:
    """The canonical test statement with ``predicate.release`` fields replaced (None drops)."""
    doc = json.loads(RELEASE.read_bytes())
    rel = doc["predicate"]["release"]
    for name, value in release.items():
        if value is None:
            rel.pop(name, None)
        else:
            rel[name] = value
    return canonical_dumps(doc)


@cache
def key(kind: KeyType, index: int = 0) -> PrivateKey:
    """A test key, the same one for the same (type, index) within a test run."""
    del index  # part of the cache key only
    return generate(kind)


def sign(data: bytes, k: PrivateKey) -> bytes:
    return sign_manifest(data, source="statement", key=k)


def write_pub(tmp: Path, k: PrivateKey, name: str) -> Path:
    path = tmp / f"{name}.pub"
    path.write_bytes(k.public_key().pem())
    return path


def mutate_bundle(data: bytes, path: tuple[str | int, ...], change: Any) -> bytes:
    """A bundle with the field at ``path`` replaced by ``change(old)``; canonical output."""
    doc = json.loads(data)
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = change(node[path[-1]])
    return canonical_dumps(doc) + b"\n"


def flip_b64(text: str, byte: int = 0) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[byte % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()
