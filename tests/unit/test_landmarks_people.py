"""Multi-person bookkeeping without MediaPipe: stitching, slots, gap filling, styles, config."""

from __future__ import annotations

import numpy as np
import pytest

from functions.landmarks.config import config_for_message, load_config, preset_config
from functions.landmarks.multi import (
    LINK_GAP,
    Observation,
    box_iou,
    link_tracks,
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
    lost = [[] for _ in range(LINK_GAP + 1)]
    seen = [[obs(0, 0.2, 0.5)]] * 2 + lost + [[obs(0, 0.2, 0.5)]] * 2
    people = people_arrays(tagged(seen), 2, np.arange(len(seen)))
    assert (people.track_ids[2:-2] == -1).all()
    assert people.track_ids[0, 0] == people.track_ids[-1, 0] == 0  # the same id still


def walk(track: int, frames: range, x0: float, speed: float) -> list[list[Observation]]:
    """One person walking right at ``speed`` (frame widths per frame) from ``x0`` at frame 0."""
    return [[obs(track, x0 + speed * i, 0.5)] for i in frames]


def merged(*streams: list[list[Observation]], length: int) -> list[list[Observation]]:
    out: list[list[Observation]] = [[] for _ in range(length)]
    for stream, start in streams:
        for i, f in enumerate(stream):
            out[start + i] += f
    return out


def test_a_person_lost_for_a_while_is_linked_and_the_gap_filled():
    # track 0 walks right for frames 0-9, is lost for 12 frames, found again as track 5 on
    # the same line; track 7 appears elsewhere (below, standing) after the same gap
    a = walk(0, range(10), 0.1, 0.01)
    b = walk(5, range(22, 30), 0.1, 0.01)
    c = [[obs(7, 0.8, 0.9)] for _ in range(8)]
    seen = merged((a, 0), (b, 22), (c, 22), length=30)
    people = people_arrays(tagged(seen), 3, np.arange(30))
    assert people.links == 1
    assert set(people.track_ids[:, 0].tolist()) == {0}  # one id, one slot, all 30 frames
    assert people.filled[10:22, 0].all() and not people.filled[:10, 0].any()
    np.testing.assert_allclose(people.poses[15, 0], pose_at(0.1 + 0.01 * 15, 0.5), atol=1e-5)
    tracks = {t["id"]: t for t in people.tracks}
    assert (tracks[0]["frames_seen"], tracks[0]["frames_filled"]) == (18, 12)
    assert tracks[1]["first_frame"] == 22  # the one below is someone else
    assert people.main_track == 0


def test_links_need_the_walk_to_lead_there_a_short_gap_and_a_free_slot():
    a = walk(0, range(10), 0.1, 0.01)
    # walking the other way from where 0 was heading: not 0
    back = [[obs(1, 0.3 - 0.01 * i, 0.5)] for i in range(8)]
    people = people_arrays(tagged(merged((a, 0), (back, 14), length=22)), 2, np.arange(22))
    assert people.links == 0 and len(people.tracks) == 2
    # the same line, but found again after more than LINK_GAP frames
    late = walk(1, range(11 + LINK_GAP, 20 + LINK_GAP), 0.1, 0.01)
    n = 20 + LINK_GAP
    people = people_arrays(tagged(merged((a, 0), (late, 11 + LINK_GAP), length=n)), 2, np.arange(n))
    assert people.links == 0
    # the right walk, but the other slots are taken during the gap
    b = walk(5, range(16, 24), 0.1, 0.01)
    others = [[obs(8, 0.8, 0.2), obs(9, 0.5, 0.9)] for _ in range(4)]  # frames 11-14
    seen = merged((a, 0), (b, 16), (others, 11), length=24)
    assert people_arrays(tagged(seen), 2, np.arange(24)).links == 0
    assert people_arrays(tagged(seen), 3, np.arange(24)).links == 1


def test_link_tracks_uses_the_frame_aspect():
    # standing still, found again 5 frames later 0.07 frame widths to the right: 0.35 body
    # heights (0.2 frame heights) on a square frame, within the gate of 0.3 + 5 x 0.03; 0.62
    # on a 16:9 frame, beyond it
    a = [(i, pose_at(0.5, 0.5)) for i in range(5)]
    b = [(i, pose_at(0.57, 0.5)) for i in range(9, 13)]
    assert link_tracks({0: a, 1: b}, 2, 13) == {1: 0}
    assert link_tracks({0: a, 1: b}, 2, 13, aspect=16 / 9) == {}


def test_track_styles_one_colour_per_track_distinct_while_in_view_together():
    # tracks 0-7 in view together, then 3 and 7 leave and 11 arrives, then all but 11 leave
    # and 12 arrives
    ids = np.full((6, 8), -1)
    ids[0:2] = range(8)
    ids[2:4] = [0, 1, 2, 11, 4, 5, 6, -1]
    ids[4:6, 0] = [11, 12]
    ids[5, 1] = 11
    styles = track_styles(ids)
    assert set(styles) == set(range(8)) | {11, 12}
    assert styles[3][1] == "#3" and styles[11][1] == "#11"
    colours = {i: c for i, (c, _) in styles.items()}
    assert len({colours[i] for i in range(8)}) == 8  # eight in view: eight colours
    assert colours[11] == colours[3]  # free since row 1, as 7's: the lower palette entry
    assert colours[12] == colours[7]  # free the longest (since row 1); 11 still in view
    assert styles == track_styles(ids)  # pure
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in colours.values())
    # one frame (P,) works too
    assert set(track_styles(np.array([4, -1, 9]))) == {4, 9}


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
