"""Pose and hand landmark sequences from a video with MediaPipe's bundled models.

**API choice: the legacy solutions** (``mediapipe.solutions.pose`` at ``model_complexity=1``;
``mediapipe.solutions.holistic``'s graph without its face part when hands are on, see
:func:`pose_hands_graph`), not the Tasks ``PoseLandmarker`` in VIDEO
mode:

* *Models*: both run the same ``pose_detection.tflite`` + ``pose_landmark_full.tflite``. The
  legacy graphs load them from inside the package; Tasks needs a ``.task`` bundle that
  mediapipe 0.10.21 does not ship (it must be assembled offline with ``metadata_writers``),
  and 0.10.30+ bundles no models at all (docs/dependencies.md).
* *Detection rate and speed*, measured here by ``bench/landmarks_api.py`` (every frame, the
  same networks; Tasks with a ``.task`` bundle built from the package's models): legacy found a
  pose in 222 of 230 ``sports2d_demo.mp4`` frames and 429 of 795 ``vtest.avi`` frames, Tasks
  VIDEO mode in 219 and 375, with 98.6% and 98.7% of the ``vtest.avi`` hip midpoints inside a
  ground-truth person box; the time per frame was the same within noise (39 vs 41 ms at
  1768x994, 26 ms at 768x576, colour conversion included). (docs/dependencies.md: Tasks was ahead
  on a 119-frame pedestrian excerpt; over the whole sequence legacy tracking finds more.) The legacy
  ``process`` releases the GIL, which the segment workers below need.
* *Hands*: the stand-alone hands graph searches the whole frame with its palm detector and
  found no hand in any of the 230 frames of ``sports2d_demo.mp4`` (people are full body, hands
  small); the holistic graph crops each hand from the pose's wrist and found the left hand in
  78 and the right in 107, at about 40 ms a frame against 27 ms for pose alone.
* *Future support*: upstream freezes the legacy solutions; they stay in 0.10.x. Moving to
  Tasks means building the ``.task`` bundles at image build time; the array contract below
  would not change.

**Pipeline.** The sampled frames are split into ``workers`` contiguous segments. Each segment
has a decoder thread (its own ``cv2.VideoCapture``, one seek to the segment start, then
:func:`sampled_frames`: ``grab()`` without colour conversion for the frames between samples,
which inter-coded video needs as references; for Motion JPEG, whose frames are all key frames,
packets are read and only the sampled ones decoded) feeding a bounded queue of
``queue_frames`` RGB frames, and an inference thread with its own MediaPipe graphs, so decoding
and inference overlap and every core is busy. Tracking restarts at each segment start (the
detector runs on that frame), which is one extra detection per segment. Memory is bounded by
``workers x (queue_frames + 2)`` frames; only the landmark arrays grow with the video. With
``performance.memory_limit_gb`` set, workers and queued frames are reduced per video to fit
(:func:`~functions.landmarks.config.memory_plan`).

Frames are identified by their 0-based decoded frame index; ``timestamps_s = frame_index / fps``
(constant frame rate, the same convention as the frame manifest).
"""

from __future__ import annotations

import io
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from functions.landmarks.config import LandmarksConfig, memory_plan
from functions.landmarks.multi import (
    LINK_GAP,
    Observation,
    PersonTracker,
    main_pose,
    people_arrays,
    stitch,
)
from shared.errors import CorruptVideoError
from shared.observability import quiet_native_logs
from shared.video import (
    MIN_DECODED_SHARE,
    VideoInfo,
    open_video,
    single_threaded_opencv,
    video_info,
)

#: ``schema_version`` of ``landmarks.json`` and the arrays it describes. 2: multi-person mode
#: (``max_people`` > 1) adds ``poses``, ``track_ids``, ``boxes`` and the ``people`` section;
#: with ``max_people`` 1 the arrays are those of version 1.
SCHEMA_VERSION = 2
POSE_LANDMARKS = 33
HAND_LANDMARKS = 21
#: Fewest sampled frames per segment: shorter segments would restart tracking too often.
MIN_SEGMENT_FRAMES = 24
#: Hand slots: 0 = the subject's left hand, 1 = the subject's right hand (see :func:`_hands_array`).
HAND_SLOTS = ("left", "right")
#: FourCC codes of Motion JPEG: every frame is a key frame and every packet a complete JPEG
#: image, so frames that are not sampled need not be decoded at all (:func:`sampled_frames`).
MOTION_JPEG_FOURCCS = frozenset({"MJPG", "mjpg", "jpeg", "JPEG"})
_EOF = object()


@dataclass
class LandmarksResult:
    """Landmark sequences of one video.

    Attributes:
        timestamps_s: ``(T,)`` float64, seconds from the start (``frame_index / fps``).
        frame_index: ``(T,)`` int64, 0-based decoded frame index of each sample.
        pose: ``(T, 33, 4)`` float32: x, y normalised to the frame width and height (0-1 inside
            the frame), z relative depth (hip midpoint at 0, same scale as x; smaller is nearer
            the camera), visibility in [0, 1]; NaN where no person was found.
        hands: ``(T, 2, 21, 3)`` float32 (x, y normalised, z relative to the wrist), slot 0 the
            subject's left hand, slot 1 the right; NaN where not found; ``None`` with hands off.
        metadata: the ``landmarks.json`` document (model, sampling, counts, timings, shapes).
        poses: multi-person mode only (``max_people`` P > 1, else ``None``): ``(T, P, 33, 4)``
            float32, the channels of ``pose`` for every tracked person, NaN in empty slots;
            ``pose`` is then the main person (the track seen in most frames).
        track_ids: ``(T, P)`` int32 track id in each slot, ``-1`` where empty; an id belongs
            to one person and is never reused within a video.
        boxes: ``(T, P, 4)`` float32 person box x0, y0, x1, y1 around the 33 landmarks,
            normalised like ``pose``; NaN in empty slots.
    """

    timestamps_s: np.ndarray
    frame_index: np.ndarray
    pose: np.ndarray
    hands: np.ndarray | None
    metadata: dict[str, Any]
    poses: np.ndarray | None = None
    track_ids: np.ndarray | None = None
    boxes: np.ndarray | None = None

    @property
    def frames(self) -> int:
        """T, the number of sampled frames."""
        return int(self.timestamps_s.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays as saved in ``landmarks.npz`` (no object arrays, so no pickle)."""
        out = {
            "timestamps_s": self.timestamps_s,
            "frame_index": self.frame_index,
            "pose": self.pose,
        }
        if self.hands is not None:
            out["hands"] = self.hands
        if self.poses is not None and self.track_ids is not None and self.boxes is not None:
            out["poses"] = self.poses
            out["track_ids"] = self.track_ids
            out["boxes"] = self.boxes
        return out

    def to_npz_bytes(self) -> bytes:
        """``np.savez_compressed`` of :meth:`arrays`, in memory (read back with
        ``np.load(io.BytesIO(data), allow_pickle=False)``)."""
        buf = io.BytesIO()
        np.savez_compressed(buf, **self.arrays())
        return buf.getvalue()


def sample_step(fps: float, target_fps: float) -> float:
    """Decoded frames per sample: ``fps / target_fps``, at least 1 (every frame)."""
    return max(1.0, fps / target_fps) if fps > 0 else 1.0


def sample_index(k: int, step: float) -> int:
    """Frame index of the ``k``-th sample (0-based): ``floor(k * step)``."""
    return math.floor(k * step + 1e-6)


def planned_samples(frame_count: int, step: float, max_frames: int | None) -> int | None:
    """How many samples a video of ``frame_count`` declared frames gives (``None`` if unknown)."""
    if frame_count <= 0:
        return max_frames
    n = math.ceil(frame_count / step - 1e-6)
    while n > 0 and sample_index(n - 1, step) >= frame_count:
        n -= 1
    return min(n, max_frames) if max_frames else n


@dataclass
class DecodeStats:
    """What reading one segment cost.

    Attributes:
        frames_decoded: frames the decoders produced (sampled and skipped ones).
        packet_samples: sampled frames decoded from their own Motion JPEG packet.
        fallback: why packet reading stopped part way (``None`` if it did not).
    """

    frames_decoded: int = 0
    packet_samples: int = 0
    fallback: str | None = None


@dataclass
class _Segment:
    """Samples ``k_start`` up to ``k_end`` (exclusive; ``None``: until end of file)."""

    number: int
    k_start: int
    k_end: int | None
    frames: queue.Queue[Any]
    indices: list[int] = field(default_factory=list)
    pose: list[np.ndarray] = field(default_factory=list)
    hands: list[np.ndarray] = field(default_factory=list)
    people: list[list[Observation]] = field(default_factory=list)
    searches: int = 0
    crops: int = 0
    decode_s: float = 0.0
    inference_s: float = 0.0
    decoding: DecodeStats = field(default_factory=DecodeStats)
    error: BaseException | None = None


def _plan_segments(
    total: int | None, k_end: int | None, workers: int, qsize: int
) -> list[_Segment]:
    if total is None or total < 2 * MIN_SEGMENT_FRAMES or workers <= 1:
        return [_Segment(0, 0, k_end, queue.Queue(qsize))]
    n = max(1, min(workers, total // MIN_SEGMENT_FRAMES))
    bounds = [round(i * total / n) for i in range(n + 1)]
    segs = [_Segment(i, bounds[i], bounds[i + 1], queue.Queue(qsize)) for i in range(n)]
    # The last segment reads on past the declared count (containers can under-declare).
    segs[-1].k_end = k_end
    return segs


def _pose_array(result: Any) -> np.ndarray:
    out = np.full((POSE_LANDMARKS, 4), np.nan, dtype=np.float32)
    lms = getattr(result, "pose_landmarks", None)
    if lms is not None:
        out[:] = [(p.x, p.y, p.z, p.visibility) for p in lms.landmark]
    return out


def _hands_array(result: Any) -> np.ndarray:
    """``(2, 21, 3)`` from a holistic result: slot 0 the hand found at the pose's left wrist
    (the subject's left, as pose landmark 15 ``left_wrist``), slot 1 the right."""
    out = np.full((2, HAND_LANDMARKS, 3), np.nan, dtype=np.float32)
    for slot, attr in enumerate(("left_hand_landmarks", "right_hand_landmarks")):
        lms = getattr(result, attr, None)
        if lms is not None:
            out[slot] = [(p.x, p.y, p.z) for p in lms.landmark]
    return out


#: Nodes of mediapipe's ``holistic_landmark_cpu`` graph that the pose-and-hands graph keeps.
_POSE_HANDS_NODES = ("PoseLandmarkCpu", "HandLandmarksLeftAndRightCpu")


def pose_hands_graph(config: LandmarksConfig) -> Any:
    """MediaPipe's holistic graph without its face part: pose, then each hand cropped from the
    pose's wrist (``hand_recrop.tflite`` + ``hand_landmark_full.tflite``).

    ``solutions.holistic.Holistic`` always runs the 468-point face-landmark model too; dropping
    its two face nodes gives the same pose and hand landmarks for about 10% less CPU (56 vs 62 ms
    a frame on ``sports2d_demo.mp4``; ``tests/integration/test_landmarks.py`` checks the output
    against ``Holistic``). Thresholds are set as ``Holistic`` sets them.

    Returns:
        A ``SolutionBase`` whose ``process(input_data={"image": rgb})`` gives
        ``pose_landmarks``, ``left_hand_landmarks`` and ``right_hand_landmarks``.
    """
    import mediapipe
    from mediapipe.framework import calculator_pb2
    from mediapipe.python.solution_base import SolutionBase
    from mediapipe.python.solutions import holistic

    graph = calculator_pb2.CalculatorGraphConfig()
    graph.ParseFromString(
        (Path(mediapipe.__file__).parent.parent / holistic._BINARYPB_FILE_PATH).read_bytes()
    )
    nodes = [n for n in graph.node if n.calculator in _POSE_HANDS_NODES]
    if len(nodes) != len(_POSE_HANDS_NODES):  # pragma: no cover - guards a mediapipe upgrade
        raise RuntimeError("mediapipe's holistic graph changed: pose/hand nodes not found")
    del graph.node[:]
    graph.node.extend(nodes)
    outputs = [o for o in graph.output_stream if not o.startswith("FACE_LANDMARKS")]
    del graph.output_stream[:]
    graph.output_stream.extend(outputs)
    sides = [p for p in graph.input_side_packet if not p.startswith("REFINE_FACE_LANDMARKS")]
    del graph.input_side_packet[:]
    graph.input_side_packet.extend(sides)
    mp = config.mediapipe
    return SolutionBase(
        graph_config=graph,
        side_inputs={
            "model_complexity": mp.model_complexity,
            "smooth_landmarks": mp.smooth_landmarks,
            "enable_segmentation": False,
            "smooth_segmentation": False,
            "use_prev_landmarks": True,
        },
        calculator_params={
            "poselandmarkcpu__posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": (
                mp.min_detection_confidence
            ),
            "poselandmarkcpu__poselandmarkbyroicpu__tensorstoposelandmarksandsegmentation"
            "__ThresholdingCalculator.threshold": mp.min_tracking_confidence,
        },
        outputs=["pose_landmarks", "left_hand_landmarks", "right_hand_landmarks"],
    )


def _packet_capture(path: str) -> Any:
    """A capture that returns each frame's encoded packet instead of decoding it."""
    return cv2.VideoCapture(path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_FORMAT, -1])


def motion_jpeg_size(path: Path | str) -> tuple[int, int] | None:
    """``(width, height)`` in pixels if the video is Motion JPEG that can be read packet by
    packet (:func:`sampled_frames`), else ``None``.

    A FourCC in :data:`MOTION_JPEG_FOURCCS` qualifies unless the container asks for a rotation
    (FFmpeg's decoder applies the display matrix; a packet decoded on its own would not).
    """
    cap = _packet_capture(str(path))
    try:
        if not cap.isOpened():
            return None
        code = (int(cap.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF).to_bytes(4, "little")
        if code.decode("latin-1") not in MOTION_JPEG_FOURCCS:
            return None
        if cap.get(cv2.CAP_PROP_ORIENTATION_META):
            return None
        return int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        cap.release()


def _open_at(path: str, index: int, packets: bool) -> tuple[Any, int]:
    """A capture at frame ``index`` after one seek or, where the container cannot seek exactly
    there, at frame 0; returns it and its position (0-based frame index of the next read)."""

    def open_() -> Any:
        return _packet_capture(path) if packets else cv2.VideoCapture(path)

    cap = open_()
    # Below frame 2 one grab is cheaper than a seek (and in packet mode OpenCV's seek to
    # frame 1 lands on frame 2).
    if index >= 2:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        if int(cap.get(cv2.CAP_PROP_POS_FRAMES)) == index:
            return cap, index
        cap.release()
        cap = open_()
    return cap, 0


def sampled_frames(
    path: Path | str,
    k_start: int,
    k_end: int | None,
    step: float,
    *,
    packet_size: tuple[int, int] | None = None,
    stats: DecodeStats | None = None,
) -> Generator[tuple[int, np.ndarray], None, None]:
    """The samples ``k_start <= k < k_end`` of a video, in order, as ``(frame_index, frame)``.

    ``frame_index`` is :func:`sample_index` ``(k, step)`` (0-based); ``frame`` is BGR
    ``(H, W, 3)`` uint8. One seek to the first sample, then:

    * by default, the frames between samples are ``grab()``bed: decoded but not converted, since
      inter-coded video (H.264, VP9, MPEG-4) needs them as references;
    * with ``packet_size`` (from :func:`motion_jpeg_size`), the stream is read as packets
      (``CAP_PROP_FORMAT=-1``) and only the sampled frames are decoded (``cv2.imdecode``), so a
      10 fps sampling of a 30 fps Motion JPEG video decodes a third of its frames. A packet the
      JPEG decoder cannot read, or that decodes to another size (interlaced Motion JPEG stores
      a field per image), hands the rest of the segment to FFmpeg decoding from that same
      frame; ``stats.fallback`` says so.

    Stops early at the end of the stream (``k_end=None``: reads to the end).
    """
    stats = stats if stats is not None else DecodeStats()
    path = str(path)
    size = packet_size  # None once FFmpeg decodes
    k = k_start
    cap, pos = _open_at(path, sample_index(k, step), size is not None)
    try:
        while k_end is None or k < k_end:
            index = sample_index(k, step)
            while pos < index:
                if not cap.grab():
                    return
                pos += 1
                if size is None:
                    stats.frames_decoded += 1
            ok, data = cap.read()
            if not ok:
                return
            pos += 1
            if size is not None:
                frame = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
                if frame is None or (frame.shape[1], frame.shape[0]) != size:
                    stats.fallback = (
                        f"frame {index}: the packet is not a {size[0]}x{size[1]} JPEG image; "
                        "FFmpeg decoded the rest of the segment"
                    )
                    cap.release()
                    size = None
                    cap, pos = _open_at(path, index, False)
                    continue
                stats.packet_samples += 1
            else:
                frame = data
            stats.frames_decoded += 1
            yield index, frame
            k += 1
    finally:
        cap.release()


def _decode(
    path: str,
    seg: _Segment,
    step: float,
    display: tuple[int, int] | None,
    packet_size: tuple[int, int] | None,
    stop: threading.Event,
) -> None:
    frames = sampled_frames(
        path, seg.k_start, seg.k_end, step, packet_size=packet_size, stats=seg.decoding
    )
    try:
        t0 = time.perf_counter()
        for index, frame in frames:
            if stop.is_set():
                break
            if display is not None:
                frame = cv2.resize(frame, display, interpolation=cv2.INTER_AREA)
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            seg.decode_s += time.perf_counter() - t0
            while not stop.is_set():
                try:
                    seg.frames.put((index, rgb), timeout=0.1)
                    break
                except queue.Full:
                    continue
            t0 = time.perf_counter()
    except BaseException as exc:  # handed to the caller's thread
        seg.error = exc
    finally:
        frames.close()
        while True:
            try:
                seg.frames.put(_EOF, timeout=0.1)
                break
            except queue.Full:
                if stop.is_set():
                    break


def _infer(
    seg: _Segment,
    config: LandmarksConfig,
    stop: threading.Event,
    done: Callable[[], None],
    on_sample: Callable[[int, np.ndarray], None] | None = None,
) -> None:
    mp = config.mediapipe
    if mp.max_people > 1:
        _infer_people(seg, config, stop, done, on_sample)
        return
    graph: Any = None
    try:
        common = {
            "static_image_mode": False,
            "model_complexity": mp.model_complexity,
            "smooth_landmarks": mp.smooth_landmarks,
            "min_detection_confidence": mp.min_detection_confidence,
            "min_tracking_confidence": mp.min_tracking_confidence,
        }
        if mp.hands:
            graph = pose_hands_graph(config)
        else:
            from mediapipe.python.solutions import pose

            graph = pose.Pose(**common)
        while not stop.is_set():
            try:
                item = seg.frames.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _EOF:
                return
            index, rgb = item
            t0 = time.perf_counter()
            result = graph.process({"image": rgb}) if mp.hands else graph.process(rgb)
            seg.pose.append(_pose_array(result))
            if mp.hands:
                seg.hands.append(_hands_array(result))
            seg.inference_s += time.perf_counter() - t0
            seg.indices.append(index)
            if on_sample is not None:
                on_sample(index, rgb)
            done()
    except BaseException as exc:  # handed to the caller's thread
        seg.error = seg.error or exc
    finally:
        if graph is not None:
            graph.close()


def _infer_people(
    seg: _Segment,
    config: LandmarksConfig,
    stop: threading.Event,
    done: Callable[[], None],
    on_sample: Callable[[int, np.ndarray], None] | None = None,
) -> None:
    """:func:`_infer` for ``max_people`` > 1: a :class:`PersonTracker` per segment."""
    mp = config.mediapipe
    tracker: PersonTracker | None = None
    try:
        tracker = PersonTracker(
            mp.max_people,
            mp.detect_every,
            mp.detection_grid,
            mp.min_detection_confidence,
            mp.min_tracking_confidence,
        )
        while not stop.is_set():
            try:
                item = seg.frames.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _EOF:
                return
            index, rgb = item
            t0 = time.perf_counter()
            seg.people.append(tracker.step(rgb))
            seg.inference_s += time.perf_counter() - t0
            seg.indices.append(index)
            if on_sample is not None:
                on_sample(index, rgb)
            done()
    except BaseException as exc:  # handed to the caller's thread
        seg.error = seg.error or exc
    finally:
        if tracker is not None:
            seg.searches, seg.crops = tracker.searches, tracker.crops
            tracker.close()


def _model_metadata(config: LandmarksConfig) -> dict[str, Any]:
    import mediapipe

    mp = config.mediapipe
    if mp.max_people > 1:
        return {
            "library": "mediapipe",
            "version": mediapipe.__version__,
            "api": "mediapipe.tasks PoseLandmarkerGraph (IMAGE mode) on a CalculatorGraph: "
            "crops around each track plus a tiled search for new people "
            "(functions/landmarks/multi.py)",
            "pose_model": "pose_detection.tflite + pose_landmark_full.tflite (bundled; .task "
            "assembled in memory)",
            "hand_model": None,
            "min_detection_confidence": mp.min_detection_confidence,
            "min_tracking_confidence": mp.min_tracking_confidence,
            "smooth_landmarks": False,
            "max_people": mp.max_people,
            "detect_every": mp.detect_every,
            "detection_grid": mp.detection_grid,
        }
    return {
        "library": "mediapipe",
        "version": mediapipe.__version__,
        "api": (
            "mediapipe.solutions.holistic graph without its face nodes"
            if mp.hands
            else "mediapipe.solutions.pose"
        )
        + " (legacy graph, tracking mode)",
        "pose_model": "pose_detection.tflite + pose_landmark_full.tflite (model_complexity=1)",
        "hand_model": (
            "hand_recrop.tflite + hand_landmark_full.tflite, regions from the pose's wrists"
            if mp.hands
            else None
        ),
        "min_detection_confidence": mp.min_detection_confidence,
        "min_tracking_confidence": mp.min_tracking_confidence,
        "smooth_landmarks": mp.smooth_landmarks,
    }


def landmark_names() -> dict[str, list[str]]:
    """MediaPipe's landmark names in array order: 33 pose, 21 hand."""
    from mediapipe.python.solutions.hands import HandLandmark
    from mediapipe.python.solutions.pose import PoseLandmark

    return {
        "pose": [p.name.lower() for p in PoseLandmark],
        "hand": [h.name.lower() for h in HandLandmark],
    }


def extract_landmarks(
    video_path: Path | str,
    config: LandmarksConfig,
    *,
    platform: str | None = None,
    shortcode: str | None = None,
    check_deadline: Callable[[], None] | None = None,
    on_plan: Callable[[int | None], None] | None = None,
    on_frame: Callable[[], None] | None = None,
    on_sample: Callable[[int, np.ndarray], None] | None = None,
) -> LandmarksResult:
    """Pose (and hand) landmarks of the sampled frames of a local video.

    Args:
        video_path: the video file.
        config: sampling, MediaPipe and processing settings (``config.s3`` is not used here).
        platform: recorded in the metadata.
        shortcode: recorded in the metadata.
        check_deadline: called about every 0.2 s; raises (``OutOfTimeError``) to stop the work.
        on_plan: called once with the planned number of samples (``None`` if the container
            declares no frame count).
        on_frame: called after each sampled frame is processed (any thread).
        on_sample: called with ``(frame_index, rgb)`` for each sampled frame after inference
            (any thread, in no particular order; ``rgb`` is the ``(H, W, 3)`` uint8 frame
            MediaPipe saw, at the display size). It must not keep ``rgb`` beyond the call
            without copying or downscaling it (the previews keep a few, downscaled).

    Returns:
        The arrays (``T`` samples; see :class:`LandmarksResult`) and the metadata.

    Raises:
        CorruptVideoError: not a video, no decodable frame, or fewer than half of the planned
            samples decode (truncated file).
        OutOfTimeError: from ``check_deadline``.
    """
    started = time.perf_counter()
    name = Path(video_path).name
    stream = open_video(video_path)
    info: VideoInfo = video_info(stream)
    del stream
    fps = float(info.fps)
    cfg = config.video
    step = sample_step(fps, cfg.target_fps)
    total = planned_samples(info.frame_count, step, cfg.max_frames)
    if on_plan is not None:
        on_plan(total)
    workers, queue_frames = memory_plan(
        config.performance.memory_limit_gb,
        info.width * info.height * 3,
        config.processing.workers or (os.cpu_count() or 1),
        config.processing.queue_frames,
        config.mediapipe.hands,
    )
    segments = _plan_segments(total, cfg.max_frames, workers, queue_frames)
    display = info.display_size if info.display_size != (info.width, info.height) else None
    packet_size = motion_jpeg_size(video_path)

    single_threaded_opencv()
    stop = threading.Event()
    lock = threading.Lock()

    def done() -> None:
        if on_frame is not None:
            with lock:
                on_frame()

    threads = []
    for seg in segments:
        threads.append(
            threading.Thread(
                target=_decode,
                args=(str(video_path), seg, step, display, packet_size, stop),
                name=f"landmarks-decode-{seg.number}",
                daemon=True,
            )
        )
        threads.append(
            threading.Thread(
                target=_infer,
                args=(seg, config, stop, done, on_sample),
                name=f"landmarks-infer-{seg.number}",
                daemon=True,
            )
        )
    # MediaPipe's C++ runtime logs INFO/WARNING lines on stderr while graphs start and run
    with quiet_native_logs():
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                threads[-1].join(0.2)
                if any(s.error is not None for s in segments):
                    break
                if check_deadline is not None:
                    check_deadline()
        finally:
            stop.set()  # no-op after a clean finish; stops every thread after an error/deadline
            for t in threads:
                t.join()
    for seg in segments:
        if seg.error is not None:
            raise seg.error

    frame_index = np.array([i for s in segments for i in s.indices], dtype=np.int64)
    n = len(frame_index)
    if n == 0:
        raise CorruptVideoError(f"{name}: no frame could be decoded")
    if total and n < MIN_DECODED_SHARE * total:
        raise CorruptVideoError(
            f"{name}: truncated or corrupt, decoded {n} of {total} planned samples"
        )
    people = None
    if config.mediapipe.max_people > 1:
        width, height = display or (info.width, info.height)
        people = people_arrays(
            stitch([s.people for s in segments]),
            config.mediapipe.max_people,
            frame_index,
            aspect=width / height if height else 1.0,
        )
        pose = main_pose(people)
    else:
        pose = np.stack([p for s in segments for p in s.pose]).astype(np.float32, copy=False)
    hands = (
        np.stack([h for s in segments for h in s.hands]).astype(np.float32, copy=False)
        if config.mediapipe.hands
        else None
    )
    timestamps = frame_index / fps if fps > 0 else frame_index.astype(np.float64)
    pose_found = int((~np.isnan(pose[:, 0, 0])).sum())
    elapsed = time.perf_counter() - started
    metadata: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "video": {
            "platform": platform,
            "shortcode": shortcode,
            "fps": round(fps, 6),
            "frame_count": info.frame_count,
            "duration_s": round(info.frame_count / fps, 6) if fps > 0 else None,
            "width": info.width,
            "height": info.height,
        },
        "model": _model_metadata(config),
        "sampling": {
            "target_fps": cfg.target_fps,
            "fps_used": round(fps / step, 6) if fps > 0 else None,
            "step_frames": round(step, 6),
            "max_frames": cfg.max_frames,
            "rule": "sample k is frame floor(k * step_frames); timestamps_s = frame_index / fps",
        },
        "frames_processed": n,
        "pose_frames": pose_found,
        "detection_rate": round(pose_found / n, 6),
        "hand_frames": (
            int((~np.isnan(hands[:, :, 0, 0])).any(axis=1).sum()) if hands is not None else None
        ),
        "timings": {
            "total_s": round(elapsed, 3),
            "decode_s": round(sum(s.decode_s for s in segments), 3),
            "inference_s": round(sum(s.inference_s for s in segments), 3),
            "frames_per_second": round(n / elapsed, 3) if elapsed > 0 else None,
            "workers": len(segments),
            "queue_frames": queue_frames,
            "memory_limit_gb": config.performance.memory_limit_gb,
        },
        "decoding": {
            "method": "motion_jpeg_packets" if packet_size else "ffmpeg",
            "frames_decoded": sum(s.decoding.frames_decoded for s in segments),
            "fallbacks": [s.decoding.fallback for s in segments if s.decoding.fallback],
        },
        "arrays": {
            "timestamps_s": {"shape": [n], "dtype": "float64", "unit": "seconds"},
            "frame_index": {"shape": [n], "dtype": "int64", "unit": "0-based decoded frame"},
            "pose": {
                "shape": [n, POSE_LANDMARKS, 4],
                "dtype": "float32",
                "channels": ["x", "y", "z", "visibility"],
                "units": "x, y normalised to frame width/height; z relative depth (hip midpoint "
                "0, x's scale); visibility probability 0-1; NaN where no person was found",
            },
            **(
                {
                    "hands": {
                        "shape": [n, 2, HAND_LANDMARKS, 3],
                        "dtype": "float32",
                        "channels": ["x", "y", "z"],
                        "slots": list(HAND_SLOTS),
                        "units": "x, y normalised to frame width/height; z relative to the "
                        "wrist; NaN where the hand was not found",
                    }
                }
                if hands is not None
                else {}
            ),
        },
        "landmark_names": landmark_names(),
    }
    if people is not None:
        p = config.mediapipe.max_people
        occupied = people.track_ids >= 0
        metadata["people"] = {
            "max_people": p,
            "main_track_id": people.main_track,
            "main_track_rule": "pose is the track seen in the most frames (ties: lowest id)",
            "tracks": people.tracks,
            "frames_with_people": int(occupied.any(axis=1).sum()),
            "mean_people_per_frame": round(float(occupied.sum(axis=1).mean()), 4),
            "tracks_linked": people.links,
            "searches": sum(s.searches for s in segments),
            "crops": sum(s.crops for s in segments),
        }
        metadata["arrays"].update(
            {
                "poses": {
                    "shape": [n, p, POSE_LANDMARKS, 4],
                    "dtype": "float32",
                    "channels": ["x", "y", "z", "visibility"],
                    "units": "as pose, for each slot; NaN in empty slots; gaps of up to "
                    f"{LINK_GAP} sampled frames inside a track are linearly interpolated",
                },
                "track_ids": {
                    "shape": [n, p],
                    "dtype": "int32",
                    "units": "track id in each slot, -1 where empty; a track keeps its slot "
                    "while in view; ids are never reused within a video",
                },
                "boxes": {
                    "shape": [n, p, 4],
                    "dtype": "float32",
                    "channels": ["x0", "y0", "x1", "y1"],
                    "units": "person box around the 33 landmarks, normalised to frame "
                    "width/height; NaN in empty slots",
                },
            }
        )
    return LandmarksResult(
        timestamps_s=np.asarray(timestamps, dtype=np.float64),
        frame_index=frame_index,
        pose=pose,
        hands=hands,
        metadata=metadata,
        poses=people.poses if people is not None else None,
        track_ids=people.track_ids if people is not None else None,
        boxes=people.boxes if people is not None else None,
    )
