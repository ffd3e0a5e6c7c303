"""The physics stage for one video: Gemini's observation, then events and statistics, to S3."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from functions.physics.events import derive_events, statistics
from functions.physics.gemini import GeminiAnalyzer, GeminiResult, Prices, make_client
from functions.physics.gemini import observation_json as observation_doc
from functions.physics.previews import physics_previews, previews_on
from functions.physics.settings import PhysicsSettings
from shared.batch import JobContext, JobOutcome
from shared.errors import VideoTooLongError
from shared.layout import VideoLayout, s3_uri
from shared.messages import VideoJob
from shared.observability import MetricUnit
from shared.secrets import resolve_secret
from shared.stages import Stage
from shared.video import inspect_video, open_video, video_info


def gemini_api_key(settings: PhysicsSettings) -> str:
    """``GEMINI_API_KEY``, else the SSM SecureString ``GEMINI_API_KEY_PARAMETER`` names.

    Raises:
        ConfigurationError: neither is set, or the parameter cannot be read.
    """
    return resolve_secret(settings.api_key, settings.api_key_parameter, name="GEMINI_API_KEY")


def make_analyzer(
    settings: PhysicsSettings,
    *,
    api_key: str | None = None,
    model: str | None = None,
    http_client: httpx.Client | None = None,
) -> GeminiAnalyzer:
    """The analyzer configured from settings (``GEMINI_*``)."""
    client = make_client(
        api_key or gemini_api_key(settings),
        retries=settings.retries,
        timeout_s=settings.timeout_s,
        http_client=http_client,
    )
    return GeminiAnalyzer(
        client,
        model=model or settings.model,
        fps=settings.fps,
        use_cache=settings.use_cache,
        cache_ttl_s=settings.cache_ttl_s,
        active_timeout_s=settings.active_timeout_s,
        poll_interval_s=settings.poll_interval_s,
        prices=Prices(
            settings.price_input_per_mtok,
            settings.price_output_per_mtok,
            settings.price_cached_per_mtok,
        ),
    )


def analyze_file(
    analyzer: GeminiAnalyzer,
    path: Path,
    clip: str,
    *,
    max_duration_s: float | None = None,
    on_step: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], GeminiResult]:
    """``(physics.json, events.json, result)`` for one local video file.

    Args:
        max_duration_s: refuse longer videos (seconds) before any Gemini call; ``None``: no cap.
        on_step: called with a line per completed step (:meth:`GeminiAnalyzer.analyze`).

    Raises:
        CorruptVideoError: not a readable video.
        VideoTooLongError: longer than ``max_duration_s``.
        GeminiUnavailableError, GeminiRejectedError, InvalidObservationError: from Gemini.
    """
    info = video_info(open_video(path))
    duration = info.frame_count / float(info.fps) if info.frame_count else 0.0
    if max_duration_s is not None and duration > max_duration_s:
        raise VideoTooLongError(
            f"{Path(clip).name}: {duration:.1f} s is longer than GEMINI_MAX_DURATION_S "
            f"({max_duration_s:g} s); no Gemini call was made"
        )
    result = analyzer.analyze(path, clip=clip, duration_s=duration, on_step=on_step)
    events = derive_events(result.observation)
    return (
        observation_doc(result),
        {"clip": clip, "events": events, "statistics": statistics(result.observation, events)},
        result,
    )


def physics_job(job: VideoJob, ctx: JobContext) -> JobOutcome:
    """Analyse one video; write ``physics/physics.json`` and ``physics/events.json`` (and,
    with previews on, ``physics/court.png`` and ``physics/possession.png``).

    Raises:
        VideoMissingError, VideoTooLargeError, VideoTooLongError, CorruptVideoError: permanent
            (``ResolutionTooLargeError`` over ``MAX_VIDEO_PIXELS``, ``UnsupportedCodecError`` for a
            codec the image cannot decode).
        GeminiUnavailableError, StorageUnavailableError: transient.
        GeminiRejectedError, InvalidObservationError: permanent.
        ConfigurationError: no Gemini key.
    """
    settings, storage = ctx.settings, ctx.storage
    bucket = settings.s3_bucket_frames
    layout = VideoLayout(job.platform, job.shortcode)
    stage = ctx.settings_for(PhysicsSettings)
    analyzer = make_analyzer(stage)
    ctx.deadline.check()
    with storage.download_to_temp(job.bucket, job.key, max_bytes=settings.max_video_bytes) as path:
        inspect_video(path, max_pixels=settings.max_video_pixels, decode_check=False)
        physics, events, result = analyze_file(
            analyzer, path, clip=job.key, max_duration_s=stage.max_duration_s
        )
    storage.put_json(bucket, layout.physics_observation, physics)
    storage.put_json(bucket, layout.physics_events, events)
    if previews_on(settings, ctx.settings_for(PhysicsSettings)):
        for name, data in physics_previews(physics, events).items():
            storage.put_bytes(bucket, layout.key(Stage.PHYSICS, name), data, "image/png")
    else:
        old = [k for k in layout.previews(Stage.PHYSICS) if storage.exists(bucket, k)]
        if old:
            storage.delete_keys(bucket, old)
    ctx.add_metric("GeminiTokens", MetricUnit.Count, sum(result.usage.values()))
    return JobOutcome(
        output_prefix=s3_uri(bucket, layout.stage(Stage.PHYSICS)),
        metrics={
            "samples": len(result.observation.samples),
            "events": len(events["events"]),
            "attempts": result.attempts,
            "cached": result.cached,
            "usage_tokens": result.usage,
            "estimated_cost_usd": result.cost_usd,
        },
    )
