"""Multi-person landmarks (``max_people`` > 1): track ids through a real crossing, the arrays,
the main person, and the single-person path left as it was."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from functions.landmarks.config import preset_config
from functions.landmarks.landmarks import SCHEMA_VERSION, extract_landmarks
from tests.support.helpers import require_mediapipe, sample
from vidpipe.cli import app

require_mediapipe()

LEFT_HIP, RIGHT_HIP = 23, 24
#: vtest.avi frames 449-473: pedestrians 1 and 10 of the ground truth walk past each other
#: (their boxes overlap at frames 458-463); the clip is this region of the real frames.
CROSSING = {"frames": (449, 474), "region": (390, 142, 650, 378), "people": (1, 10)}


def config(**overrides):
    return preset_config("fast_processing").with_overrides(**overrides)


def _gt() -> dict[int, dict[int, tuple[float, float, float, float]]]:
    boxes: dict[int, dict[int, tuple[float, float, float, float]]] = defaultdict(dict)
    for line in sample("vtest_gt_mot15.txt").read_text().splitlines():
        frame, pid, x, y, w, h, *_ = line.split(",")
        boxes[int(frame) - 1][int(pid)] = (float(x), float(y), float(w), float(h))
    return boxes


@pytest.fixture(scope="module")
def crossing_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import cv2

    (f0, f1), (x0, y0, x1, y1) = CROSSING["frames"], CROSSING["region"]
    path = tmp_path_factory.mktemp("people") / "crossing.avi"
    cap = cv2.VideoCapture(str(sample("vtest.avi")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, f0)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (x1 - x0, y1 - y0))
    for _ in range(f0, f1):
        ok, frame = cap.read()
        assert ok
        out.write(np.ascontiguousarray(frame[y0:y1, x0:x1]))
    out.release()
    cap.release()
    return path


@pytest.fixture(scope="module")
def crossing(crossing_clip):
    return extract_landmarks(crossing_clip, config(max_people=4, workers=1))


@pytest.mark.samples
def test_two_people_walking_past_each_other_keep_their_ids(crossing):
    # given two real pedestrians of vtest.avi crossing in front of each other
    gt = _gt()
    (f0, _), (x0, y0, x1, y1) = CROSSING["frames"], CROSSING["region"]
    a, b = CROSSING["people"]
    ids: dict[tuple[int, str], set[int]] = defaultdict(set)
    for t in range(crossing.frames):
        frame = f0 + t
        phase = "before" if frame <= 456 else "after" if frame >= 466 else None
        if phase is None:
            continue
        for s in np.nonzero(crossing.track_ids[t] >= 0)[0]:
            pose = crossing.poses[t, s]
            hx = (pose[LEFT_HIP, 0] + pose[RIGHT_HIP, 0]) / 2 * (x1 - x0) + x0
            hy = (pose[LEFT_HIP, 1] + pose[RIGHT_HIP, 1]) / 2 * (y1 - y0) + y0
            inside = [
                p
                for p in (a, b)
                if gt[frame][p][0] <= hx <= gt[frame][p][0] + gt[frame][p][2]
                and gt[frame][p][1] <= hy <= gt[frame][p][1] + gt[frame][p][3]
            ]
            if len(inside) == 1:
                ids[(inside[0], phase)].add(int(crossing.track_ids[t, s]))
    # then each person has one track id before the crossing and the same one after it
    assert ids[(a, "before")] == ids[(a, "after")] and len(ids[(a, "before")]) == 1
    assert ids[(b, "before")] == ids[(b, "after")] and len(ids[(b, "before")]) == 1
    assert ids[(a, "before")] != ids[(b, "before")]


@pytest.mark.samples
def test_the_overlay_gif_colours_each_track_and_labels_its_id(crossing_clip):
    from PIL import Image

    from functions.landmarks.multi import track_styles
    from functions.landmarks.previews import (
        LandmarkPreviewParams,
        PreviewSampler,
        landmark_previews,
        overlay_frames,
    )

    # given the crossing with the GIF's sampler hooked in (10 fps clip, 5 GIF frames a second)
    sampler = PreviewSampler(10.0, LandmarkPreviewParams(width_px=480, rate_fps=5.0, max_s=10.0))
    result = extract_landmarks(crossing_clip, config(max_people=4, workers=1), on_sample=sampler)
    assert result.track_ids is not None and result.poses is not None
    overlays = overlay_frames(sampler, result)
    assert len(overlays) == 13  # 2.5 s at 5 a second
    styles = track_styles(result.track_ids)
    rows = {int(f): i for i, f in enumerate(result.frame_index)}
    checked = 0
    for frame_index, raw, drawn in overlays:
        t = rows[frame_index]
        h, w = raw.shape[:2]
        live = [s for s in range(4) if result.track_ids[t, s] >= 0]
        colours = [styles[int(result.track_ids[t, s])][0] for s in live]
        assert len(set(colours)) == len(colours)  # one colour per person in view
        for s in live:
            colour = np.array(styles[int(result.track_ids[t, s])][0])
            x0, y0, x1, y1 = np.clip(result.boxes[t, s] * [w, h, w, h], 0, [w, h, w, h]).astype(int)
            ink = (np.abs(drawn.astype(int) - colour).max(axis=2) < 8) & (
                np.abs(raw.astype(int) - colour).max(axis=2) >= 8
            )
            # the skeleton in the track's colour inside its box ...
            assert ink[y0 : y1 + 1, x0 : x1 + 1].sum() >= 20
            # ... and its "#id" label in that colour just above the head (baseline 3 px above
            # the box, at least 10 px from the top)
            base = min(max(y0 - 3, 10), h - 1)
            assert ink[base - 12 : base + 2, x0 : x0 + 24].sum() >= 5
            checked += 1
    assert checked >= 2 * len(overlays) - 2  # both people in (nearly) every GIF frame
    gif = Image.open(io.BytesIO(landmark_previews(result, sampler)["preview.gif"]))
    assert gif.n_frames == 13


@pytest.mark.samples
def test_multi_person_arrays_summaries_and_main_person(crossing):
    T = crossing.frames
    assert T == 25
    assert crossing.poses.shape == (T, 4, 33, 4) and crossing.poses.dtype == np.float32
    assert crossing.track_ids.shape == (T, 4) and crossing.track_ids.dtype == np.int32
    assert crossing.boxes.shape == (T, 4, 4) and crossing.boxes.dtype == np.float32
    empty = crossing.track_ids < 0
    assert np.isnan(crossing.poses[empty]).all() and np.isnan(crossing.boxes[empty]).all()
    assert not np.isnan(crossing.poses[~empty]).any()
    # two people in most frames
    assert ((~empty).sum(axis=1) >= 2).mean() >= 0.8
    # boxes contain their landmarks
    occupied = crossing.poses[~empty]
    boxes = crossing.boxes[~empty]
    assert np.all(occupied[:, :, 0].min(axis=1) >= boxes[:, 0] - 1e-6)
    assert np.all(occupied[:, :, 1].max(axis=1) <= boxes[:, 3] + 1e-6)
    meta = crossing.metadata
    assert meta["schema_version"] == SCHEMA_VERSION == 2
    people = meta["people"]
    tracks = {t["id"]: t for t in people["tracks"]}
    assert set(tracks) == set(np.unique(crossing.track_ids[~empty]).tolist())
    for tid, t in tracks.items():
        rows = (crossing.track_ids == tid).any(axis=1)
        assert t["frames_seen"] + t["frames_filled"] == rows.sum()
        assert t["first_frame"] == crossing.frame_index[rows][0]
        assert t["last_frame"] == crossing.frame_index[rows][-1]
        assert 0 < t["mean_visibility"] <= 1
    # pose is the main person: the track seen in the most frames
    main = people["main_track_id"]
    assert tracks[main]["frames_seen"] == max(t["frames_seen"] for t in tracks.values())
    rows, slots = np.nonzero(crossing.track_ids == main)
    np.testing.assert_array_equal(crossing.pose[rows], crossing.poses[rows, slots])
    # and the npz carries the new arrays, without pickle
    with np.load(io.BytesIO(crossing.to_npz_bytes()), allow_pickle=False) as npz:
        assert {"poses", "track_ids", "boxes", "pose"} <= set(npz.files)
        assert meta["arrays"]["poses"]["shape"] == [T, 4, 33, 4]


@pytest.mark.samples
def test_sports2d_main_person_matches_the_single_person_path():
    # given the one-person demo, single- and multi-person
    cfg = config(target_fps=10, max_frames=40)
    one = extract_landmarks(sample("sports2d_demo.mp4"), cfg)
    many = extract_landmarks(sample("sports2d_demo.mp4"), cfg.with_overrides(max_people=3))
    # then the main person is found as often and in the same place
    found = ~np.isnan(many.pose[:, 0, 0])
    assert found.mean() >= 0.9
    both = found & ~np.isnan(one.pose[:, 0, 0])
    hip = lambda p: (p[:, LEFT_HIP, :2] + p[:, RIGHT_HIP, :2]) / 2  # noqa: E731
    gap = np.linalg.norm(hip(many.pose[both]) - hip(one.pose[both]), axis=1)
    assert np.median(gap) < 0.02
    # one person: one track holds nearly every frame
    assert many.metadata["people"]["tracks"][0]["frames_seen"] >= 0.9 * many.frames


def test_multi_person_on_a_video_without_people(no_people_clip):
    result = extract_landmarks(no_people_clip, config(target_fps=5, max_people=3))
    assert result.poses is not None and result.track_ids is not None
    assert (result.track_ids == -1).all() and np.isnan(result.poses).all()
    assert np.isnan(result.pose).all() and result.metadata["detection_rate"] == 0.0
    assert result.metadata["people"]["tracks"] == []
    assert result.metadata["people"]["main_track_id"] is None


def test_single_person_outputs_keep_their_arrays(synth_clip):
    clip, _ = synth_clip
    result = extract_landmarks(clip, config(target_fps=2))
    assert result.poses is None and result.track_ids is None and result.boxes is None
    assert "people" not in result.metadata
    with np.load(io.BytesIO(result.to_npz_bytes()), allow_pickle=False) as npz:
        assert set(npz.files) == {"timestamps_s", "frame_index", "pose"}


def test_cli_max_people_writes_the_multi_person_arrays(tmp_path, no_people_clip):
    runner = CliRunner()
    out = tmp_path / "out"
    args = ["landmarks", str(no_people_clip), "--out", str(out), "--preset", "fast_processing"]
    result = runner.invoke(app, [*args, "--fps", "2", "--max-people", "3"])
    assert result.exit_code == 0, result.output
    with np.load(out / "landmarks.npz", allow_pickle=False) as npz:
        assert npz["poses"].shape == (12, 3, 33, 4) and npz["track_ids"].shape == (12, 3)
        assert npz["boxes"].shape == (12, 3, 4)
    meta = json.loads((out / "landmarks.json").read_text())
    assert meta["people"]["max_people"] == 3 and meta["schema_version"] == 2
    # hands are single-person: the hands presets refuse more people unless hands go off
    refused = runner.invoke(app, [*args[:4], "--preset", "production", "--max-people", "2"])
    assert refused.exit_code != 0 and "hands" in refused.output
