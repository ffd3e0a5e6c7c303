"""The status-store port (docs/status.md) and its data types.

Adapters: :class:`shared.status.sqlite.SqliteStatusStore` (embedded default, local runs) and the
Supabase adapter (production). All of them follow one claim protocol:

* ``claim`` takes a stage for one worker with a lease. It succeeds only when the stage is not
  ``succeeded`` and no live lease is held; an expired lease is taken over. It is atomic in every
  adapter (a transaction in SQLite, one SQL function in Postgres), never check-then-act.
  A won claim carries a fresh **fencing token** (:attr:`Claim.token`).
* ``complete`` marks the stage ``succeeded`` (for ``frame-extract`` it also sets the seed columns
  ``videos.is_extracted`` and ``videos.frame_count``).
* ``fail`` records an error row and sets the stage ``failed`` (permanent) or back to ``pending``
  (retryable), clearing the lease.
* ``release`` gives the lease back without counting an error (the out-of-time path).
* ``heartbeat`` extends the lease.

``complete``, ``fail``, ``release`` and ``heartbeat`` take the claim's token and take effect only
while it is the stage's current token and the stage is ``processing``: a worker whose lease
expired and was taken over (a stale holder) gets ``False`` and changes nothing (``fail`` still
records its error row, the history of that attempt). docs/status.md#fencing.
* ``skip`` ends a stage that will not run because a stage it needs failed (``skipped``).

Per upload, a **plan** (docs/plans.md): ``start_plan`` records which stages an upload runs,
atomically and once per upload (a new ETag or version at the same key replaces the plan and
resets the video's stage rows); ``finish_plan`` moves it from ``running`` to its final state
exactly once; ``mark_notified`` records that the completion event went out; ``list_plans``
pages through the plans newest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from shared.stages import Stage

__all__ = [
    "Claim",
    "ClaimOutcome",
    "ErrorReport",
    "ErrorRow",
    "PlanPosition",
    "PlanStart",
    "PlanState",
    "Stage",
    "StageKey",
    "StageState",
    "StageStatus",
    "StatusStore",
    "VideoPlan",
    "VideoRow",
]


class StageStatus(StrEnum):
    """Per-stage state machine: pending -> processing -> succeeded | failed (| pending), or
    pending -> skipped when a stage it needs failed."""

    PENDING = "pending"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def final(self) -> bool:
        """Whether the stage will not change again for this upload."""
        return self in (StageStatus.SUCCEEDED, StageStatus.FAILED, StageStatus.SKIPPED)


class PlanState(StrEnum):
    """An upload's overall state: ``running`` until every planned stage is final, then
    ``succeeded`` (all succeeded), ``failed`` (none succeeded) or ``partial`` (some did)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIAL = "partial"


class PlanStart(StrEnum):
    """What :meth:`StatusStore.start_plan` found."""

    CREATED = "created"
    EXISTING = "existing"
    REPLACED = "replaced"


@dataclass(frozen=True)
class VideoPlan:
    """One upload's plan and overall state. Times are timezone-aware UTC.

    Attributes:
        upload_id: the object's version id or ETag (docs/plans.md).
        stages: the planned stage names, in the order they were planned.
        options: per-stage options, ``{stage: {...}}``.
        state: the overall state.
        notified: whether the completion event was published.
    """

    platform: str
    shortcode: str
    upload_id: str
    stages: tuple[str, ...]
    options: dict[str, dict[str, Any]]
    state: PlanState
    created_at: datetime | None = None
    finished_at: datetime | None = None
    notified: bool = False


@dataclass(frozen=True)
class PlanPosition:
    """Where a page of :meth:`StatusStore.list_plans` ended: the last plan's ``created_at``
    (timezone-aware UTC), platform and shortcode, the order plans are listed in (descending)."""

    created_at: datetime
    platform: str
    shortcode: str

    @classmethod
    def of(cls, plan: VideoPlan) -> PlanPosition:
        """The position of ``plan`` (it must have its ``created_at``)."""
        assert plan.created_at is not None
        return cls(plan.created_at, plan.platform, plan.shortcode)


#: Most plans one :meth:`StatusStore.list_plans` call returns.
MAX_LIST_LIMIT = 1000


class ClaimOutcome(StrEnum):
    """What a claim attempt found."""

    CLAIMED = "claimed"
    ALREADY_SUCCEEDED = "already_succeeded"
    HELD = "held"


@dataclass(frozen=True)
class StageKey:
    """(platform, shortcode, stage): the unit of work and of status."""

    platform: str
    shortcode: str
    stage: Stage


@dataclass(frozen=True)
class VideoRow:
    """The seed-compatible ``videos`` row that existing dashboards read."""

    platform: str
    shortcode: str
    is_downloaded: bool
    is_extracted: bool
    frame_count: int | None


@dataclass(frozen=True)
class StageState:
    """One per-stage status row. Times are timezone-aware UTC."""

    platform: str
    shortcode: str
    stage: Stage
    status: StageStatus
    attempts: int
    worker_id: str | None = None
    lease_expires_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    output_prefix: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None


@dataclass(frozen=True)
class Claim:
    """Result of :meth:`StatusStore.claim`; ``attempts`` counts claims won, this one included.

    ``token`` is the claim's fencing token (a random UUID as text) when ``outcome`` is
    ``CLAIMED``, else ``None``; pass it to ``complete``, ``fail``, ``release`` and ``heartbeat``.
    """

    outcome: ClaimOutcome
    attempts: int = 0
    token: str | None = None

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> Claim:
        """Parse ``vidpipe_claim_stage``'s JSON result, ``{"outcome": ..., "attempts": n,
        "token": uuid}`` (the SQL function both the PostgreSQL and the Supabase adapters call;
        ``token`` only when claimed).

        Raises:
            KeyError, ValueError: the result lacks a key or names an unknown outcome.
            ConfigurationError: a won claim has no token (the fencing migration is not applied).
        """
        outcome = ClaimOutcome(result["outcome"])
        token = result.get("token")
        if outcome == ClaimOutcome.CLAIMED and not token:
            from shared.errors import ConfigurationError

            raise ConfigurationError(
                "vidpipe_claim_stage returned no fencing token: apply"
                " infra/supabase/migrations/20261202120000_fencing.sql"
            )
        return cls(outcome, int(result["attempts"]), str(token) if token else None)


@dataclass(frozen=True)
class ErrorReport:
    """One ``extraction_errors`` row. Identifiers are ``None`` when the body was unreadable;
    ``stage`` is ``"pipeline"`` for the pipeline's entry."""

    stage: Stage | str
    error_class: str
    message: str
    retryable: bool
    platform: str | None = None
    shortcode: str | None = None
    attempt: int | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class ErrorRow:
    """An error as stored, with its time (UTC)."""

    stage: str
    error_class: str
    message: str
    retryable: bool
    platform: str | None
    shortcode: str | None
    attempt: int | None
    request_id: str | None
    created_at: datetime


@runtime_checkable
class StatusStore(Protocol):
    """The port every adapter implements. Methods raise
    :class:`~shared.errors.StatusStoreUnavailableError` when the store cannot be reached."""

    def get_video(self, platform: str, shortcode: str) -> VideoRow | None:
        """The seed ``videos`` row, or ``None`` when the video was never registered."""

    def mark_downloaded(self, platform: str, shortcode: str) -> None:
        """Upsert ``videos.is_downloaded = true`` (the object is known to be in S3)."""

    def claim(self, key: StageKey, worker_id: str, lease_s: float) -> Claim:
        """Atomically take ``key`` for ``worker_id`` for ``lease_s`` seconds. A live lease is
        ``HELD`` whoever asks, ``worker_id`` included; a win carries a new token."""

    def complete(
        self,
        key: StageKey,
        token: str,
        *,
        output_prefix: str,
        metrics: dict[str, Any],
        frame_count: int | None = None,
    ) -> bool:
        """Mark the stage succeeded; ``frame_count`` goes to the seed column for frame-extract.
        ``False`` (nothing changed) unless ``token`` is the current claim's."""

    def fail(self, key: StageKey, token: str, report: ErrorReport) -> bool:
        """Record ``report``; with the current ``token``, ``failed`` if not retryable, else back
        to ``pending``. ``False`` when the stage was left as it was (a stale token)."""

    def release(self, key: StageKey, token: str) -> bool:
        """Give the lease back (out of time), counting no error; ``False`` unless ``token`` is
        the current claim's."""

    def heartbeat(self, key: StageKey, token: str, lease_s: float) -> bool:
        """Extend the lease to ``lease_s`` seconds from now; ``False`` unless ``token`` is the
        current claim's (the caller has lost the stage and should stop)."""

    def record_error(self, report: ErrorReport) -> None:
        """Record an error that belongs to no claimed stage (an unreadable message)."""

    def stages(self, platform: str, shortcode: str) -> list[StageState]:
        """Every stage row of a video, ordered by stage name."""

    def errors(self, platform: str | None = None, shortcode: str | None = None) -> list[ErrorRow]:
        """Error rows, oldest first, optionally for one video."""

    def skip(self, key: StageKey, reason: str) -> bool:
        """Mark a stage that has not run ``skipped`` with ``reason``; ``False`` (and no change)
        when it is processing under a live lease or already final."""

    def start_plan(
        self,
        platform: str,
        shortcode: str,
        upload_id: str,
        stages: list[str],
        options: dict[str, dict[str, Any]],
    ) -> tuple[PlanStart, VideoPlan]:
        """Record the plan of one upload, atomically. The same ``upload_id`` again returns the
        stored plan unchanged (``EXISTING``); another ``upload_id`` replaces the plan, deletes the
        video's stage rows and resets ``videos.is_extracted``/``frame_count`` (``REPLACED``)."""

    def get_plan(self, platform: str, shortcode: str) -> VideoPlan | None:
        """The video's current plan, or ``None``."""

    def finish_plan(self, platform: str, shortcode: str, upload_id: str, state: PlanState) -> bool:
        """Move the plan of ``upload_id`` from ``running`` to ``state``; ``True`` only for the
        one caller that did."""

    def mark_notified(self, platform: str, shortcode: str, upload_id: str) -> None:
        """Record that the completion event of ``upload_id`` was published."""

    def list_plans(
        self,
        *,
        platform: str | None = None,
        state: PlanState | None = None,
        limit: int = 50,
        after: PlanPosition | None = None,
    ) -> list[VideoPlan]:
        """Plans newest first (``created_at``, then platform and shortcode, all descending), at
        most ``limit`` (1 to :data:`MAX_LIST_LIMIT`), only of ``platform`` and in ``state`` when
        given, and only those after ``after`` in that order (keyset paging: pass the
        :class:`PlanPosition` of the previous page's last plan)."""
