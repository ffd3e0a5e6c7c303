"""landmarks' pictures: ``landmarks/preview.gif`` (the pose skeleton, and hands when on, drawn
over sampled frames) and ``landmarks/trajectories.png`` (wrists, ankles and hip midpoint over
time, with visibility) (docs/previews.md).

The GIF's frames come from the frames MediaPipe already saw, through the ``on_sample`` hook of
:func:`~functions.landmarks.landmarks.extract_landmarks`: a :class:`PreviewSampler` keeps, for
each tick of ``1 / rate_fps`` seconds within the first ``max_s`` seconds, the earliest sampled
frame, downscaled at once to at most ``width_px`` wide. Memory is bounded by
``ceil(max_s x rate_fps)`` small frames (50 frames of 480x270 RGB, 19 MB, by default). The
skeleton is drawn with MediaPipe's own drawing utilities; a sample whose arrays are NaN is shown
as it is. In multi-person mode (``result.poses``) every person is drawn in their track's colour
with their ``#id`` above the head (:func:`~functions.landmarks.multi.track_styles` of the whole
video's track ids), so one colour and one label follow one person through the GIF.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from functions.landmarks.landmarks import LandmarksResult
from functions.landmarks.multi import track_styles
from functions.landmarks.settings import LandmarksSettings
from shared.config import Settings
from shared.layout import LANDMARKS_TRAJECTORIES, PREVIEW_GIF
from shared.previews.images import gif_bytes, png_bytes, use_matplotlib

#: Skeleton colours (RGB): connections, joints, left hand, right hand.
BONE_RGB = (0, 255, 0)
JOINT_RGB = (255, 40, 40)
HAND_RGB = ((255, 200, 0), (0, 200, 255))

#: The landmarks on ``trajectories.png``: name -> pose indices averaged (MediaPipe's order).
TRAJECTORY_LANDMARKS: dict[str, tuple[int, ...]] = {
    "left wrist": (15,),
    "right wrist": (16,),
    "left ankle": (27,),
    "right ankle": (28,),
    "hip midpoint": (23, 24),
}


@dataclass(frozen=True)
class LandmarkPreviewParams:
    """``PREVIEW_WIDTH_PX``, ``LANDMARKS_PREVIEW_FPS`` and ``LANDMARKS_PREVIEW_MAX_S``.

    Attributes:
        width_px: widest GIF frame, pixels.
        rate_fps: GIF frames per second (each frame shows ``1000 / rate_fps`` ms).
        max_s: the GIF covers the video's first ``max_s`` seconds.
    """

    width_px: int = 480
    rate_fps: float = 5.0
    max_s: float = 10.0

    @property
    def frame_ms(self) -> int:
        """Time per GIF frame, milliseconds."""
        return max(20, round(1000 / self.rate_fps))


def preview_params(settings: Settings, stage: LandmarksSettings) -> LandmarkPreviewParams | None:
    """The preview parameters; ``None`` when ``PREVIEWS`` or ``LANDMARKS_PREVIEWS`` is off."""
    if not (settings.previews and stage.previews):
        return None
    return LandmarkPreviewParams(settings.preview_width_px, stage.preview_fps, stage.preview_max_s)


class PreviewSampler:
    """The ``on_sample`` hook that keeps the GIF's frames (thread-safe).

    Args:
        fps: the video's frame rate (frame index / fps = seconds).
        params: GIF size, rate and length.
    """

    def __init__(self, fps: float, params: LandmarkPreviewParams) -> None:
        self.fps = fps
        self.params = params
        self.ticks = max(1, math.ceil(params.max_s * params.rate_fps - 1e-9))
        self._lock = threading.Lock()
        self._kept: dict[int, tuple[int, np.ndarray]] = {}

    def tick(self, frame_index: int) -> int | None:
        """The GIF tick of ``frame_index`` (``None``: beyond ``max_s``)."""
        t = int(frame_index / self.fps * self.params.rate_fps + 1e-9) if self.fps > 0 else 0
        return t if t < self.ticks else None

    def __call__(self, frame_index: int, rgb: np.ndarray) -> None:
        tick = self.tick(frame_index)
        if tick is None:
            return
        with self._lock:
            held = self._kept.get(tick)
            if held is not None and held[0] <= frame_index:
                return
        small = downscale(rgb, self.params.width_px)
        with self._lock:
            held = self._kept.get(tick)
            if held is None or frame_index < held[0]:
                self._kept[tick] = (frame_index, small)

    @property
    def frames(self) -> list[tuple[int, np.ndarray]]:
        """``(frame_index, rgb)`` of the kept frames in time order (``rgb`` at most
        ``width_px`` wide)."""
        with self._lock:
            return [self._kept[t] for t in sorted(self._kept)]


def downscale(rgb: np.ndarray, width_px: int) -> np.ndarray:
    """``rgb`` scaled (area interpolation) to at most ``width_px`` wide, a copy."""
    h, w = rgb.shape[:2]
    if w <= width_px:
        return rgb.copy()
    return cv2.resize(
        rgb, (width_px, max(1, round(h * width_px / w))), interpolation=cv2.INTER_AREA
    )


def _landmark_list(points: np.ndarray) -> Any:
    from mediapipe.framework.formats import landmark_pb2

    out = landmark_pb2.NormalizedLandmarkList()
    for row in points:
        lm = out.landmark.add()
        lm.x, lm.y, lm.z = float(row[0]), float(row[1]), float(row[2])
        if len(row) > 3:
            lm.visibility = float(row[3])
    return out


def draw_skeleton(rgb: np.ndarray, pose: np.ndarray, hands: np.ndarray | None = None) -> np.ndarray:
    """A copy of ``rgb`` with the pose (and hands) drawn by MediaPipe's ``draw_landmarks``.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB.
        pose: ``(33, 4)``, ``x``, ``y`` normalised, ``z``, visibility; all NaN: nothing drawn.
            Joints with visibility under 0.5 are not drawn (MediaPipe's rule).
        hands: ``(2, 21, 3)`` or ``None``; a NaN hand is not drawn.
    """
    use_matplotlib()  # drawing_utils imports pyplot: Agg and a writable config dir first
    from mediapipe.python.solutions import drawing_utils as du
    from mediapipe.python.solutions.hands import HAND_CONNECTIONS
    from mediapipe.python.solutions.pose import POSE_CONNECTIONS

    out = np.ascontiguousarray(rgb).copy()
    thickness = max(1, round(out.shape[1] / 240))
    if not np.isnan(pose[:, :2]).all():
        du.draw_landmarks(
            out,
            _landmark_list(np.nan_to_num(pose, nan=-1.0)),
            list(POSE_CONNECTIONS),
            landmark_drawing_spec=du.DrawingSpec(JOINT_RGB, thickness, thickness + 1),
            connection_drawing_spec=du.DrawingSpec(BONE_RGB, thickness),
        )
    if hands is not None:
        for slot in range(hands.shape[0]):
            hand = hands[slot]
            if np.isnan(hand[:, :2]).all():
                continue
            du.draw_landmarks(
                out,
                _landmark_list(np.nan_to_num(hand, nan=-1.0)),
                list(HAND_CONNECTIONS),
                landmark_drawing_spec=du.DrawingSpec(HAND_RGB[slot], 1, 1),
                connection_drawing_spec=du.DrawingSpec(HAND_RGB[slot], 1),
            )
    return out


def draw_people(
    rgb: np.ndarray,
    poses: np.ndarray,
    track_ids: np.ndarray,
    styles: dict[int, tuple[tuple[int, int, int], str]] | None = None,
) -> np.ndarray:
    """A copy of ``rgb`` with every person's skeleton in their track's colour and the label
    ``#id`` above their head.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB.
        poses: ``(P, 33, 4)``, one slot per person, NaN in empty slots.
        track_ids: ``(P,)`` track id per slot, ``-1`` where empty.
        styles: colour and label per id, :func:`~functions.landmarks.multi.track_styles` of the
            whole video's ``track_ids`` (so a colour stays with its person); ``None``: from
            this frame's ids alone.
    """
    use_matplotlib()
    from mediapipe.python.solutions import drawing_utils as du
    from mediapipe.python.solutions.pose import POSE_CONNECTIONS

    out = np.ascontiguousarray(rgb).copy()
    h, w = out.shape[:2]
    thickness = max(1, round(w / 320))
    font_scale = max(0.3, w / 1300)
    styles = styles if styles is not None else track_styles(track_ids)
    for slot, tid in enumerate(np.asarray(track_ids).tolist()):
        pose = poses[slot]
        if tid < 0 or np.isnan(pose[:, :2]).all():
            continue
        color, label = styles[tid]
        du.draw_landmarks(
            out,
            _landmark_list(np.nan_to_num(pose, nan=-1.0)),
            list(POSE_CONNECTIONS),
            landmark_drawing_spec=du.DrawingSpec(color, thickness, thickness),
            connection_drawing_spec=du.DrawingSpec(color, thickness),
        )
        x = int(np.clip(np.nanmin(pose[:, 0]) * w, 0, w - 1))
        y = int(np.clip(np.nanmin(pose[:, 1]) * h - 3, 10, h - 1))
        for ink, weight in (((0, 0, 0), thickness + 2), (color, thickness)):
            cv2.putText(out, label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, font_scale, ink, weight)
    return out


def overlay_frames(
    sampler: PreviewSampler, result: LandmarksResult
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(frame_index, raw, drawn)`` for each kept frame: the frame as sampled and with its
    skeleton (the result's row for that frame index; every tracked person, in their track's
    colour, in multi-person mode)."""
    rows = {int(f): i for i, f in enumerate(result.frame_index)}
    styles = track_styles(result.track_ids) if result.track_ids is not None else None
    out = []
    for frame_index, raw in sampler.frames:
        i = rows.get(frame_index)
        if i is None:
            continue
        if result.poses is not None and result.track_ids is not None:
            drawn = draw_people(raw, result.poses[i], result.track_ids[i], styles)
        else:
            hands = result.hands[i] if result.hands is not None else None
            drawn = draw_skeleton(raw, result.pose[i], hands)
        out.append((frame_index, raw, drawn))
    return out


def pose_gif(sampler: PreviewSampler, result: LandmarksResult) -> bytes | None:
    """``preview.gif``: the kept frames with their skeletons, ``params.frame_ms`` each;
    ``None`` when no frame was kept."""
    frames = [drawn for _, _, drawn in overlay_frames(sampler, result)]
    return gif_bytes(frames, sampler.params.frame_ms) if frames else None


def trajectory_series(result: LandmarksResult) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each of :data:`TRAJECTORY_LANDMARKS`: ``(xy, visibility)``, ``(T, 2)`` normalised
    positions and ``(T,)`` visibility (the mean over the averaged landmarks; NaN without pose)."""
    out = {}
    for name, idx in TRAJECTORY_LANDMARKS.items():
        pts = result.pose[:, list(idx), :]
        out[name] = (pts[:, :, :2].mean(axis=1), pts[:, :, 3].mean(axis=1))
    return out


def trajectories_png(result: LandmarksResult, *, title: str | None = None) -> bytes:
    """``trajectories.png``: ``x`` and ``y`` (normalised, 0-1; ``y`` drawn downwards as in the
    image) of the wrists, ankles and hip midpoint against time in seconds, each point's opacity
    its visibility, grey bands where no pose was found, and a visibility strip per landmark."""
    plt = use_matplotlib()
    t = result.timestamps_s
    series = trajectory_series(result)
    fig, axes = plt.subplots(
        3, 1, figsize=(9, 7), sharex=True, gridspec_kw={"height_ratios": [3, 3, 1.4]}
    )
    colors = plt.get_cmap("tab10").colors
    missing = np.isnan(result.pose[:, 0, 0])
    half = (t[1] - t[0]) / 2 if len(t) > 1 else 0.05
    for ax, channel, label in ((axes[0], 0, "x (0 left, 1 right)"), (axes[1], 1, "y (0 top)")):
        for i, (name, (xy, vis)) in enumerate(series.items()):
            color = colors[i % len(colors)]
            ax.plot(t, xy[:, channel], color=color, linewidth=1, alpha=0.5, label=name)
            alpha = np.clip(np.nan_to_num(vis, nan=0.0), 0.05, 1.0)
            ax.scatter(t, xy[:, channel], s=9, color=color, alpha=alpha, linewidths=0)
        for k in np.flatnonzero(missing):
            ax.axvspan(t[k] - half, t[k] + half, color="0.85", linewidth=0, zorder=0)
        ax.set_ylabel(label)
        ax.set_ylim(0, 1)
        ax.grid(True, alpha=0.3)
    axes[1].invert_yaxis()
    legend = axes[0].legend(loc="upper right", fontsize=8, ncol=5)
    for handle in legend.legend_handles:
        if handle is not None:
            handle.set_alpha(1.0)
            handle.set_linewidth(2.5)
    vis = np.stack([np.nan_to_num(v, nan=0.0) for _, v in series.values()])
    axes[2].imshow(
        vis,
        aspect="auto",
        cmap="Greys",
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=(t[0] - half, t[-1] + half, len(series) - 0.5, -0.5),
    )
    axes[2].set_yticks(range(len(series)), list(series), fontsize=7)
    axes[2].set_xlabel("time (s)")
    axes[2].set_title("visibility (black = 1)", fontsize=8, loc="left")
    fig.suptitle(title or "landmark trajectories (grey bands: no pose)", fontsize=10)
    fig.tight_layout()
    return png_bytes(fig)


def landmark_previews(
    result: LandmarksResult, sampler: PreviewSampler | None, *, title: str | None = None
) -> dict[str, bytes]:
    """``{"preview.gif": ..., "trajectories.png": ...}`` (the GIF only when ``sampler`` kept
    frames)."""
    out: dict[str, bytes] = {}
    if sampler is not None:
        gif = pose_gif(sampler, result)
        if gif is not None:
            out[PREVIEW_GIF] = gif
    out[LANDMARKS_TRAJECTORIES] = trajectories_png(result, title=title)
    return out
