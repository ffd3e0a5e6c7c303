"""The ``api`` function's settings (docs/settings.md, "api").

The variables: ``PIPELINE_ENTRY_QUEUE_URL``, ``API_URL_EXPIRY_S``, ``API_AUTH``,
``API_PLATFORMS_CLAIM``, ``API_HEALTH_CACHE_S``, ``API_PAGE_LIMIT``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from shared.config import StageSettings


class ApiAuth(StrEnum):
    """Who checks callers (the template's ``ApiAuth`` parameter sets it).

    ``iam``: API Gateway checks SigV4 signatures; every platform is open to a signed caller.
    ``jwt``: API Gateway checks the token (issuer, audience); the function allows only the
    platforms the token's ``API_PLATFORMS_CLAIM`` lists. ``none``: no authentication (the local
    mode only, on 127.0.0.1).
    """

    IAM = "iam"
    JWT = "jwt"
    NONE = "none"


class ApiSettings(StageSettings):
    """Settings of the ``api`` function.

    Attributes:
        pipeline_entry_queue_url: the pipeline's entry queue, where ``POST .../runs`` sends its
            direct jobs (``PIPELINE_ENTRY_QUEUE_URL``; the template and the local mode set it).
        api_url_expiry_s: seconds a presigned upload or download URL stays valid (60 s to 7 days,
            the SigV4 maximum).
        api_auth: ``iam``, ``jwt`` or ``none`` (:class:`ApiAuth`).
        api_platforms_claim: with ``jwt``, the token claim that lists the caller's platforms
            (a JSON array, or names separated by commas or spaces; ``*`` is every platform).
        api_health_cache_s: seconds ``/health`` reuses its last checks.
        api_page_limit: the largest ``limit`` of ``GET /videos``.
    """

    pipeline_entry_queue_url: str | None = None
    api_url_expiry_s: int = Field(900, ge=60, le=7 * 24 * 3600)
    api_auth: ApiAuth = ApiAuth.IAM
    api_platforms_claim: str = Field("custom:platforms", min_length=1)
    api_health_cache_s: float = Field(5.0, ge=0, le=300)
    api_page_limit: int = Field(100, ge=1, le=1000)
