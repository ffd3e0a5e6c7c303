"""The pipeline: an upload's plan, the hand-offs between stages, and its completion event
(docs/plans.md).

* :meth:`Pipeline.start` runs where an upload enters (the pipeline's entry function, or a stage
  that received a direct job itself): it reads the object's ETag or version and its metadata,
  resolves the plan (:mod:`shared.plan`), records it once per upload in the status store, and
  sends the first stages their messages. A direct job with a ``run_id`` (a run) records its
  plan under ``{upload}:run:{run_id}`` (:func:`shared.messages.run_upload_id`), so it replaces
  the upload's plan as a new upload would; the upload's own event delivered again later keeps
  the run's plan.
* :meth:`Pipeline.advance` runs after a stage's outcome is recorded (and again when a redelivery
  finds the stage already done): it skips stages whose dependency failed, sends a message to each
  stage that has become ready, and when every planned stage is final it moves the plan to its
  final state and publishes the completion event.

Hand-offs are SQS messages (direct jobs carrying the upload's ``upload_id``) sent to the next
stage's queue, ``PIPELINE_QUEUE_URLS``. Sending twice is harmless: the stage's claim makes it run
once. A crash between recording a success and sending the hand-off is repaired by the
redelivery, which finds the stage succeeded and sends the hand-off again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared import aws
from shared.config import Settings
from shared.errors import (
    ConfigurationError,
    InvalidMessageError,
    TransientError,
    VideoMissingError,
)
from shared.layout import VideoLayout
from shared.messages import VideoJob, base_upload_id, run_upload_id, upload_id_of
from shared.observability import logger
from shared.plan import Plan, build_plan, resolve_plan
from shared.stages import STAGES, Stage
from shared.status import (
    PlanStart,
    PlanState,
    StageKey,
    StageState,
    StageStatus,
    StatusStore,
    VideoPlan,
)
from shared.storage import S3Storage

#: Version of the completion event's schema (docs/plans.md).
EVENT_SCHEMA_VERSION = 1


class HandoffUnavailableError(TransientError):
    """SQS or SNS refused or timed out a hand-off or the completion event."""


def overall_state(statuses: list[StageStatus]) -> PlanState:
    """The plan's final state from its stages' final statuses: all succeeded, none, or some."""
    ok = sum(s == StageStatus.SUCCEEDED for s in statuses)
    if ok == len(statuses):
        return PlanState.SUCCEEDED
    return PlanState.FAILED if ok == 0 else PlanState.PARTIAL


def plan_of(stored: VideoPlan) -> Plan:
    """The ordered :class:`~shared.plan.Plan` of a stored plan."""
    return build_plan(list(stored.stages), stored.options, source="stored")


@dataclass
class Pipeline:
    """Plans, hand-offs and completion events over one status store.

    Args:
        settings: core settings (``PIPELINE_*``, buckets).
        storage: S3 (the video's metadata; old outputs of a replaced upload).
        status: the status store.
        sqs, sns: boto3 clients; default: the cached ones from settings, created on first use.
    """

    settings: Settings
    storage: S3Storage
    status: StatusStore
    sqs: Any = None
    sns: Any = None

    # ---- entry -------------------------------------------------------------------------------
    def start(
        self, job: VideoJob, *, entry_stage: Stage | None = None
    ) -> tuple[PlanStart, VideoPlan, VideoJob]:
        """Record the plan of the upload ``job`` names and send its first stages' messages.

        Args:
            job: an S3 event's or a direct job's video.
            entry_stage: the stage whose own queue received ``job``; its message is not sent
                (the caller runs it at once), and without stages named by the message or the
                object's metadata the plan is that stage alone.

        Returns:
            What the store found, the stored plan, and ``job`` with its ``upload_id``.

        Raises:
            VideoMissingError: the object does not exist.
            InvalidMessageError: unknown stages, or options for stages that are not planned.
            StorageUnavailableError, StatusStoreUnavailableError, HandoffUnavailableError.
        """
        try:
            info = self.storage.head(job.bucket, job.key)
        except VideoMissingError:
            video = self.status.get_video(job.platform, job.shortcode)
            if video is not None and not video.is_downloaded:
                raise VideoMissingError(
                    f"{job.label} is registered but not downloaded yet"
                ) from None
            raise
        upload_id = job.upload_id or upload_id_of({"VersionId": info.version_id, "ETag": info.etag})
        if upload_id is None:
            raise InvalidMessageError(f"{job.label}: the object has neither ETag nor version id")
        earlier = self.status.get_plan(job.platform, job.shortcode)
        if job.run_id is not None:
            # a run: a new plan for the same upload, under an upload id of its own
            upload_id = run_upload_id(upload_id, job.run_id)
        elif (
            earlier is not None
            and earlier.upload_id != upload_id
            and base_upload_id(earlier.upload_id) == upload_id
        ):
            # the upload's event delivered again after a run re-planned it: keep the run's plan
            upload_id = earlier.upload_id
        plan = resolve_plan(
            message_stages=job.stages,
            message_options=job.options,
            metadata=info.metadata,
            platform=job.platform,
            routes=self.settings.pipeline_routes,
            default=self.settings.default_stages,
            entry_stage=entry_stage,
        )
        if earlier is not None and earlier.upload_id != upload_id:
            # before the plan is replaced, so a failed delete is retried by the redelivery
            self._delete_outputs(job)
        outcome, stored = self.status.start_plan(
            job.platform, job.shortcode, upload_id, [str(s) for s in plan.stages], plan.options
        )
        self.status.mark_downloaded(job.platform, job.shortcode)
        job = VideoJob(
            platform=job.platform,
            shortcode=job.shortcode,
            bucket=job.bucket,
            key=job.key,
            source=job.source,
            options=stored.options,
            size_bytes=job.size_bytes or info.size,
            stages=stored.stages,
            upload_id=stored.upload_id,
        )
        log = {"platform": job.platform, "shortcode": job.shortcode, "upload_id": upload_id}
        logger.info(
            "plan recorded",
            extra={**log, "outcome": str(outcome), "stages": list(stored.stages)},
        )
        self.advance(job, stored, trigger=None, except_stage=entry_stage)
        return outcome, stored, job

    def _delete_outputs(self, job: VideoJob) -> None:
        """Remove every stage folder of an earlier upload at the same key (results bucket)."""
        layout = VideoLayout(job.platform, job.shortcode)
        bucket = self.settings.s3_bucket_frames
        for spec in STAGES.values():
            keys = self.storage.list_keys(bucket, layout.stage(spec.stage))
            if keys:
                self.storage.delete_keys(bucket, keys)

    # ---- hand-offs ---------------------------------------------------------------------------
    def advance(
        self,
        job: VideoJob,
        stored: VideoPlan | None = None,
        *,
        trigger: Stage | None,
        except_stage: Stage | None = None,
    ) -> None:
        """Skip, hand off and finish what the plan's current state allows.

        Args:
            job: the upload (its ``upload_id`` must be the plan's, or nothing happens).
            stored: the plan, if the caller has it.
            trigger: the stage whose outcome was just recorded; ``None`` at the entry (then the
                plan's first stages are sent).
            except_stage: a stage not to send (the entry runs it itself).

        Raises:
            StatusStoreUnavailableError, HandoffUnavailableError, ConfigurationError.
        """
        stored = stored or self.status.get_plan(job.platform, job.shortcode)
        if stored is None or stored.upload_id != job.upload_id:
            return
        plan = plan_of(stored)
        states = self._states(job)
        self._skip_blocked(job, plan, states)
        if trigger is None:
            candidates = plan.roots()
        elif states.get(trigger) is not None and states[trigger].status == StageStatus.SUCCEEDED:
            candidates = plan.dependents(trigger)
        else:
            candidates = ()
        for stage in candidates:
            ready = all(
                states.get(d) is not None and states[d].status == StageStatus.SUCCEEDED
                for d in plan.deps(stage)
            )
            # a stage with a row has its message already (claimed, retried or final)
            if ready and stage not in states and stage != except_stage:
                self._send(stage, job, stored)
        if all(states.get(s) is not None and states[s].status.final for s in plan.stages):
            state = overall_state([states[s].status for s in plan.stages])
            self.status.finish_plan(job.platform, job.shortcode, stored.upload_id, state)
            # whoever finished it, an event not yet published goes out now: a publish that
            # failed after the plan was finished is retried by the record's redelivery
            final = self.status.get_plan(job.platform, job.shortcode)
            if final is not None and final.upload_id == stored.upload_id and not final.notified:
                self._write_report(job, states)
                self._publish(job, final, final.state, states)

    def _states(self, job: VideoJob) -> dict[Stage, StageState]:
        return {s.stage: s for s in self.status.stages(job.platform, job.shortcode)}

    def _skip_blocked(self, job: VideoJob, plan: Plan, states: dict[Stage, StageState]) -> None:
        """End as skipped every stage a failed or skipped dependency blocks (transitively)."""
        changed = True
        while changed:
            changed = False
            for stage in plan.stages:
                if stage in states and states[stage].status.final:
                    continue
                blocked = [
                    d
                    for d in plan.deps(stage)
                    if d in states and states[d].status in (StageStatus.FAILED, StageStatus.SKIPPED)
                ]
                if not blocked:
                    continue
                dep = blocked[0]
                reason = f"skipped: {dep} {states[dep].status}" + (
                    f" ({states[dep].last_error})" if states[dep].last_error else ""
                )
                key = StageKey(job.platform, job.shortcode, stage)
                if self.status.skip(key, reason[:2000]):
                    logger.info(
                        "stage skipped: a dependency did not succeed",
                        extra={
                            "platform": job.platform,
                            "shortcode": job.shortcode,
                            "stage": str(stage),
                            "dependency": str(dep),
                        },
                    )
                    states.update(self._states(job))
                    changed = True

    def handoff_body(self, stage: Stage, job: VideoJob, stored: VideoPlan) -> dict[str, Any]:
        """The direct job that starts ``stage`` for this upload."""
        body: dict[str, Any] = {
            "platform": job.platform,
            "shortcode": job.shortcode,
            "bucket": job.bucket,
            "key": job.key,
            "upload_id": stored.upload_id,
        }
        if str(stage) in stored.options:
            body["options"] = {str(stage): stored.options[str(stage)]}
        return body

    def _send(self, stage: Stage, job: VideoJob, stored: VideoPlan) -> None:
        url = self.settings.pipeline_queue_urls.get(str(stage))
        if not url:
            raise ConfigurationError(
                f"PIPELINE_QUEUE_URLS has no queue for {stage}: cannot hand {job.label} off"
            )
        sqs = self.sqs or aws.client("sqs", self.settings)
        try:
            sqs.send_message(
                QueueUrl=url, MessageBody=json.dumps(self.handoff_body(stage, job, stored))
            )
        except (ClientError, BotoCoreError) as exc:
            raise HandoffUnavailableError(f"hand-off to {stage}: {exc}") from exc
        logger.info(
            "handed off",
            extra={"platform": job.platform, "shortcode": job.shortcode, "stage": str(stage)},
        )

    # ---- completion --------------------------------------------------------------------------
    def _write_report(self, job: VideoJob, states: dict[Stage, StageState]) -> None:
        """Write the video's ``summary.txt`` and ``report.html`` (docs/previews.md), before the
        completion event so a subscriber can fetch them; rewritten on a redelivery until the event
        is published (both are rebuilt from the outputs, so a rewrite is harmless).

        Raises:
            StorageUnavailableError: S3 kept failing (the record is retried).
        """
        if not self.settings.previews:
            return
        from shared.previews.report import write_video_report  # Pillow/Jinja2 only when needed

        keys = write_video_report(
            self.storage,
            self.settings.s3_bucket_frames,
            job.platform,
            job.shortcode,
            list(states.values()),
        )
        logger.info(
            "report written",
            extra={"platform": job.platform, "shortcode": job.shortcode, "keys": keys},
        )

    def completion_event(
        self,
        job: VideoJob,
        stored: VideoPlan,
        state: PlanState,
        states: dict[Stage, StageState],
    ) -> dict[str, Any]:
        """The completion event's body (schema in docs/plans.md)."""
        stages: dict[str, Any] = {}
        total = 0.0
        for name in stored.stages:
            st = states.get(Stage(name))
            cost = float((st.metrics if st else {}).get("estimated_cost_usd") or 0.0)
            total += cost
            stages[name] = {
                "status": str(st.status) if st else "pending",
                "output_prefix": st.output_prefix if st else None,
                "error": st.last_error if st and st.status != StageStatus.SUCCEEDED else None,
                "attempts": st.attempts if st else 0,
                "estimated_cost_usd": round(cost, 6),
            }
        return {
            "schema_version": EVENT_SCHEMA_VERSION,
            "event": "vidpipe.plan.finished",
            "platform": job.platform,
            "shortcode": job.shortcode,
            "bucket": job.bucket,
            "key": job.key,
            "upload_id": stored.upload_id,
            "state": str(state),
            "stages": stages,
            "estimated_cost_usd": round(total, 6),
            "finished_at": (stored.finished_at or datetime.now(UTC)).isoformat(),
        }

    def _publish(
        self,
        job: VideoJob,
        stored: VideoPlan,
        state: PlanState,
        states: dict[Stage, StageState],
    ) -> None:
        event = self.completion_event(job, stored, state, states)
        topic = self.settings.pipeline_completion_topic_arn
        log = {"platform": job.platform, "shortcode": job.shortcode, "state": str(state)}
        if topic:
            sns = self.sns or aws.client("sns", self.settings)
            try:
                sns.publish(
                    TopicArn=topic,
                    Message=json.dumps(event),
                    MessageAttributes={
                        "state": {"DataType": "String", "StringValue": str(state)},
                        "platform": {"DataType": "String", "StringValue": job.platform},
                    },
                )
            except (ClientError, BotoCoreError) as exc:
                raise HandoffUnavailableError(f"completion event: {exc}") from exc
        logger.info("plan finished", extra={**log, "published": bool(topic)})
        if topic:
            self.status.mark_notified(job.platform, job.shortcode, stored.upload_id)
