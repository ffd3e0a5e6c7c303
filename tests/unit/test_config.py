"""Settings: defaults, validation, and `.env.sample` kept in step with every settings class."""

from __future__ import annotations

import re

import pytest

from functions.api.settings import ApiSettings
from functions.frame_extract.settings import FrameExtractSettings
from functions.rekognition.settings import RekognitionSettings
from shared.config import Settings, env_name, load_settings, load_stage_settings
from shared.errors import ConfigurationError
from shared.stages import STAGES
from tests.support.helpers import ROOT

#: The core settings, the API's and every stage's own class, as the registry names them.
CLASSES = [Settings, ApiSettings, *(s.settings_class() for s in STAGES.values())]


def sample_vars() -> dict[str, str]:
    text = (ROOT / ".env.sample").read_text()
    return dict(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", text, flags=re.M))


def test_env_sample_documents_every_setting_and_nothing_else():
    fields = {env_name(cls, name) for cls in CLASSES for name in cls.model_fields}
    documented = set(sample_vars())
    pipeline_vars = {v for v in documented if not v.startswith(("AWS_", "POWERTOOLS_"))}
    assert pipeline_vars == fields


def test_no_two_classes_read_the_same_variable():
    names = [env_name(cls, name) for cls in CLASSES for name in cls.model_fields]
    assert len(names) == len(set(names))


def test_every_setting_in_env_sample_has_a_comment():
    lines = (ROOT / ".env.sample").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^#?\s*[A-Z][A-Z0-9_]+=", line):
            assert i > 0 and lines[i - 1].startswith("#"), f"no comment above {line!r}"


def test_env_sample_values_are_valid_settings(monkeypatch):
    for k, v in sample_vars().items():
        if v:
            monkeypatch.setenv(k, v)
    for cls in CLASSES:
        cls()


def test_defaults_match_the_issue():
    s = load_settings()
    fe = load_stage_settings(FrameExtractSettings)
    assert (fe.min_frames, fe.scene_threshold, s.concurrency_limit, s.min_remaining_ms) == (
        3,
        27.0,
        2,
        60_000,
    )


@pytest.mark.parametrize(
    ("cls", "var", "value", "match"),
    [
        (FrameExtractSettings, "MIN_FRAMES", "0", "MIN_FRAMES"),
        (FrameExtractSettings, "SCENE_DETECTOR", "histogram", "SCENE_DETECTOR"),
        (RekognitionSettings, "REKOGNITION_MAX_FRAMES", "0", "REKOGNITION_MAX_FRAMES"),
        (Settings, "STATUS_BACKEND", "redis", "STATUS_BACKEND"),
        (Settings, "CONCURRENCY_LIMIT", "lots", "CONCURRENCY_LIMIT"),
        (Settings, "ABORT_REMAINING_MS", "999999", "ABORT_REMAINING_MS"),
    ],
)
def test_bad_configuration_fails_fast_naming_the_variable(monkeypatch, cls, var, value, match):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigurationError, match=match):
        load_stage_settings(cls)
