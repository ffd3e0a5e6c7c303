"""Generate small test clips with known hard cuts (for the demo and sample-free tests).

Each scene is distinct: its own colour gradient, a textured background and a
moving disc, so that PySceneDetect's ContentDetector fires at each scene boundary and nowhere
else at its default threshold (27.0). Written with OpenCV's MPEG-4 Part 2 encoder (``mp4v``),
which ships in the ``opencv-python-headless`` wheel.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

#: Default scene lengths in frames: cuts at 50, 110, 150, 235.
DEFAULT_SCENES = (50, 60, 40, 85, 65)

_PALETTE = [
    ((40, 40, 200), (240, 200, 40)),
    ((30, 160, 30), (200, 40, 200)),
    ((200, 90, 20), (20, 220, 240)),
    ((90, 20, 120), (120, 240, 90)),
    ((10, 10, 10), (250, 250, 250)),
    ((160, 160, 20), (20, 60, 160)),
]


def scene_frame(scene: int, t: int, width: int, height: int) -> np.ndarray:
    """Frame ``t`` of synthetic scene number ``scene`` as ``(height, width, 3)`` uint8 BGR."""
    c0, c1 = (np.array(c, np.float32) for c in _PALETTE[scene % len(_PALETTE)])
    axis = np.linspace(0.0, 1.0, width if scene % 2 == 0 else height, dtype=np.float32)
    grad = axis[None, :, None] if scene % 2 == 0 else axis[:, None, None]
    img = np.broadcast_to(c0 + (c1 - c0) * grad, (height, width, 3)).copy()
    rng = np.random.default_rng(scene)
    texture = rng.integers(-25, 25, size=(height // 8 + 1, width // 8 + 1, 1)).astype(np.float32)
    img += np.kron(texture, np.ones((8, 8, 1), np.float32))[:height, :width]
    x = int(width * (0.2 + 0.6 * ((t * 3 + scene * 37) % 100) / 100))
    y = int(height * (0.3 + 0.4 * ((t * 2 + scene * 13) % 100) / 100))
    frame = np.clip(img, 0, 255).astype(np.uint8)
    colour = tuple(int(v) for v in 255 - c0)
    cv2.circle(frame, (x, y), max(4, height // 8), colour, -1)
    return frame


def make_clip(
    path: Path | str,
    scenes: tuple[int, ...] = DEFAULT_SCENES,
    *,
    fps: float = 25.0,
    size: tuple[int, int] = (640, 360),
) -> list[int]:
    """Write an MP4 of back-to-back synthetic scenes.

    Args:
        path: output ``.mp4`` path.
        scenes: frames per scene.
        fps: frame rate (frames per second).
        size: ``(width, height)`` in pixels.

    Returns:
        The cut frames (0-based index of each scene's first frame, the first scene excluded).

    Raises:
        RuntimeError: OpenCV could not open an MP4 writer.
    """
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}: OpenCV has no mp4v encoder here")
    cuts, frame_no = [], 0
    try:
        for scene, length in enumerate(scenes):
            if scene:
                cuts.append(frame_no)
            for t in range(length):
                writer.write(scene_frame(scene, t, width, height))
                frame_no += 1
    finally:
        writer.release()
    return cuts


def motion_jpeg_copy(src: Path | str, dst: Path | str) -> Path:
    """Re-encode ``src`` as a Motion JPEG AVI at ``dst`` (same size and frame rate, OpenCV's
    default JPEG quality), so every frame is a key frame. Returns ``dst``.

    Raises:
        ValueError: ``src`` could not be opened or ``dst`` not written.
    """
    cap = cv2.VideoCapture(str(src))
    if not cap.isOpened():
        raise ValueError(f"{src}: not a readable video")
    size = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fourcc = cv2.VideoWriter.fourcc(*"MJPG")
    writer = cv2.VideoWriter(str(dst), fourcc, cap.get(cv2.CAP_PROP_FPS), size)
    if not writer.isOpened():
        cap.release()
        raise ValueError(f"{dst}: cannot write a Motion JPEG AVI there")
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            writer.write(frame)
    finally:
        writer.release()
        cap.release()
    return Path(dst)
