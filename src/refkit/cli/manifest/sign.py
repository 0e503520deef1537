"""``refkit manifest sign``: sign a canonical statement into a Sigstore bundle."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import click

from refkit.cli._keys import load_signing_key
from refkit.cli._options import json_option
from refkit.cli._output import emit_json, note
from refkit.cli.manifest._common import force_option, write_result
from refkit.errors import InputError, read_input_file
from refkit.manifests.constants import MAX_DOCUMENT_BYTES, PREDICATE_TYPE
from refkit.manifests.signing.keys import (
    DEFAULT_PASSPHRASE_ENV,
)
from refkit.manifests.signing.sign import (
    SIGNABLE_PREDICATE_TYPES,
    sign_manifest,
)
from refkit.manifests.statement import PredicateNotAccepted


@click.command()
@click.argument("statement", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM private key (ECDSA P-256/P-384 or Ed25519), e.g. from `refkit keygen`.",
)
@click.option(
    "--passphrase-env",
    default=DEFAULT_PASSPHRASE_ENV,
    show_default=True,
    metavar="NAME",
    help="Environment variable holding an encrypted key's passphrase.",
)
@click.option(
    "--sigstore",
    "keyless",
    is_flag=True,
    help="Sign keylessly with Sigstore (OIDC identity, Fulcio, Rekor): needs the network.",
)
@click.option(
    "--sigstore-staging", is_flag=True, help="With --sigstore: use Sigstore's staging instance."
)
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bundle file to write (Sigstore bundle v0.3 JSON); '-' for stdout.",
)
@click.option(
    "--predicate-type",
    "predicate_types",
    multiple=True,
    metavar="URI",
    help="Accept statements of this predicate type (repeatable; replaces the default, "
    f"the refkit manifest). Signable: {', '.join(SIGNABLE_PREDICATE_TYPES)}.",
)
@force_option
@json_option
def sign(
    statement: Path,
    key_path: Path | None,
    passphrase_env: str,
    keyless: bool,
    sigstore_staging: bool,
    output: Path,
    predicate_types: tuple[str, ...],
    force: bool,
    as_json: bool,
) -> None:
    """Sign STATEMENT (canonical JSON) as DSSE in a Sigstore bundle.

    \b
    Each signer writes its own bundle over the same statement; `refkit manifest verify`
    counts distinct trusted signers. With --sigstore, the identity token comes from
    SIGSTORE_ID_TOKEN, an ambient CI credential, or a browser login.

    \b
    STATEMENT is a refkit reference manifest; a SLSA VSA written by `refkit manifest
    export --format vsa` is signed when its type is accepted on purpose:
    --predicate-type https://slsa.dev/verification_summary/v1 (refkit signs only the
    statement types it can validate, and only those accepted).

    \b
    Examples:
      refkit manifest sign release.json --key release.key -o release.alice.bundle.json
      refkit manifest sign release.json --sigstore -o release.ci.bundle.json
      refkit manifest sign vsa.json --key release.key -o vsa.bundle.json \\
          --predicate-type https://slsa.dev/verification_summary/v1
    """
    if (key_path is None) == (not keyless):
        raise InputError("give exactly one of --key KEY or --sigstore")
    accepted = tuple(dict.fromkeys(predicate_types)) or (PREDICATE_TYPE,)
    data = read_input_file(statement, what="statement", limit=MAX_DOCUMENT_BYTES)
    try:
        bundle, signer_text = _sign(data, statement, key_path, passphrase_env, keyless,
                                    sigstore_staging, accepted)  # fmt: skip
    except PredicateNotAccepted as exc:
        raise InputError(
            exc.message, hint=f"to sign it on purpose, add --predicate-type {exc.found}"
        ) from None
    if as_json and str(output) == "-":
        raise InputError("--json prints a summary on stdout: write the bundle with -o FILE")
    if not write_result(output, bundle, force=force):
        return
    if as_json:
        emit_json(
            {
                "output": os.fspath(output),
                "statement": os.fspath(statement),
                "statementSha256": hashlib.sha256(data).hexdigest(),
                "signer": signer_text,
            }
        )
        return
    note(f"signed {statement} with {signer_text}: {output}")


def _sign(
    data: bytes,
    statement: Path,
    key_path: Path | None,
    passphrase_env: str,
    keyless: bool,
    sigstore_staging: bool,
    accepted: tuple[str, ...],
) -> tuple[bytes, str]:
    """The bundle, and how to name its signer."""
    if key_path is not None:
        key = load_signing_key(key_path, passphrase_env)
        bundle = sign_manifest(data, source=str(statement), key=key, predicate_types=accepted)
        return bundle, key.public_key().label
    from refkit.manifests.signing.keyless import KeylessSigningFailed, SigstoreSigner

    signer = SigstoreSigner(
        staging=sigstore_staging, identity_token=os.environ.get("SIGSTORE_ID_TOKEN") or None
    )
    try:
        bundle = sign_manifest(
            data, source=str(statement), keyless=signer, predicate_types=accepted
        )
    except KeylessSigningFailed as exc:
        hint = f"{exc.hint}: --key KEY" if exc.hint else "sign with --key KEY offline"
        raise KeylessSigningFailed(exc.message, hint=hint) from None
    return bundle, "Sigstore (keyless)"
