"""The landmarks stage for one video: download, extract, stream the arrays and metadata to S3.

Receives its collaborators through :class:`~shared.batch.JobContext`; reads no environment and
creates no client.
"""

from __future__ import annotations

import time

from functions.landmarks.config import LandmarksConfig, config_for_message, resolve_config
from functions.landmarks.landmarks import LandmarksResult, extract_landmarks
from functions.landmarks.previews import PreviewSampler, landmark_previews, preview_params
from functions.landmarks.settings import LandmarksSettings
from shared.batch import JobContext, JobOutcome
from shared.layout import (
    LANDMARKS_JSON,
    LANDMARKS_NPZ,
    LANDMARKS_TRAJECTORIES,
    PREVIEW_GIF,
    VideoLayout,
    s3_uri,
)
from shared.messages import VideoJob
from shared.observability import MetricUnit
from shared.stages import Stage
from shared.storage import S3Storage
from shared.video import inspect_video, open_video, video_info

_CONTENT_TYPES = {PREVIEW_GIF: "image/gif", LANDMARKS_TRAJECTORIES: "image/png"}


def settings_config(settings: LandmarksSettings) -> LandmarksConfig:
    """``LANDMARKS_CONFIG`` when set, else ``LANDMARKS_PRESET``.

    Raises:
        ConfigurationError: the file or preset is invalid.
    """
    if settings.config is not None:
        return resolve_config(config_path=settings.config)
    return resolve_config(preset=settings.preset)


def stage_config(settings: LandmarksSettings) -> LandmarksConfig:
    """The stage's base config: :func:`settings_config` with ``LANDMARKS_WORKERS`` on top when
    non-zero.

    Raises:
        ConfigurationError: the file or preset is invalid.
    """
    return settings_config(settings).with_overrides(workers=settings.workers or None)


def upload_result(
    storage: S3Storage, bucket: str, prefix: str, result: LandmarksResult, cfg: LandmarksConfig
) -> int:
    """Write ``{prefix}landmarks.npz`` (streamed from memory, multipart above one chunk) and then
    ``{prefix}landmarks.json``, so the metadata always describes arrays already in place.

    Returns:
        Bytes written.

    Raises:
        StorageUnavailableError: S3 kept failing.
    """
    data = result.to_npz_bytes()
    storage.upload_bytes(
        bucket,
        prefix + LANDMARKS_NPZ,
        data,
        "application/octet-stream",
        chunk_size=cfg.s3.chunk_size,
        max_workers=cfg.s3.max_workers,
    )
    meta = dict(result.metadata, npz={"key": prefix + LANDMARKS_NPZ, "bytes": len(data)})
    storage.put_json(bucket, prefix + LANDMARKS_JSON, meta)
    return len(data)


def write_previews(
    storage: S3Storage,
    bucket: str,
    layout: VideoLayout,
    result: LandmarksResult,
    sampler: PreviewSampler | None,
) -> float:
    """Write ``landmarks/preview.gif`` and ``landmarks/trajectories.png`` when ``sampler`` is
    given (previews on); with previews off, remove those an earlier run left. Returns the
    seconds spent.

    Raises:
        StorageUnavailableError: S3 kept failing.
    """
    started = time.perf_counter()
    if sampler is None:
        old = [k for k in layout.previews(Stage.LANDMARKS) if storage.exists(bucket, k)]
        if old:
            storage.delete_keys(bucket, old)
        return 0.0
    for name, data in landmark_previews(result, sampler, title=layout.base.rstrip("/")).items():
        storage.put_bytes(bucket, layout.key(Stage.LANDMARKS, name), data, _CONTENT_TYPES[name])
    return round(time.perf_counter() - started, 3)


def landmarks_job(job: VideoJob, ctx: JobContext) -> JobOutcome:
    """Extract landmark sequences for one video (the stage's job for ``run_batch``).

    Raises:
        VideoMissingError, VideoTooLargeError, CorruptVideoError: permanent
            (``ResolutionTooLargeError`` over ``MAX_VIDEO_PIXELS``, ``UnsupportedCodecError`` for a
            codec the image cannot decode).
        InvalidMessageError: bad ``options["landmarks"]``.
        StorageUnavailableError, StatusStoreUnavailableError: transient.
        ConfigurationError: ``LANDMARKS_CONFIG``/``LANDMARKS_PRESET`` is invalid.
        OutOfTimeError: the deadline came during extraction.
    """
    settings, storage = ctx.settings, ctx.storage
    stage = ctx.settings_for(LandmarksSettings)
    cfg = config_for_message(stage_config(stage), job.options.get(str(Stage.LANDMARKS)))
    bucket = settings.s3_bucket_frames
    layout = VideoLayout(job.platform, job.shortcode)
    prefix = layout.stage(Stage.LANDMARKS)
    previews = preview_params(settings, stage)
    sampler: PreviewSampler | None = None
    with storage.download_to_temp(job.bucket, job.key, max_bytes=settings.max_video_bytes) as path:
        inspect_video(path, max_pixels=settings.max_video_pixels)
        bytes_read = path.stat().st_size
        if previews is not None:
            sampler = PreviewSampler(float(video_info(open_video(path)).fps), previews)
        result = extract_landmarks(
            path,
            cfg,
            platform=job.platform,
            shortcode=job.shortcode,
            check_deadline=ctx.deadline.check,
            on_sample=sampler,
        )
    written = upload_result(storage, bucket, prefix, result, cfg)
    preview_s = write_previews(storage, bucket, layout, result, sampler)
    meta = result.metadata
    ctx.add_metric("LandmarkFrames", MetricUnit.Count, result.frames)
    ctx.add_metric("PoseDetectionRate", MetricUnit.Percent, 100 * meta["detection_rate"])
    ctx.add_metric("SecondsPerVideo", MetricUnit.Seconds, meta["timings"]["total_s"])
    ctx.add_metric("BytesRead", MetricUnit.Bytes, bytes_read)
    return JobOutcome(
        output_prefix=s3_uri(bucket, prefix),
        metrics={
            "frames": result.frames,
            "pose_frames": meta["pose_frames"],
            "detection_rate": meta["detection_rate"],
            "hand_frames": meta["hand_frames"],
            "fps_used": meta["sampling"]["fps_used"],
            "seconds": meta["timings"]["total_s"],
            "bytes_read": bytes_read,
            "bytes_written": written,
            "preview_seconds": preview_s,
        },
    )
