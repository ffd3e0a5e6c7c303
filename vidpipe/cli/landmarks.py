"""``vidpipe landmarks`` and ``vidpipe config``: MediaPipe pose and hand landmarks."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shared.errors import PipelineError
from vidpipe.cli.app import app
from vidpipe.cli.common import err, fail, out, resolve_video

PresetOpt = Annotated[
    str | None,
    typer.Option(
        "--preset",
        help="Landmarks preset: development, production, high_accuracy, fast_processing "
        "(default: LANDMARKS_PRESET, production).",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        dir_okay=False,
        help="Landmarks JSON config (vidpipe config); replaces --preset.",
    ),
]


@app.command("config")
def config_cmd(
    preset: Annotated[
        str, typer.Option(help="development, production, high_accuracy or fast_processing.")
    ] = "production",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write a landmarks preset as a JSON config to edit and pass back with --config."""
    from functions.landmarks.config import preset_config

    try:
        cfg = preset_config(preset)
    except PipelineError as exc:
        raise fail(exc) from exc
    text = json.dumps(cfg.model_dump(mode="json"), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    out.print(f"preset {preset} -> {output}", highlight=False)


@app.command()
def landmarks(
    video: Annotated[
        str | None,
        typer.Argument(help="A local video path or an s3://bucket/key URI (or use --video-dir)."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for landmarks.npz and landmarks.json."),
    ] = None,
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    fps: Annotated[
        float | None, typer.Option("--fps", min=0.001, help="Sampled frames per second.")
    ] = None,
    max_frames: Annotated[
        int | None, typer.Option(min=1, help="Most sampled frames per video.")
    ] = None,
    hands: Annotated[
        bool | None, typer.Option("--hands/--no-hands", help="Hand landmarks (holistic graph).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=0, help="Segment workers (0: one per CPU).")
    ] = None,
    max_people: Annotated[
        int | None,
        typer.Option(
            "--max-people",
            min=1,
            max=32,
            help="Most people per frame; above 1 adds poses, track_ids and boxes (needs "
            "--no-hands). Default: the config's (1).",
        ),
    ] = None,
    video_dir: Annotated[
        Path | None,
        typer.Option(file_okay=False, help="Process every video in this folder to S3."),
    ] = None,
    s3_bucket: Annotated[str | None, typer.Option(help="Target bucket with --video-dir.")] = None,
    s3_prefix: Annotated[str, typer.Option(help="Key prefix with --video-dir.")] = "",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    previews: Annotated[
        bool,
        typer.Option(
            help="With VIDEO: also write preview.gif (skeleton) and trajectories.png "
            "(LANDMARKS_PREVIEWS)."
        ),
    ] = True,
) -> None:
    """MediaPipe pose (and hand) landmarks: VIDEO to --out, or --video-dir to --s3-bucket.

    Arrays: timestamps_s (T,), frame_index (T,), pose (T, 33, 4), hands (T, 2, 21, 3) with
    --hands; NaN where nothing was found. With --max-people N > 1 also poses (T, N, 33, 4),
    track_ids (T, N) and boxes (T, N, 4), pose being the main person
    (docs/stages/landmarks-multi-person.md). Exit code 1 if any video of a folder failed.
    """
    from rich.progress import Progress

    from functions.landmarks.api import LandmarksPipeline, video_files
    from functions.landmarks.config import resolve_config
    from functions.landmarks.job import settings_config
    from functions.landmarks.landmarks import extract_landmarks
    from functions.landmarks.settings import LandmarksSettings
    from shared.config import get_settings, load_stage_settings

    if (video is None) == (video_dir is None):
        raise typer.BadParameter("give either VIDEO (with --out) or --video-dir (with --s3-bucket)")
    if video is not None and out_dir is None:
        raise typer.BadParameter("VIDEO needs --out DIR")
    if video_dir is not None and not s3_bucket:
        raise typer.BadParameter("--video-dir needs --s3-bucket")
    try:
        settings = get_settings()
        base = (
            resolve_config(preset=preset, config_path=config)
            if preset is not None or config is not None
            else settings_config(load_stage_settings(LandmarksSettings))
        )
        cfg = base.with_overrides(
            target_fps=fps,
            max_frames=max_frames,
            hands=hands,
            workers=workers,
            max_people=max_people,
        )
    except PipelineError as exc:
        raise fail(exc) from exc
    show = progress and sys.stderr.isatty()

    if video_dir is not None:
        from shared.storage import S3Storage

        try:
            files = video_files(video_dir)
        except PipelineError as exc:
            raise fail(exc) from exc
        pipeline = LandmarksPipeline(
            video_dir,
            str(s3_bucket),
            s3_prefix,
            config=cfg,
            storage=S3Storage.from_settings(settings),
        )
        with Progress(console=err, transient=True, disable=not show) as bar:
            overall = bar.add_task("videos", total=len(files))
            frames_task = bar.add_task("frames", total=None)

            def started(path: Path) -> None:
                bar.reset(frames_task, total=None, description=path.name)

            def finished(path: Path, error: str | None) -> None:
                bar.advance(overall)
                if error is not None:
                    err.print(f"[red]failed:[/red] {path.name}: {error}", highlight=False)

            summary = pipeline.run(
                on_start=started,
                on_video=finished,
                on_frame=lambda: bar.advance(frames_task),
            )
        table = Table(title=f"landmarks -> s3://{s3_bucket}/{s3_prefix}")
        for col in ("videos", "processed", "failed", "frames"):
            table.add_column(col, justify="right")
        table.add_row(
            str(len(files)),
            str(summary.processed),
            str(summary.failed),
            str(summary.total_frames),
        )
        out.print(table)
        for name, message in summary.errors.items():
            out.print(f"  {name}: {message}", highlight=False, soft_wrap=True)
        if summary.failed:
            raise typer.Exit(code=1)
        return

    from functions.landmarks.previews import PreviewSampler, landmark_previews, preview_params
    from shared.messages import validate_platform, validate_shortcode
    from shared.video import open_video, video_info

    assert out_dir is not None and video is not None
    pictures = (
        preview_params(settings, load_stage_settings(LandmarksSettings)) if previews else None
    )
    sampler: PreviewSampler | None = None
    try:
        with ExitStack() as stack, Progress(console=err, transient=True, disable=not show) as bar:
            path, key_platform, default_code = resolve_video(video, settings, stack)
            if pictures is not None:
                sampler = PreviewSampler(float(video_info(open_video(path)).fps), pictures)
            task = bar.add_task("landmarks", total=None)
            result = extract_landmarks(
                path,
                cfg,
                platform=validate_platform(key_platform or "local"),
                shortcode=validate_shortcode(default_code),
                on_plan=lambda n: bar.update(task, total=n),
                on_frame=lambda: bar.advance(task),
                on_sample=sampler,
            )
    except PipelineError as exc:
        raise fail(exc) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("preview.gif", "trajectories.png"):
        (out_dir / name).unlink(missing_ok=True)
    if sampler is not None:
        for name, data in landmark_previews(result, sampler, title=Path(str(video)).name).items():
            (out_dir / name).write_bytes(data)
    (out_dir / "landmarks.npz").write_bytes(result.to_npz_bytes())
    (out_dir / "landmarks.json").write_text(json.dumps(result.metadata, indent=2) + "\n")
    m = result.metadata
    hand_part = f", hands in {m['hand_frames']}" if m["hand_frames"] is not None else ""
    out.print(
        f"{result.frames} frames at {m['sampling']['fps_used']:g} fps: pose in "
        f"{m['pose_frames']} ({100 * m['detection_rate']:.0f}%){hand_part} -> {out_dir}/  "
        f"({m['timings']['total_s']:.2f} s, {m['timings']['frames_per_second']:g} frames/s)",
        highlight=False,
        soft_wrap=True,
    )
