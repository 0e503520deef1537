"""Signing: keyless signing that fails cleanly offline (no test reaches the network)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refkit.errors import EnvironmentProblem, ExitCode
from refkit.manifests.signing import keyless
from refkit.manifests.signing.keyless import SigstoreSigner
from refkit.manifests.signing.sign import sign_manifest
from tests.signing_support import statement


class _FakeOfflineSigner:
    """Stands in for Sigstore when the network is gone."""

    def __init__(self) -> None:
        self.calls = 0

    def sign_dsse(self, payload: bytes) -> bytes:
        self.calls += 1
        raise keyless.KeylessSigningFailed(
            "keyless signing with Sigstore failed: network unreachable",
            hint="keyless signing needs the network; signing with a key works offline",
        )


def test_sign_manifest_passes_the_canonical_bytes_to_the_keyless_signer() -> None:
    fake = _FakeOfflineSigner()
    with pytest.raises(EnvironmentProblem):
        sign_manifest(statement(), source="s", keyless=fake)
    assert fake.calls == 1


def test_real_sigstore_signer_fails_with_exit_3_without_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The real signing code, with every connection refused (no test reaches the network)."""
    pytest.importorskip("sigstore", reason="needs sigstore-python (the sigstore extra)")

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise OSError(101, "Network is unreachable (test)")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setenv("HOME", str(tmp_path))  # an empty TUF cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    signer = SigstoreSigner(identity_token="not-a-real-token")
    with pytest.raises(EnvironmentProblem, match="keyless signing with Sigstore") as err:
        signer.sign_dsse(statement())
    assert err.value.exit_code == ExitCode.ENVIRONMENT
    assert "with a key works offline" in (err.value.hint or "")
    assert "--" not in err.value.diagnostics()  # library messages never name CLI flags


def test_cli_sign_sigstore_offline_is_exit_3(
    run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(keyless, "SigstoreSigner", lambda **kw: _FakeOfflineSigner())
    src = tmp_path / "s.json"
    src.write_bytes(statement())
    out = tmp_path / "b.json"
    r = run_cli("manifest", "sign", src, "--sigstore", "-o", out)
    assert r.code == ExitCode.ENVIRONMENT
    assert "network unreachable" in r.stderr
    assert "signing with a key works offline: --key KEY" in r.stderr  # the CLI names the flag
    assert not out.exists()


def test_sigstore_missing_is_environment_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "sigstore" or name.startswith("sigstore."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(EnvironmentProblem, match="sigstore-python") as err:
        keyless._require_sigstore()
    assert "refkit[sigstore]" in (err.value.hint or "")
