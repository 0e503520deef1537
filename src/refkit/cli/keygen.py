"""``refkit keygen``: write a new signing key pair (private key 0600, public key beside it)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from refkit.cli._options import json_option
from refkit.cli._output import emit_json, note
from refkit.errors import InputError
from refkit.manifests.signing.keys import (
    DEFAULT_PASSPHRASE_ENV,
    KeyType,
    cosign_hint,
    generate,
    passphrase_from_env,
)


def _write_new(path: Path, data: bytes, *, mode: int, force: bool) -> None:
    """Write ``data`` to ``path`` with ``mode``; never overwrite unless ``force``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise InputError(
            f"{path} already exists; not overwriting it",
            hint="choose another --out, or pass --force to replace the key pair",
        ) from None
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)
        f.write(data)


@click.command()
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key file to write (mode 0600); the public key goes to OUT.pub.",
)
@click.option(
    "--type",
    "key_type",
    type=click.Choice([k.value for k in KeyType]),
    default=KeyType.ECDSA_P256.value,
    show_default=True,
    help="Key type: ECDSA P-256 (SHA-256), ECDSA P-384 (SHA-384) or Ed25519.",
)
@click.option(
    "--encrypt",
    is_flag=True,
    help="Encrypt the private key with the passphrase held in --passphrase-env.",
)
@click.option(
    "--passphrase-env",
    default=DEFAULT_PASSPHRASE_ENV,
    show_default=True,
    metavar="NAME",
    help="Environment variable holding the passphrase (never give it on the command line).",
)
@click.option("--force", is_flag=True, help="Replace existing key files.")
@json_option
def keygen(
    out: Path, key_type: str, encrypt: bool, passphrase_env: str, force: bool, as_json: bool
) -> None:
    """Generate a signing key pair for `refkit manifest sign --key`.

    \b
    Examples:
      refkit keygen --out release.key
      REFKIT_KEY_PASSPHRASE=... refkit keygen --out release.key --type ed25519 --encrypt
    """
    passphrase = None
    if encrypt:
        passphrase = passphrase_from_env(passphrase_env, os.environ)
        if passphrase is None:
            raise InputError(
                f"--encrypt needs a passphrase in the environment variable {passphrase_env}",
                hint=f"export {passphrase_env}=... (it is never read from the command line)",
            )
    if str(out) == "-":
        raise InputError("--out names the private key file to write; '-' is not a file")
    pub_path = out.with_name(out.name + ".pub")
    if not force:
        for p in (out, pub_path):
            try:
                present = os.path.lexists(p)
                os.stat(p.parent)  # a parent we cannot search fails here, not later
            except OSError as exc:
                raise InputError(f"cannot write {p}: {exc.strerror or exc}") from None
            if present:
                raise InputError(
                    f"{p} already exists; not overwriting it",
                    hint="choose another --out, or pass --force to replace the key pair",
                )
    key = generate(KeyType(key_type))
    _write_new(out, key.pem(passphrase), mode=0o600, force=force)
    _write_new(pub_path, key.public_key().pem(), mode=0o644, force=force)
    public = key.public_key()
    if as_json:
        emit_json(
            {
                "privateKey": os.fspath(out),
                "publicKey": os.fspath(pub_path),
                "type": key_type,
                "encrypted": encrypt,
                "keyId": public.key_id,
                "hint": cosign_hint(public),
            }
        )
        return
    note(f"wrote {out} ({key_type}{', encrypted' if encrypt else ''}) and {pub_path}")
    note(f"key id (sha256 of the public key): {public.key_id}")
