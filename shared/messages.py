"""Parsing of SQS record bodies into validated video jobs (docs/messages.md, a contract).

A body is one of:

1. a **direct job** ``{"shortcode": "Cx1", "platform": "instagram"}``, optionally with ``bucket``,
   ``key`` and per-stage ``options`` (``{"frame-extract": {"detector": "adaptive"}}``);
2. an **S3 event notification** ``{"Records": [{"eventName": "ObjectCreated:Put", "s3": ...}]}``,
   as S3 sends it to SQS, or through SNS with raw message delivery (the same JSON). An SNS
   envelope (``{"Type": "Notification", "Message": "..."}``, raw delivery off) is unwrapped too.
   ``s3:TestEvent`` bodies hold no job and are acknowledged.

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

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

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
    """

    platform: str
    shortcode: str
    bucket: str
    key: str
    source: Literal["direct", "s3"]
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    size_bytes: int | None = None

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
    """The jobs in one SQS body; ``ignored`` says why a body held none (``s3:TestEvent``)."""

    jobs: list[VideoJob]
    ignored: str | None = None


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
            not an object, unknown keys, wrong types, an SNS envelope inside an envelope, or an
            S3 record that is not ``ObjectCreated``.
        InvalidIdentifierError: an identifier, bucket or key fails validation.
    """
    check_body_bounds(body)
    try:
        data = json.loads(body)
    except RecursionError as exc:  # pragma: no cover - check_body_bounds stops it first
        raise InvalidMessageError("message body nests too deeply to parse") from exc
    except (TypeError, ValueError) as exc:
        raise InvalidMessageError(f"message body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidMessageError(f"message body must be a JSON object, got {type(data).__name__}")

    # SNS envelope (raw message delivery off): unwrap once.
    if data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        if _unwrapped:
            raise InvalidMessageError("an SNS envelope inside an SNS envelope is not a job")
        return parse_body(data["Message"], default_bucket=default_bucket, _unwrapped=True)
    if data.get("Event") == "s3:TestEvent":
        return ParsedBody(jobs=[], ignored="s3:TestEvent")
    if "Records" in data:
        return ParsedBody(jobs=_parse_s3_event(data["Records"]))
    return ParsedBody(jobs=[_parse_direct(data, default_bucket)])


def _parse_direct(data: dict[str, Any], default_bucket: str) -> VideoJob:
    try:
        msg = _DirectJob.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            ctx_error = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_error, InvalidIdentifierError):
                raise ctx_error from exc
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidMessageError(f"invalid direct job: {problems}") from exc
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
    )


def _parse_s3_event(records: Any) -> list[VideoJob]:
    if not isinstance(records, list) or not records:
        raise InvalidMessageError("S3 event notification has no Records")
    jobs = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise InvalidMessageError(f"Records[{i}] is not an object")
        event_name = rec.get("eventName", "")
        if not isinstance(event_name, str) or not event_name.startswith("ObjectCreated:"):
            raise InvalidMessageError(
                f"Records[{i}].eventName {event_name!r} is not an ObjectCreated event"
            )
        try:
            bucket = rec["s3"]["bucket"]["name"]
            raw_key = rec["s3"]["object"]["key"]
        except (KeyError, TypeError) as exc:
            raise InvalidMessageError(
                f"Records[{i}] lacks s3.bucket.name or s3.object.key"
            ) from exc
        if not isinstance(raw_key, str) or not isinstance(bucket, str):
            raise InvalidMessageError(f"Records[{i}] has a non-string bucket or key")
        key = unquote_plus(raw_key)
        platform, shortcode, _ = parse_video_key(key)
        size = rec["s3"]["object"].get("size")
        jobs.append(
            VideoJob(
                platform=platform,
                shortcode=shortcode,
                bucket=validate_bucket(bucket),
                key=key,
                source="s3",
                size_bytes=size if isinstance(size, int) else None,
            )
        )
    return jobs
