"""Fetching RIMs from NVIDIA's RIM service through an in-memory fake opener (no network)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from refkit.errors import EnvironmentProblem, InputError, ParseError
from refkit.evidence import gpu
from refkit.evidence.gpu import fetch
from tests import gpu_support as gs

pytestmark = pytest.mark.vectors

DRIVER_ID = "NV_GPU_DRIVER_GH100_545.00"
VBIOS_ID = "NV_GPU_VBIOS_1010_0200_882_96005E0001"


class FakeOpener:
    def __init__(self, answers: dict[str, bytes]) -> None:
        self.answers = answers
        self.urls: list[str] = []

    def get(self, url: str, *, limit: int) -> bytes:
        self.urls.append(url)
        if url not in self.answers:
            raise OSError("connection refused")
        return self.answers[url][:limit]


def _answer(rim_id: str, name: str) -> bytes:
    return json.dumps(
        {"id": rim_id, "rim": base64.b64encode(gs.read(name)).decode(), "rim_format": "SWID"}
    ).encode()


def test_fetch_fills_a_store_that_verifies(tmp_path: Path) -> None:
    opener = FakeOpener(
        {
            fetch.RIM_SERVICE + DRIVER_ID: _answer(DRIVER_ID, gs.DRIVER_RIM),
            fetch.RIM_SERVICE + VBIOS_ID: _answer(VBIOS_ID, gs.VBIOS_RIM),
        }
    )
    (ev,) = gpu.parse(gs.read(gs.H100_545[0]), source="r", chain=gs.read(gs.H100_545[1]))
    got = fetch.fetch_rims(ev.rim_ids, tmp_path, opener=opener)
    assert [f.fetched for f in got] == [True, True]
    assert (tmp_path / f"{DRIVER_ID}.swidtag").read_bytes() == gs.read(gs.DRIVER_RIM)
    store = gpu.RimStore.open(tmp_path)
    assert gpu.GpuVerifier(at=gs.AT, rims=store.rims).verify_all([ev], nonce=gs.NONCE_545).ok
    # A second run reuses the folder and asks nothing.
    again = fetch.fetch_rims(ev.rim_ids, tmp_path, opener=opener)
    assert [f.fetched for f in again] == [False, False]
    assert len(opener.urls) == 2


def test_unreachable_service_is_an_environment_problem(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="cannot fetch RIM") as info:
        fetch.fetch_rims([DRIVER_ID], tmp_path, opener=FakeOpener({}))
    assert info.value.hint
    assert "never needs the network" in info.value.hint
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "answer",
    [
        b"not json",
        b"[]",
        b'{"rim": 5}',
        b'{"rim": "***"}',
        json.dumps({"id": "NV_GPU_DRIVER_GH100_1.0", "rim": "PGEvPg=="}).encode(),
        json.dumps({"rim": base64.b64encode(b"<!DOCTYPE a><a/>").decode()}).encode(),
    ],
)
def test_bad_answers_are_parse_errors_and_write_nothing(tmp_path: Path, answer: bytes) -> None:
    opener = FakeOpener({fetch.RIM_SERVICE + DRIVER_ID: answer})
    with pytest.raises(ParseError):
        fetch.fetch_rims([DRIVER_ID], tmp_path, opener=opener)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("bad", ["../etc/passwd", "NV_GPU/../x", "", "nv_gpu_driver"])
def test_rim_ids_are_checked_before_any_url_is_built(tmp_path: Path, bad: str) -> None:
    opener = FakeOpener({})
    with pytest.raises(InputError):
        fetch.fetch_rims([bad], tmp_path, opener=opener)
    assert opener.urls == []
