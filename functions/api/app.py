"""The HTTP API's routes (docs/api.md): Powertools' ``APIGatewayHttpResolver`` with validation on,
so every request and response body is a pydantic model and the OpenAPI document is generated.

Errors all have one shape, ``{"error": {"status", "code", "message", "details"}}``
(:class:`~functions.api.models.ErrorResponse`): a body of the wrong shape is ``422
validation_error``; a bad identifier, file name, content type or cursor ``400``; a platform the
caller may not use ``403 forbidden``; an unknown video ``404 not_found``; an existing shortcode
``409 conflict``; a file over ``MAX_VIDEO_BYTES`` ``413 too_large``; a plan naming unknown stages
``422 invalid_plan``; S3, SQS or the status store unreachable ``503 unavailable``. Nothing a
caller sends is a ``500``.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Query
from botocore.exceptions import BotoCoreError, ClientError

from functions.api import health as health_checks
from functions.api.auth import allowed_platforms, check_platform
from functions.api.errors import ApiError
from functions.api.models import (
    ErrorResponse,
    Frame,
    FrameList,
    Health,
    Options,
    Output,
    PresignedPost,
    ProfileList,
    RunAccepted,
    RunRequest,
    StageOption,
    StageReport,
    UploadRequest,
    UploadTicket,
    VideoPage,
    VideoState,
    VideoStatus,
    VideoSummary,
)
from functions.api.settings import ApiSettings
from shared import aws
from shared.batch import Runtime, get_runtime
from shared.config import load_stage_settings
from shared.errors import (
    ConfigurationError,
    InvalidIdentifierError,
    InvalidMessageError,
    PipelineError,
    StatusStoreUnavailableError,
    StorageUnavailableError,
    VideoMissingError,
)
from shared.layout import FRAME_MANIFEST, REPORT_HTML, VideoLayout
from shared.manifest import FrameManifest
from shared.messages import (
    VIDEO_EXTENSIONS,
    validate_file_name,
    validate_platform,
    validate_shortcode,
)
from shared.observability import logger
from shared.plan import META_OPTIONS, META_STAGES, build_plan, resolve_plan
from shared.previews.images import timecode
from shared.stages import STAGES
from shared.status import PlanPosition, PlanState, VideoPlan

TITLE = "vidpipe API"
DESCRIPTION = (
    "Upload videos straight to S3 with a presigned POST, watch their plans run, and fetch the "
    "results as presigned URLs (docs/api.md)."
)

#: S3's limit on an object's user metadata (keys and values, UTF-8), bytes.
MAX_METADATA_BYTES = 2048

#: The served report runs no script and loads only its pictures.
REPORT_CSP = "default-src 'none'; img-src * data:; style-src 'unsafe-inline'"

#: How API Gateway authenticates callers (the template's ``ApiAuth``; docs/api.md).
SECURITY_SCHEMES: dict[str, Any] = {
    "sigv4": APIKey.model_validate(
        {
            "name": "Authorization",
            "in": APIKeyIn.header,
            "description": "ApiAuth=IAM: an AWS SigV4 signature for execute-api.",
        }
    ),
    "jwt": HTTPBearer(
        bearerFormat="JWT",
        description="ApiAuth=JWT: a token from the configured issuer; its platforms claim "
        "limits the platforms.",
    ),
}
SECURITY: list[dict[str, list[str]]] = [{"sigv4": []}, {"jwt": []}]

app = APIGatewayHttpResolver(enable_validation=True)
app.enable_swagger(
    path="/docs",
    title=TITLE,
    description=DESCRIPTION,
    version="1",
    security_schemes=SECURITY_SCHEMES,
    security=SECURITY,
)

#: The error answers every route may give, for the OpenAPI document.
_ERRORS: dict[int, Any] = {
    code: {
        "description": text,
        "content": {"application/json": {"model": ErrorResponse}},
    }
    for code, text in (
        (400, "Bad identifier, file name, content type or cursor"),
        (403, "The caller may not use this platform"),
        (422, "The body or a parameter has the wrong shape, or the plan names unknown stages"),
        (503, "S3, SQS or the status store is unreachable"),
    )
}


def _errors(*codes: int) -> dict[int, Any]:
    extra = {
        404: "No such video",
        409: "The shortcode exists (send replace: true), or its plan is still running (a run)",
        413: "The file is larger than MAX_VIDEO_BYTES",
    }
    out = dict(_ERRORS)
    for code in codes:
        out[code] = {
            "description": extra[code],
            "content": {"application/json": {"model": ErrorResponse}},
        }
    return out


def _error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> Response[Any]:
    body = {"error": {"status": status, "code": code, "message": message, "details": details or []}}
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, default=str),
    )


@app.exception_handler(ApiError)
def _api_error(exc: ApiError) -> Response[Any]:
    return _error_response(exc.status, exc.code, exc.message, exc.details)


@app.exception_handler(RequestValidationError)
def _validation_error(exc: RequestValidationError) -> Response[Any]:
    details = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"]) or "request"
    return _error_response(422, "validation_error", f"{where}: {first['msg']}", details)


@app.exception_handler(PipelineError)
def _pipeline_error(exc: PipelineError) -> Response[Any]:
    if isinstance(exc, InvalidIdentifierError):
        return _error_response(400, "invalid_identifier", str(exc))
    if isinstance(exc, InvalidMessageError):
        return _error_response(422, "invalid_plan", str(exc))
    if isinstance(exc, VideoMissingError):
        return _error_response(404, "not_found", str(exc))
    if isinstance(exc, StorageUnavailableError | StatusStoreUnavailableError):
        return _error_response(503, "unavailable", str(exc))
    logger.exception("pipeline error in the API")
    return _error_response(500, "internal", f"{exc.error_class}: {exc}")


@app.not_found
def _not_found(exc: NotFoundError) -> Response[Any]:
    return _error_response(404, "not_found", f"no route {app.current_event.path}")


# ---- collaborators ----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def api_settings() -> ApiSettings:
    """The function's settings, read once per process (``api_settings.cache_clear()``)."""
    return load_stage_settings(ApiSettings)


def _runtime() -> Runtime:
    return get_runtime()


_presigners: dict[tuple[str | None, str | None], Any] = {}
_presigner_lock = threading.Lock()


def presigner(rt: Runtime) -> Any:
    """An S3 client that signs URLs with SigV4 (boto3 would sign some with SigV2 by default,
    which S3 refuses for new buckets and KMS-encrypted objects), for the same endpoint as
    ``rt.storage``, cached."""
    import boto3
    from botocore.config import Config

    region = rt.storage.s3.meta.region_name
    key = (rt.settings.s3_endpoint_url, region)
    with _presigner_lock:
        if key not in _presigners:
            _presigners[key] = boto3.session.Session().client(
                "s3",
                region_name=region,
                endpoint_url=rt.settings.s3_endpoint_url,
                config=Config(signature_version="s3v4"),
            )
        return _presigners[key]


def _expiry() -> tuple[int, datetime]:
    seconds = api_settings().api_url_expiry_s
    return seconds, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)


def _s3_call(what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (ClientError, BotoCoreError) as exc:
        raise ApiError(503, "unavailable", f"S3 {what}: {exc}") from exc


def _identifiers(platform: str, shortcode: str) -> VideoLayout:
    validate_platform(platform)
    validate_shortcode(shortcode)
    check_platform(app.current_event, api_settings(), platform)
    return VideoLayout(platform, shortcode)


def _video_keys(rt: Runtime, layout: VideoLayout) -> list[str]:
    """The video objects ``{platform}/{shortcode}/video.*`` in the videos bucket."""
    return [
        k
        for k in rt.storage.list_keys(rt.settings.s3_bucket_videos, layout.base + "video.")
        if "/" not in k[len(layout.base) :]
    ]


def _current_video(rt: Runtime, keys: list[str]) -> str | None:
    """The newest of a video's objects (``replace`` with another extension leaves two)."""
    if len(keys) <= 1:
        return keys[0] if keys else None
    bucket = rt.settings.s3_bucket_videos
    dated = _s3_call(
        "head",
        lambda: [
            (rt.storage.s3.head_object(Bucket=bucket, Key=k)["LastModified"], k) for k in keys
        ],
    )
    return str(max(dated)[1])


def _new_shortcode() -> str:
    """A URL-safe shortcode nobody chose: 11 characters of ``secrets.token_urlsafe``."""
    return secrets.token_urlsafe(8)


# ---- uploads ----------------------------------------------------------------------------------
@app.post(
    "/videos",
    summary="Get a presigned POST to upload a video",
    description="The policy fixes the key `{platform}/{shortcode}/video.<ext>`, the content "
    "type, the plan's metadata and the size. The plan starts when the upload lands.",
    responses={
        201: {
            "description": "Upload with the returned URL and fields",
            "content": {"application/json": {"model": UploadTicket}},
        },
        **_errors(409, 413),
    },
    tags=["videos"],
)
def create_upload(body: UploadRequest) -> Response[UploadTicket]:
    rt = _runtime()
    platform = validate_platform(body.platform)
    check_platform(app.current_event, api_settings(), platform)
    shortcode = validate_shortcode(body.shortcode) if body.shortcode else _new_shortcode()
    name = validate_file_name(body.filename)
    ext = name.rsplit(".", 1)[-1].lower()
    content_type = body.content_type.strip().lower()
    if not content_type.startswith("video/") or not content_type[6:] or ";" in content_type:
        raise ApiError(
            400, "invalid_content_type", f"content_type {body.content_type!r} is not video/*"
        )
    limit = rt.settings.max_video_bytes
    if body.size_bytes > limit:
        raise ApiError(
            413,
            "too_large",
            f"size_bytes {body.size_bytes} is over MAX_VIDEO_BYTES ({limit} bytes)",
        )
    metadata: dict[str, str] = {}
    if body.stages is not None:
        metadata[META_STAGES] = ",".join(body.stages)
    if body.options:
        metadata[META_OPTIONS] = json.dumps(body.options, separators=(",", ":"), sort_keys=True)
    size = sum(len(k) + len(v.encode()) for k, v in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise ApiError(
            422,
            "invalid_plan",
            f"the plan's metadata is {size} bytes, over S3's {MAX_METADATA_BYTES}-byte limit "
            "on user metadata: send fewer options, or start a run with them after the upload",
        )
    # the plan this upload will get, checked now rather than after the upload
    plan = resolve_plan(
        message_stages=None,
        message_options={},
        metadata=metadata,
        platform=platform,
        routes=rt.settings.pipeline_routes,
        default=rt.settings.default_stages,
    )
    layout = VideoLayout(platform, shortcode)
    if not body.replace:
        taken = _video_keys(rt, layout) or rt.status.get_plan(platform, shortcode) is not None
        if taken:
            raise ApiError(
                409,
                "conflict",
                f"{platform}/{shortcode} exists; send replace: true to upload over it",
            )
    key = layout.video(ext)
    seconds, expires = _expiry()
    fields = {"Content-Type": content_type}
    conditions: list[Any] = [
        {"Content-Type": content_type},
        ["content-length-range", 1, limit],
    ]
    for meta, value in metadata.items():
        fields[f"x-amz-meta-{meta}"] = value
        conditions.append({f"x-amz-meta-{meta}": value})
    post = _s3_call(
        "presign",
        lambda: presigner(rt).generate_presigned_post(
            Bucket=rt.settings.s3_bucket_videos,
            Key=key,
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=seconds,
        ),
    )
    logger.info(
        "upload presigned",
        extra={"platform": platform, "shortcode": shortcode, "stages": list(plan.stages)},
    )
    ticket = UploadTicket(
        platform=platform,
        shortcode=shortcode,
        key=key,
        stages=[str(s) for s in plan.stages],
        upload=PresignedPost(url=post["url"], fields=post["fields"]),
        expires_at=expires,
        max_bytes=limit,
        status_url=f"/videos/{platform}/{shortcode}",
    )
    return Response(status_code=201, content_type="application/json", body=ticket)


# ---- status and results -----------------------------------------------------------------------
def _kind(name: str) -> str:
    if name == REPORT_HTML:
        return "report"
    if name.endswith(".json") or name.endswith(".npz"):
        return "document" if name.endswith(".json") else "data"
    if name.endswith(".txt") or name.endswith(".vtt") or name.endswith(".srt"):
        return "text"
    media = mimetypes.guess_type(name)[0] or ""
    if media.startswith("image/"):
        return "image"
    if media.startswith("video/"):
        return "video"
    return "data"


def _presign_get(rt: Runtime, bucket: str, key: str, seconds: int) -> str:
    url: str = _s3_call(
        "presign",
        lambda: presigner(rt).generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
        ),
    )
    return url


def _outputs(rt: Runtime, layout: VideoLayout, seconds: int) -> list[Output]:
    bucket = rt.settings.s3_bucket_frames
    folders = {spec.folder: str(spec.stage) for spec in STAGES.values()}
    found = []
    for key in sorted(rt.storage.list_keys(bucket, layout.base)):
        name = layout.relative(key)
        top = name.split("/", 1)[0] if "/" in name else None
        if top is None and name.startswith("video."):
            continue  # the video itself, when both buckets are one
        found.append(
            Output(
                name=name,
                stage=folders.get(top) if top else None,
                kind=_kind(name),  # type: ignore[arg-type]
                url=_presign_get(rt, bucket, key, seconds),
            )
        )
    return found


def _state(plan: VideoPlan | None) -> VideoState:
    return "queued" if plan is None else plan.state.value


@app.get(
    "/videos/<platform>/<shortcode>",
    summary="A video's plan, stages and results",
    responses=_errors(404),
    tags=["videos"],
)
def get_video(platform: str, shortcode: str) -> VideoStatus:
    rt = _runtime()
    layout = _identifiers(platform, shortcode)
    plan = rt.status.get_plan(platform, shortcode)
    videos = _video_keys(rt, layout)
    if plan is None and not videos:
        raise ApiError(404, "not_found", f"no video {platform}/{shortcode}")
    seconds, expires = _expiry()
    rows = {str(s.stage): s for s in rt.status.stages(platform, shortcode)} if plan else {}
    reports = []
    for name in plan.stages if plan else ():
        row = rows.get(name)
        took = None
        if row and row.started_at and row.finished_at and row.finished_at >= row.started_at:
            took = round((row.finished_at - row.started_at).total_seconds(), 3)
        reports.append(
            StageReport(
                stage=name,
                status=str(row.status) if row else "pending",  # type: ignore[arg-type]
                attempts=row.attempts if row else 0,
                started_at=row.started_at if row else None,
                finished_at=row.finished_at if row else None,
                seconds=took,
                metrics=row.metrics if row else {},
                last_error=row.last_error if row else None,
                output_prefix=row.output_prefix if row else None,
            )
        )
    outputs = _outputs(rt, layout, seconds)
    has_report = any(o.name == REPORT_HTML for o in outputs)
    return VideoStatus(
        platform=platform,
        shortcode=shortcode,
        state=_state(plan),
        upload_id=plan.upload_id if plan else None,
        created_at=plan.created_at if plan else None,
        finished_at=plan.finished_at if plan else None,
        video_key=_current_video(rt, videos),
        stages=list(plan.stages) if plan else [],
        options=plan.options if plan else {},
        stage_status=reports,
        outputs=outputs,
        report_url=f"/videos/{platform}/{shortcode}/report" if has_report else None,
        expires_at=expires,
    )


def _manifest(rt: Runtime, layout: VideoLayout) -> FrameManifest | None:
    bucket = rt.settings.s3_bucket_frames
    try:
        raw = rt.storage.get_bytes(bucket, layout.frame_manifest)
    except VideoMissingError:
        return None
    try:
        return FrameManifest.parse(raw)
    except PipelineError as exc:
        raise ApiError(503, "unavailable", f"{FRAME_MANIFEST}: {exc}") from exc


@app.get(
    "/videos/<platform>/<shortcode>/frames",
    summary="A video's key frames with timecodes",
    responses=_errors(404),
    tags=["videos"],
)
def get_frames(platform: str, shortcode: str) -> FrameList:
    rt = _runtime()
    layout = _identifiers(platform, shortcode)
    manifest = _manifest(rt, layout)
    if manifest is None:
        raise ApiError(404, "not_found", f"{platform}/{shortcode} has no key frames (yet)")
    seconds, expires = _expiry()
    bucket = rt.settings.s3_bucket_frames
    frames = [
        Frame(
            scene=s.index,
            frame=s.keyframe.frame,
            time_s=s.keyframe.time_s,
            timecode=timecode(s.keyframe.time_s),
            start_s=s.start_s,
            end_s=s.end_s,
            url=_presign_get(rt, bucket, layout.key("frame-extract", s.keyframe.file), seconds),
        )
        for s in manifest.scenes
    ]
    return FrameList(
        platform=platform,
        shortcode=shortcode,
        fps=manifest.video.fps,
        duration_s=manifest.video.duration_s,
        fallback=manifest.fallback,
        frames=frames,
        expires_at=expires,
    )


@app.get(
    "/videos/<platform>/<shortcode>/report",
    summary="The video's report.html, its links presigned",
    description="The report as `text/html`, with every picture and output linked by a "
    "presigned URL (the stored report links relatively, for S3 and `aws s3 sync`).",
    responses={
        200: {
            "description": "The report",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        **_errors(404),
    },
    tags=["videos"],
)
def get_report(platform: str, shortcode: str) -> Response[str]:
    from shared.previews.report import collect, render_html

    rt = _runtime()
    layout = _identifiers(platform, shortcode)
    bucket = rt.settings.s3_bucket_frames
    if not rt.storage.exists(bucket, layout.report):
        raise ApiError(404, "not_found", f"{platform}/{shortcode} has no report (yet)")
    seconds, _ = _expiry()
    report = collect(rt.storage, bucket, platform, shortcode, rt.status.stages(platform, shortcode))

    def link(relative: str) -> str:
        return _presign_get(rt, bucket, layout.base + relative, seconds)

    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=render_html(report, link=link),
        headers={"Content-Security-Policy": REPORT_CSP},
    )


# ---- runs -------------------------------------------------------------------------------------
@app.post(
    "/videos/<platform>/<shortcode>/runs",
    summary="Start a new plan on a video already uploaded",
    description="The pipeline's entry replaces the video's plan (and its outputs) with this one, "
    "as a new upload would; the upload itself stays.",
    responses={
        202: {
            "description": "Sent to the pipeline",
            "content": {"application/json": {"model": RunAccepted}},
        },
        **_errors(404, 409),
    },
    tags=["videos"],
)
def start_run(platform: str, shortcode: str, body: RunRequest) -> Response[RunAccepted]:
    rt = _runtime()
    layout = _identifiers(platform, shortcode)
    plan = build_plan(list(body.stages), body.options, source="message")
    videos = _video_keys(rt, layout)
    if not videos:
        raise ApiError(404, "not_found", f"no video uploaded at {layout.base}video.<ext>")
    current = rt.status.get_plan(platform, shortcode)
    if current is not None and current.state == PlanState.RUNNING:
        # a run replaces the plan: not while its stages are still working on it
        raise ApiError(
            409,
            "conflict",
            f"{platform}/{shortcode} is still running its plan ({', '.join(current.stages)}); "
            "start the run when it has finished",
        )
    url = api_settings().pipeline_entry_queue_url
    if not url:
        raise ConfigurationError("PIPELINE_ENTRY_QUEUE_URL is not set: runs cannot start")
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    stages = [str(s) for s in plan.stages]
    message: dict[str, Any] = {
        "platform": platform,
        "shortcode": shortcode,
        "key": _current_video(rt, videos),
        "stages": stages,
        "options": plan.options,
        "run_id": run_id,
    }
    sqs = aws.client("sqs", rt.settings)
    try:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))
    except (ClientError, BotoCoreError) as exc:
        raise ApiError(503, "unavailable", f"SQS: {exc}") from exc
    logger.info("run sent", extra={"platform": platform, "shortcode": shortcode, "run_id": run_id})
    accepted = RunAccepted(
        platform=platform,
        shortcode=shortcode,
        run_id=run_id,
        stages=stages,
        status_url=f"/videos/{platform}/{shortcode}",
    )
    return Response(status_code=202, content_type="application/json", body=accepted)


# ---- listing ----------------------------------------------------------------------------------
def _encode_cursor(plan: VideoPlan) -> str:
    pos = PlanPosition.of(plan)
    raw = json.dumps([pos.created_at.isoformat(), pos.platform, pos.shortcode])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> PlanPosition:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, platform, shortcode = json.loads(raw)
        at = datetime.fromisoformat(created)
        if at.tzinfo is None:
            raise ValueError("no time zone")
        return PlanPosition(at, validate_platform(platform), validate_shortcode(shortcode))
    except (ValueError, TypeError, binascii.Error, PipelineError) as exc:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API returned") from exc


@app.get("/videos", summary="Videos, newest first", tags=["videos"], responses=_errors())
def list_videos(
    platform: Annotated[str | None, Query(description="Only this platform.")] = None,
    state: Annotated[PlanState | None, Query(description="Only plans in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Videos per page.")] = 20,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the last page.")] = None,
) -> VideoPage:
    rt = _runtime()
    settings = api_settings()
    limit = min(limit, settings.api_page_limit)
    if platform is not None:
        validate_platform(platform)
        check_platform(app.current_event, settings, platform)
    allowed = allowed_platforms(app.current_event, settings)
    after = _decode_cursor(cursor) if cursor else None
    found: list[VideoPlan] = []
    more = False
    # a caller limited to some platforms: filter, reading on until the page is full
    for _ in range(20):
        page = rt.status.list_plans(platform=platform, state=state, limit=limit, after=after)
        found += [p for p in page if allowed is None or p.platform in allowed]
        if len(page) < limit:
            more = False
            break
        more = True
        after = PlanPosition.of(page[-1])
        if len(found) >= limit:
            break
    more = more or len(found) > limit
    found = found[:limit]
    return VideoPage(
        videos=[
            VideoSummary(
                platform=p.platform,
                shortcode=p.shortcode,
                state=_state(p),
                stages=list(p.stages),
                created_at=p.created_at,
                finished_at=p.finished_at,
            )
            for p in found
        ],
        next_cursor=_encode_cursor(found[-1]) if more and found else None,
    )


# ---- what may be asked for --------------------------------------------------------------------
def _trailer() -> dict[str, Any]:
    """The trailer stage's choices (its ``options["trailer"]``, docs/stages/trailer.md): the
    built-in profiles, the output formats and transitions, the duration default and cap, the most
    profiles per run and the target languages."""
    from typing import get_args

    from functions.trailer.profiles import builtin_profiles
    from functions.trailer.settings import OutputFormat, TrailerSettings, Transition
    from functions.trailer.translate import SUPPORTED_LANGUAGES

    settings = load_stage_settings(TrailerSettings)
    return {
        "profiles": [p.id for p in builtin_profiles()],
        "default_profiles": [p for p in settings.profiles.split(",") if p],
        "max_duration_s": settings.max_duration_s,
        "max_duration_cap_s": settings.max_duration_cap_s,
        "max_profiles": settings.max_profiles,
        "output_format": settings.output_format,
        "formats": list(get_args(OutputFormat)),
        "transitions": list(get_args(Transition)),
        "languages": sorted(SUPPORTED_LANGUAGES),
    }


@app.get("/profiles", summary="Trailer profiles", tags=["options"])
def list_profiles() -> ProfileList:
    from functions.trailer.profiles import builtin_profiles, describe

    return ProfileList(profiles=[describe(p) for p in builtin_profiles()])


@app.get("/options", summary="Stages, limits and trailer choices", tags=["options"])
def get_options() -> Options:
    rt = _runtime()
    return Options(
        stages=[
            StageOption(
                stage=str(s.stage),
                paid=s.paid,
                depends_on=[str(d) for d in s.depends_on],
                requires=[str(r) for r in s.requires],
                folder=s.folder,
            )
            for s in STAGES.values()
        ],
        default_stages=rt.settings.default_stages,
        video_extensions=sorted(VIDEO_EXTENSIONS),
        max_video_bytes=rt.settings.max_video_bytes,
        url_expiry_s=api_settings().api_url_expiry_s,
        trailer=_trailer(),
    )


# ---- health -----------------------------------------------------------------------------------
_health_lock = threading.Lock()
_health_cache: dict[str, Any] = {}


@app.get(
    "/health",
    summary="The API's dependencies, checked (cached a few seconds)",
    responses={
        503: {
            "description": "Degraded: a service is down",
            "content": {"application/json": {"model": Health}},
        }
    },
    tags=["health"],
)
def get_health() -> Response[Health]:
    settings = api_settings()
    with _health_lock:
        cached = _health_cache.get("value")
        if cached is None or time.monotonic() - _health_cache["at"] > settings.api_health_cache_s:
            cached = health_checks.check(settings)
            _health_cache.update(value=cached, at=time.monotonic())
    return Response(
        status_code=200 if cached.status == "ok" else 503,
        content_type="application/json",
        body=cached,
    )


def clear_health_cache() -> None:
    """Forget the cached checks (tests; the local mode after a restart)."""
    with _health_lock:
        _health_cache.clear()


# ---- the console ------------------------------------------------------------------------------
def console_html() -> str:
    """The web console, one static page (``functions/api/console/index.html``)."""
    return resources.files("functions.api").joinpath("console/index.html").read_text("utf-8")


@app.get("/", include_in_schema=False)
def console() -> Response[str]:
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=console_html(),
        headers={"Cache-Control": "no-cache"},
    )


@app.get("/openapi.json", include_in_schema=False)
def openapi_json() -> Response[str]:
    return Response(status_code=200, content_type="application/json", body=openapi_document())


def openapi_document() -> str:
    """The OpenAPI document (JSON text, 2-space indent, newline-terminated)."""
    doc = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            description=DESCRIPTION,
            version="1",
            security_schemes=SECURITY_SCHEMES,
            security=SECURITY,
        )
    )
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
