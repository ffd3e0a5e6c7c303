"""Every setting with a unit says it in `.env.sample`, and errors report unit and range."""

from __future__ import annotations

import re

import pytest

from shared.config import Settings, env_name, setting_range, setting_unit
from shared.stages import STAGES
from tests.support.helpers import ROOT

CLASSES = [Settings, *(s.settings_class() for s in STAGES.values())]
#: Words that state each unit in a comment.
WORDS = {
    "milliseconds": ("millisecond", " ms"),
    "seconds": ("second", " s"),
    "MiB": ("MiB",),
    "bytes": ("byte",),
    "pixels": ("pixel",),
    "pixels, width x height": ("width x height",),
    "US dollars": ("USD",),
    "US dollars per million tokens": ("USD per million",),
    "frames": ("frame",),
    "percent": ("percent",),
    "frames per second": ("per second",),
}


def _comment_above(var: str) -> str:
    lines = (ROOT / ".env.sample").read_text().splitlines()
    i = next(i for i, line in enumerate(lines) if re.match(rf"^#?\s*{var}=", line))
    block = []
    # the comment lines right above, up to a commented-out variable of its own
    while (
        i > 0
        and lines[i - 1].startswith("#")
        and not re.match(r"^#\s*[A-Z][A-Z0-9_]+=", lines[i - 1])
    ):
        block.append(lines[i - 1])
        i -= 1
    return " ".join(reversed(block))


@pytest.mark.parametrize(
    "var",
    sorted(
        env_name(cls, f)
        for cls in CLASSES
        for f in cls.model_fields
        if setting_unit(env_name(cls, f))
    ),
)
def test_env_sample_states_the_unit(var):
    unit = setting_unit(var)
    assert unit is not None
    comment = _comment_above(var)
    assert any(w.lower() in comment.lower() for w in WORDS[unit]), (var, unit, comment)


def test_ranges_in_words():
    assert setting_range(Settings, "s3_retry_delay") == "0 to 60000"
    assert setting_range(Settings, "supabase_timeout_s") == "more than 0, at most 120"
    assert setting_range(Settings, "min_remaining_ms") == "at least 0"
    assert setting_range(Settings, "s3_bucket_videos") is None
