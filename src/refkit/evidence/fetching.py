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
    """An opener over HTTPS: one GET per call, the body of a 200 answer at most
    :data:`MAX_RESPONSE_BYTES` (:func:`refkit.evidence.http.body_opener`)."""
    from refkit.evidence.http import body_opener

    return body_opener(limit=MAX_RESPONSE_BYTES, timeout=timeout)
