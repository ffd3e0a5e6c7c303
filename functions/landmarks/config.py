"""Landmarks configuration: the JSON file users keep, its four presets, and per-message options.

The file has the seed's three sections plus one for the pipeline itself::

    {"video": {"target_fps": 30.0, "max_frames": null},
     "mediapipe": {"model_complexity": 1, "min_detection_confidence": 0.5,
                   "min_tracking_confidence": 0.5, "hands": true, "smooth_landmarks": true,
                   "max_people": 1, "detect_every": 5, "detection_grid": 3},
     "s3": {"max_workers": 10, "chunk_size": 8388608},
     "processing": {"workers": 0, "queue_frames": 4},
     "performance": {"memory_limit_gb": null}}

``vidpipe config --preset NAME --output config.json`` writes one; every landmarks entry point
(CLI ``--config``, ``LANDMARKS_CONFIG``, the Python API) reads it with :func:`load_config`.
Unknown keys are errors, so a typo never silently falls back to a default.

Only models that ship inside mediapipe 0.10.21 can be used (nothing may download at run
time, docs/dependencies.md): pose ``model_complexity`` 1 (``pose_landmark_full.tflite``);
with hands on, the holistic graph adds ``hand_recrop.tflite`` and ``hand_landmark_full.tflite``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.errors import ConfigurationError, InvalidMessageError

MIB = 1024 * 1024
#: S3's smallest multipart part (except the last): 5 MiB.
MIN_PART_BYTES = 5 * MIB


class Preset(StrEnum):
    """The seed's preset names."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"
    HIGH_ACCURACY = "high_accuracy"
    FAST_PROCESSING = "fast_processing"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VideoSection(_Section):
    """Sampling.

    Attributes:
        target_fps: frames per second to sample (frames per second of video time); at or above
            the video's own rate every frame is used.
        max_frames: most sampled frames per video (``None``: no cap).
    """

    target_fps: float = Field(30.0, gt=0, le=240)
    max_frames: int | None = Field(None, ge=1)


class MediaPipeSection(_Section):
    """MediaPipe legacy-solution settings (``mediapipe.solutions.pose``, or the pose and hand
    part of ``.holistic`` with hands on).

    Attributes:
        model_complexity: pose model; only 1 (the full model) ships in the package.
        min_detection_confidence: person/palm detector score to accept a detection, in [0, 1].
        min_tracking_confidence: landmark presence score to keep tracking instead of running
            the detector again on the next frame, in [0, 1].
        hands: also extract hand landmarks, through the pose and hand part of the holistic
            graph (hands cropped at the pose's wrists; about 1.5x the inference time of pose
            alone).
        smooth_landmarks: MediaPipe's temporal filter on pose landmarks.
        max_people: most people per frame. 1 (default) is the single-person path above; more
            switches to multi-person tracking (Tasks ``PoseLandmarkerGraph`` on crops around
            each tracked person plus a tiled search for new people; see
            ``functions/landmarks/multi.py``), which adds the ``poses``, ``track_ids`` and
            ``boxes`` arrays. Hands are single-person only: ``hands`` must be off.
        detect_every: with ``max_people`` > 1, sampled frames between searches for new people
            (also searched on the frame after a track was missed).
        detection_grid: with ``max_people`` > 1, tiles per side of that search besides the
            whole frame (1: the whole frame only; small people need tiles).
    """

    model_complexity: Literal[1] = 1
    min_detection_confidence: float = Field(0.5, ge=0, le=1)
    min_tracking_confidence: float = Field(0.5, ge=0, le=1)
    hands: bool = False
    smooth_landmarks: bool = True
    max_people: int = Field(1, ge=1, le=32)
    detect_every: int = Field(5, ge=1, le=300)
    detection_grid: int = Field(3, ge=1, le=6)

    @model_validator(mode="after")
    def _hands_single_person(self) -> MediaPipeSection:
        if self.hands and self.max_people > 1:
            raise ValueError(
                "hands are extracted for one person only: turn hands off for max_people > 1"
            )
        return self

    @field_validator("model_complexity", mode="before")
    @classmethod
    def _bundled_only(cls, value: Any) -> Any:
        if value in (0, 2):
            raise ValueError(
                f"pose model_complexity {value} needs a model mediapipe 0.10.21 does not bundle "
                "(it would download at run time); use 1"
            )
        return value


class S3Section(_Section):
    """Result upload.

    Attributes:
        max_workers: parallel part uploads of one multipart upload.
        chunk_size: multipart part size in bytes (at least S3's 5 MiB minimum); results smaller
            than one part go up in a single ``PutObject``.
    """

    max_workers: int = Field(10, ge=1, le=64)
    chunk_size: int = Field(8 * MIB, ge=MIN_PART_BYTES, le=5 * 1024 * MIB)


class ProcessingSection(_Section):
    """How extraction uses the machine.

    Attributes:
        workers: segment workers, each a decoder thread feeding an inference thread with its own
            MediaPipe graph; 0 means one per CPU.
        queue_frames: decoded frames a worker's decoder may hold ahead of its inference.
    """

    workers: int = Field(0, ge=0, le=64)
    queue_frames: int = Field(4, ge=1, le=64)


class PerformanceSection(_Section):
    """Resource limits (the seed's ``performance`` section).

    Attributes:
        memory_limit_gb: memory, in GiB, that extraction may use; when set, workers and
            queued frames are reduced per video until :func:`memory_plan` estimates that they
            fit (``None``: no limit).
    """

    memory_limit_gb: float | None = Field(None, gt=0, le=1024)


#: Estimated resident memory, in bytes, of the process before any worker starts (Python,
#: OpenCV, MediaPipe and NumPy imported), and of one worker's MediaPipe graph (pose only, or
#: the pose and hand part of holistic). Rough figures: RSS grows by about this much here.
BASE_BYTES = 400 * MIB
GRAPH_BYTES = {False: 80 * MIB, True: 160 * MIB}
#: Decoded frames a worker holds besides its queue: the one being converted, the one in
#: inference, and the decoder's reference frames (counted as four more RGB frames).
EXTRA_FRAMES = 6


def memory_plan(
    limit_gb: float | None, frame_bytes: int, workers: int, queue_frames: int, hands: bool
) -> tuple[int, int]:
    """Workers and queued frames per worker that fit in ``limit_gb``.

    Memory is estimated as ``BASE_BYTES + workers * (GRAPH_BYTES[hands] + (queue_frames +
    EXTRA_FRAMES) * frame_bytes)``. Queued frames are cut first (down to 1), then workers (down
    to 1); at one worker with one queued frame the plan is used even if it does not fit.

    Args:
        limit_gb: the limit in GiB, or ``None`` (no limit: the inputs are returned).
        frame_bytes: bytes of one decoded RGB frame (width x height x 3).
        workers: requested workers (at least 1).
        queue_frames: requested queued frames per worker (at least 1).
        hands: whether the hand graph runs too.

    Returns:
        ``(workers, queue_frames)``.
    """
    if limit_gb is None:
        return workers, queue_frames

    def need(w: int, q: int) -> float:
        return BASE_BYTES + w * (GRAPH_BYTES[hands] + (q + EXTRA_FRAMES) * frame_bytes)

    budget = limit_gb * 1024 * MIB
    w, q = max(1, workers), max(1, queue_frames)
    while q > 1 and need(w, q) > budget:
        q -= 1
    while w > 1 and need(w, q) > budget:
        w -= 1
    return w, q


class LandmarksConfig(_Section):
    """The whole landmarks configuration (see the module docstring for the JSON shape)."""

    video: VideoSection = VideoSection.model_validate({})
    mediapipe: MediaPipeSection = MediaPipeSection.model_validate({})
    s3: S3Section = S3Section.model_validate({})
    processing: ProcessingSection = ProcessingSection.model_validate({})
    performance: PerformanceSection = PerformanceSection.model_validate({})

    def with_overrides(
        self,
        *,
        target_fps: float | None = None,
        max_frames: int | None = None,
        hands: bool | None = None,
        workers: int | None = None,
        max_people: int | None = None,
    ) -> LandmarksConfig:
        """A copy with the given fields replaced (``None`` keeps the current value).

        Raises:
            ConfigurationError: an override is out of range.
        """
        data = self.model_dump()
        for section, key, value in (
            ("video", "target_fps", target_fps),
            ("video", "max_frames", max_frames),
            ("mediapipe", "hands", hands),
            ("mediapipe", "max_people", max_people),
            ("processing", "workers", workers),
        ):
            if value is not None:
                data[section][key] = value
        return _validate(data, "overrides")


PRESETS: dict[Preset, dict[str, Any]] = {
    # Quick looks while developing: 10 fps, at most 300 frames, pose only.
    Preset.DEVELOPMENT: {
        "video": {"target_fps": 10.0, "max_frames": 300},
        "mediapipe": {"hands": False},
        "s3": {"max_workers": 4},
    },
    # Every frame of a 30 fps video, pose and hands.
    Preset.PRODUCTION: {
        "video": {"target_fps": 30.0, "max_frames": None},
        "mediapipe": {"hands": True},
        "s3": {"max_workers": 10},
    },
    # Every frame up to 60 fps, pose and hands, stricter detection and tracking scores.
    Preset.HIGH_ACCURACY: {
        "video": {"target_fps": 60.0, "max_frames": None},
        "mediapipe": {
            "hands": True,
            "min_detection_confidence": 0.7,
            "min_tracking_confidence": 0.7,
        },
        "s3": {"max_workers": 10},
    },
    # 10 fps, pose only, looser tracking score (fewer detector re-runs).
    Preset.FAST_PROCESSING: {
        "video": {"target_fps": 10.0, "max_frames": None},
        "mediapipe": {"hands": False, "min_tracking_confidence": 0.3},
        "s3": {"max_workers": 16},
    },
}


def _validate(data: Any, source: str) -> LandmarksConfig:
    try:
        return LandmarksConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"invalid landmarks config ({source}): {problems}") from exc


def preset_config(name: str | Preset) -> LandmarksConfig:
    """The configuration of a named preset.

    Raises:
        ConfigurationError: unknown preset name (the message lists the known ones).
    """
    try:
        preset = Preset(name)
    except ValueError as exc:
        known = ", ".join(p.value for p in Preset)
        raise ConfigurationError(f"unknown preset {name!r}; choose from {known}") from exc
    return _validate(PRESETS[preset], f"preset {preset.value}")


def load_config(path: Path | str) -> LandmarksConfig:
    """Read a JSON config file (missing sections and keys take the defaults).

    Raises:
        ConfigurationError: the file is missing, not JSON, or has unknown or invalid keys.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(f"landmarks config {p} does not exist") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"landmarks config {p} is not readable JSON: {exc}") from exc
    return _validate(data, str(p))


def resolve_config(
    *, preset: str | Preset | None = None, config_path: Path | str | None = None
) -> LandmarksConfig:
    """A config file when given, else the preset (default ``production``).

    Raises:
        ConfigurationError: both given, or either is invalid.
    """
    if preset is not None and config_path is not None:
        raise ConfigurationError("give either a preset or a config file, not both")
    if config_path is not None:
        return load_config(config_path)
    return preset_config(preset or Preset.PRODUCTION)


class LandmarksOptions(BaseModel):
    """Per-message options under ``options["landmarks"]`` in a direct job."""

    model_config = ConfigDict(extra="forbid")

    preset: Preset | None = None
    target_fps: float | None = Field(None, gt=0, le=240)
    max_frames: int | None = Field(None, ge=1)
    hands: bool | None = None
    max_people: int | None = Field(None, ge=1, le=32)


def config_for_message(base: LandmarksConfig, options: dict[str, Any] | None) -> LandmarksConfig:
    """The stage's configuration for one message: ``base``, or the message's preset, with the
    message's overrides on top.

    Raises:
        InvalidMessageError: unknown or invalid option (permanent: the message itself is wrong).
    """
    try:
        opts = LandmarksOptions.model_validate(options or {})
        cfg = preset_config(opts.preset) if opts.preset else base
        return cfg.with_overrides(
            target_fps=opts.target_fps,
            max_frames=opts.max_frames,
            hands=opts.hands,
            max_people=opts.max_people,
        )
    except (ValidationError, ConfigurationError) as exc:
        raise InvalidMessageError(f"invalid landmarks options: {exc}") from exc
