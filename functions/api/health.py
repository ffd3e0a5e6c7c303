"""``GET /health``'s checks: one cheap, real call per service (docs/api.md, "Health").

* ``s3``: ``HeadBucket`` on the videos and the results bucket;
* ``sqs``: ``GetQueueAttributes`` on the pipeline's entry queue (``PIPELINE_ENTRY_QUEUE_URL``);
* ``status_store``: one plan read from the configured store;
* ``rekognition``: ``ListCollections`` (free) unless the stage is emulated (the local mode);
* ``gemini``: whether a key or its SSM parameter is configured (no call: Gemini bills per call
  and the API has no key).

Any ``down`` makes the answer ``degraded`` (``503``); ``emulated``, ``configured`` and
``unconfigured`` do not, except an unconfigured entry queue (runs could not start).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from functions.api.models import Health
from functions.api.settings import ApiSettings
from shared import aws
from shared.batch import get_runtime
from shared.config import get_settings, load_stage_settings
from shared.stages import STAGES, Stage


def _version() -> str:
    try:
        return metadata.version("vidpipe")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed
        return "unknown"


def _down(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"down: {type(exc).__name__}: {text}"[:300]


def _check(fn: Any) -> str:
    try:
        result = fn()
    except Exception as exc:  # every failure is a finding here, not an error
        return _down(exc)
    return str(result or "ok")


def check(settings: ApiSettings) -> Health:
    """Run every check once and say whether the API can serve."""
    core = get_settings()
    s3 = aws.client("s3", core, retries=1)
    buckets = sorted({core.s3_bucket_videos, core.s3_bucket_frames})

    def s3_check() -> str:
        for bucket in buckets:
            s3.head_bucket(Bucket=bucket)
        return "ok"

    def sqs_check() -> str:
        if not settings.pipeline_entry_queue_url:
            return "unconfigured"
        aws.client("sqs", core, retries=1).get_queue_attributes(
            QueueUrl=settings.pipeline_entry_queue_url, AttributeNames=["QueueArn"]
        )
        return "ok"

    def status_check() -> str:
        get_runtime().status.get_plan("vidpipe", "health")
        return "ok"

    def rekognition_check() -> str:
        rekognition = load_stage_settings(STAGES[Stage.REKOGNITION].settings_class())
        if rekognition.emulated:
            return "emulated"
        aws.client("rekognition", core, retries=1).list_collections(MaxResults=1)
        return "ok"

    def gemini_check() -> str:
        physics = load_stage_settings(STAGES[Stage.PHYSICS].settings_class())
        return "configured" if physics.api_key or physics.api_key_parameter else "unconfigured"

    services = {
        "s3": _check(s3_check),
        "sqs": _check(sqs_check),
        "status_store": _check(status_check),
        "rekognition": _check(rekognition_check),
        "gemini": _check(gemini_check),
    }
    bad = any(v.startswith("down") for v in services.values()) or services["sqs"] == "unconfigured"
    return Health(
        status="degraded" if bad else "ok",
        mode="local" if core.s3_endpoint_url else "aws",
        version=_version(),
        services=services,
        checked_at=datetime.now(UTC).replace(microsecond=0),
    )
