"""``vidpipe frames``: key frames of one video to a folder."""

from __future__ import annotations

import json
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from functions.frame_extract.settings import Detector
from shared.errors import PipelineError
from vidpipe.cli.app import app
from vidpipe.cli.common import err, fail, out, resolve_video


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
    min_scene_len: Annotated[
        str | None,
        typer.Option(
            "--min-scene-len",
            "-m",
            help="Shortest scene, as PySceneDetect's -m: frames (15), seconds (0.6s, 0.6) or a "
            "timecode (00:00:00.600). Default: MIN_SCENE_LEN_FRAMES.",
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            "-s",
            help="Detect from this time on: seconds (12.5, 12.5s), a timecode (00:00:12.500) "
            "or a frame number (300), as PySceneDetect's time -s.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--end",
            "-e",
            help="Stop detecting at this time (exclusive), in the forms --start takes.",
        ),
    ] = None,
    csv: Annotated[
        bool,
        typer.Option(
            "--csv/--no-csv",
            help="Also write scenes.csv, PySceneDetect's list-scenes table.",
        ),
    ] = True,
    skip_cuts: Annotated[
        bool,
        typer.Option(
            "--skip-cuts",
            help="Leave the timecode list out of scenes.csv (an RFC 4180 file), as list-scenes -s.",
        ),
    ] = False,
) -> None:
    """Detect the cuts in VIDEO and write one key frame per scene plus manifest.json and
    scenes.csv to --out (and preview.gif and contact_sheet.jpg unless --no-previews)."""
    from functions.frame_extract.extract import extract_keyframes
    from functions.frame_extract.params import params_from
    from functions.frame_extract.previews import keyframe_previews, preview_params
    from functions.frame_extract.settings import FrameExtractSettings
    from shared.config import get_settings, load_stage_settings
    from shared.messages import validate_platform, validate_shortcode
    from shared.video import open_video, video_info

    options: dict[str, Any] = {
        k: v
        for k, v in {"detector": detector, "threshold": threshold, "min_frames": min_frames}.items()
        if v is not None
    }
    try:
        settings = get_settings()
        stage = load_stage_settings(FrameExtractSettings)
        pictures = preview_params(settings, stage) if previews else None
        with ExitStack() as stack:
            path, key_platform, default_code = resolve_video(video, settings, stack)
            platform = key_platform or platform
            code = validate_shortcode(shortcode or default_code)
            validate_platform(platform)
            info = video_info(open_video(path))
            fps = float(info.fps)
            if min_scene_len is not None:
                options["min_scene_len_frames"] = max(
                    1, _frames(min_scene_len, fps, "--min-scene-len")
                )
            params = params_from(stage, options)
            first = _frames(start, fps, "--start") if start is not None else 0
            last = _frames(end, fps, "--end") if end is not None else None
            if last is not None and last <= first:
                _usage(f"--end ({end}) must come after --start ({start or 0})")
            source = path
            if first or last is not None:
                folder = stack.enter_context(tempfile.TemporaryDirectory(dir=settings.tmp_dir))
                source = _segment(path, first, last, fps, Path(folder))
            out_dir.mkdir(parents=True, exist_ok=True)
            for old in out_dir.glob("*.jpg"):
                if old.stem.isdigit():
                    old.unlink()
            result = extract_keyframes(
                source,
                params,
                platform=platform,
                shortcode=code,
                on_keyframe=lambda kf: _write(out_dir / kf.file, kf.jpeg),
                show_progress=progress and sys.stderr.isatty(),
            )
    except PipelineError as exc:
        raise fail(exc) from exc
    manifest = result.manifest
    if source is not path:
        _shift(manifest, first, fps, info.frame_count)
    for name in ("preview.gif", "contact_sheet.jpg"):
        (out_dir / name).unlink(missing_ok=True)
    if pictures is not None and result.keyframes:
        for name, data in keyframe_previews(result.keyframes, pictures).items():
            _write(out_dir / name, data)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out_dir / "scenes.csv").unlink(missing_ok=True)
    if csv:
        write_scenes_csv(out_dir / "scenes.csv", manifest, fps, cut_list=not skip_cuts)
    v = manifest["video"]
    cuts = [s["start_frame"] for s in manifest["scenes"][1:]]
    kind = "evenly spaced frames (fallback)" if manifest["fallback"] else "scenes"
    span = ""
    if "range" in manifest:
        r = manifest["range"]
        span = f"frames {r['start_frame']}-{r['end_frame']} ({r['start_s']:g}-{r['end_s']:g} s) of "
    out.print(
        f"{len(manifest['scenes'])} {kind} -> {out_dir}/  cuts={cuts}  "
        f"({span}{v['frame_count']} frames, {v['fps']:g} fps, {v['width']}x{v['height']}, "
        f"{result.seconds:.2f} s, {manifest['detector']['name']} "
        f"threshold {manifest['detector']['threshold']:g}, "
        f"min scene {manifest['detector']['min_scene_len_frames']} frames)",
        highlight=False,
        soft_wrap=True,
    )


def _usage(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


def _frames(value: str, fps: float, option: str) -> int:
    """A frame number from PySceneDetect's forms (its ``FrameTimecode``): an integer is frames
    (``15``), a decimal or ``Ns`` is seconds (``0.6``, ``0.6s``), ``HH:MM:SS[.nnn]`` a timecode.

    Raises:
        typer.Exit: (code 2) none of those forms.
    """
    from scenedetect import FrameTimecode

    try:
        frame = int(FrameTimecode(value.strip(), fps=fps).frame_num)
    except (ValueError, TypeError):
        _usage(
            f"{option} {value!r}: expected frames (15), seconds (0.6s or 0.6) or a timecode "
            "(00:00:00.600)"
        )
    if frame < 0:
        _usage(f"{option} {value!r} is negative")
    return frame


def _segment(path: Path, first: int, last: int | None, fps: float, folder: Path) -> Path:
    """Frames ``[first, last)`` of ``path`` (decoded one by one, so exactly those frames) as a
    lossless FFV1 file in ``folder``, for detection on that span only.

    Raises:
        typer.Exit: (code 2) ``first`` is past the last frame.
    """
    import cv2

    target = folder / "segment.mkv"
    cap = cv2.VideoCapture(str(path))
    writer: Any = None
    index = 0
    try:
        while last is None or index < last:
            if index < first:
                if not cap.grab():
                    break
            else:
                ok, frame = cap.read()
                if not ok:
                    break
                if writer is None:
                    h, w = frame.shape[:2]
                    fourcc = cv2.VideoWriter_fourcc(*"FFV1")  # type: ignore[attr-defined]
                    writer = cv2.VideoWriter(str(target), fourcc, fps, (w, h))
                writer.write(frame)
            index += 1
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if writer is None:
        _usage(f"--start is at frame {first}, past the end of the video ({index} frames)")
    return target


def _shift(manifest: dict[str, Any], offset: int, fps: float, frame_count: int) -> None:
    """Make a segment's manifest speak of the whole video: frame numbers and times from the
    video's start, ``video.frame_count``/``duration_s`` the whole video's (declared), and
    ``range`` the span that was analysed."""
    span = manifest["video"]["frame_count"]
    for scene in manifest["scenes"]:
        for key in ("start", "end"):
            scene[f"{key}_frame"] += offset
            scene[f"{key}_s"] = round(scene[f"{key}_frame"] / fps, 6)
        kf = scene["keyframe"]
        kf["frame"] += offset
        kf["time_s"] = round(kf["frame"] / fps, 6)
    manifest["range"] = {
        "start_frame": offset,
        "end_frame": offset + span,
        "start_s": round(offset / fps, 6),
        "end_s": round((offset + span) / fps, 6),
    }
    manifest["video"]["frame_count"] = max(frame_count, offset + span)
    manifest["video"]["duration_s"] = round(manifest["video"]["frame_count"] / fps, 6)


def write_scenes_csv(
    path: Path, manifest: dict[str, Any], fps: float, *, cut_list: bool = True
) -> None:
    """The manifest's scenes as PySceneDetect's ``list-scenes`` CSV (its own writer,
    ``scenedetect.output.write_scene_list``, called as ``list-scenes`` calls it): a first row
    ``Timecode List:`` with the cut timecodes (unless ``cut_list`` is false), then Scene
    Number, Start Frame (1-based), Start Timecode, Start Time (seconds), End Frame, End
    Timecode, End Time (seconds) and the lengths (frames, timecode, seconds). With a fallback
    the rows are the evenly spaced segments, as in the manifest."""
    from scenedetect import FrameTimecode
    from scenedetect.output import write_scene_list

    scenes = [
        (FrameTimecode(s["start_frame"], fps=fps), FrameTimecode(s["end_frame"], fps=fps))
        for s in manifest["scenes"]
    ]
    cuts = [start for start, _ in scenes[1:]]  # as list-scenes passes them: "Timecode List:"
    with path.open("w", newline="", encoding="utf-8") as f:
        write_scene_list(f, scenes, include_cut_list=cut_list, cut_list=cuts)


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)
