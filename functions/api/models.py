"""The API's request and response bodies (pydantic; they are the OpenAPI document's schemas).

Identifiers are checked by :mod:`shared.messages` (one rule for the whole pipeline), so a bad
platform or shortcode is a ``400 invalid_identifier``; a body of the wrong shape is a ``422``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: The overall state of a video: its plan's state, or ``queued`` (the video is in S3 and its plan
#: is not recorded yet).
VideoState = Literal["queued", "running", "succeeded", "failed", "partial"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """What went wrong: ``code`` is stable (a machine reads it), ``message`` is for people."""

    status: int = Field(description="The HTTP status, repeated.")
    code: str = Field(description="A stable error code, e.g. `invalid_identifier`, `conflict`.")
    message: str
    details: list[dict[str, Any]] = Field(
        default_factory=list, description="Per-field problems of a `422`."
    )


class ErrorResponse(BaseModel):
    """Every error the API answers, whatever its status."""

    error: ErrorBody


class UploadRequest(_Strict):
    """A video to upload straight to S3."""

    platform: str = Field(description="Platform, `^[a-z0-9][a-z0-9_-]{0,31}$`.", examples=["demo"])
    shortcode: str | None = Field(
        None,
        description="Shortcode, `^[A-Za-z0-9_-]{1,128}$`; generated (URL-safe) when omitted.",
        examples=["cuts1"],
    )
    filename: str = Field(
        description="The file's name; its extension picks the key `video.<ext>`.",
        examples=["documentary_cuts.mp4"],
    )
    content_type: str = Field(
        description="The file's media type, `video/*`.", examples=["video/mp4"]
    )
    size_bytes: int = Field(gt=0, description="The file's size; at most MAX_VIDEO_BYTES.")
    stages: list[str] | None = Field(
        None,
        description="The plan's stages; omitted: the platform's route or the default plan.",
        examples=[["frame-extract"]],
    )
    options: dict[str, dict[str, Any]] | None = Field(
        None, description="Per-stage options, `{stage: {...}}`, only for planned stages."
    )
    replace: bool = Field(False, description="Upload over an existing shortcode.")


class PresignedPost(BaseModel):
    """Send the file as ``multipart/form-data`` to ``url`` with every field, the file last."""

    url: str
    fields: dict[str, str]


class UploadTicket(BaseModel):
    """Where and how to upload; the plan starts when the upload lands."""

    platform: str
    shortcode: str
    key: str = Field(description="The video's key in the videos bucket.")
    stages: list[str] = Field(description="The plan the upload will run.")
    upload: PresignedPost
    expires_at: datetime
    max_bytes: int = Field(description="The largest file the policy accepts.")
    status_url: str = Field(description="The video's status, relative to the API.")


class StageReport(BaseModel):
    """One planned stage."""

    stage: str
    status: Literal["pending", "processing", "succeeded", "failed", "skipped"]
    attempts: int
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float | None = Field(None, description="Finished minus started, when both exist.")
    metrics: dict[str, Any] = Field(default_factory=dict)
    last_error: str | None = None
    output_prefix: str | None = None


class Output(BaseModel):
    """One result file, with a presigned GET URL."""

    name: str = Field(description="Its path under `{platform}/{shortcode}/`.")
    stage: str | None = Field(None, description="The stage whose folder holds it.")
    kind: Literal["document", "image", "video", "report", "text", "data"]
    url: str


class VideoStatus(BaseModel):
    """A video's plan, state, stages and results."""

    platform: str
    shortcode: str
    state: VideoState
    upload_id: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    video_key: str | None = None
    stages: list[str] = Field(default_factory=list, description="The plan's stages, in run order.")
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    stage_status: list[StageReport] = Field(default_factory=list)
    outputs: list[Output] = Field(default_factory=list)
    report_url: str | None = Field(
        None, description="`report.html` with working links (an API route), when it exists."
    )
    expires_at: datetime = Field(description="When the outputs' URLs stop working.")


class Frame(BaseModel):
    """One key frame."""

    scene: int = Field(description="0-based scene index.")
    frame: int = Field(description="The frame's index in the video.")
    time_s: float
    timecode: str = Field(description="`HH:MM:SS.mmm`.")
    start_s: float | None = None
    end_s: float | None = None
    url: str


class FrameList(BaseModel):
    """The key frames of a video, in scene order."""

    platform: str
    shortcode: str
    fps: float | None = None
    duration_s: float | None = None
    fallback: bool = False
    frames: list[Frame]
    expires_at: datetime


class RunRequest(_Strict):
    """A new plan on a video already uploaded."""

    stages: list[str] = Field(min_length=1, examples=[["frame-extract", "rekognition"]])
    options: dict[str, dict[str, Any]] | None = None


class RunAccepted(BaseModel):
    """The run was sent to the pipeline; watch ``status_url``."""

    platform: str
    shortcode: str
    run_id: str
    stages: list[str]
    status_url: str


class VideoSummary(BaseModel):
    """One row of ``GET /videos``."""

    platform: str
    shortcode: str
    state: VideoState
    stages: list[str]
    created_at: datetime | None = None
    finished_at: datetime | None = None


class VideoPage(BaseModel):
    """A page of videos, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    videos: list[VideoSummary]
    next_cursor: str | None = None


class StageOption(BaseModel):
    """A stage a plan may name."""

    stage: str
    paid: bool
    depends_on: list[str]
    requires: list[str]
    folder: str


class Options(BaseModel):
    """What an upload or a run may ask for."""

    stages: list[StageOption]
    default_stages: list[str]
    video_extensions: list[str]
    max_video_bytes: int
    url_expiry_s: int
    trailer: dict[str, Any] = Field(
        description="The trailer stage's profiles, durations, formats, transitions and languages."
    )


class ProfileList(BaseModel):
    """The trailer stage's built-in profiles (docs/stages/trailer.md)."""

    profiles: list[dict[str, Any]]


class Health(BaseModel):
    """The API's own view of its dependencies."""

    status: Literal["ok", "degraded"]
    mode: Literal["aws", "local"]
    version: str
    services: dict[str, str] = Field(
        description="`ok`, `down: <why>`, `emulated`, `configured` or `unconfigured` per service."
    )
    checked_at: datetime
