"""``refkit keygen``: write a new signing key pair (private key 0600, public key beside it)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from refkit.atomic import TargetExists, check_target, write_files
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
    if not out.name or out.name in (".", ".."):  # `--out ''` reaches here as "."
        raise InputError(
            "--out must name the private key file to write; it is empty or a directory",
            hint="e.g. --out release.key",
        )
    pub_path = out.with_name(out.name + ".pub")
    # Both targets are checked before the key is generated; the pair is then written as a
    # unit (refkit.atomic): never through a symlink, never a key beside a stale .pub.
    try:
        for p in (out, pub_path):
            check_target(p, force=force)
        key = generate(KeyType(key_type))
        write_files(
            [(out, key.pem(passphrase), 0o600), (pub_path, key.public_key().pem(), 0o644)],
            force=force,
        )
    except TargetExists as exc:
        raise InputError(
            f"{exc.path} already exists; not overwriting it",
            hint="choose another --out, or pass --force to replace the key pair",
        ) from None
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
