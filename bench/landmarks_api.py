"""Which MediaPipe API: legacy ``solutions.pose`` vs Tasks ``PoseLandmarker`` in VIDEO mode.

Both run the same bundled networks (``pose_detection.tflite`` + ``pose_landmark_full.tflite``)
on every frame of the same video, one frame after another. mediapipe 0.10.21 ships no
``pose_landmarker.task``; this builds one in memory from the bundled models, adding the input
normalisation metadata Tasks needs with ``metadata_writers`` (detector input in [-1, 1]: mean
127.5, std 127.5; landmark input in [0, 1]: mean 0, std 255). Reported: frames with a pose,
milliseconds per frame, and for ``vtest.avi`` the share of poses whose hip midpoint lies in a
ground-truth person box (``vtest_gt_mot15.txt``, 1-based frames, conf 1).

Usage: ``python bench/landmarks_api.py`` (needs ../shared/samples). Writes
bench/results/landmarks_api.md.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import mediapipe as mp

from functions.landmarks.multi import pose_task_bundle

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("VIDPIPE_SAMPLES", ROOT.parent / "shared" / "samples"))
RESULTS = ROOT / "bench" / "results"


def run(video: Path, api: str, task_path: str) -> tuple[list[Any], float]:
    """Hip midpoints (normalised, or None) per frame, and ms per frame."""
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS)
    if api == "legacy":
        from mediapipe.python.solutions import pose

        graph = pose.Pose(model_complexity=1)
    else:
        from mediapipe.tasks.python import BaseOptions, vision

        graph = vision.PoseLandmarker.create_from_options(
            vision.PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=task_path),
                running_mode=vision.RunningMode.VIDEO,
            )
        )
    hips: list[Any] = []
    started = time.perf_counter()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if api == "legacy":
            res = graph.process(rgb)
            lms = res.pose_landmarks.landmark if res.pose_landmarks else None
        else:
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
            res = graph.detect_for_video(image, int(len(hips) * 1000 / fps))
            lms = res.pose_landmarks[0] if res.pose_landmarks else None
        hips.append(
            None if lms is None else ((lms[23].x + lms[24].x) / 2, (lms[23].y + lms[24].y) / 2)
        )
    ms = (time.perf_counter() - started) / max(1, len(hips)) * 1000
    graph.close()
    return hips, ms


def gt_share(hips: list[Any]) -> float:
    boxes: dict[int, list[tuple[float, ...]]] = defaultdict(list)
    for line in (SAMPLES / "vtest_gt_mot15.txt").read_text().splitlines():
        frame, _id, x, y, w, h, conf, *_ = line.split(",")
        if int(float(conf)) == 1:
            boxes[int(frame) - 1].append((float(x), float(y), float(w), float(h)))
    found = [(i, h) for i, h in enumerate(hips) if h is not None]
    inside = sum(
        any(x <= hx * 768 <= x + w and y <= hy * 576 <= y + h for x, y, w, h in boxes[i])
        for i, (hx, hy) in found
    )
    return inside / max(1, len(found))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        task = Path(tmp) / "pose_landmarker.task"
        task.write_bytes(pose_task_bundle())
        rows = []
        for name in ("sports2d_demo.mp4", "vtest.avi"):
            video = SAMPLES / name
            if not video.is_file():
                continue
            for api in ("legacy", "tasks"):
                hips, ms = run(video, api, str(task))
                found = sum(h is not None for h in hips)
                share = f"{100 * gt_share(hips):.1f}%" if name == "vtest.avi" else "-"
                rows.append(f"| {name} | {api} | {found} / {len(hips)} | {ms:.1f} | {share} |")
                print(rows[-1])
    table = "\n".join(
        [
            f"Every frame, one after another; {os.cpu_count()} cores.",
            "",
            "| video | API | frames with a pose | ms / frame | hip in a GT box |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "landmarks_api.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
