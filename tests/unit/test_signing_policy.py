"""Trust policy: semantic-version order, strict YAML, the policy file, composable checks."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime
from pathlib import Path, PurePath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError
from refkit.manifests.signing.keyless import SigstoreIdentity
from refkit.manifests.signing.keys import KeyType
from refkit.manifests.signing.policy import (
    Facts,
    IdentitySigner,
    KeySigner,
    NotExpired,
    NotOlderThan,
    ReleaseFacts,
    TrustPolicy,
    parse_policy,
    parse_semver,
)
from refkit.yamlio import load_yaml
from tests.signing_support import ASSETS, key

# SemVer 2.0.0 section 11's own example chain, in increasing precedence.
SEMVER_CHAIN = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.2.0",
    "1.10.0",
    "2.0.0",
]


def test_semver_precedence_follows_the_spec_example() -> None:
    parsed = [parse_semver(v) for v in SEMVER_CHAIN]
    assert all(p is not None for p in parsed)
    for a, b in itertools.pairwise(parsed):
        assert a is not None
        assert b is not None
        assert a < b, (a, b)
        assert not b < a


def test_build_metadata_is_ignored_for_order() -> None:
    a, b = parse_semver("1.2.3+build.1"), parse_semver("1.2.3+build.2")
    assert a is not None
    assert b is not None
    assert a.same_precedence(b)
    assert a <= b
    assert b <= a


@pytest.mark.parametrize(
    "text", ["1.2", "v1.2.3", "01.2.3", "1.2.3-", "1.2.3-01", "latest", "1.2.3.4", "", " 1.2.3"]
)
def test_unorderable_versions(text: str) -> None:
    assert parse_semver(text) is None


@given(st.tuples(*[st.integers(0, 10**6)] * 3), st.tuples(*[st.integers(0, 10**6)] * 3))
def test_semver_core_orders_like_tuples(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    va, vb = parse_semver(".".join(map(str, a))), parse_semver(".".join(map(str, b)))
    assert va is not None
    assert vb is not None
    assert (va < vb) == (a < b)


# --- strict YAML --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("a: &x 1\nb: *x\n", "anchors \\(&x\\) are not allowed"),
        ("a: !!python/object:os.system 1\n", "tags .* are not allowed"),
        ("a: !custom 1\n", "tags .* are not allowed"),
        ("%YAML 1.1\n---\na: 1\n", "directives .* are not allowed"),
        ("a: 1\n---\nb: 2\n", "invalid YAML"),
        ("a: [1\n", "invalid YAML"),
        ("? [1, 2]\n: 3\n", "not a string"),
    ],
)
def test_strict_yaml_refusals(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        load_yaml(text.encode(), source="p.yaml")


def test_yaml_size_and_encoding_limits() -> None:
    with pytest.raises(InputError, match="limit"):
        load_yaml(b"a: 1\n" * 10, source="p", max_bytes=20)
    with pytest.raises(ParseError, match="UTF-8"):
        load_yaml(b"a: \xff\n", source="p")


def test_deep_nesting_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        load_yaml(b"[" * 5000 + b"]" * 5000, source="p")


# --- the policy file ------------------------------------------------------------------------


def _read(path: PurePath) -> bytes:
    return Path(path).read_bytes()


def _parse(text: str, base: Path = ASSETS) -> TrustPolicy:
    return parse_policy(text.encode(), source="policy.yaml", read=_read, base_dir=base)


def test_the_fixture_policy() -> None:
    p = parse_policy(
        (ASSETS / "policy.yaml").read_bytes(), source="policy.yaml", read=_read, base_dir=ASSETS
    )
    assert p.threshold == 2
    assert [s.name for s in p.signers] == ["ed25519-test", "p384-test"]
    assert [s.key.key_type for s in p.key_signers] == [KeyType.ED25519, KeyType.ECDSA_P384]
    assert p.schema_versions == ("1.0",)
    assert p.release_name == "example-service"
    assert p.min_version == "1.0.0"
    assert p.require_expiry is True


def test_inline_keys_identities_and_defaults() -> None:
    pem = key(KeyType.ECDSA_P256).public_key().pem().decode()
    indented = "\n".join("      " + line for line in pem.splitlines())
    p = _parse(
        "version: 1\n"
        "signers:\n"
        "  - key-pem: |\n" + indented + "\n"
        "  - name: ci\n"
        "    sigstore:\n"
        "      identity: https://github.com/o/r/.github/workflows/r.yml@refs/tags/v1.0.0\n"
        "      issuer: https://token.actions.githubusercontent.com\n"
        "trusted-root: roots/trusted_root.json\n"
    )
    assert p.threshold == 1
    assert isinstance(p.signers[0], KeySigner)
    assert p.signers[0].name.startswith("ecdsa-p256:")
    assert isinstance(p.signers[1], IdentitySigner)
    assert p.signers[1].identity.issuer == "https://token.actions.githubusercontent.com"
    assert p.trusted_root_path == str(ASSETS / "roots" / "trusted_root.json")
    assert p.predicate_types == ("https://refkit.dev/reference-manifest/v1",)


_ONE = "signers:\n  - key: test-ed25519.key.pub\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\n" + _ONE, "unsupported policy version"),
        (_ONE, "unsupported policy version None"),
        ("version: 1\nsigners: []\n", "needs at least 1 item"),
        ("version: 1\n" + _ONE + "colour: blue\n", "unknown field 'colour'"),
        (
            "version: 1\nsigners:\n  - key: test-ed25519.key.pub\n    extra: 1\n",
            "unknown field 'extra'",
        ),
        ("version: 1\nsigners:\n  - name: x\n", "exactly one of key"),
        ("version: 1\n" + _ONE + "threshold: 2\n", "threshold 2 is not between 1 and"),
        ("version: 1\n" + _ONE + "threshold: 0\n", "threshold 0"),
        ("version: 1\n" + _ONE + "threshold: yes\n", "expected an integer"),
        ("version: 1\n" + _ONE + "release:\n  min-version: 1.10\n", "not a semantic version"),
        ("version: 1\n" + _ONE + "release:\n  min-version: 1\n", "expected a string"),
        ("version: 1\n" + _ONE + "accept:\n  colour: blue\n", "unknown field 'colour'"),
        ("%YAML 1.1\n---\nversion: 1\n" + _ONE, "directives"),
        ("version: 1\n" + _ONE + 'release:\n  min-version: "1.10"\n', "not a semantic version"),
        ("version: 1\n" + _ONE + "require-expiry: 1\n", "true or false"),
        ("version: 1\n" + _ONE + "accept:\n  predicate-types: []\n", "non-empty list"),
        (
            "version: 1\nsigners:\n  - key: test-ed25519.key.pub\n  - key: test-ed25519.key.pub\n",
            "repeats a trusted signer",
        ),
        (
            "version: 1\nsigners:\n  - {name: a, key: test-ed25519.key.pub}\n"
            "  - {name: a, key: test-p384-encrypted.key.pub}\n",
            "used twice",
        ),
        ("version: 1\nsigners:\n  - key-pem: nonsense\n", "not a PEM public key"),
        ("version: 1\nsigners:\n  - sigstore: {identity: x}\n", "issuer: is required"),
    ],
)
def test_policy_refusals(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "version: 0x" + "f" * 5000 + "\n" + _ONE,
        "version: 1\n" + _ONE + "threshold: 0x" + "f" * 5000 + "\n",
        "version: 1\n" + _ONE + "threshold: -0x" + "f" * 5000 + "\n",
        "version: 1\n" + _ONE + "threshold: " + "9" * 5000 + "\n",
    ],
)
def test_huge_integers_are_bad_input_not_a_crash(text: str) -> None:
    """Formatting a 5,000-digit integer in the message raised ValueError (exit 4)."""
    with pytest.raises(ParseError):
        _parse(text)


def test_missing_key_file_is_input_error(tmp_path: Path) -> None:
    from refkit.errors import read_input_file

    def read(path: PurePath) -> bytes:
        return read_input_file(Path(path), what="public key")

    with pytest.raises(InputError, match="public key not found"):
        parse_policy(
            b"version: 1\nsigners:\n  - key: nope.pub\n", source="p", read=read, base_dir=tmp_path
        )


_POLICY_KEYS = st.sampled_from(
    ["version", "threshold", "signers", "trusted-root", "accept", "release", "require-expiry", "x"]
)
_YAMLISH = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@given(st.binary(max_size=300))
def test_fuzz_policy_bytes(data: bytes) -> None:
    with contextlib.suppress(InputError):
        parse_policy(data, source="fuzz", read=_read, base_dir=ASSETS)


@given(st.dictionaries(_POLICY_KEYS, _YAMLISH, max_size=6))
def test_fuzz_policy_structure(doc: dict[str, object]) -> None:
    import yaml

    text = yaml.safe_dump(doc).encode()
    with contextlib.suppress(InputError):
        parse_policy(text, source="fuzz", read=_read, base_dir=ASSETS)


# --- checks ------------------------------------------------------------------------------


def _facts(
    version: str = "1.2.0", expires: datetime | None = None, at: datetime | None = None
) -> Facts:
    return Facts(
        verified_signers=frozenset({"a"}),
        predicate_type="t",
        schema_version="1.0",
        release=ReleaseFacts("svc", version, datetime(2026, 1, 1, tzinfo=UTC), expires),
        at=at or datetime(2026, 6, 1, tzinfo=UTC),
    )


def test_not_expired_boundaries() -> None:
    exp = datetime(2026, 6, 1, tzinfo=UTC)
    assert not NotExpired(False).check(_facts(expires=exp, at=exp)).ok  # expiry is exclusive
    assert NotExpired(False).check(_facts(expires=exp, at=datetime(2026, 5, 31, tzinfo=UTC))).ok
    assert NotExpired(False).check(_facts()).ok
    assert not NotExpired(True).check(_facts()).ok
    early = _facts(at=datetime(2025, 12, 31, tzinfo=UTC))
    result = NotExpired(False).check(early)
    assert not result.ok
    assert "created" in result.message
    assert result.code == "manifest.not-yet-valid"


@pytest.mark.parametrize(
    ("have", "floor", "ok"),
    [("1.2.0", "1.2.0", True), ("1.2.0", "1.1.9", True), ("1.2.0", "1.10.0", False),
     ("1.2.0-rc.1", "1.2.0", False), ("1.2.0+b2", "1.2.0+b1", True)],
)  # fmt: skip
def test_not_older_than(have: str, floor: str, ok: bool) -> None:
    assert NotOlderThan(floor, "test").check(_facts(version=have)).ok is ok


def test_unorderable_manifest_version_fails_clearly() -> None:
    r = NotOlderThan("1.0.0", "test").check(_facts(version="2024.05-final"))
    assert not r.ok
    assert "not a semantic version" in r.message
    assert r.code == "manifest.version.unordered"


def test_versions_need_no_quotes() -> None:
    """One YAML typing rule (refkit.yamlio): 1.10.0 and 1.0 are strings, as in manifests;
    the old loader read ``1.10`` as the number 1.1 and asked for quotes."""
    p = _parse(
        "version: 1\n" + _ONE + "accept:\n  schema-versions: [1.0, 1.10]\n"
        "release:\n  min-version: 1.10.0\n"
    )
    assert p.schema_versions == ("1.0", "1.10")
    assert p.min_version == "1.10.0"


def test_policy_needs_signers_and_sane_threshold() -> None:
    with pytest.raises(InputError, match="no trusted signers"):
        TrustPolicy(signers=())
    ident = IdentitySigner("ci", SigstoreIdentity("i", "o"))
    with pytest.raises(InputError, match="threshold 2"):
        TrustPolicy(signers=(ident,), threshold=2)
