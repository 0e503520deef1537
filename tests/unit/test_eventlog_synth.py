"""Logs synthesized from known events replay to independently computed values; the
expectation checks and first_difference name the event that differs."""

from __future__ import annotations

import hashlib
import struct
import subprocess
from pathlib import Path

import pytest

from refkit.errors import ParseError
from refkit.measure.eventlog import (
    Expectation,
    LogFormat,
    check,
    first_difference,
    parse_expect,
    parse_log,
    read_log,
    replay_log,
)
from refkit.measure.events import MeasuredEvent
from tests.eventlog_support import (
    EV_EFI_ACTION,
    EV_NO_ACTION,
    EV_SEPARATOR,
    Ev,
    boot_events,
    build_log,
    expected_registers,
    peer_pcrs,
    tpm2_eventlog,
)

BANKS = ("sha1", "sha256", "sha384", "sha512")


@pytest.mark.parametrize(
    "banks", [("sha256",), ("sha1", "sha256"), ("sha384",), BANKS, ("sha512", "sha1")]
)
def test_synthesized_tcg2_log_replays_to_the_independent_values(banks: tuple[str, ...]) -> None:
    events = boot_events()
    log = parse_log(build_log(events, banks), source="synth")
    assert log.format is LogFormat.TCG2
    assert log.banks == banks
    values = replay_log(log)
    for bank in banks:
        assert dict(values[bank]) == expected_registers(events, bank)
    assert log.command_lines == ("/vmlinuz root=/dev/sda1 ro",)


def test_startup_locality_sets_pcr0_initial_value() -> None:
    events = [Ev(0, EV_NO_ACTION, b"StartupLocality\0\x03"), *boot_events()]
    log = parse_log(build_log(events, ("sha256",)), source="synth")
    assert log.startup_locality == 3
    assert dict(replay_log(log)["sha256"]) == expected_registers(events, "sha256")


@pytest.mark.peer
def test_synthesized_log_equals_tpm2_eventlog(tmp_path: Path) -> None:
    path = tmp_path / "log.bin"
    path.write_bytes(build_log(boot_events(), ("sha1", "sha256", "sha384")))
    ours = {b: dict(v) for b, v in replay_log(read_log(path)).items()}
    assert ours == peer_pcrs(tpm2_eventlog(path))


@pytest.mark.peer
def test_startup_locality_where_tpm2_eventlog_5_4_differs(tmp_path: Path) -> None:
    """tpm2-tools before 5.6 extends EV_NO_ACTION events into their PCR (tpm2-tools issue
    3224, fixed by PR 3230) and knows no StartupLocality (PR 3242). refkit follows PFP
    10.4.5.3: PCR 0 starts at the locality, the event itself extends nothing."""
    locality = Ev(0, EV_NO_ACTION, b"StartupLocality\0\x03", {"sha256": bytes(32)})
    events = [locality, *boot_events()]
    path = tmp_path / "log.bin"
    path.write_bytes(build_log(events, ("sha256",)))
    ours = dict(replay_log(read_log(path))["sha256"])
    assert ours == expected_registers(events, "sha256")
    separator = hashlib.sha256(bytes(4)).digest()
    peer = peer_pcrs(tpm2_eventlog(path))["sha256"]
    assert peer["pcr4"] == ours["pcr4"]
    version = subprocess.run(
        ["tpm2_eventlog", "--version"], capture_output=True, text=True, check=True
    ).stdout
    if 'version="5.4' in version or 'version="5.5' in version:
        # the old peer: PCR 0 = H(H(0 || zero digest of the EV_NO_ACTION) || separator)
        buggy = hashlib.sha256(hashlib.sha256(bytes(64)).digest() + separator).hexdigest()
        assert peer["pcr0"] == buggy != ours["pcr0"]
    else:
        assert peer["pcr0"] == ours["pcr0"]


def test_synthesized_ccel_log() -> None:
    # MR index 1-4 = RTMR0-3; header at MR 1; the unused log area is 0xFF
    events = [
        Ev(1, EV_SEPARATOR, bytes(4)),
        Ev(2, EV_EFI_ACTION, b"Calling EFI Application from Boot Option"),
        Ev(3, 0xD, b"kernel_cmdline: console=hvc0\0"),
        Ev(4, EV_EFI_ACTION, b"app event"),
        Ev(2, EV_NO_ACTION, b"whatever"),
    ]
    data = build_log(events, ("sha384",), header_index=1, padding=b"\xff" * 4096)
    log = parse_log(data, source="ccel")
    assert log.format is LogFormat.CCEL
    values = dict(replay_log(log)["sha384"])
    assert values == expected_registers(events, "sha384", name="rtmr", offset=1)
    assert log.end == len(data) - 4096
    # as a TCG2 log the same events are PCRs 1-4
    tcg = parse_log(data, source="ccel", log_format=LogFormat.TCG2)
    assert set(replay_log(tcg)["sha384"]) == {"pcr1", "pcr2", "pcr3", "pcr4"}


def test_ccel_lists_all_four_rtmrs() -> None:
    data = build_log([Ev(2, EV_SEPARATOR, bytes(4))], ("sha384",), header_index=1)
    values = dict(replay_log(parse_log(data))["sha384"])
    assert values["rtmr0"] == values["rtmr2"] == values["rtmr3"] == "00" * 48
    assert values["rtmr1"] == expected_registers([Ev(2, EV_SEPARATOR, bytes(4))], "sha384")["pcr2"]


def test_trailing_zero_area_ends_the_log() -> None:
    data = build_log(boot_events(), ("sha256",), padding=bytes(100))
    log = parse_log(data)
    assert len(log.events) == 1 + len(boot_events())


# -- expectations ---------------------------------------------------------------------------


def _computed(events: list[Ev], bank: str, *, source: str) -> list[MeasuredEvent]:
    return [
        MeasuredEvent(
            register=f"pcr{e.index}",
            event_type="EV_X",
            digests={bank: e.digest(bank).hex()},
            description=f"computed {i}",
            source=f"{source} {i}",
        )
        for i, e in enumerate(events)
        if e.event_type != EV_NO_ACTION
    ]


def test_first_difference_names_the_first_differing_event() -> None:
    events = boot_events()
    log = parse_log(build_log(events, ("sha256",)), source="live.bin")
    logged = log.measured_events()
    computed = _computed(events, "sha256", source="kernel")
    assert first_difference(logged, computed, "pcr4", "sha256") is None
    changed = list(events)
    changed[5] = Ev(4, EV_EFI_ACTION, b"Exit Boot Services Returned with Success")
    diff = first_difference(logged, _computed(changed, "sha256", source="kernel"), "pcr4", "sha256")
    assert diff is not None
    assert diff.position == 1
    assert diff.logged is not None
    assert diff.logged.description == "Exit Boot Services Invocation"
    assert diff.computed is not None
    assert diff.computed.source == "kernel 5"
    assert "event 2 of pcr4 differs" in diff.text
    assert "kernel 5" in diff.text
    assert "log offset 0x" in diff.text
    # fewer logged events than computed, and more
    more = [*computed, computed[3]]
    missing = first_difference(logged, more, "pcr4", "sha256")
    assert missing is not None
    assert missing.logged is None
    assert missing.position == 2
    extra = first_difference(logged, computed[:4], "pcr4", "sha256")
    assert extra is not None
    assert extra.computed is None


def test_check_with_values_and_events() -> None:
    events = boot_events()
    log = parse_log(build_log(events, ("sha256", "sha384")), source="live.bin")
    good = expected_registers(events, "sha256")
    verdict = check(log, [Expectation("values", {("sha256", "pcr7"): good["pcr7"]})])
    assert verdict.ok
    assert [r.code for r in verdict.results] == ["eventlog.register.match"]

    wrong = hashlib.sha256(b"x").hexdigest()
    verdict = check(log, [Expectation("values", {("sha256", "pcr7"): wrong})])
    assert not verdict.ok
    (r,) = verdict.results
    assert r.code == "eventlog.register.mismatch"
    assert r.expected == wrong
    assert r.actual == good["pcr7"]
    assert "2 logged events fed it" in r.message

    absent = check(log, [Expectation("values", {("sha1", "pcr7"): "00" * 20})])
    assert [r.code for r in absent.results] == ["eventlog.bank.absent"]

    # a register no event extends replays to zero
    zero = check(log, [Expectation("values", {("sha256", "pcr11"): "00" * 32})])
    assert zero.ok

    changed = list(events)
    changed[3] = Ev(4, EV_EFI_ACTION, b"Calling EFI Application from somewhere else")
    verdict = check(
        log, [Expectation("kernel", events=tuple(_computed(changed, "sha256", source="k")))]
    )
    codes = {(r.code, r.subject) for r in verdict.results}
    assert ("eventlog.register.mismatch", "sha256:pcr4") in codes
    assert ("eventlog.event.differs", "sha256:pcr4") in codes
    assert ("eventlog.events.match", "sha256:pcr7") in codes
    assert ("eventlog.register.match", "sha256:pcr7") in codes
    # the sha384 bank has no computed events: nothing is claimed about it
    assert not any(r.subject and "sha384" in r.subject for r in verdict.results)


def test_check_passes_when_one_of_several_entries_matches() -> None:
    events = boot_events()
    log = parse_log(build_log(events, ("sha256",)))
    good = expected_registers(events, "sha256")["pcr4"]
    entries = [
        Expectation("shape 1", {("sha256", "pcr4"): "11" * 32}),
        Expectation("shape 2", {("sha256", "pcr4"): good}),
    ]
    verdict = check(log, entries)
    assert verdict.ok
    assert verdict.facts["expected from"] == "shape 2"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("rtmr1=" + "ab" * 48, ("sha384", "rtmr1")),
        ("pcr7=" + "ab" * 32, ("sha256", "pcr7")),
        ("PCR7=0x" + "AB" * 20, ("sha1", "pcr7")),
        ("sha384:pcr11=" + "ab" * 48, ("sha384", "pcr11")),
    ],
)
def test_parse_expect(text: str, key: tuple[str, str]) -> None:
    assert parse_expect(text)[0] == key


@pytest.mark.parametrize(
    "text",
    [
        "rtmr4=00",
        "pcr24=" + "00" * 32,
        "pcr7",
        "pcr7=zz",
        "pcr7=" + "00" * 21,
        "md5:pcr7=" + "00" * 16,
        "sha1:pcr7=" + "00" * 32,
        "rtmr0=" + "00" * 32,
    ],
)
def test_parse_expect_refuses(text: str) -> None:
    with pytest.raises(ParseError):
        parse_expect(text)


def test_event_size_of_every_bank_is_checked() -> None:
    # an event whose sha256 digest is cut short runs into the next field: a typed error
    data = build_log(boot_events(), ("sha256",))
    cut = data[:-10] + struct.pack("<I", 0xFFFFFF)
    with pytest.raises(ParseError):
        parse_log(cut)


def test_computed_events_in_a_bank_the_log_lacks() -> None:
    events = boot_events()
    log = parse_log(build_log(events, ("sha256",)))
    computed = tuple(_computed(events, "sha384", source="k"))
    verdict = check(log, [Expectation("kernel", events=computed)])
    assert not verdict.ok
    assert {r.code for r in verdict.results} == {"eventlog.bank.absent"}


def test_tdx_measure_document_gives_one_candidate_per_rtmr0(tmp_path: Path) -> None:
    """The shape `refkit measure tdx --json` writes: top-level RTMR1/2 events, and RTMR0
    values per shape, each with its events (fields as refkit.measure.tdx.document)."""
    import json

    from refkit.measure.eventlog import load_expectation
    from refkit.measure.events import event_json

    rt = [
        Ev(1, EV_SEPARATOR, bytes(4)),
        Ev(2, EV_EFI_ACTION, b"Calling EFI Application from Boot Option"),
        Ev(2, EV_SEPARATOR, bytes(4)),
    ]
    log = parse_log(build_log(rt, ("sha384",), header_index=1), source="ccel")

    def measured(ev: Ev) -> dict[str, object]:
        return event_json(
            MeasuredEvent(
                register=f"rtmr{ev.index - 1}",
                event_type="EV",
                digests={"sha384": ev.digest("sha384").hex()},
                description="computed",
                source="platform data",
            )
        )

    other = Ev(1, EV_SEPARATOR, b"\x01\x00\x00\x00")
    doc = {
        "kind": "tdx",
        "events": [measured(e) for e in rt[1:]],
        "rtmr0": [
            {
                "origin": "dir-a",
                "shape": {"vcpus": 2},
                "value": "00" * 48,
                "events": [measured(other)],
            },
            {
                "origin": "dir-b",
                "shape": {"vcpus": 4},
                "value": "00" * 48,
                "events": [measured(rt[0])],
            },
        ],
    }
    path = tmp_path / "tdx.json"
    path.write_text(json.dumps(doc))
    candidates = load_expectation(path, log_format=LogFormat.CCEL)
    assert len(candidates) == 2
    verdict = check(log, candidates)
    assert verdict.ok
    assert "dir-b (vcpus 4)" in verdict.facts["expected from"]
    # with only the non-matching shape, RTMR0's first event is named
    doc["rtmr0"] = doc["rtmr0"][:1]
    path.write_text(json.dumps(doc))
    verdict = check(log, load_expectation(path, log_format=LogFormat.CCEL))
    assert not verdict.ok
    (differs,) = [r for r in verdict.results if r.code == "eventlog.event.differs"]
    assert differs.subject == "rtmr0"
    assert "platform data" in differs.message


def test_linux_efi_stub_tagged_events() -> None:
    # TCG_PCClientTaggedEvent (PFP 10.4.2.1): u32 id, u32 size, data; ids from the Linux
    # EFI stub. The digest is of the load options, which the log does not carry.
    data = struct.pack("<II", 0x8F3B22ED, 26) + b"LOADED_IMAGE::LoadOptions\0"
    log = parse_log(build_log([Ev(9, 0x6, data, {"sha256": bytes(32)})], ("sha256",)))
    words = log.events[1].decoded.description
    assert words.startswith("kernel load options")
    assert "LOADED_IMAGE::LoadOptions" in words
    assert log.command_lines == ()
