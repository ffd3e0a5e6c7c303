"""The trailer stage for one video: the dependencies' outputs and the video from S3, every
profile's trailer rendered in one pass, the deliverables streamed back to
``{platform}/{shortcode}/trailer/{profile_id}/``."""

from __future__ import annotations

import json
from typing import Any

from functions.trailer.settings import TrailerSettings
from functions.trailer.trailer import make_trailers, run_from
from functions.trailer.translate import Translator
from shared import aws
from shared.batch import JobContext, JobOutcome
from shared.errors import PermanentError, VideoMissingError
from shared.layout import VideoLayout, s3_uri
from shared.manifest import FrameManifest
from shared.messages import VideoJob
from shared.observability import MetricUnit
from shared.stages import Stage
from shared.storage import owned_temp_dir
from shared.video import inspect_video


class DependencyMissingError(PermanentError):
    """frame-extract's manifest or rekognition's analysis is missing or unreadable: the stage
    it comes from did not run, or failed."""


def _dependency(ctx: JobContext, bucket: str, key: str, stage: Stage) -> bytes:
    try:
        return ctx.storage.get_bytes(bucket, key)
    except VideoMissingError:
        raise DependencyMissingError(
            f"the trailer needs {stage}'s s3://{bucket}/{key}, which does not exist: {stage} "
            f"did not run or failed for this video (plan trailer and it runs after {stage})"
        ) from None


def trailer_job(job: VideoJob, ctx: JobContext) -> JobOutcome:
    """Render every profile's trailer for one video (the options' ``trailer`` key, else the
    ``TRAILER_*`` defaults) and write ``trailer.<ext>``, ``edl.json``, ``chapters.vtt`` and
    ``storyboard.jpg`` per profile; files of earlier runs that this one did not write are
    deleted.

    Raises:
        InvalidMessageError, ProfileError, UnsupportedLanguageError: bad options (permanent).
        DependencyMissingError: no manifest or analysis (permanent).
        TooFewScenesError, VideoTooShortError: too little to cut from (permanent).
        VideoMissingError, VideoTooLargeError, CorruptVideoError: the video (permanent).
        TranslateUnavailableError, StorageUnavailableError: transient.
        ConfigurationError: no access to Amazon Translate.
        OutOfTimeError: the deadline came while rendering (the claim is released).
    """
    settings, storage = ctx.settings, ctx.storage
    cfg = ctx.settings_for(TrailerSettings)
    run = run_from(cfg, job.options.get(str(Stage.TRAILER)))
    bucket = settings.s3_bucket_frames
    layout = VideoLayout(job.platform, job.shortcode)
    written: set[str] = set()
    with storage.download_to_temp(job.bucket, job.key, max_bytes=settings.max_video_bytes) as path:
        # the video is checked first, as in every stage (MAX_VIDEO_PIXELS before anything else)
        inspect_video(path, max_pixels=settings.max_video_pixels)
        manifest = FrameManifest.parse(
            _dependency(ctx, bucket, layout.frame_manifest, Stage.FRAME_EXTRACT)
        )
        raw = _dependency(ctx, bucket, layout.rekognition_analysis, Stage.REKOGNITION)
        try:
            analysis: dict[str, Any] = json.loads(raw)
            if not isinstance(analysis, dict) or not isinstance(analysis.get("frames"), list):
                raise ValueError("no frames list")
        except ValueError as exc:
            raise DependencyMissingError(
                f"rekognition's {layout.rekognition_analysis} is not an analysis: {exc}"
            ) from None
        translator = (
            Translator(aws.client("translate", settings, retries=cfg.translate_retries))
            if run.target_language != "en"
            else None
        )
        ctx.deadline.check()
        with owned_temp_dir(settings.tmp_dir) as work:
            result = make_trailers(
                path,
                manifest,
                analysis,
                run,
                cfg,
                work,
                translator=translator,
                check_deadline=ctx.deadline.check,
            )
            for t in result.trailers:
                video_key = layout.trailer(t.profile_id) + t.video_name
                storage.upload_file(bucket, video_key, t.video_path, t.content_type)
                written.add(video_key)
                for name, (data, content_type) in t.files.items():
                    key = layout.trailer(t.profile_id) + name
                    storage.put_bytes(bucket, key, data, content_type)
                    written.add(key)
    prefix = layout.stage(Stage.TRAILER)
    stale = [k for k in storage.list_keys(bucket, prefix) if k not in written]
    if stale:
        storage.delete_keys(bucket, stale)
    seconds = sum(t.duration_s for t in result.trailers)
    cost = round(result.translated_characters * cfg.translate_price_per_char_usd, 6)
    ctx.add_metric("TrailersRendered", MetricUnit.Count, len(result.trailers))
    ctx.add_metric("TrailerSeconds", MetricUnit.Seconds, seconds)
    ctx.add_metric("RenderSeconds", MetricUnit.Seconds, result.render_seconds)
    return JobOutcome(
        output_prefix=s3_uri(bucket, prefix),
        metrics={
            "profiles": [t.profile_id for t in result.trailers],
            "shots": {t.profile_id: len(t.edl["shots"]) for t in result.trailers},
            "trailer_seconds": round(seconds, 3),
            "render_seconds": round(result.render_seconds, 3),
            "output_format": run.output_format,
            "transition": run.select.transition,
            "target_language": run.target_language,
            "translated_characters": result.translated_characters,
            "translate_calls": result.translate_calls,
            "estimated_cost_usd": cost,
            "emulated_analysis": bool(analysis.get("emulated", False)),
        },
    )
