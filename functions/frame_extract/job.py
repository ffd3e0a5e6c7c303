"""The frame-extract stage for one video: download, detect, upload key frames and manifest.

Receives its collaborators (storage, status store, deadline) through
:class:`~shared.batch.JobContext`; it reads no environment and creates no client.
"""

from __future__ import annotations

import time

from functions.frame_extract.extract import ExtractResult, extract_keyframes
from functions.frame_extract.params import params_from
from functions.frame_extract.previews import keyframe_previews, preview_params
from functions.frame_extract.settings import FrameExtractSettings
from shared.batch import JobContext, JobOutcome
from shared.errors import VideoMissingError
from shared.layout import CONTACT_SHEET, PREVIEW_GIF, VideoLayout, s3_uri
from shared.manifest import FrameManifest
from shared.messages import VideoJob
from shared.observability import MetricUnit
from shared.stages import Stage
from shared.video import inspect_video

_CONTENT_TYPES = {PREVIEW_GIF: "image/gif", CONTACT_SHEET: "image/jpeg"}


def extract_job(job: VideoJob, ctx: JobContext) -> JobOutcome:
    """Run frame extraction for one video (the stage's job for :func:`shared.batch.run_batch`).

    Writes ``frames/{index}.jpg`` as scenes close (parallel uploads while decoding goes on), then
    ``frames/manifest.json`` last, so a manifest always describes a complete set. With
    previews on, ``frames/preview.gif`` and ``frames/contact_sheet.jpg`` come from the key frames
    in memory just before the manifest.

    Raises:
        VideoMissingError: the object is missing, or the ``videos`` row says not downloaded.
        VideoTooLargeError: over ``MAX_VIDEO_BYTES``, or frames over ``MAX_VIDEO_PIXELS``.
        CorruptVideoError: not a video, or truncated.
        UnsupportedCodecError: a codec the image cannot decode.
        InvalidMessageError: bad ``options``.
        StorageUnavailableError, StatusStoreUnavailableError: transient.
        OutOfTimeError: the deadline came during decoding.
    """
    settings, storage = ctx.settings, ctx.storage
    stage_settings = ctx.settings_for(FrameExtractSettings)
    params = params_from(stage_settings, job.options.get(str(Stage.FRAME_EXTRACT)))
    previews = preview_params(settings, stage_settings)
    bucket = settings.s3_bucket_frames
    layout = VideoLayout(job.platform, job.shortcode)
    prefix = layout.stage(Stage.FRAME_EXTRACT)
    output = s3_uri(bucket, prefix)

    video = ctx.status.get_video(job.platform, job.shortcode)
    if video is not None and video.is_extracted:
        return JobOutcome(output, frame_count=video.frame_count, skipped="already extracted")
    if video is not None and not video.is_downloaded and job.source == "direct":
        raise VideoMissingError(f"{job.label} is registered but not downloaded yet")

    with storage.download_to_temp(job.bucket, job.key, max_bytes=settings.max_video_bytes) as path:
        inspect_video(path, max_pixels=settings.max_video_pixels)
        if video is None or not video.is_downloaded:
            ctx.status.mark_downloaded(job.platform, job.shortcode)
        bytes_read = path.stat().st_size
        with storage.uploader(bucket) as uploads:
            result: ExtractResult = extract_keyframes(
                path,
                params,
                platform=job.platform,
                shortcode=job.shortcode,
                on_keyframe=lambda kf: uploads.submit(prefix + kf.file, kf.jpeg, "image/jpeg"),
                check_deadline=ctx.deadline.check,
            )
            uploads.wait()
    count = len(result.keyframes)
    # Frames of an earlier, longer run would otherwise outlive the new manifest (and its
    # pictures a run with previews off).
    wanted = {prefix + kf.file for kf in result.keyframes}
    old_previews = set(layout.previews(Stage.FRAME_EXTRACT)) if previews is None else set()
    stale = [
        k
        for k in storage.list_keys(bucket, prefix)
        if (_is_frame_jpeg(k[len(prefix) :]) and k not in wanted) or k in old_previews
    ]
    if stale:
        storage.delete_keys(bucket, stale)
    preview_s = 0.0
    if previews is not None and result.keyframes:
        # from the key frames' JPEGs in memory: no second decode of the video
        started = time.perf_counter()
        for name, data in keyframe_previews(result.keyframes, previews).items():
            storage.put_bytes(bucket, prefix + name, data, _CONTENT_TYPES[name])
        preview_s = time.perf_counter() - started
    manifest = FrameManifest.parse(result.manifest)
    storage.put_json(bucket, layout.frame_manifest, manifest.model_dump(mode="json"))

    ctx.add_metric("FramesExtracted", MetricUnit.Count, count)
    ctx.add_metric("SecondsPerVideo", MetricUnit.Seconds, result.seconds)
    ctx.add_metric("BytesRead", MetricUnit.Bytes, bytes_read)
    return JobOutcome(
        output_prefix=output,
        frame_count=count,
        metrics={
            "frames": count,
            "decoded_frames": result.decoded_frames,
            "cuts_ignored": result.cuts_ignored,
            "fallback": manifest.fallback,
            "seconds": round(result.seconds, 3),
            "bytes_read": bytes_read,
            "bytes_written": uploads.bytes_uploaded,
            "preview_seconds": round(preview_s, 3),
        },
    )


def _is_frame_jpeg(name: str) -> bool:
    """``{index}.jpg``, a key frame (not a preview such as ``contact_sheet.jpg``)."""
    stem, _, ext = name.partition(".")
    return ext == "jpg" and stem.isdigit()
