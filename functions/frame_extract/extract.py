"""Scene detection (cuts) and one key frame per scene, in a single decoding pass.

PySceneDetect's ``SceneManager`` decodes on a background thread, downscales each frame and feeds
it to the detector. We keep all of that and add two thin wrappers:

* :class:`_TappedStream` (a ``VideoStreamCv2``) hands every full-resolution frame, as it is
  decoded, to a short hand-off queue (at most ``MAX_FRAME_QUEUE_LENGTH + 2`` frames);
* :class:`_KeyframeDetector` (a ``SceneDetector`` around the real one) takes the matching
  full-resolution frame for each detector call and feeds a :class:`MiddleFrameSelector`, which
  keeps, in bounded memory, the candidates for the middle of the scene still open.

When a cut arrives, the closed scene's middle frame is JPEG-encoded and handed to ``on_keyframe``
at once (the handler uploads it while detection goes on). Nothing seeks back and nothing is decoded
twice.

Middle-frame tolerance (documented contract, tested in ``tests/unit/test_selector.py``): for a
scene of ``n`` frames whose cut the detector reports on the cut frame itself, the key frame is the
exact middle (``start + n // 2``) while ``n <= 2 * (K - 1)``, and within ``ceil(n / (2 * (K - 1)))``
frames of it beyond that, where ``K`` is the candidate capacity (``KEYFRAME_BUFFER_MB`` divided by
the frame size, at least 4). A cut reported late (the merge filter after a flash, the adaptive
detector's window) can add up to half that lag.
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from functions.frame_extract._scenedetect import (
    AdaptiveDetector,
    ContentDetector,
    FrameTimecode,
    Interpolation,
    SceneDetector,
    SceneManager,
    VideoStreamCv2,
    compute_downscale_factor,
)
from functions.frame_extract.settings import Detector
from shared.errors import CorruptVideoError
from shared.video import (
    MIN_DECODED_SHARE,
    VideoInfo,
    encode_jpeg,
    open_video,
    single_threaded_opencv,
    video_info,
)

#: How often (in decoded frames) the deadline callback is consulted.
DEADLINE_EVERY_FRAMES = 64


@dataclass(frozen=True)
class ExtractParams:
    """Frame-extract parameters (defaults are the settings' defaults).

    Attributes:
        detector: ``content`` (PySceneDetect ``ContentDetector``) or ``adaptive``.
        threshold: the detector's threshold: ``ContentDetector.threshold`` (default 27.0) or
            ``AdaptiveDetector.adaptive_threshold`` (default 3.0).
        min_scene_len_frames: shortest scene in frames (PySceneDetect's default, 15).
        min_frames: below this many scenes, evenly spaced frames are taken instead.
        jpeg_quality: JPEG quality 1-100.
        buffer_bytes: memory for middle-frame candidates (``KEYFRAME_BUFFER_MB``).
        max_keyframes: most key frames (scenes) produced (``MAX_KEYFRAMES``): once the open scene
            is the last one allowed, further cuts are ignored and it runs to the end. The fallback
            takes ``min_frames``, which may not exceed it.
    """

    detector: Detector = Detector.CONTENT
    threshold: float = 27.0
    min_scene_len_frames: int = 15
    min_frames: int = 3
    jpeg_quality: int = 90
    buffer_bytes: int = 128 * 1024 * 1024
    max_keyframes: int = 200

    def __post_init__(self) -> None:
        if not 1 <= self.min_frames <= self.max_keyframes:
            raise ValueError(
                f"min_frames {self.min_frames} must be 1-{self.max_keyframes} (MAX_KEYFRAMES)"
            )

    def make_detector(self) -> SceneDetector:
        """The configured PySceneDetect detector."""
        if self.detector == Detector.ADAPTIVE:
            return AdaptiveDetector(
                adaptive_threshold=self.threshold, min_scene_len=self.min_scene_len_frames
            )
        return ContentDetector(threshold=self.threshold, min_scene_len=self.min_scene_len_frames)


@dataclass(frozen=True)
class KeyFrame:
    """One scene's representative frame, ready to store.

    Attributes:
        scene_index: 0-based scene index (the JPEG is ``{scene_index}.jpg``).
        frame: 0-based decoded frame index.
        time_s: ``frame / fps`` in seconds.
        jpeg: the encoded image (display aspect, square pixels).
    """

    scene_index: int
    frame: int
    time_s: float
    jpeg: bytes

    @property
    def file(self) -> str:
        """File name relative to the frames folder."""
        return f"{self.scene_index}.jpg"


@dataclass
class ExtractResult:
    """The manifest (docs/outputs.md) plus measurements for metrics.

    Attributes:
        manifest: the ``frames/manifest.json`` document.
        keyframes: the key frames in scene order (already handed to ``on_keyframe``).
        decoded_frames: frames decoded.
        seconds: wall time of detection and selection.
        cuts_ignored: cuts past ``max_keyframes`` scenes, not turned into scenes.
    """

    manifest: dict[str, Any]
    keyframes: list[KeyFrame] = field(default_factory=list)
    decoded_frames: int = 0
    seconds: float = 0.0
    cuts_ignored: int = 0


class MiddleFrameSelector:
    """Candidates for the middle frame of the open scene, in bounded memory.

    Frames arrive in decode order through :meth:`push`; :meth:`close` ends the open scene at a
    cut and returns the retained frame nearest the scene's middle (``start + n // 2``, ties to the
    earlier frame). The pool holds, for the open scene, the frames at multiples of a stride from
    its start that lie at or after the current middle, plus the one nearest below it; the stride
    doubles whenever more than ``capacity`` such frames are held. The last ``lookback`` frames are
    always kept, so a cut that the detector reports up to ``lookback`` frames late still finds
    both scenes' frames.

    Args:
        capacity: candidates kept outside the lookback window (at least 4).
        lookback: how many frames late a detector may report a cut
            (``SceneDetector.event_buffer_length``).
    """

    def __init__(self, capacity: int, lookback: int = 0) -> None:
        self.capacity = max(4, capacity)
        self.lookback = max(0, lookback)
        self._start = 0
        self._stride = 1
        self._last = -1
        self._pool: dict[int, np.ndarray] = {}

    @property
    def held(self) -> int:
        """Frames held right now (for memory accounting in tests)."""
        return len(self._pool)

    @property
    def last(self) -> int:
        """Index of the last frame pushed (-1 before any)."""
        return self._last

    def push(self, index: int, frame: np.ndarray) -> None:
        """Add the next decoded frame (indices must increase)."""
        if index <= self._last:
            raise ValueError(f"frame {index} pushed after frame {self._last}")
        self._last = index
        self._pool[index] = frame
        self._prune()

    def _prune(self) -> None:
        if self._last < self._start:
            return
        horizon = self._last - self.lookback
        mid = self._start + (self._last - self._start + 1) // 2
        below = [i for i in self._pool if i < mid]
        low = below[-1] if below else None

        def droppable(i: int, stride: int) -> bool:
            return i < horizon and i != low and (i < mid or (i - self._start) % stride != 0)

        for i in [i for i in self._pool if droppable(i, self._stride)]:
            del self._pool[i]
        old = [i for i in self._pool if i < horizon]
        while len(old) > self.capacity:
            self._stride *= 2
            for i in [i for i in old if droppable(i, self._stride)]:
                del self._pool[i]
            old = [i for i in self._pool if i < horizon]

    def close(self, cut: int) -> tuple[int, np.ndarray]:
        """End the open scene at ``cut`` (exclusive) and return ``(frame index, frame)``.

        Frames at or after ``cut`` seed the next scene, which starts at ``cut``.

        Raises:
            ValueError: no frame was pushed since the previous cut.
        """
        if not self._pool:
            raise ValueError("close() with no frames")
        middle = self._start + max(0, cut - self._start) // 2
        before = [i for i in self._pool if i < cut]
        # A cut reported later than `lookback` can leave the old scene without frames; the
        # nearest frame held is then the best available answer.
        pick = min(before or list(self._pool), key=lambda i: (abs(i - middle), i))
        frame = self._pool[pick]
        self._pool = {i: f for i, f in self._pool.items() if i >= cut}
        self._start, self._stride = cut, 1
        self._prune()
        return pick, frame


class _TappedStream(VideoStreamCv2):
    """``VideoStreamCv2`` that also hands each full-resolution frame to ``tap``."""

    def __init__(self, path: str, tap: queue.Queue[tuple[int, int, np.ndarray] | None]) -> None:
        super().__init__(path)
        self._tap = tap
        self._decoded = 0

    def read(self, decode: bool = True) -> np.ndarray | bool:
        frame = super().read(decode)
        if decode and isinstance(frame, np.ndarray):
            self._tap.put((self._decoded, self.position.frame_num, frame))
            self._decoded += 1
        return frame


class _KeyframeDetector(SceneDetector):
    """Runs the real detector and drives the selector with the matching full-res frames.

    The scene manager runs with its downscale off, so its decoding thread (the bottleneck: the
    detector's thread waits on it) only decodes; the frame is shrunk here, on the detector's
    thread, by the very call ``SceneManager`` would make (same factor, size and interpolation),
    so the detector sees the same pixels and finds the same cuts.
    """

    def __init__(
        self,
        inner: SceneDetector,
        tap: queue.Queue[tuple[int, int, np.ndarray] | None],
        on_frame: Callable[[int, np.ndarray], None],
        on_cut: Callable[[int], None],
        check_deadline: Callable[[], None] | None,
        downscale: float = 1.0,
    ) -> None:
        super().__init__()
        self.inner = inner
        self._downscale = downscale
        self._tap = tap
        self._on_frame = on_frame
        self._on_cut = on_cut
        self._check_deadline = check_deadline
        # stream position (frame_num) -> decoded index, for the frames a late cut may name
        self._index_of: dict[int, int] = {}
        self.frames_seen = 0

    @property
    def event_buffer_length(self) -> int:
        return self.inner.event_buffer_length

    def _decoded_index(self, position_frame: int) -> int:
        if position_frame in self._index_of:
            return self._index_of[position_frame]
        # Older than the window we keep: the stream is constant-frame-rate enough here.
        return position_frame

    def process_frame(self, timecode: FrameTimecode, frame_img: np.ndarray) -> list[FrameTimecode]:
        # Take the full-res frame that matches this detector call; frames the scene manager
        # skipped (wrong size) are dropped on the way.
        while True:
            item = self._tap.get()
            if item is None:  # pragma: no cover - the stream ended under us
                raise CorruptVideoError("decoder stopped mid-frame")
            decoded, position_frame, full = item
            if position_frame >= timecode.frame_num:
                break
        self._index_of[position_frame] = decoded
        if len(self._index_of) > 4 * (self.event_buffer_length + 8):
            for k in sorted(self._index_of)[: len(self._index_of) // 2]:
                del self._index_of[k]
        self._on_frame(decoded, full)
        self.frames_seen += 1
        if self._check_deadline is not None and self.frames_seen % DEADLINE_EVERY_FRAMES == 0:
            self._check_deadline()
        if self._downscale > 1.0:
            # SceneManager._decode_thread's own resize (scenedetect 0.7, auto downscale)
            frame_img = cv2.resize(
                frame_img,
                (
                    max(1, round(frame_img.shape[1] / self._downscale)),
                    max(1, round(frame_img.shape[0] / self._downscale)),
                ),
                interpolation=Interpolation.LINEAR.value,
            )
        cuts = self.inner.process_frame(timecode, frame_img)
        for cut in cuts:
            self._on_cut(self._decoded_index(cut.frame_num))
        return cuts

    def post_process(self, timecode: FrameTimecode) -> list[FrameTimecode]:
        cuts = self.inner.post_process(timecode)
        for cut in cuts:
            self._on_cut(self._decoded_index(cut.frame_num))
        return cuts

    def get_metrics(self) -> list[str]:
        return self.inner.get_metrics()


def _fallback_targets(total: int, count: int) -> list[tuple[int, int, int]]:
    """``count`` equal segments of ``[0, total)`` as ``(start, end, middle)``."""
    count = max(1, min(count, total))
    segs = []
    for k in range(count):
        start, end = (k * total) // count, ((k + 1) * total) // count
        segs.append((start, end, start + (end - start) // 2))
    return segs


def _round(x: float | Fraction) -> float:
    return round(float(x), 6)


def extract_keyframes(
    video_path: Path | str,
    params: ExtractParams,
    *,
    platform: str,
    shortcode: str,
    on_keyframe: Callable[[KeyFrame], None] | None = None,
    check_deadline: Callable[[], None] | None = None,
    show_progress: bool = False,
) -> ExtractResult:
    """Detect cuts and take one key frame per scene in a single decoding pass.

    Scenes follow PySceneDetect's convention: a cut at ``N`` means frame ``N`` starts a new
    scene; ``end_frame`` is exclusive; frame indices are 0-based decoded frames and times are
    ``frame / fps`` seconds. With fewer than ``params.min_frames`` scenes, ``min_frames`` evenly
    spaced segments replace them (the middle of each, chosen from the container's declared frame
    count) and the manifest says ``"fallback": true``.

    Args:
        video_path: local video file.
        params: detector and output parameters.
        platform: validated platform, recorded in the manifest.
        shortcode: validated shortcode, recorded in the manifest.
        on_keyframe: called with each :class:`KeyFrame` as soon as it is final, in scene
            order (on the calling thread). Scene frames are held back only until the scene
            count reaches ``min_frames``, so a fallback never emits a stray scene frame.
        check_deadline: called every ``DEADLINE_EVERY_FRAMES`` frames; raise
            :class:`~shared.errors.OutOfTimeError` from it to abort.
        show_progress: draw PySceneDetect's tqdm progress bar (CLI).

    Returns:
        The manifest, the key frames and measurements.

    Raises:
        CorruptVideoError: not a video, nothing decodes, or less than half of the declared
            frames decode (truncated file).
        OutOfTimeError: from ``check_deadline``.
    """
    started = time.perf_counter()
    single_threaded_opencv()
    tap: queue.Queue[tuple[int, int, np.ndarray] | None] = queue.Queue()
    stream = open_video(video_path, factory=lambda p: _TappedStream(p, tap))
    info: VideoInfo = video_info(stream)
    fps = info.fps
    display = info.display_size
    frame_bytes = info.width * info.height * 3
    detector = params.make_detector()
    lookback = detector.event_buffer_length
    selector = MiddleFrameSelector(
        capacity=params.buffer_bytes // max(1, frame_bytes) - lookback, lookback=lookback
    )

    # Fallback picks come from the declared frame count, encoded as they pass (a few JPEGs).
    fallback_segments = _fallback_targets(info.frame_count, params.min_frames)
    fallback_wanted = {mid for _, _, mid in fallback_segments}
    fallback_jpegs: dict[int, bytes] = {}
    last_frame: list[tuple[int, np.ndarray]] = []

    scenes: list[tuple[int, int, int, bytes]] = []  # (start, end, pick, jpeg)
    emitted: list[KeyFrame] = []
    scene_start = 0
    cuts_ignored = 0

    def to_keyframe(i: int, pick: int, jpeg: bytes) -> KeyFrame:
        return KeyFrame(scene_index=i, frame=pick, time_s=_round(pick / fps), jpeg=jpeg)

    def emit_ready() -> None:
        # Hold scene frames until there are at least min_frames scenes (closed + the open one).
        if on_keyframe is None or len(scenes) + 1 < params.min_frames:
            return
        while len(emitted) < len(scenes):
            i = len(emitted)
            kf = to_keyframe(i, scenes[i][2], scenes[i][3])
            emitted.append(kf)
            on_keyframe(kf)

    def on_frame(index: int, frame: np.ndarray) -> None:
        selector.push(index, frame)
        if index in fallback_wanted:
            fallback_jpegs[index] = encode_jpeg(
                frame, quality=params.jpeg_quality, display_size=display
            )
        last_frame[:] = [(index, frame)]

    def on_cut(cut: int) -> None:
        nonlocal scene_start, cuts_ignored
        if cut <= scene_start:
            return
        if len(scenes) + 1 >= params.max_keyframes:  # the open scene is the last one allowed
            cuts_ignored += 1
            return
        pick, frame = selector.close(cut)
        jpeg = encode_jpeg(frame, quality=params.jpeg_quality, display_size=display)
        scenes.append((scene_start, cut, pick, jpeg))
        scene_start = cut
        emit_ready()

    downscale = compute_downscale_factor(max(info.width, info.height))
    wrapper = _KeyframeDetector(detector, tap, on_frame, on_cut, check_deadline, downscale)
    manager = SceneManager()
    manager.auto_downscale = False  # downscale stays 1: the wrapper shrinks on its own thread
    manager.add_detector(wrapper)
    manager.detect_scenes(video=stream, show_progress=show_progress)
    decoded = wrapper.frames_seen
    del stream

    if decoded == 0:
        raise CorruptVideoError(f"{Path(video_path).name}: no frame could be decoded")
    if info.frame_count > 0 and decoded < MIN_DECODED_SHARE * info.frame_count:
        raise CorruptVideoError(
            f"{Path(video_path).name}: truncated or corrupt, decoded {decoded} of "
            f"{info.frame_count} declared frames"
        )
    # Close the last scene.
    pick, frame = selector.close(decoded)
    scenes.append(
        (
            scene_start,
            decoded,
            pick,
            encode_jpeg(frame, quality=params.jpeg_quality, display_size=display),
        )
    )

    fallback = len(scenes) < params.min_frames
    if fallback:
        segs = _fallback_targets(decoded, params.min_frames)
        # Targets were chosen from the declared count; where the decode was shorter, the last
        # decoded frame stands in for the ones never reached.
        last_idx, last_img = last_frame[0]
        scenes = []
        for (s, e, _), (_, _, want) in zip(
            segs, _fallback_targets(info.frame_count or decoded, params.min_frames), strict=False
        ):
            if want in fallback_jpegs:
                scenes.append((s, e, want, fallback_jpegs[want]))
            else:
                jpeg = encode_jpeg(last_img, quality=params.jpeg_quality, display_size=display)
                scenes.append((s, e, last_idx, jpeg))
        emitted.clear()
    keyframes = [to_keyframe(i, pick, jpeg) for i, (_, _, pick, jpeg) in enumerate(scenes)]
    if on_keyframe is not None:
        for kf in keyframes[len(emitted) :]:
            on_keyframe(kf)

    manifest = build_manifest(
        platform=platform,
        shortcode=shortcode,
        fps=fps,
        frame_count=decoded,
        display=display,
        params=params,
        fallback=fallback,
        scenes=[(s, e) for s, e, _, _ in scenes],
        keyframes=keyframes,
    )
    return ExtractResult(
        manifest=manifest,
        keyframes=keyframes,
        decoded_frames=decoded,
        seconds=time.perf_counter() - started,
        cuts_ignored=cuts_ignored,
    )


def build_manifest(
    *,
    platform: str,
    shortcode: str,
    fps: Fraction,
    frame_count: int,
    display: tuple[int, int],
    params: ExtractParams,
    fallback: bool,
    scenes: list[tuple[int, int]],
    keyframes: list[KeyFrame],
) -> dict[str, Any]:
    """The ``frames/manifest.json`` document of docs/outputs.md.

    ``video.width``/``height`` are the key frames' size: the display size, which equals the
    stored size except for anamorphic video. Times are seconds rounded to the microsecond.
    """
    f = float(fps)
    return {
        "video": {
            "platform": platform,
            "shortcode": shortcode,
            "fps": _round(f),
            "frame_count": frame_count,
            "duration_s": _round(frame_count / fps),
            "width": display[0],
            "height": display[1],
        },
        "detector": {
            "name": str(params.detector),
            "threshold": float(params.threshold),
            "min_scene_len_frames": params.min_scene_len_frames,
        },
        "fallback": fallback,
        "scenes": [
            {
                "index": i,
                "start_frame": start,
                "end_frame": end,
                "start_s": _round(start / fps),
                "end_s": _round(end / fps),
                "keyframe": {"frame": kf.frame, "time_s": kf.time_s, "file": kf.file},
            }
            for i, ((start, end), kf) in enumerate(zip(scenes, keyframes, strict=True))
        ],
    }


def cuts_of(manifest: dict[str, Any]) -> list[int]:
    """The cut frames a manifest describes (every scene start but the first)."""
    return [s["start_frame"] for s in manifest["scenes"][1:]]


def middle_tolerance(scene_frames: int, capacity: int) -> int:
    """Largest documented distance (frames) from a scene's exact middle for on-time cuts."""
    if scene_frames <= 2 * (capacity - 1):
        return 0
    return math.ceil(scene_frames / (2 * (capacity - 1)))
