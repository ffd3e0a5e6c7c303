"""Every S3 key the pipeline reads or writes, in one place (docs/outputs.md, a contract).

Videos live in the videos bucket at ``{platform}/{shortcode}/video.<ext>``; each stage writes
under its own folder (from the stage registry, :mod:`shared.stages`) in the results bucket::

    {platform}/{shortcode}/frames/{index}.jpg         frame-extract, 0-based scene index
    {platform}/{shortcode}/frames/manifest.json       frame-extract, written last
    {platform}/{shortcode}/landmarks/landmarks.npz    landmarks arrays
    {platform}/{shortcode}/landmarks/landmarks.json   landmarks metadata
    {platform}/{shortcode}/rekognition/analysis.json  rekognition
    {platform}/{shortcode}/physics/physics.json       physics observation
    {platform}/{shortcode}/physics/events.json        physics events and statistics

Identifiers must already be validated (:func:`shared.messages.validate_platform` and
``validate_shortcode``); nothing here checks them again.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.stages import Stage, spec

FRAME_MANIFEST = "manifest.json"
LANDMARKS_NPZ = "landmarks.npz"
LANDMARKS_JSON = "landmarks.json"
REKOGNITION_ANALYSIS = "analysis.json"
PHYSICS_OBSERVATION = "physics.json"
PHYSICS_EVENTS = "events.json"


@dataclass(frozen=True)
class VideoLayout:
    """The keys of one video, ``{platform}/{shortcode}/...``."""

    platform: str
    shortcode: str

    @property
    def base(self) -> str:
        """``{platform}/{shortcode}/``."""
        return f"{self.platform}/{self.shortcode}/"

    def video(self, ext: str = "mp4") -> str:
        """The video's key in the videos bucket, ``{platform}/{shortcode}/video.<ext>``."""
        return f"{self.base}video.{ext.lstrip('.')}"

    def stage(self, stage: Stage | str) -> str:
        """A stage's output folder, ``{platform}/{shortcode}/<folder>/``."""
        return f"{self.base}{spec(stage).folder}/"

    def key(self, stage: Stage | str, name: str) -> str:
        """A file in a stage's output folder."""
        return self.stage(stage) + name

    def frame(self, index: int) -> str:
        """Key frame ``index`` (0-based scene index), ``frames/{index}.jpg``."""
        return self.key(Stage.FRAME_EXTRACT, frame_file(index))

    @property
    def frame_manifest(self) -> str:
        """``frames/manifest.json``."""
        return self.key(Stage.FRAME_EXTRACT, FRAME_MANIFEST)

    @property
    def landmarks_npz(self) -> str:
        """``landmarks/landmarks.npz``."""
        return self.key(Stage.LANDMARKS, LANDMARKS_NPZ)

    @property
    def landmarks_json(self) -> str:
        """``landmarks/landmarks.json``."""
        return self.key(Stage.LANDMARKS, LANDMARKS_JSON)

    @property
    def rekognition_analysis(self) -> str:
        """``rekognition/analysis.json``."""
        return self.key(Stage.REKOGNITION, REKOGNITION_ANALYSIS)

    @property
    def physics_observation(self) -> str:
        """``physics/physics.json``."""
        return self.key(Stage.PHYSICS, PHYSICS_OBSERVATION)

    @property
    def physics_events(self) -> str:
        """``physics/events.json``."""
        return self.key(Stage.PHYSICS, PHYSICS_EVENTS)


def frame_file(index: int) -> str:
    """A key frame's file name within ``frames/``: ``{index}.jpg``."""
    return f"{index}.jpg"


def s3_uri(bucket: str, key: str) -> str:
    """``s3://bucket/key``."""
    return f"s3://{bucket}/{key}"
