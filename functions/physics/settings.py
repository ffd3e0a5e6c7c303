"""The physics stage's settings, ``GEMINI_*`` (docs/settings.md, docs/stages/physics.md)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from shared.config import StageSettings


class PhysicsSettings(StageSettings):
    """The Gemini model, its video sampling, retries and prices.

    Attributes:
        api_key: the Gemini API key (local use; on Lambda prefer ``api_key_parameter``).
        api_key_parameter: an SSM SecureString parameter holding the key.
        model: the Gemini model id.
        fps: frames per second Gemini samples from the video.
        active_timeout_s: how long to wait for an uploaded file to become ACTIVE, seconds.
        poll_interval_s: between file-state polls, seconds.
        use_cache: put the video in a context cache for the corrective retry.
        cache_ttl_s: the context cache's lifetime, seconds.
        retries: the client's attempts per request.
        timeout_s: one request's time-out, seconds.
        max_duration_s: longer videos are refused before any Gemini call (a permanent error),
            seconds.
        price_input_per_mtok, price_output_per_mtok, price_cached_per_mtok: USD per million
            tokens (the Gemini 3 Flash Preview list price, paid tier; check your model's).
        previews: write ``court.png`` and ``possession.png`` (with ``PREVIEWS``).
    """

    model_config = StageSettings.model_config | {"env_prefix": "GEMINI_"}

    api_key: SecretStr | None = None
    api_key_parameter: str | None = None
    model: str = "gemini-3-flash-preview"
    fps: float = Field(16.0, gt=0, le=60)
    active_timeout_s: float = Field(300.0, gt=0)
    poll_interval_s: float = Field(2.0, gt=0)
    use_cache: bool = True
    cache_ttl_s: int = Field(600, ge=60)
    retries: int = Field(3, ge=1, le=10)
    timeout_s: float = Field(300.0, gt=0)
    max_duration_s: float = Field(180.0, gt=0)
    price_input_per_mtok: float = Field(0.50, ge=0)
    price_output_per_mtok: float = Field(3.00, ge=0)
    price_cached_per_mtok: float = Field(0.05, ge=0)
    previews: bool = True
