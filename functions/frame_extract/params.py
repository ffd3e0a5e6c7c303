"""Frame-extract parameters from its settings and a message's ``options["frame-extract"]``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from functions.frame_extract.extract import ExtractParams
from functions.frame_extract.settings import (
    Detector,
    FrameExtractSettings,
    MinFrames,
    MinSceneLen,
    Threshold,
)
from shared.errors import InvalidMessageError


class FrameExtractOptions(BaseModel):
    """Per-message options under ``options["frame-extract"]`` in a direct job; the bounds are the
    settings' own (:mod:`functions.frame_extract.settings`)."""

    model_config = ConfigDict(extra="forbid")

    detector: Detector | None = None
    threshold: Threshold | None = None
    min_frames: MinFrames | None = None
    min_scene_len_frames: MinSceneLen | None = None


def params_from(
    settings: FrameExtractSettings, options: dict[str, Any] | None = None
) -> ExtractParams:
    """Extraction parameters from settings, overridden by a message's options.

    The threshold defaults to ``SCENE_THRESHOLD`` for the content detector and
    ``ADAPTIVE_THRESHOLD`` for the adaptive one.

    No message can ask for more than ``MAX_KEYFRAMES`` key frames: ``min_frames`` above it is
    refused, and :func:`~functions.frame_extract.extract.extract_keyframes` ignores cuts past it.

    Raises:
        InvalidMessageError: unknown or invalid option, or ``min_frames`` over ``MAX_KEYFRAMES``.
    """
    try:
        opts = FrameExtractOptions.model_validate(options or {})
    except ValidationError as exc:
        raise InvalidMessageError(f"invalid frame-extract options: {exc}") from exc
    if opts.min_frames is not None and opts.min_frames > settings.max_keyframes:
        raise InvalidMessageError(
            f"invalid frame-extract options: min_frames {opts.min_frames} is over "
            f"MAX_KEYFRAMES={settings.max_keyframes}, the most key frames a video may produce"
        )
    detector = opts.detector or settings.scene_detector
    return ExtractParams(
        detector=detector,
        threshold=opts.threshold
        if opts.threshold is not None
        else settings.threshold_for(detector),
        min_scene_len_frames=opts.min_scene_len_frames or settings.min_scene_len_frames,
        min_frames=opts.min_frames or settings.min_frames,
        jpeg_quality=settings.jpeg_quality,
        buffer_bytes=settings.keyframe_buffer_mb * 1024 * 1024,
        max_keyframes=settings.max_keyframes,
    )
