"""The landmarks overlay GIF on a real video: skeleton pixels where the pose was found, none
where the arrays are NaN; the trajectories plot; the stage writing both."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageSequence

from functions.landmarks.config import preset_config
from functions.landmarks.landmarks import extract_landmarks
from functions.landmarks.previews import (
    BONE_RGB,
    LandmarkPreviewParams,
    PreviewSampler,
    draw_skeleton,
    landmark_previews,
    overlay_frames,
)
from shared.video import open_video, video_info
from tests.support.helpers import require_mediapipe, sample

require_mediapipe()


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels that differ by more than palette quantisation can explain (any channel > 64)."""
    return (np.abs(a.astype(int) - b.astype(int)) > 64).any(axis=2)


def near_bone(img: np.ndarray) -> np.ndarray:
    """Pixels of the skeleton's connection colour (pure green, within the GIF's palette error)."""
    d = np.abs(img.astype(int) - np.array(BONE_RGB)).max(axis=2)
    return d < 48


@pytest.fixture(scope="module")
def sports2d():
    path = sample("sports2d_demo.mp4")
    params = LandmarkPreviewParams(width_px=480, rate_fps=5.0, max_s=10.0)
    sampler = PreviewSampler(float(video_info(open_video(path)).fps), params)
    result = extract_landmarks(
        path, preset_config("fast_processing").with_overrides(target_fps=30), on_sample=sampler
    )
    return sampler, result


@pytest.mark.samples
def test_the_overlay_gif_shows_the_skeleton_where_the_pose_was_found_and_none_where_nan(sports2d):
    sampler, result = sports2d
    pictures = landmark_previews(result, sampler)
    gif = Image.open(io.BytesIO(pictures["preview.gif"]))
    frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
    overlays = overlay_frames(sampler, result)
    # 7.67 s at 5 GIF frames a second: ticks 0..38, one sampled frame each, <= 480 px wide
    assert len(frames) == len(overlays) == 39
    assert gif.info["duration"] == 200 and all(f.shape[1] <= 480 for f in frames)
    rows = {int(f): i for i, f in enumerate(result.frame_index)}
    found = nan = 0
    for (frame_index, raw, _), shown in zip(overlays, frames, strict=True):
        pose = result.pose[rows[frame_index]]
        diff = changed(shown, raw)
        if np.isnan(pose).all():
            nan += 1
            # no skeleton: the GIF frame is the sampled frame, up to palette error
            assert diff.mean() < 0.002, frame_index
            assert (near_bone(shown) & ~near_bone(raw)).sum() < 10, frame_index
            continue
        found += 1
        bones = near_bone(shown) & ~near_bone(raw)
        assert bones.sum() > 150, frame_index
        # the drawn pixels lie on the person: inside the box of the visible landmarks
        h, w = raw.shape[:2]
        vis = pose[pose[:, 3] > 0.5]
        x0, x1 = (vis[:, 0].min() * w - 12, vis[:, 0].max() * w + 12)
        y0, y1 = (vis[:, 1].min() * h - 12, vis[:, 1].max() * h + 12)
        ys, xs = np.nonzero(bones)
        inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
        assert inside.mean() > 0.95, frame_index
    assert found >= 30 and nan >= 1  # sports2d_demo's first sampled frame has no pose


@pytest.mark.samples
def test_a_nan_pose_draws_nothing(sports2d):
    sampler, _ = sports2d
    _, raw = sampler.frames[5]
    assert np.array_equal(draw_skeleton(raw, np.full((33, 4), np.nan, np.float32)), raw)


@pytest.mark.samples
def test_the_sampler_keeps_one_small_frame_per_tick_in_the_first_seconds(sports2d):
    sampler, result = sports2d
    kept = [i for i, _ in sampler.frames]
    # 30 fps, 5 ticks a second: frames 0, 6, 12, ... (every sampled frame is there at 30 fps)
    assert kept == list(range(0, 230, 6))
    assert all(img.shape == (270, 480, 3) for _, img in sampler.frames)
    assert set(kept) <= set(result.frame_index.tolist())


@pytest.mark.samples
def test_trajectories_plot_is_a_png(sports2d):
    _, result = sports2d
    png = Image.open(io.BytesIO(landmark_previews(result, None)["trajectories.png"]))
    assert png.format == "PNG" and png.size == (900, 700)
