"""The one HTTPS client of the evidence fetchers (AMD's key distribution service, Intel's
provisioning certification service, NVIDIA's RIM service).

Only ``refkit evidence fetch`` calls it, by handing a family's fetcher an opener built
here; fetchers take the opener as a parameter, so tests pass in-memory fakes and
verification never reaches the network. HTTPS only, a timeout, a size limit, a
``User-Agent`` naming refkit; transport failures are :class:`FetchFailed` (exit 3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from refkit import __version__
from refkit.errors import EnvironmentProblem

TIMEOUT = 30.0


class FetchFailed(EnvironmentProblem):
    """A service could not be reached, or did not answer with what was asked (exit 3)."""


@dataclass(frozen=True)
class HttpResponse:
    """One HTTP answer; ``headers`` keys in lower case."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, *names: str) -> str | None:
        """The first of ``names`` present (case-insensitive), else None."""
        for name in names:
            value = self.headers.get(name.lower())
            if value is not None:
                return value
        return None


def https_get(
    url: str, *, limit: int, timeout: float = TIMEOUT, accept: str | None = None
) -> HttpResponse:
    """GET ``url`` (https only). An HTTP error status is returned, not raised; a body over
    ``limit`` bytes, a refused scheme or a transport failure is :class:`FetchFailed`."""
    import urllib.error
    import urllib.request

    if not url.startswith("https://"):
        raise FetchFailed(f"refusing to fetch {url}: only https:// is used")
    headers = {"User-Agent": f"refkit/{__version__}"}
    if accept is not None:
        headers["Accept"] = accept
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - https only
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read(limit + 1)
            got = {k.lower(): v for k, v in response.headers.items()}
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return HttpResponse(exc.code, b"", {k.lower(): v for k, v in exc.headers.items()})
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise FetchFailed(
            f"cannot fetch {url}: {getattr(exc, 'reason', exc)}",
            hint="verification works offline once the files are fetched or given",
        ) from None
    if len(body) > limit:
        raise FetchFailed(f"{url}: the answer is larger than {limit} bytes")
    return HttpResponse(status, body, got)


def body_opener(*, limit: int, timeout: float = TIMEOUT) -> Callable[[str], bytes]:
    """An opener returning the body of a 200 answer; any other status is
    :class:`FetchFailed`, a 429 (rate limit) with a hint to wait."""

    def open_url(url: str) -> bytes:
        response = https_get(url, limit=limit, timeout=timeout)
        if response.status != 200:
            hint = (
                "the service limits how often it answers (AMD's: about one certificate "
                "every 10 seconds per address): wait and run the fetch again; cached "
                "files are reused"
                if response.status == 429
                else None
            )
            raise FetchFailed(f"{url}: HTTP {response.status}", hint=hint)
        return response.body

    return open_url
