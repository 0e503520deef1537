"""The ``nix`` builder: ``nix build`` of a local derivation, recording the NAR hash of its
output, where Nix is installed.

Input ``expression`` (required): a ``.nix`` file, or a directory holding ``default.nix``.
Parameters: ``attr`` (the attribute to build; default the whole expression) and
``argstr`` (name -> string, the expression's function arguments).

What runs (Debian's nix-bin 2.8; ../shared/DOMAIN.md section 8):
``nix build --file EXPR [ATTR] --no-link --json`` with the ``nix-command`` feature and no
substituters, so an output is built here and never downloaded from a binary cache (a cache
would hand back the publisher's bytes, which proves nothing about the source). As root,
Debian's nix-bin has no build users, so ``build-users-group`` is emptied and the sandbox
switched off; the derivation must then not reach outside its declared inputs on its own
(the tests' derivation uses builtins and ``/bin/sh`` only).

The artifact is the output path's NAR serialisation (``nix-store --dump``): one file whose
sha256 is Nix's NAR hash, the value ``nix path-info`` reports and a Nix user compares. It is
computed here from the dumped bytes and checked against the store's own record (two
computations; a difference is reported, never recorded). Facts: the store path, the
derivation path, the NAR hash (SRI form ``sha256-<base64>`` and hex) and size.

The artifact is the ``out`` output: ``nix build`` of a derivation with several outputs
builds its default one, and an answer naming any other output set is refused (each output
would need an artifact of its own).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from refkit.builders._run import environment, opt, run, sorted_facts, tool
from refkit.builders.api import BuildContext, Built, register
from refkit.errors import EnvironmentProblem, InputError

PACKAGE: Final = "nix-bin"
#: Options every build gets: nothing is fetched from a binary cache.
_NO_CACHE: Final = ("substituters", "")
#: Debian's nix-bin run as root has no build users and no working sandbox.
_AS_ROOT: Final = (("build-users-group", ""), ("sandbox", "false"))


def _options(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    out: list[str] = []
    for name, value in pairs:
        out += [opt("option"), name, value]
    return out


def nix_options() -> list[str]:
    """The ``--option`` arguments of every nix call (recorded in the facts)."""
    pairs = (_NO_CACHE, *(_AS_ROOT if os.geteuid() == 0 else ()))
    return [opt("extra-experimental-features"), "nix-command", *_options(pairs)]


def sri(digest: bytes) -> str:
    """A SHA-256 digest in Nix's SRI form (``sha256-`` + base64)."""
    return "sha256-" + base64.b64encode(digest).decode("ascii")


class NixBuilder:
    name = "nix"
    version = "1"
    tree_output = False
    params_schema: Mapping[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "attr": {"type": "string"},
            "argstr": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }

    def build(self, ctx: BuildContext) -> Built:
        if set(ctx.inputs) != {"expression"}:
            raise InputError(f"{ctx.name}: the nix builder takes one input named 'expression'")
        expression = ctx.inputs["expression"]
        if expression.is_dir():
            expression = expression / "default.nix"
        if not expression.is_file():
            raise InputError(f"{ctx.name}: nix expression {expression} is not a file")
        nix = tool("nix", package=PACKAGE)
        nix_store = tool("nix-store", package=PACKAGE)
        epoch, work = ctx.source_date_epoch, ctx.workdir
        argv = [nix, *nix_options(), "build", opt("file"), os.fspath(expression)]
        if "attr" in ctx.params:
            argv.append(str(ctx.params["attr"]))
        for key, value in sorted(dict(ctx.params.get("argstr", {})).items()):
            argv += [opt("argstr"), str(key), str(value)]
        argv += [opt("no-link"), opt("json")]
        ctx.progress("nix build", None, None)
        done = run(argv, what="nix build", epoch=epoch, workdir=work)
        store_path, drv_path = _built_path(done.stdout)
        ctx.progress("nix-store dump", None, None)
        digest = _dump(nix_store, store_path, ctx.output, epoch=epoch, workdir=work)
        info = run(
            [nix, *nix_options(), "path-info", opt("json"), store_path],
            what="nix path-info",
            epoch=epoch,
            workdir=work,
        )
        recorded = _recorded_hash(info.stdout, store_path)
        if recorded != sri(digest):
            raise EnvironmentProblem(
                f"the NAR of {store_path} hashes to {sri(digest)}, but the Nix store "
                f"records {recorded}: the store is damaged or the output changed",
                hint=f"check the store: nix-store {opt('verify')} {opt('check-contents')}",
            )
        version = run([nix, opt("version")], what="nix", epoch=epoch, workdir=work)
        facts = {
            "storePath": store_path,
            "drvPath": drv_path,
            "narHash": sri(digest),
            "narSha256": digest.hex(),
            "narSize": os.path.getsize(ctx.output),
            "options": nix_options(),
        }
        return Built(
            facts=sorted_facts(facts), tools={"nix": version.stdout.strip().rsplit(" ", 1)[-1]}
        )


def _built_path(text: str) -> tuple[str, str]:
    """The one output path and the derivation path from ``nix build --json``."""
    try:
        items = json.loads(text)
        (item,) = items
        outputs = item["outputs"]
        if set(outputs) != {"out"}:
            raise InputError(
                f"the derivation has outputs {', '.join(sorted(outputs))}; "
                f"the nix builder takes one output named out"
            )
        return str(outputs["out"]), str(item["drvPath"])
    except (ValueError, KeyError, TypeError) as exc:
        raise EnvironmentProblem(f"nix build printed an unexpected answer: {text[:200]!r}") from exc


def _recorded_hash(text: str, store_path: str) -> str:
    try:
        items = json.loads(text)
        return str(next(i["narHash"] for i in items if i["path"] == store_path))
    except (ValueError, KeyError, TypeError, StopIteration) as exc:
        raise EnvironmentProblem(
            f"nix path-info printed an unexpected answer: {text[:200]!r}"
        ) from exc


def _dump(nix_store: str, store_path: str, output: Path, *, epoch: int, workdir: Path) -> bytes:
    """Write the NAR of ``store_path`` to ``output``; return its sha256."""
    hasher = hashlib.sha256()
    with open(output, "xb") as out:
        proc = subprocess.Popen(
            [nix_store, opt("dump"), store_path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env=environment(epoch, workdir),
        )
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1 << 20):
            hasher.update(chunk)
            out.write(chunk)
        err = proc.stderr.read() if proc.stderr is not None else b""
        if proc.wait() != 0:
            tail = " ".join(err.decode("utf-8", "replace").split())[-400:]
            raise EnvironmentProblem(f"nix-store dump of {store_path} failed: {tail}")
    return hasher.digest()


BUILDER: Final = register(NixBuilder())
