"""The rekognition stage for one video: frames from S3's video, answers to ``analysis.json``."""

from __future__ import annotations

from typing import Any

from functions.rekognition.analysis import analyze_video
from shared import aws
from shared.batch import JobContext, JobOutcome
from shared.config import Settings
from shared.errors import VideoMissingError
from shared.messages import VideoJob
from shared.observability import MetricUnit
from shared.rekognition import Rekognition


def make_rekognition(settings: Settings) -> Rekognition:
    """The Rekognition adapter from settings (cached client, ``REKOGNITION_RETRIES``)."""
    return Rekognition(
        aws.client("rekognition", settings, retries=settings.rekognition_retries),
        max_labels=settings.rekognition_max_labels,
        min_confidence=settings.rekognition_min_confidence,
        emulated=settings.rekognition_emulated,
    )


def analyze_kwargs(settings: Settings) -> dict[str, Any]:
    """The settings-driven keyword arguments of :func:`analyze_video`."""
    return {
        "max_frames": settings.rekognition_max_frames,
        "min_interval_s": settings.rekognition_min_interval_s,
        "long_scene_s": settings.rekognition_long_scene_s,
        "scenes": settings.rekognition_scenes,
        "always_faces": settings.rekognition_always_faces,
        "concurrency": settings.rekognition_concurrency,
        "price_per_image_usd": settings.rekognition_price_per_image_usd,
    }


def rekognition_job(job: VideoJob, ctx: JobContext) -> JobOutcome:
    """Analyse one video and write ``{platform}/{shortcode}/rekognition/analysis.json``.

    Uses frame-extract's ``frames/manifest.json`` for the scenes when it exists.

    Raises:
        VideoMissingError, VideoTooLargeError, CorruptVideoError: permanent.
        RekognitionUnavailableError, StorageUnavailableError: transient.
        ConfigurationError: no credentials or access to Rekognition (retried, then DLQ).
        OutOfTimeError: the deadline came between frames.
    """
    settings, storage = ctx.settings, ctx.storage
    bucket = settings.s3_bucket_frames
    base = f"{job.platform}/{job.shortcode}"
    try:
        manifest = storage.get_json(bucket, f"{base}/frames/manifest.json")
    except VideoMissingError:
        manifest = None
    with storage.download_to_temp(job.bucket, job.key, max_bytes=settings.max_video_bytes) as path:
        analysis = analyze_video(
            path,
            make_rekognition(settings),
            platform=job.platform,
            shortcode=job.shortcode,
            manifest=manifest,
            check_deadline=ctx.deadline.check,
            **analyze_kwargs(settings),
        )
    storage.put_json(bucket, f"{base}/rekognition/analysis.json", analysis)
    m = analysis["metrics"]
    ctx.add_metric("FramesAnalyzed", MetricUnit.Count, m["frames_analyzed"])
    ctx.add_metric("RekognitionCalls", MetricUnit.Count, sum(m["api_calls"].values()))
    ctx.add_metric("RekognitionCallsSaved", MetricUnit.Count, m["calls_saved_by_gating"])
    return JobOutcome(
        output_prefix=f"s3://{bucket}/{base}/rekognition/",
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
