"""The typer application and its groups (declarations only; each command lives in the module
of its group: :mod:`vidpipe.cli.frames`, ``landmarks``, ``rekognition``, ``physics``,
``handlers`` (invoke, worker, status), ``local`` and ``trailer``).

Conventions every command shares (docs/cli.md):

* ``-h`` and ``--help``; help text wraps at word boundaries (click's plain formatter, at most
  :data:`HELP_WIDTH` columns) and value placeholders are the option's name (``--out OUT``),
  never a type such as ``<str>``;
* ``vidpipe --version``;
* an error a user can cause is one line on stderr (``error: ...``) with exit code 2 (bad
  arguments, settings, input) or 1 (work that failed), and a traceback only with ``--debug``
  (or ``-v``, or ``DEBUG=true``): see :class:`_RootGroup`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption
from typer.exceptions import TyperException

#: Widest help text, columns (narrower terminals wrap earlier).
HELP_WIDTH = 100
#: ``ctx.meta`` key: show tracebacks (``-v``, ``--debug`` or ``DEBUG=true``).
TRACEBACKS = "vidpipe.tracebacks"

CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "max_content_width": HELP_WIDTH,
}


def _no_hyphen_breaks() -> None:
    """Make click's help wrapper keep ``--no-previews`` and ``frame-extract`` whole (it breaks
    lines at hyphens by default); the wrapper class is looked up on each call."""
    from typer._click import _textwrap

    base = _textwrap.TextWrapper
    if getattr(base, "_vidpipe", False):
        return

    class _Wrapper(base):  # type: ignore[valid-type,misc]
        _vidpipe = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("break_on_hyphens", False)
            super().__init__(*args, **kwargs)

    _textwrap.TextWrapper = _Wrapper  # type: ignore[misc]


_no_hyphen_breaks()


def _plain_placeholders(command: Any) -> None:
    """Name value placeholders after their parameter (``--out OUT``, ``VIDEO``) instead of
    typer's type labels (``<path>``, ``<str>``), in ``command`` and every subcommand."""
    for param in command.params:
        if isinstance(param, TyperArgument):
            param.metavar = param.metavar or (param.name or "value").upper()
            # typer appends the type label to an argument's name; drop it
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
        elif isinstance(param, TyperOption) and param.metavar is None and not param.is_flag:
            try:
                label = param.display_type(None)  # type: ignore[arg-type]
            except Exception:  # pragma: no cover - a type typer cannot label without a context
                label = ""
            # a choice keeps its values (content|adaptive); any other type gets the name
            choice = "|" in label and not label.startswith("<list")
            param.metavar = label.strip("<>") if choice else (param.name or "value").upper()
    for sub in (getattr(command, "commands", None) or {}).values():
        _plain_placeholders(sub)


def _error_line(exc: BaseException) -> tuple[str, int]:
    """The one stderr line and exit code for an exception a command let escape."""
    from shared.errors import ConfigurationError, PermanentError, PipelineError

    if isinstance(exc, ConfigurationError):
        return str(exc), 2
    if isinstance(exc, PipelineError):
        return str(exc), 2 if isinstance(exc, PermanentError) else 1
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}", 1
    return f"{type(exc).__name__}: {exc}", 1


class _RootGroup(TyperGroup):
    """The ``vidpipe`` group: plain placeholders everywhere, and exceptions as one line.

    Any exception a command does not handle itself becomes ``error: <message>`` on stderr:
    exit code 2 for settings (:class:`~shared.errors.ConfigurationError`) and other permanent
    errors, 1 otherwise. With ``-v``/``--debug`` or ``DEBUG=true`` it propagates with its
    traceback.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_placeholders(self)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """As click's, but a usage error (unknown option, missing argument, bad value) is one
        line, ``error: <what> (see 'vidpipe CMD -h')``, exit code 2."""
        standalone = kwargs.pop("standalone_mode", True)
        kwargs["standalone_mode"] = False
        if not standalone:
            return super().main(*args, **kwargs)
        try:
            rv = super().main(*args, **kwargs)
        except TyperException as exc:  # click's ClickException, UsageError, BadParameter...
            if type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()  # type: ignore[attr-defined]  # the help text
            else:
                ctx = getattr(exc, "ctx", None)
                hint = f" (see '{ctx.command_path} -h')" if ctx is not None else ""
                message = " ".join(exc.format_message().split())
                typer.echo(f"error: {message}{hint}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except Exception as exc:
            if ctx.meta.get(TRACEBACKS) or _debug_env():
                raise
            line, code = _error_line(exc)
            # one line, whatever the message holds
            typer.echo("error: " + " ".join(line.split()), err=True)
            raise typer.Exit(code) from None


def _debug_env() -> bool:
    return os.environ.get("DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


app = typer.Typer(
    cls=_RootGroup,
    help="Serverless video analysis on AWS: key frames per scene, run locally or on Lambda.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=CONTEXT_SETTINGS,
)
local_app = typer.Typer(
    help="The embedded local mode: moto S3/SNS/SQS, SQLite, real handlers.",
    rich_markup_mode=None,
)
app.add_typer(local_app, name="local")


def _default_command(name: str) -> type[TyperGroup]:
    """A group in which ``vidpipe GROUP ARG ...`` means ``vidpipe GROUP name ARG ...`` when ARG
    is not one of its subcommands (``vidpipe physics SOURCE``, the seed's form, is ``physics
    analyze SOURCE``; ``vidpipe trailer VIDEO`` is ``trailer make VIDEO``)."""

    class _Group(TyperGroup):
        def resolve_command(self, ctx: Any, args: list[str]) -> Any:
            if args and args[0] not in self.commands and not args[0].startswith("-"):
                args = [name, *args]
            return super().resolve_command(ctx, args)

    return _Group


physics_app = typer.Typer(
    cls=_default_command("analyze"),
    help="Sports physics with Gemini: analyze clips (vidpipe physics SOURCE ...), the schema, "
    "validation, events and statistics.",
    rich_markup_mode=None,
)
app.add_typer(physics_app, name="physics")


trailer_app = typer.Typer(
    cls=_default_command("make"),
    help="Profile-driven trailers: cut a video for viewer profiles (vidpipe trailer VIDEO "
    "--profile P --out DIR ...), and list the built-in profiles (vidpipe trailer profiles).",
    rich_markup_mode=None,
)
app.add_typer(trailer_app, name="trailer")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("vidpipe")
        except PackageNotFoundError:  # pragma: no cover - run from a source tree
            number = "unknown"
        typer.echo(f"vidpipe {number} (Python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log at INFO (JSON, stderr).")
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Like -v, and show the traceback of an error."),
    ] = False,
    template: Annotated[
        Path | None,
        typer.Option(
            "--template",
            dir_okay=False,
            envvar="VIDPIPE_TEMPLATE",
            help="The SAM template the local mode reads (default: ./template.yaml, else the "
            "checkout's).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    from shared.config import get_settings
    from shared.errors import ConfigurationError
    from shared.observability import logger

    verbose = verbose or debug
    ctx.meta[TRACEBACKS] = verbose
    if template is not None:
        os.environ["VIDPIPE_TEMPLATE"] = str(template)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "false" if verbose else "true")
    try:
        settings_debug = get_settings().debug
    except ConfigurationError:
        settings_debug = _debug_env()  # the command that reads the settings reports them
    logger.setLevel("INFO" if verbose or settings_debug else "WARNING")
