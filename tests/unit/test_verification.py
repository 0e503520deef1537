"""The verification model: registry, outcomes, exit codes, JSON form, anchors, docs/codes.md."""

from __future__ import annotations

import ast
import dataclasses
import itertools
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refkit.errors import ExitCode, InternalError, ParseError, VerificationFailed
from refkit.verification import (
    REGISTRY,
    AllOf,
    ChecksFailed,
    Outcome,
    PinnedRoot,
    Result,
    SignerKey,
    SignerSet,
    SigstoreSigner,
    Verdict,
    anchor_from_json,
    anchor_to_json,
    codes_markdown,
    exit_code,
)

ROOT = Path(__file__).resolve().parents[2]
PASS_CODE, FAIL_CODE, SKIP_CODE = (
    "manifest.threshold.met",
    "manifest.threshold.unmet",
    "manifest.expiry.absent",
)
KEY_ID = "ad1adbbbdf9d9707f93f41475fa2f486fd907783c573e57893d14a86d445126d"  # tests/assets key


def test_docs_codes_md_is_the_registry() -> None:
    """docs/codes.md is generated: `python -m refkit.verification > docs/codes.md`."""
    assert (ROOT / "docs" / "codes.md").read_text(encoding="utf-8") == codes_markdown()


def test_every_registered_code_is_listed_once_in_the_docs() -> None:
    text = codes_markdown()
    for code, info in REGISTRY.items():
        assert text.count(f"| `{code}` | {info.outcome.value} |") == 1


# Domains whose dotted strings are codes (a file path like "policy.digest" is not one).
_DOMAINS = ("manifest", "inputs", "evidence", "gpu", "weights", "tdx", "snp", "vtpm", "source")
_CODE_LIKE = re.compile(rf"(?:{'|'.join(_DOMAINS)})(?:\.[a-z][a-z0-9-]*)+")


def test_every_code_in_the_source_is_registered() -> None:
    """No code is invented ad hoc: every code-shaped string literal in src/ is registered
    (Result.of would raise InternalError at run time; this finds it before)."""
    unregistered = []
    for path in sorted((ROOT / "src" / "refkit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and _CODE_LIKE.fullmatch(node.value)
                and node.value not in REGISTRY
            ):
                unregistered.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}")
    assert not unregistered


def test_codes_are_dotted_lower_case() -> None:
    for code in REGISTRY:
        assert re.fullmatch(r"[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+", code), code


def test_the_fail_closed_codes_are_registered_as_failures() -> None:
    """The manifest model raises NotUnderstood with these codes; verify reports them."""
    for code in ("manifest.constraint.unknown", "manifest.schema.newer"):
        assert REGISTRY[code].outcome is Outcome.FAIL


def test_unregistered_code_is_an_internal_error() -> None:
    with pytest.raises(InternalError, match="not registered"):
        Result.of("manifest.made-up", "x", check="c")


def test_outcome_other_than_the_codes_is_an_internal_error() -> None:
    with pytest.raises(InternalError, match="is a pass code"):
        Result(PASS_CODE, Outcome.FAIL, "c", "x")


def test_of_builds_what_the_constructor_builds() -> None:
    """:meth:`Result.of` skips __init__ for speed; the value must be the constructor's."""
    args = {"subject": "s", "expected": "e", "actual": "a", "anchor": None, "required": False}
    built = Result.of(FAIL_CODE, "m", check="c", **args)  # type: ignore[arg-type]
    made = Result(FAIL_CODE, Outcome.FAIL, "c", "m", **args)  # type: ignore[arg-type]
    assert built == made
    assert hash(built) == hash(made)
    assert repr(built) == repr(made)
    other = built.for_subject("t")
    assert other == dataclasses.replace(made, subject="t")
    assert built.subject == "s"


# --- outcome x required -> exit code ----------------------------------------------------

_CODE_OF = {Outcome.PASS: PASS_CODE, Outcome.FAIL: FAIL_CODE, Outcome.NOT_CHECKED: SKIP_CODE}


def _r(outcome: Outcome, required: bool = True) -> Result:
    return Result.of(_CODE_OF[outcome], outcome.value, check="c", required=required)


@pytest.mark.parametrize(
    ("outcome", "required", "code"),
    [
        (Outcome.PASS, True, ExitCode.OK),
        (Outcome.PASS, False, ExitCode.OK),
        (Outcome.FAIL, True, ExitCode.VERIFICATION_FAILED),
        (Outcome.FAIL, False, ExitCode.VERIFICATION_FAILED),  # any fail is 1
        (Outcome.NOT_CHECKED, True, ExitCode.VERIFICATION_FAILED),  # required: 1
        (Outcome.NOT_CHECKED, False, ExitCode.OK),
    ],
)
def test_outcome_and_required_to_exit_code(outcome: Outcome, required: bool, code: int) -> None:
    result = _r(outcome, required)
    assert exit_code((result,)) == code
    verdict = Verdict("s", (_r(Outcome.PASS), result))
    assert verdict.exit_code == code
    assert verdict.ok is (code == ExitCode.OK)
    if code == ExitCode.OK:
        verdict.raise_for_failure()
    else:
        with pytest.raises(ChecksFailed) as info:
            verdict.raise_for_failure()
        assert info.value.exit_code == ExitCode.VERIFICATION_FAILED
        assert info.value.codes == (result.code,)
        assert result.code in info.value.message


@given(st.lists(st.tuples(st.sampled_from(list(Outcome)), st.booleans()), max_size=6))
def test_exit_code_is_1_exactly_when_something_fails(cases: list[tuple[Outcome, bool]]) -> None:
    results = tuple(_r(o, req) for o, req in cases)
    failing = any(o is Outcome.FAIL or (o is Outcome.NOT_CHECKED and req) for o, req in cases)
    assert (exit_code(results) == ExitCode.VERIFICATION_FAILED) is failing


def test_an_empty_verdict_is_never_a_yes() -> None:
    verdict = Verdict("nothing", ())
    assert not verdict.ok
    assert verdict.exit_code == ExitCode.VERIFICATION_FAILED
    with pytest.raises(VerificationFailed, match="nothing was checked"):
        verdict.raise_for_failure()


def test_all_of_runs_every_check() -> None:
    class Fixed:
        def __init__(self, result: Result) -> None:
            self.result = result

        def check(self, facts: int) -> Result:
            return self.result

    checks = (Fixed(_r(Outcome.FAIL)), Fixed(_r(Outcome.PASS)), Fixed(_r(Outcome.NOT_CHECKED)))
    results = AllOf(checks).run(0)
    assert [r.outcome for r in results] == [Outcome.FAIL, Outcome.PASS, Outcome.NOT_CHECKED]


def test_summary_counts() -> None:
    verdict = Verdict(
        "s", (_r(Outcome.PASS), _r(Outcome.FAIL), _r(Outcome.NOT_CHECKED, required=True))
    )
    assert verdict.summary == "1 of 3 checks passed, 1 failed, 1 not checked (1 of them required)"
    assert verdict.counts() == {"pass": 1, "fail": 1, "not-checked": 1, "required-not-checked": 1}


# --- JSON form and anchors ----------------------------------------------------------------

ROOT_ANCHOR = PinnedRoot("trusted_root.json", "ab" * 32)
KEY_ANCHOR = SignerKey("ed25519-test", "ed25519", KEY_ID)
ID_ANCHOR = SigstoreSigner(
    "ci",
    "https://github.com/o/r/.github/workflows/r.yml@refs/tags/v1",
    "https://token.actions.githubusercontent.com",
    ROOT_ANCHOR,
)
ANCHORS = [None, ROOT_ANCHOR, KEY_ANCHOR, ID_ANCHOR, SignerSet((KEY_ANCHOR, ID_ANCHOR), 2)]


@pytest.mark.parametrize("anchor", ANCHORS)
def test_anchor_json_round_trip(anchor: object) -> None:
    doc = anchor_to_json(anchor)  # type: ignore[arg-type]
    assert anchor_from_json(json.loads(json.dumps(doc)), source="t") == anchor


_RESULTS = st.builds(
    lambda code, msg, subject, exp, act, anchor, req: Result.of(
        code, msg, check="c", subject=subject, expected=exp, actual=act, anchor=anchor,
        required=req,
    ),
    st.sampled_from(sorted(REGISTRY)),
    st.text(min_size=1, max_size=20),
    st.none() | st.text(min_size=1, max_size=10),
    st.none() | st.text(max_size=10),
    st.none() | st.text(max_size=10),
    st.sampled_from(ANCHORS),
    st.booleans(),
)  # fmt: skip


@given(st.lists(_RESULTS, max_size=5))
def test_verdict_json_round_trip(results: list[Result]) -> None:
    verdict = Verdict("subject", tuple(results), {"time": "2026-12-01T00:00:00Z"})
    doc = json.loads(json.dumps(verdict.to_json()))
    assert Verdict.from_json(doc, source="t") == verdict


def test_result_json_form() -> None:
    r = Result.of(
        "inputs.digest.mismatch", "differs", check="file", subject="fw", expected="sha256:00"
    )
    assert r.to_json() == {
        "code": "inputs.digest.mismatch",
        "outcome": "fail",
        "ok": False,
        "check": "file",
        "subject": "fw",
        "message": "differs",
        "expected": "sha256:00",
        "actual": None,
        "anchor": None,
        "required": True,
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "manifest.newer-thing"}, "unknown verification code"),
        ({"outcome": "pass"}, "is not the outcome"),
        ({"ok": True}, "does not follow"),
        ({"extra": 1}, "unknown field"),
    ],
)
def test_result_from_json_refuses_what_it_does_not_know(
    change: dict[str, object], message: str
) -> None:
    doc = {**_r(Outcome.FAIL).to_json(), **change}
    with pytest.raises(ParseError, match=message):
        Result.from_json(doc, source="t")


def test_every_outcome_has_a_registered_code() -> None:
    for outcome in Outcome:
        assert any(i.outcome is outcome for i in REGISTRY.values())
    assert len(list(itertools.chain(REGISTRY))) == len(set(REGISTRY))


def test_each_code_table_owns_one_prefix() -> None:
    # ADR 0010: a capability's codes share its prefix, and no two tables share one, so a
    # code filed under another capability's table is caught here.
    from refkit.verification import tables

    owners: dict[str, int] = {}
    for number, table in enumerate(tables.ALL):
        prefixes = {info.code.split(".", 1)[0] for info in table}
        assert len(prefixes) == 1, f"table {number} mixes prefixes {sorted(prefixes)}"
        (prefix,) = prefixes
        assert owners.setdefault(prefix, number) == number, f"prefix {prefix!r} in two tables"
    assert sum(len(table) for table in tables.ALL) == len(REGISTRY)
