"""Which platforms a caller may use (docs/api.md, "Authentication").

API Gateway authenticates every request before the function runs (IAM SigV4 or a JWT authorizer,
the template's ``ApiAuth`` parameter). With ``API_AUTH=jwt`` the function reads the verified
token's claims from ``requestContext.authorizer.jwt.claims`` and allows only the platforms its
``API_PLATFORMS_CLAIM`` claim lists; every other platform is ``403 forbidden``.
"""

from __future__ import annotations

import json
from typing import Any

from functions.api.errors import ApiError
from functions.api.settings import ApiAuth, ApiSettings


def _claims(event: Any) -> dict[str, Any]:
    try:
        claims = event.request_context.authorizer.jwt_claim
    except (AttributeError, KeyError, TypeError):
        return {}
    return dict(claims or {})


def parse_platforms(value: Any) -> frozenset[str]:
    """The platform names in a claim's value.

    API Gateway passes JWT claims as strings; an array claim arrives as JSON (``["a","b"]``) or
    as ``[a b]``, and a plain string as ``a,b`` or ``a b``. Empty names are dropped.
    """
    if isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        text = str(value or "").strip()
        try:
            decoded = json.loads(text) if text.startswith("[") else None
        except ValueError:
            decoded = None
        if isinstance(decoded, list):
            items = [str(v) for v in decoded]
        else:
            items = text.strip("[]").replace(",", " ").split()
    return frozenset(i.strip() for i in items if i.strip())


def allowed_platforms(event: Any, settings: ApiSettings) -> frozenset[str] | None:
    """The platforms the caller may use; ``None`` means every platform."""
    if settings.api_auth != ApiAuth.JWT:
        return None
    names = parse_platforms(_claims(event).get(settings.api_platforms_claim))
    return None if "*" in names else names


def check_platform(event: Any, settings: ApiSettings, platform: str) -> None:
    """Refuse a platform the caller may not use.

    Raises:
        functions.api.errors.ApiError: ``403 forbidden``.
    """
    allowed = allowed_platforms(event, settings)
    if allowed is not None and platform not in allowed:
        raise ApiError(
            403,
            "forbidden",
            f"this caller may not use platform {platform!r} "
            f"(token claim {settings.api_platforms_claim!r})",
        )
