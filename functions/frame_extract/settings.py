"""The frame-extract stage's settings and the bounds its per-message options share.

The variables keep the names they have always had (no common prefix): ``MIN_FRAMES``,
``SCENE_DETECTOR``, ``SCENE_THRESHOLD``, ``ADAPTIVE_THRESHOLD``, ``MIN_SCENE_LEN_FRAMES``,
``JPEG_QUALITY``, ``KEYFRAME_BUFFER_MB``, ``MAX_KEYFRAMES`` (docs/settings.md,
docs/stages/frame-extract.md).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from shared.config import StageSettings


class Detector(StrEnum):
    """PySceneDetect detectors the frame-extract stage can run."""

    CONTENT = "content"
    ADAPTIVE = "adaptive"


#: A detector threshold: ContentDetector's is a mean HSV difference (0-255), AdaptiveDetector's
#: a ratio to the rolling average (PySceneDetect's documented ranges).
Threshold = Annotated[float, Field(gt=0, le=255)]
#: Fewer scenes than this and evenly spaced frames are taken instead (the fallback).
MinFrames = Annotated[int, Field(ge=1, le=1000)]
#: The shortest scene PySceneDetect reports, in frames.
MinSceneLen = Annotated[int, Field(ge=1)]


class FrameExtractSettings(StageSettings):
    """Scene detection and key-frame output.

    Attributes:
        min_frames: fewer scenes than this: evenly spaced frames instead (``MIN_FRAMES``).
        scene_detector: ``content`` or ``adaptive`` (``SCENE_DETECTOR``).
        scene_threshold: ContentDetector's threshold, PySceneDetect's default 27.0.
        adaptive_threshold: AdaptiveDetector's threshold, PySceneDetect's default 3.0.
        min_scene_len_frames: the shortest scene in frames, PySceneDetect's default 15.
        jpeg_quality: key-frame JPEG quality, 1-100.
        keyframe_buffer_mb: memory for candidate key frames waiting for their scene to close, MB.
        max_keyframes: most key frames one video may produce (``MAX_KEYFRAMES``); ``MIN_FRAMES``
            and a message's ``min_frames`` may not exceed it, and cuts past it are ignored.
        frames_previews: write ``preview.gif`` and ``contact_sheet.jpg`` (with ``PREVIEWS``).
        frames_gif_frame_ms: how long each key frame shows in ``preview.gif``, milliseconds.
        frames_gif_max_frames: most key frames in ``preview.gif`` (evenly chosen beyond it).
        contact_sheet_tile_px: width of one key frame on the contact sheet, pixels.
    """

    min_frames: MinFrames = 3
    scene_detector: Detector = Detector.CONTENT
    scene_threshold: Threshold = 27.0
    adaptive_threshold: Threshold = 3.0
    min_scene_len_frames: MinSceneLen = 15
    jpeg_quality: int = Field(90, ge=1, le=100)
    keyframe_buffer_mb: int = Field(128, ge=16, le=4096)
    frames_previews: bool = True
    frames_gif_frame_ms: int = Field(800, ge=20, le=10_000)
    frames_gif_max_frames: int = Field(60, ge=1, le=500)
    contact_sheet_tile_px: int = Field(320, ge=64, le=1920)
    max_keyframes: MinFrames = 200

    @model_validator(mode="after")
    def _check(self) -> FrameExtractSettings:
        if self.min_frames > self.max_keyframes:
            raise ValueError("MIN_FRAMES must not exceed MAX_KEYFRAMES")
        return self

    def threshold_for(self, detector: Detector) -> float:
        """The configured threshold of ``detector``."""
        return self.adaptive_threshold if detector == Detector.ADAPTIVE else self.scene_threshold
