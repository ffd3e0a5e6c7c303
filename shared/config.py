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

import logging
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
    #: Milliseconds, as the replaced Lambda's ``.env`` documents it (``S3_RETRY_DELAY=1000``);
    #: ``250ms``, ``1.5s`` and the old seconds form (a decimal of at most 60, with a warning) are
    #: read too (:meth:`_retry_delay_ms`).
    s3_retry_delay: float = Field(1000.0, ge=0, le=60_000)
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

    @field_validator("s3_retry_delay", mode="before")
    @classmethod
    def _retry_delay_ms(cls, value: Any) -> Any:
        """``S3_RETRY_DELAY`` in milliseconds: ``1000`` and ``1000ms`` are 1 s, ``1.5s`` is
        1.5 s. A plain decimal above 0 and at most 60 (``1.0``, ``0.5``: the old form, whose
        default was ``1.0`` and maximum 60) is read as seconds, with a warning, since nobody
        writes a delay of a fraction of a millisecond that way. Any other plain number, integers
        included, is milliseconds."""
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        try:
            if text.endswith("ms"):
                return float(text[:-2])
            if text.endswith("s"):
                return float(text[:-1]) * 1000
            number = float(text)
        except ValueError:
            return value  # pydantic reports it, naming the variable
        if "." in text and 0 < number <= 60:
            logging.getLogger("vidpipe.config").warning(
                "S3_RETRY_DELAY=%s read as %g s (the old seconds form); the unit is milliseconds "
                "now: write S3_RETRY_DELAY=%g",
                value,
                number,
                number * 1000,
            )
            return number * 1000
        return value

    @property
    def s3_retry_delay_s(self) -> float:
        """``S3_RETRY_DELAY`` in seconds."""
        return self.s3_retry_delay / 1000

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

#: Units of the settings whose name does not end in one (see :func:`setting_unit`).
_UNITS = {
    "S3_RETRY_DELAY": "milliseconds",
    "S3_CONNECT_TIMEOUT": "seconds",
    "S3_READ_TIMEOUT": "seconds",
    "MAX_VIDEO_PIXELS": "pixels, width x height",
    "MIN_SCENE_LEN_FRAMES": "frames",
    "REKOGNITION_MIN_CONFIDENCE": "percent",
    "GEMINI_FPS": "frames per second",
    "LANDMARKS_PREVIEW_FPS": "frames per second",
}
_SUFFIX_UNITS = {
    "_MS": "milliseconds",
    "_S": "seconds",
    "_MB": "MiB",
    "_BYTES": "bytes",
    "_PX": "pixels",
    "_USD": "US dollars",
    "_PER_MTOK": "US dollars per million tokens",
}


def setting_unit(var: str) -> str | None:
    """The unit of environment variable ``var`` (``None`` for counts, names and switches)."""
    if var in _UNITS:
        return _UNITS[var]
    for suffix, unit in _SUFFIX_UNITS.items():
        if var.endswith(suffix):
            return unit
    return None


def setting_range(cls: type[BaseSettings], field: str) -> str | None:
    """The accepted range of ``cls.field`` in words (``1 to 64``, ``more than 0``), from its
    ``Field`` bounds; ``None`` when it has none."""
    info = cls.model_fields.get(field)
    if info is None:
        return None
    bounds: dict[str, Any] = {}
    for m in info.metadata:
        for name in ("ge", "gt", "le", "lt"):
            if getattr(m, name, None) is not None:
                bounds[name] = getattr(m, name)
    low = (
        f"at least {bounds['ge']:g}"
        if "ge" in bounds
        else f"more than {bounds['gt']:g}"
        if "gt" in bounds
        else None
    )
    high = (
        f"at most {bounds['le']:g}"
        if "le" in bounds
        else f"less than {bounds['lt']:g}"
        if "lt" in bounds
        else None
    )
    if "ge" in bounds and "le" in bounds:
        return f"{bounds['ge']:g} to {bounds['le']:g}"
    return ", ".join(p for p in (low, high) if p) or None


def _secret(cls: type[BaseSettings], field: str) -> bool:
    info = cls.model_fields.get(field)
    return info is not None and "SecretStr" in str(info.annotation)


def _problem(cls: type[BaseSettings], err: Any) -> str:
    """One pydantic error as ``VAR=value: what is wrong (unit, range)``."""
    msg = str(err["msg"]).removeprefix("Value error, ")
    loc = [str(p) for p in err["loc"]]
    if not loc:  # a check across settings: its message names them
        return msg
    field = loc[0]
    var = env_name(cls, field)
    shown = "***" if _secret(cls, field) else err.get("input")
    head = var if shown is None or isinstance(shown, dict) else f"{var}={shown}"
    expected = ", ".join(p for p in (setting_unit(var), setting_range(cls, field)) if p)
    return f"{head}: {msg[:1].lower()}{msg[1:]}" + (f" (expected {expected})" if expected else "")


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The environment variable of ``cls.field`` (its ``env_prefix`` plus the name, upper case)."""
    if not field:
        return ""
    return (str(cls.model_config.get("env_prefix") or "") + field).upper()


def load_stage_settings(cls: type[S], **overrides: object) -> S:
    """Build ``cls`` (any settings class) from the environment, with keyword overrides on top.

    Raises:
        ConfigurationError: a variable is missing or invalid; the one-line message names the
            variable, the value (not a secret's), what is wrong and the unit and range expected,
            e.g. ``S3_RETRY_DELAY=90000: input should be less than or equal to 60000 (expected
            milliseconds, 0 to 60000)``.
    """
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(_problem(cls, err) for err in exc.errors())
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
