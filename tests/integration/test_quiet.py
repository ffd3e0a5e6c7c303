"""Quiet by default (shared/observability.py): no native MediaPipe log lines and no Powertools
"No application metrics to publish" warning unless debug is on."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from functions.frame_extract.handler import lambda_handler
from shared import observability
from shared.observability import metrics, quiet_native_logs
from tests.support.helpers import ROOT, load_event, require_mediapipe, sample, sqs_event

EMPTY_METRICS = "No application metrics to publish"


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**base, "MPLCONFIGDIR": str(tmp_path / "mpl"), **env},
        timeout=300,
        check=False,
    )


EXTRACT = """
    from functions.landmarks.config import preset_config
    from functions.landmarks.landmarks import extract_landmarks
    cfg = preset_config("development").with_overrides(max_frames=30, hands=True)
    result = extract_landmarks({video!r}, cfg, shortcode="q")
    print("frames", result.frames)
"""


@pytest.mark.samples
def test_a_landmarks_run_writes_no_native_log_lines(tmp_path):
    require_mediapipe()
    video = sample("basketball_shot.mp4")
    proc = run_python(EXTRACT.format(video=str(video)), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "frames 30"
    assert proc.stderr == ""


@pytest.mark.samples
def test_debug_shows_the_native_log_lines(tmp_path):
    require_mediapipe()
    video = sample("basketball_shot.mp4")
    proc = run_python(EXTRACT.format(video=str(video)), tmp_path, DEBUG="true")
    assert proc.returncode == 0, proc.stderr
    assert "TensorFlow Lite" in proc.stderr or "inference_feedback_manager" in proc.stderr


def test_the_filter_drops_native_info_and_warnings_and_keeps_the_rest(tmp_path):
    proc = run_python(
        """
        import os, sys
        from shared.observability import quiet_native_logs
        with quiet_native_logs():
            os.write(2, b"W0000 00:00:1796195586.723424   22667 feedback.cc:114] noise\\n")
            os.write(2, b"I0000 00:00:1796195586.7 1 gl_context.cc:369] GL version: 3.2\\n"
                        b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
            os.write(2, b"E0000 00:00:1796195586.7 1 calculator_graph.cc:887] a real error\\n")
            print("python log line", file=sys.stderr, flush=True)
            with quiet_native_logs():  # nested blocks share the filter
                os.write(2, b"no newline at the end")
        os.write(2, b"\\nafter the block\\n")
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "E0000 00:00:1796195586.7 1 calculator_graph.cc:887] a real error",
        "python log line",
        "no newline at the end",
        "after the block",
    ]


def test_the_filter_is_off_in_debug(monkeypatch, capfd):
    monkeypatch.setattr(observability, "_debug_override", True)
    with quiet_native_logs():
        os.write(2, b"W0000 00:00:1.0 1 x.cc:1] shown in debug\n")
    assert "shown in debug" in capfd.readouterr().err


def test_an_invocation_without_metrics_does_not_warn(recwarn):
    metrics.clear_metrics()  # a metric left by an earlier test would hide the empty case

    @metrics.log_metrics
    def handler(event, context):
        return {}

    handler({}, None)
    assert not [w for w in recwarn if EMPTY_METRICS in str(w.message)]


def test_the_empty_metrics_warning_comes_back_in_debug(recwarn, monkeypatch):
    monkeypatch.setenv("DEBUG", "true")
    metrics.clear_metrics()

    @metrics.log_metrics
    def handler(event, context):
        return {}

    handler({}, None)
    assert [w for w in recwarn if EMPTY_METRICS in str(w.message)]


def test_s3_test_event_is_quiet(runtime, context, recwarn, capsys):
    metrics.clear_metrics()
    assert lambda_handler(sqs_event(load_event("s3_test_event.json")), context) == {
        "batchItemFailures": []
    }
    assert not [w for w in recwarn if EMPTY_METRICS in str(w.message)]
    assert EMPTY_METRICS not in capsys.readouterr().err


def test_the_quiet_provider_shares_the_process_wide_metric_set():
    from aws_lambda_powertools import Metrics

    metrics.clear_metrics()
    Metrics(namespace="VidPipe").add_metric(name="Shared", unit="Count", value=1)
    assert metrics.provider.metric_set["Shared"]["Value"] == [1.0]
    metrics.clear_metrics()
