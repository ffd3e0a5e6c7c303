"""The Python API: one video to arrays, and a folder of videos to S3.

The seed's two snippets translate as below (docs/stages/landmarks.md, "Python API")::

    # seed
    pipeline = MediaPipeS3StreamingPipeline(video_dir, s3_bucket, s3_prefix, config)
    results = pipeline.run_streaming_pipeline(target_fps=30, max_frames=None)
    # vidpipe
    pipeline = LandmarksPipeline(video_dir, s3_bucket, s3_prefix, config=config)
    results = pipeline.run_streaming_pipeline(target_fps=30, max_frames=None)

and :func:`extract_video_landmarks` gives one video's arrays and metadata in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.landmarks.config import LandmarksConfig, Preset, resolve_config
from functions.landmarks.job import upload_result
from functions.landmarks.landmarks import LandmarksResult, extract_landmarks
from shared.errors import ConfigurationError, PipelineError
from shared.messages import VIDEO_EXTENSIONS
from shared.storage import S3Storage


def _config(
    preset: str | Preset | None, config: LandmarksConfig | Path | str | None
) -> LandmarksConfig:
    if isinstance(config, LandmarksConfig):
        if preset is not None:
            raise ConfigurationError("give either a preset or a config, not both")
        return config
    return resolve_config(preset=preset, config_path=config)


def extract_video_landmarks(
    video: Path | str,
    *,
    preset: str | Preset | None = None,
    config: LandmarksConfig | Path | str | None = None,
    target_fps: float | None = None,
    max_frames: int | None = None,
    hands: bool | None = None,
    workers: int | None = None,
    max_people: int | None = None,
    on_frame: Callable[[], None] | None = None,
) -> LandmarksResult:
    """Landmark arrays and metadata of one local video, in memory.

    Args:
        video: the video file.
        preset: a preset name (default ``production`` when no config is given).
        config: a :class:`LandmarksConfig` or the path of a JSON config file.
        target_fps: sampled frames per second (overrides the config).
        max_frames: most sampled frames (overrides the config).
        hands: hand landmarks on or off (overrides the config).
        workers: segment workers (overrides the config; 0 = one per CPU).
        max_people: most people per frame (overrides the config; > 1 adds ``result.poses
            (T, P, 33, 4)``, ``result.track_ids (T, P)`` and ``result.boxes (T, P, 4)``, and
            needs hands off).
        on_frame: called after each processed frame (for progress).

    Returns:
        ``result.timestamps_s (T,)``, ``result.pose (T, 33, 4)``, ``result.hands
        (T, 2, 21, 3)`` or ``None``, ``result.metadata``; see
        :class:`~functions.landmarks.landmarks.LandmarksResult`.

    Raises:
        ConfigurationError: bad preset, config or override.
        CorruptVideoError: not a readable video.
    """
    cfg = _config(preset, config).with_overrides(
        target_fps=target_fps,
        max_frames=max_frames,
        hands=hands,
        workers=workers,
        max_people=max_people,
    )
    stem = Path(video).stem
    return extract_landmarks(video, cfg, shortcode=stem, on_frame=on_frame)


@dataclass
class FolderSummary:
    """What :meth:`LandmarksPipeline.run` did.

    Attributes:
        processed: videos whose arrays and metadata are in S3.
        failed: videos that failed (their errors are in ``errors``).
        total_frames: sampled frames over the processed videos.
        uploaded: ``s3://`` URIs of the written ``landmarks.npz`` files.
        errors: file name -> ``ErrorClass: message``.
    """

    processed: int = 0
    failed: int = 0
    total_frames: int = 0
    uploaded: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The counts as a plain dict (``processed``, ``failed``, ``total_frames``, ...)."""
        return {
            "processed": self.processed,
            "failed": self.failed,
            "total_frames": self.total_frames,
            "uploaded": list(self.uploaded),
            "errors": dict(self.errors),
        }


def video_files(video_dir: Path | str) -> list[Path]:
    """The video files directly inside ``video_dir`` (by extension), sorted by name.

    Raises:
        ConfigurationError: ``video_dir`` is not a directory.
    """
    d = Path(video_dir)
    if not d.is_dir():
        raise ConfigurationError(f"{d} is not a directory")
    return sorted(
        p for p in d.iterdir() if p.is_file() and p.suffix.lower().lstrip(".") in VIDEO_EXTENSIONS
    )


def _folder_name(path: Path, taken: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)[:128] or "video"
    if name in taken:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.name)[:128]
    taken.add(name)
    return name


class LandmarksPipeline:
    """A folder of videos to ``s3://{s3_bucket}/{s3_prefix}/{video stem}/landmarks.{npz,json}``.

    Videos are processed one after another (each uses every core); a finished video's upload
    runs while the next one is extracted. Failures are recorded and do not stop the folder.

    Args:
        video_dir: folder with the videos (not searched recursively).
        s3_bucket: target bucket.
        s3_prefix: key prefix (no leading or trailing ``/`` needed).
        preset: preset name (default ``production`` when no config is given).
        config: a :class:`LandmarksConfig` or a JSON config path.
        storage: S3 access; default: from settings (``S3_ENDPOINT_URL``, retries, credentials).

    Raises:
        ConfigurationError: bad preset or config.
    """

    def __init__(
        self,
        video_dir: Path | str,
        s3_bucket: str,
        s3_prefix: str = "",
        *,
        preset: str | Preset | None = None,
        config: LandmarksConfig | Path | str | None = None,
        storage: S3Storage | None = None,
    ) -> None:
        self.video_dir = Path(video_dir)
        self.s3_bucket = s3_bucket
        self.s3_prefix = s3_prefix.strip("/")
        self.config = _config(preset, config)
        if storage is None:
            from shared.config import get_settings

            storage = S3Storage.from_settings(get_settings())
        self.storage = storage

    def run(
        self,
        target_fps: float | None = None,
        max_frames: int | None = None,
        *,
        on_video: Callable[[Path, str | None], None] | None = None,
        on_start: Callable[[Path], None] | None = None,
        on_frame: Callable[[], None] | None = None,
    ) -> FolderSummary:
        """Process every video in the folder.

        Args:
            target_fps: sampled frames per second (``None``: the config's).
            max_frames: most sampled frames per video (``None``: the config's).
            on_video: called per finished video with its error text (``None`` on success).
            on_start: called when a video's extraction starts.
            on_frame: called after each processed frame (progress).

        Returns:
            The counts; ``failed > 0`` when any video failed.

        Raises:
            ConfigurationError: the folder does not exist, or an override is invalid.
        """
        cfg = self.config.with_overrides(target_fps=target_fps, max_frames=max_frames)
        summary = FolderSummary()
        taken: set[str] = set()
        pending: list[tuple[Path, str, Future[int], int]] = []

        def finish(path: Path, error: str | None) -> None:
            if error is None:
                summary.processed += 1
            else:
                summary.failed += 1
                summary.errors[path.name] = error
            if on_video is not None:
                on_video(path, error)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="landmarks-upload") as pool:
            for path in video_files(self.video_dir):
                name = _folder_name(path, taken)
                if on_start is not None:
                    on_start(path)
                try:
                    result = extract_landmarks(path, cfg, shortcode=name, on_frame=on_frame)
                except PipelineError as exc:
                    finish(path, f"{type(exc).__name__}: {exc}")
                    continue
                prefix = f"{self.s3_prefix}/{name}/" if self.s3_prefix else f"{name}/"
                fut = pool.submit(upload_result, self.storage, self.s3_bucket, prefix, result, cfg)
                pending.append((path, prefix, fut, result.frames))
                # finish uploads that are done, keeping at most one in flight behind extraction
                while pending and (pending[0][2].done() or len(pending) > 1):
                    self._collect(pending.pop(0), summary, finish)
            while pending:
                self._collect(pending.pop(0), summary, finish)
        return summary

    def _collect(
        self,
        item: tuple[Path, str, Future[int], int],
        summary: FolderSummary,
        finish: Callable[[Path, str | None], None],
    ) -> None:
        path, prefix, fut, frames = item
        try:
            fut.result()
        except PipelineError as exc:
            finish(path, f"{type(exc).__name__}: {exc}")
            return
        summary.total_frames += frames
        summary.uploaded.append(f"s3://{self.s3_bucket}/{prefix}landmarks.npz")
        finish(path, None)

    #: The seed's method name.
    run_streaming_pipeline = run
