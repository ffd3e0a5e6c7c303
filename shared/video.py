"""Video I/O shared by the stages: opening with clear errors, basic facts, JPEG encoding, and
the up-front inspection every stage runs before it decodes (:func:`inspect_video`: the frame-size
bound ``MAX_VIDEO_PIXELS`` and the codec check, docs/reliability.md).

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

from shared.errors import CorruptVideoError, ResolutionTooLargeError, UnsupportedCodecError

# PySceneDetect logs an ERROR with a link to its tracker when it cannot identify a codec; our own
# CorruptVideoError says it better, so keep its logger at WARNING+ but quiet below CRITICAL here.
logging.getLogger("pyscenedetect").setLevel(logging.CRITICAL)

#: Below this share of the frames a container declares (or of the samples planned from them), a
#: decode is treated as a truncated or corrupt file rather than a short video.
MIN_DECODED_SHARE = 0.5

#: Container codec tags (FourCC, lower case) and the codec they name.
_CODEC_OF_TAG = {
    "avc1": "h264", "avc3": "h264", "h264": "h264", "x264": "h264",
    "hev1": "hevc", "hvc1": "hevc", "hevc": "hevc", "h265": "hevc",
    "vp90": "vp9", "vp09": "vp9", "vp80": "vp8", "vp08": "vp8",
    "av01": "av1",
    "mp4v": "mpeg4", "fmp4": "mpeg4", "xvid": "mpeg4", "divx": "mpeg4", "dx50": "mpeg4",
    "mpg1": "mpeg1video", "mpg2": "mpeg2video", "mp2v": "mpeg2video",
    "mjpg": "mjpeg", "jpeg": "mjpeg",
    "apch": "prores", "apcn": "prores", "apcs": "prores", "apco": "prores", "ap4h": "prores",
    "ffv1": "ffv1", "theo": "theora", "wmv3": "wmv3", "wvc1": "vc1",
}  # fmt: skip

#: Codecs the image's decoder (OpenCV 4.11's bundled FFmpeg, opencv-python-headless 4.11.0.86)
#: was shown to decode, 8-bit and 10-bit (tests/integration/test_codecs.py,
#: docs/dependencies.md). A video in one of them that decodes no frame is corrupt; in any other
#: codec it is unsupported.
DECODABLE_CODECS = frozenset(
    {"h264", "hevc", "vp9", "vp8", "mpeg4", "mpeg1video", "mpeg2video", "mjpeg", "prores", "ffv1"}
)


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


def codec_of(fourcc: int) -> str:
    """The codec a container's FourCC tag names (``av1`` for ``AV01``), or the tag itself."""
    tag = int(fourcc).to_bytes(4, "little").decode("latin-1").strip("\x00 ").lower()
    return _CODEC_OF_TAG.get(tag, tag or "unknown")


def check_frame_size(width: int, height: int, *, max_pixels: int, name: str) -> None:
    """Refuse frames over ``max_pixels`` (``MAX_VIDEO_PIXELS``).

    Raises:
        ResolutionTooLargeError: ``width * height > max_pixels``; the message gives both.
    """
    if width * height > max_pixels:
        raise ResolutionTooLargeError(
            f"{name}: frames are {width}x{height} = {width * height} pixels, over "
            f"MAX_VIDEO_PIXELS={max_pixels}; decoding memory grows with the frame size "
            "(docs/reliability.md)"
        )


def inspect_video(path: Path | str, *, max_pixels: int, decode_check: bool = True) -> VideoInfo:
    """Check a downloaded video before a stage decodes it: every stage calls this first.

    Reads the frame size, rate and codec from the container (OpenCV's FFmpeg demuxer), refuses
    frames over ``max_pixels`` before a single frame is decoded, then (with ``decode_check``)
    decodes the first frame only, without colour conversion, to prove the codec can be decoded.

    Args:
        path: the local file.
        max_pixels: largest ``width * height`` accepted (``MAX_VIDEO_PIXELS``).
        decode_check: decode the first frame (off for a stage that never decodes, physics).

    Returns:
        The container facts.

    Raises:
        CorruptVideoError: missing, empty, not a video, no frame size or rate, or a codec the
            image decodes that yields no frame.
        ResolutionTooLargeError: over ``max_pixels``.
        UnsupportedCodecError: the first frame does not decode and the codec is not one of
            :data:`DECODABLE_CODECS`; the message names the codec.
    """
    p = Path(path)
    if not p.is_file():
        raise CorruptVideoError(f"{p.name}: no such file")
    if p.stat().st_size == 0:
        raise CorruptVideoError(f"{p.name}: file is empty")
    cap = cv2.VideoCapture(str(p), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise CorruptVideoError(
                f"{p.name}: not a readable video (the decoder could not open it)"
            )
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if width <= 0 or height <= 0:
            raise CorruptVideoError(f"{p.name}: the video stream has no frame size")
        check_frame_size(width, height, max_pixels=max_pixels, name=p.name)
        if fps <= 0:
            raise CorruptVideoError(f"{p.name}: the video stream has no frame rate")
        codec = codec_of(int(cap.get(cv2.CAP_PROP_FOURCC)))
        if decode_check and not cap.grab():
            if codec in DECODABLE_CODECS:
                raise CorruptVideoError(f"{p.name}: no frame could be decoded ({codec} stream)")
            raise UnsupportedCodecError(
                f"{p.name}: the video is encoded as {codec}, which this image cannot decode "
                f"(it decodes {', '.join(sorted(DECODABLE_CODECS))}; docs/dependencies.md)"
            )
        sar_num = float(cap.get(cv2.CAP_PROP_SAR_NUM) or 0.0)
        sar_den = float(cap.get(cv2.CAP_PROP_SAR_DEN) or 0.0)
        return VideoInfo(
            fps=Fraction(fps).limit_denominator(1001),
            frame_count=max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
            width=width,
            height=height,
            sample_aspect_ratio=sar_num / sar_den if sar_num > 0 and sar_den > 0 else 1.0,
        )
    finally:
        cap.release()


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
