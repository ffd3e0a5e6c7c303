"""Run Rekognition over the picked frames and aggregate the answers into ``analysis.json``.

Gating: ``DetectFaces`` and ``RecognizeCelebrities`` run only on frames whose ``DetectLabels``
answer has a ``Person`` label (unless ``always_faces``); every call not made is counted in
``metrics.calls_saved_by_gating``. Cost: every call is one image for one API, so the estimate is
``calls x price_per_image_usd`` (default USD 0.001, Rekognition Image's first pricing tier for
these APIs; configurable with ``REKOGNITION_PRICE_PER_IMAGE_USD``).

Output schema, version :data:`SCHEMA_VERSION` (all times in seconds, confidences in percent,
bounding boxes as Rekognition gives them: ``Width``, ``Height``, ``Left``, ``Top`` as ratios of
the frame):

* ``frames[]``: ``frame`` (0-based), ``time_s``, ``scene``, ``faces_checked``, ``labels[]``
  (``name``, ``confidence``, ``categories``, ``parents``, ``instances``), ``faces[]``
  (``bounding_box``, ``confidence``, ``age_range`` {``low``, ``high``}, ``gender`` {``value``,
  ``confidence``}, ``emotions[]`` {``type``, ``confidence``} strongest first), ``celebrities[]``
  (``name``, ``id``, ``confidence``, ``urls``, ``bounding_box``);
* ``scenes[]`` (the windows of :mod:`functions.rekognition.frames`: frame-extract's scenes, or
  equal time intervals without a manifest; the key keeps its name): ``index``, ``start_s``,
  ``end_s``, ``frames``, ``top_labels[]`` (``name``,
  ``frames``, ``max_confidence``), ``dominant_emotions``, ``characters``, ``max_faces``;
* ``summary``: ``people_count_estimate``, ``top_objects``, ``top_places``, ``top_emotions``,
  ``celebrities[]`` (``name``, ``id``, ``max_confidence``, ``frames``);
* ``metrics``: ``frames_analyzed``, ``api_calls`` per operation, ``calls_saved_by_gating``,
  ``estimated_cost_usd``, ``price_per_image_usd``, ``analysis_seconds``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from functions.rekognition.frames import Pick, Window
from shared.errors import VideoTooLongError
from shared.manifest import FrameManifest
from shared.rekognition import OPERATIONS, Rekognition

SCHEMA_VERSION = 1
#: Rekognition label categories that name places (Developer Guide, "Detecting labels":
#: label categories). Labels in these are places; labels in NOT_OBJECTS are neither.
PLACE_CATEGORIES = frozenset(
    {
        "Buildings and Architecture",
        "Home and Indoors",
        "Nature and Outdoors",
        "Popular Landmarks",
        "Travel and Adventure",
    }
)
NOT_OBJECTS = PLACE_CATEGORIES | {
    "Person Description",
    "Expressions and Emotions",
    "Colors and Visual Composition",
}


@dataclass
class FrameAnswer:
    """Rekognition's raw answers for one picked frame (``None`` where no call was made)."""

    pick: Pick
    labels: dict[str, Any]
    faces: dict[str, Any] | None = None
    celebrities: dict[str, Any] | None = None


def run_calls(
    images: dict[Pick, bytes],
    rek: Rekognition,
    *,
    always_faces: bool,
    concurrency: int,
    check_deadline: Callable[[], None] | None = None,
    on_frame: Callable[[], None] | None = None,
) -> tuple[list[FrameAnswer], int]:
    """Call Rekognition for every frame on a bounded pool.

    Returns:
        The answers in frame order and the number of calls saved by gating.

    Raises:
        RekognitionUnavailableError, ConfigurationError, RekognitionImageError: from the calls.
        OutOfTimeError: from ``check_deadline`` (checked before each frame).
    """
    saved = 0

    def one(pick: Pick) -> FrameAnswer:
        nonlocal saved
        if check_deadline is not None:
            check_deadline()
        image = images[pick]
        answer = FrameAnswer(pick, rek.detect_labels(image))
        has_person = any(label["Name"] == "Person" for label in answer.labels.get("Labels", []))
        if has_person or always_faces:
            answer.faces = rek.detect_faces(image)
            answer.celebrities = rek.recognize_celebrities(image)
        else:
            saved += 2
        if on_frame is not None:
            on_frame()
        return answer

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="rekognition") as pool:
        answers = list(pool.map(one, sorted(images, key=lambda p: p.frame)))
    return answers, saved


def _label(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": raw["Name"],
        "confidence": round(float(raw["Confidence"]), 3),
        "categories": [c["Name"] for c in raw.get("Categories", [])],
        "parents": [p["Name"] for p in raw.get("Parents", [])],
        "instances": len(raw.get("Instances", [])),
    }


def _face(raw: dict[str, Any]) -> dict[str, Any]:
    emotions = sorted(raw.get("Emotions", []), key=lambda e: -e["Confidence"])
    return {
        "bounding_box": raw.get("BoundingBox", {}),
        "confidence": round(float(raw.get("Confidence", 0.0)), 3),
        "age_range": {
            "low": raw.get("AgeRange", {}).get("Low"),
            "high": raw.get("AgeRange", {}).get("High"),
        },
        "gender": {
            "value": raw.get("Gender", {}).get("Value"),
            "confidence": raw.get("Gender", {}).get("Confidence"),
        },
        "emotions": [
            {"type": e["Type"], "confidence": round(float(e["Confidence"]), 3)} for e in emotions
        ],
    }


def _celebrity(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": raw["Name"],
        "id": raw.get("Id"),
        "confidence": round(float(raw.get("MatchConfidence", 0.0)), 3),
        "urls": raw.get("Urls", []),
        "bounding_box": raw.get("Face", {}).get("BoundingBox", {}),
    }


def _top_emotions(faces: list[dict[str, Any]], n: int = 3) -> list[str]:
    """Each face votes for its strongest emotion; ties broken by summed confidence."""
    votes: Counter[str] = Counter()
    weight: Counter[str] = Counter()
    for face in faces:
        if face["emotions"]:
            top = face["emotions"][0]
            votes[top["type"]] += 1
            weight[top["type"]] += top["confidence"]
    return [t for t, _ in sorted(votes.items(), key=lambda kv: (-kv[1], -weight[kv[0]]))][:n]


def _rank_labels(
    frames: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool], n: int
) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for f in frames:
        for label in f["labels"]:
            if not keep(label):
                continue
            entry = seen.setdefault(
                label["name"], {"name": label["name"], "frames": 0, "max_confidence": 0.0}
            )
            entry["frames"] += 1
            entry["max_confidence"] = max(entry["max_confidence"], label["confidence"])
    return sorted(seen.values(), key=lambda e: (-e["frames"], -e["max_confidence"], e["name"]))[:n]


def aggregate(
    answers: list[FrameAnswer],
    windows: list[Window],
    *,
    video: dict[str, Any],
    frame_source: str,
    calls: Counter[str],
    saved: int,
    price_per_image_usd: float,
    seconds: float,
    emulated: bool,
) -> dict[str, Any]:
    """Build the ``analysis.json`` document (schema in the module docstring)."""
    frames: list[dict[str, Any]] = [
        {
            "frame": a.pick.frame,
            "time_s": a.pick.time_s,
            "scene": a.pick.window,
            "faces_checked": a.faces is not None,
            "labels": [_label(x) for x in a.labels.get("Labels", [])],
            "faces": [_face(x) for x in (a.faces or {}).get("FaceDetails", [])],
            "celebrities": [_celebrity(x) for x in (a.celebrities or {}).get("CelebrityFaces", [])],
        }
        for a in answers
    ]
    by_window: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for f in frames:
        by_window[f["scene"]].append(f)
    scene_docs = []
    for sc in windows:
        fs = by_window.get(sc.index, [])
        faces = [face for f in fs for face in f["faces"]]
        scene_docs.append(
            {
                "index": sc.index,
                "start_s": sc.start_s,
                "end_s": sc.end_s,
                "frames": [f["frame"] for f in fs],
                "top_labels": _rank_labels(fs, lambda _: True, 5),
                "dominant_emotions": _top_emotions(faces),
                "characters": sorted({c["name"] for f in fs for c in f["celebrities"]}),
                "max_faces": max((len(f["faces"]) for f in fs), default=0),
            }
        )
    all_faces = [face for f in frames for face in f["faces"]]
    celebs: dict[str, dict[str, Any]] = {}
    for f in frames:
        for c in f["celebrities"]:
            e = celebs.setdefault(
                c["name"], {"name": c["name"], "id": c["id"], "max_confidence": 0.0, "frames": []}
            )
            e["max_confidence"] = max(e["max_confidence"], c["confidence"])
            e["frames"].append(f["frame"])
    people = max(
        (
            max(
                len(f["faces"]),
                max((lb["instances"] for lb in f["labels"] if lb["name"] == "Person"), default=0),
            )
            for f in frames
        ),
        default=0,
    )
    total_calls = sum(calls.values())
    return {
        "schema_version": SCHEMA_VERSION,
        "emulated": emulated,
        "frame_source": frame_source,
        "video": video,
        "frames": frames,
        "scenes": scene_docs,
        "summary": {
            "people_count_estimate": people,
            "top_objects": [
                e["name"]
                for e in _rank_labels(
                    frames,
                    lambda lb: not set(lb["categories"]) & NOT_OBJECTS and lb["name"] != "Person",
                    10,
                )
            ],
            "top_places": [
                e["name"]
                for e in _rank_labels(
                    frames, lambda lb: bool(set(lb["categories"]) & PLACE_CATEGORIES), 5
                )
            ],
            "top_emotions": _top_emotions(all_faces),
            "celebrities": sorted(celebs.values(), key=lambda e: -e["max_confidence"]),
        },
        "metrics": {
            "frames_analyzed": len(frames),
            "api_calls": {op: calls.get(op, 0) for op in OPERATIONS},
            "calls_saved_by_gating": saved,
            "estimated_cost_usd": round(total_calls * price_per_image_usd, 6),
            "price_per_image_usd": price_per_image_usd,
            "analysis_seconds": round(seconds, 3),
        },
    }


def analyze_video(
    path: Any,
    rek: Rekognition,
    *,
    platform: str,
    shortcode: str,
    manifest: FrameManifest | None,
    max_frames: int,
    min_interval_s: float,
    long_scene_s: float,
    windows: int,
    always_faces: bool,
    concurrency: int,
    price_per_image_usd: float,
    check_deadline: Callable[[], None] | None = None,
    on_frame: Callable[[], None] | None = None,
    on_picks: Callable[[int], None] | None = None,
    max_duration_s: float | None = None,
    on_frames: Callable[[dict[int, Any]], None] | None = None,
) -> dict[str, Any]:
    """Pick frames (manifest scenes when given, else ``windows`` equal intervals), call
    Rekognition and aggregate. Returns the ``analysis.json`` document.

    ``on_frames``, when given, receives the decoded frames to analyse once, as
    ``{frame index: (H, W, 3) uint8 BGR}`` (the storyboard's pictures; no second decode).

    Args:
        max_duration_s: refuse longer videos (seconds) before any call; ``None``: no cap.

    Raises:
        CorruptVideoError: not a readable video.
        VideoTooLongError: longer than ``max_duration_s``.
        RekognitionUnavailableError, ConfigurationError, RekognitionImageError: from the calls.
        OutOfTimeError: from ``check_deadline``.
    """
    import time

    from functions.rekognition.frames import (
        interval_picks,
        manifest_picks,
        prepare_image,
        read_images,
        video_facts,
    )

    started = time.perf_counter()
    duration, fps, count = video_facts(path)
    if max_duration_s is not None and duration > max_duration_s:
        raise VideoTooLongError(
            f"{shortcode}: {duration:.1f} s is longer than REKOGNITION_MAX_DURATION_S "
            f"({max_duration_s:g} s); no Rekognition call was made"
        )
    if manifest is not None:
        picks, window_list = manifest_picks(
            manifest, max_frames=max_frames, long_scene_s=long_scene_s
        )
        source = "manifest"
    else:
        picks, window_list = interval_picks(
            duration, fps, max_frames=max_frames, min_interval_s=min_interval_s, windows=windows
        )
        source = "interval"
    # encoded as decoded: one full frame in memory at a time, not every pick at once (the
    # storyboard hook takes its own small copy of each)
    encoded = read_images(
        path,
        [p.frame for p in picks],
        prepare_image,
        on_decoded=(lambda i, img: on_frames({i: img})) if on_frames is not None else None,
    )
    images = {p: encoded[p.frame] for p in picks if p.frame in encoded}
    if on_picks is not None:
        on_picks(len(images))
    answers, saved = run_calls(
        images,
        rek,
        always_faces=always_faces,
        concurrency=concurrency,
        check_deadline=check_deadline,
        on_frame=on_frame,
    )
    return aggregate(
        answers,
        window_list,
        video={
            "platform": platform,
            "shortcode": shortcode,
            "fps": round(fps, 6),
            "frame_count": count,
            "duration_s": round(duration, 6),
        },
        frame_source=source,
        calls=rek.calls,
        saved=saved,
        price_per_image_usd=price_per_image_usd,
        seconds=time.perf_counter() - started,
        emulated=rek.emulated,
    )
