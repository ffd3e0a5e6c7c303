"""What the command groups share: consoles, errors as exit codes, stage lookup, video sources."""

from __future__ import annotations

import importlib
import os
import re
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from shared.errors import ConfigurationError, PermanentError, PipelineError
from shared.stages import ENTRY_HANDLER, ENTRY_NAME, STAGES, spec

out = Console()
#: stderr: one logical line per message (never wrapped at the terminal width), no highlighting.
err = Console(stderr=True, soft_wrap=True, highlight=False)

StageArg = Annotated[
    str, typer.Argument(help=f"Stage: {', '.join(STAGES)} (or {ENTRY_NAME}, the entry).")
]
StageConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        dir_okay=False,
        help="Landmarks JSON config for the landmarks stage (sets LANDMARKS_CONFIG).",
    ),
]


def load_handler(stage: str) -> Any:
    """Import a stage's Lambda handler (the registry's entrypoint string).

    Raises:
        typer.BadParameter: unknown stage.
    """
    if stage == ENTRY_NAME:
        module, _, attr = ENTRY_HANDLER.rpartition(".")
        return getattr(importlib.import_module(module), attr)
    try:
        return spec(stage).load_handler()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def fail(exc: BaseException) -> typer.Exit:
    """Print ``exc`` as one line on stderr; the exit code is 2 for bad input (a permanent error)
    or bad settings (:class:`~shared.errors.ConfigurationError`), else 1."""
    err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2 if isinstance(exc, PermanentError | ConfigurationError) else 1)


def safe_shortcode(stem: str) -> str:
    """A valid shortcode from a file stem (other characters become ``_``)."""
    return (re.sub(r"[^A-Za-z0-9_-]", "_", stem)[:128]) or "video"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``.

    Raises:
        typer.BadParameter: not an S3 URI with a key.
    """
    m = re.fullmatch(r"s3://([^/]+)/(.+)", uri)
    if not m:
        raise typer.BadParameter(f"{uri!r} is not an s3://bucket/key URI")
    return m.group(1), m.group(2)


def reset_settings() -> None:
    """Forget cached settings and the runtime, after the environment changed."""
    from shared.batch import get_runtime
    from shared.config import get_settings

    get_settings.cache_clear()
    get_runtime.cache_clear()


def resolve_video(video: str, settings: Any, stack: ExitStack) -> tuple[Path, str | None, str]:
    """A local path for VIDEO (an ``s3://`` URI is downloaded into a temp dir ``stack`` removes),
    with the platform and shortcode its key implies (``None``/file stem when outside the layout).
    """
    from shared.messages import parse_video_key

    if not video.startswith("s3://"):
        return Path(video), None, safe_shortcode(Path(video).stem)
    from shared.storage import S3Storage

    bucket, key = split_s3_uri(video)
    try:
        platform, code, _ = parse_video_key(key)
    except PipelineError:
        platform, code = None, safe_shortcode(Path(key).stem)
    storage = S3Storage.from_settings(settings)
    path = stack.enter_context(
        storage.download_to_temp(bucket, key, max_bytes=settings.max_video_bytes)
    )
    return path, platform, code


def use_landmarks_config(path: Path | None) -> None:
    """Check a landmarks config file and make it the stage's (``LANDMARKS_CONFIG``) for the
    handlers this process runs."""
    if path is None:
        return
    from functions.landmarks.config import load_config

    try:
        load_config(path)
    except PipelineError as exc:
        raise fail(exc) from exc
    os.environ["LANDMARKS_CONFIG"] = str(path.resolve())
    reset_settings()
