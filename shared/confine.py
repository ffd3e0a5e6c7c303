"""Confinement: a message may only read its own video (docs/reliability.md, docs/messages.md).

Parsing (:mod:`shared.messages`) checks that identifiers and keys are *well formed*; this module
checks that they *belong together*, after parsing and before any S3 access:

* the video's bucket is the videos bucket (``S3_BUCKET_VIDEOS``) or one named in
  ``VIDEO_SOURCE_BUCKETS``; never the results bucket, unless the two are the same bucket. This
  holds for S3 event notifications too: an event from any other bucket is refused;
* the key lies under the job's own ``{platform}/{shortcode}/`` prefix, so a direct job for
  ``demo/attacker1`` cannot name ``victim/secret1/video.mp4``;
* the key is not inside a stage's output folder (``{platform}/{shortcode}/frames/...``), which
  matters when results share the videos bucket.

A refusal is a :class:`~shared.errors.ConfinementError`: permanent, recorded and acknowledged
like any invalid message. Writes are confined separately, by
:meth:`shared.storage.S3Storage.confined` (each stage writes only under its own folder).
"""

from __future__ import annotations

from shared.config import Settings
from shared.errors import ConfinementError
from shared.messages import VideoJob
from shared.stages import STAGES


def output_folders() -> frozenset[str]:
    """Every stage's output folder name (``frames``, ``landmarks``, ...)."""
    return frozenset(s.folder for s in STAGES.values())


def confine(job: VideoJob, settings: Settings) -> VideoJob:
    """Return ``job`` if it reads only its own video; refuse it otherwise.

    Args:
        job: a parsed, well-formed job.
        settings: the core settings (buckets, ``VIDEO_SOURCE_BUCKETS``).

    Raises:
        ConfinementError: the bucket is not a video source, or the key lies outside
            ``{platform}/{shortcode}/`` or inside a stage's output folder. The message says which.
    """
    sources = settings.source_buckets
    if job.bucket not in sources:
        what = (
            "the results bucket"
            if job.bucket == settings.s3_bucket_frames
            else "not a video source bucket"
        )
        origin = "S3 event from" if job.source == "s3" else "message names"
        raise ConfinementError(
            f"{origin} bucket {job.bucket!r}: {what}; videos are read only from "
            f"{', '.join(sorted(sources))} (S3_BUCKET_VIDEOS, VIDEO_SOURCE_BUCKETS)"
        )
    prefix = f"{job.platform}/{job.shortcode}/"
    if not job.key.startswith(prefix):
        raise ConfinementError(
            f"key {job.key!r} is outside the job's own prefix {prefix!r}: a message may only "
            "name its own video"
        )
    rest = job.key[len(prefix) :].split("/")
    if len(rest) > 1 and rest[0] in output_folders():
        raise ConfinementError(
            f"key {job.key!r} is inside the stage output folder {prefix}{rest[0]}/, not a video"
        )
    return job
