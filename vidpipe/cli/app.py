"""The typer application and its groups (declarations only; each command lives in the module
of its group: :mod:`vidpipe.cli.frames`, ``landmarks``, ``rekognition``, ``physics``,
``handlers`` (invoke, worker, status), ``local`` and ``trailer``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

app = typer.Typer(
    help="Serverless video analysis on AWS: key frames per scene, run locally or on Lambda.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
local_app = typer.Typer(help="The embedded local mode: moto S3/SNS/SQS, SQLite, real handlers.")
app.add_typer(local_app, name="local")


class _PhysicsGroup(TyperGroup):
    """``vidpipe physics SOURCE ...`` means ``vidpipe physics analyze SOURCE ...`` (the seed's
    form); ``schema``, ``validate`` and ``events`` stay subcommands."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["analyze", *args]
        return super().resolve_command(ctx, args)


physics_app = typer.Typer(
    cls=_PhysicsGroup,
    help="Sports physics with Gemini: analyze clips (vidpipe physics SOURCE ...), the schema, "
    "validation, events and statistics.",
)
app.add_typer(physics_app, name="physics")


class _TrailerGroup(TyperGroup):
    """``vidpipe trailer VIDEO ...`` means ``vidpipe trailer make VIDEO ...``; ``profiles``
    stays a subcommand."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["make", *args]
        return super().resolve_command(ctx, args)


trailer_app = typer.Typer(
    cls=_TrailerGroup,
    help="Profile-driven trailers: cut a video for viewer profiles (vidpipe trailer VIDEO "
    "--profile P --out DIR ...), and list the built-in profiles (vidpipe trailer profiles).",
)
app.add_typer(trailer_app, name="trailer")


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log at INFO (JSON, stderr).")
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
) -> None:
    from shared.config import get_settings
    from shared.observability import logger

    if template is not None:
        os.environ["VIDPIPE_TEMPLATE"] = str(template)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "false" if verbose else "true")
    logger.setLevel("INFO" if verbose or get_settings().debug else "WARNING")
