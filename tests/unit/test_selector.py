"""The bounded middle-frame selector: exactness, the documented tolerance, and memory."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.frame_extract.extract import MiddleFrameSelector, middle_tolerance


def run(scene_lengths: list[int], capacity: int, lag: int = 0, lookback: int = 0):
    """Push frames whose pixel value is their index; report cuts `lag` frames late."""
    sel = MiddleFrameSelector(capacity=capacity, lookback=lookback)
    cuts, start = [], 0
    for n in scene_lengths[:-1]:
        start += n
        cuts.append(start)
    total = sum(scene_lengths)
    pending = list(cuts)
    picks, max_held = [], 0
    for i in range(total):
        sel.push(i, np.full((1,), i, np.int64))
        max_held = max(max_held, sel.held)
        while pending and pending[0] + lag <= i:
            idx, frame = sel.close(pending.pop(0))
            assert int(frame[0]) == idx  # the frame returned is the frame at that index
            picks.append(idx)
    for c in pending:
        picks.append(sel.close(c)[0])
    picks.append(sel.close(total)[0])
    bounds = [0, *cuts, total]
    return picks, list(itertools.pairwise(bounds)), max_held


def test_short_scenes_get_their_exact_middle():
    picks, scenes, _ = run([30, 150, 214, 326], capacity=200)
    assert picks == [s + (e - s) // 2 for s, e in scenes]


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 3000), min_size=1, max_size=6),
    capacity=st.integers(4, 64),
)
def test_on_time_cuts_stay_within_the_documented_tolerance(lengths, capacity):
    picks, scenes, max_held = run(lengths, capacity)
    for pick, (s, e) in zip(picks, scenes, strict=True):
        n = e - s
        assert s <= pick < e
        assert abs(pick - (s + n // 2)) <= middle_tolerance(n, capacity)
    # memory: capacity candidates, one below the middle, the frame being pushed
    assert max_held <= capacity + 2


@settings(max_examples=100, deadline=None)
@given(
    lengths=st.lists(st.integers(16, 2000), min_size=2, max_size=5),
    capacity=st.integers(4, 48),
    lag=st.integers(0, 15),
)
def test_late_cuts_within_lookback_keep_each_pick_inside_its_scene(lengths, capacity, lag):
    picks, scenes, max_held = run(lengths, capacity, lag=lag, lookback=15)
    for pick, (s, e) in zip(picks, scenes, strict=True):
        n = e - s
        assert s <= pick < e
        assert abs(pick - (s + n // 2)) <= middle_tolerance(n, capacity) + (lag + 1) // 2 + 1
    assert max_held <= capacity + 15 + 2


def test_memory_is_bounded_for_a_very_long_scene():
    sel = MiddleFrameSelector(capacity=8)
    for i in range(100_000):
        sel.push(i, np.zeros(1))
        assert sel.held <= 10
    idx, _ = sel.close(100_000)
    assert abs(idx - 50_000) <= middle_tolerance(100_000, 8)


def test_push_out_of_order_is_refused():
    sel = MiddleFrameSelector(capacity=8)
    sel.push(3, np.zeros(1))
    with pytest.raises(ValueError, match="after frame 3"):
        sel.push(3, np.zeros(1))
