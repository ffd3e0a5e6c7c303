"""Multi-person bookkeeping without MediaPipe: stitching, slots, gap filling, styles, config."""

from __future__ import annotations

import numpy as np
import pytest

from functions.landmarks.config import config_for_message, load_config, preset_config
from functions.landmarks.multi import (
    MAX_GAP,
    Observation,
    box_iou,
    main_pose,
    people_arrays,
    stitch,
    tile_regions,
    track_styles,
)
from shared.errors import ConfigurationError, InvalidMessageError


def pose_at(x: float, y: float, h: float = 0.2, vis: float = 0.9) -> np.ndarray:
    p = np.zeros((33, 4), dtype=np.float32)
    p[:, 0] = x + np.linspace(-h / 6, h / 6, 33)
    p[:, 1] = y + np.linspace(-h / 2, h / 2, 33)
    p[:, 3] = vis
    return p


def obs(track: int, x: float, y: float) -> Observation:
    p = pose_at(x, y)
    return Observation(
        track, p, np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])
    )


def tagged(frames: list[list[Observation]]) -> list[list[tuple[int, Observation]]]:
    return [[(o.track, o) for o in f] for f in frames]


def test_box_iou():
    a = np.array([[0, 0, 1, 1], [0, 0, 0.5, 1]])
    b = np.array([[0, 0, 1, 1], [2, 2, 3, 3]])
    np.testing.assert_allclose(box_iou(a, b), [[1, 0], [0.5, 0]])


def test_tile_regions_cover_the_frame_with_overlap():
    assert tile_regions(768, 576, 1) == [(0, 0, 768, 576)]
    regions = tile_regions(768, 576, 3)
    assert len(regions) == 10 and regions[0] == (0, 0, 768, 576)
    assert regions[1][:2] == (0, 0) and regions[-1][2:] == (768, 576)
    assert all(x1 - x0 > 768 / 3 and y1 - y0 > 576 / 3 for x0, y0, x1, y1 in regions[1:])


def test_stitch_continues_tracks_across_segments_and_never_reuses_ids():
    # segment A: tracks 0 (left) and 1 (right, leaves early); segment B: its own ids 0 (right
    # newcomer) and 1 (left, the same person as A's 0)
    seg_a = [[obs(0, 0.2, 0.5), obs(1, 0.8, 0.5)]] * 3 + [[obs(0, 0.2, 0.5)]] * 20
    seg_b = [[obs(1, 0.21, 0.5), obs(0, 0.8, 0.5)]] * 5
    frames = stitch([seg_a, seg_b])
    assert len(frames) == 28
    assert [t for t, _ in frames[0]] == [0, 1]
    assert [t for t, _ in frames[-1]] == [0, 2]  # left continues as 0; right is a new person
    assert frames[-1][1][1].box[0] > 0.5


def test_people_arrays_slots_gaps_and_main_track():
    seen = [[obs(0, 0.2, 0.5), obs(1, 0.7, 0.5)] for _ in range(10)]
    seen[4] = [obs(1, 0.7, 0.5)]  # track 0 missed for one frame: filled
    seen += [[obs(1, 0.7, 0.5), obs(2, 0.4, 0.5)] for _ in range(4)]  # 2 takes 0's slot
    seen += [[obs(3, 0.9, 0.9)]]  # seen once: dropped as unconfirmed
    people = people_arrays(tagged(seen), 3, np.arange(len(seen)) * 2)
    assert people.poses.shape == (15, 3, 33, 4) and people.track_ids.dtype == np.int32
    assert people.track_ids[4, 0] == 0 and people.filled[4, 0]
    np.testing.assert_allclose(people.poses[4, 0], pose_at(0.2, 0.5), atol=1e-6)
    assert people.track_ids[12].tolist() == [2, 1, -1]
    assert (people.track_ids[14] == -1).all()
    tracks = {t["id"]: t for t in people.tracks}
    assert set(tracks) == {0, 1, 2}
    assert tracks[0] == {
        "id": 0,
        "slot": 0,
        "first_frame": 0,
        "last_frame": 18,
        "frames_seen": 9,
        "frames_filled": 1,
        "mean_visibility": pytest.approx(0.9, abs=1e-4),
    }
    assert people.main_track == 1  # seen in 14 frames
    main = main_pose(people)
    assert np.isnan(main[14]).all() and not np.isnan(main[:14]).any()


def test_long_gaps_are_not_filled():
    seen = [[obs(0, 0.2, 0.5)]] + [[] for _ in range(MAX_GAP + 1)] + [[obs(0, 0.2, 0.5)]]
    people = people_arrays(tagged(seen), 2, np.arange(len(seen)))
    assert (people.track_ids[1:-1] == -1).all()


def test_track_styles_are_stable_per_id():
    styles = track_styles(np.array([[3, -1], [0, 3], [11, -1]]))
    assert set(styles) == {0, 3, 11}
    assert styles[3][1] == "#3"
    assert styles[3] == track_styles(np.array([3]))[3]
    assert styles[0][0] != styles[3][0]
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c, _ in styles.values())


def test_max_people_in_config_file_presets_and_messages(tmp_path):
    assert preset_config("production").mediapipe.max_people == 1
    path = tmp_path / "c.json"
    path.write_text('{"mediapipe": {"hands": false, "max_people": 6, "detection_grid": 2}}')
    cfg = load_config(path)
    assert (cfg.mediapipe.max_people, cfg.mediapipe.detection_grid) == (6, 2)
    fast = preset_config("fast_processing")
    assert config_for_message(fast, {"max_people": 3}).mediapipe.max_people == 3
    with pytest.raises(InvalidMessageError):
        config_for_message(fast, {"max_people": 0})


def test_hands_are_single_person_only(tmp_path):
    with pytest.raises(ConfigurationError, match="hands"):
        preset_config("production").with_overrides(max_people=2)
    cfg = preset_config("production").with_overrides(max_people=2, hands=False)
    assert cfg.mediapipe.max_people == 2 and not cfg.mediapipe.hands
