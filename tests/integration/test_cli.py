"""The `vidpipe` command line: frames, invoke, local run, status, --help."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.helpers import EVENTS, FRAMES_BUCKET, VIDEOS_BUCKET, ground_truth, sample
from vidpipe.cli import app

runner = CliRunner()
VIDPIPE = [sys.executable, "-m", "vidpipe.cli"]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frames"],
        ["invoke"],
        ["local", "run"],
        ["worker"],
        ["status"],
        ["rekognition"],
        ["physics"],
        ["physics", "analyze"],
        ["physics", "validate"],
        ["physics", "events"],
        ["landmarks"],
        ["config"],
    ],
)
def test_help_explains_each_command(args):
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_frames_writes_jpegs_and_manifest(tmp_path, synth_clip):
    clip, cuts = synth_clip
    out = tmp_path / "out"
    result = runner.invoke(app, ["frames", str(clip), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"cuts={cuts}" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["video"]["shortcode"] == "synthetic"
    assert sorted(p.name for p in out.glob("[0-9]*.jpg")) == [
        f"{i}.jpg" for i in range(len(cuts) + 1)
    ]
    assert (out / "preview.gif").is_file() and (out / "contact_sheet.jpg").is_file()


def test_frames_min_frames_and_detector_options(tmp_path, synth_clip):
    clip, _cuts = synth_clip
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["frames", str(clip), "-o", str(out), "--detector", "adaptive", "--min-frames", "8"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fallback"] is True and len(manifest["scenes"]) == 8
    assert manifest["detector"]["name"] == "adaptive"


def test_frames_on_a_non_video_exits_2_with_a_clear_error(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("hello")
    result = runner.invoke(app, ["frames", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "not a readable video" in result.output


def test_frames_from_s3_uri(runtime, tmp_path, synth_clip):
    clip, _cuts = synth_clip
    runtime.storage.s3.upload_file(str(clip), VIDEOS_BUCKET, "instagram/Cx9/video.mp4")
    out = tmp_path / "o"
    result = runner.invoke(
        app, ["frames", f"s3://{VIDEOS_BUCKET}/instagram/Cx9/video.mp4", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["video"]["platform"], manifest["video"]["shortcode"]) == ("instagram", "Cx9")


def test_invoke_runs_the_real_handler_on_an_event_file(runtime, synth_clip):
    clip, cuts = synth_clip
    runtime.storage.s3.upload_file(str(clip), VIDEOS_BUCKET, "instagram/Cx1/video.mp4")
    result = runner.invoke(
        app, ["invoke", "frame-extract", "--event", str(EVENTS / "direct_job.json")]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"batchItemFailures": []}
    keys = runtime.storage.list_keys(FRAMES_BUCKET, "instagram/Cx1/frames/")
    assert len(keys) == len(cuts) + 4  # key frames, manifest, preview.gif, contact_sheet.jpg
    status = runner.invoke(app, ["status", "instagram", "Cx1"])
    assert status.exit_code == 0
    assert "succeeded" in status.output and "is_extracted=True" in status.output


def test_invoke_with_too_short_a_timeout_defers_the_record(runtime):
    result = runner.invoke(
        app,
        ["invoke", "frame-extract", "--event", str(EVENTS / "direct_job.json"), "--timeout-s", "5"],
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["batchItemFailures"]) == 1


def _local_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [*VIDPIPE, "local", "run", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_local_run_without_a_video_generates_one(tmp_path):
    proc = _local_run(tmp_path, "--out", "out")
    assert proc.returncode == 0, proc.stderr
    assert "cuts=[50, 110, 150, 235]" in proc.stdout
    assert "status=succeeded" in proc.stdout and "dlq=0" in proc.stdout
    assert len(list((tmp_path / "out" / "frames").glob("[0-9]*.jpg"))) == 5
    assert (tmp_path / "out" / "report.html").is_file()
    assert proc.stdout.rstrip().splitlines()[-1] == f"report: {Path('out') / 'report.html'}"


@pytest.mark.samples
def test_local_run_on_the_documentary_sample(tmp_path):
    video = sample("documentary_cuts.mp4")
    proc = _local_run(
        tmp_path, str(video), "--platform", "demo", "--shortcode", "doc1", "--out", "out"
    )
    assert proc.returncode == 0, proc.stderr
    frames = tmp_path / "out" / "frames"
    assert len(list(frames.glob("[0-9]*.jpg"))) == 6
    manifest = json.loads((frames / "manifest.json").read_text())
    cuts = [s["start_frame"] for s in manifest["scenes"][1:]]
    assert cuts == ground_truth()["documentary_cuts.mp4"]["hard_cuts"] == [70, 170, 301, 421, 484]
    assert "status=succeeded" in proc.stdout


def test_local_run_reports_a_failed_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 4096)
    proc = _local_run(tmp_path, str(bad), "--shortcode", "bad", "--out", "out")
    assert proc.returncode == 1
    assert "status=failed" in proc.stdout
    assert "CorruptVideoError" in proc.stdout
    shutil.rmtree(tmp_path / "out", ignore_errors=True)


@pytest.mark.parametrize("name", ["sqs_direct_job.json", "sqs_s3_via_sns_raw.json"])
def test_sample_sqs_events_run_through_invoke(runtime, synth_clip, name):
    # the files documented for `sam local invoke -e` work with the real handler as they are
    clip, cuts = synth_clip
    runtime.storage.s3.upload_file(str(clip), VIDEOS_BUCKET, "instagram/Cx1/video.mp4")
    result = runner.invoke(app, ["invoke", "frame-extract", "--event", str(EVENTS / name)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"batchItemFailures": []}
    # key frames, manifest, preview.gif, contact_sheet.jpg
    assert len(runtime.storage.list_keys(FRAMES_BUCKET, "instagram/Cx1/frames/")) == len(cuts) + 4


def test_worker_polls_a_queue_and_runs_the_handler(tmp_path, synth_clip):
    # the EC2/ECS mode against an SQS endpoint (moto's server here), with a direct job
    from shared.status import Stage
    from vidpipe.local import local_stack

    clip, cuts = synth_clip
    with local_stack(tmp_path / "state") as stack:
        stack.client("s3").upload_file(str(clip), stack.videos_bucket, "demo/w1/clip.mp4")
        queue = stack.queue_urls[Stage.FRAME_EXTRACT]
        # drain the S3 event of the upload so the batch below holds just the direct job
        sqs = stack.client("sqs")
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=json.dumps(
                {"platform": "demo", "shortcode": "w1", "key": "demo/w1/clip.mp4"}
            ),
        )
        result = runner.invoke(
            app,
            [
                "worker",
                "frame-extract",
                "--queue-url",
                queue,
                "--max-batches",
                "1",
                "--wait-s",
                "1",
            ],
        )
        assert result.exit_code == 0, result.output
        assert "batches=1 received=1 deleted=1 failed=0" in result.stdout
        keys = stack.client("s3").list_objects_v2(Bucket=stack.frames_bucket, Prefix="demo/w1/")
        assert len(keys["Contents"]) == len(cuts) + 4  # with preview.gif, contact_sheet.jpg
        assert stack.queue_depth(queue) == 0


def test_local_run_with_the_rekognition_stage(tmp_path):
    proc = _local_run(
        tmp_path, "--out", "out", "--stage", "frame-extract", "--stage", "rekognition"
    )
    assert proc.returncode == 0, proc.stderr
    assert "frame-extract=succeeded  rekognition=succeeded" in proc.stdout
    doc = json.loads((tmp_path / "out" / "rekognition" / "analysis.json").read_text())
    assert doc["emulated"] is True and doc["schema_version"] == 1
    assert doc["frame_source"] == "manifest"  # ran after frame-extract, so it used its scenes
    assert doc["metrics"]["frames_analyzed"] == 5  # one per scene of the generated clip
    assert set(doc) >= {"frames", "scenes", "summary", "metrics", "video"}


def test_local_run_refuses_an_unknown_stage(tmp_path):
    proc = _local_run(tmp_path, "--stage", "telepathy")
    assert proc.returncode == 2
    assert "unknown stage 'telepathy'" in proc.stderr


def test_local_run_stops_when_a_failing_record_reaches_the_dlq(tmp_path, monkeypatch):
    # a handler that always reports its records as failed: after maxReceiveCount (5) receives
    # SQS moves the message to the DLQ, and the local run stops there instead of timing out
    import vidpipe.cli as cli

    def always_failing(event, context):
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    monkeypatch.setattr(cli.common, "load_handler", lambda stage: always_failing)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app, ["local", "run", "--out", "out", "--visibility-timeout-s", "0", "--timeout-s", "120"]
    )
    assert result.exit_code == 1, result.output
    # both the video's event and the s3:TestEvent moto sends first (which the real handler
    # would acknowledge) end in the DLQ
    assert "dlq=2" in result.stdout
    assert "status=none" in result.stdout
