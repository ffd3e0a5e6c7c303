"""The landmarks Lambda handler on moto S3 with the SQLite status store, the streaming upload,
the folder-to-S3 pipeline (CLI and Python API) and the local mode."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from functions.landmarks.api import LandmarksPipeline, extract_video_landmarks
from functions.landmarks.config import Preset, preset_config
from functions.landmarks.handler import lambda_handler
from functions.landmarks.job import upload_result
from functions.landmarks.landmarks import LandmarksResult
from functions.landmarks.settings import LandmarksSettings
from shared.batch import Runtime
from shared.status import Stage, StageStatus
from tests.support.helpers import (
    FRAMES_BUCKET,
    FadingContext,
    count_calls,
    failures,
    put_video,
    require_mediapipe,
    s3_body,
    sqs_event,
    sqs_record,
)
from vidpipe.cli import app
from vidpipe.lambda_context import LocalContext

require_mediapipe()


runner = CliRunner()
MIB = 1024 * 1024


@pytest.fixture
def lm_env(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """The runtime with the development preset (10 fps), as a deployment would set it."""
    runtime.stage_settings.override(LandmarksSettings, preset=Preset.DEVELOPMENT)
    return runtime


def state(rt: Runtime, platform: str, shortcode: str) -> Any:
    states = [s for s in rt.status.stages(platform, shortcode) if s.stage == Stage.LANDMARKS]
    return states[0] if states else None


def load_npz(rt: Runtime, key: str) -> dict[str, np.ndarray]:
    data = rt.storage.get_bytes(FRAMES_BUCKET, key)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def test_s3_event_writes_arrays_and_metadata_from_memory(lm_env, context, synth_clip, env_settings):
    # given a video in the layout, and a watch on the temp dir at every upload request
    clip, _ = synth_clip
    put_video(lm_env, "instagram/Cx1/video.mp4", clip)
    tmp = Path(env_settings.tmp_dir)
    seen_files: list[list[str]] = []

    def watch(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", "").startswith("instagram/Cx1/landmarks/"):
            seen_files.append(sorted(p.name for p in tmp.rglob("*") if p.is_file()))

    lm_env.storage.s3.meta.events.register("provide-client-params.s3.PutObject", watch)
    # when
    response = lambda_handler(sqs_event(s3_body("instagram/Cx1/video.mp4")), context)
    # then
    assert response == {"batchItemFailures": []}
    arrays = load_npz(lm_env, "instagram/Cx1/landmarks/landmarks.npz")
    assert set(arrays) == {"timestamps_s", "frame_index", "pose"}  # development: no hands
    assert arrays["pose"].shape == (120, 33, 4) and arrays["pose"].dtype == np.float32
    np.testing.assert_allclose(arrays["timestamps_s"], arrays["frame_index"] / 25.0)
    meta = lm_env.storage.get_json(FRAMES_BUCKET, "instagram/Cx1/landmarks/landmarks.json")
    assert meta["video"]["platform"] == "instagram" and meta["video"]["shortcode"] == "Cx1"
    assert meta["frames_processed"] == 120 and meta["sampling"]["fps_used"] == 10.0
    assert meta["model"]["version"] == "0.10.21"
    assert meta["npz"]["key"] == "instagram/Cx1/landmarks/landmarks.npz"
    # the video's temp dir was already gone and no result file was on disk while they went up
    # (npz, json, then preview.gif and trajectories.png)
    assert seen_files == [[], [], [], []]
    assert list(tmp.iterdir()) == []
    st = state(lm_env, "instagram", "Cx1")
    assert st.status == StageStatus.SUCCEEDED
    assert st.output_prefix == f"s3://{FRAMES_BUCKET}/instagram/Cx1/landmarks/"
    assert st.metrics["frames"] == 120


def test_a_large_result_goes_up_as_a_multipart_upload_from_memory(moto, tmp_path, monkeypatch):
    # given a result whose npz is over two 5 MiB parts (random values barely compress)
    import tempfile

    from shared.config import load_settings
    from shared.storage import S3Storage

    storage = S3Storage.from_settings(load_settings(tmp_dir=tmp_path / "lambda-tmp"))
    storage.s3.create_bucket(Bucket="results")
    rng = np.random.default_rng(0)
    T = 30_000
    result = LandmarksResult(
        timestamps_s=np.arange(T) / 30.0,
        frame_index=np.arange(T, dtype=np.int64),
        pose=rng.random((T, 33, 4), dtype=np.float32),
        hands=None,
        metadata={"frames_processed": T},
    )
    cfg = preset_config("production").with_overrides()
    cfg = cfg.model_copy(update={"s3": cfg.s3.model_copy(update={"chunk_size": 5 * MIB})})
    # every temp-file API points at an empty dir, which each request checks stays empty
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    seen: list[str] = []
    files_during: list[int] = []

    def record(op: str) -> Any:
        def hook(params: dict[str, Any], **_: Any) -> None:
            seen.append(op)
            files_during.append(len(list(tmp_path.rglob("*.*"))))

        return hook

    for op in ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "PutObject"):
        storage.s3.meta.events.register(f"provide-client-params.s3.{op}", record(op))
    opened: list[str] = []
    real_open = open

    def no_temp_files(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode or "a" in mode or "x" in mode:
            opened.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", no_temp_files)
    # when
    written = upload_result(storage, "results", "p/s/landmarks/", result, cfg)
    monkeypatch.undo()
    # then: one multipart upload of ceil(size / 5 MiB) parts, and the metadata by PutObject
    parts = -(-written // (5 * MIB))
    assert written > 10 * MIB and parts >= 3
    assert seen.count("CreateMultipartUpload") == 1
    assert seen.count("UploadPart") == parts
    assert seen.count("CompleteMultipartUpload") == 1
    assert seen.count("PutObject") == 1  # landmarks.json
    assert opened == []  # no file was opened for writing
    assert set(files_during) == {0} and not list(tmp_path.rglob("*.*"))
    body = storage.get_bytes("results", "p/s/landmarks/landmarks.npz")
    with np.load(io.BytesIO(body), allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["pose"], result.pose)


def test_message_options_and_bad_records_in_one_batch(lm_env, context, synth_clip):
    clip, _ = synth_clip
    put_video(lm_env, "instagram/Cx1/video.mp4", clip)
    put_video(lm_env, "instagram/Cx2/video.mp4", clip)
    event = {
        "Records": [
            sqs_record(
                {
                    "shortcode": "Cx1",
                    "platform": "instagram",
                    "options": {"landmarks": {"target_fps": 2, "max_frames": 5, "hands": True}},
                },
                "good",
            ),
            sqs_record("{not json", "malformed"),
            sqs_record({"shortcode": "../../etc", "platform": "instagram"}, "traversal"),
            sqs_record(
                {"shortcode": "Cx2", "platform": "instagram", "options": {"landmarks": {"fsp": 1}}},
                "bad-option",
            ),
        ]
    }
    response = lambda_handler(event, context)
    # every record is settled: the good one done, the bad ones recorded as permanent
    assert response == {"batchItemFailures": []}
    arrays = load_npz(lm_env, "instagram/Cx1/landmarks/landmarks.npz")
    assert arrays["frame_index"].tolist() == [0, 12, 25, 37, 50]  # floor(k * 12.5)
    assert arrays["hands"].shape == (5, 2, 21, 3)
    errors = sorted((e.error_class, e.retryable) for e in lm_env.status.errors())
    assert errors == [
        ("InvalidIdentifierError", False),
        ("InvalidMessageError", False),
        ("InvalidMessageError", False),
    ]
    assert state(lm_env, "instagram", "Cx2").status == StageStatus.FAILED
    assert "fsp" in state(lm_env, "instagram", "Cx2").last_error
    assert lm_env.storage.list_keys(FRAMES_BUCKET, "") == [
        "instagram/Cx1/landmarks/landmarks.json",
        "instagram/Cx1/landmarks/landmarks.npz",
        "instagram/Cx1/landmarks/preview.gif",
        "instagram/Cx1/landmarks/trajectories.png",
    ]


def test_too_little_time_left_defers_without_recording(lm_env, synth_clip):
    clip, _ = synth_clip
    put_video(lm_env, "instagram/Cx1/video.mp4", clip)
    event = sqs_event({"shortcode": "Cx1", "platform": "instagram"}, "{malformed")
    response = lambda_handler(event, LocalContext(timeout_s=30))
    assert failures(response) == {r["messageId"] for r in event["Records"]}
    assert lm_env.status.stages("instagram", "Cx1") == []


def test_running_out_of_time_mid_extraction_releases_the_claim(lm_env, synth_clip, env_settings):
    clip, _ = synth_clip
    put_video(lm_env, "instagram/Cx1/video.mp4", clip)
    ctx = FadingContext(timeout_s=900)
    lm_env.storage.s3.meta.events.register(
        "after-call.s3.GetObject", lambda **_: setattr(ctx, "fade", True)
    )
    event = sqs_event({"shortcode": "Cx1", "platform": "instagram"})
    assert failures(lambda_handler(event, ctx)) == {event["Records"][0]["messageId"]}
    st = state(lm_env, "instagram", "Cx1")
    assert (st.status, st.worker_id, st.last_error) == (StageStatus.PENDING, None, None)
    assert lm_env.storage.list_keys(FRAMES_BUCKET, "") == []
    assert list(Path(env_settings.tmp_dir).iterdir()) == []
    assert lambda_handler(event, LocalContext(timeout_s=900)) == {"batchItemFailures": []}
    assert state(lm_env, "instagram", "Cx1").status == StageStatus.SUCCEEDED


def test_duplicates_process_once(lm_env, context, synth_clip):
    clip, _ = synth_clip
    put_video(lm_env, "instagram/Cx1/video.mp4", clip)
    puts = count_calls(lm_env, "PutObject")
    body = {"shortcode": "Cx1", "platform": "instagram"}
    # two copies in one concurrent batch: the first runs, the repeat is acknowledged
    assert failures(lambda_handler(sqs_event(body, body), context)) == set()
    # the redelivery finds the stage done
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    assert puts.count("instagram/Cx1/landmarks/landmarks.npz") == 1
    assert state(lm_env, "instagram", "Cx1").attempts == 1


@pytest.mark.parametrize(
    ("data", "expected"), [(b"not a video\n" * 100, "not a readable video"), (b"", "empty")]
)
def test_corrupt_video_is_permanent_and_leaves_nothing(
    lm_env, context, env_settings, data, expected
):
    put_video(lm_env, "instagram/Bad1/video.mp4", data=data)
    response = lambda_handler(sqs_event({"shortcode": "Bad1", "platform": "instagram"}), context)
    assert response == {"batchItemFailures": []}
    st = state(lm_env, "instagram", "Bad1")
    assert st.status == StageStatus.FAILED
    assert st.last_error.startswith("CorruptVideoError") and expected in st.last_error
    assert lm_env.storage.list_keys(FRAMES_BUCKET, "") == []
    assert list(Path(env_settings.tmp_dir).iterdir()) == []


def test_a_bad_config_file_is_a_configuration_error(lm_env, context, synth_clip, tmp_path):
    clip, _ = synth_clip
    put_video(lm_env, "instagram/Cx1/video.mp4", clip)
    bad = tmp_path / "bad.json"
    bad.write_text('{"video": {"fps": 3}}')
    lm_env.stage_settings.override(LandmarksSettings, config=bad)
    event = sqs_event({"shortcode": "Cx1", "platform": "instagram"})
    # a configuration problem is not the message's fault: it goes back to SQS (then the DLQ)
    assert failures(lambda_handler(event, context)) == {event["Records"][0]["messageId"]}
    assert "video.fps" in state(lm_env, "instagram", "Cx1").last_error


# ----------------------------------------------------------------------- CLI and Python API
def test_cli_one_video_to_a_folder(tmp_path, synth_clip):
    clip, _ = synth_clip
    cfg = tmp_path / "config.json"
    assert (
        runner.invoke(app, ["config", "--preset", "fast_processing", "-o", str(cfg)]).exit_code == 0
    )
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "landmarks",
            str(clip),
            "--out",
            str(out),
            "--config",
            str(cfg),
            "--fps",
            "5",
            "--max-frames",
            "9",
            "--hands",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "9 frames at 5 fps" in result.output
    with np.load(out / "landmarks.npz", allow_pickle=False) as npz:
        assert npz["pose"].shape == (9, 33, 4) and npz["hands"].shape == (9, 2, 21, 3)
    meta = json.loads((out / "landmarks.json").read_text())
    assert meta["video"]["shortcode"] == "synthetic" and meta["sampling"]["max_frames"] == 9


def test_cli_needs_a_video_or_a_folder(tmp_path):
    result = runner.invoke(app, ["landmarks", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "either VIDEO" in result.output
    result = runner.invoke(app, ["landmarks", "x.mp4", "--out", str(tmp_path), "--preset", "turbo"])
    assert result.exit_code == 2 and "unknown preset 'turbo'" in result.output


def _folder(tmp_path: Path, clip: Path) -> Path:
    d = tmp_path / "videos"
    d.mkdir()
    (d / "a.mp4").write_bytes(clip.read_bytes())
    (d / "b clip.mov").write_bytes(clip.read_bytes())
    (d / "broken.mp4").write_bytes(b"nope" * 100)
    (d / "notes.txt").write_text("not a video")
    return d


def test_cli_folder_to_s3_reports_and_continues_past_failures(runtime, tmp_path, synth_clip):
    clip, _ = synth_clip
    folder = _folder(tmp_path, clip)
    result = runner.invoke(
        app,
        [
            "landmarks",
            "--video-dir",
            str(folder),
            "--s3-bucket",
            FRAMES_BUCKET,
            "--s3-prefix",
            "runs/1",
            "--preset",
            "development",
            "--max-frames",
            "6",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "broken.mp4: CorruptVideoError" in result.output
    keys = runtime.storage.list_keys(FRAMES_BUCKET, "runs/1/")
    assert keys == [
        "runs/1/a/landmarks.json",
        "runs/1/a/landmarks.npz",
        "runs/1/b_clip/landmarks.json",
        "runs/1/b_clip/landmarks.npz",
    ]


def test_the_seeds_s3_uploader_command_is_vidpipe_landmarks(monkeypatch, capsys):
    from vidpipe.cli import s3_uploader

    monkeypatch.setattr("sys.argv", ["s3-uploader", "--help"])
    with pytest.raises(SystemExit) as info:
        s3_uploader()
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "Usage: s3-uploader" in out and "--video-dir" in out and "--s3-bucket" in out


def test_python_api_matches_the_seed_snippets(runtime, tmp_path, synth_clip):
    clip, _ = synth_clip
    folder = _folder(tmp_path, clip)
    # seed: MediaPipeS3StreamingPipeline(...).run_streaming_pipeline(target_fps=30, max_frames=None)
    pipeline = LandmarksPipeline(
        folder, FRAMES_BUCKET, "api", preset="development", storage=runtime.storage
    )
    summary = pipeline.run_streaming_pipeline(target_fps=5, max_frames=None)
    assert (summary.processed, summary.failed, summary.total_frames) == (2, 1, 120)
    assert sorted(summary.errors) == ["broken.mp4"]
    assert summary.uploaded == [
        f"s3://{FRAMES_BUCKET}/api/a/landmarks.npz",
        f"s3://{FRAMES_BUCKET}/api/b_clip/landmarks.npz",
    ]
    one = extract_video_landmarks(clip, preset="fast_processing", target_fps=5, max_frames=4)
    assert one.pose.shape == (4, 33, 4) and one.timestamps_s.tolist() == [0, 0.2, 0.4, 0.6]


def test_local_run_with_the_landmarks_stage(tmp_path, no_people_clip):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    env.update(COLUMNS="200", LANDMARKS_PRESET="development")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vidpipe.cli",
            "local",
            "run",
            str(no_people_clip),
            "--stage",
            "landmarks",
            "--out",
            "out",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "status=succeeded" in proc.stdout and "dlq=0" in proc.stdout
    assert "pose (60, 33, 4)" in proc.stdout
    with np.load(tmp_path / "out" / "landmarks" / "landmarks.npz", allow_pickle=False) as npz:
        assert npz["pose"].shape == (60, 33, 4) and np.isnan(npz["pose"]).all()
        assert "hands" not in npz.files  # the config's preset (development) has no hands


def test_invoke_and_local_run_refuse_a_bad_config(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"video": {"target_fps": -1}}')
    result = runner.invoke(app, ["local", "run", "--stage", "landmarks", "--config", str(bad)])
    assert result.exit_code == 2 and "video.target_fps" in result.output
