"""The rekognition stage's settings, ``REKOGNITION_*`` (docs/settings.md,
docs/stages/rekognition.md)."""

from __future__ import annotations

from pydantic import Field

from shared.config import StageSettings


class RekognitionSettings(StageSettings):
    """Frame sampling, gating, the client and the price of Amazon Rekognition calls.

    Attributes:
        max_frames: most frames analysed per video.
        min_interval_s: sampled frames are at least this far apart, seconds.
        long_scene_s: a scene longer than this gets a second frame, seconds.
        scenes: windows (equal time intervals) when no frame-extract manifest exists.
        max_labels: ``MaxLabels`` of DetectLabels.
        min_confidence: ``MinConfidence`` of DetectLabels, percent.
        always_faces: faces and celebrities on every frame, not only where a Person was labelled.
        concurrency: Rekognition calls in flight.
        retries: the client's adaptive-retry attempts.
        price_per_image_usd: USD per image per API, Rekognition Image's first pricing tier
            (aws.amazon.com/rekognition/pricing, us-east-1).
        emulated: answer locally instead of calling AWS (local mode: moto has no DetectFaces).
        max_duration_s: longer videos are refused before any Rekognition call (a permanent
            error), seconds.
        previews: write ``storyboard.jpg`` (with ``PREVIEWS``).
        storyboard_tile_px: width of one analysed frame on the storyboard, pixels.
    """

    model_config = StageSettings.model_config | {"env_prefix": "REKOGNITION_"}

    max_frames: int = Field(30, ge=1, le=1000)
    min_interval_s: float = Field(2.0, gt=0)
    long_scene_s: float = Field(10.0, gt=0)
    scenes: int = Field(5, ge=1, le=100)
    max_labels: int = Field(25, ge=1, le=1000)
    min_confidence: float = Field(60.0, ge=0, le=100)
    always_faces: bool = False
    concurrency: int = Field(4, ge=1, le=64)
    retries: int = Field(8, ge=0, le=20)
    price_per_image_usd: float = Field(0.001, ge=0)
    emulated: bool = False
    max_duration_s: float = Field(1800.0, gt=0)
    previews: bool = True
    storyboard_tile_px: int = Field(320, ge=64, le=1920)
