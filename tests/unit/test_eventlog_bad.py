"""Bad event logs: typed ParseErrors naming the offset, never a crash, never a plausible
wrong value; fuzzing on arbitrary bytes and on mutations of the real logs."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refkit.errors import InputError, ParseError
from refkit.measure.eventlog import (
    MAX_LOG_BYTES,
    LogFormat,
    load_expectation,
    log_document,
    parse_log,
    read_log,
    replay_log,
)
from refkit.measure.eventlog.decode import decode_event
from refkit.measure.eventlog.devicepath import device_path_text
from tests.eventlog_support import (
    EV_SEPARATOR,
    TCG2_LOGS,
    Ev,
    boot_events,
    build_log,
    event2,
    spec_id_event,
)
from tests.shared import FUZZ_EXAMPLES, assert_not_a_bug, vector

HEADER = len(spec_id_event(("sha256",)))  # 32 + 16 + 8 + 4 + 4 + 1 = 65


def _error(data: bytes, **kw: object) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_log(data, source="bad.bin", **kw)  # type: ignore[arg-type]
    assert info.value.location.source == "bad.bin"
    return info.value


def test_truncated_at_every_byte() -> None:
    events = boot_events()
    full = build_log(events, ("sha1", "sha256"))
    bounds = {len(build_log(events[:n], ("sha1", "sha256"))): n for n in range(len(events) + 1)}
    for cut in range(len(full)):
        data = full[:cut]
        if cut in bounds:  # ends between two events: a valid, shorter log
            assert len(parse_log(data).events) == 1 + bounds[cut]
            continue
        err = _error(data)
        assert err.location.offset is not None
        assert err.location.offset <= cut


def test_unknown_algorithm_in_header() -> None:
    data = spec_id_event(("sha256",), alg_ids={"sha256": 0x00AB}) + b""
    err = _error(data)
    assert "unknown hash algorithm 0x00ab" in err.reason
    assert err.location.offset == 0x20 + 28  # first algorithm entry of the Spec ID event


def test_digest_size_disagreeing_with_the_header() -> None:
    err = _error(spec_id_event(("sha256",), sizes={"sha256": 20}))
    assert "sha256 digest size is 20" in err.reason
    assert err.location.offset == 0x20 + 30


def test_absurd_algorithm_count() -> None:
    err = _error(spec_id_event(("sha256",), count=0xFFFFFFFF))
    assert "numberOfAlgorithms" in err.reason


def test_event_with_an_algorithm_the_header_does_not_declare() -> None:
    ev = event2(Ev(0, EV_SEPARATOR, bytes(4)), ("sha384",))
    err = _error(spec_id_event(("sha256",)) + struct.pack("<III", 0, EV_SEPARATOR, 1) + ev[12:])
    assert "sha384 is not one of the header's banks" in err.reason
    assert err.location.offset == HEADER + 12


def test_event_with_unknown_algorithm() -> None:
    body = struct.pack("<IIIH", 0, EV_SEPARATOR, 1, 0x7777) + bytes(32) + struct.pack("<I", 0)
    err = _error(spec_id_event(("sha256",)) + body)
    assert "unknown hash algorithm 0x7777" in err.reason


def test_digest_count_disagreeing_with_the_header() -> None:
    ev = event2(Ev(0, EV_SEPARATOR, bytes(4)), ("sha1", "sha256"))
    err = _error(spec_id_event(("sha1", "sha256", "sha384")) + ev)
    assert "carries 2 digests, the header declares 3" in err.reason
    assert err.location.offset == len(spec_id_event(("sha1", "sha256", "sha384"))) + 8


def test_the_same_digest_twice() -> None:
    one = struct.pack("<H", 0xB) + bytes(32)
    body = struct.pack("<III", 0, EV_SEPARATOR, 2) + one + one + struct.pack("<I", 0)
    err = _error(spec_id_event(("sha1", "sha256")) + body)
    assert "sha256 digest given twice" in err.reason
    assert err.location.offset == len(spec_id_event(("sha1", "sha256"))) + 12 + 34


def test_an_algorithm_listed_twice_in_the_header() -> None:
    header = spec_id_event(("sha1", "sha256")).replace(b"\x04\x00\x14\x00", b"\x0b\x00\x20\x00")
    assert "listed twice" in _error(header).reason


def test_absurd_event_size() -> None:
    data = build_log([Ev(0, EV_SEPARATOR, bytes(4))], ("sha256",))
    bad = data[:-8] + struct.pack("<I", 0xFFFFFFF0) + data[-4:]
    err = _error(bad)
    assert "runs past the end" in err.reason
    assert err.location.offset == len(data) - 8


@pytest.mark.parametrize("index", [24, 0xFFFFFFFE])
def test_pcr_index_out_of_range(index: int) -> None:
    err = _error(build_log([Ev(index, EV_SEPARATOR, bytes(4))], ("sha256",)))
    assert "PCR index" in err.reason
    assert err.location.offset == HEADER


@pytest.mark.parametrize("index", [0, 5])
def test_ccel_mr_index_out_of_range(index: int) -> None:
    data = build_log([Ev(index, EV_SEPARATOR, bytes(4))], ("sha384",), header_index=1)
    err = _error(data)
    assert "MR index" in err.reason


def test_garbage_after_the_last_event() -> None:
    data = build_log(boot_events(), ("sha256",), padding=b"\xff" * 10 + b"\x01" + b"\xff" * 10)
    _error(data)


def test_not_a_crypto_agile_log() -> None:
    # a SHA-1-only (TCG 1.2) log starts with a measured event, not the Spec ID header
    legacy = struct.pack("<II", 0, 8) + bytes(20) + struct.pack("<I", 4) + b"abcd"
    assert "crypto-agile" in _error(legacy).reason
    other = spec_id_event(("sha256",)).replace(b"Spec ID Event03", b"Spec ID Event02")
    assert "Spec ID Event03" in _error(other).reason


def test_ambiguous_header_index_needs_a_format() -> None:
    data = build_log(boot_events(), ("sha256",), header_index=1)
    assert "neither" in _error(data).reason
    assert parse_log(data, log_format=LogFormat.TCG2).format is LogFormat.TCG2


def test_empty_and_tiny_inputs() -> None:
    for data in (b"", b"\0", b"\xff" * 40):
        _error(data)


def test_oversized_and_endless_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_log("/dev/zero")
    big = tmp_path / "big.bin"
    with big.open("wb") as fh:
        fh.truncate(MAX_LOG_BYTES + 1)
    with pytest.raises(InputError):
        read_log(big)


def test_malformed_event_data_is_described_not_raised() -> None:
    for name in (0x80000001, 0x80000003, 0x80000006, 0x8000000A, 0x8000000B, 0x6):
        decoded = decode_event(name, b"\x01\x02\x03")
        assert decoded.description.startswith("malformed ")
    assert device_path_text(b"\x04\x04\x02\x00").startswith("<bad node length")


def test_bad_expectation_files(tmp_path: Path) -> None:
    cases = {
        "empty.json": b"{}",
        "events.json": b'{"events": [{"register": "pcr99", "eventType": "x", "digests": {}}]}',
        "bank.json": b'{"registers": {"md5": {"pcr0": "00"}}}',
        "hex.json": b'{"registers": {"sha256": {"pcr0": "zz"}}}',
        "log.bin": b"\x00\x01",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(InputError):
            load_expectation(path, log_format=LogFormat.TCG2)


# -- fuzzing --------------------------------------------------------------------------------


def _exercise(data: bytes) -> None:
    """Parse; if it parses, everything downstream must work on it too."""
    try:
        log = parse_log(data, source="fuzz")
    except ParseError as exc:
        assert_not_a_bug(exc)
        where = exc.location.source
        assert where == "fuzz"
        return
    values = replay_log(log)
    log_document(log, values)
    for event in log.events:
        assert event.decoded.description is not None


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _exercise(data)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_after_a_valid_header(tail: bytes) -> None:
    _exercise(spec_id_event(("sha1", "sha256")) + tail)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(
    st.sampled_from(TCG2_LOGS),
    st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["replace", "insert", "delete", "truncate"]),
)
def test_fuzz_mutated_real_logs(name: str, edits: list[tuple[int, int]], how: str) -> None:
    data = bytearray(_real(name))
    for pos, value in edits:
        at = pos % len(data)
        if how == "replace":
            data[at] = value
        elif how == "insert":
            data.insert(at, value)
        elif how == "delete":
            del data[at]
        else:
            del data[at:]
            break
    _exercise(bytes(data))


_CACHE: dict[str, bytes] = {}


def _real(name: str) -> bytes:
    if name not in _CACHE:
        _CACHE[name] = vector("eventlog", name).read_bytes()
    return _CACHE[name]


def test_a_changed_digest_byte_changes_the_replayed_value() -> None:
    """No mutation inside a digest can leave the register values as they were."""
    data = _real(TCG2_LOGS[0])
    log = parse_log(data)
    base = replay_log(log)
    event = log.events[5]
    at = event.offset + 12 + 2  # first digest's first byte
    changed = bytearray(data)
    changed[at] ^= 0x01
    after = replay_log(parse_log(bytes(changed)))
    bank = log.banks[0]
    assert after[bank][event.register] != base[bank][event.register]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
_EVENT = st.fixed_dictionaries(
    {
        "register": st.sampled_from(["pcr0", "rtmr1", "pcr24", "x"]),
        "eventType": st.text(max_size=10),
        "digests": st.dictionaries(
            st.sampled_from(["sha1", "sha256", "sha384", "md5"]),
            st.sampled_from(["00" * 20, "00" * 32, "00" * 48, "zz", 1]),
            max_size=3,
        ),
    },
    optional={"description": _JSON, "source": _JSON, "extended": _JSON},
)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(
    st.one_of(
        _JSON,
        st.fixed_dictionaries({"events": st.lists(_EVENT | _JSON, max_size=3)}),
        st.fixed_dictionaries({"registers": _JSON}),
    )
)
def test_fuzz_expectation_documents(value: object) -> None:
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "expect.json"
        path.write_text(json.dumps(value))
        try:
            load_expectation(path, log_format=LogFormat.TCG2)
        except InputError as exc:
            assert_not_a_bug(exc)


def test_absurd_event_count(monkeypatch: pytest.MonkeyPatch) -> None:
    from refkit.measure.eventlog import log as log_module

    monkeypatch.setattr(log_module, "MAX_EVENTS", 3)
    data = build_log(boot_events(), ("sha256",))
    assert "more than 3 events" in _error(data).reason
    assert len(parse_log(build_log(boot_events()[:3], ("sha256",))).events) == 4
