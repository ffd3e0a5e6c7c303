"""Validated settings: the core :class:`Settings` every handler and the CLI use, and the base
class and loader of the stages' own settings.

The core settings cover what every stage shares: buckets, batch behaviour, S3 I/O, the status
store and debugging. Each stage declares its own class beside its code
(``functions/<stage>/settings.py``, named in the stage registry, :mod:`shared.stages`), with an
``env_prefix`` where its variables share one (``LANDMARKS_``, ``REKOGNITION_``, ``GEMINI_``).

Every field is read from the environment (or a ``.env`` file) by pydantic-settings, validated on
first use, and documented in ``.env.sample``; ``tests/unit/test_config.py`` keeps the two in step
for every class. Bad configuration fails fast with a :class:`ConfigurationError` that names the
variable (docs/settings.md).
"""

from __future__ import annotations

import threading
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigurationError

#: ``MAX_VIDEO_PIXELS``'s default, DCI 4K (4096 x 2160); ``shared.video`` uses the same number.
DEFAULT_MAX_VIDEO_PIXELS = 4096 * 2160


class StatusBackend(StrEnum):
    """Where per-stage status is kept (docs/status.md)."""

    SQLITE = "sqlite"
    SUPABASE = "supabase"
    POSTGRES = "postgres"


# An empty variable means "not set" (a copied .env.sample leaves optional ones empty).
_MODEL_CONFIG = SettingsConfigDict(
    env_file=".env",
    env_file_encoding="utf-8",
    extra="ignore",
    case_sensitive=False,
    env_ignore_empty=True,
)


class StageSettings(BaseSettings):
    """Base class of a stage's own settings (``functions/<stage>/settings.py``).

    Subclasses set ``model_config = StageSettings.model_config | {"env_prefix": "..."}`` where
    their variables share a prefix; field names plus the prefix are the environment variables.
    """

    model_config = _MODEL_CONFIG


class Settings(BaseSettings):
    """Core pipeline settings. Names are the environment variables; units are in the names."""

    model_config = _MODEL_CONFIG

    # --- buckets -----------------------------------------------------------------------------
    s3_bucket_videos: str = Field("vidpipe-videos", min_length=3, max_length=63)
    s3_bucket_frames: str = Field("vidpipe-videos", min_length=3, max_length=63)
    #: Further buckets a message may name as its video's source, comma-separated (the videos
    #: bucket always may; the results bucket never, unless it is the videos bucket).
    video_source_buckets: str = ""

    # --- batch behaviour ---------------------------------------------------------------------
    concurrency_limit: int = Field(2, ge=1, le=64)
    min_remaining_ms: int = Field(60_000, ge=0)
    abort_remaining_ms: int = Field(10_000, ge=0)

    # --- S3 I/O ------------------------------------------------------------------------------
    s3_retries: int = Field(5, ge=1, le=20)
    s3_retry_delay: float = Field(1.0, ge=0, le=60)
    s3_connect_timeout: float = Field(5.0, gt=0)
    s3_read_timeout: float = Field(60.0, gt=0)
    s3_upload_workers: int = Field(8, ge=1, le=64)
    s3_endpoint_url: str | None = None
    max_video_bytes: int = Field(2 * 1024**3, ge=1)
    tmp_dir: Path = Path("/tmp")
    #: Largest decoded frame accepted, width x height (DCI 4K by default); larger is refused
    #: from the container's metadata before decoding (docs/reliability.md).
    max_video_pixels: int = Field(DEFAULT_MAX_VIDEO_PIXELS, ge=64 * 64)

    # --- status ------------------------------------------------------------------------------
    status_backend: StatusBackend = StatusBackend.SQLITE
    sqlite_path: Path = Path("/tmp/vidpipe-status.sqlite3")
    lease_margin_s: int = Field(60, ge=0)
    supabase_url: str | None = None
    supabase_key: SecretStr | None = None
    supabase_key_parameter: str | None = None
    supabase_timeout_s: float = Field(10.0, gt=0, le=120)
    database_url: SecretStr | None = None

    # --- the pipeline (docs/plans.md) -------------------------------------------------------
    pipeline_default_stages: str = "frame-extract"
    pipeline_routes: dict[str, list[str]] = Field(default_factory=dict)
    pipeline_queue_urls: dict[str, str] = Field(default_factory=dict)
    pipeline_completion_topic_arn: str | None = None
    max_receive_count: int = Field(5, ge=1, le=1000)
    # --- previews (docs/previews.md) ---------------------------------------------------------
    previews: bool = True
    preview_width_px: int = Field(480, ge=64, le=1920)

    # --- observability -----------------------------------------------------------------------
    debug: bool = False

    @field_validator("pipeline_default_stages")
    @classmethod
    def _default_stages(cls, value: str) -> str:
        names = [n.strip() for n in value.split(",") if n.strip()]
        if not names:
            raise ValueError("name at least one stage")
        _check_stage_names(names)
        return ",".join(names)

    @field_validator("pipeline_routes")
    @classmethod
    def _routes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for platform, names in value.items():
            if not names:
                raise ValueError(f"route {platform!r} names no stage")
            _check_stage_names(names)
        return value

    @field_validator("pipeline_queue_urls")
    @classmethod
    def _queues(cls, value: dict[str, str]) -> dict[str, str]:
        _check_stage_names(list(value))
        return value

    @property
    def default_stages(self) -> list[str]:
        """``PIPELINE_DEFAULT_STAGES`` as a list of stage names."""
        return self.pipeline_default_stages.split(",")

    @property
    def source_buckets(self) -> frozenset[str]:
        """Buckets a message may read its video from: ``S3_BUCKET_VIDEOS`` and
        ``VIDEO_SOURCE_BUCKETS``."""
        extra = {b.strip() for b in self.video_source_buckets.split(",") if b.strip()}
        return frozenset({self.s3_bucket_videos} | extra)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.abort_remaining_ms > self.min_remaining_ms:
            raise ValueError("ABORT_REMAINING_MS must not exceed MIN_REMAINING_MS")
        if self.s3_bucket_frames != self.s3_bucket_videos and self.s3_bucket_frames in {
            b.strip() for b in self.video_source_buckets.split(",")
        }:
            raise ValueError("VIDEO_SOURCE_BUCKETS must not name the results bucket")
        if self.status_backend == StatusBackend.SUPABASE and not (
            self.supabase_url and (self.supabase_key or self.supabase_key_parameter)
        ):
            raise ValueError(
                "STATUS_BACKEND=supabase needs SUPABASE_URL and SUPABASE_KEY "
                "(or SUPABASE_KEY_PARAMETER)"
            )
        if self.status_backend == StatusBackend.POSTGRES and not self.database_url:
            raise ValueError("STATUS_BACKEND=postgres needs DATABASE_URL")
        return self


def _check_stage_names(names: list[str]) -> None:
    from shared.stages import STAGES

    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage {unknown[0]!r}; choose from {', '.join(STAGES)}")


S = TypeVar("S", bound=BaseSettings)


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The environment variable of ``cls.field`` (its ``env_prefix`` plus the name, upper case)."""
    if not field:
        return ""
    return (str(cls.model_config.get("env_prefix") or "") + field).upper()


def load_stage_settings(cls: type[S], **overrides: object) -> S:
    """Build ``cls`` (any settings class) from the environment, with keyword overrides on top.

    Raises:
        ConfigurationError: a variable is missing or invalid; the message names it.
    """
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{env_name(cls, '.'.join(str(p) for p in err['loc'])) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from exc


def load_settings(**overrides: object) -> Settings:
    """Build the core settings from the environment, with keyword overrides on top.

    Raises:
        ConfigurationError: a variable is missing or invalid; the message names it.
    """
    return load_stage_settings(Settings, **overrides)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide core settings, read once (cold start) and cached for warm invocations."""
    return load_settings()


class SettingsCache:
    """Stage settings read once per runtime (thread-safe), keyed by class."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[type[Any], Any] = {}

    def get(self, cls: type[S]) -> S:
        """The cached instance of ``cls``, read from the environment on first use.

        Raises:
            ConfigurationError: a variable is invalid.
        """
        with self._lock:
            if cls not in self._cache:
                self._cache[cls] = load_stage_settings(cls)
            value: S = self._cache[cls]
            return value

    def override(self, cls: type[S], **updates: Any) -> S:
        """Replace the cached ``cls`` with a copy that has ``updates`` (tests, the CLI's flags);
        the values are not validated again."""
        value = self.get(cls).model_copy(update=updates)
        with self._lock:
            self._cache[cls] = value
        return value
