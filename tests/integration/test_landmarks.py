"""Landmark extraction on real videos with ground truth, and on generated clips."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from functions.landmarks.config import preset_config
from functions.landmarks.landmarks import LandmarksResult, extract_landmarks
from shared.errors import CorruptVideoError, OutOfTimeError
from tests.support.helpers import require_mediapipe, sample

require_mediapipe()


LEFT_HIP, RIGHT_HIP, LEFT_WRIST, RIGHT_WRIST = 23, 24, 15, 16


def config(**overrides):
    return preset_config("fast_processing").with_overrides(**overrides)


def roundtrip(result: LandmarksResult) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(result.to_npz_bytes()), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.mark.samples
def test_sports2d_pose_is_found_in_most_frames_and_moves():
    # given the full-body demo (walking, jumping jacks, a flip) sampled at 10 fps
    result = extract_landmarks(sample("sports2d_demo.mp4"), config(target_fps=10))
    # then a pose is found in at least 90% of the sampled frames
    found = ~np.isnan(result.pose[:, 0, 0])
    assert result.frames == 77
    assert found.mean() >= 0.9
    assert result.metadata["detection_rate"] == pytest.approx(found.mean(), abs=1e-6)
    # and the landmarks move: wrists travel across the frame, not a constant
    pose = result.pose[found]
    assert np.nanstd(pose[:, LEFT_WRIST, 0]) > 0.03
    assert np.nanstd(pose[:, RIGHT_WRIST, 1]) > 0.03
    assert (np.abs(np.diff(pose[:, :, :2], axis=0)) > 1e-3).mean() > 0.5
    # values are in the documented ranges
    assert np.all((pose[:, :, 3] >= 0) & (pose[:, :, 3] <= 1))
    assert np.nanmedian(pose[:, :, :2]) == pytest.approx(0.5, abs=0.3)


def _gt_boxes() -> dict[int, list[tuple[float, float, float, float]]]:
    boxes: dict[int, list[tuple[float, float, float, float]]] = defaultdict(list)
    for line in sample("vtest_gt_mot15.txt").read_text().splitlines():
        frame, _id, x, y, w, h, conf, *_ = line.split(",")
        if int(float(conf)) == 1:
            boxes[int(frame) - 1].append((float(x), float(y), float(w), float(h)))  # 1-based
    return boxes


@pytest.mark.samples
def test_vtest_hip_midpoints_fall_inside_ground_truth_person_boxes():
    # given the PETS 2009 pedestrians (768x576, 10 fps) sampled at 5 fps
    boxes = _gt_boxes()
    result = extract_landmarks(sample("vtest.avi"), config(target_fps=5))
    assert result.frames == 398
    inside = detected = 0
    for index, pose in zip(result.frame_index, result.pose, strict=True):
        if np.isnan(pose[0, 0]):
            continue
        detected += 1
        hx = (pose[LEFT_HIP, 0] + pose[RIGHT_HIP, 0]) / 2 * 768
        hy = (pose[LEFT_HIP, 1] + pose[RIGHT_HIP, 1]) / 2 * 576
        inside += any(x <= hx <= x + w and y <= hy <= y + h for x, y, w, h in boxes[int(index)])
    # then at least 90% of the detected poses sit on a real person
    assert detected >= 100
    assert inside / detected >= 0.9


@pytest.mark.samples
def test_hands_slots_follow_the_pose_wrists():
    # given hands on (holistic graph) over the first two seconds of the demo
    result = extract_landmarks(
        sample("sports2d_demo.mp4"), config(target_fps=30, max_frames=60, hands=True)
    )
    assert result.hands is not None and result.hands.shape == (60, 2, 21, 3)
    found = ~np.isnan(result.hands[:, :, 0, 0])
    assert found.any(axis=1).sum() >= 10
    # then slot 0's wrist is at the pose's left wrist and slot 1's at the right wrist
    for slot, wrist in ((0, LEFT_WRIST), (1, RIGHT_WRIST)):
        rows = found[:, slot] & ~np.isnan(result.pose[:, wrist, 0])
        assert rows.any()
        gap = np.linalg.norm(result.hands[rows, slot, 0, :2] - result.pose[rows, wrist, :2], axis=1)
        assert np.median(gap) < 0.05
    assert result.metadata["hand_frames"] == int(found.any(axis=1).sum())


@pytest.mark.samples
def test_pose_hands_graph_gives_what_holistic_gives():
    # the holistic graph without its face nodes must not change pose or hands
    import cv2
    from mediapipe.python.solutions import holistic

    from functions.landmarks.landmarks import _hands_array, _pose_array, pose_hands_graph

    cfg = config(hands=True)
    ours = pose_hands_graph(cfg)
    reference = holistic.Holistic(
        model_complexity=1,
        min_detection_confidence=cfg.mediapipe.min_detection_confidence,
        min_tracking_confidence=cfg.mediapipe.min_tracking_confidence,
    )
    cap = cv2.VideoCapture(str(sample("sports2d_demo.mp4")))
    compared = 0
    for _ in range(40):
        ok, frame = cap.read()
        assert ok
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        a, b = ours.process({"image": rgb}), reference.process(rgb)
        np.testing.assert_allclose(_pose_array(a)[:, :3], _pose_array(b)[:, :3], atol=1e-5)
        np.testing.assert_allclose(_hands_array(a), _hands_array(b), atol=1e-5)
        compared += not np.isnan(_hands_array(a)).all()
    ours.close()
    reference.close()
    assert compared >= 10


def test_target_fps_and_max_frames_give_the_expected_samples(synth_clip):
    # given a 12 s 25 fps clip (300 frames)
    clip, _ = synth_clip
    result = extract_landmarks(clip, config(target_fps=10, max_frames=None))
    # step 2.5 frames: 0, 2, 5, 7, 10, ... -> 120 samples
    assert result.frames == 120
    assert result.frame_index[:6].tolist() == [0, 2, 5, 7, 10, 12]
    np.testing.assert_allclose(result.timestamps_s, result.frame_index / 25.0)
    assert np.all(np.diff(result.timestamps_s) > 0)
    assert result.metadata["sampling"]["fps_used"] == 10.0
    capped = extract_landmarks(clip, config(target_fps=4, max_frames=7))
    assert capped.frame_index.tolist() == [0, 6, 12, 18, 25, 31, 37]  # floor(k * 6.25)
    np.testing.assert_allclose(capped.timestamps_s, [0, 0.24, 0.48, 0.72, 1.0, 1.24, 1.48])


def test_segment_workers_sample_the_same_frames_as_one(synth_clip):
    clip, _ = synth_clip
    one = extract_landmarks(clip, config(target_fps=10, workers=1))
    two = extract_landmarks(clip, config(target_fps=10, workers=2))
    assert two.metadata["timings"]["workers"] == 2
    assert one.metadata["timings"]["workers"] == 1
    assert two.frame_index.tolist() == one.frame_index.tolist()


def test_a_video_without_people_gives_nan_arrays_and_rate_zero(no_people_clip):
    result = extract_landmarks(no_people_clip, config(target_fps=10, hands=True))
    arrays = roundtrip(result)
    T = result.frames
    assert T == 60
    assert set(arrays) == {"timestamps_s", "frame_index", "pose", "hands"}
    assert arrays["pose"].shape == (T, 33, 4) and arrays["pose"].dtype == np.float32
    assert arrays["hands"].shape == (T, 2, 21, 3) and arrays["hands"].dtype == np.float32
    assert np.isnan(arrays["pose"]).all() and np.isnan(arrays["hands"]).all()
    assert result.metadata["detection_rate"] == 0.0
    assert result.metadata["pose_frames"] == 0 and result.metadata["hand_frames"] == 0
    assert result.metadata["arrays"]["pose"]["shape"] == [T, 33, 4]
    assert len(result.metadata["landmark_names"]["pose"]) == 33


def test_hands_off_saves_no_hands_array(synth_clip):
    clip, _ = synth_clip
    result = extract_landmarks(clip, config(target_fps=2, hands=False))
    assert result.hands is None and "hands" not in roundtrip(result)
    assert "hands" not in result.metadata["arrays"]


@pytest.mark.parametrize(
    ("data", "expected"), [(b"not a video" * 100, "not a readable video"), (b"", "empty")]
)
def test_non_videos_are_corrupt(tmp_path, data, expected):
    path = tmp_path / "video.mp4"
    path.write_bytes(data)
    with pytest.raises(CorruptVideoError, match=expected):
        extract_landmarks(path, config())


def test_a_truncated_video_is_corrupt(tmp_path, synth_clip):
    clip, _ = synth_clip
    data = clip.read_bytes()
    path = tmp_path / "video.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptVideoError):
        extract_landmarks(path, config(target_fps=5))


def test_the_deadline_stops_every_thread(synth_clip):
    import threading

    clip, _ = synth_clip
    calls = []

    def deadline() -> None:
        calls.append(1)
        raise OutOfTimeError("out of time")

    before = threading.active_count()
    with pytest.raises(OutOfTimeError):
        extract_landmarks(clip, config(target_fps=25), check_deadline=deadline)
    assert calls and threading.active_count() == before


@pytest.mark.samples
def test_anamorphic_video_is_processed_at_its_display_size():
    result = extract_landmarks(sample("documentary_cuts.mp4"), config(target_fps=1))
    assert result.frames == 26
    assert (result.metadata["video"]["width"], result.metadata["video"]["height"]) == (704, 576)


def test_result_npz_loads_without_pickle(synth_clip, tmp_path: Path):
    clip, _ = synth_clip
    result = extract_landmarks(clip, config(target_fps=2))
    path = tmp_path / "l.npz"
    path.write_bytes(result.to_npz_bytes())
    with np.load(path, allow_pickle=False) as npz:
        assert npz["timestamps_s"].shape == (result.frames,)
        assert npz["frame_index"].dtype == np.int64
