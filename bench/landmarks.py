"""Benchmark: landmark extraction (`extract_landmarks`) vs a plain loop, per preset.

Both sides sample the same frames (the preset's ``target_fps`` and ``max_frames``) and run the same
MediaPipe graph (pose, or pose and hands when the preset has hands: ``pose_hands_graph``) with
the same thresholds:

* ``vidpipe``: :func:`functions.landmarks.landmarks.extract_landmarks` (segment workers: a decoder
  thread feeding an inference thread each, one worker per CPU);
* ``plain``: the loop users write first: ``cap.read()`` (``grab()`` for skipped frames),
  ``cv2.cvtColor`` to RGB, ``graph.process``, one frame after another.

Each run is its own process (the parent imports neither OpenCV nor MediaPipe, so the child's
``ru_maxrss`` is its own peak). Frames per second count sampled frames over the wall time of the
work: graph start-up included, interpreter start-up and the mediapipe import (about 1 s, paid
once per Lambda cold start) excluded on both sides. The two sides run alternately
(``vidpipe``, ``plain``, ``vidpipe``, ...) and the speed-up is the median of the per-pair ratios,
so a machine that speeds up or slows down during the run shifts both sides of a pair alike.
"cores" is process CPU time over wall time: how much of the machine each side kept busy.

Inputs: ``sports2d_demo.mp4`` (1768x994 VP9, 230 frames) and ``vtest.avi`` (768x576, 795 frames)
from ../shared/samples, and ``sports2d_demo_mjpeg.avi``, the first re-encoded as Motion JPEG in a
temporary directory (every frame a key frame: our extraction decodes only the sampled frames,
the plain loop's ``grab()`` decodes them all); without the samples, a generated 640x360 clip
(nobody in it).

Usage::

    python bench/landmarks.py [--repeat 3] [--preset production ...]
    python bench/landmarks.py --max-people 8 [--repeat 1] [--preset fast_processing]

The second form measures throughput per person: the single-person path against the
multi-person path (``max_people`` 8), hands off on both, in the same run (alternating); it
writes bench/results/landmarks_people_throughput.md.

Prints a table and writes it to bench/results/landmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("VIDPIPE_SAMPLES", ROOT.parent / "shared" / "samples"))
RESULTS = ROOT / "bench" / "results"
VIDEOS = ["sports2d_demo.mp4", "vtest.avi"]
PRESETS = ["development", "production", "high_accuracy", "fast_processing"]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[4])
mode, preset, video = sys.argv[1:4]
max_people = int(sys.argv[5]) if len(sys.argv) > 5 else 0
import cv2
from functions.landmarks.config import preset_config
from functions.landmarks.landmarks import planned_samples, sample_index, sample_step
from mediapipe.python.solutions import pose  # both sides: the import is start-up, not work
cfg = preset_config(preset)
t0 = time.perf_counter()
c0 = time.process_time()
if mode in ("single", "people"):  # --max-people: hands off on both sides
    from functions.landmarks.landmarks import extract_landmarks
    cfg = cfg.with_overrides(hands=False, max_people=max_people if mode == "people" else 1)
    r = extract_landmarks(video, cfg)
    frames = r.frames
    found = int((r.track_ids >= 0).sum()) if r.track_ids is not None else r.metadata["pose_frames"]
elif mode == "vidpipe":
    from functions.landmarks.landmarks import extract_landmarks
    r = extract_landmarks(video, cfg)
    frames, found = r.frames, r.metadata["pose_frames"]
else:
    from functions.landmarks.landmarks import pose_hands_graph
    mp = cfg.mediapipe
    kw = dict(static_image_mode=False, model_complexity=1, smooth_landmarks=mp.smooth_landmarks,
              min_detection_confidence=mp.min_detection_confidence,
              min_tracking_confidence=mp.min_tracking_confidence)
    graph = pose_hands_graph(cfg) if mp.hands else pose.Pose(**kw)
    cap = cv2.VideoCapture(video)
    step = sample_step(cap.get(cv2.CAP_PROP_FPS), cfg.video.target_fps)
    total = planned_samples(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), step, cfg.video.max_frames)
    pos = frames = found = 0
    while total is None or frames < total:
        target = sample_index(frames, step)
        while pos < target and cap.grab():
            pos += 1
        ok, frame = cap.read()
        if not ok:
            break
        pos += 1
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        res = graph.process({"image": rgb}) if mp.hands else graph.process(rgb)
        frames += 1
        found += res.pose_landmarks is not None
    graph.close()
wall = time.perf_counter() - t0
cpu = time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {"frames": frames, "found": found, "seconds": wall, "cpu_s": cpu, "peak_mb": peak}
print(json.dumps(out))
"""


def run(mode: str, preset: str, video: Path, max_people: int = 0) -> dict[str, float]:
    """One measurement in a fresh process; returns frames, found, seconds, peak_mb."""
    env = dict(os.environ, GLOG_minloglevel="2")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, preset, str(video), str(ROOT), str(max_people)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} {preset} {video.name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def motion_jpeg_copy(video: Path) -> Path:
    """``video`` re-encoded as Motion JPEG AVI (:func:`vidpipe.synth.motion_jpeg_copy`) in a temp
    dir; in a child process, so this one never loads OpenCV (see ``ru_maxrss`` above)."""
    out = Path(tempfile.mkdtemp()) / f"{video.stem}_mjpeg.avi"
    code = "import sys; from vidpipe.synth import motion_jpeg_copy; motion_jpeg_copy(*sys.argv[1:])"
    subprocess.run([sys.executable, "-c", code, str(video), str(out)], check=True, cwd=ROOT)
    return out


def inputs() -> list[Path]:
    found = [SAMPLES / n for n in VIDEOS if (SAMPLES / n).is_file()]
    if found:
        return [*found, motion_jpeg_copy(found[0])]
    from vidpipe.synth import make_clip

    clip = Path(tempfile.mkdtemp()) / "synthetic.mp4"
    make_clip(clip)
    return [clip]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="run pairs per cell (medians)")
    parser.add_argument("--preset", action="append", choices=PRESETS, help="default: all four")
    parser.add_argument(
        "--max-people",
        type=int,
        default=0,
        help="instead: single-person vs multi-person extraction (hands off), per person",
    )
    args = parser.parse_args()
    presets = args.preset or PRESETS
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.max_people > 1:
        people(presets, args.repeat, args.max_people)
        return
    rows = []
    for video in inputs():
        for preset in presets:
            pairs = []
            for _ in range(args.repeat):
                pairs.append({mode: run(mode, preset, video) for mode in ("vidpipe", "plain")})
            cell = {}
            for mode in ("vidpipe", "plain"):
                runs = [p[mode] for p in pairs]
                cell[mode] = {
                    "frames": runs[0]["frames"],
                    "found": runs[0]["found"],
                    "fps": statistics.median(r["frames"] / r["seconds"] for r in runs),
                    "cores": statistics.median(r["cpu_s"] / r["seconds"] for r in runs),
                    "peak_mb": max(r["peak_mb"] for r in runs),
                }
                c = cell[mode]
                print(
                    f"{video.name:20s} {preset:16s} {mode:8s} {c['frames']:5.0f} frames "
                    f"{c['fps']:6.1f} fps {c['cores']:4.2f} cores {c['peak_mb']:6.0f} MB",
                    file=sys.stderr,
                )
            speedup = statistics.median(
                (p["plain"]["seconds"] / p["plain"]["frames"])
                / (p["vidpipe"]["seconds"] / p["vidpipe"]["frames"])
                for p in pairs
            )
            ours, plain = cell["vidpipe"], cell["plain"]
            rows.append(
                f"| {video.name} | {preset} | {ours['frames']:.0f} | {ours['fps']:.1f} | "
                f"{plain['fps']:.1f} | **{speedup:.2f}x** | {ours['cores']:.2f} / "
                f"{plain['cores']:.2f} | {ours['found']:.0f} / {plain['found']:.0f} | "
                f"{ours['peak_mb']:.0f} | {plain['peak_mb']:.0f} |"
            )
    table = "\n".join(
        [
            f"{args.repeat} alternating run(s) per side, medians; {os.cpu_count()} cores.",
            "",
            "| video | preset | frames | vidpipe fps | plain loop fps | speed-up "
            "| cores busy (vidpipe / plain) | poses found (vidpipe / plain) | vidpipe MB "
            "| plain MB |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    (RESULTS / "landmarks.md").write_text(table + "\n")
    print(table)


def people(presets: list[str], repeat: int, max_people: int) -> None:
    """Throughput per person: single-person vs ``max_people`` extraction, alternating runs,
    hands off on both; person-frames are found people summed over sampled frames."""
    rows = []
    for video in [SAMPLES / n for n in VIDEOS if (SAMPLES / n).is_file()]:
        for preset in presets:
            pairs = [
                {m: run(m, preset, video, max_people) for m in ("single", "people")}
                for _ in range(repeat)
            ]
            cell = {
                m: {
                    "frames": pairs[0][m]["frames"],
                    "fps": statistics.median(p[m]["frames"] / p[m]["seconds"] for p in pairs),
                    "pps": statistics.median(p[m]["found"] / p[m]["seconds"] for p in pairs),
                    "per_frame": pairs[0][m]["found"] / max(1, pairs[0][m]["frames"]),
                    "cores": statistics.median(p[m]["cpu_s"] / p[m]["seconds"] for p in pairs),
                }
                for m in ("single", "people")
            }
            one, many = cell["single"], cell["people"]
            rows.append(
                f"| {video.name} | {preset} | {one['frames']:.0f} | {one['fps']:.1f} / "
                f"{many['fps']:.1f} | {one['per_frame']:.2f} / {many['per_frame']:.2f} | "
                f"{one['pps']:.1f} / {many['pps']:.1f} | {one['cores']:.2f} / "
                f"{many['cores']:.2f} |"
            )
            print(rows[-1], file=sys.stderr)
    table = "\n".join(
        [
            f"{repeat} alternating run(s) per side, medians; {os.cpu_count()} cores; hands off; "
            f"single-person vs max_people={max_people}.",
            "",
            "| video | preset | frames | frames / s (single / multi) | people per frame "
            "| person-frames / s | cores busy |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    (RESULTS / "landmarks_people_throughput.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
