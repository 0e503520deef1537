"""Where fetched certificates and collateral are cached, and the one real opener.

Verification never reaches the network: ``refkit evidence fetch`` is the one command that
does, by handing :func:`http_opener` to a family's fetcher (AMD's key distribution service,
Intel's provisioning certification service). The fetchers take the opener as a parameter,
so tests pass an in-memory fake; this module holds nothing else that does I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from refkit import __version__
from refkit.errors import EnvironmentProblem
from refkit.evidence.families import Opener

#: Largest response body accepted (certificate chains, CRLs, TCB info are far smaller).
MAX_RESPONSE_BYTES = 16 << 20


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/refkit/evidence``, else ``~/.cache/refkit/evidence``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or ""
    root = (
        Path(base) if os.path.isabs(base) else Path(env.get("HOME") or "~").expanduser() / ".cache"
    )
    return root / "refkit" / "evidence"


def http_opener(*, timeout: float = 30.0) -> Opener:
    """An opener over HTTPS (urllib): one GET per call, the body at most
    :data:`MAX_RESPONSE_BYTES`; every failure is an :class:`EnvironmentProblem` (exit 3)
    naming the URL, an HTTP 429 (rate limit) with a hint to wait."""

    def open_url(url: str) -> bytes:
        import urllib.error
        import urllib.request

        if not url.startswith("https://"):
            raise EnvironmentProblem(f"refusing to fetch {url}: only https:// is used")
        request = urllib.request.Request(  # noqa: S310 - https only, checked above
            url, headers={"User-Agent": f"refkit/{__version__}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                body: bytes = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            hint = (
                "the service limits how often it answers (AMD's: about one certificate "
                "every 10 seconds per address): wait and run the fetch again"
                if exc.code == 429
                else None
            )
            raise EnvironmentProblem(f"{url}: HTTP {exc.code} {exc.reason}", hint=hint) from exc
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EnvironmentProblem(
                f"cannot fetch {url}: {reason}",
                hint="verification works offline once the files are fetched or given",
            ) from exc
        if len(body) > MAX_RESPONSE_BYTES:
            raise EnvironmentProblem(f"{url}: the answer is larger than {MAX_RESPONSE_BYTES}")
        return body

    return open_url
