"""Property tests: YAML → model → canonical JSON → parse → equal, and fuzzing of every parser.

Generated manifests cover every section with random (valid) values and random unknown
fields; fuzzing feeds arbitrary bytes, arbitrary YAML and mutated valid documents to each
parser and requires a result or a typed refkit error, never another exception.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError, RefkitError
from refkit.manifests.authoring import build_statement
from refkit.manifests.canonical import canonical_dumps
from refkit.manifests.diff import diff_statements
from refkit.manifests.exports import contrast, rvps, vsa
from refkit.manifests.files import load_statement_or_bundle
from refkit.manifests.statement import load_statement, parse_statement
from refkit.yamlio import load_yaml
from tests.manifest_support import example_statement
from tests.shared import assert_not_a_bug

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------------- strategies

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=16)
TOKEN = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+:-]{0,15}", fullmatch=True)
JSON_LEAF = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | TEXT
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
UNKNOWN = st.dictionaries(st.from_regex(r"x-[a-z]{1,8}", fullmatch=True), JSON, max_size=2)


def _with(key: str, value: str | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A map function adding ``key: value`` to a drawn entry (nothing when value is None)."""
    return lambda d: d if value is None else {**d, key: value}


def hexs(size: int) -> st.SearchStrategy[str]:
    return st.binary(min_size=size, max_size=size).map(bytes.hex)


def digest_set() -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries(
        {"sha256": hexs(32)}, optional={"sha384": hexs(48), "sha512": hexs(64)}
    )


def with_unknown(base: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Unknown fields added: only for informational parts (constraints refuse them)."""
    return st.builds(lambda d, u: {**u, **d}, base, UNKNOWN)


def closed(base: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A constraint: no unknown fields (they are refused; test_manifest_fail_closed.py)."""
    return base


def event_log() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"digest": digest_set()}, optional={"name": TEXT, "uri": TEXT})


def shape(vcpus: int) -> st.SearchStrategy[dict[str, Any]]:
    return closed(
        st.fixed_dictionaries(
            {
                "vcpus": st.just(vcpus),
                "vmm": st.fixed_dictionaries(
                    {"type": st.just("qemu")}, optional={"version": TOKEN}
                ),
            },
            optional={"memoryMiB": st.integers(1, 2**20), "gpus": st.integers(0, 8)},
        )
    )


def inputs() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(["ovmf", "kernel", "initrd", "cmdline"]), digest_set())


def snp_entry(vcpus: int) -> st.SearchStrategy[dict[str, Any]]:
    return closed(
        st.fixed_dictionaries(
            {
                "shape": shape(vcpus),
                "measurement": hexs(48),
                "mode": st.sampled_from(["snp", "seves", "sev"]),
                "guestFeatures": st.integers(0, 2**53 - 1),
            },
            optional={
                "product": st.sampled_from(["Milan", "Genoa", "Turin"]),
                "vcpuType": TOKEN,
                "vcpuSignature": st.integers(0, 2**32 - 1),
                "inputs": inputs(),
                "computedBy": st.fixed_dictionaries({"name": TOKEN, "version": TOKEN}),
            },
        )
    )


def tdx_entry(vcpus: int) -> st.SearchStrategy[dict[str, Any]]:
    rtmrs = st.lists(hexs(48), min_size=4, max_size=4) | st.dictionaries(
        st.sampled_from("0123"), hexs(48), min_size=1
    )
    return closed(
        st.fixed_dictionaries(
            {"shape": shape(vcpus), "mrtd": hexs(48), "rtmrs": rtmrs},
            optional={"inputs": inputs(), "eventLog": event_log()},
        )
    )


def per_vcpu(entry: Any) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(st.integers(1, 512), unique=True, max_size=3).flatmap(
        lambda counts: st.tuples(*(entry(c) for c in counts)).map(list)
    )


def vtpm_entries() -> st.SearchStrategy[list[dict[str, Any]]]:
    sizes = {"sha1": 20, "sha256": 32, "sha384": 48}

    def one(bank: str) -> st.SearchStrategy[dict[str, Any]]:
        pcrs = st.dictionaries(
            st.integers(0, 23).map(str), hexs(sizes[bank]), min_size=1, max_size=3
        )
        return st.fixed_dictionaries(
            {"bank": st.just(bank), "pcrs": pcrs}, optional={"eventLog": event_log()}
        )

    return st.lists(st.sampled_from(sorted(sizes)), unique=True, max_size=2).flatmap(
        lambda banks: st.tuples(*(one(b) for b in banks)).map(list)
    )


def policies() -> st.SearchStrategy[list[dict[str, Any]]]:
    one = st.fixed_dictionaries(
        {"name": TEXT, "hostData": hexs(32)}, optional={"mrConfigId": hexs(48)}
    )
    return st.lists(one, unique_by=lambda p: p["name"], max_size=2)


def gpus() -> st.SearchStrategy[list[dict[str, Any]]]:
    one = st.fixed_dictionaries(
        {"model": TOKEN, "ccMode": st.sampled_from(["on", "off", "devtools", "ppcie"])},
        optional={
            "driverVersions": st.lists(TOKEN, max_size=2),
            "rimIds": st.lists(TOKEN, max_size=2),
            "rimDigests": st.dictionaries(TOKEN, digest_set(), max_size=2),
            "measurements": st.dictionaries(
                st.integers(0, 254).map(str), st.lists(hexs(48), min_size=1, max_size=2), max_size=2
            ),
        },
    )
    return st.lists(one, unique_by=lambda g: (g["model"], g["ccMode"]), max_size=2)


def declared() -> st.SearchStrategy[dict[str, Any]]:
    tcb = st.fixed_dictionaries(
        {k: st.integers(0, 255) for k in ("bootloader", "tee", "snp", "microcode")}
    )
    policy = st.integers(0, 2**26 - 1).map(lambda p: (p | (1 << 17)) & ~(1 << 19))
    snp_one = closed(
        st.fixed_dictionaries(
            {"minimumTcb": tcb, "guestPolicy": policy},
            optional={
                "vmpl": st.integers(0, 3),
                "platformInfo": st.integers(0, 0xBF),
                "minimumMitigationVector": st.integers(0, 2**20),
                "allowedChipIds": st.lists(hexs(64), max_size=2),
            },
        )
    )
    snp = st.lists(st.sampled_from(["Milan", "Genoa", None]), unique=True, max_size=2).flatmap(
        lambda products: st.tuples(*(snp_one.map(_with("product", p)) for p in products)).map(list)
    )
    tdx_one = st.fixed_dictionaries(
        {"mrSeams": st.lists(hexs(48), min_size=1, max_size=2)},
        optional={
            "xfam": hexs(8),
            "tdAttributes": hexs(8).map(lambda h: "%02x" % (int(h[:2], 16) & 0xFE) + h[2:]),
            "minTcbEvaluationDataNumber": st.integers(0, 2**32 - 1),
            "allowedPiids": st.lists(hexs(16), max_size=2),
        },
    )
    # schema 1.0 (one object) or 1.1 (a list per module version)
    tdx = tdx_one | st.lists(st.sampled_from(["1.5.20", "2.0.0", None]), unique=True).flatmap(
        lambda versions: st.tuples(*(tdx_one.map(_with("moduleVersion", v)) for v in versions)).map(
            list
        )
    )
    return st.fixed_dictionaries({}, optional={"snp": snp, "tdx": tdx})


def models(disks: list[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    verity = st.fixed_dictionaries(
        {
            "rootHash": hexs(32),
            "hashOffset": st.integers(0, 2**30).map(lambda n: n * 4096),
            "salt": st.binary(max_size=8).map(bytes.hex),
            "hashAlgorithm": st.just("sha256"),
            "dataBlockSize": st.just(4096),
            "hashBlockSize": st.just(4096),
            "formatVersion": st.just(1),
        },
        optional={"uuid": st.uuids().map(str)},
    )
    one = closed(
        st.fixed_dictionaries(
            {
                "name": TEXT,
                "source": with_unknown(
                    st.fixed_dictionaries({"repository": TEXT, "revision": TOKEN})
                ),
                "verity": verity,
            },
            optional={
                "excludedFiles": st.lists(TEXT, max_size=2),
                "fileDigestRoot": st.fixed_dictionaries(
                    {"algorithm": st.just("sha256"), "digest": hexs(32)},
                    optional={
                        "method": st.sampled_from(
                            ["model-signing-files", "model-signing-shards", "refkit-files"]
                        )
                    },
                ),
                "disk": st.sampled_from(disks) if disks else st.nothing(),
                "tools": st.dictionaries(TOKEN, TOKEN, max_size=2),
            },
        )
    )
    return st.lists(one, unique_by=lambda m: m["name"], max_size=2)


KINDS = ["oci-image", "firmware", "kernel", "initrd", "cmdline", "uki", "model-disk", "other"]


@st.composite
def authoring_docs(draw: st.DrawFn) -> dict[str, Any]:
    created = draw(st.datetimes(datetime(2000, 1, 1), datetime(2090, 1, 1))).replace(
        microsecond=0, tzinfo=UTC
    )
    release: dict[str, Any] = {
        "name": draw(TEXT),
        "version": draw(TOKEN),
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": {"repository": draw(TEXT), "commit": draw(hexs(20))},
        **draw(UNKNOWN),
    }
    if draw(st.booleans()):
        later = created + timedelta(seconds=draw(st.integers(1, 10**9)))
        release["expires"] = later.strftime("%Y-%m-%dT%H:%M:%SZ")
    subjects = draw(
        st.lists(
            st.fixed_dictionaries(
                {"name": TEXT, "kind": st.sampled_from(KINDS), "digest": digest_set()},
                optional={"mediaType": TEXT, "annotations": UNKNOWN},
            ),
            min_size=1,
            max_size=4,
            unique_by=lambda s: str(s["name"]),
        )
    )
    disks = [str(s["name"]) for s in subjects if s["kind"] == "model-disk"]
    rv: dict[str, Any] = {}
    for key, strategy in (
        ("snp", per_vcpu(snp_entry)),
        ("tdx", per_vcpu(tdx_entry)),
        ("vtpm", vtpm_entries()),
        ("policies", policies()),
        ("gpu", gpus()),
    ):
        value: list[dict[str, Any]] = draw(strategy)
        if not value and not draw(st.booleans()):
            continue  # an empty section is sometimes written as [] and sometimes left out
        rv[key] = value
    doc: dict[str, Any] = {
        "release": release,
        "subjects": subjects,
        "referenceValues": rv,
        **draw(UNKNOWN),
    }
    model_list = draw(models(disks))
    if model_list:
        doc["models"] = model_list
    if not any(rv.values()) and not model_list:
        rv["policies"] = [{"name": "p", "mrConfigId": draw(hexs(48))}]
    dec = draw(declared())
    if dec:
        doc["declared"] = dec
    if draw(st.booleans()):
        doc["provenance"] = {
            "refkitVersion": draw(TOKEN),
            "builder": {"id": draw(TEXT)},
            "inputs": draw(
                st.lists(
                    st.fixed_dictionaries({"name": TEXT, "digest": digest_set()}),
                    unique_by=lambda i: str(i["name"]),
                    max_size=2,
                )
            ),
        }
    return doc


# ----------------------------------------------------------------------------- round trip


@SETTINGS
@given(authoring_docs())
def test_yaml_to_json_to_model_round_trip(doc: dict[str, Any]) -> None:
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    loaded = load_yaml(text, source="gen.yaml")
    assert loaded == doc  # the strict loader reads what a YAML library writes
    statement = build_statement(loaded, source="gen.yaml", created=None, refkit_version="0.1.0")
    data = statement.canonical_bytes()
    again = load_statement(data, source="gen.json", require_canonical=True)
    assert again == statement
    assert again.canonical_bytes() == data
    assert again.to_json() == json.loads(data)
    # the same content in any list order builds the same bytes
    shuffled = copy.deepcopy(doc)
    shuffled["subjects"].reverse()
    for value in shuffled["referenceValues"].values():
        value.reverse()
    rebuilt = build_statement(shuffled, source="s", created=None, refkit_version="0.1.0")
    assert rebuilt.canonical_bytes() == data
    # and it can be shown, compared and exported without surprises
    from refkit.cli.manifest.show import render, views

    assert render(views(load_statement_or_bundle(data, source="gen.json")))
    assert not diff_statements(statement, again).differs


_SIGNING_KEYS: dict[str, Any] = {}


def _key(kind: str) -> Any:
    from refkit.manifests.signing.keys import KeyType, generate

    if kind not in _SIGNING_KEYS:
        _SIGNING_KEYS[kind] = generate(KeyType(kind))
    return _SIGNING_KEYS[kind]


@SETTINGS
@given(authoring_docs(), st.sampled_from(["ecdsa-p256", "ecdsa-p384", "ed25519"]))
def test_yaml_to_signed_bundle_to_verified_show(doc: dict[str, Any], kind: str) -> None:
    """The whole chain of issue 3: YAML -> canonical JSON -> sign -> verify -> show."""
    from datetime import UTC, datetime

    from refkit.cli.manifest.show import render, views
    from refkit.manifests.signing.policy import KeySigner, TrustPolicy, key_signer_name
    from refkit.manifests.signing.sign import sign_manifest
    from refkit.manifests.signing.verify import verify_manifest

    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    statement = build_statement(
        load_yaml(text, source="gen.yaml"), source="gen.yaml", created=None, refkit_version="0.1.0"
    )
    data = statement.canonical_bytes()
    key = _key(kind)
    bundle = sign_manifest(data, source="gen.json", key=key)
    public = key.public_key()
    policy = TrustPolicy(signers=(KeySigner(key_signer_name(public), public),))
    at = statement.predicate.release.created
    result = verify_manifest([("gen.bundle.json", bundle)], policy, at=at.astimezone(UTC))
    assert result.ok, result.failure
    shown = load_statement_or_bundle(bundle, source="gen.bundle.json")
    assert render(views(shown))
    assert shown.statement == statement
    # one changed payload byte and the answer is no
    tampered = bundle.replace(b'"payload":"', b'"payload":"A', 1)
    try:
        bad = verify_manifest([("t", tampered)], policy, at=datetime.now(UTC))
    except RefkitError as exc:
        assert_not_a_bug(exc)
        return
    assert not bad.ok


@SETTINGS
@given(authoring_docs())
def test_exports_give_a_result_or_a_typed_error(doc: dict[str, Any]) -> None:
    statement = build_statement(doc, source="gen", created=None, refkit_version="0")
    outcome = vsa.VerificationOutcome(
        verifier_id="https://refkit.dev/v",
        result=vsa.Result.PASSED,
        time_verified=datetime(2026, 1, 1, tzinfo=UTC),
        resource_uri="https://example.com/r",
        policy_uri="https://example.com/p",
    )
    for fn in (
        contrast.export,
        rvps.message,
        rvps.stored_values,
        lambda s: vsa.export(s, outcome),
    ):
        try:
            out = fn(statement)
        except InputError:
            continue
        assert out.data


@SETTINGS
@given(authoring_docs(), authoring_docs())
def test_diff_of_any_two_manifests(a: dict[str, Any], b: dict[str, Any]) -> None:
    sa = build_statement(a, source="a", created=None, refkit_version="0")
    sb = build_statement(b, source="b", created=None, refkit_version="0")
    result = diff_statements(sa, sb)
    assert result.differs == (sa.canonical_bytes() != sb.canonical_bytes())
    json.dumps(result.to_json())


# ----------------------------------------------------------------------------- fuzzing


def _typed_or_ok(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except RefkitError as exc:
        assert_not_a_bug(exc)
        return None


@SETTINGS
@given(st.binary(max_size=2048))
def test_fuzz_statement_bytes(data: bytes) -> None:
    _typed_or_ok(load_statement, data, source="fuzz")
    _typed_or_ok(load_statement_or_bundle, data, source="fuzz")


@SETTINGS
@given(st.binary(max_size=2048) | st.text(max_size=2048))
def test_fuzz_yaml(data: bytes | str) -> None:
    doc = _typed_or_ok(load_yaml, data, source="fuzz.yaml")
    if doc is not None:
        _typed_or_ok(build_statement, doc, source="fuzz.yaml", created=None, refkit_version="0")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


MUTATION = st.sampled_from(["replace", "delete", "add", "duplicate"])


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths[1:]))
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[part]
        how = draw(MUTATION)
        if how == "replace":
            parent[path[-1]] = draw(JSON)
        elif how == "delete":
            del parent[path[-1]]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(TEXT)] = draw(JSON)
        elif how == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(example_statement()))
def test_fuzz_mutated_statement(doc: dict[str, Any]) -> None:
    statement = _typed_or_ok(parse_statement, doc, source="fuzz")
    # refkit's own checks alone accept exactly what they accept with the schema too
    # (verification skips the schema for speed, so they must not be weaker).
    assert (_typed_or_ok(parse_statement, doc, source="fuzz", schema=False) is None) == (
        statement is None
    )
    if statement is not None:
        # anything accepted can be serialised, reparsed and compared
        data = _typed_or_ok(statement.canonical_bytes)
        if data is not None:
            assert load_statement(data, source="again") == statement
        diff_statements(statement, statement)
    _typed_or_ok(load_statement, json.dumps(doc).encode(), source="fuzz")


@SETTINGS
@given(authoring_docs().flatmap(mutated))
def test_fuzz_mutated_authoring(doc: dict[str, Any]) -> None:
    text = yaml.safe_dump(doc, allow_unicode=True)
    loaded = _typed_or_ok(load_yaml, text, source="fuzz.yaml")
    assume(loaded is not None)
    statement = _typed_or_ok(
        build_statement, loaded, source="fuzz.yaml", created=None, refkit_version="0"
    )
    if statement is not None:
        _typed_or_ok(statement.canonical_bytes)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("predicate", "x-big"), 2**80),
        (("x-top",), {"deep": [-(2**60)]}),
        (("predicate", "release", "name"), "\ud800"),
        (("subject", 0, "annotations", "x-note"), "a\udfffb"),
    ],
)
def test_what_cannot_be_canonical_is_refused_at_parse(path: tuple[Any, ...], value: Any) -> None:
    doc = example_statement()
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    with pytest.raises(ParseError, match="canonical JSON"):
        parse_statement(doc, source="t")
    assert canonical_dumps({"a": 1}) == b'{"a":1}'
