"""Scene scoring and shot selection, and the edit decision list (EDL): pure and deterministic.

Inputs are frame-extract's manifest (:class:`~shared.manifest.FrameManifest`, the scenes between
cuts) and rekognition's ``analysis.json`` (its ``frames[]``: labels, faces with emotions,
celebrities for each analysed frame; :mod:`functions.rekognition.analysis`). No clock, no
randomness, no I/O: the same inputs give the same EDL, byte for byte (:func:`edl_json`).

**Scoring** (docs/stages/trailer.md). Each analysed frame scores the sum of its *features*:

* each label: the profile's weight for its name, else for the heaviest of its categories, times
  the label's confidence / 100;
* each face's emotions: the profile's weight for the type times the emotion's confidence / 100;
* faces: ``face_weight`` x the number of faces, at most ``max_faces``;
* each celebrity: its weight in ``celebrities``, else ``celebrity_weight``, times the match
  confidence / 100.

A scene's score is the mean of its analysed frames' scores (a long scene gets no more for having
more frames); its *reasons* are its features with their weight, the number of frames they occur
in and their share of the score, largest first.

**Selection.** A scene is *usable* when it is at least ``min_shot_s`` long, has an analysed frame
and scores above zero. Its shot is the scene itself, or, when the scene is longer than
``max_shot_s``, the ``max_shot_s`` window centred on its best-scoring analysed frame, clamped
into the scene (a shot never crosses a cut). With ``B = floor(max_duration_s x fps)`` frames of
budget (a crossfade of ``X`` frames costs ``X`` per join):

1. quotas: the best usable scene of the early, the middle and the late third of the video (by
   the shot's middle frame), in that order, when it fits;
2. fill: the other usable scenes by score (ties: earlier first); one that does not fit whole
   is trimmed to what is left (its window again centred on its best frame) when that is at
   least ``min_shot_s``;
3. the shots are put back in source order.

Fewer than ``min_shots`` usable scenes (or chosen shots), or a video shorter than ``min_shot_s``,
is a permanent error whose message says which.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, field
from typing import Any

from functions.trailer.profiles import Profile, describe
from shared.errors import PermanentError
from shared.manifest import FrameManifest, ManifestScene

EDL_SCHEMA_VERSION = 1
THIRDS = ("early", "middle", "late")


class TooFewScenesError(PermanentError):
    """Fewer usable scenes (or shots that fit) than ``TRAILER_MIN_SHOTS`` for a profile."""


class VideoTooShortError(PermanentError):
    """The video is shorter than the minimum shot (``TRAILER_MIN_SHOT_S``)."""


@dataclass(frozen=True)
class SelectParams:
    """The selection rule's parameters (module docstring); seconds unless named otherwise.

    ``transition`` is ``cut`` or ``crossfade``; ``crossfade_s`` only counts with ``crossfade``.
    """

    max_duration_s: float = 30.0
    min_shot_s: float = 1.0
    max_shot_s: float = 4.0
    min_shots: int = 2
    transition: str = "cut"
    crossfade_s: float = 0.4

    def frames(self, fps: float) -> tuple[int, int, int, int]:
        """``(budget, min_shot, max_shot, crossfade)`` in frames at ``fps``.

        The crossfade is at most half the shortest shot, and 0 for hard cuts.
        """
        budget = math.floor(self.max_duration_s * fps + 1e-9)
        min_shot = max(1, math.ceil(self.min_shot_s * fps - 1e-9))
        max_shot = max(min_shot, math.floor(self.max_shot_s * fps + 1e-9))
        xfade = 0
        if self.transition == "crossfade":
            xfade = max(1, min(round(self.crossfade_s * fps), min_shot // 2))
        return budget, min_shot, max_shot, xfade


@dataclass(frozen=True)
class Reason:
    """One feature of a scene's score: ``kind`` (``label``, ``category``, ``emotion``,
    ``faces``, ``celebrity``), the name matched, the profile's weight, how many analysed frames
    have it, and its contribution to the scene's score."""

    kind: str
    name: str
    weight: float
    frames: int
    contribution: float

    def to_json(self) -> dict[str, Any]:
        """The EDL's form."""
        return {
            "kind": self.kind,
            "name": self.name,
            "weight": self.weight,
            "frames": self.frames,
            "contribution": round(self.contribution, 4),
        }


@dataclass(frozen=True)
class SceneScore:
    """A manifest scene scored against a profile.

    Attributes:
        scene: the manifest scene.
        score: mean analysed-frame score (0 without analysed frames).
        reasons: features, largest contribution first.
        frames: the analysed frames in the scene (0-based indices).
        best_frame: the best-scoring analysed frame (the earliest on ties), or ``None``.
        labels: the scene's label names, most frames first (for captions).
    """

    scene: ManifestScene
    score: float
    reasons: tuple[Reason, ...]
    frames: tuple[int, ...]
    best_frame: int | None
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Shot:
    """A chosen shot: source frames ``[in_frame, out_frame)`` inside one scene."""

    scene: SceneScore
    in_frame: int
    out_frame: int
    third: int
    rule: str = field(default="fill")

    @property
    def length(self) -> int:
        """Frames."""
        return self.out_frame - self.in_frame


def _frame_features(doc: dict[str, Any], profile: Profile) -> dict[tuple[str, str], float]:
    """Feature -> value for one analysed frame of ``analysis.json``."""
    out: dict[tuple[str, str], float] = {}

    def add(kind: str, name: str, value: float) -> None:
        out[(kind, name)] = out.get((kind, name), 0.0) + value

    for label in doc.get("labels", []):
        hit = profile.label_weight(str(label.get("name", "")), list(label.get("categories", [])))
        if hit is not None:
            weight, kind, name = hit
            add(kind, name, weight * float(label.get("confidence", 0.0)) / 100)
    faces = doc.get("faces", [])
    for face in faces:
        for emotion in face.get("emotions", []):
            w = profile.emotions.get(emotion.get("type"))
            if w is not None:
                add("emotion", emotion["type"], w * float(emotion.get("confidence", 0.0)) / 100)
    if faces and profile.face_weight:
        add("faces", "faces", profile.face_weight * min(len(faces), profile.max_faces))
    for celeb in doc.get("celebrities", []):
        name = str(celeb.get("name", ""))
        w = profile.celebrities.get(name, profile.celebrity_weight)
        if w:
            add("celebrity", name, w * float(celeb.get("confidence", 0.0)) / 100)
    return out


def _weight_of(kind: str, name: str, profile: Profile) -> float:
    if kind == "label":
        return profile.labels[name]
    if kind == "category":
        return profile.categories[name]
    if kind == "emotion":
        return profile.emotions[name]  # type: ignore[index]
    if kind == "faces":
        return profile.face_weight
    return profile.celebrities.get(name, profile.celebrity_weight)


def score_scenes(
    manifest: FrameManifest, analysis: dict[str, Any], profile: Profile
) -> list[SceneScore]:
    """Score every manifest scene against ``profile`` (module docstring), in scene order.

    Analysed frames are assigned to the scene that contains their frame index.
    """
    scenes = sorted(manifest.scenes, key=lambda s: s.start_frame)
    starts = [s.start_frame for s in scenes]
    per_scene: dict[int, list[dict[str, Any]]] = {s.index: [] for s in scenes}
    for doc in sorted(analysis.get("frames", []), key=lambda d: int(d["frame"])):
        i = bisect.bisect_right(starts, int(doc["frame"])) - 1
        if i >= 0 and int(doc["frame"]) < scenes[i].end_frame:
            per_scene[scenes[i].index].append(doc)
    out = []
    for s in scenes:
        docs = per_scene[s.index]
        sums: dict[tuple[str, str], float] = {}
        counts: dict[tuple[str, str], int] = {}
        frame_scores: list[tuple[float, int]] = []
        label_frames: dict[str, int] = {}
        for doc in docs:
            feats = _frame_features(doc, profile)
            for k, v in feats.items():
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + 1
            frame_scores.append((sum(feats.values()), int(doc["frame"])))
            for label in doc.get("labels", []):
                lname = str(label.get("name", ""))
                label_frames[lname] = label_frames.get(lname, 0) + 1
        n = len(docs)
        reasons = tuple(
            sorted(
                (
                    Reason(k[0], k[1], _weight_of(k[0], k[1], profile), counts[k], v / n)
                    for k, v in sums.items()
                    if v != 0
                ),
                key=lambda r: (-abs(r.contribution), r.kind, r.name),
            )
        )
        best = max(frame_scores, key=lambda fs: (fs[0], -fs[1]))[1] if frame_scores else None
        out.append(
            SceneScore(
                scene=s,
                score=round(sum(sums.values()) / n, 6) if n else 0.0,
                reasons=reasons,
                frames=tuple(int(d["frame"]) for d in docs),
                best_frame=best,
                labels=tuple(
                    name for name, _ in sorted(label_frames.items(), key=lambda kv: (-kv[1], kv[0]))
                ),
            )
        )
    return out


def _window(sc: SceneScore, length: int) -> tuple[int, int]:
    """``[in, out)`` of ``length`` frames centred on the scene's best frame, inside the scene."""
    s = sc.scene
    length = min(length, s.end_frame - s.start_frame)
    centre = sc.best_frame if sc.best_frame is not None else (s.start_frame + s.end_frame) // 2
    start = min(max(s.start_frame, centre - length // 2), s.end_frame - length)
    return start, start + length


def select_shots(
    manifest: FrameManifest,
    analysis: dict[str, Any],
    profile: Profile,
    params: SelectParams,
) -> list[Shot]:
    """The profile's shots in source order (module docstring).

    Raises:
        VideoTooShortError: the video is shorter than ``min_shot_s``.
        TooFewScenesError: fewer than ``min_shots`` usable scenes, or shots that fit.
    """
    fps = float(manifest.video.fps)
    budget, min_shot, max_shot, xfade = params.frames(fps)
    total = manifest.video.frame_count or max((s.end_frame for s in manifest.scenes), default=0)
    if total < min_shot:
        raise VideoTooShortError(
            f"{manifest.video.shortcode}: the video is {total / fps:.2f} s long, shorter than "
            f"the minimum shot (TRAILER_MIN_SHOT_S={params.min_shot_s:g} s)"
        )
    scored = score_scenes(manifest, analysis, profile)
    usable = [
        sc for sc in scored if sc.scene.length_frames >= min_shot and sc.frames and sc.score > 0
    ]
    if len(usable) < params.min_shots:
        long_enough = sum(1 for sc in scored if sc.scene.length_frames >= min_shot)
        analysed = sum(1 for sc in scored if sc.frames)
        raise TooFewScenesError(
            f"profile {profile.id!r}: {len(usable)} usable scene(s), {params.min_shots} needed "
            f"(TRAILER_MIN_SHOTS); of {len(scored)} scenes {long_enough} are at least "
            f"{params.min_shot_s:g} s long, {analysed} have an analysed frame, and "
            f"{sum(1 for sc in scored if sc.score > 0)} score above zero for this profile"
        )

    def third_of(lo: int, hi: int) -> int:
        return min(2, (lo + hi) * 3 // (2 * max(1, total)))

    ranked = sorted(usable, key=lambda sc: (-sc.score, sc.scene.start_frame))
    chosen: dict[int, Shot] = {}

    def used() -> int:
        return sum(s.length for s in chosen.values()) - xfade * max(0, len(chosen) - 1)

    def room() -> int:
        # frames a further shot may have (it adds a join when there is a shot already)
        return budget - used() + (xfade if chosen else 0)

    for third in range(3):
        for sc in ranked:
            lo, hi = _window(sc, max_shot)
            if third_of(lo, hi) == third:
                if hi - lo <= room():
                    chosen[sc.scene.index] = Shot(sc, lo, hi, third, rule=f"quota:{THIRDS[third]}")
                break
    for sc in ranked:
        if sc.scene.index in chosen:
            continue
        lo, hi = _window(sc, max_shot)
        if hi - lo > room():
            if room() < min_shot:
                continue
            lo, hi = _window(sc, room())
        chosen[sc.scene.index] = Shot(sc, lo, hi, third_of(lo, hi))
    shots = sorted(chosen.values(), key=lambda s: s.in_frame)
    if len(shots) < params.min_shots:
        raise TooFewScenesError(
            f"profile {profile.id!r}: only {len(shots)} shot(s) of at least "
            f"{params.min_shot_s:g} s fit in {params.max_duration_s:g} s, "
            f"{params.min_shots} needed (TRAILER_MIN_SHOTS)"
        )
    return shots


def timecode(frame: int, fps: float) -> str:
    """SMPTE-style non-drop-frame ``HH:MM:SS:FF`` of a 0-based frame at the nominal rate
    (``round(fps)`` frames a second)."""
    nominal = max(1, round(fps))
    s, ff = divmod(frame, nominal)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{ff:02d}"


def build_edl(
    manifest: FrameManifest,
    analysis: dict[str, Any],
    profile: Profile,
    params: SelectParams,
    *,
    output: dict[str, Any],
    target_language: str = "en",
    max_labels: int = 3,
) -> dict[str, Any]:
    """Select the shots and return the EDL document (schema :data:`EDL_SCHEMA_VERSION`,
    docs/stages/trailer.md): the video, the profile, the parameters, the analysis it came from,
    per shot the source and output frames and timecodes, score, reasons and main labels, the
    joins and the total.

    Args:
        output: what the renderer will write (``file``, ``format``, ``video_codec``,
            ``audio_codec``, ``width``, ``height``); recorded as given.

    Raises:
        VideoTooShortError, TooFewScenesError: from :func:`select_shots`.
    """
    fps = float(manifest.video.fps)
    shots = select_shots(manifest, analysis, profile, params)
    budget, _, _, xfade = params.frames(fps)
    docs: list[dict[str, Any]] = []
    cursor = 0
    for i, shot in enumerate(shots):
        start = cursor
        end = start + shot.length
        docs.append(
            {
                "index": i,
                "scene": shot.scene.scene.index,
                "third": THIRDS[shot.third],
                "rule": shot.rule,
                "source": {
                    "in_frame": shot.in_frame,
                    "out_frame": shot.out_frame,
                    "in_tc": timecode(shot.in_frame, fps),
                    "out_tc": timecode(shot.out_frame, fps),
                    "in_s": round(shot.in_frame / fps, 6),
                    "out_s": round(shot.out_frame / fps, 6),
                },
                "output": {
                    "in_frame": start,
                    "out_frame": end,
                    "in_tc": timecode(start, fps),
                    "out_tc": timecode(end, fps),
                    "in_s": round(start / fps, 6),
                    "out_s": round(end / fps, 6),
                },
                "frames": shot.length,
                "score": shot.scene.score,
                "reasons": [r.to_json() for r in shot.scene.reasons[:8]],
                "labels": list(shot.scene.labels[:max_labels]),
            }
        )
        cursor = end - xfade
    total = cursor + xfade if shots else 0
    emulated = bool(analysis.get("emulated", False))
    return {
        "schema_version": EDL_SCHEMA_VERSION,
        "video": {
            "platform": manifest.video.platform,
            "shortcode": manifest.video.shortcode,
            "fps": manifest.video.fps,
            "frame_count": manifest.video.frame_count,
            "duration_s": manifest.video.duration_s,
            "width": manifest.video.width,
            "height": manifest.video.height,
            "scenes": len(manifest.scenes),
        },
        "profile": describe(profile),
        "parameters": {
            "max_duration_s": params.max_duration_s,
            "min_shot_s": params.min_shot_s,
            "max_shot_s": params.max_shot_s,
            "min_shots": params.min_shots,
            "transition": params.transition,
            "transition_frames": xfade,
            "budget_frames": budget,
            "target_language": target_language,
        },
        "analysis": {
            "emulated": emulated,
            "frame_source": analysis.get("frame_source"),
            "frames_analyzed": len(analysis.get("frames", [])),
            "note": (
                "Rekognition was emulated (local mode): labels are canned answers and no faces "
                "or celebrities were looked for"
                if emulated
                else None
            ),
        },
        "output": dict(output),
        "shots": docs,
        "joins": [d["output"]["in_frame"] for d in docs[1:]],
        "duration_frames": total,
        "duration_s": round(total / fps, 6),
    }


def edl_json(edl: dict[str, Any]) -> bytes:
    """The EDL's bytes: UTF-8 JSON, sorted keys, two-space indent, a final newline (stable)."""
    return (json.dumps(edl, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
