"""The pipeline end to end on moto: plans, hand-offs through real SQS queues, skipped
dependents, crash recovery, re-uploads and the completion event read from a subscribed queue."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.frame_extract.handler import lambda_handler as frame_extract
from functions.pipeline.handler import lambda_handler as entry
from functions.rekognition.handler import lambda_handler as rekognition
from functions.rekognition.settings import RekognitionSettings
from shared import aws
from shared.batch import Runtime
from shared.stages import Stage
from shared.status import PlanState, StageStatus
from tests.support.helpers import (
    FRAMES_BUCKET,
    VIDEOS_BUCKET,
    put_video,
    s3_body,
    sample,
    sqs_event,
)
from vidpipe.poller import SqsPoller
from vidpipe.synth import make_clip

HANDLERS = {
    "pipeline": entry,
    str(Stage.FRAME_EXTRACT): frame_extract,
    str(Stage.REKOGNITION): rekognition,
}
ALL_QUEUES = ("pipeline", "frame-extract", "landmarks", "rekognition", "physics")


class Pipe:
    """Queues for the entry and every stage, the completion topic with a queue on it, and
    pollers that run the real handlers (as Lambda's event sources would)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.sqs = aws.client("sqs", rt.settings)
        sns = aws.client("sns", rt.settings)
        # visibility timeout 0: a failed record is back at once (SQS would wait 6 x the timeout)
        self.urls = {
            n: self.sqs.create_queue(QueueName=f"q-{n}", Attributes={"VisibilityTimeout": "0"})[
                "QueueUrl"
            ]
            for n in ALL_QUEUES
        }
        topic = sns.create_topic(Name="plan-finished")["TopicArn"]
        self.events_url = self.sqs.create_queue(QueueName="finished-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.events_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        rt.settings = rt.settings.model_copy(
            update={
                "pipeline_queue_urls": {n: u for n, u in self.urls.items() if n != "pipeline"},
                "pipeline_completion_topic_arn": topic,
            }
        )
        rt.stage_settings.override(RekognitionSettings, emulated=True)
        self.pollers = {
            n: SqsPoller(self.sqs, self.urls[n], h, batch_size=2, wait_s=0)
            for n, h in HANDLERS.items()
        }

    def send(self, queue: str, body: Any) -> None:
        self.sqs.send_message(QueueUrl=self.urls[queue], MessageBody=json.dumps(body))

    def depth(self, queue: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.urls[queue], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])

    def drain(self, rounds: int = 20, order: tuple[str, ...] = tuple(HANDLERS)) -> None:
        """Poll the queues in ``order`` until a whole round receives nothing."""
        for _ in range(rounds):
            if not sum(self.pollers[n].poll_once() for n in order):
                return
        raise AssertionError("the queues did not drain")

    def events(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(
            QueueUrl=self.events_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        return [json.loads(m["Body"]) for m in got]

    def states(self, shortcode: str, platform: str = "instagram") -> dict[str, Any]:
        return {str(s.stage): s for s in self.rt.status.stages(platform, shortcode)}


@pytest.fixture
def pipe(runtime: Runtime) -> Pipe:
    return Pipe(runtime)


def real_etag_event(rt: Runtime, key: str) -> dict[str, Any]:
    body = s3_body(key)
    head = rt.storage.s3.head_object(Bucket=VIDEOS_BUCKET, Key=key)
    body["Records"][0]["s3"]["object"]["eTag"] = head["ETag"].strip('"')
    return body


@pytest.mark.samples
def test_rekognition_follows_frame_extract_even_when_its_message_comes_first(pipe, runtime):
    # given a plan naming rekognition before frame-extract, and a stray rekognition hand-off
    # queued before anything ran
    put_video(runtime, "instagram/Doc/video.mp4", sample("documentary_cuts.mp4"))
    etag = runtime.storage.head(VIDEOS_BUCKET, "instagram/Doc/video.mp4").etag.strip('"')
    pipe.send(
        "pipeline",
        {"shortcode": "Doc", "platform": "instagram", "stages": ["rekognition", "frame-extract"]},
    )
    pipe.drain(order=("pipeline",))
    pipe.send(
        "rekognition",
        {
            "shortcode": "Doc",
            "platform": "instagram",
            "bucket": VIDEOS_BUCKET,
            "key": "instagram/Doc/video.mp4",
            "upload_id": etag,
        },
    )
    # when the queues are worked, rekognition's queue first
    pipe.drain(order=("rekognition", "frame-extract", "rekognition"))
    # then rekognition ran once, after frame-extract, on its six scenes
    states = pipe.states("Doc")
    assert {n: (s.status, s.attempts) for n, s in states.items()} == {
        "frame-extract": (StageStatus.SUCCEEDED, 1),
        "rekognition": (StageStatus.SUCCEEDED, 1),
    }
    analysis = runtime.storage.get_json(FRAMES_BUCKET, "instagram/Doc/rekognition/analysis.json")
    assert analysis["frame_source"] == "manifest"
    assert len(analysis["scenes"]) == 6
    assert runtime.status.get_plan("instagram", "Doc").state == PlanState.SUCCEEDED
    [event] = pipe.events()
    assert event["state"] == "succeeded"
    assert event["estimated_cost_usd"] == pytest.approx(0.006)


def test_a_default_upload_runs_frame_extract_only(pipe, runtime, synth_clip):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    pipe.send("pipeline", real_etag_event(runtime, "instagram/Cx1/video.mp4"))
    pipe.drain(order=("pipeline",))
    assert [pipe.depth(q) for q in ("frame-extract", "rekognition", "physics", "landmarks")] == [
        1,
        0,
        0,
        0,
    ]
    pipe.drain()
    assert list(pipe.states("Cx1")) == ["frame-extract"]
    assert pipe.states("Cx1")["frame-extract"].status == StageStatus.SUCCEEDED
    [event] = pipe.events()
    assert (event["platform"], event["shortcode"], event["state"]) == (
        "instagram",
        "Cx1",
        "succeeded",
    )
    assert set(event["stages"]) == {"frame-extract"}
    assert event["stages"]["frame-extract"]["output_prefix"] == (
        f"s3://{FRAMES_BUCKET}/instagram/Cx1/frames/"
    )
    assert event["upload_id"] == runtime.status.get_plan("instagram", "Cx1").upload_id
    assert event["schema_version"] == 1 and event["event"] == "vidpipe.plan.finished"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"stages": ["frame-extract", "telepathy"]}, "unknown stage 'telepathy'"),
        (
            {"stages": ["frame-extract"], "options": {"physics": {}}},
            "options for 'physics', which is not in the plan",
        ),
        ({"options": {"frmae-extract": {}}}, "options: unknown stage 'frmae-extract'"),
    ],
)
def test_a_bad_plan_is_a_permanent_error_naming_it(pipe, runtime, context, synth_clip, body, match):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    event = sqs_event({"shortcode": "Cx1", "platform": "instagram", **body})
    assert entry(event, context) == {"batchItemFailures": []}
    [err] = runtime.status.errors("instagram", "Cx1")
    assert err.error_class == "InvalidMessageError" and match in err.message
    assert not err.retryable and err.stage == "pipeline"
    assert runtime.status.get_plan("instagram", "Cx1") is None
    assert all(pipe.depth(q) == 0 for q in ALL_QUEUES)


def test_a_failed_dependency_skips_its_dependents_and_the_plan_ends(pipe, runtime):
    # a corrupt video: frame-extract fails permanently
    put_video(runtime, "instagram/Bad/video.mp4", data=b"\x00not a video" * 100)
    pipe.send(
        "pipeline",
        {"shortcode": "Bad", "platform": "instagram", "stages": ["frame-extract", "rekognition"]},
    )
    pipe.drain()
    states = pipe.states("Bad")
    assert states["frame-extract"].status == StageStatus.FAILED
    assert states["rekognition"].status == StageStatus.SKIPPED
    assert states["rekognition"].last_error.startswith("skipped: frame-extract failed")
    assert "CorruptVideoError" in states["rekognition"].last_error
    assert runtime.status.get_plan("instagram", "Bad").state == PlanState.FAILED
    assert pipe.depth("rekognition") == 0
    # one completion event, even when the failure's message comes again
    pipe.send(
        "frame-extract",
        {
            "shortcode": "Bad",
            "platform": "instagram",
            "bucket": VIDEOS_BUCKET,
            "key": "instagram/Bad/video.mp4",
            "upload_id": runtime.status.get_plan("instagram", "Bad").upload_id,
        },
    )
    pipe.drain()
    events = pipe.events()
    assert [e["state"] for e in events] == ["failed"]
    assert events[0]["stages"]["rekognition"]["status"] == "skipped"


def test_a_crash_between_success_and_hand_off_is_repaired_by_the_redelivery(
    pipe, runtime, synth_clip
):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    pipe.send(
        "pipeline",
        {"shortcode": "Cx1", "platform": "instagram", "stages": ["frame-extract", "rekognition"]},
    )
    pipe.drain(order=("pipeline",))
    # the first hand-off to rekognition fails as if the function died before sending it
    sent = [0]

    def crash_once(params: dict[str, Any], **_: Any) -> None:
        if params.get("QueueUrl") == pipe.urls["rekognition"]:
            sent[0] += 1
            if sent[0] == 1:
                raise RuntimeError("killed before the hand-off")

    pipe.sqs.meta.events.register("provide-client-params.sqs.SendMessage", crash_once)
    pipe.pollers["frame-extract"].poll_once()
    assert pipe.states("Cx1")["frame-extract"].status == StageStatus.SUCCEEDED
    assert pipe.depth("rekognition") == 0 and pipe.pollers["frame-extract"].stats.failed == 1
    # the record comes back: it finds the stage done and sends the hand-off again
    pipe.drain()
    states = pipe.states("Cx1")
    assert {n: (s.status, s.attempts) for n, s in states.items()} == {
        "frame-extract": (StageStatus.SUCCEEDED, 1),
        "rekognition": (StageStatus.SUCCEEDED, 1),
    }
    assert sent[0] == 2
    assert [e["state"] for e in pipe.events()] == ["succeeded"]


def test_the_same_upload_runs_once_and_a_new_upload_runs_again(pipe, runtime, tmp_path):
    first = tmp_path / "first.mp4"
    make_clip(first)  # 5 scenes
    put_video(runtime, "instagram/Cx1/video.mp4", first)
    event = real_etag_event(runtime, "instagram/Cx1/video.mp4")
    pipe.send("pipeline", event)
    pipe.send("pipeline", event)  # S3 delivers at least once
    pipe.drain()
    assert pipe.states("Cx1")["frame-extract"].attempts == 1
    keys = runtime.storage.list_keys(FRAMES_BUCKET, "instagram/Cx1/frames/")
    assert "instagram/Cx1/frames/4.jpg" in keys
    [done] = pipe.events()
    # a new object at the same key (three scenes): a second run, and no frame of the first left
    second = tmp_path / "second.mp4"
    make_clip(second, scenes=(50, 60, 40))
    put_video(runtime, "instagram/Cx1/video.mp4", second)
    pipe.send("pipeline", real_etag_event(runtime, "instagram/Cx1/video.mp4"))
    pipe.drain()
    keys = runtime.storage.list_keys(FRAMES_BUCKET, "instagram/Cx1/frames/")
    assert sorted(keys) == [
        f"instagram/Cx1/frames/{n}"
        for n in ("0.jpg", "1.jpg", "2.jpg", "contact_sheet.jpg", "manifest.json", "preview.gif")
    ]
    manifest = runtime.storage.get_json(FRAMES_BUCKET, "instagram/Cx1/frames/manifest.json")
    assert len(manifest["scenes"]) == 3
    [again] = pipe.events()
    assert again["upload_id"] != done["upload_id"]
    assert runtime.status.get_video("instagram", "Cx1").frame_count == 3


def test_a_completion_event_that_failed_to_publish_is_sent_by_the_redelivery(
    pipe, runtime, synth_clip
):
    clip, _ = synth_clip
    put_video(runtime, "instagram/Cx1/video.mp4", clip)
    published = [0]

    def fail_once(**_: Any) -> None:
        published[0] += 1
        if published[0] == 1:
            raise RuntimeError("SNS unreachable")

    sns = aws.client("sns", runtime.settings)
    sns.meta.events.register("provide-client-params.sns.Publish", fail_once)
    pipe.send("pipeline", real_etag_event(runtime, "instagram/Cx1/video.mp4"))
    pipe.drain()
    plan = runtime.status.get_plan("instagram", "Cx1")
    assert plan.state == PlanState.SUCCEEDED and plan.notified
    assert pipe.states("Cx1")["frame-extract"].attempts == 1
    assert published[0] == 2
    [event] = pipe.events()
    assert event["finished_at"] == plan.finished_at.isoformat()


def test_a_finished_plan_leaves_the_summary_and_report_before_its_event(pipe, runtime, synth_clip):
    clip, cuts = synth_clip
    put_video(runtime, "instagram/Rp1/video.mp4", clip)
    pipe.send("pipeline", real_etag_event(runtime, "instagram/Rp1/video.mp4"))
    pipe.drain()
    [event] = pipe.events()
    assert event["state"] == "succeeded"
    summary = runtime.storage.get_bytes(FRAMES_BUCKET, "instagram/Rp1/summary.txt").decode()
    assert "frame-extract" in summary and "succeeded" in summary
    html = runtime.storage.get_bytes(FRAMES_BUCKET, "instagram/Rp1/report.html").decode()
    # the key-frame gallery links every key frame relatively
    for i in range(len(cuts) + 1):
        assert f'src="frames/{i}.jpg"' in html


def test_with_previews_off_a_finished_plan_writes_no_report(pipe, runtime, synth_clip):
    clip, _ = synth_clip
    runtime.settings = runtime.settings.model_copy(update={"previews": False})
    put_video(runtime, "instagram/Rp2/video.mp4", clip)
    pipe.send("pipeline", real_etag_event(runtime, "instagram/Rp2/video.mp4"))
    pipe.drain()
    [event] = pipe.events()
    assert event["state"] == "succeeded"
    keys = set(runtime.storage.list_keys(FRAMES_BUCKET, "instagram/Rp2/"))
    assert not keys & {"instagram/Rp2/summary.txt", "instagram/Rp2/report.html"}


def test_a_run_re_plans_an_uploaded_video_and_a_late_upload_event_keeps_it(
    pipe, runtime, synth_clip
):
    put_video(runtime, "instagram/Cx1/video.mp4", synth_clip[0])
    event = real_etag_event(runtime, "instagram/Cx1/video.mp4")
    pipe.send("pipeline", event)
    pipe.drain()
    [first] = pipe.events()
    assert first["stages"] == {"frame-extract": first["stages"]["frame-extract"]}
    # without a run id the same direct job finds the upload's plan and changes nothing
    pipe.send("pipeline", {"platform": "instagram", "shortcode": "Cx1", "stages": ["rekognition"]})
    pipe.drain()
    assert pipe.events() == []
    assert runtime.status.get_plan("instagram", "Cx1").stages == ("frame-extract",)
    # a run: a new plan for the same upload, with its own options
    run = {
        "platform": "instagram",
        "shortcode": "Cx1",
        "stages": ["frame-extract", "rekognition"],
        "options": {"frame-extract": {"min_frames": 4}},
        "run_id": "r1",
    }
    pipe.send("pipeline", run)
    pipe.send("pipeline", run)  # delivered twice: planned once
    pipe.drain()
    [second] = pipe.events()
    assert second["upload_id"] == f"{first['upload_id']}:run:r1"
    assert set(second["stages"]) == {"frame-extract", "rekognition"}
    assert second["state"] == "succeeded"
    assert pipe.states("Cx1")["frame-extract"].attempts == 1
    plan = runtime.status.get_plan("instagram", "Cx1")
    assert plan.options == {"frame-extract": {"min_frames": 4}}
    # the upload's own event delivered late: the run's plan stays, nothing runs again
    pipe.send("pipeline", event)
    pipe.drain()
    assert pipe.events() == []
    assert runtime.status.get_plan("instagram", "Cx1").upload_id == second["upload_id"]


def test_a_bad_run_id_is_refused_naming_it():
    from shared.errors import InvalidIdentifierError
    from shared.messages import parse_body, run_upload_id

    with pytest.raises(InvalidIdentifierError, match="run_id"):
        parse_body('{"platform": "ig", "shortcode": "a", "run_id": "../x"}', default_bucket="b")
    assert run_upload_id("etag", "r1") == run_upload_id("etag:run:r0", "r1") == "etag:run:r1"
