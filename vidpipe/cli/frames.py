"""``vidpipe frames``: key frames of one video to a folder."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from functions.frame_extract.settings import Detector
from shared.errors import PipelineError
from vidpipe.cli.app import app
from vidpipe.cli.common import fail, out, resolve_video


@app.command()
def frames(
    video: Annotated[str, typer.Argument(help="A local video path or an s3://bucket/key URI.")],
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the JPEGs and manifest.")
    ],
    detector: Annotated[
        Detector | None, typer.Option(help="Scene detector (default: SCENE_DETECTOR, content).")
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
    previews: Annotated[
        bool,
        typer.Option(help="Also write preview.gif and contact_sheet.jpg (PREVIEWS settings)."),
    ] = True,
) -> None:
    """Detect the cuts in VIDEO and write one key frame per scene plus manifest.json to --out
    (and preview.gif and contact_sheet.jpg unless --no-previews)."""
    from functions.frame_extract.extract import extract_keyframes
    from functions.frame_extract.params import params_from
    from functions.frame_extract.previews import keyframe_previews, preview_params
    from functions.frame_extract.settings import FrameExtractSettings
    from shared.config import get_settings, load_stage_settings
    from shared.messages import validate_platform, validate_shortcode

    options: dict[str, Any] = {
        k: v
        for k, v in {"detector": detector, "threshold": threshold, "min_frames": min_frames}.items()
        if v is not None
    }
    try:
        settings = get_settings()
        stage = load_stage_settings(FrameExtractSettings)
        params = params_from(stage, options)
        pictures = preview_params(settings, stage) if previews else None
        with ExitStack() as stack:
            path, key_platform, default_code = resolve_video(video, settings, stack)
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
        raise fail(exc) from exc
    manifest = result.manifest
    for name in ("preview.gif", "contact_sheet.jpg"):
        (out_dir / name).unlink(missing_ok=True)
    if pictures is not None and result.keyframes:
        for name, data in keyframe_previews(result.keyframes, pictures).items():
            _write(out_dir / name, data)
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


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)
