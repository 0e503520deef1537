"""`refkit inputs lock RECIPE [--update]`: which pins a recipe uses, missing pins, and
re-pinning on purpose with a diff (resolvers are fakes: tests never reach the network)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refkit.errors import ExitCode, InputError, ParseError
from refkit.inputs import update as upd
from refkit.inputs.cache import InputCache
from refkit.inputs.debian import DownloadFailed
from refkit.inputs.lock import (
    Lock,
    LockedInput,
    PlainFile,
    PythonDistribution,
    dumps_lock,
    load_lock,
)
from tests.inputs_support import DEB, make_deb, package, sha256, simple_entries
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug

NEW_BODY = b"new body\n"
PLAIN = PlainFile("body.txt", "https://example.org/body.txt", 3, sha256(b"old"))
WHEEL = PythonDistribution("foo", "1.0", "foo-1.0-py3-none-any.whl", 3, sha256(b"abc"))

RECIPE = """\
version: 1
source_date_epoch: 1700000000
lock: inputs.lock.json
artifacts:
  rootfs:
    builder: rootfs
    inputs: {packages: {lock: [fw, foo]}, extra: {lock: body.txt, member: x}}
    params: {format: tar}
  image:
    builder: oci
    inputs: {rootfs: {artifact: rootfs}, config: {file: images/demo/oci-config.json}}
"""


class _Resolver:
    """Offers a newer version of each named input; records what it was asked."""

    def __init__(self, newer: dict[str, LockedInput]) -> None:
        self.newer = newer
        self.asked: list[str] = []

    def latest(self, item: LockedInput, cache: InputCache) -> LockedInput:
        self.asked.append(item.name)
        return self.newer.get(item.name, item)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    lock = Lock((package(), WHEEL, PLAIN, package(name="unused")))
    (tmp_path / "inputs.lock.json").write_text(dumps_lock(lock))
    return tmp_path


def test_recipe_names_are_read_from_the_artifacts_inputs(project: Path) -> None:
    found = upd.recipe_lock_names(project / "recipe.yaml")
    assert found.lock == project / "inputs.lock.json"
    assert found.names == ("fw", "foo", "body.txt")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("lock: 5\nartifacts: {}\n", "$.lock"),
        ("lock: l.json\n", "$.artifacts"),
        (
            "lock: l.json\nartifacts: {a: {inputs: {x: {lock: []}}}}\n",
            "$.artifacts.a.inputs.x.lock",
        ),
        (
            "lock: l.json\nartifacts: {a: {inputs: {x: {lock: [1]}}}}\n",
            "$.artifacts.a.inputs.x.lock",
        ),
        ("lock: l.json\nartifacts: {a: [1]}\n", "$.artifacts.a"),
    ],
)
def test_malformed_recipe_parts_are_parse_errors(tmp_path: Path, text: str, field: str) -> None:
    (tmp_path / "r.yaml").write_text(text)
    with pytest.raises(ParseError) as caught:
        upd.recipe_lock_names(tmp_path / "r.yaml")
    assert caught.value.location is not None
    assert caught.value.location.field == field


def test_update_changes_only_what_the_recipe_uses_and_keeps_the_order(
    project: Path, tmp_path: Path
) -> None:
    lock = load_lock(project / "inputs.lock.json")
    new_deb = make_deb(simple_entries(b"firmware 2"))
    newer_fw = replace(
        package(new_deb),
        version="1.1-1",
        filename="fw_1.1-1_all.deb",
        size=len(new_deb),
        sha256=sha256(new_deb),
    )
    newer_plain = replace(PLAIN, size=len(NEW_BODY), sha256=sha256(NEW_BODY))
    resolver = _Resolver({"fw": newer_fw, "body.txt": newer_plain})
    updated, changes = upd.update_lock(
        lock, ("fw", "foo", "body.txt"), resolver, InputCache(tmp_path / "c")
    )
    assert resolver.asked == ["fw", "foo", "body.txt"]  # not "unused"
    assert [i.name for i in updated.inputs] == ["fw", "foo", "body.txt", "unused"]
    assert updated.inputs[0] == newer_fw
    assert updated.inputs[3] == lock.inputs[3]
    lines = [upd.describe(c) for c in changes]
    assert lines[0].startswith("~ fw: version 1.0-1 -> 1.1-1, sha256 ")
    assert lines[1] == "= foo 1.0 (foo-1.0-py3-none-any.whl) (unchanged)"
    assert lines[2] == f"~ body.txt: sha256 {PLAIN.sha256} -> {sha256(NEW_BODY)}, size 3 -> 9"


def test_update_refuses_a_recipe_name_the_lock_does_not_pin(project: Path, tmp_path: Path) -> None:
    lock = load_lock(project / "inputs.lock.json")
    with pytest.raises(InputError, match="does not pin nope"):
        upd.update_lock(lock, ("fw", "nope"), _Resolver({}), InputCache(tmp_path / "c"))


def test_a_resolver_result_is_validated_like_a_lock_file(project: Path, tmp_path: Path) -> None:
    lock = load_lock(project / "inputs.lock.json")
    clash = replace(PLAIN, name="fw.fd")  # the name of an extracted output of "fw"
    with pytest.raises(ParseError, match="already written"):
        upd.update_lock(
            lock, ("body.txt",), _Resolver({"body.txt": clash}), InputCache(tmp_path / "c")
        )


def test_cli_lock_checks_coverage_without_downloading(project: Path, run_cli: Any) -> None:
    r = run_cli("inputs", "lock", project / "recipe.yaml")
    assert r.code == ExitCode.OK, r.stderr
    assert "fw 1.0-1 (all): pinned" in r.stdout
    (project / "recipe.yaml").write_text(RECIPE.replace("[fw, foo]", "[fw, foo, missing-one]"))
    r = run_cli("inputs", "lock", project / "recipe.yaml")
    assert r.code == ExitCode.BAD_INPUT
    assert "does not pin missing-one" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("inputs", "lock", project / "recipe.yaml", "--dry-run")
    assert r.code == ExitCode.BAD_INPUT  # a usage error


def test_cli_update_prints_the_diff_and_rewrites_the_lock(
    project: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer_plain = replace(PLAIN, size=len(NEW_BODY), sha256=sha256(NEW_BODY))
    monkeypatch.setattr(upd, "default_resolver", lambda: _Resolver({"body.txt": newer_plain}))
    lock_path = project / "inputs.lock.json"
    before = lock_path.read_text()
    r = run_cli("inputs", "lock", project / "recipe.yaml", "--update", "--dry-run")
    assert r.code == ExitCode.OK, r.stderr
    assert f"~ body.txt: sha256 {PLAIN.sha256} -> {sha256(NEW_BODY)}" in r.stdout
    assert lock_path.read_text() == before  # dry run
    r = run_cli("inputs", "lock", project / "recipe.yaml", "--update", "--json")
    assert r.code == ExitCode.OK, r.stderr
    doc = json.loads(r.stdout)
    assert doc["written"] is True
    assert [c["name"] for c in doc["changes"] if c["changed"]] == ["body.txt"]
    after = load_lock(lock_path)
    assert after.named("body.txt") == (newer_plain,)
    assert after.named("fw") == (package(),)


class _FakeRun:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.argv: list[list[str]] = []

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.argv.append(argv)
        for name, data in self.files.items():
            Path(kwargs["cwd"], name).write_bytes(data)
        return subprocess.CompletedProcess(argv, 0, "", "")


def test_default_resolver_pins_the_newest_wheel_and_caches_it(tmp_path: Path) -> None:
    run = _FakeRun({"foo-1.2-py3-none-any.whl": b"newer wheel"})
    cache = InputCache(tmp_path / "c")
    new = upd.DefaultResolver(run=run).latest(WHEEL, cache)
    assert new == PythonDistribution(
        "foo", "1.2", "foo-1.2-py3-none-any.whl", len(b"newer wheel"), sha256(b"newer wheel")
    )
    assert run.argv[0][-3] == "foo"  # no ==VERSION: the newest offered
    assert cache.lookup(new.sha256, new.size) is not None


def test_default_resolver_repins_a_debian_package_with_its_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("refkit.inputs.update.shutil.which", lambda name: "/usr/bin/" + name)
    # The test package's control file says "hello 1.0-1 (all)" (tests/inputs_support.py).
    pinned = replace(package(), name="hello", source="hello-src", filename="hello_1.0-1_all.deb")
    run = _FakeRun({"hello_1.0-1_all.deb": DEB})
    cache = InputCache(tmp_path / "c")
    new = upd.DefaultResolver(run=run).latest(pinned, cache)
    # Pinning the same bytes again gives the same entry: digests of the .deb and of each
    # member computed again by pin_deb, equal to the fixture's (computed by hashlib).
    assert new == pinned
    assert run.argv[0][1:] == ["download", "-q", "hello"]
    assert cache.lookup(pinned.sha256, pinned.size) is not None
    # apt-get handing over another package is not a new version of this one.
    with pytest.raises(DownloadFailed, match="not a version of fw"):
        upd.DefaultResolver(run=run).latest(package(), cache)


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["lock", "artifacts", "inputs", "x"]), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=_values, raw=st.binary(max_size=64))
def test_fuzzed_recipes_are_read_or_refused_with_a_parse_error(
    tmp_path: Path, document: Any, raw: bytes
) -> None:
    recipe = tmp_path / "r.yaml"
    for data in (json.dumps(document).encode(), raw):  # JSON is YAML; then arbitrary bytes
        recipe.write_bytes(data)
        try:
            found = upd.recipe_lock_names(recipe)
        except InputError as exc:  # ParseError is one
            assert_not_a_bug(exc)
            continue
        assert all(isinstance(n, str) and n for n in found.names)


def test_a_recipe_that_uses_no_pins_updates_nothing(project: Path, tmp_path: Path) -> None:
    lock = load_lock(project / "inputs.lock.json")
    resolver = _Resolver({})
    updated, changes = upd.update_lock(lock, (), resolver, InputCache(tmp_path / "c"))
    assert (updated.inputs, changes, resolver.asked) == (lock.inputs, (), [])
    _updated, changes = upd.update_lock(lock, None, resolver, InputCache(tmp_path / "c"))
    assert resolver.asked == ["fw", "foo", "body.txt", "unused"]  # None: every pin
