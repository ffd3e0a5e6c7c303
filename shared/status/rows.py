"""Turning stored rows (SQLite, PostgreSQL, PostgREST JSON) into the port's data types.

Every adapter reads the same columns; only the encodings differ (timestamps as ISO text or
``datetime``, booleans as 0/1 or ``bool``, metrics as JSON text or a dict). One place decodes
them all, so the adapters cannot drift.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.status import (
    ErrorRow,
    PlanState,
    Stage,
    StageState,
    StageStatus,
    VideoPlan,
    VideoRow,
)


def timestamp(value: Any) -> datetime | None:
    """A UTC ``datetime`` from ISO text or a ``datetime`` (``None`` stays ``None``)."""
    if value is None:
        return None
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)


def video(row: Mapping[str, Any]) -> VideoRow:
    """A ``videos`` row."""
    return VideoRow(
        platform=row["platform"],
        shortcode=row["shortcode"],
        is_downloaded=bool(row["is_downloaded"]),
        is_extracted=bool(row["is_extracted"]),
        frame_count=row["frame_count"],
    )


def stage(row: Mapping[str, Any]) -> StageState:
    """A ``video_stages`` row."""
    metrics = row["metrics"]
    if isinstance(metrics, str):
        metrics = json.loads(metrics or "{}")
    return StageState(
        platform=row["platform"],
        shortcode=row["shortcode"],
        stage=Stage(row["stage"]),
        status=StageStatus(row["status"]),
        attempts=row["attempts"],
        worker_id=row["worker_id"],
        lease_expires_at=timestamp(row["lease_expires_at"]),
        started_at=timestamp(row["started_at"]),
        finished_at=timestamp(row["finished_at"]),
        output_prefix=row["output_prefix"],
        metrics=dict(metrics or {}),
        last_error=row["last_error"],
    )


def error(row: Mapping[str, Any]) -> ErrorRow:
    """An ``extraction_errors`` row."""
    created = timestamp(row["created_at"])
    assert created is not None
    return ErrorRow(
        stage=row["stage"],
        error_class=row["error_class"],
        message=row["message"],
        retryable=bool(row["retryable"]),
        platform=row["platform"],
        shortcode=row["shortcode"],
        attempt=row["attempt"],
        request_id=row["request_id"],
        created_at=created,
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def plan(row: Mapping[str, Any]) -> VideoPlan:
    """A ``video_plans`` row."""
    return VideoPlan(
        platform=row["platform"],
        shortcode=row["shortcode"],
        upload_id=row["upload_id"],
        stages=tuple(_json(row["stages"]) or ()),
        options=dict(_json(row["options"]) or {}),
        state=PlanState(row["state"]),
        created_at=timestamp(row["created_at"]),
        finished_at=timestamp(row["finished_at"]),
        notified=bool(row["notified"]),
    )
