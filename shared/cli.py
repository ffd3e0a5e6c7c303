"""``vidpipe``: the command line (typer).

Commands: ``frames`` (one video to a folder), ``landmarks`` (one video to a folder, or a folder
to S3), ``config`` (write a landmarks preset as JSON), ``rekognition``, ``physics``, ``invoke``
(a handler on an event file, like ``sam local invoke``), ``local run`` (the whole
S3 -> SNS -> SQS -> Lambda path on moto), ``worker`` (the poller against real SQS) and ``status``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from shared.config import Detector, get_settings
from shared.errors import PermanentError, PipelineError
from shared.status import Stage, StageStatus

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
out = Console()
err = Console(stderr=True)

#: Stage name -> handler import path (the image's ImageConfig.Command per function).
HANDLERS: dict[str, str] = {
    str(Stage.FRAME_EXTRACT): "functions.frame_extract.handler.lambda_handler",
    str(Stage.LANDMARKS): "functions.landmarks.handler.lambda_handler",
    str(Stage.REKOGNITION): "functions.rekognition.handler.lambda_handler",
    str(Stage.PHYSICS): "functions.physics.handler.lambda_handler",
}
StageArg = Annotated[str, typer.Argument(help=f"Stage: {', '.join(HANDLERS)}.")]


def load_handler(stage: str) -> Any:
    """Import a stage's Lambda handler by its entrypoint string.

    Raises:
        typer.BadParameter: unknown stage.
    """
    if stage not in HANDLERS:
        raise typer.BadParameter(f"unknown stage {stage!r}; choose from {', '.join(HANDLERS)}")
    module, _, attr = HANDLERS[stage].rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _fail(exc: BaseException) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}")
    return typer.Exit(code=2 if isinstance(exc, PermanentError) else 1)


def _safe_shortcode(stem: str) -> str:
    return (re.sub(r"[^A-Za-z0-9_-]", "_", stem)[:128]) or "video"


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _split_s3_uri(uri: str) -> tuple[str, str]:
    m = re.fullmatch(r"s3://([^/]+)/(.+)", uri)
    if not m:
        raise typer.BadParameter(f"{uri!r} is not an s3://bucket/key URI")
    return m.group(1), m.group(2)


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log at INFO (JSON, stderr).")
    ] = False,
) -> None:
    from shared.observability import logger

    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "false" if verbose else "true")
    logger.setLevel("INFO" if verbose or get_settings().debug else "WARNING")


@app.command()
def frames(
    video: Annotated[str, typer.Argument(help="A local video path or an s3://bucket/key URI.")],
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the JPEGs and manifest.")
    ],
    detector: Annotated[
        Detector | None, typer.Option(help="Shot detector (default: SCENE_DETECTOR, content).")
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Detector threshold (content: 27.0, adaptive: 3.0 by default)."),
    ] = None,
    min_frames: Annotated[
        int | None,
        typer.Option(help="Fewer scenes than this: evenly spaced frames instead (MIN_FRAMES)."),
    ] = None,
    platform: Annotated[str, typer.Option(help="Platform recorded in the manifest.")] = "local",
    shortcode: Annotated[
        str | None, typer.Option(help="Shortcode for the manifest (default: the file's stem).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Detect shots in VIDEO and write one key frame per scene plus manifest.json to --out."""
    from functions.frame_extract.extract import extract_keyframes
    from functions.frame_extract.params import params_from
    from shared.messages import validate_platform, validate_shortcode

    settings = get_settings()
    options: dict[str, Any] = {
        k: v
        for k, v in {"detector": detector, "threshold": threshold, "min_frames": min_frames}.items()
        if v is not None
    }
    try:
        params = params_from(settings, options)
        with ExitStack() as stack:
            path, key_platform, default_code = _resolve_video(video, settings, stack)
            platform = key_platform or platform
            code = validate_shortcode(shortcode or default_code)
            validate_platform(platform)
            out_dir.mkdir(parents=True, exist_ok=True)
            for old in out_dir.glob("*.jpg"):
                if old.stem.isdigit():
                    old.unlink()
            result = extract_keyframes(
                path,
                params,
                platform=platform,
                shortcode=code,
                on_keyframe=lambda kf: _write(out_dir / kf.file, kf.jpeg),
                show_progress=progress and sys.stderr.isatty(),
            )
    except PipelineError as exc:
        raise _fail(exc) from exc
    manifest = result.manifest
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    v = manifest["video"]
    cuts = [s["start_frame"] for s in manifest["scenes"][1:]]
    kind = "evenly spaced frames (fallback)" if manifest["fallback"] else "scenes"
    out.print(
        f"{len(manifest['scenes'])} {kind} -> {out_dir}/  cuts={cuts}  "
        f"({v['frame_count']} frames, {v['fps']:g} fps, {v['width']}x{v['height']}, "
        f"{result.seconds:.2f} s, {manifest['detector']['name']} "
        f"threshold {manifest['detector']['threshold']:g})",
        highlight=False,
        soft_wrap=True,
    )


def _resolve_video(video: str, settings: Any, stack: ExitStack) -> tuple[Path, str | None, str]:
    """A local path for VIDEO (an ``s3://`` URI is downloaded into a temp dir ``stack`` removes),
    with the platform and shortcode its key implies (``None``/file stem when outside the layout).
    """
    from shared.messages import parse_video_key

    if not video.startswith("s3://"):
        return Path(video), None, _safe_shortcode(Path(video).stem)
    from shared.storage import S3Storage

    bucket, key = _split_s3_uri(video)
    try:
        platform, code, _ = parse_video_key(key)
    except PipelineError:
        platform, code = None, _safe_shortcode(Path(key).stem)
    storage = S3Storage.from_settings(settings)
    path = stack.enter_context(
        storage.download_to_temp(bucket, key, max_bytes=settings.max_video_bytes)
    )
    return path, platform, code


@app.command()
def rekognition(
    video: Annotated[str, typer.Argument(help="A local video path or an s3://bucket/key URI.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for analysis.json.")],
    max_frames: Annotated[
        int | None, typer.Option(min=1, help="Most frames to analyse (REKOGNITION_MAX_FRAMES).")
    ] = None,
    always_faces: Annotated[
        bool, typer.Option(help="Faces and celebrities on every frame, not only with a Person.")
    ] = False,
    manifest: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="A frame-extract manifest.json: analyse its scenes instead of intervals.",
        ),
    ] = None,
    platform: Annotated[str, typer.Option(help="Platform recorded in the output.")] = "local",
    shortcode: Annotated[
        str | None, typer.Option(help="Shortcode for the output (default: the file's stem).")
    ] = None,
) -> None:
    """Analyse VIDEO's frames with Amazon Rekognition (labels, faces, celebrities) to --out.

    Needs AWS credentials with rekognition:DetectLabels, DetectFaces and RecognizeCelebrities.
    """
    import boto3
    from rich.progress import Progress

    from functions.rekognition.analysis import analyze_video
    from functions.rekognition.job import analyze_kwargs, make_rekognition
    from shared.messages import validate_platform, validate_shortcode

    settings = get_settings()
    if not settings.rekognition_emulated and boto3.session.Session().get_credentials() is None:
        err.print(
            "[red]error:[/red] no AWS credentials configured: run `aws configure`, set "
            "AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
        raise typer.Exit(code=1)
    kwargs = analyze_kwargs(settings)
    if max_frames is not None:
        kwargs["max_frames"] = max_frames
    kwargs["always_faces"] = always_faces or settings.rekognition_always_faces
    try:
        with ExitStack() as stack, Progress(console=err, transient=True) as bar:
            path, key_platform, default_code = _resolve_video(video, settings, stack)
            task = bar.add_task("Rekognition", total=None)
            analysis = analyze_video(
                path,
                make_rekognition(settings),
                platform=validate_platform(key_platform or platform),
                shortcode=validate_shortcode(shortcode or default_code),
                manifest=json.loads(manifest.read_text()) if manifest else None,
                on_picks=lambda n: bar.update(task, total=n),
                on_frame=lambda: bar.advance(task),
                **kwargs,
            )
    except PipelineError as exc:
        raise _fail(exc) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "analysis.json").write_text(json.dumps(analysis, indent=2) + "\n")
    m = analysis["metrics"]
    out.print(
        f"{m['frames_analyzed']} frames ({analysis['frame_source']}), "
        f"{len(analysis['scenes'])} scenes -> {out_dir / 'analysis.json'}  calls="
        f"{m['api_calls']}  saved={m['calls_saved_by_gating']}  "
        f"cost~${m['estimated_cost_usd']:.3f}" + ("  (emulated)" if analysis["emulated"] else ""),
        highlight=False,
        soft_wrap=True,
    )


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


StageConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        dir_okay=False,
        help="Landmarks JSON config for the landmarks stage (sets LANDMARKS_CONFIG).",
    ),
]


def _use_landmarks_config(path: Path | None) -> None:
    """Check a landmarks config file and make it the stage's (``LANDMARKS_CONFIG``) for the
    handlers this process runs."""
    if path is None:
        return
    from functions.landmarks.config import load_config

    try:
        load_config(path)
    except PipelineError as exc:
        raise _fail(exc) from exc
    os.environ["LANDMARKS_CONFIG"] = str(path.resolve())
    get_settings.cache_clear()


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
        raise _fail(exc) from exc
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
    video_dir: Annotated[
        Path | None,
        typer.Option(file_okay=False, help="Process every video in this folder to S3."),
    ] = None,
    s3_bucket: Annotated[str | None, typer.Option(help="Target bucket with --video-dir.")] = None,
    s3_prefix: Annotated[str, typer.Option(help="Key prefix with --video-dir.")] = "",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """MediaPipe pose (and hand) landmarks: VIDEO to --out, or --video-dir to --s3-bucket.

    Arrays: timestamps_s (T,), frame_index (T,), pose (T, 33, 4), hands (T, 2, 21, 3) with
    --hands; NaN where nothing was found. Exit code 1 if any video of a folder failed.
    """
    from rich.progress import Progress

    from functions.landmarks.api import LandmarksPipeline, video_files
    from functions.landmarks.config import resolve_config
    from functions.landmarks.job import settings_config
    from functions.landmarks.landmarks import extract_landmarks

    settings = get_settings()
    if (video is None) == (video_dir is None):
        raise typer.BadParameter("give either VIDEO (with --out) or --video-dir (with --s3-bucket)")
    if video is not None and out_dir is None:
        raise typer.BadParameter("VIDEO needs --out DIR")
    if video_dir is not None and not s3_bucket:
        raise typer.BadParameter("--video-dir needs --s3-bucket")
    try:
        base = (
            resolve_config(preset=preset, config_path=config)
            if preset is not None or config is not None
            else settings_config(settings)
        )
        cfg = base.with_overrides(
            target_fps=fps, max_frames=max_frames, hands=hands, workers=workers
        )
    except PipelineError as exc:
        raise _fail(exc) from exc
    show = progress and sys.stderr.isatty()

    if video_dir is not None:
        from shared.storage import S3Storage

        try:
            files = video_files(video_dir)
        except PipelineError as exc:
            raise _fail(exc) from exc
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

    from shared.messages import validate_platform, validate_shortcode

    assert out_dir is not None and video is not None
    try:
        with ExitStack() as stack, Progress(console=err, transient=True, disable=not show) as bar:
            path, key_platform, default_code = _resolve_video(video, settings, stack)
            task = bar.add_task("landmarks", total=None)
            result = extract_landmarks(
                path,
                cfg,
                platform=validate_platform(key_platform or "local"),
                shortcode=validate_shortcode(default_code),
                on_plan=lambda n: bar.update(task, total=n),
                on_frame=lambda: bar.advance(task),
            )
    except PipelineError as exc:
        raise _fail(exc) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
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


def _as_sqs_event(data: Any) -> dict[str, Any]:
    """An event file may hold a full SQS event or one message body; wrap the latter."""
    records = data.get("Records") if isinstance(data, dict) else None
    if isinstance(records, list) and records and records[0].get("eventSource") == "aws:sqs":
        return data
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "local",
                "body": json.dumps(data),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:vidpipe-local",
                "awsRegion": "us-east-1",
            }
        ]
    }


@app.command()
def invoke(
    stage: StageArg,
    event: Annotated[
        Path,
        typer.Option(
            "--event",
            "-e",
            exists=True,
            dir_okay=False,
            help="JSON file: an SQS event, or one message body (direct job or S3 notification).",
        ),
    ],
    timeout_s: Annotated[
        float, typer.Option(help="The context's deadline in seconds (the function timeout).")
    ] = 900.0,
    config: StageConfigOpt = None,
) -> None:
    """Run a stage's real Lambda handler once on an event file and print its JSON response."""
    from shared.lambda_context import LocalContext

    _use_landmarks_config(config)
    handler = load_handler(stage)
    payload = _as_sqs_event(json.loads(event.read_text()))
    context = LocalContext(function_name=f"vidpipe-{stage}", timeout_s=timeout_s)
    try:
        response = handler(payload, context)
    except PipelineError as exc:
        raise _fail(exc) from exc
    out.print_json(data=response)


@app.command()
def worker(
    stage: StageArg,
    queue_url: Annotated[str, typer.Option(help="The stage's SQS queue URL.")],
    batch_size: Annotated[int, typer.Option(min=1, max=10, help="Messages per batch.")] = 10,
    wait_s: Annotated[int, typer.Option(min=0, max=20, help="Long-poll seconds.")] = 20,
    timeout_s: Annotated[
        float, typer.Option(help="Deadline per batch, as a Lambda function timeout (s).")
    ] = 900.0,
    max_batches: Annotated[
        int | None, typer.Option(help="Stop after this many non-empty batches.")
    ] = None,
    config: StageConfigOpt = None,
) -> None:
    """Poll a real SQS queue and run the stage's handler, as Lambda would (EC2/ECS mode)."""
    import threading

    _use_landmarks_config(config)
    from shared import aws
    from shared.poller import SqsPoller

    handler = load_handler(stage)
    poller = SqsPoller(
        aws.client("sqs", get_settings()),
        queue_url,
        handler,
        batch_size=batch_size,
        wait_s=wait_s,
        function_timeout_s=timeout_s,
        function_name=f"vidpipe-{stage}",
    )
    err.print(f"polling {queue_url} for {stage} (Ctrl-C to stop)")
    stop = threading.Event()
    try:
        poller.run(
            stop,
            until=(lambda: poller.stats.batches >= max_batches) if max_batches else None,
        )
    except KeyboardInterrupt:
        stop.set()
    s = poller.stats
    out.print(
        f"batches={s.batches} received={s.received} deleted={s.deleted} "
        f"failed={s.failed} handler_errors={s.handler_errors}"
    )


def _print_status(platform: str, shortcode: str) -> list[Any]:
    """Print a video's stage rows (a table, then each stage's output prefix); return them."""
    from shared.batch import get_runtime

    states = get_runtime().status.stages(platform, shortcode)
    table = Table(title=f"{platform}/{shortcode}")
    for col in ("stage", "status", "attempts", "finished (UTC)"):
        table.add_column(col, no_wrap=True)
    table.add_column("last error", overflow="fold")
    for st in states:
        table.add_row(
            str(st.stage),
            str(st.status),
            str(st.attempts),
            st.finished_at.strftime("%Y-%m-%d %H:%M:%S") if st.finished_at else "",
            st.last_error or "",
        )
    out.print(table)
    for st in states:
        if st.output_prefix:
            out.print(f"{st.stage} output: {st.output_prefix}", highlight=False, soft_wrap=True)
    return states


@app.command()
def status(
    platform: Annotated[str, typer.Argument(help="Platform, e.g. instagram.")],
    shortcode: Annotated[str, typer.Argument(help="Shortcode, e.g. Cx1.")],
) -> None:
    """Print a video's per-stage status from the configured status store."""
    from shared.batch import get_runtime
    from shared.messages import validate_platform, validate_shortcode

    try:
        validate_platform(platform)
        validate_shortcode(shortcode)
        rt = get_runtime()
        video = rt.status.get_video(platform, shortcode)
        _print_status(platform, shortcode)
    except PipelineError as exc:
        raise _fail(exc) from exc
    if video is not None:
        out.print(
            f"videos: is_downloaded={video.is_downloaded} is_extracted={video.is_extracted} "
            f"frame_count={video.frame_count}"
        )


@local_app.command("run")
def local_run(
    video: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="Video to process. Omitted: a generated 12 s clip with 4 known cuts.",
        ),
    ] = None,
    platform: Annotated[str, typer.Option(help="Platform for the S3 key.")] = "demo",
    shortcode: Annotated[str | None, typer.Option(help="Shortcode (default: file stem).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where results are copied.")] = Path(
        "out"
    ),
    state_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the SQLite status and temp files here (default: a temp dir)."),
    ] = None,
    timeout_s: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 600.0,
    visibility_timeout_s: Annotated[
        int,
        typer.Option(
            min=0,
            help="Local queues' visibility timeout: how soon a failed "
            "record is retried (AWS uses 6 x the function timeout).",
        ),
    ] = 5,
    stages: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            help=f"Stages to run, in order ({', '.join(HANDLERS)}); "
            "default frame-extract. Rekognition is emulated locally.",
        ),
    ] = None,
    config: StageConfigOpt = None,
) -> None:
    """Upload VIDEO to a local (moto) S3 and let the real event path process it.

    The object lands at {platform}/{shortcode}/video.<ext>; S3's ObjectCreated event goes through
    SNS (raw delivery) to the stage's SQS queue; a poller invokes the real Lambda handler; the
    results are copied from the local results bucket to --out and the status is printed.
    """
    from shared.local import local_stack
    from shared.messages import validate_platform, validate_shortcode
    from shared.poller import SqsPoller
    from shared.synth import make_clip

    _use_landmarks_config(config)
    with ExitStack() as stack:
        state = state_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if video is None:
            video = state / "demo.mp4"
            cuts = make_clip(video)
            err.print(f"no video given: generated {video.name} (12 s, cuts at {cuts})")
            shortcode = shortcode or "synthetic"
        try:
            validate_platform(platform)
            code = validate_shortcode(shortcode or _safe_shortcode(video.stem))
        except PipelineError as exc:
            raise _fail(exc) from exc
        wanted = [
            Stage(name)
            for name in (stages or [str(Stage.FRAME_EXTRACT)])
            if name in HANDLERS or _unknown_stage(name)
        ]
        if Stage.PHYSICS in wanted:
            from functions.physics.job import gemini_api_key

            try:
                gemini_api_key(get_settings())
            except PipelineError as exc:
                raise _fail(exc) from exc
        stack_ = stack.enter_context(
            local_stack(state, stages=tuple(wanted), visibility_timeout_s=visibility_timeout_s)
        )
        err.print(f"moto S3/SNS/SQS on {stack_.endpoint}; status in SQLite under {state}")
        ext = video.suffix.lower() or ".mp4"
        key = f"{platform}/{code}/video{ext}"
        s3 = stack_.client("s3")
        s3.upload_file(str(video), stack_.videos_bucket, key)
        err.print(f"uploaded s3://{stack_.videos_bucket}/{key}")

        from shared.batch import get_runtime

        rt = get_runtime()
        started = time.monotonic()
        batches = 0
        for stage in wanted:
            # stages run one after another, so rekognition finds frame-extract's manifest

            def finished(stage: Stage = stage) -> bool:
                states = [st for st in rt.status.stages(platform, code) if st.stage == stage]
                done = bool(states) and states[0].status in (
                    StageStatus.SUCCEEDED,
                    StageStatus.FAILED,
                )
                # a record that kept failing ends in the DLQ after maxReceiveCount receives
                return done or stack_.queue_depth(stack_.dlq_urls[stage]) > 0

            deployed = stack_.deployed[stage]
            poller = SqsPoller(
                stack_.client("sqs"),
                stack_.queue_urls[stage],
                load_handler(str(stage)),
                batch_size=deployed.batch_size,
                wait_s=1,
                function_timeout_s=deployed.timeout_s,
                function_name=deployed.function,
            )
            with err.status(f"waiting for {stage} (S3 event -> SNS -> SQS -> handler)..."):
                poller.run(until=finished, timeout_s=timeout_s)
            batches += poller.stats.batches
        elapsed = time.monotonic() - started

        prefix = f"{platform}/{code}/"
        for k in rt.storage.list_keys(stack_.frames_bucket, prefix):
            target = out_dir / k[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(rt.storage.get_bytes(stack_.frames_bucket, k))
        states = {st.stage: st for st in _print_status(platform, code)}
        manifest_path = out_dir / "frames" / "manifest.json"
        if Stage.FRAME_EXTRACT in wanted and manifest_path.exists():
            m = json.loads(manifest_path.read_text())
            cuts = [s["start_frame"] for s in m["scenes"][1:]]
            out.print(
                f"{len(m['scenes'])} key frames and manifest.json -> {out_dir / 'frames'}/  "
                f"cuts={cuts}  fallback={m['fallback']}",
                highlight=False,
                soft_wrap=True,
            )
        analysis_path = out_dir / "rekognition" / "analysis.json"
        if Stage.REKOGNITION in wanted and analysis_path.exists():
            a = json.loads(analysis_path.read_text())
            out.print(
                f"rekognition: {a['metrics']['frames_analyzed']} frames ({a['frame_source']}), "
                f"calls={a['metrics']['api_calls']}, emulated={a['emulated']} -> {analysis_path}",
                highlight=False,
                soft_wrap=True,
            )
        npz_path = out_dir / "landmarks" / "landmarks.npz"
        if Stage.LANDMARKS in wanted and npz_path.exists():
            import numpy as np

            with np.load(npz_path, allow_pickle=False) as arrays:
                shapes = ", ".join(f"{k} {arrays[k].shape}" for k in arrays.files)
            meta = json.loads((out_dir / "landmarks" / "landmarks.json").read_text())
            out.print(
                f"landmarks: {shapes}; pose in {100 * meta['detection_rate']:.0f}% of frames "
                f"-> {npz_path}",
                highlight=False,
                soft_wrap=True,
            )
        dlq = sum(stack_.queue_depth(stack_.dlq_urls[stage]) for stage in wanted)
        summary = "  ".join(
            f"{stage}={states[stage].status if stage in states else 'none'}" for stage in wanted
        )
        if len(wanted) == 1:
            summary = f"status={states[wanted[0]].status if wanted[0] in states else 'none'}"
        out.print(f"{summary}  batches={batches}  dlq={dlq}  {elapsed:.1f} s", highlight=False)
        if any(
            stage not in states or states[stage].status != StageStatus.SUCCEEDED for stage in wanted
        ):
            raise typer.Exit(code=1)


def _unknown_stage(name: str) -> bool:
    raise typer.BadParameter(f"unknown stage {name!r}; choose from {', '.join(HANDLERS)}")


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
    from shared.messages import VIDEO_EXTENSIONS
    from shared.storage import S3Storage

    settings = get_settings()
    try:
        analyzer = make_analyzer(settings, api_key=api_key, model=model)
    except PipelineError as exc:
        raise _fail(exc) from exc
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
                physics, events, result = analyze_file(analyzer, path, clip=name)
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
) -> None:
    """Derive possession spells, passes, turnovers and shots from a valid observation."""
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


def main() -> None:
    """Console-script entry point."""
    app()


def s3_uploader() -> None:
    """The seed's ``s3-uploader --video-dir DIR --s3-bucket B --s3-prefix P`` entry point:
    ``vidpipe landmarks`` with the same arguments."""
    app(args=["landmarks", *sys.argv[1:]], prog_name="s3-uploader")


if __name__ == "__main__":  # pragma: no cover
    main()
