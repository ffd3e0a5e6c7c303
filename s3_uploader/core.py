"""The replaced package's classes over vidpipe's landmarks code (docs/compat/s3-uploader.md).

* :class:`MediaPipeStreamingExtractor`: one video to the compressed bytes of vidpipe's
  ``landmarks.npz`` (``np.savez_compressed``, read back with
  ``np.load(io.BytesIO(data), allow_pickle=False)``) and its ``landmarks.json`` metadata. The
  replaced package returned a gzipped pickle; a pickle from a bucket is remote code execution
  for whoever loads it, so none is ever written.
* :class:`S3StreamingUploader`: bytes to S3 from memory (multipart above ``chunk_size``).
* :class:`MediaPipeS3StreamingPipeline`: a folder of videos to
  ``s3://{s3_bucket}/{s3_prefix}/{video stem}/landmarks.{npz,json}``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from functions.landmarks.api import LandmarksPipeline
from functions.landmarks.config import MIB, LandmarksConfig, _validate
from functions.landmarks.landmarks import extract_landmarks
from s3_uploader.config import MEDIAPIPE_KEYS, PipelineConfig
from shared.errors import ConfigurationError
from shared.storage import S3Storage

#: Keyword arguments that set a key of the landmarks config: name -> (section, key).
EXTRACTOR_OPTIONS: dict[str, tuple[str, str]] = {
    **{k: ("mediapipe", k) for k in MEDIAPIPE_KEYS},
    "target_fps": ("video", "target_fps"),
    "max_frames": ("video", "max_frames"),
    "workers": ("processing", "workers"),
    "queue_frames": ("processing", "queue_frames"),
    "memory_limit_gb": ("performance", "memory_limit_gb"),
}
UPLOADER_OPTIONS: dict[str, tuple[str, str]] = {
    "max_workers": ("s3", "max_workers"),
    "chunk_size": ("s3", "chunk_size"),
}


def _base_config(config: PipelineConfig | LandmarksConfig | str | Path | None) -> LandmarksConfig:
    if config is None:
        return PipelineConfig().landmarks_config
    if isinstance(config, LandmarksConfig):
        return config
    if isinstance(config, PipelineConfig):
        return config.landmarks_config
    return PipelineConfig(config).landmarks_config


def _configure(
    config: PipelineConfig | LandmarksConfig | str | Path | None,
    options: dict[str, Any],
    allowed: dict[str, tuple[str, str]],
    who: str,
) -> LandmarksConfig:
    """``config`` (default: the production preset) with the keyword ``options`` on top.

    Raises:
        ConfigurationError: an unknown option, or an invalid value.
    """
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigurationError(
            f"{who}: unknown option(s) {', '.join(unknown)}; known: {', '.join(allowed)}"
        )
    data = _base_config(config).model_dump(mode="json")
    for name, value in options.items():
        section, key = allowed[name]
        data[section][key] = value
    given = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "defaults"
    return _validate(data, f"{who}({given})")


def _storage(region_name: str | None) -> S3Storage:
    """S3 access in ``region_name``, with the pipeline's retries, time-outs and endpoint
    (``S3_ENDPOINT_URL`` ...) from settings."""
    import boto3
    from botocore.config import Config

    from shared.config import get_settings

    settings = get_settings()
    client = boto3.session.Session().client(
        "s3",
        region_name=region_name,
        endpoint_url=settings.s3_endpoint_url,
        config=Config(
            retries={"mode": "adaptive", "max_attempts": settings.s3_retries},
            connect_timeout=settings.s3_connect_timeout,
            read_timeout=settings.s3_read_timeout,
            max_pool_connections=max(10, settings.s3_upload_workers * 2),
        ),
    )
    return S3Storage(
        client,
        retry_delay_s=settings.s3_retry_delay_s,
        upload_workers=settings.s3_upload_workers,
        tmp_dir=settings.tmp_dir,
    )


class MediaPipeStreamingExtractor:
    """Landmark sequences of one video, in memory.

    Args:
        model_complexity: pose model; only 1 ships with mediapipe 0.10.21 (0 and 2 raise).
        min_detection_confidence: detector score to accept a person or palm, in [0, 1].
        min_tracking_confidence: landmark score to keep tracking, in [0, 1].
        hands: also extract hand landmarks.
        smooth_landmarks: MediaPipe's temporal filter on pose landmarks.
        target_fps: default sampled frames per second for :meth:`extract_sequence_to_memory`.
        max_frames: most sampled frames per video.
        workers: segment workers (0: one per CPU).
        queue_frames: decoded frames queued per worker.
        memory_limit_gb: bound workers and queued frames to this much memory (GiB).
        config: a :class:`PipelineConfig`, a landmarks config or a JSON path to start from
            (default: the ``production`` preset); the other arguments override it.

    Only the arguments given override the starting config.

    Raises:
        ConfigurationError: an invalid value (the message names the key and the reason).
    """

    def __init__(
        self,
        config: PipelineConfig | LandmarksConfig | str | Path | None = None,
        **options: Any,
    ) -> None:
        self.config = _configure(config, options, EXTRACTOR_OPTIONS, "MediaPipeStreamingExtractor")

    def extract_sequence_to_memory(
        self,
        video_path: str | Path,
        target_fps: float | None = None,
        max_frames: int | None = None,
    ) -> tuple[bytes, dict[str, Any]]:
        """Extract one video's landmark sequences.

        Args:
            video_path: a local video file.
            target_fps: sampled frames per second (``None``: the extractor's, 30 by default).
            max_frames: most sampled frames (``None``: the extractor's).

        Returns:
            ``(compressed_data, metadata)``: the bytes of ``landmarks.npz``
            (``np.savez_compressed``: ``timestamps_s (T,)`` s, ``frame_index (T,)``,
            ``pose (T, 33, 4)`` float32 x, y normalised, z relative, visibility; ``hands
            (T, 2, 21, 3)`` with hands on; NaN where nothing was found) and the
            ``landmarks.json`` document, with ``format: "npz"`` and ``compressed_bytes``.

        Raises:
            ConfigurationError: an invalid override.
            CorruptVideoError: not a readable video (a missing file included).
        """
        cfg = self.config.with_overrides(target_fps=target_fps, max_frames=max_frames)
        result = extract_landmarks(video_path, cfg, shortcode=Path(video_path).stem[:128])
        data = result.to_npz_bytes()
        metadata = dict(result.metadata, format="npz", compressed_bytes=len(data))
        return data, metadata


class S3StreamingUploader:
    """In-memory bytes to S3, never through a local file.

    Args:
        bucket_name: the target bucket.
        region_name: its AWS region.
        max_workers: parallel part uploads of a multipart upload.
        chunk_size: multipart threshold and part size in bytes (at least 5 MiB).
        storage: S3 access to use instead of a client built from settings (tests).

    Raises:
        ConfigurationError: ``max_workers`` or ``chunk_size`` out of range.
    """

    def __init__(
        self,
        bucket_name: str,
        region_name: str | None = "us-east-1",
        max_workers: int = 10,
        chunk_size: int = 8 * MIB,
        *,
        storage: S3Storage | None = None,
    ) -> None:
        cfg = _configure(
            None,
            {"max_workers": max_workers, "chunk_size": chunk_size},
            UPLOADER_OPTIONS,
            "S3StreamingUploader",
        )
        self.bucket_name = bucket_name
        self.region_name = region_name
        self.max_workers = cfg.s3.max_workers
        self.chunk_size = cfg.s3.chunk_size
        self.storage = storage or _storage(region_name)

    def upload_data_streaming(
        self, data: bytes, s3_key: str, content_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """Upload ``data`` to ``s3://{bucket_name}/{s3_key}``.

        Returns:
            ``{"success": True, "bucket", "s3_key", "s3_uri", "size_bytes", "multipart",
            "upload_time_s"}``; ``multipart`` is true when ``data`` is at least ``chunk_size``.

        Raises:
            StorageUnavailableError: S3 kept failing (transient).
            ConfigurationError: the bucket does not exist.
        """
        started = time.perf_counter()
        self.storage.upload_bytes(
            self.bucket_name,
            s3_key,
            data,
            content_type,
            chunk_size=self.chunk_size,
            max_workers=self.max_workers,
        )
        return {
            "success": True,
            "bucket": self.bucket_name,
            "s3_key": s3_key,
            "s3_uri": f"s3://{self.bucket_name}/{s3_key}",
            "size_bytes": len(data),
            "multipart": len(data) >= self.chunk_size,
            "upload_time_s": round(time.perf_counter() - started, 3),
        }


class MediaPipeS3StreamingPipeline:
    """Every video directly inside ``video_dir`` to
    ``s3://{s3_bucket}/{s3_prefix}/{video stem}/landmarks.npz`` and ``landmarks.json``.

    Args:
        video_dir: folder with the videos (not searched recursively).
        s3_bucket: target bucket.
        s3_prefix: key prefix.
        aws_region: the bucket's region.
        **kwargs: the extractor's options (``model_complexity``, ``min_detection_confidence``,
            ``target_fps`` ..., see :class:`MediaPipeStreamingExtractor`; what
            :meth:`PipelineConfig.get_extractor_kwargs` returns), ``max_workers`` and
            ``chunk_size`` for the upload, ``config`` (a :class:`PipelineConfig` or JSON path
            to start from) and ``storage`` (S3 access, for tests).

    Raises:
        ConfigurationError: an unknown option or an invalid value.
    """

    def __init__(
        self,
        video_dir: str | Path,
        s3_bucket: str,
        s3_prefix: str,
        aws_region: str = "us-east-1",
        **kwargs: Any,
    ) -> None:
        config = kwargs.pop("config", None)
        storage = kwargs.pop("storage", None)
        self.config = _configure(
            config,
            kwargs,
            {**EXTRACTOR_OPTIONS, **UPLOADER_OPTIONS},
            "MediaPipeS3StreamingPipeline",
        )
        self.video_dir = Path(video_dir)
        self.s3_bucket = s3_bucket
        self.s3_prefix = s3_prefix.strip("/")
        self.aws_region = aws_region
        self._pipeline = LandmarksPipeline(
            self.video_dir,
            s3_bucket,
            self.s3_prefix,
            config=self.config,
            storage=storage or _storage(aws_region),
        )

    def run_streaming_pipeline(
        self, target_fps: float | None = None, max_frames: int | None = None
    ) -> dict[str, Any]:
        """Extract and upload every video; a failed video does not stop the others.

        Args:
            target_fps: sampled frames per second (``None``: the configured, 30 by default).
            max_frames: most sampled frames per video (``None``: the configured, no cap).

        Returns:
            ``{"processed_videos": int, "failed_videos": int, "total_videos": int,
            "total_frames": int, "uploaded_files": [s3 URIs of landmarks.npz],
            "errors": {file name: "ErrorClass: message"}, "s3_bucket", "s3_prefix",
            "processing_time_s": float}``.

        Raises:
            ConfigurationError: ``video_dir`` is not a folder, or an override is invalid.
        """
        started = time.perf_counter()
        summary = self._pipeline.run(target_fps=target_fps, max_frames=max_frames)
        return {
            "processed_videos": summary.processed,
            "failed_videos": summary.failed,
            "total_videos": summary.processed + summary.failed,
            "total_frames": summary.total_frames,
            "uploaded_files": list(summary.uploaded),
            "errors": dict(summary.errors),
            "s3_bucket": self.s3_bucket,
            "s3_prefix": self.s3_prefix,
            "processing_time_s": round(time.perf_counter() - started, 3),
        }
