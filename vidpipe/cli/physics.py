"""``vidpipe physics``: Gemini sports physics, the observation schema, validation and events."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

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

    def say(line: str) -> None:
        if verbose:
            out.print(f"  {line}", highlight=False, soft_wrap=True)

    if verbose:
        out.print(f"Found {len(clips)} video(s) to process", highlight=False)
    rows: list[tuple[str, str, str, str, str]] = []  # clip, result, samples, events, seconds
    failed: list[tuple[str, str]] = []
    for n, (name, where) in enumerate(clips, 1):
        stem = Path(name).stem
        started = time.monotonic()
        shown = f"s3://{where[0]}/{where[1]}" if isinstance(where, tuple) else name
        err.print(f"[{n}/{len(clips)}] {name}", highlight=False)
        say(f"Processing: {shown}")
        try:
            with ExitStack() as stack:
                if isinstance(where, tuple):
                    say(f"Downloading from S3: {shown}")
                    path = stack.enter_context(
                        storage.download_to_temp(  # type: ignore[union-attr]
                            where[0], where[1], max_bytes=settings.max_video_bytes
                        )
                    )
                    say(f"Downloaded: {_mb(path.stat().st_size)}")
                    stack.callback(say, "Cleaned up temporary file")
                else:
                    path = where
                    say(f"Size: {_mb(path.stat().st_size)}")
                say("Uploading to the Gemini File API and running the physics observation...")
                physics, events, result = analyze_file(
                    analyzer, path, clip=name, max_duration_s=stage.max_duration_s, on_step=say
                )
                (output / f"{stem}_physics.json").write_text(json.dumps(physics, indent=2) + "\n")
                (output / f"{stem}_events.json").write_text(json.dumps(events, indent=2) + "\n")
                say(f"Physics JSON saved: {output / (stem + '_physics.json')}")
                say(f"Completed in {time.monotonic() - started:.1f} s")
        except PipelineError as exc:
            seconds = f"{time.monotonic() - started:.1f}"
            failed.append((name, f"{exc.error_class}: {exc}"))
            rows.append((name, f"failed: {exc.error_class}", "", "", seconds))
            out.print(
                f"  failed: {name}: {exc.error_class}: {exc}", highlight=False, soft_wrap=True
            )
            continue
        seconds = f"{time.monotonic() - started:.1f}"
        kinds = {
            k: sum(e["type"] == k for e in events["events"]) for k in ("pass", "turnover", "shot")
        }
        rows.append(
            (name, "ok", str(len(result.observation.samples)), str(len(events["events"])), seconds)
        )
        line = f"  ok: {name}: {len(result.observation.samples)} samples, {kinds}, {seconds} s"
        if verbose:
            line += (
                f", attempts={result.attempts}, cached={result.cached}, "
                f"tokens={result.usage}, cost~${result.cost_usd:.4f}"
            )
        out.print(line, highlight=False, soft_wrap=True)
    table = Table(title=f"{len(clips) - len(failed)} succeeded, {len(failed)} failed -> {output}")
    for col in ("clip", "result", "samples", "events", "seconds"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    out.print(table)
    out.print(
        f"{len(clips) - len(failed)} succeeded, {len(failed)} failed -> {output}", highlight=False
    )
    for name, why in failed:
        out.print(f"  {name}: {why}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(code=1)


def _mb(n_bytes: int) -> str:
    """``12.3 MB`` (decimal megabytes, as the replaced script printed sizes)."""
    return f"{n_bytes / 1e6:.1f} MB"


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
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write the events (optional)."),
    ] = None,
    stats: Annotated[
        bool,
        typer.Option(
            "--stats", help="Print the per-team and per-player statistics (and add them to -o)."
        ),
    ] = False,
    previews: Annotated[
        bool,
        typer.Option(
            help="With -o: also write <output stem>_court.png and <output stem>_possession.png "
            "beside it."
        ),
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every event.")] = False,
) -> None:
    """Derive possession spells, passes, turnovers and shots from a valid observation: print
    their counts (--stats: the statistics tables; -v: every event), and with -o write them (and
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
    kinds = {k: sum(e["type"] == k for e in events) for k in ("pass", "turnover", "shot")}
    if verbose:
        for e in events:
            rest = ", ".join(f"{k}={v}" for k, v in e.items() if k not in ("type", "t_s"))
            out.print(
                f"  {e['t_s']:7.2f} s  {e['type']:<10} {rest}", highlight=False, soft_wrap=True
            )
    if output is None:
        out.print(f"{file}: {len(events)} events ({kinds})", highlight=False, soft_wrap=True)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(doc, indent=2) + "\n")
        out.print(f"{len(events)} events ({kinds}) -> {output}", highlight=False, soft_wrap=True)
    if stats:
        _print_statistics(doc["statistics"])
    if output is not None and previews:
        from functions.physics.previews import physics_previews

        pictures = physics_previews(json.loads(file.read_bytes()), doc)
        for name, data in pictures.items():
            target = output.with_name(f"{output.stem}_{name}")
            target.write_bytes(data)
            out.print(f"{name.split('.')[0]} plot -> {target}", highlight=False)


def _print_statistics(statistics: dict[str, Any]) -> None:
    """The statistics of :func:`functions.physics.events.statistics` as two tables."""
    teams = Table(title="Teams", box=box.SIMPLE)
    for col in ("team", "possession s", "share", "passes", "turnovers", "shots"):
        teams.add_column(col, justify="left" if col == "team" else "right")
    for team, t in statistics["teams"].items():
        teams.add_row(
            team,
            f"{t['possession_s']:.2f}",
            f"{t['possession_share']:.0%}",
            str(t["passes"]),
            str(t["turnovers"]),
            str(t["shots"]),
        )
    out.print(teams)
    players = Table(
        title="Players",
        box=box.SIMPLE,
        caption="held s: seconds in possession; zone steps: distance moved, in zones",
    )
    cols = ("player", "team", "held s", "passes", "received", "turnovers", "shots")
    for col in (*cols, "zone steps"):
        players.add_column(
            col, justify="left" if col in ("player", "team") else "right", no_wrap=True
        )
    for tid, p in statistics["players"].items():
        players.add_row(
            tid,
            str(p["team"]),
            f"{p['possession_s']:.2f}",
            str(p["passes_made"]),
            str(p["passes_received"]),
            str(p["turnovers"]),
            str(p["shots"]),
            str(p["distance_zone_steps"]),
        )
    out.print(players)
