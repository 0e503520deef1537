"""``refkit manifest export``: a manifest in Contrast, Trustee RVPS or SLSA VSA form."""

from __future__ import annotations

import os
from pathlib import Path

import click

from refkit import __version__
from refkit.cli._output import note, warn
from refkit.cli.manifest._common import force_option, output_option, write_result
from refkit.errors import InputError, InternalError, read_input_file
from refkit.manifests.constants import MAX_DOCUMENT_BYTES
from refkit.manifests.exports import FORMATS, Export
from refkit.manifests.files import load_statement_or_bundle
from refkit.times import parse_time

_VSA_ONLY = ("verifier_id", "result", "time_verified", "resource_uri", "policy_uri")


@click.command("export")
@click.argument("manifest_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Target format.")
@output_option(required=False)
@force_option
@click.option("--verifier-id", help="[vsa] URI of the verifier that ran the check.")
@click.option(
    "--result", type=click.Choice(["PASSED", "FAILED"]), help="[vsa] The verification result."
)
@click.option(
    "--time-verified", metavar="YYYY-MM-DDTHH:MM:SSZ", help="[vsa] When the check ran (UTC)."
)
@click.option("--resource-uri", help="[vsa] URI of the resource that was verified.")
@click.option("--policy-uri", help="[vsa] URI of the policy the manifest was verified against.")
@click.option("--policy-digest", metavar="ALG:HEX", help="[vsa] Digest of that policy.")
@click.option(
    "--verified-level",
    "levels",
    multiple=True,
    help="[vsa] A SLSA level or property vouched for (repeatable); "
    "default SLSA_BUILD_LEVEL_UNEVALUATED.",
)
@click.option("--manifest-uri", help="[vsa] Where the signed manifest can be fetched.")
@click.option(
    "--slsa-version",
    metavar="MAJOR.MINOR",
    help="[vsa] The SLSA version the verifier used (slsaVersion): 1.0, 1.1 or 1.2.",
)
def export(
    manifest_file: Path,
    fmt: str,
    output: Path | None,
    force: bool,
    verifier_id: str | None,
    result: str | None,
    time_verified: str | None,
    resource_uri: str | None,
    policy_uri: str | None,
    policy_digest: str | None,
    levels: tuple[str, ...],
    manifest_uri: str | None,
    slsa_version: str | None,
) -> None:
    """Export a reference manifest for another verifier.

    \b
    Formats (each follows one upstream version, named in docs/manifests.md):
      contrast      Contrast reference values: {"snp": [...], "tdx": [...]}
      rvps          Trustee RVPS "sample" message for `rvps-tool register`
      rvps-values   Trustee RVPS stored ReferenceValue list (carries release.expires)
      cyclonedx     CycloneDX 1.6 ML-BOM: models (files digest, verity root), their
                    disks and the boot artifacts as components
      vsa           SLSA verification summary recording a verification result;
                    needs --verifier-id, --result, --time-verified, --resource-uri
                    and --policy-uri (refkit records the result, it does not check it);
                    sign it with `refkit manifest sign --predicate-type
                    https://slsa.dev/verification_summary/v1`

    \b
    What a format cannot express is listed as a warning on stderr. MANIFEST_FILE may be
    a statement or a bundle (its signature is not verified here).

    \b
    Examples:
      refkit manifest export release.json --format contrast -o reference-values.json
      refkit manifest export release.bundle.json --format vsa -o vsa.json \\
          --verifier-id https://example.com/verifier --result PASSED \\
          --time-verified 2026-03-02T08:30:00Z --slsa-version 1.2 \\
          --resource-uri https://example.com/service --policy-uri https://example.com/policy
    """
    source = os.fspath(manifest_file)
    data = read_input_file(manifest_file, what="manifest", limit=MAX_DOCUMENT_BYTES)
    loaded = load_statement_or_bundle(data, source=source)
    if loaded.from_bundle:
        note(f"{source}: bundle read, signature NOT verified")
    given = {
        "verifier_id": verifier_id,
        "result": result,
        "time_verified": time_verified,
        "resource_uri": resource_uri,
        "policy_uri": policy_uri,
    }
    statement = loaded.statement
    out: Export
    if fmt == "vsa":
        missing = [_flag(k) for k in _VSA_ONLY if given[k] is None]
        if missing:
            raise InputError(f"--format vsa needs {', '.join(missing)}")
        empty = [_flag(k) for k, v in given.items() if v is not None and not v.strip()]
        if empty:
            raise InputError(
                f"{', '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty",
                hint="--time-verified takes a UTC time (YYYY-MM-DDTHH:MM:SSZ)"
                if empty == ["--time-verified"]
                else "give each a URI (scheme:rest)",
            )
        from refkit.manifests.exports import vsa

        if not (verifier_id and result and time_verified and resource_uri and policy_uri):
            raise InternalError("a VSA option passed the checks above empty")
        outcome = vsa.VerificationOutcome(
            verifier_id=verifier_id,
            result=vsa.Result(result),
            time_verified=parse_time(time_verified, source="command line", path="--time-verified"),
            resource_uri=resource_uri,
            policy_uri=policy_uri,
            policy_digest=_digest(policy_digest),
            verifier_version={"refkit": __version__},
            verified_levels=levels or (vsa.UNEVALUATED,),
            input_attestations=(vsa.InputAttestation.of_bytes(data, manifest_uri),),
            slsa_version=slsa_version,
        )
        out = vsa.export(statement, outcome)
    else:
        extra = [_flag(k) for k, v in given.items() if v is not None]
        if levels or policy_digest or manifest_uri or slsa_version:
            extra.append("a VSA option")
        if extra:
            raise InputError(f"{', '.join(extra)} only apply to --format vsa")
        if fmt == "contrast":
            from refkit.manifests.exports import contrast

            out = contrast.export(statement)
        elif fmt == "cyclonedx":
            from refkit.manifests.exports import cyclonedx

            out = cyclonedx.export(statement)
        elif fmt == "rvps":
            from refkit.manifests.exports import rvps

            out = rvps.message(statement)
        else:
            from refkit.manifests.exports import rvps

            out = rvps.stored_values(statement)
    for message in out.warnings:
        warn(message)
    if write_result(output, out.data, force=force):
        note(f"wrote {output} ({fmt})")


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def _digest(text: str | None) -> dict[str, str] | None:
    if text is None:
        return None
    alg, sep, value = text.partition(":")
    if not sep or not alg or not value:
        raise InputError(f"--policy-digest {text!r} is not ALG:HEX (e.g. sha256:ab12...)")
    return {alg: value}
