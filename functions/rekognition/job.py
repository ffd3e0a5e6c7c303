"""The rekognition stage for one video: frames from S3's video, answers to ``analysis.json``."""

from __future__ import annotations

from typing import Any

from functions.rekognition.analysis import analyze_video
from functions.rekognition.previews import FrameKeeper, storyboard_jpeg, storyboard_tile_px
from functions.rekognition.settings import RekognitionSettings
from shared import aws
from shared.batch import JobContext, JobOutcome
from shared.config import Settings
from shared.errors import VideoMissingError
from shared.layout import VideoLayout, s3_uri
from shared.manifest import FrameManifest
from shared.messages import VideoJob
from shared.observability import MetricUnit
from shared.rekognition import Rekognition
from shared.stages import Stage
from shared.video import inspect_video


def make_rekognition(settings: Settings, stage: RekognitionSettings) -> Rekognition:
    """The Rekognition adapter (cached client with ``REKOGNITION_RETRIES``, the core settings'
    endpoint and time-outs)."""
    return Rekognition(
        aws.client("rekognition", settings, retries=stage.retries),
        max_labels=stage.max_labels,
        min_confidence=stage.min_confidence,
        emulated=stage.emulated,
    )


def analyze_kwargs(stage: RekognitionSettings) -> dict[str, Any]:
    """The settings-driven keyword arguments of :func:`analyze_video`."""
    return {
        "max_frames": stage.max_frames,
        "min_interval_s": stage.min_interval_s,
        "long_scene_s": stage.long_scene_s,
        "windows": stage.scenes,
        "always_faces": stage.always_faces,
        "concurrency": stage.concurrency,
        "price_per_image_usd": stage.price_per_image_usd,
        "max_duration_s": stage.max_duration_s,
    }


def rekognition_job(job: VideoJob, ctx: JobContext) -> JobOutcome:
    """Analyse one video and write ``{platform}/{shortcode}/rekognition/analysis.json``.

    Uses frame-extract's ``frames/manifest.json`` for the scenes when it exists.

    Raises:
        VideoMissingError, VideoTooLargeError, VideoTooLongError, CorruptVideoError: permanent
            (``ResolutionTooLargeError`` over ``MAX_VIDEO_PIXELS``, ``UnsupportedCodecError`` for a
            codec the image cannot decode).
        RekognitionUnavailableError, StorageUnavailableError: transient.
        ConfigurationError: no credentials or access to Rekognition (retried, then DLQ).
        OutOfTimeError: the deadline came between frames.
    """
    settings, storage = ctx.settings, ctx.storage
    stage = ctx.settings_for(RekognitionSettings)
    bucket = settings.s3_bucket_frames
    layout = VideoLayout(job.platform, job.shortcode)
    try:
        manifest: FrameManifest | None = FrameManifest.parse(
            storage.get_bytes(bucket, layout.frame_manifest)
        )
    except VideoMissingError:
        manifest = None
    tile_px = storyboard_tile_px(settings, stage)
    keeper = FrameKeeper(tile_px) if tile_px is not None else None
    with storage.download_to_temp(job.bucket, job.key, max_bytes=settings.max_video_bytes) as path:
        inspect_video(path, max_pixels=settings.max_video_pixels)
        analysis = analyze_video(
            path,
            make_rekognition(settings, stage),
            platform=job.platform,
            shortcode=job.shortcode,
            manifest=manifest,
            check_deadline=ctx.deadline.check,
            on_frames=keeper,
            **analyze_kwargs(stage),
        )
    storage.put_json(bucket, layout.rekognition_analysis, analysis)
    board = storyboard_jpeg(analysis, keeper.frames) if keeper is not None else None
    if board is not None:
        storage.put_bytes(bucket, layout.rekognition_storyboard, board, "image/jpeg")
    elif storage.exists(bucket, layout.rekognition_storyboard):
        storage.delete_keys(bucket, [layout.rekognition_storyboard])
    m = analysis["metrics"]
    ctx.add_metric("FramesAnalyzed", MetricUnit.Count, m["frames_analyzed"])
    ctx.add_metric("RekognitionCalls", MetricUnit.Count, sum(m["api_calls"].values()))
    ctx.add_metric("RekognitionCallsSaved", MetricUnit.Count, m["calls_saved_by_gating"])
    return JobOutcome(
        output_prefix=s3_uri(bucket, layout.stage(Stage.REKOGNITION)),
        metrics={
            k: m[k]
            for k in (
                "frames_analyzed",
                "api_calls",
                "calls_saved_by_gating",
                "estimated_cost_usd",
                "analysis_seconds",
            )
        }
        | {"frame_source": analysis["frame_source"], "emulated": analysis["emulated"]},
    )
