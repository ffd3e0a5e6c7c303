"""Which frames Rekognition sees, and the JPEG bytes it gets (no AWS here).

Two frame-selection rules:

* **Interval** (the seed's rule, no manifest): one frame every ``max(min_interval_s,
  duration / max_frames)`` seconds from ``t = 0``, at most ``max_frames``; the frames are grouped
  into ``windows`` equal time intervals (``REKOGNITION_SCENES``).
* **Manifest** (frame-extract's ``frames/manifest.json`` exists): one frame per scene, the scene's
  key frame; a scene longer than ``long_scene_s`` gets ``ceil(length / long_scene_s)`` evenly
  spaced frames instead. The windows are then the real scenes, between cuts. Past
  ``max_frames``, the longest scenes keep their extra frames last.

Either way the frames are grouped into :class:`Window` s; ``analysis.json`` calls them
``scenes`` (its keys are a contract, docs/outputs.md).

Images sent inline must be at most 5 MB and at least 80 px on each side (Rekognition's limits
for ``Image.Bytes``, "Amazon Rekognition Image limits" in the Developer Guide).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from shared.errors import CorruptVideoError
from shared.manifest import FrameManifest
from shared.video import open_video, video_info

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MIN_SIDE_PX = 80


@dataclass(frozen=True)
class Pick:
    """A frame to analyse: 0-based frame index, time in seconds, and its window's index."""

    frame: int
    time_s: float
    window: int


@dataclass(frozen=True)
class Window:
    """A time range frames are grouped into, seconds: a manifest scene or an interval window."""

    index: int
    start_s: float
    end_s: float


def interval_picks(
    duration_s: float, fps: float, *, max_frames: int, min_interval_s: float, windows: int
) -> tuple[list[Pick], list[Window]]:
    """The seed's rule: a frame every ``max(min_interval_s, duration / max_frames)`` seconds.

    Args:
        duration_s: video duration in seconds.
        fps: frames per second.
        max_frames: most frames.
        min_interval_s: smallest spacing in seconds.
        windows: equal time intervals to group the frames into.
    """
    if duration_s <= 0 or fps <= 0:
        return [], []
    interval = max(min_interval_s, duration_s / max_frames)
    total = max(1, round(duration_s * fps))
    n = min(max_frames, max(1, math.ceil(duration_s / interval - 1e-9)))
    spans = [
        Window(i, round(i * duration_s / windows, 6), round((i + 1) * duration_s / windows, 6))
        for i in range(windows)
    ]
    picks = []
    for k in range(n):
        t = k * interval
        frame = min(total - 1, round(t * fps))
        window = min(windows - 1, int(t / duration_s * windows))
        picks.append(Pick(frame, round(frame / fps, 6), window))
    used = sorted({p.window for p in picks})
    renumber = {old: new for new, old in enumerate(used)}
    return (
        [Pick(p.frame, p.time_s, renumber[p.window]) for p in picks],
        [Window(renumber[w.index], w.start_s, w.end_s) for w in spans if w.index in renumber],
    )


def manifest_picks(
    manifest: FrameManifest, *, max_frames: int, long_scene_s: float
) -> tuple[list[Pick], list[Window]]:
    """Frames that follow frame-extract's scenes (see the module docstring).

    Args:
        manifest: frame-extract's ``frames/manifest.json`` (docs/outputs.md).
        max_frames: most frames.
        long_scene_s: a scene gets one frame per this many seconds of length.
    """
    fps = float(manifest.video.fps)
    by_index = {s.index: s for s in manifest.scenes}
    wanted = {
        s.index: max(1, math.ceil((s.end_s - s.start_s) / long_scene_s - 1e-9))
        for s in manifest.scenes
    }
    # budget: one per scene first, then extra frames to the longest scenes
    budget = {i: 1 for i in wanted}
    remaining = max_frames - len(budget)
    if remaining < 0:
        keep = sorted(wanted, key=lambda i: -by_index[i].length_frames)[:max_frames]
        budget = {i: 1 for i in sorted(keep)}
        remaining = 0
    for i in sorted(budget, key=lambda i: -wanted[i]):
        extra = min(wanted[i] - 1, remaining)
        budget[i] += extra
        remaining -= extra
    picks = []
    for s in manifest.scenes:
        count = budget.get(s.index)
        if not count:
            continue
        if count == 1:
            frames = [s.keyframe.frame]
        else:
            frames = [
                s.start_frame + (2 * k + 1) * s.length_frames // (2 * count) for k in range(count)
            ]
        picks += [Pick(f, round(f / fps, 6), s.index) for f in frames]
    return picks, [
        Window(s.index, s.start_s, s.end_s) for s in manifest.scenes if s.index in budget
    ]


def read_images(
    path: Path | str,
    frames: list[int],
    encode: Callable[[np.ndarray], bytes],
    *,
    on_decoded: Callable[[int, np.ndarray], None] | None = None,
) -> dict[int, bytes]:
    """Decode the wanted 0-based frames in one sequential pass (others are grabbed, not
    converted) and encode each (``encode``, e.g. :func:`prepare_image`) as soon as it is decoded,
    keeping only the bytes: one decoded frame is held at a time, so memory does not grow with the
    number of frames times their size (docs/benchmarks.md, "Memory"). ``on_decoded(index, bgr)``
    sees each decoded frame first (the storyboard keeps a small copy).

    Raises:
        CorruptVideoError: the file is not a readable video.
    """
    wanted = set(frames)
    out: dict[int, bytes] = {}
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise CorruptVideoError(f"{Path(path).name}: not a readable video")
    try:
        i, last = 0, max(wanted) if wanted else -1
        while i <= last and cap.grab():
            if i in wanted:
                ok, img = cap.retrieve()
                if ok:
                    if on_decoded is not None:
                        on_decoded(i, img)
                    out[i] = encode(img)
                del img
            i += 1
    finally:
        cap.release()
    return out


def video_facts(path: Path | str) -> tuple[float, float, int]:
    """``(duration_s, fps, frame_count)`` from the container.

    Raises:
        CorruptVideoError: not a readable video, or no frame count and frame rate.
    """
    info = video_info(open_video(path))
    fps = float(info.fps)
    if info.frame_count <= 0 or fps <= 0:
        raise CorruptVideoError(f"{Path(path).name}: no frame count or frame rate")
    return info.frame_count / fps, fps, info.frame_count


def prepare_image(frame: np.ndarray, *, quality: int = 90) -> bytes:
    """JPEG bytes Rekognition accepts inline: at most 5 MB, at least 80 px on each side.

    Frames smaller than 80 px on a side are scaled up (aspect kept); encodings over 5 MB are
    re-encoded at lower quality, then scaled down by 0.75 steps until they fit.

    Args:
        frame: ``(H, W, 3)`` uint8 BGR.
        quality: starting JPEG quality.

    Raises:
        ValueError: the frame cannot be encoded within the limits.
    """
    h, w = frame.shape[:2]
    if min(h, w) < MIN_SIDE_PX:
        scale = MIN_SIDE_PX / min(h, w)
        frame = cv2.resize(
            frame,
            (max(MIN_SIDE_PX, math.ceil(w * scale)), max(MIN_SIDE_PX, math.ceil(h * scale))),
            interpolation=cv2.INTER_CUBIC,
        )
    q = quality
    for _ in range(20):
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, q])
        if not ok:
            raise ValueError("JPEG encoding failed")
        if buf.nbytes <= MAX_IMAGE_BYTES:
            return buf.tobytes()
        if q > 60:
            q -= 15
            continue
        h, w = frame.shape[:2]
        if min(h, w) * 0.75 < MIN_SIDE_PX:
            break
        frame = cv2.resize(frame, (int(w * 0.75), int(h * 0.75)), interpolation=cv2.INTER_AREA)
    raise ValueError("frame does not fit Rekognition's 5 MB inline image limit")
