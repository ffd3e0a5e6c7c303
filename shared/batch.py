"""The SQS batch runner every handler uses: claims, deadlines and ``batchItemFailures``.

Built on Powertools' ``BatchProcessor`` (``EventType.SQS``), with two changes:

* records are processed on up to ``CONCURRENCY_LIMIT`` threads (:class:`ConcurrentBatchProcessor`);
* ``raise_on_entire_batch_failure=False``: when every record fails (typically all of them out of
  time) the handler *returns* the full ``batchItemFailures`` list instead of raising
  ``BatchProcessingError``, which would make the invocation look like a crash (docs/errors.md).

Per record (docs/errors.md):

=====================  ===========================================================  ==========
what happened          status store                                                 SQS
=====================  ===========================================================  ==========
less than              nothing                                                      redelivered
``MIN_REMAINING_MS``
left before it starts
bad body / identifier  error row (no stage row: identifiers unknown)                acknowledged
/ outside confinement
already succeeded      nothing                                                      acknowledged
claim held by a live   nothing                                                      redelivered
worker
permanent error        stage ``failed`` + error row                                 acknowledged
transient error / bug  stage back to ``pending`` + error row                        redelivered
out of time mid-job    claim released, no error                                     redelivered
success                stage ``succeeded`` (+ seed columns for frame-extract)       acknowledged
=====================  ===========================================================  ==========
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared.config import S, Settings, SettingsCache, get_settings
from shared.confine import confine
from shared.errors import (
    ClaimHeldError,
    LeaseLostError,
    OutOfTimeError,
    PipelineError,
    is_retryable,
)
from shared.layout import VideoLayout
from shared.messages import VideoJob, parse_body
from shared.observability import MetricUnit, logger, metrics
from shared.pipeline import Pipeline, plan_of
from shared.stages import ENTRY_NAME
from shared.status import (
    Claim,
    ClaimOutcome,
    ErrorReport,
    Stage,
    StageKey,
    StageStatus,
    StatusStore,
)
from shared.status.factory import make_status_store
from shared.storage import S3Storage


class ConcurrentBatchProcessor(BatchProcessor):
    """Powertools ``BatchProcessor`` for SQS that runs up to ``max_workers`` records at once.

    Results keep the records' order; Powertools' success/failure bookkeeping is unchanged.
    """

    def __init__(self, max_workers: int) -> None:
        super().__init__(EventType.SQS, raise_on_entire_batch_failure=False)
        self.max_workers = max(1, max_workers)

    def process(self) -> list[tuple[Any, ...]]:
        if self.max_workers == 1 or len(self.records) <= 1:
            return super().process()
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="record") as pool:
            return list(pool.map(self._process_record, self.records))


class Deadline:
    """Time left in the invocation, from the Lambda context.

    Args:
        context: anything with ``get_remaining_time_in_millis()``.
        min_remaining_ms: a record does not start with less left (``MIN_REMAINING_MS``).
        abort_remaining_ms: a running job stops with less left (``ABORT_REMAINING_MS``), leaving
            time to release its claim and answer.
    """

    def __init__(self, context: Any, min_remaining_ms: int, abort_remaining_ms: int) -> None:
        self._context = context
        self.min_remaining_ms = min_remaining_ms
        self.abort_remaining_ms = abort_remaining_ms

    def remaining_ms(self) -> int:
        """Milliseconds left in this invocation."""
        return int(self._context.get_remaining_time_in_millis())

    def can_start(self) -> bool:
        """Whether a new record may start."""
        return self.remaining_ms() >= self.min_remaining_ms

    def check(self) -> None:
        """Raise :class:`OutOfTimeError` when less than ``abort_remaining_ms`` is left."""
        left = self.remaining_ms()
        if left < self.abort_remaining_ms:
            raise OutOfTimeError(f"{left} ms left, under ABORT_REMAINING_MS")


@dataclass
class Runtime:
    """The collaborators a job needs, built once per process (warm invocations reuse them)."""

    settings: Settings
    storage: S3Storage
    status: StatusStore
    stage_settings: SettingsCache = field(default_factory=SettingsCache)

    @property
    def pipeline(self) -> Pipeline:
        """Plans and hand-offs over this runtime's settings, storage and status store."""
        return Pipeline(self.settings, self.storage, self.status)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        """Wire S3 and the configured status store from ``settings``."""
        return cls(
            settings=settings,
            storage=S3Storage.from_settings(settings),
            status=make_status_store(settings),
        )


@lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    """The process-wide runtime from the environment (cached; ``get_runtime.cache_clear()``)."""
    return Runtime.from_settings(get_settings())


@dataclass
class JobContext:
    """What a stage job receives besides the video job itself.

    Attributes:
        settings: validated settings.
        storage: S3 access.
        status: the status store.
        deadline: call ``deadline.check()`` in long loops.
        worker_id: the claim holder's id (``{request id}:{message id}``).
        attempt: how many times this stage has been claimed, this time included.
        key: the claimed stage.
        token: the claim's fencing token (docs/status.md#fencing).
        stage_settings: the runtime's cache of stage settings (:meth:`settings_for`).
    """

    settings: Settings
    storage: S3Storage
    status: StatusStore
    deadline: Deadline
    worker_id: str
    attempt: int
    stage_settings: SettingsCache = field(default_factory=SettingsCache)
    key: StageKey | None = None
    token: str | None = None
    _metrics_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def settings_for(self, cls: type[S]) -> S:
        """The stage settings of class ``cls`` (read once per runtime).

        Raises:
            ConfigurationError: a variable is invalid.
        """
        return self.stage_settings.get(cls)

    def heartbeat(self) -> None:
        """Extend the claim's lease to the time left plus ``LEASE_MARGIN_S``.

        Raises:
            LeaseLostError: the claim is no longer this job's (its lease expired and another
                worker took the stage): stop, the new holder owns the stage.
        """
        if self.key is None or self.token is None:
            return
        lease_s = self.deadline.remaining_ms() / 1000 + self.settings.lease_margin_s
        if not self.status.heartbeat(self.key, self.token, lease_s):
            raise LeaseLostError(f"{self.key.platform}/{self.key.shortcode} {self.key.stage}")

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None:
        """Add an EMF metric (thread-safe)."""
        with self._metrics_lock:
            metrics.add_metric(name=name, unit=unit, value=value)


@dataclass(frozen=True)
class JobOutcome:
    """What a job reports back for the status store.

    Attributes:
        output_prefix: ``s3://bucket/prefix/`` the stage wrote under.
        metrics: JSON-serialisable numbers for the stage row.
        frame_count: for frame-extract, the seed column ``videos.frame_count``.
        skipped: why nothing was done (already extracted), or ``None``.
    """

    output_prefix: str
    metrics: dict[str, Any] = field(default_factory=dict)
    frame_count: int | None = None
    skipped: str | None = None


JobFn = Callable[[VideoJob, JobContext], JobOutcome]


@dataclass(frozen=True)
class RecordOutcome:
    """What became of one record, for tools that explain a batch response (``vidpipe invoke``).

    Attributes:
        message_id: the SQS message id.
        outcome: per job of the record, ``kind`` or ``kind: why`` joined by ``"; "``; kinds are
            ``succeeded``, ``skipped``, ``duplicate``, ``planned``, ``ignored``, ``stale``,
            ``early``, ``rejected`` and ``failed`` (permanent). Empty when ``retry``.
        retry: ``ExceptionClass: message`` when the record was returned to SQS for redelivery
            (in ``batchItemFailures``), else ``None``.
    """

    message_id: str
    outcome: str
    retry: str | None = None


_OUTCOMES: ContextVar[list[RecordOutcome] | None] = ContextVar("vidpipe_outcomes", default=None)


@contextmanager
def record_outcomes() -> Iterator[list[RecordOutcome]]:
    """Collect a :class:`RecordOutcome` per record of the batches run in this context (in the
    order the records finish)."""
    sink: list[RecordOutcome] = []
    token = _OUTCOMES.set(sink)
    try:
        yield sink
    finally:
        _OUTCOMES.reset(token)


def run_batch(
    event: dict[str, Any],
    context: Any,
    *,
    stage: Stage | None,
    job: JobFn | None,
    runtime: Runtime | None = None,
) -> dict[str, Any]:
    """Process an SQS batch and return the partial batch response.

    Args:
        event: the Lambda SQS event.
        context: the Lambda context (or anything with ``get_remaining_time_in_millis()`` and
            ``aws_request_id``, as the local runner passes).
        stage: which stage this handler runs; ``None`` for the pipeline's entry function, which
            only records plans and sends the first stages their messages.
        job: the stage's work for one video (``None`` for the entry).
        runtime: collaborators; the cached process runtime when ``None``.

    Returns:
        ``{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}``.
    """
    rt = runtime or get_runtime()
    settings = rt.settings
    # Each invocation starts from a clean metric set: with EMF disabled (the CLI's default)
    # Powertools never flushes, so a long-running worker would otherwise accumulate metrics.
    # The stage is a per-invocation dimension because several handlers may share one process.
    metrics.clear_metrics()
    metrics.add_dimension(name="stage", value=str(stage or ENTRY_NAME))
    deadline = Deadline(context, settings.min_remaining_ms, settings.abort_remaining_ms)
    processor = ConcurrentBatchProcessor(settings.concurrency_limit)
    request_id = getattr(context, "aws_request_id", "local")
    sink = _OUTCOMES.get()  # read here: the records run on pool threads
    repeats = _repeats(event.get("Records") or [])

    def run_record(record: SQSRecord) -> str:
        if id(record.raw_event) in repeats:
            logger.info(
                "duplicate of an earlier record in this batch; acknowledging",
                extra={"message_id": record.message_id},
            )
            metrics.add_metric(name="RecordsDuplicateInBatch", unit=MetricUnit.Count, value=1)
            return "duplicate: an earlier record of this batch has its messageId or body"
        return _process_record(record, rt, stage, job, deadline, request_id)

    def record_handler(record: SQSRecord, lambda_context: Any = None) -> str:
        if sink is None:
            return run_record(record)
        try:
            outcome = run_record(record)
        except Exception as exc:
            sink.append(RecordOutcome(record.message_id, "", f"{type(exc).__name__}: {exc}"))
            raise
        sink.append(RecordOutcome(record.message_id, outcome))
        return outcome

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


def _repeats(records: list[dict[str, Any]]) -> set[int]:
    """The records of a batch that repeat an earlier one, by ``messageId`` or by body, as the
    ``id()`` of their dicts (docs/reliability.md#one-execution-per-record).

    Only the first of each runs. A repeat is acknowledged: with the same ``messageId``, the
    first copy's outcome is the message's (``batchItemFailures`` names message ids, so a failed
    first copy still has the message redelivered); with the same body under another id, the
    first copy carries the job, and its own redelivery retries it if it fails.
    """
    seen_ids: set[str] = set()
    seen_bodies: set[str] = set()
    repeats: set[int] = set()
    for raw in records:
        message_id, body = str(raw.get("messageId", "")), str(raw.get("body", ""))
        if message_id in seen_ids or body in seen_bodies:
            repeats.add(id(raw))
        seen_ids.add(message_id)
        seen_bodies.add(body)
    return repeats


def _confined_storage(rt: Runtime, job: VideoJob, stage: Stage) -> S3Storage:
    """The job's storage: writes only under its stage's folder of its video in the results
    bucket (docs/reliability.md). A stand-in that is not an ``S3Storage`` (tests) is kept."""
    if not isinstance(rt.storage, S3Storage):
        return rt.storage
    folder = VideoLayout(job.platform, job.shortcode).stage(stage)
    return rt.storage.confined(rt.settings.s3_bucket_frames, folder)


def _report(
    stage: Stage | str,
    exc: BaseException,
    job: VideoJob | None,
    attempt: int | None,
    request_id: str,
    *,
    retryable: bool | None = None,
) -> ErrorReport:
    return ErrorReport(
        stage=stage,
        error_class=exc.error_class if isinstance(exc, PipelineError) else type(exc).__name__,
        message=str(exc)[:2000] or type(exc).__name__,
        retryable=is_retryable(exc) if retryable is None else retryable,
        platform=job.platform if job else None,
        shortcode=job.shortcode if job else None,
        attempt=attempt,
        request_id=request_id,
    )


@dataclass(frozen=True)
class _Record:
    """What one record's jobs share: where they run and how often SQS has delivered it."""

    rt: Runtime
    stage: Stage | None
    job_fn: JobFn | None
    deadline: Deadline
    request_id: str
    message_id: str
    receive_count: int

    @property
    def worker_id(self) -> str:
        return f"{self.request_id}:{self.message_id}"

    @property
    def last_receive(self) -> bool:
        """Whether SQS moves the message to the DLQ if this receive fails too."""
        return self.receive_count >= self.rt.settings.max_receive_count


def _process_record(
    record: SQSRecord,
    rt: Runtime,
    stage: Stage | None,
    job_fn: JobFn | None,
    deadline: Deadline,
    request_id: str,
) -> str:
    message_id = record.message_id
    where = str(stage or ENTRY_NAME)
    if not deadline.can_start():
        logger.info(
            "not starting record: too little time left",
            extra={"message_id": message_id, "remaining_ms": deadline.remaining_ms()},
        )
        metrics.add_metric(name="RecordsDeferred", unit=MetricUnit.Count, value=1)
        raise OutOfTimeError(f"{deadline.remaining_ms()} ms left, under MIN_REMAINING_MS")
    try:
        parsed = parse_body(record.body, default_bucket=rt.settings.s3_bucket_videos)
        jobs: list[VideoJob] = []
        refused: list[tuple[PipelineError, VideoJob | None]] = [(e, None) for e in parsed.rejected]
        for job in parsed.jobs:
            try:
                confine(job, rt.settings)
                jobs.append(job)
            except PipelineError as exc:
                if is_retryable(exc) or len(parsed.jobs) == 1:
                    raise
                refused.append((exc, job))
    except PipelineError as exc:
        if is_retryable(exc):
            raise
        _reject(rt, where, message_id, exc, None, request_id)
        return f"rejected: {exc.error_class}: {exc}"
    if parsed.ignored:
        logger.info("ignored message", extra={"message_id": message_id, "reason": parsed.ignored})
        return f"ignored: {parsed.ignored}"
    # each S3 record of a notification is its own job: a refused one is recorded, the rest run
    rejections = [f"rejected: {e.error_class}: {e}" for e, _ in refused]
    for error, refused_job in refused:
        _reject(rt, where, message_id, error, refused_job, request_id)
    if not jobs:
        return "; ".join(rejections)
    try:
        receives = int(record.attributes.approximate_receive_count or 1)
    except (TypeError, ValueError):
        receives = 1
    rec = _Record(rt, stage, job_fn, deadline, request_id, message_id, receives)
    outcomes: list[str] = list(rejections)
    retry: BaseException | None = None
    for i, job in enumerate(jobs):
        if i and not deadline.can_start():
            retry = retry or OutOfTimeError(
                f"{deadline.remaining_ms()} ms left, under MIN_REMAINING_MS"
            )
            break
        try:
            outcomes.append(_dispatch(job, rec))
        except Exception as exc:
            # the other jobs of the body still run; the message is redelivered once they have,
            # and the jobs that succeeded are then acknowledged as duplicates by their claims
            retry = retry or exc
            outcomes.append(f"retry: {type(exc).__name__}: {exc}")
    if retry is not None:
        raise retry
    return "; ".join(outcomes)


def _reject(
    rt: Runtime,
    where: str,
    message_id: str,
    exc: PipelineError,
    job: VideoJob | None,
    request_id: str,
) -> None:
    """Log and record a refused body or S3 record (an error row, no stage row)."""
    logger.warning(
        "rejected message",
        extra={
            "message_id": message_id,
            "stage": where,
            "error": str(exc),
            "error_class": exc.error_class,
            **({"platform": job.platform, "shortcode": job.shortcode} if job else {}),
        },
    )
    rt.status.record_error(_report(where, exc, job, None, request_id))
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=1)


def _dispatch(job: VideoJob, rec: _Record) -> str:
    """Run one job of a record (docs/plans.md):

    * at the entry function: record the upload's plan and send its first stages' messages;
    * a hand-off (it names its upload): run the stage for that upload's plan;
    * a direct job without ``stages`` at a stage's own queue (the seed's way): run that stage
      for the video, outside any plan;
    * anything else at a stage's queue (an S3 event, a direct job with ``stages``): enter the
      pipeline here, and run this stage at once when the plan starts with it.
    """
    if rec.stage is not None and job.is_handoff:
        return _run_job(job, rec, planned=True)
    if rec.stage is not None and job.source == "direct" and job.stages is None:
        return _run_job(job, rec, planned=False)
    log = {"platform": job.platform, "shortcode": job.shortcode, "stage": str(rec.stage or "")}
    try:
        _, stored, job = rec.rt.pipeline.start(job, entry_stage=rec.stage)
    except PipelineError as exc:
        if is_retryable(exc):
            raise
        logger.warning(
            "could not start the plan; acknowledging",
            extra={**log, "error_class": exc.error_class, "error": str(exc)},
        )
        rec.rt.status.record_error(
            _report(str(rec.stage or ENTRY_NAME), exc, job, None, rec.request_id)
        )
        metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=1)
        return f"rejected: {job.label}: {exc.error_class}: {exc}"
    if rec.stage is None:
        return f"planned: {job.label}: {', '.join(stored.stages)}"
    if rec.stage not in plan_of(stored).roots():
        logger.info("planned; this stage is not among the first", extra=log)
        return (
            f"planned: {job.label}: {', '.join(stored.stages)}; {rec.stage} is not among the first"
        )
    return _run_job(job, rec, planned=True)


def _run_job(job: VideoJob, rec: _Record, *, planned: bool) -> str:
    """Claim, run and record one stage for one video; with ``planned``, for the upload's plan
    (a stale hand-off is acknowledged, and the outcome advances the plan)."""
    assert rec.stage is not None and rec.job_fn is not None
    rt, stage, worker_id = rec.rt, rec.stage, rec.worker_id
    key = StageKey(job.platform, job.shortcode, stage)
    log = {"platform": job.platform, "shortcode": job.shortcode, "stage": str(stage)}
    stored = rt.status.get_plan(job.platform, job.shortcode) if planned else None
    if planned and (
        stored is None or stored.upload_id != job.upload_id or str(stage) not in stored.stages
    ):
        # an earlier upload's hand-off, or one for a stage this upload did not plan
        logger.info(
            "hand-off for another upload or plan; acknowledging",
            extra={**log, "upload_id": job.upload_id},
        )
        metrics.add_metric(name="RecordsStale", unit=MetricUnit.Count, value=1)
        return f"stale: {job.label}: a hand-off for another upload or plan"
    if stored is not None:
        states = {st.stage: st.status for st in rt.status.stages(job.platform, job.shortcode)}
        waiting = [d for d in plan_of(stored).deps(stage) if states.get(d) != StageStatus.SUCCEEDED]
        if waiting:
            # early (a stray or duplicate message): the dependency's success sends it again
            logger.info(
                "hand-off before its dependencies succeeded; acknowledging",
                extra={**log, "waiting_for": [str(d) for d in waiting]},
            )
            metrics.add_metric(name="RecordsEarly", unit=MetricUnit.Count, value=1)
            return f"early: {job.label}: waiting for {', '.join(str(d) for d in waiting)}"
    lease_s = rec.deadline.remaining_ms() / 1000 + rt.settings.lease_margin_s
    try:
        claim = rt.status.claim(key, worker_id, lease_s)
    except Exception:
        # the status store is down or misconfigured: count it like any transient failure
        logger.exception("could not claim the stage; SQS will redeliver", extra=log)
        metrics.add_metric(name="RecordsFailedTransient", unit=MetricUnit.Count, value=1)
        raise
    if claim.outcome == ClaimOutcome.ALREADY_SUCCEEDED:
        logger.info("stage already succeeded; acknowledging", extra=log)
        metrics.add_metric(name="RecordsDuplicate", unit=MetricUnit.Count, value=1)
        # a crash may have come between the success and its hand-off: send it (again)
        if planned:
            rt.pipeline.advance(job, stored, trigger=stage)
        return f"duplicate: {job.label} {stage} already succeeded"
    if claim.outcome == ClaimOutcome.HELD:
        raise ClaimHeldError(f"{job.label} {stage} is being processed by another worker")

    token = claim.token or ""
    if claim.attempts > 1:
        # an earlier attempt did not succeed (it failed, ran out of time or crashed): nothing it
        # left in the stage's folder may survive into this attempt's result
        _clear_outputs(rt, job, stage, log, reason="leftovers of an earlier attempt")
    ctx = JobContext(
        settings=rt.settings,
        storage=_confined_storage(rt, job, stage),
        status=rt.status,
        deadline=rec.deadline,
        worker_id=worker_id,
        attempt=claim.attempts,
        stage_settings=rt.stage_settings,
        key=key,
        token=token,
    )
    try:
        outcome = rec.job_fn(job, ctx)
    except OutOfTimeError:
        logger.warning("out of time; releasing the claim for redelivery", extra=log)
        _clear_if_current(rt, job, key, token, log)
        if not rt.status.release(key, token):
            _log_stale("release", log, claim.attempts)
        metrics.add_metric(name="RecordsDeferred", unit=MetricUnit.Count, value=1)
        raise
    except LeaseLostError:
        _log_stale("heartbeat", log, claim.attempts)
        return _stale(job, stage, "heartbeat")
    except Exception as exc:
        if is_retryable(exc):
            _clear_if_current(rt, job, key, token, log)
            _record_transient(exc, key, job, claim, rec, log, planned=planned)
            raise
        _clear_if_current(rt, job, key, token, log)
        report = _report(stage, exc, job, claim.attempts, rec.request_id)
        logger.warning(
            "permanent error; acknowledging",
            extra={**log, "error_class": report.error_class, "error": str(exc)},
        )
        if not rt.status.fail(key, token, report):
            _log_stale("fail", log, claim.attempts)
            return _stale(job, stage, "fail")
        metrics.add_metric(name="RecordsFailedPermanent", unit=MetricUnit.Count, value=1)
        if planned:
            rt.pipeline.advance(job, stored, trigger=stage)
        return f"failed: {job.label} {stage}: {report.error_class}: {exc}"
    if not rt.status.complete(
        key,
        token,
        output_prefix=outcome.output_prefix,
        metrics=outcome.metrics,
        frame_count=outcome.frame_count,
    ):
        _log_stale("complete", log, claim.attempts)
        return _stale(job, stage, "complete")
    logger.info(
        "stage succeeded" if outcome.skipped is None else "stage skipped",
        extra={**log, "reason": outcome.skipped, "output_prefix": outcome.output_prefix},
    )
    metrics.add_metric(name="RecordsSucceeded", unit=MetricUnit.Count, value=1)
    if planned:
        rt.pipeline.advance(job, stored, trigger=stage)
    if outcome.skipped:
        return f"skipped: {job.label} {stage}: {outcome.skipped}"
    return f"succeeded: {job.label} {stage}" + (
        f" -> {outcome.output_prefix}" if outcome.output_prefix else ""
    )


def _clear_if_current(
    rt: Runtime, job: VideoJob, key: StageKey, token: str, log: dict[str, str]
) -> None:
    """On a failure path: delete what the attempt wrote, unless the claim is no longer current
    (the new holder may be writing to the folder now)."""
    try:
        current = rt.status.heartbeat(key, token, rt.settings.lease_margin_s)
    except PipelineError:
        logger.exception("could not check the claim; leaving the outputs to the next attempt")
        return
    if current:
        _clear_outputs(rt, job, key.stage, log, reason="the attempt failed")


def _clear_outputs(
    rt: Runtime, job: VideoJob, stage: Stage, log: dict[str, str], *, reason: str
) -> None:
    """Delete every object in the stage's folder of the video in the results bucket
    (docs/reliability.md#nothing-half-written-is-visible). A failure to delete is logged, not
    raised: the next attempt clears the folder again before it writes."""
    if not isinstance(rt.storage, S3Storage):
        return
    bucket = rt.settings.s3_bucket_frames
    folder = VideoLayout(job.platform, job.shortcode).stage(stage)
    try:
        keys = rt.storage.list_keys(bucket, folder)
        if keys:
            _confined_storage(rt, job, stage).delete_keys(bucket, keys)
            logger.info(
                "cleared the stage's folder", extra={**log, "reason": reason, "objects": len(keys)}
            )
            metrics.add_metric(name="ObjectsCleared", unit=MetricUnit.Count, value=len(keys))
    except PipelineError:
        logger.exception("could not clear the stage's folder", extra={**log, "reason": reason})


def _stale(job: VideoJob, stage: Stage, call: str) -> str:
    return (
        f"stale: {job.label} {stage}: the claim expired and a newer one holds it ({call} refused)"
    )


def _log_stale(call: str, log: dict[str, str], attempt: int) -> None:
    """A stale holder's call was refused by the status store (docs/status.md#fencing): its lease
    expired and another worker claimed the stage, which now owns the outcome. The record is
    acknowledged (the other holder's delivery decides); nothing about the stage changed."""
    logger.warning(
        f"claim no longer current; {call} refused, the stage belongs to a newer claim",
        extra={**log, "attempt": attempt, "refused": call},
    )
    metrics.add_metric(name="RecordsStaleClaim", unit=MetricUnit.Count, value=1)


def _record_transient(
    exc: BaseException,
    key: StageKey,
    job: VideoJob,
    claim: Claim,
    rec: _Record,
    log: dict[str, str],
    *,
    planned: bool,
) -> None:
    """Log and record a retryable failure; the caller re-raises it for redelivery.

    On the message's last receive (``MAX_RECEIVE_COUNT``) the stage is recorded ``failed``, so
    the plan can end, while the message itself still goes to the DLQ for an operator.
    """
    rt = rec.rt
    final = rec.last_receive
    attempt = claim.attempts
    logger.exception(
        "transient error on the last receive; the message goes to the DLQ"
        if final
        else "transient error; SQS will redeliver",
        extra={**log, "error_class": type(exc).__name__, "attempt": attempt},
    )
    try:
        current = rt.status.fail(
            key,
            claim.token or "",
            _report(key.stage, exc, job, attempt, rec.request_id, retryable=not final),
        )
        if not current:
            _log_stale("fail", log, attempt)
        elif final and planned:
            rt.pipeline.advance(job, trigger=key.stage)
    except PipelineError:
        logger.exception("could not record the error", extra=log)
    metrics.add_metric(name="RecordsFailedTransient", unit=MetricUnit.Count, value=1)
