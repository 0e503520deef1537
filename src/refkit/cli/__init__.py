"""refkit's command line: a thin layer over the library.

Each command parses its options, calls one library function and renders the result
(human text by default, ``--json`` for machines) on stdout; logs and progress go to
stderr. Errors are mapped to exit codes in exactly one place, :func:`main`.

Start-up must stay fast (``refkit measure snp`` is benchmarked against a peer tool as a
whole process): subcommands are imported only when invoked (:class:`LazyGroup`), and rich
is imported only by commands that draw tables.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from refkit import __version__
from refkit.cli._lazy import LazyGroup
from refkit.cli._state import CliState
from refkit.errors import ExitCode, OutputClosed, RefkitError

if TYPE_CHECKING:
    from refkit._console import Prefetch

ISSUES_URL = "https://github.com/refkit/refkit/issues"

CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "max_content_width": 100,
}


@click.group(
    cls=LazyGroup,
    context_settings=CONTEXT_SETTINGS,
    lazy_subcommands={
        "measure": ("refkit.cli.measure", "measure"),
        "manifest": ("refkit.cli.manifest", "manifest"),
        "keygen": ("refkit.cli.keygen", "keygen"),
        "inputs": ("refkit.cli.inputs", "inputs"),
        "evidence": ("refkit.cli.evidence", "evidence"),
        "weights": ("refkit.cli.weights", "weights"),
        "rebuild": ("refkit.cli.rebuild", "rebuild"),
        "completion": ("refkit.cli.completion", "completion"),
    },
)
@click.version_option(__version__, "-V", "--version", prog_name="refkit")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More detail on stderr; on errors, -v shows the cause chain (and the traceback of "
    "an internal error), -vv the traceback of any error.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only results and errors: no logs or progress.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """refkit: verify a confidential AI service from its source code.

    \b
    This version rebuilds images bit for bit from pinned inputs, computes launch
    measurements from boot artifacts (SEV-SNP; TDX MRTD and RTMRs; vTPM PCRs of UKIs),
    replays event logs, digests and signs model weights and builds their verity disks,
    builds all of it into reference manifests, signs and verifies those against a trust
    policy, exports them for other verifiers, fetches and checks pinned inputs, and
    verifies live attestation evidence (SEV-SNP reports, TDX quotes, NVIDIA GPU evidence)
    offline against a signed manifest.

    \b
    Commands that produce a result take --json (after the command name) and then print
    one JSON document on stdout. Exit codes: 0 ok, 1 verification failed, 2 usage or bad
    input, 3 environment (missing tool or pinned input, no network), 4 internal error.

    \b
    Examples:
      refkit measure snp --mode snp --ovmf OVMF.amdsev.fd --vcpus 1-8 --vcpu-type EPYC-v4
      refkit manifest verify release.bundle.json --key release.key.pub
      refkit evidence verify report.bin --certs certs/ --manifest release.bundle.json \\
          --key release.key.pub
    """
    given = ctx.obj if isinstance(ctx.obj, CliState) else CliState()
    state = given._replace(verbose=verbose, quiet=quiet)
    ctx.obj = state
    _configure_logging(state)


def _configure_logging(state: CliState) -> None:
    if not (state.verbose or state.quiet):
        return  # the default (warnings to stderr) needs no set-up, nor the logging import
    import logging

    level = logging.WARNING
    if state.quiet:
        level = logging.ERROR
    elif state.verbose >= 2:
        level = logging.DEBUG
    elif state.verbose == 1:
        level = logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("refkit: %(message)s"))
    root = logging.getLogger("refkit")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _verbosity(argv: Sequence[str]) -> int:
    """How verbose the user asked to be, read from argv (the context may not exist yet)."""
    count = 0
    for arg in argv:
        if arg == "--":
            break
        if arg == "--verbose":
            count += 1
        elif arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) == {"v"}:
            count += len(arg) - 1
    return count


def _print_error(message: str) -> None:
    click.echo(f"error: {message}", err=True)


#: The library names what to do in words ("ask to replace it"); the CLI, which knows its
#: flags, says which flag does it. One table, so the library never names a flag.
_FLAG_WORDS = (
    ("ask to replace them", "pass --force to replace them"),
    ("ask to replace it", "pass --force to replace it"),
    ("into a mirror directory and name that directory", "into a directory and pass --inputs DIR"),
    ("allow downloads to fetch it", "drop --offline to download it"),
    ("re-pin it on purpose", "re-pin it on purpose (`refkit inputs lock RECIPE --update`)"),
    ("choose another output directory", "choose another --out directory"),
    ("name a directory as the output", "give --out a directory"),
    ("give the creation time explicitly", "pass --created YYYY-MM-DDTHH:MM:SSZ"),
    ("export the rvps sample format", "export --format rvps"),
)


def _in_cli_words(text: str) -> str:
    for words, flags in _FLAG_WORDS:
        text = text.replace(words, flags)
    return text


def _print_usage_error(exc: click.ClickException) -> None:
    """click's usage errors in refkit's one style: ``error: ...`` then ``hint: ...``.

    click prints "Usage: ...", "Try '... --help' for help." and "Error: ..."; the same
    facts are kept (the message, and where the help is), in the form every other error has.
    """
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    _print_error(exc.format_message())
    if ctx is not None:
        names = ctx.help_option_names or ["--help"]
        help_command = f"{ctx.command_path} {'--help' if '--help' in names else names[0]}"
        option = _option_name(exc)
        where = f"see {option} in '{help_command}'" if option else f"try '{help_command}'"
        click.echo(f"hint: {where} for help", err=True)


def _option_name(exc: click.ClickException) -> str | None:
    """The option a bad-value error is about (``--extract``), if click knows it."""
    if not isinstance(exc, click.BadParameter):
        return None
    if isinstance(exc.param_hint, str):
        return exc.param_hint
    if exc.param_hint:
        return " / ".join(exc.param_hint)
    if exc.param is not None and exc.param.opts:
        return exc.param.opts[-1] if isinstance(exc.param, click.Option) else exc.param.opts[0]
    return None


def main(argv: Sequence[str] | None = None, *, prefetch: Prefetch | None = None) -> int:
    """Run the CLI; map every outcome to a documented exit code. Never raises.

    ``prefetch`` holds digests the console script started computing before click loaded
    (:mod:`refkit._console`); commands find it in ``CliState.prefetch``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = _verbosity(args)
    try:
        # Without standalone mode click returns ctx.exit(n)'s code instead of exiting.
        returned = cli.main(
            args=args,
            prog_name="refkit",
            standalone_mode=False,
            obj=CliState(prefetch=prefetch),
        )
        sys.stdout.flush()  # a closed pipe shows here for output still buffered
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt | EOFError):
            _print_error("interrupted")
            return 130
        _print_error("aborted")
        return int(ExitCode.BAD_INPUT)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:  # usage errors, bad option values
        _print_usage_error(exc)
        return int(ExitCode.BAD_INPUT)
    except RefkitError as exc:
        if isinstance(exc, OutputClosed):
            _silence_stdout()
        _print_error(_in_cli_words(exc.diagnostics()))
        if verbose:
            _print_cause_chain(exc, verbose)
        if exc.exit_code == ExitCode.INTERNAL:
            click.echo(f"this is a bug in refkit; please report it at {ISSUES_URL}", err=True)
        return int(exc.exit_code)
    except BrokenPipeError:
        # stdout closed early (`refkit ... | head`): the result did not reach the reader.
        return _output_closed()
    except SystemExit as exc:
        # click (for --help and other output before a command runs) and rich turn a broken
        # pipe into SystemExit(1), and 1 means "verification failed": report exit 3.
        if _broken_pipe(exc.__context__) or _stdout_pacified():
            return _output_closed()
        raise
    except KeyboardInterrupt:
        _print_error("interrupted")
        return 130
    except Exception as exc:
        _print_error(f"internal error: {type(exc).__name__}: {exc}")
        click.echo(
            f"this is a bug in refkit {__version__}; please report it at {ISSUES_URL}"
            + ("" if verbose else " (run again with -v for the traceback)"),
            err=True,
        )
        if verbose:
            import traceback

            traceback.print_exc(file=sys.stderr)
        return int(ExitCode.INTERNAL)
    return returned if isinstance(returned, int) else int(ExitCode.OK)


def _print_cause_chain(exc: BaseException, verbose: int) -> None:
    cause = exc.__cause__ or exc.__context__
    depth = 1
    while cause is not None and depth < 10:
        click.echo(f"  caused by: {type(cause).__name__}: {cause}", err=True)
        cause = cause.__cause__ or cause.__context__
        depth += 1
    if verbose >= 2:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)


def _broken_pipe(exc: BaseException | None) -> bool:
    import errno

    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, OSError) and exc.errno == errno.EPIPE
    )


def _stdout_pacified() -> bool:
    """Whether click replaced stdout after a broken pipe (its reaction before exiting 1)."""
    import click.utils

    wrappers = tuple(
        w
        for w in (
            getattr(click.utils, "_PacifyFlushWrapper", None),
            getattr(click.utils, "PacifyFlushWrapper", None),
        )
        if isinstance(w, type)
    )
    return bool(wrappers) and isinstance(sys.stdout, wrappers)


def _output_closed() -> int:
    _silence_stdout()
    _print_error(OutputClosed().message)
    return int(ExitCode.ENVIRONMENT)


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
