"""Multi-person pose: every person in view, each with a track id stable across frames.

**Models.** MediaPipe Tasks' ``PoseLandmarkerGraph`` (``num_poses`` people per image) with a
``.task`` bundle assembled in memory from the two networks inside the mediapipe 0.10.21 package
(:func:`pose_task_bundle`; nothing is downloaded). The graph is run through mediapipe's
``CalculatorGraph`` rather than the Tasks Python wrapper: ``PoseLandmarker.detect`` holds the GIL
for the whole inference, so two segment threads ran no faster than one, while
``CalculatorGraph.wait_until_idle`` releases it, as the legacy graphs of the single-person path
do (:class:`PoseGraph`).

**Why not the landmarker alone.** Its VIDEO mode stops detecting once it tracks one person
(both people of a two-person clip in 11 of 100 frames) and its IMAGE mode on the whole frame
misses small people: on ``vtest.avi`` (768x576, people 60-125 px tall) it found 3% of the
ground-truth people. The pose detector sees a person once they fill a good part of its 224x224
input; the same detector on a square crop around each ground-truth person found 77% of them.
So :class:`PersonTracker` does, per sampled frame:

1. **Crop and track**: for every live track, a square crop of :data:`CROP_SCALE` times the
   track's predicted box (constant-velocity prediction), run at ``num_poses=2`` so a crossing
   neighbour in the crop competes for the assignment instead of being forced onto the track.
2. **Detect**: every ``detect_every`` sampled frames, on the segment's first frame, and on the
   frame after a track was missed, while fewer than ``max_people`` tracks are live: the whole
   frame plus a ``detection_grid`` x ``detection_grid`` grid of overlapping tiles (each tile
   magnified for the detector; 3x3 found 39% of the ``vtest.avi`` people in one frame, the whole
   frame 3%).
3. **Merge** candidates of the same person (box overlap), keeping the most visible one.
4. **Associate** candidates to tracks by Hungarian assignment (``scipy.optimize
   .linear_sum_assignment``) on ``(1 - IoU(predicted box, box)) + landmark distance / body
   height``, gated; unmatched candidates start new tracks (new ids, never reused), tracks
   missed for more than :data:`MAX_GAP` sampled frames end.

After extraction, segments (one per core, tracked independently) are stitched where a track
ending at a segment's last frames overlaps one starting at the next segment's first frames;
a track that ends and another that starts up to :data:`LINK_GAP` sampled frames later where the
first one's walk leads are linked into one (:func:`link_tracks`, offline tracklet linking: the
online tracker loses people the pose detector misses for a second or two, and finds them again
as someone new); gaps of up to :data:`LINK_GAP` frames inside a track are filled by linear
interpolation, and tracks are laid out in ``P = max_people`` slots (a track keeps its slot
while it lives).
"""

from __future__ import annotations

import io
import itertools
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

POSE_LANDMARKS = 33
LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP = 11, 12, 23, 24
#: A track's crop side is this many times the longer side of its predicted box.
CROP_SCALE = 1.8
#: Smallest crop side, pixels (tiny boxes from a partial pose still get some context).
MIN_CROP_PX = 64
#: Sampled frames a track may go unseen before it ends; also the longest gap filled.
MAX_GAP = 8
#: Tiles overlap so that a person on a tile border is whole in one of them.
TILE_OVERLAP = 1.35
#: Two candidates whose boxes overlap this much (IoU) are the same person.
SAME_PERSON_IOU = 0.45
#: ... or whose hip midpoints and shoulder midpoints are both closer than this share of the
#: taller one's box height.
SAME_PERSON_DISTANCE = 0.25
#: Assignment gates: least box IoU with the predicted box, and most mean landmark distance
#: over the body height.
MIN_IOU = 0.2
MAX_DISTANCE = 0.4
#: Assignment cost above which a candidate is not that track's person.
MAX_COST = (1 - MIN_IOU) + MAX_DISTANCE
#: A missed track's predicted position moves on at most this many frames of its velocity.
PREDICT_FRAMES = 2
#: Fastest track velocity, box heights per sampled frame.
MAX_SPEED = 0.15
#: Second-stage gate: a left-over track takes a left-over candidate whose hip midpoint is
#: within this many body heights of its predicted hip.
REACQUIRE_DISTANCE = 0.5
#: Tracks seen in fewer sampled frames are dropped as spurious (a detection nothing confirmed).
MIN_TRACK_FRAMES = 2
#: Stitching across segments: least IoU between a track's last box and the next one's first.
STITCH_IOU = 0.3
#: Offline linking: most sampled frames missing between a track's last frame and the next
#: one's first, also the longest gap filled by interpolation: 20 frames, as ByteTrack's
#: linear interpolation of lost tracks (Zhang et al., ECCV 2022, ``tools/interpolation.py``,
#: ``--n_dti 20``; MMTracking's ``InterpolateTracklets`` ``max_num_frames`` 20 likewise).
LINK_GAP = 20
#: Linking gate: the hip where the first track's walk leads (constant velocity over the gap)
#: and the hip where the second one's walk came from, mean distance to the other track's hip, in
#: body heights, at most ``LINK_DISTANCE + LINK_DISTANCE_PER_FRAME * gap`` (the uncertainty
#: grows with the gap). Chosen on ``vtest.avi`` against its ground truth
#: (docs/stages/landmarks-multi-person.md): looser gates linked more people but more of them
#: wrongly.
LINK_DISTANCE = 0.3
LINK_DISTANCE_PER_FRAME = 0.03
#: Linked tracks' body heights differ by at most this factor.
LINK_HEIGHT_RATIO = 1.5
#: Observations at a track's end (start) its velocity for linking is measured over.
VELOCITY_FRAMES = 5
_TASK_GRAPH = "mediapipe.tasks.vision.pose_landmarker.PoseLandmarkerGraph"


def pose_task_bundle() -> bytes:
    """A ``pose_landmarker.task`` zip built from the models inside the mediapipe package.

    mediapipe 0.10.21 ships no ``.task`` file; Tasks needs the input normalisation in the model
    metadata, added with ``metadata_writers`` (detector input in [-1, 1]: mean 127.5, std 127.5;
    landmark input in [0, 1]: mean 0, std 255).
    """
    import mediapipe as mp
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    modules = Path(mp.__file__).parent / "modules"

    def with_metadata(path: Path, mean: float, std: float) -> bytes:
        model = bytearray(path.read_bytes())
        writer = metadata_writer.MetadataWriter.create(model).add_general_info(path.stem)
        writer.add_image_input(norm_mean=[mean], norm_std=[std])
        for _ in writer_utils.get_output_tensor_types(model):
            writer.add_feature_output()
        return bytes(writer.populate()[0])

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "pose_detector.tflite",
            with_metadata(modules / "pose_detection" / "pose_detection.tflite", 127.5, 127.5),
        )
        z.writestr(
            "pose_landmarks_detector.tflite",
            with_metadata(modules / "pose_landmark" / "pose_landmark_full.tflite", 0.0, 255.0),
        )
    return buf.getvalue()


_BUNDLE: bytes | None = None


def _bundle() -> bytes:
    global _BUNDLE
    if _BUNDLE is None:
        _BUNDLE = pose_task_bundle()
    return _BUNDLE


class PoseGraph:
    """Tasks' ``PoseLandmarkerGraph`` in IMAGE mode (no tracking between calls) on a
    ``CalculatorGraph``, whose ``wait_until_idle`` releases the GIL.

    Args:
        num_poses: most people per image.
        min_detection: detector score to accept a person.
        min_presence: landmark presence score to keep a pose.
    """

    def __init__(self, num_poses: int, min_detection: float, min_presence: float) -> None:
        from mediapipe.python._framework_bindings import calculator_graph
        from mediapipe.tasks.python import BaseOptions, vision
        from mediapipe.tasks.python.core.task_info import TaskInfo

        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=_bundle()),
            running_mode=vision.RunningMode.IMAGE,
            num_poses=num_poses,
            min_pose_detection_confidence=min_detection,
            min_pose_presence_confidence=min_presence,
        )
        info = TaskInfo(
            task_graph=_TASK_GRAPH,
            input_streams=["IMAGE:image_in", "NORM_RECT:norm_rect_in"],
            output_streams=["NORM_LANDMARKS:norm_landmarks"],
            task_options=options,
        )
        self._graph = calculator_graph.CalculatorGraph(graph_config=info.generate_graph_config())
        self._out: list[Any] = []
        self._graph.observe_output_stream("norm_landmarks", self._collect)
        self._graph.start_run()
        self._ts = 0

    def _collect(self, _name: str, packet: Any) -> None:
        from mediapipe.python import packet_getter

        self._out = packet_getter.get_proto_list(packet)

    def detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        """``(33, 4)`` arrays (x, y normalised to ``rgb``, z, visibility), one per person."""
        import mediapipe as mp
        from mediapipe.framework.formats import rect_pb2
        from mediapipe.python import packet_creator

        self._out = []
        self._ts += 1
        rect = rect_pb2.NormalizedRect(x_center=0.5, y_center=0.5, width=1.0, height=1.0)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        self._graph.add_packet_to_input_stream(
            "image_in", packet_creator.create_image(image).at(self._ts)
        )
        self._graph.add_packet_to_input_stream(
            "norm_rect_in", packet_creator.create_proto(rect).at(self._ts)
        )
        self._graph.wait_until_idle()
        return [
            np.array([(p.x, p.y, p.z, p.visibility) for p in lms.landmark], dtype=np.float32)
            for lms in self._out
        ]

    def close(self) -> None:
        """Stop the graph."""
        self._graph.close()


def _hip(pose: np.ndarray) -> np.ndarray:
    return np.asarray((pose[LEFT_HIP, :2] + pose[RIGHT_HIP, :2]) / 2, dtype=np.float32)


def pose_box(pose: np.ndarray) -> np.ndarray:
    """``(4,)`` x0, y0, x1, y1 (normalised) around all 33 landmarks."""
    return np.array(
        [pose[:, 0].min(), pose[:, 1].min(), pose[:, 0].max(), pose[:, 1].max()], dtype=np.float32
    )


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a (N, 4)`` with every box in ``b (M, 4)``: ``(N, M)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def tile_regions(width: int, height: int, grid: int) -> list[tuple[int, int, int, int]]:
    """Pixel regions ``(x0, y0, x1, y1)`` searched for new people: the whole frame, plus a
    ``grid`` x ``grid`` grid of tiles :data:`TILE_OVERLAP` times the grid cell (``grid`` 1:
    the whole frame only)."""
    regions = [(0, 0, width, height)]
    if grid <= 1:
        return regions
    tw = min(width, round(width / grid * TILE_OVERLAP))
    th = min(height, round(height / grid * TILE_OVERLAP))
    for iy in range(grid):
        for ix in range(grid):
            x0 = round(ix * (width - tw) / (grid - 1))
            y0 = round(iy * (height - th) / (grid - 1))
            regions.append((x0, y0, x0 + tw, y0 + th))
    return regions


def _in_frame(pose: np.ndarray, region: tuple[int, int, int, int], w: int, h: int) -> np.ndarray:
    x0, y0, x1, y1 = region
    out = pose.copy()
    out[:, 0] = (x0 + pose[:, 0] * (x1 - x0)) / w
    out[:, 1] = (y0 + pose[:, 1] * (y1 - y0)) / h
    out[:, 2] = pose[:, 2] * (x1 - x0) / w  # z is on x's scale
    return out


@dataclass
class _Track:
    id: int
    pose: np.ndarray
    box: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.float32))
    missed: int = 0

    def _shift(self) -> np.ndarray:
        # constant velocity, but no further than PREDICT_FRAMES ahead: an occluded person
        # stops or turns more often than they keep walking blind
        return self.velocity * min(self.missed + 1, PREDICT_FRAMES)

    def predicted_box(self) -> np.ndarray:
        shift = self._shift()
        return self.box + np.array([shift[0], shift[1], shift[0], shift[1]], dtype=np.float32)

    def predicted_pose(self) -> np.ndarray:
        out = self.pose.copy()
        out[:, :2] += self._shift()
        return out

    def update(self, pose: np.ndarray) -> None:
        """A new observation: velocity from the hip midpoint (steadier than the box), averaged
        and capped at :data:`MAX_SPEED` box heights a frame."""
        box = pose_box(pose)
        v = (_hip(pose) - _hip(self.pose)) / (self.missed + 1)
        cap = MAX_SPEED * float(box[3] - box[1])
        speed = float(np.hypot(*v))
        if speed > cap > 0:
            v = v * (cap / speed)
        self.velocity = (0.5 * self.velocity + 0.5 * v).astype(np.float32)
        self.pose, self.box, self.missed = pose, box, 0


@dataclass
class Observation:
    """One tracked person in one sampled frame (segment-local track id)."""

    track: int
    pose: np.ndarray
    box: np.ndarray


class PersonTracker:
    """Multi-person landmarks with segment-local track ids, one sampled frame after another
    (see the module docstring for the steps).

    Args:
        max_people: most tracks at a time.
        detect_every: sampled frames between searches for new people.
        detection_grid: tiles per side of the search (1: whole frame only).
        min_detection: detector score.
        min_presence: landmark presence score.
    """

    def __init__(
        self,
        max_people: int,
        detect_every: int,
        detection_grid: int,
        min_detection: float,
        min_presence: float,
    ) -> None:
        self.max_people = max_people
        self.detect_every = detect_every
        self.detection_grid = detection_grid
        self._crop_graph = PoseGraph(2, min_detection, min_presence)
        self._search_graph = PoseGraph(min(max_people, 4), min_detection, min_presence)
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._since_search: int | None = None
        self._missed_last = False
        #: Searches and crops run, for the metadata.
        self.searches = 0
        self.crops = 0

    def close(self) -> None:
        """Stop both graphs."""
        self._crop_graph.close()
        self._search_graph.close()

    def _crop_region(self, box: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
        cx, cy = (box[0] + box[2]) / 2 * w, (box[1] + box[3]) / 2 * h
        side = max(MIN_CROP_PX, CROP_SCALE * max((box[2] - box[0]) * w, (box[3] - box[1]) * h))
        x0, y0 = max(0, round(cx - side / 2)), max(0, round(cy - side / 2))
        x1, y1 = min(w, round(cx + side / 2)), min(h, round(cy + side / 2))
        return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)

    def _candidates(self, rgb: np.ndarray, search: bool) -> list[np.ndarray]:
        h, w = rgb.shape[:2]
        regions: list[tuple[tuple[int, int, int, int], PoseGraph]] = [
            (self._crop_region(t.predicted_box(), w, h), self._crop_graph) for t in self._tracks
        ]
        self.crops += len(regions)
        if search:
            self.searches += 1
            regions += [(r, self._search_graph) for r in tile_regions(w, h, self.detection_grid)]
        found = []
        for region, graph in regions:
            x0, y0, x1, y1 = region
            if x1 - x0 < 8 or y1 - y0 < 8:
                continue
            for pose in graph.detect(rgb[y0:y1, x0:x1]):
                found.append(_in_frame(pose, region, w, h))
        return _merge(found, w, h)

    def step(self, rgb: np.ndarray) -> list[Observation]:
        """Track one frame (RGB ``(H, W, 3)`` uint8); returns the people seen in it."""
        h, w = rgb.shape[:2]
        search = len(self._tracks) < self.max_people and (
            self._since_search is None
            or self._since_search + 1 >= self.detect_every
            or (self._missed_last and self._since_search >= 1)
        )
        self._since_search = 0 if search else (self._since_search or 0) + 1
        cands = self._candidates(rgb, search)
        tracks = self._tracks
        matched: dict[int, int] = {}
        if tracks and cands:
            from scipy.optimize import linear_sum_assignment

            cost = _cost(tracks, cands, w, h)
            rows, cols = linear_sum_assignment(cost)
            matched = {
                int(r): int(c) for r, c in zip(rows, cols, strict=True) if cost[r, c] < MAX_COST
            }
        # second stage: tracks left over (typically just occluded) take left-over candidates
        # whose hip is near their predicted hip, a looser gate than the first stage
        spare_t = [i for i in range(len(tracks)) if i not in matched]
        spare_c = [j for j in range(len(cands)) if j not in set(matched.values())]
        if spare_t and spare_c:
            from scipy.optimize import linear_sum_assignment

            cost2 = _hip_cost([tracks[i] for i in spare_t], [cands[j] for j in spare_c], w, h)
            for r, c in zip(*linear_sum_assignment(cost2), strict=True):
                if cost2[r, c] <= REACQUIRE_DISTANCE:
                    matched[spare_t[r]] = spare_c[c]
        out: list[Observation] = []
        alive: list[_Track] = []
        self._missed_last = False
        for ti, track in enumerate(tracks):
            if ti in matched:
                track.update(cands[matched[ti]])
                out.append(Observation(track.id, track.pose, track.box))
                alive.append(track)
            else:
                track.missed += 1
                self._missed_last = True
                if track.missed <= MAX_GAP:
                    alive.append(track)
        used = set(matched.values())
        fresh = sorted(
            (c for i, c in enumerate(cands) if i not in used),
            key=lambda p: -float(np.mean(p[:, 3])),
        )
        for pose in fresh:
            if len(alive) >= self.max_people:
                break
            box = pose_box(pose)
            if any(same_person(pose, t.predicted_pose(), w, h) for t in alive):
                continue  # a live (perhaps missed) track's person: not a new one
            track = _Track(self._next_id, pose, box)
            self._next_id += 1
            alive.append(track)
            out.append(Observation(track.id, pose, box))
        self._tracks = alive
        return out


def same_person(a: np.ndarray, b: np.ndarray, w: int, h: int) -> bool:
    """Whether two ``(33, 4)`` poses (normalised) are one person: boxes overlapping by
    :data:`SAME_PERSON_IOU`, or hip and shoulder midpoints both within
    :data:`SAME_PERSON_DISTANCE` of the taller box height."""
    ba, bb = pose_box(a), pose_box(b)
    if box_iou(ba, bb)[0, 0] > SAME_PERSON_IOU:
        return True
    scale = np.array([w, h], dtype=np.float64)
    height = max(ba[3] - ba[1], bb[3] - bb[1]) * h
    limit = SAME_PERSON_DISTANCE * max(height, 8.0)
    for i, j in ((LEFT_HIP, RIGHT_HIP), (LEFT_SHOULDER, RIGHT_SHOULDER)):
        ma = (a[i, :2] + a[j, :2]) / 2 * scale
        mb = (b[i, :2] + b[j, :2]) / 2 * scale
        if np.linalg.norm(ma - mb) >= limit:
            return False
    return True


def _merge(poses: list[np.ndarray], w: int, h: int) -> list[np.ndarray]:
    """One pose per person (:func:`same_person`): the one with the highest mean visibility."""
    if len(poses) < 2:
        return poses
    order = sorted(range(len(poses)), key=lambda i: -float(np.mean(poses[i][:, 3])))
    kept: list[int] = []
    for i in order:
        if not any(same_person(poses[i], poses[k], w, h) for k in kept):
            kept.append(i)
    return [poses[i] for i in kept]


def _cost(tracks: Sequence[_Track], cands: Sequence[np.ndarray], w: int, h: int) -> np.ndarray:
    """Assignment cost ``(tracks, candidates)``: ``1 - IoU`` of the predicted and found boxes
    plus the mean landmark distance in pixels over the track's body height; :data:`MAX_COST`
    or more where the boxes do not overlap at all."""
    pred_boxes = np.stack([t.predicted_box() for t in tracks])
    cand_boxes = np.stack([pose_box(c) for c in cands])
    iou = box_iou(pred_boxes, cand_boxes)
    scale = np.array([w, h], dtype=np.float64)
    pred = np.stack([t.predicted_pose()[:, :2] for t in tracks]).astype(np.float64) * scale
    found = np.stack([c[:, :2] for c in cands]).astype(np.float64) * scale
    dist = np.linalg.norm(pred[:, None] - found[None], axis=-1).mean(axis=-1)
    height = np.maximum((pred_boxes[:, 3] - pred_boxes[:, 1]) * h, 8.0)
    rel = dist / height[:, None]
    cost = (1 - iou) + rel
    return np.where((iou >= MIN_IOU) & (rel <= MAX_DISTANCE), cost, MAX_COST + 1)


def _hip_cost(tracks: Sequence[_Track], cands: Sequence[np.ndarray], w: int, h: int) -> np.ndarray:
    """Predicted-hip to hip distance in pixels over the track's body height."""
    scale = np.array([w, h], dtype=np.float64)
    pred = np.stack([_hip(t.predicted_pose()) for t in tracks]).astype(np.float64) * scale
    found = np.stack([_hip(c) for c in cands]).astype(np.float64) * scale
    height = np.maximum(np.array([(t.box[3] - t.box[1]) * h for t in tracks]), 8.0)
    return np.asarray(np.linalg.norm(pred[:, None] - found[None], axis=-1) / height[:, None])


def stitch(
    segments: Sequence[Sequence[list[Observation]]],
) -> list[list[tuple[int, Observation]]]:
    """Per frame (segments in order), the observations with video-wide track ids: a track
    ending within :data:`MAX_GAP` frames of its segment's end continues as the next segment's
    track starting within :data:`MAX_GAP` frames of its start whose first box overlaps its last
    box best (Hungarian, IoU above :data:`STITCH_IOU`); other tracks get new ids, in order of
    first appearance."""
    from scipy.optimize import linear_sum_assignment

    out: list[list[tuple[int, Observation]]] = []
    next_id = 0
    prev_tail: dict[int, np.ndarray] = {}  # global id -> last box, tracks ending near the end
    for frames in segments:
        first: dict[int, tuple[int, np.ndarray]] = {}
        last: dict[int, tuple[int, np.ndarray]] = {}
        for i, obs in enumerate(frames):
            for o in obs:
                first.setdefault(o.track, (i, o.box))
                last[o.track] = (i, o.box)
        mapping: dict[int, int] = {}
        heads = [t for t, (i, _) in first.items() if i <= MAX_GAP]
        tails = list(prev_tail)
        if heads and tails:
            iou = box_iou(
                np.stack([prev_tail[g] for g in tails]), np.stack([first[t][1] for t in heads])
            )
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols, strict=True):
                if iou[r, c] > STITCH_IOU:
                    mapping[heads[c]] = tails[r]
        for t in sorted(first, key=lambda t: (first[t][0], t)):
            if t not in mapping:
                mapping[t] = next_id
                next_id += 1
        for obs in frames:
            out.append([(mapping[o.track], o) for o in obs])
        n = len(frames)
        prev_tail = {mapping[t]: box for t, (i, box) in last.items() if i >= n - 1 - MAX_GAP}
    return out


def _track_end(
    obs: Sequence[tuple[int, np.ndarray]], aspect: float, at_end: bool
) -> tuple[int, np.ndarray, float, np.ndarray]:
    """A track's end (or start) for linking: sampled frame, hip ``(x * aspect, y)`` in frame
    heights, body height in frame heights, and hip velocity (frame heights per sampled frame,
    over the last (first) :data:`VELOCITY_FRAMES` observations, capped at :data:`MAX_SPEED` body
    heights a frame)."""
    part = obs[-VELOCITY_FRAMES:] if at_end else obs[:VELOCITY_FRAMES]
    scale = np.array([aspect, 1.0])
    (f0, p0), (f1, p1) = part[0], part[-1]
    h0, h1 = _hip(p0).astype(np.float64) * scale, _hip(p1).astype(np.float64) * scale
    here, pose = (f1, p1) if at_end else (f0, p0)
    box = pose_box(pose)
    height = max(float(box[3] - box[1]), 1e-3)
    velocity = (h1 - h0) / (f1 - f0) if f1 > f0 else np.zeros(2)
    speed, cap = float(np.hypot(*velocity)), MAX_SPEED * height
    if speed > cap:
        velocity = velocity * (cap / speed)
    return here, (h1 if at_end else h0), height, velocity


def link_tracks(
    tracks: dict[int, list[tuple[int, np.ndarray]]],
    max_people: int,
    frame_count: int,
    aspect: float = 1.0,
) -> dict[int, int]:
    """Offline tracklet linking: which track is the continuation of which.

    A track ``a`` ending at sampled frame ``fa`` and a track ``b`` starting at ``fb``, at most
    :data:`LINK_GAP` frames missing (``1 <= gap = fb - fa <= LINK_GAP + 1``), are one person
    when their body heights differ by at most :data:`LINK_HEIGHT_RATIO` and ``a``'s hip
    carried forward at its velocity and ``b``'s hip carried backward at its velocity land, on
    average, within ``LINK_DISTANCE + LINK_DISTANCE_PER_FRAME * gap`` body heights of the
    other's hip (appearance-free linking, as StrongSORT's AFLink but with a constant-velocity
    gate instead of a learned one). Ends are matched to starts by Hungarian assignment
    (``scipy.optimize.linear_sum_assignment``) on that distance; links are then taken cheapest
    first while the frames of their gap have fewer than ``max_people`` tracks in view (the
    linked track holds a slot over its gap).

    Args:
        tracks: track id -> ``[(sampled frame, (33, 4) pose)]`` in frame order (normalised x, y).
        max_people: slots per frame.
        frame_count: sampled frames of the video.
        aspect: frame width over height (distances are measured in frame heights).

    Returns:
        ``{later track id: earlier track id}``, one entry per link (chains possible).
    """
    from scipy.optimize import linear_sum_assignment

    ids = sorted(tracks)
    if len(ids) < 2:
        return {}
    ends = {t: _track_end(tracks[t], aspect, True) for t in ids}
    starts = {t: _track_end(tracks[t], aspect, False) for t in ids}
    infeasible = 1e6
    cost = np.full((len(ids), len(ids)), infeasible)
    for i, a in enumerate(ids):
        fa, hip_a, height_a, v_a = ends[a]
        for j, b in enumerate(ids):
            fb, hip_b, height_b, v_b = starts[b]
            gap = fb - fa
            if not 1 <= gap <= LINK_GAP + 1:
                continue
            if max(height_a, height_b) > LINK_HEIGHT_RATIO * min(height_a, height_b):
                continue
            forward = np.linalg.norm(hip_b - (hip_a + v_a * gap))
            backward = np.linalg.norm(hip_a - (hip_b - v_b * gap))
            c = float((forward + backward) / (height_a + height_b))
            if c <= LINK_DISTANCE + LINK_DISTANCE_PER_FRAME * gap:
                cost[i, j] = c
    if not (cost < infeasible).any():
        return {}
    live = np.zeros(frame_count, dtype=np.int64)
    for t in ids:
        live[tracks[t][0][0] : tracks[t][-1][0] + 1] += 1
    rows, cols = linear_sum_assignment(cost)
    links: dict[int, int] = {}
    for r, c in sorted(zip(rows, cols, strict=True), key=lambda rc: cost[rc[0], rc[1]]):
        if cost[r, c] >= infeasible:
            continue
        a, b = ids[r], ids[c]
        gap_frames = slice(ends[a][0] + 1, starts[b][0])
        if (live[gap_frames] >= max_people).any():
            continue
        live[gap_frames] += 1
        links[b] = a
    return links


@dataclass
class PeopleArrays:
    """Multi-person arrays of one video (see :func:`people_arrays`)."""

    poses: np.ndarray
    track_ids: np.ndarray
    boxes: np.ndarray
    filled: np.ndarray
    main_track: int | None
    tracks: list[dict[str, Any]]
    #: Tracks joined to an earlier one by :func:`link_tracks`.
    links: int = 0


def people_arrays(
    frames: Sequence[list[tuple[int, Observation]]],
    max_people: int,
    frame_index: np.ndarray,
    aspect: float = 1.0,
) -> PeopleArrays:
    """Link tracks, lay them out in ``P = max_people`` slots, fill gaps, summarise.

    Tracks seen in fewer than :data:`MIN_TRACK_FRAMES` frames are dropped; the rest are linked
    (:func:`link_tracks`, ``aspect`` = frame width / height) and numbered 0, 1, ... in order of
    first appearance. A track keeps one slot from its first to its last frame (interval
    colouring, first come first served; at most ``max_people`` tracks live at a time, so slots
    suffice). Gaps of up to :data:`LINK_GAP` sampled frames inside a track are filled by linear
    interpolation of landmarks and box (``filled`` is true there).
    """
    t_count, p = len(frames), max_people
    poses = np.full((t_count, p, POSE_LANDMARKS, 4), np.nan, dtype=np.float32)
    boxes = np.full((t_count, p, 4), np.nan, dtype=np.float32)
    ids = np.full((t_count, p), -1, dtype=np.int32)
    filled = np.zeros((t_count, p), dtype=bool)
    observed: dict[int, list[tuple[int, np.ndarray]]] = {}
    for i, obs in enumerate(frames):
        for tid, o in obs:
            observed.setdefault(tid, []).append((i, o.pose))
    # drop unconfirmed tracks, link the rest, number them 0, 1, ... in order of first appearance
    confirmed = {t: f for t, f in observed.items() if len(f) >= MIN_TRACK_FRAMES}
    links = link_tracks(confirmed, p, t_count, aspect)

    def root(t: int) -> int:
        while t in links:
            t = links[t]
        return t

    first_seen = {t: f[0][0] for t, f in confirmed.items()}
    kept = sorted({root(t) for t in confirmed}, key=lambda t: (first_seen[t], t))
    renumber = {t: n for n, t in enumerate(kept)}
    frames = [[(renumber[root(t)], o) for t, o in obs if t in confirmed] for obs in frames]
    seen: dict[int, list[int]] = {}
    for i, obs in enumerate(frames):
        for tid, _ in obs:
            seen.setdefault(tid, []).append(i)
    span = {tid: (f[0], f[-1]) for tid, f in seen.items()}
    slot_free_at = [0] * p  # first frame index at which a slot is free
    slot_of: dict[int, int] = {}
    for tid in sorted(span, key=lambda t: (span[t][0], t)):
        start, end = span[tid]
        for s in range(p):
            if slot_free_at[s] <= start:
                slot_of[tid] = s
                slot_free_at[s] = end + 1
                break
    for i, obs in enumerate(frames):
        for tid, o in obs:
            slot = slot_of.get(tid)
            if slot is None:  # pragma: no cover - more live tracks than slots cannot happen
                continue
            poses[i, slot], boxes[i, slot], ids[i, slot] = o.pose, o.box, tid
    for tid, s in slot_of.items():
        idx = seen[tid]
        for a, b in itertools.pairwise(idx):
            if 1 < b - a <= LINK_GAP + 1:
                w = (np.arange(a + 1, b) - a) / (b - a)
                wp = w[:, None, None]
                poses[a + 1 : b, s] = (1 - wp) * poses[a, s] + wp * poses[b, s]
                boxes[a + 1 : b, s] = (1 - w)[:, None] * boxes[a, s] + w[:, None] * boxes[b, s]
                ids[a + 1 : b, s] = tid
                filled[a + 1 : b, s] = True
    tracks = []
    for tid in sorted(slot_of):
        s = slot_of[tid]
        rows = ids[:, s] == tid
        real = rows & ~filled[:, s]
        first, last = span[tid]
        tracks.append(
            {
                "id": tid,
                "slot": s,
                "first_frame": int(frame_index[first]),
                "last_frame": int(frame_index[last]),
                "frames_seen": int(real.sum()),
                "frames_filled": int((rows & filled[:, s]).sum()),
                "mean_visibility": round(float(np.mean(poses[real, s, :, 3])), 4),
            }
        )
    main = int(max(tracks, key=lambda t: (t["frames_seen"], -t["id"]))["id"]) if tracks else None
    return PeopleArrays(poses, ids, boxes, filled, main, tracks, len(links))


def main_pose(people: PeopleArrays) -> np.ndarray:
    """``(T, 33, 4)``: the main track's landmarks (NaN where it is not in view)."""
    t_count = people.poses.shape[0]
    out = np.full((t_count, POSE_LANDMARKS, 4), np.nan, dtype=np.float32)
    if people.main_track is None:
        return out
    rows, slots = np.nonzero(people.track_ids == people.main_track)
    out[rows] = people.poses[rows, slots]
    return out


#: Colour-blind-safe palette (Okabe-Ito), RGB 0-255, for track overlays.
TRACK_PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (0, 114, 178),
    (213, 94, 0),
    (204, 121, 167),
    (255, 255, 255),
)


def track_styles(track_ids: np.ndarray) -> dict[int, tuple[tuple[int, int, int], str]]:
    """Overlay colour (RGB 0-255) and label ``#id`` for every track id in ``track_ids``.

    ``track_ids`` is ``(T, P)`` (any other shape is taken as one frame; ``-1`` ignored). Tracks
    are taken in order of first appearance; each gets the :data:`TRACK_PALETTE` colour that no
    track in view during its span (first to last row) holds, the one free the longest, so people
    in view together never share a colour while at most ``len(TRACK_PALETTE)`` are (always, for
    ``max_people`` <= 8) and a colour is not handed straight to the next person. One colour per
    track for the whole video. Pure, for the skeleton preview.
    """
    ids = np.asarray(track_ids)
    rows = ids if ids.ndim == 2 else ids.reshape(1, -1)
    span: dict[int, tuple[int, int]] = {}
    for t, row in enumerate(rows):
        for i in row.tolist():
            if i >= 0:
                span[i] = (span.get(i, (t, t))[0], t)
    n = len(TRACK_PALETTE)
    last_end = [-1] * n  # last row each colour was in view (-1: never used)
    colour_of: dict[int, int] = {}
    for tid in sorted(span, key=lambda i: (span[i][0], i)):
        start, end = span[tid]
        busy = {c for j, c in colour_of.items() if span[j][1] >= start}
        free = [c for c in range(n) if c not in busy] or list(range(n))
        colour = min(free, key=lambda c: (last_end[c], c))
        colour_of[tid] = colour
        last_end[colour] = max(last_end[colour], end)
    return {i: (TRACK_PALETTE[colour_of[i]], f"#{i}") for i in sorted(span)}
