"""The plan commands of the CLI on moto: `vidpipe submit` (upload with the plan as metadata, or a
direct job for a video already in S3), `vidpipe status` on an unknown video, and `local run`
outside a checkout (no template)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from shared import aws
from shared.plan import META_OPTIONS, META_STAGES
from tests.support.helpers import VIDEOS_BUCKET
from vidpipe.cli import app

runner = CliRunner()


def test_status_of_an_unknown_video_is_one_line_and_exit_1(runtime):
    result = runner.invoke(app, ["status", "instagram", "Nobody1"])
    assert result.exit_code == 1
    assert "no status for instagram/Nobody1" in result.output
    assert "Traceback" not in result.output


def test_submit_uploads_with_the_plan_as_metadata(runtime, synth_clip, tmp_path):
    clip, _ = synth_clip
    options = tmp_path / "options.json"
    options.write_text(json.dumps({"frame-extract": {"threshold": 0.2}}))
    result = runner.invoke(
        app,
        [
            "submit",
            str(clip),
            "--platform",
            "instagram",
            "--shortcode",
            "Sub1",
            "--stage",
            "frame-extract",
            "--stage",
            "rekognition",
            "--options",
            str(options),
        ],
    )
    assert result.exit_code == 0, result.output
    head = runtime.storage.s3.head_object(Bucket=VIDEOS_BUCKET, Key="instagram/Sub1/video.mp4")
    assert head["Metadata"][META_STAGES] == "frame-extract,rekognition"
    assert json.loads(head["Metadata"][META_OPTIONS]) == {"frame-extract": {"threshold": 0.2}}
    assert "with plan frame-extract, rekognition" in result.output


def test_submit_refuses_an_unknown_stage_before_uploading(runtime, synth_clip):
    clip, _ = synth_clip
    result = runner.invoke(
        app,
        [
            "submit",
            str(clip),
            "--platform",
            "instagram",
            "--shortcode",
            "Sub2",
            "--stage",
            "telepathy",
        ],
    )
    assert result.exit_code == 2
    assert "unknown stage 'telepathy'" in result.output
    assert runtime.storage.list_keys(VIDEOS_BUCKET, "instagram/Sub2/") == []


def test_submit_sends_a_direct_job_for_a_video_already_in_s3(runtime):
    sqs = aws.client("sqs", runtime.settings)
    url = sqs.create_queue(QueueName="pipeline-q")["QueueUrl"]
    uri = f"s3://{VIDEOS_BUCKET}/instagram/Sub3/video.mp4"
    args = ["submit", uri, "--platform", "instagram", "--shortcode", "Sub3", "--stage", "landmarks"]
    missing = runner.invoke(app, args)
    assert missing.exit_code == 2 and "needs --queue-url" in missing.output
    result = runner.invoke(app, [*args, "--queue-url", url])
    assert result.exit_code == 0, result.output
    [msg] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(msg["Body"]) == {
        "platform": "instagram",
        "shortcode": "Sub3",
        "bucket": VIDEOS_BUCKET,
        "key": "instagram/Sub3/video.mp4",
        "stages": ["landmarks"],
    }


def test_local_run_outside_a_checkout_says_where_the_template_is_looked_for(tmp_path):
    env = {**os.environ, "VIDPIPE_TEMPLATE": str(tmp_path / "missing.yaml")}
    proc = subprocess.run(
        [sys.executable, "-m", "vidpipe.cli", "local", "run", "--state-dir", str(tmp_path / "s")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert f"VIDPIPE_TEMPLATE={tmp_path / 'missing.yaml'}: no such file" in proc.stderr
    assert "Traceback" not in proc.stderr
