"""Landmarks presets, the JSON config file, per-message options, and the sampling plan."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from functions.landmarks.config import (
    PRESETS,
    LandmarksConfig,
    Preset,
    config_for_message,
    load_config,
    preset_config,
    resolve_config,
)
from functions.landmarks.landmarks import planned_samples, sample_index, sample_step
from shared.errors import ConfigurationError, InvalidMessageError
from vidpipe.cli import app

runner = CliRunner()


@pytest.mark.parametrize("preset", list(Preset))
def test_config_command_writes_a_file_that_loads_back_as_the_preset(tmp_path, preset):
    target = tmp_path / "cfg" / "config.json"
    result = runner.invoke(app, ["config", "--preset", preset.value, "--output", str(target)])
    assert result.exit_code == 0, result.output
    doc = json.loads(target.read_text())
    assert set(doc) == {"video", "mediapipe", "s3", "processing", "performance"}
    assert doc["performance"] == {"memory_limit_gb": None}
    assert set(doc["video"]) == {"target_fps", "max_frames"}
    assert {
        "model_complexity",
        "min_detection_confidence",
        "min_tracking_confidence",
        "hands",
    } <= set(doc["mediapipe"])
    assert set(doc["s3"]) == {"max_workers", "chunk_size"}
    assert load_config(target) == preset_config(preset)


def test_presets_differ_where_documented():
    dev, prod, high, fast = (preset_config(p) for p in Preset)
    assert (dev.video.target_fps, dev.video.max_frames, dev.mediapipe.hands) == (10.0, 300, False)
    assert (prod.video.target_fps, prod.video.max_frames, prod.mediapipe.hands) == (
        30.0,
        None,
        True,
    )
    assert high.mediapipe.min_detection_confidence == 0.7 and high.video.target_fps == 60.0
    assert fast.mediapipe.hands is False and fast.video.target_fps == 10.0
    assert all(preset_config(p).s3.chunk_size == 8 * 1024 * 1024 for p in PRESETS)


def test_a_partial_file_takes_the_defaults(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"video": {"target_fps": 12}}')
    cfg = load_config(path)
    assert cfg.video.target_fps == 12 and cfg.video.max_frames is None
    assert cfg.s3 == LandmarksConfig().s3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"video": {"target_fsp": 12}}', "video.target_fsp: Extra inputs are not permitted"),
        ('{"mediapipe": {"model_complexity": 2}}', "does not bundle"),
        ('{"s3": {"chunk_size": 1024}}', "s3.chunk_size"),
        ('{"video": {"target_fps": 0}}', "video.target_fps"),
        ("{not json", "not readable JSON"),
    ],
)
def test_bad_config_files_name_the_problem(tmp_path, text, expected):
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=r"invalid landmarks config|not readable") as info:
        load_config(path)
    assert expected in str(info.value)


def test_missing_file_unknown_preset_and_both_sources():
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config("/nonexistent/config.json")
    with pytest.raises(ConfigurationError, match="choose from development, production"):
        preset_config("turbo")
    with pytest.raises(ConfigurationError, match="not both"):
        resolve_config(preset="production", config_path="x.json")


def test_message_options_override_and_reject_unknown_keys():
    base = preset_config(Preset.PRODUCTION)
    cfg = config_for_message(base, {"target_fps": 5, "max_frames": 20, "hands": False})
    assert (cfg.video.target_fps, cfg.video.max_frames, cfg.mediapipe.hands) == (5, 20, False)
    assert config_for_message(base, {"preset": "development"}).video.max_frames == 300
    with pytest.raises(InvalidMessageError, match="fps"):
        config_for_message(base, {"fps": 5})
    with pytest.raises(InvalidMessageError):
        config_for_message(base, {"max_frames": 0})


@pytest.mark.parametrize(
    ("fps", "target", "count", "cap", "expected"),
    [
        (30.0, 30.0, 230, None, 230),  # every frame
        (30.0, 60.0, 230, None, 230),  # never more than every frame
        (30.0, 10.0, 230, None, 77),  # 0, 3, ..., 228
        (25.0, 10.0, 300, None, 120),  # step 2.5: 0, 2, 5, 7, ...
        (29.97, 30.0, 720, None, 720),
        (30.0, 10.0, 230, 40, 40),
        (30.0, 10.0, 0, None, None),  # unknown length
    ],
)
def test_sampling_plan(fps, target, count, cap, expected):
    step = sample_step(fps, target)
    assert planned_samples(count, step, cap) == expected
    if expected:
        assert sample_index(expected - 1, step) < count
        assert count == 0 or cap or sample_index(expected, step) >= count


def test_sample_indices_follow_floor_of_k_times_step():
    step = sample_step(25.0, 10.0)
    assert [sample_index(k, step) for k in range(6)] == [0, 2, 5, 7, 10, 12]
