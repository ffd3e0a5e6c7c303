"""The landmarks stage's settings: ``LANDMARKS_PRESET``, ``LANDMARKS_CONFIG``,
``LANDMARKS_WORKERS`` (docs/settings.md, docs/stages/landmarks.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from functions.landmarks.config import Preset
from shared.config import StageSettings


class LandmarksSettings(StageSettings):
    """Which landmarks configuration the stage runs.

    Attributes:
        preset: one of the four presets (used when ``config`` is unset).
        config: a JSON config file (``vidpipe config``) that replaces the preset.
        workers: segment workers; 0 means one per CPU.
        previews: write ``preview.gif`` and ``trajectories.png`` (with ``PREVIEWS``).
        preview_fps: frames per second of ``preview.gif`` (one sampled frame per tick).
        preview_max_s: ``preview.gif`` covers the video's first this many seconds.
    """

    model_config = StageSettings.model_config | {"env_prefix": "LANDMARKS_"}

    preset: Preset = Preset.PRODUCTION
    config: Path | None = None
    workers: int = Field(0, ge=0, le=64)
    previews: bool = True
    preview_fps: float = Field(5.0, gt=0, le=30)
    preview_max_s: float = Field(10.0, gt=0, le=120)

    @field_validator("config", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value
