"""One validated settings object for every handler and the CLI.

Every field is read from the environment (or a ``.env`` file) by pydantic-settings, validated on
first use, and documented in ``.env.sample``; ``tests/unit/test_config.py`` keeps the two in step.
Bad configuration fails fast with a message that names the variable.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigurationError


class Detector(StrEnum):
    """PySceneDetect detectors the frame-extract stage can run."""

    CONTENT = "content"
    ADAPTIVE = "adaptive"


class StatusBackend(StrEnum):
    """Where per-stage status is kept (DESIGN §4)."""

    SQLITE = "sqlite"
    SUPABASE = "supabase"
    POSTGRES = "postgres"


class Settings(BaseSettings):
    """Pipeline settings. Names are the environment variables; units are in the field names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- buckets -----------------------------------------------------------------------------
    s3_bucket_videos: str = Field("vidpipe-videos", min_length=3, max_length=63)
    s3_bucket_frames: str = Field("vidpipe-videos", min_length=3, max_length=63)

    # --- frame extraction --------------------------------------------------------------------
    min_frames: int = Field(3, ge=1, le=1000)
    scene_detector: Detector = Detector.CONTENT
    scene_threshold: float = Field(27.0, gt=0, le=255)
    adaptive_threshold: float = Field(3.0, gt=0)
    min_scene_len_frames: int = Field(15, ge=1)
    jpeg_quality: int = Field(90, ge=1, le=100)
    keyframe_buffer_mb: int = Field(128, ge=16, le=4096)

    # --- landmarks -----------------------------------------------------------------------------
    landmarks_preset: str = Field(
        "production", pattern="^(development|production|high_accuracy|fast_processing)$"
    )
    landmarks_config: Path | None = None
    landmarks_workers: int = Field(0, ge=0, le=64)

    # --- rekognition ---------------------------------------------------------------------------
    rekognition_max_frames: int = Field(30, ge=1, le=1000)
    rekognition_min_interval_s: float = Field(2.0, gt=0)
    rekognition_long_scene_s: float = Field(10.0, gt=0)
    rekognition_scenes: int = Field(5, ge=1, le=100)
    rekognition_max_labels: int = Field(25, ge=1, le=1000)
    rekognition_min_confidence: float = Field(60.0, ge=0, le=100)
    rekognition_always_faces: bool = False
    rekognition_concurrency: int = Field(4, ge=1, le=64)
    rekognition_retries: int = Field(8, ge=0, le=20)
    rekognition_price_per_image_usd: float = Field(0.001, ge=0)
    rekognition_emulated: bool = False

    # --- physics (Gemini) ----------------------------------------------------------------------
    gemini_api_key: SecretStr | None = None
    gemini_api_key_parameter: str | None = None
    gemini_model: str = "gemini-3-flash-preview"
    gemini_fps: float = Field(16.0, gt=0, le=60)
    gemini_active_timeout_s: float = Field(300.0, gt=0)
    gemini_poll_interval_s: float = Field(2.0, gt=0)
    gemini_use_cache: bool = True
    gemini_cache_ttl_s: int = Field(600, ge=60)
    gemini_retries: int = Field(3, ge=1, le=10)
    gemini_timeout_s: float = Field(300.0, gt=0)
    gemini_price_input_per_mtok: float = Field(0.50, ge=0)
    gemini_price_output_per_mtok: float = Field(3.00, ge=0)
    gemini_price_cached_per_mtok: float = Field(0.05, ge=0)

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

    # --- status ------------------------------------------------------------------------------
    status_backend: StatusBackend = StatusBackend.SQLITE
    sqlite_path: Path = Path("/tmp/vidpipe-status.sqlite3")
    lease_margin_s: int = Field(60, ge=0)
    supabase_url: str | None = None
    supabase_key: SecretStr | None = None
    supabase_key_parameter: str | None = None
    supabase_timeout_s: float = Field(10.0, gt=0, le=120)
    database_url: SecretStr | None = None

    # --- observability -----------------------------------------------------------------------
    debug: bool = False

    @field_validator("landmarks_config", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.abort_remaining_ms > self.min_remaining_ms:
            raise ValueError("ABORT_REMAINING_MS must not exceed MIN_REMAINING_MS")
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


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with keyword overrides on top.

    Raises:
        ConfigurationError: a variable is missing or invalid; the message names it.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (cold start) and cached for warm invocations."""
    return load_settings()
