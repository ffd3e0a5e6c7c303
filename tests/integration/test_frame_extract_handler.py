"""The frame-extract Lambda handler end to end on moto S3 with the SQLite status store."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse

from functions.frame_extract.handler import lambda_handler
from shared.batch import Runtime
from shared.status import Stage, StageKey, StageStatus
from tests.support.helpers import (
    FRAMES_BUCKET,
    FadingContext,
    count_calls,
    failures,
    load_event,
    put_video,
    s3_body,
    sqs_event,
    sqs_record,
)
from vidpipe.lambda_context import LocalContext


def frame_keys(rt: Runtime, platform: str, shortcode: str) -> list[str]:
    return rt.storage.list_keys(FRAMES_BUCKET, f"{platform}/{shortcode}/frames/")


def manifest(rt: Runtime, platform: str, shortcode: str) -> dict[str, Any]:
    return rt.storage.get_json(FRAMES_BUCKET, f"{platform}/{shortcode}/frames/manifest.json")


def stage_state(rt: Runtime, platform: str, shortcode: str) -> Any:
    states = [s for s in rt.status.stages(platform, shortcode) if s.stage == Stage.FRAME_EXTRACT]
    return states[0] if states else None


def test_s3_event_path_writes_frames_manifest_and_status(runtime, context, synth_clip):
    # given a video uploaded in the layout and its ObjectCreated notification
    clip, cuts = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    # when
    response = lambda_handler(sqs_event(s3_body("instagram/Cx1/video.mp4")), context)
    # then
    assert response == {"batchItemFailures": []}
    m = manifest(runtime, "instagram", "Cx1")
    assert [s["start_frame"] for s in m["scenes"][1:]] == cuts
    assert m["video"] | {} == {
        "platform": "instagram",
        "shortcode": "Cx1",
        "fps": 25.0,
        "frame_count": 300,
        "duration_s": 12.0,
        "width": 640,
        "height": 360,
    }
    assert m["fallback"] is False
    keys = frame_keys(runtime, "instagram", "Cx1")
    assert sorted(keys) == sorted(
        [f"instagram/Cx1/frames/{i}.jpg" for i in range(len(cuts) + 1)]
        + ["instagram/Cx1/frames/manifest.json"]
        + ["instagram/Cx1/frames/preview.gif", "instagram/Cx1/frames/contact_sheet.jpg"]
    )
    jpeg = runtime.storage.get_bytes(FRAMES_BUCKET, "instagram/Cx1/frames/0.jpg")
    assert jpeg[:3] == b"\xff\xd8\xff"
    state = stage_state(runtime, "instagram", "Cx1")
    assert state.status == StageStatus.SUCCEEDED
    assert state.output_prefix == f"s3://{FRAMES_BUCKET}/instagram/Cx1/frames/"
    assert state.metrics["frames"] == len(cuts) + 1
    video = runtime.status.get_video("instagram", "Cx1")
    assert (video.is_downloaded, video.is_extracted, video.frame_count) == (True, True, 5)


def test_direct_message_path(runtime, context, synth_clip):
    clip, cuts = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    response = lambda_handler(sqs_event(load_event("direct_job.json")), context)
    assert response == {"batchItemFailures": []}
    assert len(manifest(runtime, "instagram", "Cx1")["scenes"]) == len(cuts) + 1
    assert stage_state(runtime, "instagram", "Cx1").status == StageStatus.SUCCEEDED


def test_direct_message_options_choose_the_adaptive_detector(runtime, context, synth_clip):
    clip, cuts = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    body = {
        "shortcode": "Cx1",
        "platform": "instagram",
        "options": {"frame-extract": {"detector": "adaptive"}},
    }
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    m = manifest(runtime, "instagram", "Cx1")
    assert m["detector"] == {"name": "adaptive", "threshold": 3.0, "min_scene_len_frames": 15}
    assert [s["start_frame"] for s in m["scenes"][1:]] == cuts


def test_key_with_spaces_and_plus_is_decoded(runtime, context, synth_clip):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/my clip+final.mp4", clip)
    # S3 encodes ' ' as '+' and '+' as '%2B' in notifications
    response = lambda_handler(sqs_event(s3_body("instagram/Cx1/my+clip%2Bfinal.mp4")), context)
    assert response == {"batchItemFailures": []}
    assert stage_state(runtime, "instagram", "Cx1").status == StageStatus.SUCCEEDED


def test_bad_records_are_recorded_and_acknowledged_good_one_succeeds(runtime, context, synth_clip):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    event = {
        "Records": [
            sqs_record({"shortcode": "Cx1", "platform": "instagram"}, "good"),
            sqs_record("{not json", "malformed"),
            sqs_record({"shortcode": "../../etc", "platform": "instagram"}, "traversal"),
        ]
    }
    response = lambda_handler(event, context)
    assert response == {"batchItemFailures": []}
    assert stage_state(runtime, "instagram", "Cx1").status == StageStatus.SUCCEEDED
    errors = runtime.status.errors()
    assert sorted((e.error_class, e.retryable, e.platform) for e in errors) == [
        ("InvalidIdentifierError", False, None),
        ("InvalidMessageError", False, None),
    ]
    assert any("../../etc" in e.message for e in errors)
    # nothing was written outside the validated layout
    assert runtime.storage.list_keys(FRAMES_BUCKET, "") == frame_keys(runtime, "instagram", "Cx1")


def _slow_down(count: list[int], fail_first: int | None):
    def hook(request: Any, **_: Any) -> AWSResponse | None:
        count[0] += 1
        if fail_first is not None and count[0] > fail_first:
            return None
        body = b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
        return AWSResponse(request.url, 503, {}, MockRawResponse(body))

    return hook


def test_s3_throttling_that_persists_makes_the_record_transient(runtime, context, synth_clip):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    calls = [0]
    runtime.storage.s3.meta.events.register_first(
        "before-send.s3.GetObject", _slow_down(calls, None)
    )
    event = sqs_event({"shortcode": "Cx1", "platform": "instagram"})
    response = lambda_handler(event, context)
    assert failures(response) == {event["Records"][0]["messageId"]}
    # botocore made 1 + S3_RETRIES(2) attempts, and the transfer was re-run once
    assert calls[0] == 6
    state = stage_state(runtime, "instagram", "Cx1")
    assert state.status == StageStatus.PENDING
    assert "SlowDown" in state.last_error
    assert runtime.status.get_video("instagram", "Cx1") is None  # nothing marked extracted
    assert frame_keys(runtime, "instagram", "Cx1") == []
    [err] = runtime.status.errors("instagram", "Cx1")
    assert (err.error_class, err.retryable) == ("StorageUnavailableError", True)


def test_s3_throttling_that_passes_is_retried_to_success(runtime, context, synth_clip):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    calls = [0]
    runtime.storage.s3.meta.events.register_first(
        "before-send.s3.GetObject", _slow_down(calls, fail_first=5)
    )
    response = lambda_handler(sqs_event({"shortcode": "Cx1", "platform": "instagram"}), context)
    assert response == {"batchItemFailures": []}
    assert calls[0] == 6
    assert stage_state(runtime, "instagram", "Cx1").status == StageStatus.SUCCEEDED


def test_too_little_time_left_defers_every_record_without_recording(runtime, synth_clip):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    event = sqs_event(
        {"shortcode": "Cx1", "platform": "instagram"},
        {"shortcode": "Cx2", "platform": "instagram"},
        "{malformed",
    )
    short = LocalContext(timeout_s=30)  # MIN_REMAINING_MS is 60 000
    response = lambda_handler(event, short)
    assert failures(response) == {r["messageId"] for r in event["Records"]}
    assert runtime.status.stages("instagram", "Cx1") == []
    assert runtime.status.errors() == []


def test_running_out_of_time_mid_job_releases_the_claim(runtime, synth_clip):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    ctx = FadingContext(timeout_s=900)

    def after_download(**_: Any) -> None:
        ctx.fade = True

    runtime.storage.s3.meta.events.register("after-call.s3.GetObject", after_download)
    event = sqs_event({"shortcode": "Cx1", "platform": "instagram"})
    response = lambda_handler(event, ctx)
    assert failures(response) == {event["Records"][0]["messageId"]}
    state = stage_state(runtime, "instagram", "Cx1")
    assert (state.status, state.worker_id, state.last_error) == (StageStatus.PENDING, None, None)
    assert runtime.status.errors() == []
    # the redelivery, with time, succeeds
    assert lambda_handler(event, LocalContext(timeout_s=900)) == {"batchItemFailures": []}
    assert stage_state(runtime, "instagram", "Cx1").status == StageStatus.SUCCEEDED


def test_the_same_message_twice_writes_frames_once(runtime, context, synth_clip):
    clip, cuts = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    puts = count_calls(runtime, "PutObject")
    body = s3_body("instagram/Cx1/video.mp4")
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    jpegs = [k for k in puts if k.endswith(".jpg")]
    assert sorted(jpegs) == sorted(
        [f"instagram/Cx1/frames/{i}.jpg" for i in range(len(cuts) + 1)]
        + ["instagram/Cx1/frames/contact_sheet.jpg"]
    )
    assert stage_state(runtime, "instagram", "Cx1").attempts == 1


def test_the_same_body_twice_in_one_batch_runs_once(runtime, context, synth_clip):
    # CONCURRENCY_LIMIT=2: the copies would start together; the runner runs the first and
    # acknowledges the repeat (docs/reliability.md#one-execution-per-record)
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    body = {"shortcode": "Cx1", "platform": "instagram"}
    puts = count_calls(runtime, "PutObject")
    response = lambda_handler(sqs_event(body, body), context)
    assert response == {"batchItemFailures": []}
    assert stage_state(runtime, "instagram", "Cx1").attempts == 1
    assert puts.count("instagram/Cx1/frames/manifest.json") == 1
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    assert stage_state(runtime, "instagram", "Cx1").attempts == 1


def test_the_same_message_id_twice_in_one_batch_runs_once(runtime, context, synth_clip):
    # the same SQS message delivered twice in one batch: one worker id, so before fencing the
    # claim let both copies through at once
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    record = sqs_record({"shortcode": "Cx1", "platform": "instagram"})
    other_body = sqs_record({"shortcode": "Cx1", "platform": "instagram", "min_frames": 3})
    other_body["messageId"] = record["messageId"]
    puts = count_calls(runtime, "PutObject")
    response = lambda_handler({"Records": [record, dict(record), other_body]}, context)
    assert response == {"batchItemFailures": []}
    assert stage_state(runtime, "instagram", "Cx1").attempts == 1
    assert puts.count("instagram/Cx1/frames/manifest.json") == 1


def test_a_repeat_of_a_failed_record_leaves_the_message_for_redelivery(
    runtime, context, synth_clip
):
    # the first copy fails transiently (the video is not there... as a 503): the message id is
    # still in batchItemFailures although its repeat was acknowledged
    record = sqs_record({"shortcode": "Cx1", "platform": "instagram"})
    runtime.storage.s3.meta.events.register(
        "before-send.s3.HeadObject",
        lambda **_: AWSResponse("https://s3", 503, {}, MockRawResponse(b"")),
    )
    response = lambda_handler({"Records": [record, dict(record)]}, context)
    assert failures(response) == {record["messageId"]}


def test_video_already_extracted_in_the_seed_columns_is_skipped(runtime, context, synth_clip):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    key = StageKey("instagram", "Cx1", Stage.FRAME_EXTRACT)
    runtime.status.complete(
        key,
        runtime.status.claim(key, "seed", 60).token,
        output_prefix="s3://legacy/",
        metrics={},
        frame_count=7,
    )
    puts = count_calls(runtime, "PutObject")
    assert lambda_handler(sqs_event({"shortcode": "Cx1", "platform": "instagram"}), context) == {
        "batchItemFailures": []
    }
    assert puts == []
    assert runtime.status.get_video("instagram", "Cx1").frame_count == 7


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"this is not a video at all\n" * 100, "not a readable video"),
        (b"", "empty"),
    ],
)
def test_non_video_is_a_permanent_error_and_leaves_no_temp_files(
    runtime, context, env_settings, data, expected
):
    put_video(runtime, "instagram/Bad1/video.mp4", data=data)
    response = lambda_handler(sqs_event({"shortcode": "Bad1", "platform": "instagram"}), context)
    assert response == {"batchItemFailures": []}
    state = stage_state(runtime, "instagram", "Bad1")
    assert state.status == StageStatus.FAILED
    assert "CorruptVideoError" in state.last_error and expected in state.last_error
    assert list(Path(env_settings.tmp_dir).iterdir()) == []


def test_truncated_video_is_a_permanent_error(runtime, context, env_settings, synth_clip):
    clip, _ = synth_clip
    data = clip.read_bytes()
    put_video(runtime, "instagram/Trunc/video.mp4", data=data[: len(data) // 2])
    response = lambda_handler(sqs_event({"shortcode": "Trunc", "platform": "instagram"}), context)
    assert response == {"batchItemFailures": []}
    state = stage_state(runtime, "instagram", "Trunc")
    assert state.status == StageStatus.FAILED
    assert state.last_error.startswith("CorruptVideoError")
    assert frame_keys(runtime, "instagram", "Trunc") == []
    assert list(Path(env_settings.tmp_dir).iterdir()) == []


def test_missing_video_is_permanent(runtime, context):
    response = lambda_handler(sqs_event({"shortcode": "Gone", "platform": "instagram"}), context)
    assert response == {"batchItemFailures": []}
    state = stage_state(runtime, "instagram", "Gone")
    assert state.status == StageStatus.FAILED
    assert state.last_error.startswith("VideoMissingError")


def test_video_over_the_size_limit_is_permanent(runtime, context, monkeypatch, synth_clip):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Big/video.mp4", clip)
    runtime.settings = runtime.settings.model_copy(update={"max_video_bytes": 1000})
    response = lambda_handler(sqs_event({"shortcode": "Big", "platform": "instagram"}), context)
    assert response == {"batchItemFailures": []}
    assert stage_state(runtime, "instagram", "Big").last_error.startswith("VideoTooLargeError")


def test_registered_but_not_downloaded_is_recorded_and_acknowledged(runtime, context):
    import sqlite3

    con = sqlite3.connect(runtime.settings.sqlite_path)
    con.execute(
        "INSERT INTO videos (platform, shortcode, is_downloaded, updated_at)"
        " VALUES ('instagram', 'Later', 0, '2026-01-01T00:00:00+00:00')"
    )
    con.commit()
    con.close()
    response = lambda_handler(sqs_event({"shortcode": "Later", "platform": "instagram"}), context)
    assert response == {"batchItemFailures": []}
    assert "not downloaded" in stage_state(runtime, "instagram", "Later").last_error


def test_s3_test_event_and_sns_envelope(runtime, context, synth_clip):
    clip, _ = synth_clip
    put_video(runtime, "tiktok/abc_123/video.mov", clip)
    event = sqs_event(load_event("s3_test_event.json"), load_event("sns_envelope.json"))
    assert lambda_handler(event, context) == {"batchItemFailures": []}
    assert stage_state(runtime, "tiktok", "abc_123").status == StageStatus.SUCCEEDED
    assert runtime.status.errors() == []


def test_a_rerun_with_fewer_scenes_removes_stale_frames(runtime, context, synth_clip, tmp_path):
    from vidpipe.synth import make_clip

    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    body = {"shortcode": "Cx1", "platform": "instagram"}
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    # the video is replaced by a two-shot clip and the stage reset by an operator
    short = tmp_path / "short.mp4"
    make_clip(short, (40, 40, 40))
    put_video(runtime, "instagram/Cx1/video.mp4", short)
    import sqlite3

    con = sqlite3.connect(runtime.settings.sqlite_path)
    con.execute("DELETE FROM video_stages")
    con.execute("UPDATE videos SET is_extracted = 0")
    con.commit()
    con.close()
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    keys = frame_keys(runtime, "instagram", "Cx1")
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == [
        "0.jpg",
        "1.jpg",
        "2.jpg",
        "contact_sheet.jpg",
        "manifest.json",
        "preview.gif",
    ]
    manifest_key = "instagram/Cx1/frames/manifest.json"
    assert (
        json.loads(runtime.storage.get_bytes(FRAMES_BUCKET, manifest_key))["video"]["frame_count"]
        == 120
    )


def test_emf_metrics_are_emitted(runtime, context, synth_clip, monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    clip, cuts = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    assert lambda_handler(sqs_event({"shortcode": "Cx1", "platform": "instagram"}), context) == {
        "batchItemFailures": []
    }
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [blob] = emf
    names = {m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"FramesExtracted", "SecondsPerVideo", "BytesRead", "RecordsSucceeded"} <= names
    assert blob["FramesExtracted"] == [len(cuts) + 1]  # EMF values are lists
    assert blob["BytesRead"] == [clip.stat().st_size]
    assert blob["stage"] == "frame-extract"


def two_record_body(first_key: str, second_key: str) -> dict[str, Any]:
    body = s3_body(first_key)
    second = json.loads(json.dumps(body["Records"][0]))
    second["s3"]["object"]["key"] = second_key
    body["Records"].append(second)
    return body


def test_a_bad_s3_record_in_a_body_does_not_lose_the_good_one(runtime, context, synth_clip):
    # one record names a key outside the layout; the other is a valid upload
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    body = two_record_body("no-layout.mp4", "instagram/Cx1/video.mp4")
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    assert stage_state(runtime, "instagram", "Cx1").status == StageStatus.SUCCEEDED
    assert manifest(runtime, "instagram", "Cx1")["video"]["shortcode"] == "Cx1"
    [error] = runtime.status.errors()
    assert (error.error_class, error.retryable, error.platform) == (
        "InvalidIdentifierError",
        False,
        None,
    )


def test_a_record_outside_its_bucket_is_refused_and_the_other_runs(runtime, context, synth_clip):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    body = two_record_body("instagram/Cx1/video.mp4", "instagram/Cx2/video.mp4")
    body["Records"][1]["s3"]["bucket"]["name"] = "someone-elses-bucket"
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    assert stage_state(runtime, "instagram", "Cx1").status == StageStatus.SUCCEEDED
    [error] = runtime.status.errors()
    assert (error.error_class, error.shortcode) == ("ConfinementError", "Cx2")
    assert stage_state(runtime, "instagram", "Cx2") is None


def test_a_transient_record_redelivers_the_body_and_the_good_one_runs_once(
    runtime, context, synth_clip
):
    # Cx2's video answers 503; Cx1 succeeds. The message is redelivered; on the redelivery Cx1
    # is acknowledged by its claim as already succeeded and Cx2 runs.
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    put_video(runtime, "instagram/Cx2/video.mp4", clip)
    body = two_record_body("instagram/Cx2/video.mp4", "instagram/Cx1/video.mp4")
    outage = {"on": True}

    def s3_503(request: Any, **_: Any) -> AWSResponse | None:
        if outage["on"] and "/instagram/Cx2/video.mp4" in request.url:
            return AWSResponse(request.url, 503, {}, MockRawResponse(b""))
        return None

    runtime.storage.s3.meta.events.register("before-send.s3", s3_503)
    event = sqs_event(body)
    response = lambda_handler(event, context)
    assert failures(response) == {event["Records"][0]["messageId"]}
    assert stage_state(runtime, "instagram", "Cx1").status == StageStatus.SUCCEEDED
    # the plan could not be started (its HeadObject failed): nothing recorded for Cx2 yet
    assert stage_state(runtime, "instagram", "Cx2") is None
    outage["on"] = False
    assert lambda_handler(event, context) == {"batchItemFailures": []}
    assert stage_state(runtime, "instagram", "Cx1").attempts == 1
    cx2 = stage_state(runtime, "instagram", "Cx2")
    assert (cx2.status, cx2.attempts) == (StageStatus.SUCCEEDED, 1)


@pytest.fixture(scope="module")
def cut_short(synth_clip, tmp_path_factory) -> Path:
    """The synthetic clip remuxed with its index first (``faststart``) and cut at 35 % of its
    bytes: it opens, its first scenes decode and their key frames are written, then it ends
    short of half the declared frames (106 of 300): a CorruptVideoError part-way."""
    import av

    clip, _ = synth_clip
    whole = tmp_path_factory.mktemp("cut") / "faststart.mp4"
    with (
        av.open(str(clip)) as src,
        av.open(str(whole), "w", options={"movflags": "faststart"}) as dst,
    ):
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = whole.read_bytes()
    short = whole.with_name("cut.mp4")
    short.write_bytes(data[: int(len(data) * 0.35)])
    return short


def test_a_video_that_fails_part_way_leaves_no_frames(runtime, context, cut_short):
    put_video(runtime, "instagram/Cut/video.mp4", cut_short)
    response = lambda_handler(sqs_event({"shortcode": "Cut", "platform": "instagram"}), context)
    assert response == {"batchItemFailures": []}
    state = stage_state(runtime, "instagram", "Cut")
    assert state.status == StageStatus.FAILED
    assert state.last_error.startswith("CorruptVideoError")
    assert frame_keys(runtime, "instagram", "Cut") == []


def test_a_write_that_fails_part_way_leaves_no_frames(runtime, context, synth_clip):
    # the first key frame is written, then S3 answers 503 to every write: a retryable failure
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    writes: list[str] = []

    def fail_after_first(request: Any, **_: Any) -> AWSResponse | None:
        if request.method == "PUT" and "/instagram/Cx1/frames/" in request.url:
            writes.append(request.url)
            if len(writes) > 1:
                return AWSResponse(request.url, 503, {}, MockRawResponse(b""))
        return None

    runtime.storage.s3.meta.events.register("before-send.s3", fail_after_first)
    event = sqs_event({"shortcode": "Cx1", "platform": "instagram"})
    assert failures(lambda_handler(event, context)) == {event["Records"][0]["messageId"]}
    assert len(writes) > 1
    assert stage_state(runtime, "instagram", "Cx1").status == StageStatus.PENDING
    assert frame_keys(runtime, "instagram", "Cx1") == []  # the written one was cleared


def test_an_out_of_time_abort_leaves_no_frames(runtime, synth_clip):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    ctx = FadingContext(timeout_s=900)

    def after_first_frame(**_: Any) -> None:
        ctx.fade = True  # the next deadline check (every 64 decoded frames) aborts

    runtime.storage.s3.meta.events.register("after-call.s3.PutObject", after_first_frame)
    event = sqs_event({"shortcode": "Cx1", "platform": "instagram"})
    assert failures(lambda_handler(event, ctx)) == {event["Records"][0]["messageId"]}
    assert stage_state(runtime, "instagram", "Cx1").status == StageStatus.PENDING
    assert frame_keys(runtime, "instagram", "Cx1") == []


def test_the_next_attempt_clears_what_a_crashed_one_left(runtime, context, synth_clip):
    # a crashed attempt: its claim was never released (the lease expires) and it left objects
    # that this attempt would not overwrite
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    key = StageKey("instagram", "Cx1", Stage.FRAME_EXTRACT)
    runtime.status.claim(key, "crashed", 0.01)
    time.sleep(0.05)  # past the lease: without it a fast machine claims while it is still live
    for name in ("99.jpg", "upload.part"):
        runtime.storage.s3.put_object(
            Bucket=FRAMES_BUCKET, Key=f"instagram/Cx1/frames/{name}", Body=b"x"
        )
    body = {"shortcode": "Cx1", "platform": "instagram"}
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    state = stage_state(runtime, "instagram", "Cx1")
    assert (state.status, state.attempts) == (StageStatus.SUCCEEDED, 2)
    keys = frame_keys(runtime, "instagram", "Cx1")
    assert "instagram/Cx1/frames/upload.part" not in keys
    assert "instagram/Cx1/frames/99.jpg" not in keys
    assert "instagram/Cx1/frames/manifest.json" in keys


def test_a_stale_holder_cannot_complete_through_the_runner(runtime, context, synth_clip):
    # while the job decodes, its lease expires and another worker claims the stage: the job's
    # complete is refused, the record acknowledged, and the new holder keeps the stage
    import sqlite3

    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    key = StageKey("instagram", "Cx1", Stage.FRAME_EXTRACT)
    taken: list[str] = []

    def take_over(**_: Any) -> None:
        if taken:
            return
        con = sqlite3.connect(runtime.settings.sqlite_path)
        con.execute("UPDATE video_stages SET lease_expires_at = '2000-01-01T00:00:00+00:00'")
        con.commit()
        con.close()
        taken.append(runtime.status.claim(key, "newer", 600).token or "")

    runtime.storage.s3.meta.events.register("after-call.s3.GetObject", take_over)
    response = lambda_handler(sqs_event({"shortcode": "Cx1", "platform": "instagram"}), context)
    assert response == {"batchItemFailures": []}
    state = stage_state(runtime, "instagram", "Cx1")
    assert (state.status, state.worker_id, state.attempts) == (StageStatus.PROCESSING, "newer", 2)
    assert runtime.status.get_video("instagram", "Cx1").is_extracted is False
    # the current holder still can
    assert runtime.status.complete(key, taken[0], output_prefix="s3://b/p/", metrics={})
