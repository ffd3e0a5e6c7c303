"""The trailer stage's settings, ``TRAILER_*`` (docs/settings.md, docs/stages/trailer.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.config import StageSettings

OutputFormat = Literal["mp4", "mov", "webm"]
Transition = Literal["cut", "crossfade"]


class TrailerSettings(StageSettings):
    """Defaults of the plan's ``trailer`` options, the selection rule's bounds and the encoders.

    Attributes:
        profiles: comma-separated built-in profile ids rendered when the options name none.
        max_duration_s: the trailer's longest length when the options give none, seconds.
        max_duration_cap_s: the largest ``max_duration_s`` the options may ask for, seconds.
        output_format: ``mp4`` (H.264 + AAC), ``mov`` (H.264 + AAC) or ``webm`` (VP9 + Opus).
        transition: ``cut`` (hard cuts) or ``crossfade``.
        crossfade_s: a crossfade's length, seconds (at most half the shortest shot).
        min_shot_s: shortest shot; shorter scenes are not used, seconds.
        max_shot_s: longest shot; longer scenes are trimmed to their best window, seconds.
        min_shots: fewer usable scenes than this is a permanent error.
        max_profiles: most profiles rendered in one run.
        audio_fade_ms: fade-out and fade-in of the sound at each hard cut, milliseconds.
        max_height_px: the output's height cap (the display aspect is kept; never upscaled),
            pixels.
        crf: the video encoder's constant-rate factor (x264's 0-51; VP9's 0-63), lower is better.
        x264_preset: x264's speed preset.
        audio_bitrate_kbps: AAC/Opus bitrate, kbit/s.
        translate_retries: the Amazon Translate client's adaptive-retry attempts.
        translate_price_per_char_usd: USD per character translated (Amazon Translate standard
            real-time translation, USD 15 per million characters; aws.amazon.com/translate/pricing).
        storyboard_tile_px: width of one shot's picture on the storyboard, pixels.
    """

    model_config = StageSettings.model_config | {"env_prefix": "TRAILER_"}

    profiles: str = "action_enthusiast"
    max_duration_s: float = Field(30.0, gt=0, le=600)
    max_duration_cap_s: float = Field(120.0, gt=0, le=600)
    output_format: OutputFormat = "mp4"
    transition: Transition = "cut"
    crossfade_s: float = Field(0.4, gt=0, le=5)
    min_shot_s: float = Field(1.0, gt=0, le=60)
    max_shot_s: float = Field(4.0, gt=0, le=300)
    min_shots: int = Field(2, ge=1, le=100)
    max_profiles: int = Field(4, ge=1, le=16)
    audio_fade_ms: int = Field(30, ge=0, le=1000)
    max_height_px: int = Field(720, ge=64, le=4320)
    crf: int = Field(23, ge=0, le=63)
    x264_preset: Literal[
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"
    ] = "veryfast"
    audio_bitrate_kbps: int = Field(128, ge=16, le=512)
    translate_retries: int = Field(5, ge=0, le=20)
    translate_price_per_char_usd: float = Field(0.000015, ge=0)
    storyboard_tile_px: int = Field(320, ge=64, le=1920)
