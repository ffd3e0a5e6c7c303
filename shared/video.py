"""Video I/O shared by the stages: opening with clear errors, basic facts, JPEG encoding.

Decoding goes through PySceneDetect's OpenCV backend (``VideoStreamCv2``), which was
faster than PyAV (docs/dependencies.md) for detection on this hardware.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from scenedetect.backends.opencv import VideoStreamCv2
from scenedetect.video_stream import VideoOpenFailure

from shared.errors import CorruptVideoError

# PySceneDetect logs an ERROR with a link to its tracker when it cannot identify a codec; our own
# CorruptVideoError says it better, so keep its logger at WARNING+ but quiet below CRITICAL here.
logging.getLogger("pyscenedetect").setLevel(logging.CRITICAL)

#: Below this share of the frames a container declares (or of the samples planned from them), a
#: decode is treated as a truncated or corrupt file rather than a short video.
MIN_DECODED_SHARE = 0.5


@dataclass(frozen=True)
class VideoInfo:
    """Container facts about a video.

    Attributes:
        fps: nominal frame rate (frames per second) as an exact fraction (``30000/1001``).
        frame_count: frames the container declares (an estimate for some formats; 0 if unknown).
        width: stored frame width in pixels.
        height: stored frame height in pixels.
        sample_aspect_ratio: pixel aspect ratio (1.0 for square pixels; 16/11 for PAL 16:9).
    """

    fps: Fraction
    frame_count: int
    width: int
    height: int
    sample_aspect_ratio: float

    @property
    def display_size(self) -> tuple[int, int]:
        """``(width, height)`` in square pixels: the stored width scaled by the pixel aspect."""
        if abs(self.sample_aspect_ratio - 1.0) < 1e-3:
            return self.width, self.height
        return round(self.width * self.sample_aspect_ratio), self.height


def single_threaded_opencv() -> None:
    """Run OpenCV's own operations (colour conversion, resize) on the calling thread.

    FFmpeg's frame-threaded H.264 decoder already occupies the cores; OpenCV's thread pool on
    top of it only adds contention. Measured on the 60 s 720p benchmark clip on 2 cores:
    detection with key frames took 6.4 s with OpenCV's default pool and 5.5 s without it
    (``bench/frame_extract.py``). It also suits ``CONCURRENCY_LIMIT`` records decoding at once,
    and the landmarks stage, whose segment workers already occupy one core each.
    """
    cv2.setNumThreads(0)


def open_video(
    path: Path | str, factory: Callable[[str], VideoStreamCv2] = VideoStreamCv2
) -> VideoStreamCv2:
    """Open a local video file for decoding.

    Args:
        path: the file.
        factory: builds the stream from the path (a ``VideoStreamCv2`` subclass, e.g. one that
            taps the decoded frames); its open errors get the same clear messages.

    Raises:
        CorruptVideoError: the file is missing, empty, not a video, or has no frame rate.
    """
    p = Path(path)
    if not p.is_file():
        raise CorruptVideoError(f"{p.name}: no such file")
    if p.stat().st_size == 0:
        raise CorruptVideoError(f"{p.name}: file is empty")
    try:
        stream = factory(str(p))
    except (VideoOpenFailure, OSError, ValueError) as exc:
        raise CorruptVideoError(
            f"{p.name}: not a readable video (the decoder could not open it)"
        ) from exc
    width, height = stream.frame_size
    if width <= 0 or height <= 0:
        raise CorruptVideoError(f"{p.name}: the video stream has no frame size")
    return stream


def video_info(stream: VideoStreamCv2) -> VideoInfo:
    """Facts about an opened stream (no frames are decoded)."""
    width, height = stream.frame_size
    duration = stream.duration
    return VideoInfo(
        fps=Fraction(stream.frame_rate),
        frame_count=max(0, int(duration.frame_num)) if duration is not None else 0,
        width=width,
        height=height,
        sample_aspect_ratio=float(stream.aspect_ratio or 1.0),
    )


def encode_jpeg(
    frame: np.ndarray, *, quality: int = 90, display_size: tuple[int, int] | None = None
) -> bytes:
    """Encode a BGR frame as baseline JPEG.

    Args:
        frame: ``(H, W, 3)`` uint8 BGR, as OpenCV decodes.
        quality: JPEG quality 1-100 (OpenCV's ``IMWRITE_JPEG_QUALITY``).
        display_size: ``(width, height)`` to resize to first (square pixels for anamorphic
            video); ``None`` keeps the stored size.

    Raises:
        ValueError: OpenCV could not encode the frame.
    """
    if display_size is not None and (frame.shape[1], frame.shape[0]) != display_size:
        frame = cv2.resize(frame, display_size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
