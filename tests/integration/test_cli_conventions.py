"""The CLI's conventions: one-line errors with honest exit codes, settings errors that name the
variable, value, unit and range, `invoke`'s per-record lines, `-h`, `--version` and help text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.helpers import EVENTS, VIDEOS_BUCKET
from vidpipe.cli import app

runner = CliRunner()
VIDPIPE = [sys.executable, "-m", "vidpipe.cli"]


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# --------------------------------------------------------------------------- settings errors
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"S3_RETRY_DELAY": "90000"},
            "S3_RETRY_DELAY=90000: input should be less than or equal to 60000 "
            "(expected milliseconds, 0 to 60000)",
        ),
        (
            {"CONCURRENCY_LIMIT": "lots"},
            "CONCURRENCY_LIMIT=lots: input should be a valid integer",
        ),
        (
            {"SUPABASE_TIMEOUT_S": "0"},
            "SUPABASE_TIMEOUT_S=0: input should be greater than 0 (expected seconds, more than "
            "0, at most 120)",
        ),
        (
            {"STATUS_BACKEND": "supabase"},
            "STATUS_BACKEND=supabase needs SUPABASE_URL and SUPABASE_KEY",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_variable_value_unit_and_range(tmp_path, env, expected):
    # a real process: no traceback, one line on stderr, exit code 2
    run_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env}
    proc = subprocess.run(
        [*VIDPIPE, "status", "instagram", "Cx1"],
        capture_output=True,
        text=True,
        env=run_env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc.stderr)
    assert expected in line


def test_a_bad_stage_setting_is_one_line_too(tmp_path, synth_clip, monkeypatch):
    clip, _ = synth_clip
    monkeypatch.setenv("SCENE_THRESHOLD", "300")
    result = runner.invoke(app, ["frames", str(clip), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    line = _one_error_line(result.stderr)
    assert "SCENE_THRESHOLD=300" in line and "more than 0, at most 255" in line


def test_an_unexpected_error_is_one_line_and_a_traceback_only_with_debug(monkeypatch, tmp_path):
    import vidpipe.cli.handlers as handlers

    def boom(*_a, **_k):
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(handlers, "print_status", boom)
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "s.sqlite3"))
    from shared.batch import get_runtime
    from shared.config import get_settings
    from shared.status import StageKey

    get_settings.cache_clear()
    get_runtime.cache_clear()
    get_runtime().status.claim(StageKey("instagram", "Cx1", "frame-extract"), "w", 60)
    result = runner.invoke(app, ["status", "instagram", "Cx1"])
    assert result.exit_code == 1
    assert _one_error_line(result.stderr) == "error: RuntimeError: the disk caught fire"
    result = runner.invoke(app, ["--debug", "status", "instagram", "Cx1"])
    assert isinstance(result.exception, RuntimeError)  # propagates: the traceback is shown
    get_settings.cache_clear()
    get_runtime.cache_clear()


# --------------------------------------------------------------------------- S3_RETRY_DELAY
@pytest.mark.parametrize(
    ("value", "seconds", "warned"),
    [
        ("1000", 1.0, False),  # the replaced Lambda's .env value: milliseconds
        ("250", 0.25, False),
        ("0", 0.0, False),
        ("250ms", 0.25, False),
        ("1.5s", 1.5, False),
        ("1.0", 1.0, True),  # the old seconds form, read as seconds with a warning
        ("0.5", 0.5, True),
        ("1500.0", 1.5, False),  # above 60: cannot be the old form
    ],
)
def test_s3_retry_delay_is_milliseconds(monkeypatch, caplog, value, seconds, warned):
    from shared.config import load_settings

    monkeypatch.setenv("S3_RETRY_DELAY", value)
    with caplog.at_level("WARNING", logger="vidpipe.config"):
        settings = load_settings()
    assert settings.s3_retry_delay_s == pytest.approx(seconds)
    warnings = [r.getMessage() for r in caplog.records if r.name == "vidpipe.config"]
    assert bool(warnings) == warned
    if warned:
        assert f"write S3_RETRY_DELAY={seconds * 1000:g}" in warnings[0]


def test_storage_waits_s3_retry_delay_milliseconds(monkeypatch):
    from shared.config import load_settings
    from shared.storage import S3Storage

    monkeypatch.setenv("S3_RETRY_DELAY", "1500")
    assert S3Storage.from_settings(load_settings()).retry_delay_s == pytest.approx(1.5)


# --------------------------------------------------------------------------- invoke
def test_invoke_on_a_malformed_event_file_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"platform": "instagram",')
    result = runner.invoke(app, ["invoke", "frame-extract", "--event", str(bad)])
    assert result.exit_code == 2
    line = _one_error_line(result.stderr)
    assert "bad.json: not JSON" in line and "line 1" in line
    bad.write_text("[1, 2]")
    result = runner.invoke(app, ["invoke", "frame-extract", "--event", str(bad)])
    assert result.exit_code == 2
    assert "expected a JSON object" in _one_error_line(result.stderr)


def _sqs_event(*bodies: dict) -> dict:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": "local",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies, 1)
        ]
    }


def test_invoke_prints_a_line_per_record_and_exits_1_when_one_failed(runtime, synth_clip, tmp_path):
    clip, _ = synth_clip
    runtime.storage.s3.upload_file(str(clip), VIDEOS_BUCKET, "instagram/Ok1/video.mp4")
    runtime.storage.s3.put_object(Bucket=VIDEOS_BUCKET, Key="instagram/Bad1/video.mp4", Body=b"x")
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            _sqs_event(
                {"platform": "instagram", "shortcode": "Ok1"},
                {"platform": "instagram", "shortcode": "Bad1"},
                {"platform": "instagram", "shortcode": "no such/code"},
            )
        )
    )
    result = runner.invoke(app, ["invoke", "frame-extract", "--event", str(event)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("record 1/3 m1: succeeded: instagram/Ok1 frame-extract -> s3://")
    assert lines[1].startswith("record 2/3 m2: failed: instagram/Bad1 frame-extract: ")
    assert "not a readable video" in lines[1]
    assert lines[2].startswith("record 3/3 m3: rejected: ")
    assert lines[3] == "2 of 3 record(s) failed"
    assert json.loads(result.stdout) == {"batchItemFailures": []}

    # again: the first is a duplicate (already succeeded), and says so
    result = runner.invoke(app, ["invoke", "frame-extract", "--event", str(event)])
    assert "record 1/3 m1: duplicate: instagram/Ok1 frame-extract already succeeded" in (
        result.stderr
    )
    # --raw: only the response, exit code 0
    raw = runner.invoke(app, ["invoke", "frame-extract", "--event", str(event), "--raw"])
    assert raw.exit_code == 0
    assert raw.stderr == ""
    assert json.loads(raw.stdout) == {"batchItemFailures": []}


def test_invoke_explains_a_record_returned_for_retry(runtime, synth_clip, monkeypatch):
    # out of time before it starts: returned unrun, which is not a failure
    result = runner.invoke(
        app,
        ["invoke", "frame-extract", "--event", str(EVENTS / "direct_job.json"), "--timeout-s", "5"],
    )
    assert result.exit_code == 0, result.output
    assert "returned for retry (not run): OutOfTimeError: " in result.stderr
    assert "under MIN_REMAINING_MS" in result.stderr
    # a retryable error (a stage setting is invalid): failed, returned for retry, exit 1
    clip, _ = synth_clip
    runtime.storage.s3.upload_file(str(clip), VIDEOS_BUCKET, "instagram/Cx1/video.mp4")
    monkeypatch.setenv("SCENE_THRESHOLD", "300")
    result = runner.invoke(
        app, ["invoke", "frame-extract", "--event", str(EVENTS / "direct_job.json")]
    )
    assert result.exit_code == 1, result.output
    assert "record 1/1 " in result.stderr
    assert "failed, returned for retry: ConfigurationError: invalid configuration: " in (
        result.stderr
    )
    assert "SCENE_THRESHOLD=300" in result.stderr
    assert len(json.loads(result.stdout)["batchItemFailures"]) == 1


def test_invoke_an_ignored_s3_test_event_says_why(runtime):
    result = runner.invoke(
        app, ["invoke", "frame-extract", "--event", str(EVENTS / "s3_test_event.json")]
    )
    assert result.exit_code == 0, result.output
    assert ": ignored: " in result.stderr


# --------------------------------------------------------------------------- help and version
def _all_command_paths() -> list[list[str]]:
    import typer.main

    paths: list[list[str]] = [[]]

    def walk(cmd, prefix):
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_command_has_h_and_help_with_plain_word_wrapped_text(flag):
    import re

    paths = _all_command_paths()
    assert len(paths) > 15
    for path in paths:
        result = runner.invoke(app, [*path, flag], terminal_width=80)
        assert result.exit_code == 0, (path, result.output)
        text = result.output
        assert "Usage:" in text, path
        # no type placeholders, no cut words, no box drawing
        assert not re.search(r"<(str|bool|int|float|path|file|int range|float range)>", text), (
            path,
            text,
        )
        assert "…" not in text and "╭" not in text, (path, text)
        for line in text.splitlines():
            assert len(line) <= 80, (path, line)
            assert not re.search(r"\w-$", line), (path, line)  # no break inside a-hyphenated


def test_version():
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith(f"vidpipe {version('vidpipe')} ")


def test_help_wraps_long_lines_at_word_boundaries_up_to_100_columns():
    import os

    proc = subprocess.run(
        [*VIDPIPE, "rekognition", "-h"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    lines = proc.stdout.splitlines()
    assert 90 < max(len(line) for line in lines) <= 100
    assert any("(REKOGNITION_MAX_FRAMES)" in line for line in lines)  # whole, never cut
    assert "-o, --out OUT_DIR" in proc.stdout


# --------------------------------------------------------------------------- worker
def test_worker_reads_the_ec2_pipelines_settings(tmp_path, synth_clip, monkeypatch):
    # the replaced EC2 pipeline's .env: AWS_S3_BUCKET_NAME and AWS_SQS_QUEUE_URL, no options
    from shared.status import Stage
    from vidpipe.cli.common import reset_settings
    from vidpipe.local import local_stack

    clip, cuts = synth_clip
    with local_stack(tmp_path / "state") as stack:
        upload_bucket = "ec2-uploads"
        s3, sqs = stack.client("s3"), stack.client("sqs")
        s3.create_bucket(Bucket=upload_bucket)
        s3.upload_file(str(clip), upload_bucket, "demo/e1/clip.mp4")
        queue = stack.queue_urls[Stage.FRAME_EXTRACT]
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=json.dumps(
                {"platform": "demo", "shortcode": "e1", "key": "demo/e1/clip.mp4"}
            ),
        )
        work = tmp_path / "work"
        work.mkdir()
        (work / ".env").write_text(
            f"AWS_S3_BUCKET_NAME={upload_bucket}\nAWS_SQS_QUEUE_URL={queue}\n"
        )
        monkeypatch.chdir(work)
        monkeypatch.delenv("S3_BUCKET_VIDEOS")
        monkeypatch.setenv("VIDEO_SOURCE_BUCKETS", upload_bucket)
        reset_settings()
        result = runner.invoke(
            app, ["worker", "frame-extract", "--max-batches", "1", "--wait-s", "1"]
        )
        assert result.exit_code == 0, result.output
        assert f"polling {queue} for frame-extract, videos in {upload_bucket}" in result.stderr
        assert "batches=1 received=1 deleted=1 failed=0" in result.stdout
        keys = s3.list_objects_v2(Bucket=stack.frames_bucket, Prefix="demo/e1/frames/")
        assert len(keys["Contents"]) == len(cuts) + 4
    reset_settings()


def test_worker_without_a_queue_is_one_line_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AWS_SQS_QUEUE_URL", raising=False)
    result = runner.invoke(app, ["worker", "frame-extract"])
    assert result.exit_code == 2
    assert "pass --queue-url or set AWS_SQS_QUEUE_URL" in _one_error_line(result.stderr)


# --------------------------------------------------------------------------- status
def test_status_of_an_unknown_video_exits_1(runtime):
    result = runner.invoke(app, ["status", "instagram", "Nobody1"])
    assert result.exit_code == 1
    assert _one_error_line(result.stderr) == "error: no status for instagram/Nobody1"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["frames"], "error: Missing argument 'VIDEO'. (see 'vidpipe frames -h')"),
        (["frames", "x.mp4"], "error: Missing option '--out' / '-o'. (see 'vidpipe frames -h')"),
        (["nosuch"], "error: No such command 'nosuch'. (see 'vidpipe -h')"),
        (["frames", "x.mp4", "-o", "o", "--threshold", "abc"], "Invalid value for '--threshold'"),
        (["invoke", "frame-extract", "--event", "nope.json"], "file 'nope.json' does not exist"),
    ],
)
def test_a_usage_error_is_one_line_exit_2(args, message):
    script = Path(sys.executable).parent / "vidpipe"  # the console script, named vidpipe
    proc = subprocess.run([str(script), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert message in _one_error_line(proc.stderr)
    assert proc.stdout == ""
