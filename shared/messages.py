"""Parsing of SQS record bodies into validated video jobs (docs/messages.md, a contract).

A body is one of:

1. a **direct job** ``{"shortcode": "Cx1", "platform": "instagram"}``, optionally with ``bucket``,
   ``key``, a plan's ``stages`` (``["frame-extract", "rekognition"]``) and per-stage ``options``
   (``{"frame-extract": {"detector": "adaptive"}}``); a stage's hand-off to the next stages is a
   direct job that also carries the upload's ``upload_id`` (docs/plans.md); a ``run_id``
   (``^[A-Za-z0-9_-]{1,64}$``) asks for a new plan on a video already uploaded (a **run**: the
   plan is recorded again for the upload id ``{upload}:run:{run_id}``, :func:`run_upload_id`);
2. an **S3 event notification** ``{"Records": [{"eventName": "ObjectCreated:Put", "s3": ...}]}``,
   as S3 sends it to SQS, or through SNS with raw message delivery (the same JSON). An SNS
   envelope (``{"Type": "Notification", "Message": "..."}``, raw delivery off) is unwrapped too.
   ``s3:TestEvent`` bodies hold no job and are acknowledged;
3. an **EventBridge "Object Created" event** from S3 (``{"source": "aws.s3", "detail-type":
   "Object Created", "detail": {"bucket": {"name": ...}, "object": {"key": ...}}}``), as an
   EventBridge rule with an SQS target delivers it. Its keys are *not* URL-encoded.

Shapes are read with Powertools' parser models (``aws_lambda_powertools.utilities.parser.
models``): ``S3RecordModel``, ``SnsNotificationModel`` and ``S3EventNotificationEventBridgeModel``.
The S3 and SNS ones are relaxed here to require only what a job needs (``eventName``, bucket name,
object key; ``Message``): moto, MinIO and hand-written test events leave out fields AWS always
sends (``userIdentity``, ``responseElements``, ``UnsubscribeURL`` ...), and a missing field we
never read must not turn a good upload into a permanent failure. Anything else, such as an
SNS-to-Lambda event, an API Gateway request or an EventBridge event of another type, is refused
with ``unrecognised event: looks like <kind>`` (see ``docs/events.md``).

Identifiers are validated before any use: ``platform`` matches ``^[a-z0-9][a-z0-9_-]{0,31}$``,
``shortcode`` matches ``^[A-Za-z0-9_-]{1,128}$``. An S3 key must be
``{platform}/{shortcode}/{file}`` where ``{file}`` is ``video.<ext>`` (the canonical name) or any
other single path segment without control characters that ends in a video extension. Keys arrive
URL-encoded with ``+`` for spaces and are decoded with :func:`urllib.parse.unquote_plus`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser.models import (
    S3EventNotificationEventBridgeModel,
    S3RecordModel,
    SnsNotificationModel,
)
from aws_lambda_powertools.utilities.parser.models.s3 import (
    S3Bucket,
    S3Identity,
    S3Message,
    S3Object,
    S3OwnerIdentify,
    S3RequestParameters,
    S3ResponseElements,
)
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from pydantic.networks import HttpUrl

from shared.errors import InvalidIdentifierError, InvalidMessageError

PLATFORM_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SHORTCODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# S3 bucket naming rules (general purpose buckets), without the dotted-IP special case.
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
VIDEO_EXTENSIONS = frozenset({"mp4", "mov", "m4v", "mkv", "webm", "avi", "mpg", "mpeg", "ts"})
CANONICAL_NAME = "video.mp4"
MAX_KEY_BYTES = 1024  # S3's own limit on key length
#: Largest body parsed, in UTF-8 bytes: SQS's own message size limit (1 MiB).
MAX_BODY_BYTES = 1024 * 1024
#: Deepest JSON nesting parsed (objects and arrays); a real body nests 6 deep at most.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_JSON_BRACKET = re.compile(r"[\[\]{}]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: An upload id: an S3 version id, an ETag (quotes stripped) or a sequencer.
UPLOAD_ID_RE = re.compile(r"^[A-Za-z0-9._:+=-]{1,256}$")
#: A run's id in a direct job (:func:`run_upload_id`).
RUN_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: What separates an upload's id from a run's in the upload id a run's plan is recorded under.
RUN_SEPARATOR = ":run:"


def validate_platform(value: str) -> str:
    """Return ``value`` if it is a valid platform name.

    Raises:
        InvalidIdentifierError: it does not match ``^[a-z0-9][a-z0-9_-]{0,31}$``.
    """
    if not isinstance(value, str) or not PLATFORM_RE.fullmatch(value):
        raise InvalidIdentifierError(
            f"invalid platform {value!r}: expected 1-32 of a-z, 0-9, '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def validate_shortcode(value: str) -> str:
    """Return ``value`` if it is a valid shortcode.

    Raises:
        InvalidIdentifierError: it does not match ``^[A-Za-z0-9_-]{1,128}$`` (so ``..``, ``/``
            and every other path trick is refused).
    """
    if not isinstance(value, str) or not SHORTCODE_RE.fullmatch(value):
        raise InvalidIdentifierError(
            f"invalid shortcode {value!r}: expected 1-128 of A-Z, a-z, 0-9, '_' or '-'"
        )
    return value


def validate_bucket(value: str) -> str:
    """Return ``value`` if it is a valid S3 bucket name.

    Raises:
        InvalidIdentifierError: it breaks S3's bucket naming rules.
    """
    if not isinstance(value, str) or not BUCKET_RE.fullmatch(value) or ".." in value:
        raise InvalidIdentifierError(f"invalid bucket name {value!r}")
    return value


def validate_file_name(name: str) -> str:
    """Return ``name`` if it is one safe path segment with a video extension.

    Raises:
        InvalidIdentifierError: empty, ``.``/``..``, contains ``/``, ``\\`` or control
            characters, or does not end in one of :data:`VIDEO_EXTENSIONS`.
    """
    if (
        not name
        or name in {".", ".."}
        or "/" in name
        or "\\" in name
        or _CONTROL.search(name)
        or name.startswith(".")
    ):
        raise InvalidIdentifierError(f"invalid video file name {name!r}")
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in VIDEO_EXTENSIONS:
        raise InvalidIdentifierError(
            f"video file name {name!r} must end in one of: {', '.join(sorted(VIDEO_EXTENSIONS))}"
        )
    return name


def parse_video_key(key: str) -> tuple[str, str, str]:
    """Split a decoded S3 key in the ``{platform}/{shortcode}/{file}`` layout.

    Args:
        key: the key, already URL-decoded.

    Returns:
        ``(platform, shortcode, file_name)``, each validated.

    Raises:
        InvalidIdentifierError: the key is outside the layout or a part fails validation.
    """
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidIdentifierError(f"S3 key longer than {MAX_KEY_BYTES} bytes")
    parts = key.split("/")
    if len(parts) != 3:
        raise InvalidIdentifierError(
            f"S3 key {key!r} is outside the layout {{platform}}/{{shortcode}}/video.<ext>"
        )
    platform, shortcode, name = parts
    return validate_platform(platform), validate_shortcode(shortcode), validate_file_name(name)


@dataclass(frozen=True)
class VideoJob:
    """One video to process, fully validated.

    Attributes:
        platform: validated platform (``instagram``).
        shortcode: validated shortcode (``Cx1``).
        bucket: bucket holding the video.
        key: the video's key (decoded).
        source: ``"direct"`` for a direct job, ``"s3"`` for an S3 event notification.
        options: per-stage options from a direct job, validated later by the stage.
        size_bytes: object size from the S3 event, when known.
        stages: the plan's stage names a direct job asked for (``None``: not given).
        upload_id: which upload of the key this is: the S3 event's version id or ETag, or a
            hand-off's ``upload_id``; ``None`` for a direct job, which reads the object's.
        run_id: a direct job's ``run_id``: plan this upload again (:func:`run_upload_id`).
    """

    platform: str
    shortcode: str
    bucket: str
    key: str
    source: Literal["direct", "s3"]
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    size_bytes: int | None = None
    stages: tuple[str, ...] | None = None
    upload_id: str | None = None
    run_id: str | None = None

    @property
    def is_handoff(self) -> bool:
        """Whether this is a hand-off from the pipeline (it names its upload)."""
        return self.source == "direct" and self.upload_id is not None

    @property
    def label(self) -> str:
        """``platform/shortcode`` for logs and summaries."""
        return f"{self.platform}/{self.shortcode}"


class _DirectJob(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    shortcode: str
    platform: str
    bucket: str | None = None
    key: str | None = None
    options: dict[str, dict[str, Any]] = {}
    stages: list[str] | None = None
    upload_id: str | None = None
    run_id: str | None = None

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, v: str | None) -> str | None:
        if v is not None and not RUN_ID_RE.fullmatch(v):
            raise InvalidIdentifierError(
                f"invalid run_id {v!r}: expected 1-64 of A-Z, a-z, 0-9, '_' or '-'"
            )
        return v

    @field_validator("upload_id")
    @classmethod
    def _upload_id(cls, v: str | None) -> str | None:
        if v is not None and not UPLOAD_ID_RE.fullmatch(v):
            raise InvalidIdentifierError(f"invalid upload_id {v!r}")
        return v

    @field_validator("shortcode")
    @classmethod
    def _shortcode(cls, v: str) -> str:
        return validate_shortcode(v)

    @field_validator("platform")
    @classmethod
    def _platform(cls, v: str) -> str:
        return validate_platform(v)

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str | None) -> str | None:
        return None if v is None else validate_bucket(v)


def _validate_explicit_key(key: str) -> str:
    """A key given in a direct job: any safe key whose last segment is a video file name."""
    if not key or key.startswith("/") or len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidIdentifierError(f"invalid key {key!r}")
    segments = key.split("/")
    if any(s in {"", ".", ".."} or "\\" in s or _CONTROL.search(s) for s in segments):
        raise InvalidIdentifierError(f"invalid key {key!r}: empty, '.' or '..' segments")
    validate_file_name(segments[-1])
    return key


@dataclass(frozen=True)
class ParsedBody:
    """The jobs in one SQS body; ``ignored`` says why a body held none (``s3:TestEvent``).

    ``rejected`` holds the errors of the records of an S3 notification that were refused while
    others in the same body were valid (each record is its own job, docs/reliability.md).
    """

    jobs: list[VideoJob]
    ignored: str | None = None
    rejected: list[InvalidMessageError] = field(default_factory=list)


def check_body_bounds(body: str) -> None:
    """Refuse a body too large or too deeply nested to parse safely, before ``json.loads``.

    Nesting is counted on the brackets outside JSON strings, without recursion, so a body of a
    million ``[`` costs a scan, not a ``RecursionError``.

    Raises:
        InvalidMessageError: over :data:`MAX_BODY_BYTES` or nested deeper than
            :data:`MAX_JSON_DEPTH`.
    """
    if not isinstance(body, str):
        return  # json.loads reports it
    size = len(body.encode("utf-8", errors="surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise InvalidMessageError(
            f"message body is {size} bytes, over the limit of {MAX_BODY_BYTES}"
        )
    depth = 0
    for m in _JSON_BRACKET.finditer(_JSON_STRING.sub("", body)):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise InvalidMessageError(
                    f"message body nests deeper than {MAX_JSON_DEPTH} levels of objects/arrays"
                )
        else:
            depth -= 1


def parse_body(body: str, *, default_bucket: str, _unwrapped: bool = False) -> ParsedBody:
    """Parse one SQS record body.

    Args:
        body: the record's ``body`` string.
        default_bucket: bucket for direct jobs that name none (``S3_BUCKET_VIDEOS``).

    Returns:
        The validated jobs (several for a multi-record S3 event), or none with a reason.

    Raises:
        InvalidMessageError: not JSON, too large or too deeply nested (:func:`check_body_bounds`),
            not an object, unknown keys, wrong types, an SNS envelope inside an envelope, an S3
            record that is not ``ObjectCreated``, or another kind of event (``unrecognised
            event: looks like ...``).
        InvalidIdentifierError: an identifier, bucket or key fails validation.
    """
    check_body_bounds(body)
    try:
        data = json.loads(body)
    except RecursionError as exc:  # pragma: no cover - check_body_bounds stops it first
        raise InvalidMessageError("message body nests too deeply to parse") from exc
    except (TypeError, ValueError) as exc:
        raise InvalidMessageError(f"message body is not JSON: {exc}") from exc
    return _parse_data(data, default_bucket, depth=0)


def _parse_data(data: Any, default_bucket: str, *, depth: int) -> ParsedBody:
    if not isinstance(data, dict):
        raise InvalidMessageError(f"message body must be a JSON object, got {type(data).__name__}")
    if data.get("Event") == "s3:TestEvent":
        return ParsedBody(jobs=[], ignored="s3:TestEvent")
    if data.get("Type") == "Notification" and depth == 0:
        # SNS envelope (raw message delivery off): unwrap once.
        return _parse_data(_sns_message(data), default_bucket, depth=1)
    if "Records" in data:
        records = data["Records"]
        if isinstance(records, list) and records and isinstance(records[0], dict):
            kind = _records_kind(records[0])
            if kind is not None:
                raise InvalidMessageError(f"unrecognised event: looks like {kind}")
        jobs, rejected = _parse_s3_event(records)
        return ParsedBody(jobs=jobs, rejected=rejected)
    if "detail-type" in data and "source" in data:
        return ParsedBody(jobs=[_parse_eventbridge(data)])
    kind = _other_kind(data)
    if kind is not None:
        raise InvalidMessageError(f"unrecognised event: looks like {kind}")
    return ParsedBody(jobs=[_parse_direct(data, default_bucket)])


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
    )


def _parse_direct(data: dict[str, Any], default_bucket: str) -> VideoJob:
    try:
        msg = _DirectJob.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            ctx_error = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_error, InvalidIdentifierError):
                raise ctx_error from exc
        raise InvalidMessageError(f"invalid direct job: {_problems(exc)}") from exc
    key = (
        _validate_explicit_key(msg.key)
        if msg.key is not None
        else f"{msg.platform}/{msg.shortcode}/{CANONICAL_NAME}"
    )
    return VideoJob(
        platform=msg.platform,
        shortcode=msg.shortcode,
        bucket=msg.bucket or default_bucket,
        key=key,
        source="direct",
        options=msg.options,
        stages=tuple(msg.stages) if msg.stages is not None else None,
        upload_id=msg.upload_id,
        run_id=msg.run_id,
    )


class _SnsEnvelope(SnsNotificationModel):
    """Powertools' SNS notification as SNS writes it to SQS, needing only ``Message``."""

    TopicArn: str | None = None  # type: ignore[assignment]
    UnsubscribeUrl: HttpUrl | None = None  # type: ignore[assignment]
    MessageId: str | None = None  # type: ignore[assignment]
    Timestamp: Any = None
    Message: str


def _sns_message(data: dict[str, Any]) -> Any:
    try:
        envelope = _SnsEnvelope.model_validate(data)
    except ValidationError as exc:
        raise InvalidMessageError(f"invalid SNS notification: {_problems(exc)}") from exc
    try:
        return json.loads(envelope.Message)
    except ValueError as exc:
        raise InvalidMessageError(f"SNS notification Message is not JSON: {exc}") from exc


#: ``eventSource`` (``EventSource`` for SNS) of Lambda event records that are not S3's.
_RECORD_SOURCES = {
    "aws:sns": "an SNS-to-Lambda event (Records[].Sns); this pipeline reads SQS: subscribe the "
    "pipeline's entry queue to the topic, or pass Records[0].Sns.Message as the body",
    "aws:sqs": "a whole SQS Lambda event nested in a message body; pass one record's body",
    "aws:dynamodb": "a DynamoDB stream event",
    "aws:kinesis": "a Kinesis stream event",
    "aws:ses": "an SES event",
}


def _records_kind(first: dict[str, Any]) -> str | None:
    source = first.get("eventSource", first.get("EventSource"))
    if source is None or source in ("aws:s3", "minio:s3"):
        return None
    if isinstance(source, str) and source in _RECORD_SOURCES:
        return _RECORD_SOURCES[source]
    return f"a Lambda event from {source!r}, not an S3 notification"


def _other_kind(data: dict[str, Any]) -> str | None:
    """What a body that is neither an S3 notification nor an EventBridge event looks like, when
    it is not a direct job either (``None``: treat it as a direct job)."""
    if "requestContext" in data and ("httpMethod" in data or "routeKey" in data):
        return 'an API Gateway request; send a direct job {"shortcode", "platform"} instead'
    if "requestContext" in data and "rawPath" in data:
        return "a Lambda function URL request; send a direct job instead"
    if data.get("Type") in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        return f"an SNS {data['Type']} message"
    if data.get("Type") == "Notification":
        return "an SNS notification inside an SNS notification"
    if "shortcode" not in data and "platform" not in data:
        keys = ", ".join(sorted(map(str, data))[:8]) or "none"
        return (
            f"an unknown JSON object (keys: {keys}): expected a direct job "
            '{"shortcode", "platform"}, an S3 notification or an S3 EventBridge event'
        )
    return None


def _parse_eventbridge(data: dict[str, Any]) -> VideoJob:
    source, detail_type = data.get("source"), data.get("detail-type")
    if source != "aws.s3" or detail_type != "Object Created":
        raise InvalidMessageError(
            f"unrecognised event: looks like an EventBridge event (source {source!r}, "
            f"detail-type {detail_type!r}); only S3 'Object Created' events start a job"
        )
    try:
        event = S3EventNotificationEventBridgeModel.model_validate(data)
    except ValidationError as exc:
        raise InvalidMessageError(f"invalid S3 EventBridge event: {_problems(exc)}") from exc
    # EventBridge carries the key as stored, not URL-encoded as in S3 notifications.
    key = event.detail.object.key
    platform, shortcode, _ = parse_video_key(key)
    size = event.detail.object.size
    return VideoJob(
        platform=platform,
        shortcode=shortcode,
        bucket=validate_bucket(event.detail.bucket.name),
        key=key,
        source="s3",
        size_bytes=int(size) if size is not None else None,
        upload_id=upload_id_of(
            {"VersionId": event.detail.object.version_id, "ETag": event.detail.object.etag}
        ),
    )


class _S3Bucket(S3Bucket):
    ownerIdentity: S3OwnerIdentify | None = None  # type: ignore[assignment]
    arn: str | None = None  # type: ignore[assignment]


class _S3Message(S3Message):
    s3SchemaVersion: str | None = None  # type: ignore[assignment]
    configurationId: str | None = None  # type: ignore[assignment]
    bucket: _S3Bucket
    object: S3Object


class _S3Record(S3RecordModel):
    """Powertools' S3 record, needing only ``eventName``, ``s3.bucket.name`` and
    ``s3.object.key`` (see the module docstring)."""

    eventVersion: str | None = None  # type: ignore[assignment]
    eventSource: str = "aws:s3"  # type: ignore[assignment]
    awsRegion: str | None = None  # type: ignore[assignment]
    eventTime: Any = None
    userIdentity: S3Identity | None = None  # type: ignore[assignment]
    requestParameters: S3RequestParameters | dict[str, Any] | None = None  # type: ignore[assignment]
    responseElements: S3ResponseElements | dict[str, Any] | None = None  # type: ignore[assignment]
    s3: _S3Message

    @model_validator(mode="before")
    @classmethod
    def validate_s3_object(cls, values: Any) -> Any:
        """Replaces Powertools' check that size and eTag are present (we need neither)."""
        return values


def _parse_s3_event(records: Any) -> tuple[list[VideoJob], list[InvalidMessageError]]:
    """Each record of a notification on its own: the valid ones' jobs and the others' errors.

    Raises:
        InvalidMessageError: no ``Records``, or no record is valid (the first record's error).
    """
    if not isinstance(records, list) or not records:
        raise InvalidMessageError("S3 event notification has no Records")
    jobs: list[VideoJob] = []
    rejected: list[InvalidMessageError] = []
    for i, rec in enumerate(records):
        try:
            jobs.append(_parse_s3_record(i, rec))
        except InvalidMessageError as exc:
            rejected.append(exc)
    if not jobs:
        raise rejected[0]
    return jobs, rejected


def _parse_s3_record(i: int, rec: Any) -> VideoJob:
    if not isinstance(rec, dict):
        raise InvalidMessageError(f"Records[{i}] is not an object")
    event_name = rec.get("eventName", "")
    if not isinstance(event_name, str) or not event_name.startswith("ObjectCreated:"):
        raise InvalidMessageError(
            f"Records[{i}].eventName {event_name!r} is not an ObjectCreated event"
        )
    try:
        record = _S3Record.model_validate(rec)
    except ValidationError as exc:
        if any(e["loc"][:1] == ("s3",) and e["type"] == "missing" for e in exc.errors()):
            raise InvalidMessageError(
                f"Records[{i}] lacks s3.bucket.name or s3.object.key"
            ) from exc
        raise InvalidMessageError(f"Records[{i}] is malformed: {_problems(exc)}") from exc
    key = unquote_plus(record.s3.object.key)
    platform, shortcode, _ = parse_video_key(key)
    size = record.s3.object.size
    return VideoJob(
        platform=platform,
        shortcode=shortcode,
        bucket=validate_bucket(record.s3.bucket.name),
        key=key,
        source="s3",
        size_bytes=int(size) if size is not None else None,
        upload_id=upload_id_of(rec["s3"]["object"]),
    )


def upload_id_of(obj: dict[str, Any]) -> str | None:
    """An upload's id from S3's object description (an event's ``s3.object`` or a
    ``HeadObject`` answer): the version id when versioning is on, else the ETag without quotes.
    """
    for name in ("versionId", "VersionId", "eTag", "ETag"):
        value = obj.get(name)
        if isinstance(value, str) and value.strip('"') and value != "null":
            cleaned = value.strip('"')
            if UPLOAD_ID_RE.fullmatch(cleaned):
                return cleaned
    return None


def run_upload_id(upload_id: str, run_id: str) -> str:
    """The upload id a run's plan is recorded under: ``{upload_id}:run:{run_id}``.

    A run is a new plan on an upload whose plan exists (``POST /videos/{platform}/{shortcode}/
    runs``, docs/api.md); the status store keeps one plan per upload id, so the run needs an
    id of its own. Hand-offs carry it like any upload id.

    Raises:
        InvalidIdentifierError: ``run_id`` does not match :data:`RUN_ID_RE`, or the result is
            not a valid upload id (too long).
    """
    if not RUN_ID_RE.fullmatch(run_id):
        raise InvalidIdentifierError(f"invalid run_id {run_id!r}")
    combined = f"{base_upload_id(upload_id)}{RUN_SEPARATOR}{run_id}"
    if not UPLOAD_ID_RE.fullmatch(combined):
        raise InvalidIdentifierError(f"run upload id {combined!r} is not a valid upload id")
    return combined


def base_upload_id(upload_id: str) -> str:
    """The upload a (run's) upload id belongs to: ``upload_id`` without ``:run:...``."""
    return upload_id.split(RUN_SEPARATOR, 1)[0]
