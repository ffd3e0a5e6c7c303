"""``vidpipe physics``: Gemini sports physics, the observation schema, validation and events."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.errors import PipelineError
from vidpipe.cli.app import physics_app
from vidpipe.cli.common import err, fail, out


@physics_app.command("analyze")
def physics_analyze(
    source: Annotated[
        str,
        typer.Argument(
            help="A local video or s3://bucket/clip.mp4; with --batch, s3://bucket/prefix/ "
            "or a folder."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the results.")] = Path(
        "results_physics"
    ),
    batch: Annotated[
        bool, typer.Option("--batch", help="Every video under the prefix/folder.")
    ] = False,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Gemini model.")] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Gemini API key (default: GEMINI_API_KEY).")
    ] = None,
    aws_profile: Annotated[
        str | None, typer.Option("--aws-profile", help="AWS profile for S3.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Per-video details.")] = False,
) -> None:
    """Let Gemini watch each clip; write <clip>_physics.json and <clip>_events.json to -o.

    Failures do not stop a batch: each is reported, and the exit code is 1 if any failed.
    """

    from functions.physics.job import analyze_file, make_analyzer
    from functions.physics.settings import PhysicsSettings
    from shared.config import get_settings, load_stage_settings
    from shared.messages import VIDEO_EXTENSIONS
    from shared.storage import S3Storage

    try:
        settings = get_settings()
        stage = load_stage_settings(PhysicsSettings)
        analyzer = make_analyzer(stage, api_key=api_key, model=model)
    except PipelineError as exc:
        raise fail(exc) from exc
    storage: S3Storage | None = None
    if source.startswith("s3://"):
        storage = S3Storage.from_settings(settings, profile=aws_profile)
    # the clips: (display name, local path or (bucket, key))
    clips: list[tuple[str, Any]] = []
    if storage is not None:
        bucket, _, key = source[5:].partition("/")
        keys = storage.list_keys(bucket, key) if batch else [key]
        clips = [(k, (bucket, k)) for k in keys if k.rsplit(".", 1)[-1].lower() in VIDEO_EXTENSIONS]
    else:
        root = Path(source)
        paths = sorted(p for p in root.iterdir()) if batch and root.is_dir() else [root]
        clips = [(str(p), p) for p in paths if p.suffix.lstrip(".").lower() in VIDEO_EXTENSIONS]
    if not clips:
        err.print(f"[red]error:[/red] no video found at {source}")
        raise typer.Exit(code=2)
    output.mkdir(parents=True, exist_ok=True)
    failed: list[tuple[str, str]] = []
    for n, (name, where) in enumerate(clips, 1):
        stem = Path(name).stem
        started = time.monotonic()
        err.print(f"[{n}/{len(clips)}] {name}")
        try:
            with ExitStack() as stack:
                if isinstance(where, tuple):
                    path = stack.enter_context(
                        storage.download_to_temp(  # type: ignore[union-attr]
                            where[0], where[1], max_bytes=settings.max_video_bytes
                        )
                    )
                else:
                    path = where
                physics, events, result = analyze_file(
                    analyzer, path, clip=name, max_duration_s=stage.max_duration_s
                )
        except PipelineError as exc:
            failed.append((name, f"{exc.error_class}: {exc}"))
            out.print(
                f"  failed: {name}: {exc.error_class}: {exc}", highlight=False, soft_wrap=True
            )
            continue
        (output / f"{stem}_physics.json").write_text(json.dumps(physics, indent=2) + "\n")
        (output / f"{stem}_events.json").write_text(json.dumps(events, indent=2) + "\n")
        kinds = {
            k: sum(e["type"] == k for e in events["events"]) for k in ("pass", "turnover", "shot")
        }
        line = (
            f"  ok: {name}: {len(result.observation.samples)} samples, {kinds}, "
            f"{time.monotonic() - started:.1f} s"
        )
        if verbose:
            line += (
                f", attempts={result.attempts}, cached={result.cached}, "
                f"tokens={result.usage}, cost~${result.cost_usd:.4f}"
            )
        out.print(line, highlight=False, soft_wrap=True)
    out.print(
        f"{len(clips) - len(failed)} succeeded, {len(failed)} failed -> {output}", highlight=False
    )
    for name, why in failed:
        out.print(f"  {name}: {why}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(code=1)


@physics_app.command("schema")
def physics_schema() -> None:
    """Print the observation's JSON Schema (the same schema Gemini answers in)."""
    from functions.physics.schema import json_schema

    out.print_json(data=json_schema())


@physics_app.command("validate")
def physics_validate(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An observation.")],
) -> None:
    """Check an observation file; print each problem on its own line and exit 1 if any."""
    from functions.physics.validate import validate

    obs, problems = validate(file.read_bytes())
    for problem in problems:
        out.print(str(problem), highlight=False, soft_wrap=True)
    if problems:
        err.print(f"{len(problems)} problem(s) in {file}")
        raise typer.Exit(code=1)
    assert obs is not None
    out.print(f"{file}: valid ({len(obs.samples)} samples over {obs.duration_s:g} s)")


@physics_app.command("events")
def physics_events(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An observation.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the events.")],
    stats: Annotated[
        bool, typer.Option("--stats", help="Add per-team and per-player stats.")
    ] = False,
    previews: Annotated[
        bool,
        typer.Option(
            help="Also write <output stem>_court.png and <output stem>_possession.png beside it."
        ),
    ] = True,
) -> None:
    """Derive possession spells, passes, turnovers and shots from a valid observation (and
    draw the court and possession plots unless --no-previews)."""
    from functions.physics.events import derive_events, statistics
    from functions.physics.validate import validate

    obs, problems = validate(file.read_bytes())
    if obs is None:
        for problem in problems:
            err.print(str(problem), highlight=False, soft_wrap=True)
        err.print(f"{file} is not a valid observation; see `vidpipe physics validate`")
        raise typer.Exit(code=1)
    events = derive_events(obs)
    doc: dict[str, Any] = {"clip": obs.clip, "events": events}
    if stats:
        doc["statistics"] = statistics(obs, events)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(doc, indent=2) + "\n")
    kinds = {k: sum(e["type"] == k for e in events) for k in ("pass", "turnover", "shot")}
    out.print(f"{len(events)} events ({kinds}) -> {output}", highlight=False)
    if previews:
        from functions.physics.previews import physics_previews

        pictures = physics_previews(json.loads(file.read_bytes()), doc)
        for name, data in pictures.items():
            target = output.with_name(f"{output.stem}_{name}")
            target.write_bytes(data)
            out.print(f"{name.split('.')[0]} plot -> {target}", highlight=False)
