"""The HTTP API: every route and refusal through the real handler, with API Gateway HTTP API
payload-2.0 events, against moto and SQLite."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from functions.api import app as api_app
from functions.api.handler import lambda_handler as api
from functions.frame_extract.handler import lambda_handler as frame_extract
from functions.pipeline.handler import lambda_handler as entry
from shared import aws
from shared.batch import Runtime, get_runtime
from shared.config import get_settings
from shared.messages import SHORTCODE_RE
from shared.status import PlanState
from tests.support.helpers import ROOT, VIDEOS_BUCKET, put_video, sqs_event
from vidpipe.http_events import http_event, http_response
from vidpipe.lambda_context import LocalContext


def call(
    method: str,
    path: str,
    body: Any = None,
    *,
    query: str = "",
    claims: dict[str, Any] | None = None,
    raw: str | None = None,
) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body))
    event = http_event(
        method,
        path,
        query=query,
        headers=[("content-type", "application/json"), ("host", "api.example")],
        body=data,
        claims=claims,
    )
    status, headers, content = http_response(api(event, LocalContext(function_name="api")))
    kind = dict((k.lower(), v) for k, v in headers).get("content-type", "")
    return status, json.loads(content) if kind.startswith("application/json") else content


def error(answer: tuple[int, Any]) -> tuple[int, str]:
    status, body = answer
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"status", "code", "message", "details"}
    assert body["error"]["status"] == status
    return status, body["error"]["code"]


@pytest.fixture
def entry_queue(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> str:
    sqs = aws.client("sqs", runtime.settings)
    url = sqs.create_queue(QueueName="vidpipe-pipeline")["QueueUrl"]
    monkeypatch.setenv("PIPELINE_ENTRY_QUEUE_URL", url)
    stage_queue = sqs.create_queue(QueueName="vidpipe-frame-extract")["QueueUrl"]
    monkeypatch.setenv("PIPELINE_QUEUE_URLS", json.dumps({"frame-extract": stage_queue}))
    monkeypatch.setenv("API_AUTH", "iam")
    monkeypatch.setenv("MAX_VIDEO_BYTES", str(50 * 1024 * 1024))
    get_settings.cache_clear()
    get_runtime.cache_clear()
    api_app.api_settings.cache_clear()
    api_app.clear_health_cache()
    yield url
    api_app.api_settings.cache_clear()
    api_app.clear_health_cache()


@pytest.fixture
def jwt(entry_queue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_AUTH", "jwt")
    monkeypatch.setenv("API_PLATFORMS_CLAIM", "custom:platforms")
    api_app.api_settings.cache_clear()


def upload_body(**over: Any) -> dict[str, Any]:
    body = {
        "platform": "demo",
        "shortcode": "cuts1",
        "filename": "clip.mp4",
        "content_type": "video/mp4",
        "size_bytes": 1000,
        "stages": ["frame-extract"],
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def policy_of(fields: dict[str, str]) -> dict[str, Any]:
    return json.loads(base64.b64decode(fields["policy"]))


def processed(clip: Path, shortcode: str = "cuts1") -> None:
    """The video at demo/{shortcode}/video.mp4, planned and extracted by the real handlers."""
    rt = get_runtime()
    put_video(rt, f"demo/{shortcode}/video.mp4", clip)
    body = {"platform": "demo", "shortcode": shortcode, "stages": ["frame-extract"]}
    result = frame_extract(sqs_event(body), LocalContext())
    assert result == {"batchItemFailures": []}


# ---------------------------------------------------------------------------- POST /videos
def test_an_upload_gets_a_presigned_post_fixing_key_type_plan_and_size(entry_queue):
    status, body = call(
        "POST",
        "/videos",
        upload_body(options={"frame-extract": {"min_frames": 4}}, filename="My Clip.MOV"),
    )
    assert status == 201, body
    assert body["key"] == "demo/cuts1/video.mov"
    assert body["stages"] == ["frame-extract"]
    assert body["status_url"] == "/videos/demo/cuts1"
    fields = body["upload"]["fields"]
    assert fields["key"] == "demo/cuts1/video.mov"
    assert fields["Content-Type"] == "video/mp4"
    assert fields["x-amz-meta-vidpipe-stages"] == "frame-extract"
    assert json.loads(fields["x-amz-meta-vidpipe-options"]) == {"frame-extract": {"min_frames": 4}}
    conditions = policy_of(fields)["conditions"]
    assert {"key": "demo/cuts1/video.mov"} in conditions
    assert {"Content-Type": "video/mp4"} in conditions
    assert {"x-amz-meta-vidpipe-stages": "frame-extract"} in conditions
    assert ["content-length-range", 1, 50 * 1024 * 1024] in conditions
    assert body["upload"]["url"].endswith(VIDEOS_BUCKET) or VIDEOS_BUCKET in body["upload"]["url"]


def test_a_missing_shortcode_is_generated_url_safe_and_the_default_plan_applies(entry_queue):
    status, body = call("POST", "/videos", upload_body(shortcode=None, stages=None))
    assert status == 201, body
    assert SHORTCODE_RE.fullmatch(body["shortcode"]) and len(body["shortcode"]) >= 8
    assert body["stages"] == ["frame-extract"]
    assert "x-amz-meta-vidpipe-stages" not in body["upload"]["fields"]
    again = call("POST", "/videos", upload_body(shortcode=None, stages=None))[1]
    assert again["shortcode"] != body["shortcode"]


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"platform": "Bad Platform"}, (400, "invalid_identifier")),
        ({"shortcode": "../etc"}, (400, "invalid_identifier")),
        ({"filename": "notes.txt"}, (400, "invalid_identifier")),
        ({"filename": "../video.mp4"}, (400, "invalid_identifier")),
        ({"content_type": "text/html"}, (400, "invalid_content_type")),
        ({"content_type": "video/mp4; x=1"}, (400, "invalid_content_type")),
        ({"size_bytes": 50 * 1024 * 1024 + 1}, (413, "too_large")),
        ({"size_bytes": 0}, (422, "validation_error")),
        ({"size_bytes": "big"}, (422, "validation_error")),
        ({"stages": ["frame-extract", "dance"]}, (422, "invalid_plan")),
        ({"options": {"rekognition": {}}}, (422, "invalid_plan")),
        ({"filename": None}, (422, "validation_error")),
        ({"options": {"frame-extract": {"x": "y" * 3000}}}, (422, "invalid_plan")),
        ({"surprise": 1}, (422, "validation_error")),
    ],
)
def test_bad_uploads_are_refused_with_one_clear_error(entry_queue, over, expected):
    answer = call("POST", "/videos", upload_body(**over))
    assert error(answer) == expected
    assert answer[1]["error"]["message"]


def test_a_body_that_is_not_json_is_a_422(entry_queue):
    assert error(call("POST", "/videos", raw="{not json")) == (422, "validation_error")
    assert error(call("POST", "/videos", raw="[]")) == (422, "validation_error")


def test_an_existing_shortcode_is_a_conflict_unless_replaced(entry_queue, runtime):
    put_video(runtime, "demo/cuts1/video.mp4", data=b"old")
    assert error(call("POST", "/videos", upload_body())) == (409, "conflict")
    status, body = call("POST", "/videos", upload_body(replace=True, filename="new.mov"))
    assert status == 201 and body["key"] == "demo/cuts1/video.mov"
    # after the replacing upload, status and runs use the newest object
    import time

    time.sleep(1.1)  # S3's LastModified has one-second resolution
    put_video(runtime, "demo/cuts1/video.mov", data=b"new")
    assert call("GET", "/videos/demo/cuts1")[1]["video_key"] == "demo/cuts1/video.mov"
    assert call("POST", "/videos/demo/cuts1/runs", {"stages": ["frame-extract"]})[0] == 202
    sqs = aws.client("sqs", runtime.settings)
    [msg] = sqs.receive_message(QueueUrl=entry_queue)["Messages"]
    assert json.loads(msg["Body"])["key"] == "demo/cuts1/video.mov"


# ---------------------------------------------------------------------------- status
def test_status_frames_and_report_of_a_processed_video(entry_queue, runtime, synth_clip):
    assert error(call("GET", "/videos/demo/cuts1")) == (404, "not_found")
    assert error(call("GET", "/videos/demo/cuts1/frames")) == (404, "not_found")
    processed(synth_clip[0])
    status, body = call("GET", "/videos/demo/cuts1")
    assert status == 200, body
    assert body["state"] == "succeeded"
    assert body["stages"] == ["frame-extract"]
    assert body["video_key"] == "demo/cuts1/video.mp4"
    [stage] = body["stage_status"]
    assert stage["stage"] == "frame-extract" and stage["status"] == "succeeded"
    assert stage["attempts"] == 1 and stage["seconds"] >= 0 and stage["last_error"] is None
    assert stage["metrics"]["frames"] == 5
    names = {o["name"]: o for o in body["outputs"]}
    assert {"frames/manifest.json", "frames/0.jpg", "frames/preview.gif"} <= set(names)
    assert names["frames/0.jpg"]["kind"] == "image"
    assert names["frames/0.jpg"]["stage"] == "frame-extract"
    # the URLs are presigned GETs that work
    got = requests.get(names["frames/manifest.json"]["url"], timeout=10)
    assert got.status_code == 200 and len(got.json()["scenes"]) == 5
    assert "X-Amz-Signature" in names["frames/0.jpg"]["url"]

    status, frames = call("GET", "/videos/demo/cuts1/frames")
    assert status == 200
    assert [f["scene"] for f in frames["frames"]] == [0, 1, 2, 3, 4]
    assert frames["frames"][1]["timecode"].startswith("00:00:")
    assert requests.get(frames["frames"][2]["url"], timeout=10).content[:2] == b"\xff\xd8"


def test_the_report_is_served_with_presigned_links(entry_queue, runtime, synth_clip):
    assert error(call("GET", "/videos/demo/nobody1/report")) == (404, "not_found")
    processed(synth_clip[0])  # the plan's end writes the report
    status, body = call("GET", "/videos/demo/cuts1")
    assert body["report_url"] == "/videos/demo/cuts1/report"
    assert "report.html" in {o["name"] for o in body["outputs"]}
    status, html = call("GET", "/videos/demo/cuts1/report")
    assert status == 200
    text = html.decode()
    assert "<script" not in text
    assert 'src="frames/0.jpg"' not in text and "X-Amz-Signature" in text


@pytest.mark.parametrize(
    "path",
    ["/videos/Bad/cuts1", "/videos/demo/a.b", "/videos/demo/x/frames", "/videos/demo/%2e%2e"],
)
def test_bad_identifiers_in_paths_are_400_or_404_never_500(entry_queue, path):
    status, code = error(call("GET", path))
    assert (status, code) in {(400, "invalid_identifier"), (404, "not_found")}


def test_a_cors_preflight_is_a_204_for_api_gateway_to_decorate(entry_queue):
    assert call("OPTIONS", "/videos") == (204, b"")
    assert call("OPTIONS", "/videos/demo/cuts1/runs") == (204, b"")


def test_an_unknown_route_is_a_404_in_the_error_shape(entry_queue):
    assert error(call("GET", "/nowhere")) == (404, "not_found")
    assert error(call("DELETE", "/videos")) == (404, "not_found")


# ---------------------------------------------------------------------------- runs
def test_a_run_is_sent_to_the_entry_queue_and_re_plans(entry_queue, runtime, synth_clip):
    assert error(call("POST", "/videos/demo/cuts1/runs", {"stages": ["frame-extract"]})) == (
        404,
        "not_found",
    )
    processed(synth_clip[0])
    first = runtime.status.get_plan("demo", "cuts1")
    assert error(call("POST", "/videos/demo/cuts1/runs", {"stages": ["dance"]})) == (
        422,
        "invalid_plan",
    )
    assert error(call("POST", "/videos/demo/cuts1/runs", {"stages": []})) == (
        422,
        "validation_error",
    )
    run = {"stages": ["frame-extract"], "options": {"frame-extract": {"min_frames": 7}}}
    status, body = call("POST", "/videos/demo/cuts1/runs", run)
    assert status == 202, body
    assert body["stages"] == ["frame-extract"] and body["status_url"] == "/videos/demo/cuts1"
    sqs = aws.client("sqs", runtime.settings)
    [msg] = sqs.receive_message(QueueUrl=entry_queue, MaxNumberOfMessages=10)["Messages"]
    sent = json.loads(msg["Body"])
    assert sent == {
        "platform": "demo",
        "shortcode": "cuts1",
        "key": "demo/cuts1/video.mp4",
        "stages": ["frame-extract"],
        "options": {"frame-extract": {"min_frames": 7}},
        "run_id": body["run_id"],
    }
    # the pipeline's entry records the run's plan: a new upload id, the stages to run again
    assert entry(sqs_event(sent), LocalContext()) == {"batchItemFailures": []}
    plan = runtime.status.get_plan("demo", "cuts1")
    assert plan.upload_id == f"{first.upload_id}:run:{body['run_id']}"
    assert plan.options == {"frame-extract": {"min_frames": 7}}
    assert plan.state == PlanState.RUNNING
    assert runtime.status.stages("demo", "cuts1") == []
    # not another run while this one's plan is running
    assert error(call("POST", "/videos/demo/cuts1/runs", {"stages": ["frame-extract"]})) == (
        409,
        "conflict",
    )


# ---------------------------------------------------------------------------- listing
def test_videos_are_listed_newest_first_in_pages(entry_queue, runtime):
    for i in range(5):
        runtime.status.start_plan("demo" if i % 2 else "other", f"v{i}", "e", ["frame-extract"], {})
    runtime.status.finish_plan("other", "v4", "e", PlanState.SUCCEEDED)
    status, page = call("GET", "/videos", query="limit=2")
    assert status == 200
    assert [v["shortcode"] for v in page["videos"]] == ["v4", "v3"]
    assert page["videos"][0]["state"] == "succeeded"
    seen = [v["shortcode"] for v in page["videos"]]
    while page["next_cursor"]:
        page = call("GET", "/videos", query=f"limit=2&cursor={page['next_cursor']}")[1]
        seen += [v["shortcode"] for v in page["videos"]]
    assert seen == ["v4", "v3", "v2", "v1", "v0"]
    demo = call("GET", "/videos", query="platform=demo")[1]["videos"]
    assert [v["shortcode"] for v in demo] == ["v3", "v1"]
    done = call("GET", "/videos", query="state=succeeded")[1]["videos"]
    assert [v["shortcode"] for v in done] == ["v4"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cursor=notacursor", (400, "invalid_cursor")),
        ("state=sleeping", (422, "validation_error")),
        ("limit=0", (422, "validation_error")),
        ("limit=many", (422, "validation_error")),
        ("platform=Not%20One", (400, "invalid_identifier")),
    ],
)
def test_bad_listing_parameters_are_refused(entry_queue, query, expected):
    assert error(call("GET", "/videos", query=query)) == expected


# ---------------------------------------------------------------------------- JWT scoping
def test_a_jwt_caller_may_use_only_the_platforms_of_its_claim(jwt, runtime, synth_clip):
    processed(synth_clip[0])
    runtime.status.start_plan("other", "x1", "e", ["frame-extract"], {})
    claims = {"sub": "u1", "custom:platforms": "[demo tiktok]"}
    assert call("POST", "/videos", upload_body(shortcode="new1"), claims=claims)[0] == 201
    assert call("GET", "/videos/demo/cuts1", claims=claims)[0] == 200
    forbidden = [
        call("POST", "/videos", upload_body(platform="other"), claims=claims),
        call("GET", "/videos/other/x1", claims=claims),
        call("GET", "/videos/other/x1/frames", claims=claims),
        call("POST", "/videos/other/x1/runs", {"stages": ["frame-extract"]}, claims=claims),
        call("GET", "/videos", query="platform=other", claims=claims),
        # no claim at all: no platform
        call("GET", "/videos/demo/cuts1", claims={"sub": "u2"}),
    ]
    assert [error(a) for a in forbidden] == [(403, "forbidden")] * len(forbidden)
    # a listing shows only the caller's platforms
    listed = call("GET", "/videos", claims=claims)[1]["videos"]
    assert [(v["platform"], v["shortcode"]) for v in listed] == [("demo", "cuts1")]
    # a JSON array claim and the wildcard
    assert call("GET", "/videos/other/x1", claims={"custom:platforms": '["other"]'})[0] == 200
    assert call("GET", "/videos/other/x1", claims={"custom:platforms": "*"})[0] == 200


# ---------------------------------------------------------------------------- options, health
def test_profiles_and_options(entry_queue):
    status, options = call("GET", "/options")
    assert status == 200
    stages = {s["stage"]: s for s in options["stages"]}
    assert stages["rekognition"]["paid"] and stages["rekognition"]["depends_on"] == [
        "frame-extract"
    ]
    assert options["max_video_bytes"] == 50 * 1024 * 1024
    assert "mp4" in options["video_extensions"]
    status, profiles = call("GET", "/profiles")
    assert status == 200 and isinstance(profiles["profiles"], list)


def test_the_trailer_stage_s_profiles_and_choices_are_served(entry_queue, monkeypatch):
    monkeypatch.setenv("TRAILER_MAX_DURATION_S", "20")
    status, profiles = call("GET", "/profiles")
    assert status == 200
    assert [p["id"] for p in profiles["profiles"]] == [
        "action_enthusiast",
        "family_viewer",
        "thriller_buff",
        "romance_devotee",
    ]
    trailer = call("GET", "/options")[1]["trailer"]
    assert trailer["profiles"] == [p["id"] for p in profiles["profiles"]]
    assert trailer["default_profiles"] == ["action_enthusiast"]
    assert trailer["max_duration_s"] == 20.0
    assert trailer["formats"] == ["mp4", "mov", "webm"]
    assert trailer["transitions"] == ["cut", "crossfade"]
    assert "en" in trailer["languages"] and "de" in trailer["languages"]


def test_health_is_ok_when_every_service_answers(entry_queue, runtime):
    from botocore.stub import Stubber

    # moto has no ListCollections: answer it at the botocore level, as AWS would
    rekognition = aws.client("rekognition", get_settings(), retries=1)
    stub = Stubber(rekognition)
    stub.add_response("list_collections", {"CollectionIds": []}, {"MaxResults": 1})
    with stub:
        status, body = call("GET", "/health")
    stub.assert_no_pending_responses()
    assert status == 200, body
    assert body["status"] == "ok" and body["mode"] == "aws"
    assert body["services"]["s3"] == body["services"]["sqs"] == "ok"
    assert body["services"]["status_store"] == body["services"]["rekognition"] == "ok"
    assert body["services"]["gemini"] == "unconfigured"
    assert set(body["services"]) == {"s3", "sqs", "status_store", "rekognition", "gemini"}
    assert body["version"]


def test_health_is_degraded_when_the_status_store_is_down(
    entry_queue, runtime, tmp_path, monkeypatch
):
    monkeypatch.setenv("REKOGNITION_EMULATED", "true")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("SQLITE_PATH", str(blocker / "status.sqlite3"))
    get_settings.cache_clear()
    get_runtime.cache_clear()
    status, body = call("GET", "/health")
    assert status == 503, body
    assert body["status"] == "degraded"
    assert body["services"]["status_store"].startswith("down: StatusStoreUnavailableError")
    assert body["services"]["s3"] == "ok"
    # the other routes say so too, as a 503 rather than a 500
    assert error(call("GET", "/videos")) == (503, "unavailable")


def test_health_is_cached_for_a_few_seconds(entry_queue, runtime, monkeypatch):
    monkeypatch.setenv("REKOGNITION_EMULATED", "true")
    first = call("GET", "/health")[1]
    runtime.storage.s3.delete_bucket(Bucket=runtime.settings.s3_bucket_frames)
    assert call("GET", "/health")[1] == first
    api_app.clear_health_cache()
    status, body = call("GET", "/health")
    assert status == 503 and body["services"]["s3"].startswith("down")


# ---------------------------------------------------------------------------- the document
def test_the_openapi_document_validates_and_equals_docs_openapi_json(entry_queue):
    from openapi_spec_validator import validate

    status, served = call("GET", "/openapi.json")
    assert status == 200
    validate(served)
    assert set(served["paths"]) >= {
        "/videos",
        "/videos/{platform}/{shortcode}",
        "/videos/{platform}/{shortcode}/frames",
        "/videos/{platform}/{shortcode}/runs",
        "/profiles",
        "/options",
        "/health",
    }
    stored = ROOT / "docs" / "openapi.json"
    assert stored.read_text() == api_app.openapi_document(), (
        "docs/openapi.json is out of date: regenerate it with "
        "`.venv/bin/python -m functions.api > docs/openapi.json`"
    )
    assert json.loads(stored.read_text()) == served


def test_swagger_ui_and_the_console_are_served(entry_queue):
    status, html = call("GET", "/docs")
    assert status == 200 and b"swagger" in html.lower()
    status, page = call("GET", "/")
    assert status == 200 and b"<!doctype html>" in page.lower()


def test_the_recorded_http_api_event_shape_is_answered(entry_queue):
    from tests.support.helpers import load_event

    event = load_event("apigw_http_request.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/videos"
    event["requestContext"]["http"]["method"] = "GET"
    event["body"] = None
    status, _, body = http_response(api(event, LocalContext()))
    assert status == 200 and "videos" in json.loads(body)


# ---------------------------------------------------------------------------- no 500s
def test_no_request_is_answered_with_a_500(entry_queue, monkeypatch):
    monkeypatch.setenv("REKOGNITION_EMULATED", "true")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    segment = st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12
    ).map(lambda t: requests.utils.quote(t, safe=""))
    json_value = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )
    upload_keys = st.sampled_from(
        [
            "platform",
            "shortcode",
            "filename",
            "content_type",
            "size_bytes",
            "stages",
            "options",
            "replace",
        ]
    )
    bodies = (
        st.dictionaries(upload_keys, json_value, max_size=8)
        | json_value
        | st.fixed_dictionaries({}, optional={"stages": json_value, "options": json_value})
    )
    paths = (
        st.sampled_from(["videos", "videos/demo", "profiles", "options", "health", "openapi.json"])
        | st.lists(segment, min_size=1, max_size=5).map("/".join)
        | st.tuples(segment, segment, st.sampled_from(["", "/frames", "/runs", "/report"])).map(
            lambda t: f"videos/{t[0]}/{t[1]}{t[2]}"
        )
    )
    queries = st.sampled_from(
        ["", "limit=0", "limit=-1", "limit=99999999999", "state=", "cursor=%00", "platform="]
    )

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]), paths, queries, bodies)
    def check(method, path, query, body):
        status, answer = call(method, "/" + path, body, query=query)
        assert status < 500 or status == 503, (method, path, query, body, answer)
        if status >= 400 and path != "health":  # /health's 503 is its own document
            error((status, answer))

    check()
