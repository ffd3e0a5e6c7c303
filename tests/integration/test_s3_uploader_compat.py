"""The ``s3_uploader`` compatibility module: the replaced package's README snippets, verbatim,
against moto S3 with a real sample video (docs/compat/s3-uploader.md)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import numpy as np
import pytest

from functions.landmarks.config import load_config, memory_plan, preset_config
from s3_uploader import (
    MediaPipeS3StreamingPipeline,
    MediaPipeStreamingExtractor,
    PipelineConfig,
)
from shared.config import get_settings
from shared.errors import ConfigurationError
from tests.support.helpers import ROOT, SAMPLES, require_mediapipe, sample

REFERENCE = Path(os.environ.get("VIDPIPE_REFERENCE", SAMPLES.parent / "reference"))
BUCKETS = ("your-bucket-name", "your-bucket", "my-ml-bucket")
VIDEO = "basketball_shot.mp4"  # 101 frames at 30 fps, one player
BUNDLED_ONLY = "needs a model mediapipe 0.10.21 does not bundle"

# ---- the README's code blocks, copied verbatim (test_snippets_are_verbatim checks them) ----
QUICK_START = """\
from s3_uploader import MediaPipeS3StreamingPipeline

# 파이프라인 초기화
pipeline = MediaPipeS3StreamingPipeline(
    video_dir="/path/to/videos",
    s3_bucket="your-bucket-name",
    s3_prefix="sequences",
    aws_region="us-east-1"
)

# 파이프라인 실행
result = pipeline.run_streaming_pipeline(
    target_fps=30,
    max_frames=None
)

print(f"처리 완료: {result['processed_videos']}개 비디오")
"""

COMPONENTS = """\
from s3_uploader import MediaPipeStreamingExtractor, S3StreamingUploader

# 추출기만 사용
extractor = MediaPipeStreamingExtractor(
    model_complexity=1,
    min_detection_confidence=0.5
)

compressed_data, metadata = extractor.extract_sequence_to_memory(
    video_path="video.mp4",
    target_fps=30
)

# 업로더만 사용
uploader = S3StreamingUploader(
    bucket_name="your-bucket",
    region_name="us-east-1"
)

result = uploader.upload_data_streaming(
    data=compressed_data,
    s3_key="sequences/video_landmarks.pkl.gz"
)
"""

BATCH = """\
import glob
from pathlib import Path

# 여러 비디오 디렉토리 처리
video_dirs = glob.glob("/path/to/videos/*")

for video_dir in video_dirs:
    pipeline = MediaPipeS3StreamingPipeline(
        video_dir=video_dir,
        s3_bucket="your-bucket",
        s3_prefix=f"sequences/{Path(video_dir).name}"
    )
\x20\x20\x20\x20
    result = pipeline.run_streaming_pipeline()
    print(f"{video_dir}: {result['processed_videos']}개 처리")
"""  # the README has four spaces on the blank line

BASIC = """\
from s3_uploader import MediaPipeS3StreamingPipeline

pipeline = MediaPipeS3StreamingPipeline(
    video_dir="/Volumes/ExternalHD/videos",
    s3_bucket="my-ml-bucket",
    s3_prefix="pose-sequences"
)

result = pipeline.run_streaming_pipeline(
    target_fps=30,
    max_frames=None
)

print(f"성공: {result['processed_videos']}개")
print(f"실패: {result['failed_videos']}개")
"""

ADVANCED = """\
from s3_uploader import MediaPipeS3StreamingPipeline
from s3_uploader import PipelineConfig

# 커스텀 설정
config = PipelineConfig()
config.set('video.target_fps', 60)
config.set('mediapipe.model_complexity', 2)
config.set('s3.max_workers', 8)

pipeline = MediaPipeS3StreamingPipeline(
    video_dir="/path/to/videos",
    s3_bucket="your-bucket",
    s3_prefix="high-quality-sequences",
    **config.get_extractor_kwargs()
)

result = pipeline.run_streaming_pipeline()
"""

CUSTOM_CONFIG = """\
{
  "video": {
    "target_fps": 30,
    "max_frames": null
  },
  "mediapipe": {
    "model_complexity": 1,
    "min_detection_confidence": 0.5
  },
  "s3": {
    "max_workers": 4,
    "chunk_size": 8388608
  }
}
"""
SNIPPETS = [QUICK_START, COMPONENTS, BATCH, BASIC, ADVANCED]


def run_snippet(code: str, **placeholders: str) -> dict:
    for placeholder, value in placeholders.items():
        assert placeholder in code, placeholder
        code = code.replace(placeholder, value)
    namespace: dict = {"MediaPipeS3StreamingPipeline": MediaPipeS3StreamingPipeline}
    exec(compile(code, "<README snippet>", "exec"), namespace)
    return namespace


def code_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_snippets_are_verbatim():
    doc = REFERENCE / "s3-uploader.md"
    if not doc.is_file():
        pytest.skip(f"reference doc not found under {REFERENCE} (set VIDPIPE_REFERENCE)")
    text = doc.read_text(encoding="utf-8")
    python = code_blocks(text, "python")
    for snippet in SNIPPETS:
        assert snippet in python
    assert CUSTOM_CONFIG in code_blocks(text, "json")


@pytest.fixture
def s3(moto, monkeypatch, tmp_path):
    monkeypatch.setenv("TMP_DIR", str(tmp_path))
    get_settings.cache_clear()
    client = boto3.client("s3", region_name="us-east-1")
    for bucket in BUCKETS:
        client.create_bucket(Bucket=bucket)
    yield client
    get_settings.cache_clear()


@pytest.fixture
def videos(tmp_path) -> Path:
    require_mediapipe()
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(sample(VIDEO), folder / VIDEO)
    (folder / "notes.txt").write_text("not a video")
    return folder


def load_npz(s3, bucket: str, key: str) -> dict[str, np.ndarray]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with np.load(io.BytesIO(body), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.mark.samples
def test_quick_start_snippet(s3, videos, capsys):
    ns = run_snippet(QUICK_START, **{"/path/to/videos": str(videos)})
    assert capsys.readouterr().out == "처리 완료: 1개 비디오\n"
    result = ns["result"]
    assert (result["processed_videos"], result["failed_videos"], result["total_frames"]) == (
        1,
        0,
        101,
    )
    arrays = load_npz(s3, "your-bucket-name", "sequences/basketball_shot/landmarks.npz")
    assert arrays["pose"].shape == (101, 33, 4) and arrays["hands"].shape == (101, 2, 21, 3)
    meta = json.loads(
        s3.get_object(Bucket="your-bucket-name", Key="sequences/basketball_shot/landmarks.json")[
            "Body"
        ].read()
    )
    assert meta["sampling"]["target_fps"] == 30 and meta["pose_frames"] > 50


@pytest.mark.samples
def test_components_snippet_returns_our_npz_never_a_pickle(s3, videos, monkeypatch):
    monkeypatch.chdir(videos)
    shutil.copy(videos / VIDEO, videos / "video.mp4")
    ns = run_snippet(COMPONENTS)
    data, metadata = ns["compressed_data"], ns["metadata"]
    assert data[:2] == b"PK"  # a zip (np.savez_compressed), not a gzip'd pickle
    assert metadata["format"] == "npz" and metadata["compressed_bytes"] == len(data)
    assert metadata["frames_processed"] == 101
    assert ns["result"] == ns["result"] | {
        "success": True,
        "bucket": "your-bucket",
        "s3_key": "sequences/video_landmarks.pkl.gz",
        "size_bytes": len(data),
        "multipart": False,
    }
    arrays = load_npz(s3, "your-bucket", "sequences/video_landmarks.pkl.gz")
    assert arrays["pose"].shape == (101, 33, 4)


@pytest.mark.samples
def test_batch_snippet(s3, videos, tmp_path, capsys):
    parent = tmp_path / "many"
    (parent / "empty").mkdir(parents=True)
    shutil.copytree(videos, parent / "court")
    run_snippet(BATCH, **{"/path/to/videos": str(parent)})
    lines = sorted(capsys.readouterr().out.splitlines())
    assert lines == [f"{parent / 'court'}: 1개 처리", f"{parent / 'empty'}: 0개 처리"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="your-bucket")["Contents"]]
    assert sorted(keys) == [
        "sequences/court/basketball_shot/landmarks.json",
        "sequences/court/basketball_shot/landmarks.npz",
    ]


@pytest.mark.samples
def test_basic_example_snippet_counts_failures(s3, videos, capsys):
    (videos / "broken.mp4").write_bytes(b"not really a video")
    ns = run_snippet(BASIC, **{"/Volumes/ExternalHD/videos": str(videos)})
    assert capsys.readouterr().out == "성공: 1개\n실패: 1개\n"
    assert list(ns["result"]["errors"]) == ["broken.mp4"]
    assert ns["result"]["errors"]["broken.mp4"].startswith("CorruptVideoError: ")


def test_advanced_snippet_fails_on_model_complexity_2_with_the_config_message(s3, tmp_path):
    with pytest.raises(ConfigurationError, match=BUNDLED_ONLY) as info:
        run_snippet(ADVANCED, **{"/path/to/videos": str(tmp_path)})
    assert "mediapipe.model_complexity" in str(info.value)


@pytest.mark.samples
def test_advanced_snippet_with_the_bundled_model_runs_at_60_fps(s3, videos):
    code = ADVANCED.replace("config.set('mediapipe.model_complexity', 2)", "")
    ns = run_snippet(code, **{"/path/to/videos": str(videos)})
    assert ns["result"]["processed_videos"] == 1
    assert ns["pipeline"].config.video.target_fps == 60
    meta = json.loads(
        s3.get_object(
            Bucket="your-bucket", Key="high-quality-sequences/basketball_shot/landmarks.json"
        )["Body"].read()
    )
    assert meta["sampling"]["target_fps"] == 60 and meta["frames_processed"] == 101


# ---- PipelineConfig -------------------------------------------------------------------------
def test_pipeline_config_get_set_and_kwargs():
    config = PipelineConfig()
    assert config.get("video.target_fps") == 30 and config.get("mediapipe.hands") is True
    assert config.get("no.such", "fallback") == "fallback"
    config.set("video.target_fps", 60)
    config.set("performance.memory_limit_gb", 4)
    kwargs = config.get_extractor_kwargs()
    assert kwargs["target_fps"] == 60 and kwargs["memory_limit_gb"] == 4
    assert kwargs["model_complexity"] == 1
    assert config.get_uploader_kwargs() == {"max_workers": 10, "chunk_size": 8388608}
    extractor = MediaPipeStreamingExtractor(**kwargs)
    assert extractor.config.performance.memory_limit_gb == 4


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("mediapipe.model_complexity", 0, BUNDLED_ONLY),
        ("mediapipe.model_complexity", 2, BUNDLED_ONLY),
        ("video.target_fps", -1, "greater than 0"),
        ("video.fps", 30, "unknown config key 'video.fps'; video has video.target_fps"),
        ("gpu", True, "unknown config key 'gpu'"),
        ("s3.chunk_size", 1024, "greater than or equal to 5242880"),
    ],
)
def test_pipeline_config_refuses_bad_values_and_stays_unchanged(key, value, match):
    config = PipelineConfig()
    before = config.to_dict()
    with pytest.raises(ConfigurationError, match=match):
        config.set(key, value)
    assert config.to_dict() == before


def test_the_readme_custom_config_and_memory_limit_load(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(CUSTOM_CONFIG)
    assert PipelineConfig(path).get("s3.max_workers") == 4
    doc = json.loads(CUSTOM_CONFIG) | {"performance": {"memory_limit_gb": 4}}
    path.write_text(json.dumps(doc))
    assert load_config(path).performance.memory_limit_gb == 4


def test_model_complexity_0_fails_in_every_entry_point(s3):
    with pytest.raises(ConfigurationError, match=BUNDLED_ONLY):
        MediaPipeStreamingExtractor(model_complexity=0)
    with pytest.raises(ConfigurationError, match=BUNDLED_ONLY):
        MediaPipeS3StreamingPipeline("/nowhere", "your-bucket", "p", model_complexity=2)


def test_unknown_keyword_is_one_clear_error(s3):
    with pytest.raises(ConfigurationError, match=r"unknown option\(s\) use_gpu; known: "):
        MediaPipeS3StreamingPipeline("/nowhere", "your-bucket", "p", use_gpu=True)


def test_a_missing_folder_is_a_clear_error(s3, tmp_path):
    pipeline = MediaPipeS3StreamingPipeline(tmp_path / "absent", "your-bucket", "p")
    with pytest.raises(ConfigurationError, match="is not a directory"):
        pipeline.run_streaming_pipeline()


# ---- performance.memory_limit_gb ------------------------------------------------------------
def test_memory_plan_cuts_queued_frames_then_workers():
    frame = 1280 * 720 * 3
    assert memory_plan(None, frame, 4, 8, True) == (4, 8)
    assert memory_plan(64, frame, 4, 8, True) == (4, 8)
    w, q = memory_plan(1.0, frame, 4, 8, True)
    assert (w, q) < (4, 8) and w >= 1 and q >= 1
    assert memory_plan(0.1, frame, 4, 8, True) == (1, 1)  # never below one worker, one frame


@pytest.mark.samples
def test_memory_limit_bounds_workers_and_queue_in_a_real_run(videos):
    extractor = MediaPipeStreamingExtractor(memory_limit_gb=0.5, workers=2, max_frames=60)
    _, metadata = extractor.extract_sequence_to_memory(str(videos / VIDEO))
    assert metadata["timings"]["workers"] == 1 and metadata["timings"]["queue_frames"] == 1
    assert metadata["timings"]["memory_limit_gb"] == 0.5
    free = MediaPipeStreamingExtractor(workers=2, max_frames=60)
    assert free.extract_sequence_to_memory(str(videos / VIDEO))[1]["timings"]["workers"] == 2


# ---- s3-uploader-config ---------------------------------------------------------------------
def config_script(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("s3-uploader-config")
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )


@pytest.mark.parametrize(
    "preset", ["development", "production", "high_accuracy", "fast_processing"]
)
def test_config_script_writes_each_preset(tmp_path, preset):
    out = tmp_path / "cfg" / "config.json"
    proc = config_script("--preset", preset, "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert load_config(out) == preset_config(preset)
    assert PipelineConfig(out).to_dict() == json.loads(out.read_text())


def test_config_script_without_output_prints_json():
    proc = config_script("--preset", "development")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["video"]["target_fps"] == 10


def test_config_script_errors_are_one_line():
    proc = config_script("--preset", "ultra")
    assert proc.returncode == 2 and "invalid choice: 'ultra'" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = config_script("--output", "/proc/no/such/dir/config.json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("s3-uploader-config: cannot write /proc/no/such/dir/config.json")
