"""The only network code for NVIDIA GPU evidence: RIMs from NVIDIA's RIM service, by id.

NVIDIA's RIM service answers ``GET <base>/<RIM id>`` with a JSON object whose ``rim``
member is the base64 RIM document (``id`` repeats the id). :func:`fetch_rims` fetches each
id through the ``opener`` the caller passes (tests pass an in-memory fake), checks that
the answer is a RIM (hardened parse; the signature is checked at verification time, not
here), and writes it atomically into the RIM folder as ``<RIM id>.swidtag``. A RIM the
folder already holds (same id as file name and a parsable RIM) is not fetched again.
Verification reads the folder by content and never reaches the network.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from refkit.atomic import write_file
from refkit.errors import EnvironmentProblem, InputError, Location, ParseError
from refkit.evidence.gpu.rim import MAX_RIM_BYTES, parse_rim

#: NVIDIA's public RIM service (nvtrust's default).
RIM_SERVICE = "https://rim.attestation.nvidia.com/v1/rim/"
MAX_ANSWER_BYTES = 2 * MAX_RIM_BYTES
TIMEOUT_SECONDS = 30.0

_RIM_ID = re.compile(r"NV_[A-Z0-9_]+_[0-9A-Za-z.]+")


class Opener(Protocol):
    """Fetches one URL's body (at most ``limit`` bytes); raises OSError on failure."""

    def get(self, url: str, *, limit: int) -> bytes: ...


class UrllibOpener:
    """The real opener: one HTTPS GET with a timeout."""

    def __init__(self, timeout: float = TIMEOUT_SECONDS) -> None:
        self.timeout = timeout

    def get(self, url: str, *, limit: int) -> bytes:
        from refkit.evidence.http import https_get

        response = https_get(url, limit=limit, timeout=self.timeout, accept="application/json")
        if response.status != 200:
            raise OSError(f"{url}: HTTP {response.status}")
        return response.body


@dataclass(frozen=True)
class Fetched:
    rim_id: str
    path: Path
    fetched: bool  # False: already in the folder


class RimServiceUnavailable(EnvironmentProblem):
    """NVIDIA's RIM service could not be reached or refused a request (exit 3)."""


def check_rim_id(rim_id: str) -> str:
    if not _RIM_ID.fullmatch(rim_id):
        raise InputError(
            f"{rim_id[:80]!r} is not an NVIDIA RIM id",
            hint="RIM ids look like NV_GPU_DRIVER_GH100_550.90.07 or "
            "NV_GPU_VBIOS_1010_0200_882_96009F0001",
        )
    return rim_id


def rim_from_answer(answer: bytes, *, rim_id: str, source: str) -> bytes:
    """The RIM document in one RIM service answer."""
    try:
        value = json.loads(answer)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"not JSON: {exc}", location=Location(source)) from None
    if not isinstance(value, dict) or not isinstance(value.get("rim"), str):
        raise ParseError(
            "expected an object with a base64 rim", location=Location(source, field="$.rim")
        )
    if "id" in value and value["id"] != rim_id:
        raise ParseError(
            f"answers for {str(value['id'])[:80]!r}", location=Location(source, field="$.id")
        )
    try:
        data = base64.b64decode(value["rim"], validate=True)
    except (binascii.Error, ValueError):
        raise ParseError("rim is not base64", location=Location(source, field="$.rim")) from None
    parse_rim(data, source=f"{source} $.rim")
    return data


def fetch_rims(
    rim_ids: Sequence[str],
    folder: Path,
    *,
    opener: Opener,
    base: str = RIM_SERVICE,
    force: bool = False,
) -> tuple[Fetched, ...]:
    """Fetch every RIM id into ``folder`` (see the module doc)."""
    out = []
    for rim_id in rim_ids:
        check_rim_id(rim_id)
        path = folder / f"{rim_id}.swidtag"
        if path.is_file() and not force:
            try:
                parse_rim(path.read_bytes(), source=str(path))
                out.append(Fetched(rim_id, path, False))
                continue
            except (ParseError, OSError):
                pass  # refetch a damaged copy
        url = base + rim_id
        try:
            answer = opener.get(url, limit=MAX_ANSWER_BYTES)
        except OSError as exc:
            raise RimServiceUnavailable(
                f"cannot fetch RIM {rim_id} from {url}: {exc}",
                hint="fetch where the service is reachable and copy the RIM folder here; "
                "verification itself never needs the network",
            ) from exc
        data = rim_from_answer(answer, rim_id=rim_id, source=url)
        write_file(path, data, force=True)
        out.append(Fetched(rim_id, path, True))
    return tuple(out)
