"""The frame manifest, ``frames/manifest.json``: a typed model frame-extract writes and the
rekognition stage and the command line read (docs/outputs.md, a contract).

Frame indices are 0-based decoded frames; ``end_frame`` is exclusive; a cut at N means frame N is
the first frame of the new scene. Times are seconds. ``fallback: true`` means fewer than
``MIN_FRAMES`` scenes were found and evenly spaced frames were taken instead; the scenes then
describe those picks.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import CorruptVideoError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManifestVideo(_Strict):
    """The source video: ``fps`` frames per second, ``duration_s`` seconds, size in pixels (the
    display size, which is the key frames' size)."""

    platform: str
    shortcode: str
    fps: float = Field(gt=0)
    frame_count: int = Field(ge=0)
    duration_s: float = Field(ge=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class ManifestDetector(_Strict):
    """The PySceneDetect detector and its parameters."""

    name: str
    threshold: float
    min_scene_len_frames: int = Field(ge=1)


class KeyFrameRef(_Strict):
    """A scene's key frame: its 0-based frame index, time in seconds and JPEG file name."""

    frame: int = Field(ge=0)
    time_s: float = Field(ge=0)
    file: str


class ManifestScene(_Strict):
    """One scene: frames ``[start_frame, end_frame)`` and seconds ``[start_s, end_s)``."""

    index: int = Field(ge=0)
    start_frame: int = Field(ge=0)
    end_frame: int = Field(ge=0)
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    keyframe: KeyFrameRef

    @property
    def length_frames(self) -> int:
        """The scene's length in frames."""
        return self.end_frame - self.start_frame


class FrameManifest(_Strict):
    """``frames/manifest.json``."""

    video: ManifestVideo
    detector: ManifestDetector
    fallback: bool
    scenes: list[ManifestScene]

    @property
    def cuts(self) -> list[int]:
        """The cut frames: every scene's first frame but the first scene's."""
        return [s.start_frame for s in self.scenes[1:]]

    @classmethod
    def parse(cls, data: bytes | str | dict[str, object]) -> FrameManifest:
        """Read a manifest from JSON text or a decoded document.

        Raises:
            CorruptVideoError: the document is not a frame manifest (the message says why).
        """
        try:
            if isinstance(data, dict):
                return cls.model_validate(data)
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise CorruptVideoError(f"not a frame manifest: {exc}") from exc
