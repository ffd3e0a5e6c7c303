"""The API's refusal: an HTTP status, a stable code and a message (docs/api.md, "Errors")."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An answer other than success, rendered as ``{"error": {...}}`` by the app.

    Args:
        status: the HTTP status (4xx for the caller's mistakes, 503 when a service is down).
        code: a stable machine-readable code (``conflict``, ``too_large``, ``forbidden`` ...).
        message: what went wrong, for people.
        details: per-field problems.
    """

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
