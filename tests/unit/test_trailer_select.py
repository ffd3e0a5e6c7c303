"""Trailer profiles, scene scoring and shot selection (pure code, no video)."""

from __future__ import annotations

import itertools
import json

import pytest

from functions.trailer.profiles import (
    EMOTIONS,
    ProfileError,
    builtin,
    builtin_profiles,
    load_profile_file,
    parse_profile,
    resolve_profile,
)
from functions.trailer.select import (
    SelectParams,
    TooFewScenesError,
    VideoTooShortError,
    build_edl,
    edl_json,
    score_scenes,
    select_shots,
    timecode,
)
from shared.manifest import FrameManifest

FPS = 25.0
OUTPUT = {"file": "trailer.mp4", "format": "mp4", "width": 640, "height": 360}


def manifest(cuts: list[int], frames: int, fps: float = FPS) -> FrameManifest:
    bounds = [0, *cuts, frames]
    scenes = []
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        mid = (a + b) // 2
        scenes.append(
            {
                "index": i,
                "start_frame": a,
                "end_frame": b,
                "start_s": a / fps,
                "end_s": b / fps,
                "keyframe": {"frame": mid, "time_s": mid / fps, "file": f"{i}.jpg"},
            }
        )
    return FrameManifest.parse(
        {
            "video": {
                "platform": "test",
                "shortcode": "clip",
                "fps": fps,
                "frame_count": frames,
                "duration_s": frames / fps,
                "width": 640,
                "height": 360,
            },
            "detector": {"name": "content", "threshold": 27.0, "min_scene_len_frames": 15},
            "fallback": False,
            "scenes": scenes,
        }
    )


def frame(index: int, labels: dict[str, float], *, faces: list[dict] | None = None, cats=None):
    return {
        "frame": index,
        "time_s": index / FPS,
        "scene": 0,
        "faces_checked": faces is not None,
        "labels": [
            {
                "name": n,
                "confidence": c,
                "categories": list((cats or {}).get(n, [])),
                "parents": [],
                "instances": 0,
            }
            for n, c in labels.items()
        ],
        "faces": faces or [],
        "celebrities": [],
    }


def face(**emotions: float) -> dict:
    return {
        "bounding_box": {},
        "confidence": 99.0,
        "age_range": {"low": 20, "high": 30},
        "gender": {"value": "Female", "confidence": 99.0},
        "emotions": [{"type": t, "confidence": c} for t, c in emotions.items()],
    }


# six scenes of 100 frames (4 s each at 25 fps); one analysed frame per scene
M6 = manifest([100, 200, 300, 400, 500], 600)


def analysis(per_scene: list[dict[str, float]], emulated: bool = False, cats=None) -> dict:
    return {
        "schema_version": 1,
        "emulated": emulated,
        "frame_source": "manifest",
        "frames": [frame(100 * i + 50, labels, cats=cats) for i, labels in enumerate(per_scene)],
    }


GLASS = {"id": "glass_lover", "name": "Glass lover", "labels": {"Glass": 3.0, "Jar": 2.0}}


def test_builtins_are_the_four_documented_profiles():
    ids = [p.id for p in builtin_profiles()]
    assert ids == ["action_enthusiast", "family_viewer", "thriller_buff", "romance_devotee"]
    for p in builtin_profiles():
        assert set(p.emotions) <= set(EMOTIONS)
        assert p.labels and p.emotions
    assert builtin("family_viewer").labels["Weapon"] < 0


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(ProfileError, match="unknown profile 'horror_fan'; the built-ins are "):
        resolve_profile("horror_fan")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "x", "name": "X", "emotions": {"EXCITED": 1}}, r"emotions\.EXCITED"),
        ({"id": "x", "name": "X", "labels": {"Car": 99}}, r"labels\.Car: Input should be less"),
        ({"id": "Bad Id", "name": "X"}, r"id: String should match pattern"),
        ({"id": "x", "name": "X", "colour": "red"}, r"colour: Extra inputs are not permitted"),
        ({"name": "X"}, r"id: Field required"),
        (["Car"], "a custom profile is a JSON object"),
    ],
)
def test_custom_profiles_are_validated_with_clear_errors(data, message):
    with pytest.raises(ProfileError, match=message):
        parse_profile(data, where="options.trailer.profiles[0]")


def test_profile_file(tmp_path):
    path = tmp_path / "glass.json"
    path.write_text(json.dumps(GLASS))
    assert load_profile_file(path).labels == {"Glass": 3.0, "Jar": 2.0}
    path.write_text("{not json")
    with pytest.raises(ProfileError, match=r"glass\.json: not JSON"):
        load_profile_file(path)


def test_scoring_records_reasons():
    p = parse_profile(
        {
            "id": "t",
            "name": "T",
            "labels": {"Car": 2.0},
            "categories": {"Vehicles and Automotive": 1.0},
            "emotions": {"HAPPY": 1.0},
            "face_weight": 0.5,
        }
    )
    doc = {
        "frames": [
            frame(
                10,
                {"Car": 100.0, "Truck": 50.0},
                faces=[face(HAPPY=80.0, SAD=10.0)],
                cats={"Truck": ["Vehicles and Automotive"]},
            )
        ]
    }
    scores = score_scenes(manifest([], 100), doc, p)
    assert scores[0].score == pytest.approx(2.0 + 0.5 + 0.8 + 0.5)
    reasons = {(r.kind, r.name): r.contribution for r in scores[0].reasons}
    assert reasons == pytest.approx(
        {
            ("label", "Car"): 2.0,
            ("category", "Vehicles and Automotive"): 0.5,
            ("emotion", "HAPPY"): 0.8,
            ("faces", "faces"): 0.5,
        }
    )
    assert scores[0].reasons[0].name == "Car"


def test_a_profile_whose_labels_occur_in_two_scenes_selects_those_scenes():
    doc = analysis(
        [{"Person": 99}, {"Glass": 95}, {"Table": 90}, {"Jar": 97, "Person": 99}, {}, {"Box": 90}]
    )
    shots = select_shots(M6, doc, parse_profile(GLASS), SelectParams())
    assert [s.scene.scene.index for s in shots] == [1, 3]
    assert [(s.in_frame, s.out_frame) for s in shots] == [(100, 200), (300, 400)]


def test_shots_fill_the_budget_in_source_order_inside_their_scenes():
    doc = analysis([{"Glass": 50 + 8 * i} for i in range(6)])
    params = SelectParams(max_duration_s=10.0, max_shot_s=3.0)
    shots = select_shots(M6, doc, parse_profile(GLASS), params)
    total = sum(s.length for s in shots)
    assert total <= 10 * FPS
    assert total == 250  # 3 + 3 + 3 + 1 s: the last one trimmed to what was left
    assert [s.in_frame for s in shots] == sorted(s.in_frame for s in shots)
    for s in shots:
        sc = s.scene.scene
        assert sc.start_frame <= s.in_frame < s.out_frame <= sc.end_frame
    # quotas: one shot in each third, though the late scenes score more
    assert {s.third for s in shots} == {0, 1, 2}
    assert shots[0].rule == "quota:early"


def test_long_scenes_are_trimmed_around_their_best_frame():
    m = manifest([250], 500)  # two 10 s scenes
    doc = {
        "frames": [
            frame(30, {"Glass": 60}),
            frame(200, {"Glass": 99}),  # the best frame of scene 0, near its end
            frame(300, {"Jar": 90}),
        ]
    }
    shots = select_shots(m, doc, parse_profile(GLASS), SelectParams(max_shot_s=4.0))
    assert [(s.in_frame, s.out_frame) for s in shots] == [(150, 250), (250, 350)]


def test_crossfades_cost_frames_per_join():
    doc = analysis([{"Glass": 90}] * 6)
    params = SelectParams(max_duration_s=8.0, transition="crossfade", crossfade_s=0.4)
    edl = build_edl(M6, doc, parse_profile(GLASS), params, output=OUTPUT)
    assert edl["parameters"]["transition_frames"] == 10
    shots = edl["shots"]
    assert edl["duration_frames"] == sum(s["frames"] for s in shots) - 10 * (len(shots) - 1)
    assert edl["duration_frames"] <= 200
    for a, b in itertools.pairwise(shots):
        assert b["output"]["in_frame"] == a["output"]["out_frame"] - 10


def test_too_few_usable_scenes_is_permanent_and_says_why():
    doc = analysis([{"Glass": 90}, {}, {}, {}, {}, {}])
    with pytest.raises(TooFewScenesError, match=r"1 usable scene\(s\), 2 needed") as info:
        select_shots(M6, doc, parse_profile(GLASS), SelectParams())
    assert not info.value.retryable
    assert "1 score above zero" in str(info.value)


def test_a_video_shorter_than_the_minimum_shot_is_permanent():
    with pytest.raises(VideoTooShortError, match=r"0.80 s long, shorter than the minimum shot"):
        select_shots(manifest([], 20), {"frames": []}, parse_profile(GLASS), SelectParams())


def test_the_edl_is_byte_identical_twice_and_says_when_emulated():
    # what the local mode's emulation answers for every frame (moto's canned DetectLabels)
    doc = analysis(
        [{"Mobile Phone": 99.9}] * 6,
        emulated=True,
        cats={"Mobile Phone": ["Technology and Computing"]},
    )
    p = builtin("action_enthusiast")
    a = edl_json(build_edl(M6, doc, p, SelectParams(), output=OUTPUT))
    b = edl_json(build_edl(M6, json.loads(json.dumps(doc)), p, SelectParams(), output=OUTPUT))
    assert a == b
    edl = json.loads(a)
    assert edl["schema_version"] == 1
    assert edl["analysis"]["emulated"] is True and "no faces" in edl["analysis"]["note"]
    shot = edl["shots"][0]
    assert shot["source"]["in_tc"] == timecode(shot["source"]["in_frame"], FPS)
    assert shot["reasons"] == [
        {
            "kind": "category",
            "name": "Technology and Computing",
            "weight": 0.5,
            "frames": 1,
            "contribution": 0.4995,
        }
    ]
    assert shot["labels"] == ["Mobile Phone"]


def test_timecode():
    assert timecode(0, 25) == "00:00:00:00"
    assert timecode(25 * 3661 + 7, 25) == "01:01:01:07"
    assert timecode(30, 30000 / 1001) == "00:00:01:00"


def test_planning_the_trailer_plans_its_dependencies_first():
    from shared.plan import build_plan
    from shared.stages import Stage, spec

    plan = build_plan(["trailer"], {"trailer": {"profiles": ["family_viewer"]}}, source="message")
    assert plan.stages == (Stage.FRAME_EXTRACT, Stage.REKOGNITION, Stage.TRAILER)
    assert plan.deps(Stage.TRAILER) == (Stage.FRAME_EXTRACT, Stage.REKOGNITION)
    assert spec("trailer").paid and spec("trailer").folder == "trailer"
