"""Settings: defaults, validation, and `.env.sample` kept in step with them."""

from __future__ import annotations

import re

import pytest

from shared.config import Settings, load_settings
from shared.errors import ConfigurationError
from tests.conftest import ROOT


def sample_vars() -> dict[str, str]:
    text = (ROOT / ".env.sample").read_text()
    return dict(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", text, flags=re.M))


def test_env_sample_documents_every_setting_and_nothing_else():
    fields = {name.upper() for name in Settings.model_fields}
    documented = set(sample_vars())
    pipeline_vars = {v for v in documented if not v.startswith(("AWS_", "POWERTOOLS_"))}
    assert pipeline_vars == fields


def test_every_setting_in_env_sample_has_a_comment():
    lines = (ROOT / ".env.sample").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^#?\s*[A-Z][A-Z0-9_]+=", line):
            assert i > 0 and lines[i - 1].startswith("#"), f"no comment above {line!r}"


def test_env_sample_values_are_valid_settings(monkeypatch):
    for k, v in sample_vars().items():
        if v:
            monkeypatch.setenv(k, v)
    Settings()


def test_defaults_match_the_issue():
    s = load_settings()
    assert (s.min_frames, s.scene_threshold, s.concurrency_limit, s.min_remaining_ms) == (
        3,
        27.0,
        2,
        60_000,
    )


@pytest.mark.parametrize(
    ("var", "value", "match"),
    [
        ("MIN_FRAMES", "0", "MIN_FRAMES"),
        ("SCENE_DETECTOR", "histogram", "SCENE_DETECTOR"),
        ("STATUS_BACKEND", "redis", "STATUS_BACKEND"),
        ("CONCURRENCY_LIMIT", "lots", "CONCURRENCY_LIMIT"),
        ("ABORT_REMAINING_MS", "999999", "ABORT_REMAINING_MS"),
    ],
)
def test_bad_configuration_fails_fast_naming_the_variable(monkeypatch, var, value, match):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigurationError, match=match):
        load_settings()
