"""Plans: where they come from, their order, and the errors that name what is wrong."""

from __future__ import annotations

import pytest

from shared.errors import InvalidMessageError
from shared.pipeline import overall_state
from shared.plan import build_plan, resolve_plan
from shared.stages import Stage
from shared.status import PlanState, StageStatus

FE, LM, REK, PH = Stage.FRAME_EXTRACT, Stage.LANDMARKS, Stage.REKOGNITION, Stage.PHYSICS


def plan(**kw):
    args = {
        "message_stages": None,
        "message_options": {},
        "metadata": {},
        "platform": "instagram",
        "routes": {"handball": ["frame-extract", "physics"]},
        "default": ["frame-extract"],
    }
    return resolve_plan(**(args | kw))


def test_the_first_source_that_names_stages_wins():
    assert plan().stages == (FE,) and plan().source == "default"
    assert plan(platform="handball").stages == (FE, PH)
    meta = {"vidpipe-stages": "landmarks, frame-extract"}
    assert plan(platform="handball", metadata=meta).stages == (LM, FE)
    assert plan(platform="handball", metadata=meta).source == "metadata"
    msg = plan(metadata=meta, message_stages=("rekognition",))
    assert msg.stages == (REK,) and msg.source == "message"


def test_a_direct_job_at_a_stage_queue_plans_that_stage():
    p = resolve_plan(
        message_stages=None,
        message_options={},
        metadata={},
        platform="p",
        routes={},
        default=["frame-extract"],
        entry_stage=REK,
    )
    assert (p.stages, p.source) == ((REK,), "stage")


def test_rekognition_runs_after_frame_extract_when_both_are_planned():
    p = build_plan(["rekognition", "frame-extract"], None, source="message")
    assert p.stages == (FE, REK)
    assert p.roots() == (FE,) and p.deps(REK) == (FE,) and p.dependents(FE) == (REK,)
    # alone, rekognition waits for nothing (it falls back to windows)
    assert build_plan(["rekognition"], None, source="message").roots() == (REK,)


def test_independent_stages_start_together():
    p = build_plan(["landmarks", "frame-extract", "physics"], None, source="message")
    assert p.roots() == (LM, FE, PH)


@pytest.mark.parametrize(
    ("names", "options", "match"),
    [
        (["frmae-extract"], None, "unknown stage 'frmae-extract'"),
        (["frame-extract"], {"frmae-extract": {}}, "options: unknown stage 'frmae-extract'"),
        (["frame-extract"], {"physics": {}}, "options for 'physics', which is not in the plan"),
        (["frame-extract"], {"frame-extract": 3}, "must be an object"),
        ([], None, "non-empty list"),
    ],
)
def test_bad_plans_name_what_is_wrong(names, options, match):
    with pytest.raises(InvalidMessageError, match=match):
        build_plan(names, options, source="message")


def test_bad_metadata_is_a_clear_permanent_error():
    with pytest.raises(InvalidMessageError, match="metadata vidpipe-stages: unknown stage 'x'"):
        plan(metadata={"vidpipe-stages": "frame-extract,x"})
    with pytest.raises(InvalidMessageError, match="vidpipe-options is not JSON"):
        plan(metadata={"vidpipe-stages": "frame-extract", "vidpipe-options": "{"})


def test_options_travel_with_metadata():
    p = plan(
        metadata={
            "vidpipe-stages": "frame-extract",
            "vidpipe-options": '{"frame-extract": {"detector": "adaptive"}}',
        }
    )
    assert p.options == {"frame-extract": {"detector": "adaptive"}}


def test_overall_state():
    s, f, k = StageStatus.SUCCEEDED, StageStatus.FAILED, StageStatus.SKIPPED
    assert overall_state([s, s]) == PlanState.SUCCEEDED
    assert overall_state([f, k]) == PlanState.FAILED
    assert overall_state([s, k]) == PlanState.PARTIAL


def test_settings_refuse_unknown_stages(monkeypatch):
    from shared.config import load_settings
    from shared.errors import ConfigurationError

    monkeypatch.setenv("PIPELINE_ROUTES", '{"handball": ["frame-extract", "physcis"]}')
    with pytest.raises(ConfigurationError, match=r"PIPELINE_ROUTES.*unknown stage 'physcis'"):
        load_settings()
    monkeypatch.delenv("PIPELINE_ROUTES")
    monkeypatch.setenv("PIPELINE_DEFAULT_STAGES", "frame-extract, landmarks")
    assert load_settings().default_stages == ["frame-extract", "landmarks"]
