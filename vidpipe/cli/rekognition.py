"""``vidpipe rekognition``: Amazon Rekognition labels, faces and celebrities for one video."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from shared.errors import PipelineError
from vidpipe.cli.app import app
from vidpipe.cli.common import err, fail, out, resolve_video


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
    previews: Annotated[
        bool, typer.Option(help="Also write storyboard.jpg (REKOGNITION_PREVIEWS).")
    ] = True,
) -> None:
    """Analyse VIDEO's frames with Amazon Rekognition (labels, faces, celebrities) to --out.

    Needs AWS credentials with rekognition:DetectLabels, DetectFaces and RecognizeCelebrities.
    """
    import boto3
    from rich.progress import Progress

    from functions.rekognition.analysis import analyze_video
    from functions.rekognition.job import analyze_kwargs, make_rekognition
    from functions.rekognition.previews import FrameKeeper, storyboard_jpeg, storyboard_tile_px
    from functions.rekognition.settings import RekognitionSettings
    from shared.config import get_settings, load_stage_settings
    from shared.manifest import FrameManifest
    from shared.messages import validate_platform, validate_shortcode

    try:
        settings = get_settings()
        stage = load_stage_settings(RekognitionSettings)
        scenes = FrameManifest.parse(manifest.read_bytes()) if manifest else None
    except PipelineError as exc:
        raise fail(exc) from exc
    if not stage.emulated and boto3.session.Session().get_credentials() is None:
        err.print(
            "[red]error:[/red] no AWS credentials configured: run `aws configure`, set "
            "AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
        raise typer.Exit(code=1)
    kwargs = analyze_kwargs(stage)
    if max_frames is not None:
        kwargs["max_frames"] = max_frames
    kwargs["always_faces"] = always_faces or stage.always_faces
    tile_px = storyboard_tile_px(settings, stage) if previews else None
    keeper = FrameKeeper(tile_px) if tile_px is not None else None
    try:
        with ExitStack() as stack, Progress(console=err, transient=True) as bar:
            path, key_platform, default_code = resolve_video(video, settings, stack)
            task = bar.add_task("Rekognition", total=None)
            analysis = analyze_video(
                path,
                make_rekognition(settings, stage),
                platform=validate_platform(key_platform or platform),
                shortcode=validate_shortcode(shortcode or default_code),
                manifest=scenes,
                on_picks=lambda n: bar.update(task, total=n),
                on_frame=lambda: bar.advance(task),
                on_frames=keeper,
                **kwargs,
            )
    except PipelineError as exc:
        raise fail(exc) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "analysis.json").write_text(json.dumps(analysis, indent=2) + "\n")
    board = storyboard_jpeg(analysis, keeper.frames) if keeper is not None else None
    (out_dir / "storyboard.jpg").unlink(missing_ok=True)
    if board is not None:
        (out_dir / "storyboard.jpg").write_bytes(board)
    m = analysis["metrics"]
    out.print(
        f"{m['frames_analyzed']} frames ({analysis['frame_source']}), "
        f"{len(analysis['scenes'])} scenes -> {out_dir / 'analysis.json'}  calls="
        f"{m['api_calls']}  saved={m['calls_saved_by_gating']}  "
        f"cost~${m['estimated_cost_usd']:.3f}" + ("  (emulated)" if analysis["emulated"] else ""),
        highlight=False,
        soft_wrap=True,
    )
