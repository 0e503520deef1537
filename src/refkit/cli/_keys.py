"""Reading a local signing key for the commands that sign (`manifest sign`, `weights sign`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from refkit.errors import InputError, read_input_file

if TYPE_CHECKING:
    from refkit.manifests.signing.keys import PrivateKey


def load_signing_key(key_path: Path | str, passphrase_env: str) -> PrivateKey:
    """The private key at ``key_path``; an encrypted key's passphrase comes from the
    environment variable ``passphrase_env`` (never from the command line)."""
    from refkit.manifests.signing.keys import (
        MAX_KEY_BYTES,
        PassphraseNeeded,
        load_private_key,
        passphrase_from_env,
    )

    passphrase = passphrase_from_env(passphrase_env, os.environ)
    try:
        return load_private_key(
            read_input_file(key_path, what="private key", limit=MAX_KEY_BYTES),
            source=str(key_path),
            passphrase=passphrase,
        )
    except PassphraseNeeded as exc:
        raise InputError(
            exc.message,
            hint=f"put the passphrase in the environment variable {passphrase_env} "
            "(--passphrase-env names another)",
        ) from None
