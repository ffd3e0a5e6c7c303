"""Multi-person landmarks on ``vtest.avi`` scored against its MOT ground truth, per preset.

For each preset, the single-person path (``max_people`` 1) and the multi-person path
(``--max-people``, default 8) run on ``vtest.avi`` (PETS 2009 S2.L1, 768x576, 795 frames) and are
scored against ``vtest_gt_mot15.txt`` (1-based frames; rows with ``conf`` 0 are "ignore"):

* **recall**: per frame, the share of ground-truth people whose box contains the hip midpoint
  (mean of landmarks 23 and 24) of a found person; reported over all people and over the people
  taller than ``H_MIN`` pixels, the height the single-person model sees at all (the 5th
  percentile of the ground-truth heights of the people the single-person path found, so 95% of
  its finds are at least that tall);
* **precision**: the share of found people whose hip midpoint is inside some ground-truth box
  (found people inside an "ignore" box only are left out);
* **ID switches per 100 frames**: a found track's matched ground-truth id changes from one
  matched frame to the next (per frame, found people are matched one-to-one to the boxes that
  contain their hip midpoints, nearest box centres first, by Hungarian assignment).

Each run is its own process (as ``bench/landmarks.py``), so the timings are comparable; the
throughput is sampled frames per second and person-frames (found people summed over frames) per
second, and, for the multi-person row, its person-frames per second over the single-person
row's of the same preset, run just before it (the ratio stays meaningful on a shared machine
where absolute rates do not).

Usage::

    python bench/landmarks_people.py [--preset fast_processing ...] [--max-people 8]
        [--max-frames N]

Writes bench/results/landmarks_people.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("VIDPIPE_SAMPLES", ROOT.parent / "shared" / "samples"))
RESULTS = ROOT / "bench" / "results"
PRESETS = ["development", "production", "high_accuracy", "fast_processing"]
W, H = 768, 576

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
preset, video, max_people, max_frames, out = sys.argv[2:7]
import numpy as np
from functions.landmarks.config import preset_config
from functions.landmarks.landmarks import extract_landmarks
import mediapipe  # start-up, not work
cfg = preset_config(preset).with_overrides(
    hands=False, max_people=int(max_people), max_frames=int(max_frames) or None
)
t0 = time.perf_counter(); c0 = time.process_time()
r = extract_landmarks(video, cfg)
wall = time.perf_counter() - t0; cpu = time.process_time() - c0
if r.poses is None:
    poses, ids = r.pose[:, None], np.where(np.isnan(r.pose[:, 0, 0]), -1, 0)[:, None]
else:
    poses, ids = r.poses, r.track_ids
np.savez(out, frame_index=r.frame_index, poses=poses, track_ids=ids)
print(json.dumps({"seconds": wall, "cpu_s": cpu, "frames": r.frames,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "tracks": len(r.metadata.get("people", {}).get("tracks", [])) or None}))
"""


def ground_truth() -> dict[int, list[tuple[int, float, float, float, float, bool]]]:
    """0-based frame -> ``(id, x, y, w, h, evaluated)`` boxes in pixels."""
    gt: dict[int, list[tuple[int, float, float, float, float, bool]]] = defaultdict(list)
    for line in (SAMPLES / "vtest_gt_mot15.txt").read_text().splitlines():
        f, i, x, y, w, h, conf, *_ = line.split(",")
        gt[int(f) - 1].append(
            (int(i), float(x), float(y), float(w), float(h), int(float(conf)) == 1)
        )
    return gt


def hips(poses: np.ndarray) -> np.ndarray:
    """``(T, P, 2)`` hip midpoints in pixels (NaN in empty slots)."""
    return np.stack(
        [
            (poses[..., 23, 0] + poses[..., 24, 0]) / 2 * W,
            (poses[..., 23, 1] + poses[..., 24, 1]) / 2 * H,
        ],
        axis=-1,
    )


def _inside(px: float, py: float, box: tuple[Any, ...]) -> bool:
    _, x, y, w, h, _ = box
    return bool(x <= px <= x + w and y <= py <= y + h)


def score(run: dict[str, np.ndarray], gt: Any, h_min: float | None) -> dict[str, Any]:
    """Recall (all, taller than ``h_min``), precision, ID switches / 100 frames; heights of the
    ground-truth people found."""
    frames, ids, hip = run["frame_index"], run["track_ids"], hips(run["poses"])
    rec = rec_tall = tot = tot_tall = 0
    found = inside = 0
    switches = 0
    last_gt: dict[int, int] = {}
    found_heights: list[float] = []
    for t, f in enumerate(frames):
        boxes = [b for b in gt[int(f)] if b[5]]
        ignore = [b for b in gt[int(f)] if not b[5]]
        people = [(int(ids[t, s]), *hip[t, s]) for s in range(ids.shape[1]) if ids[t, s] >= 0]
        people = [p for p in people if not np.isnan(p[1])]
        for b in boxes:
            hit = any(_inside(px, py, b) for _, px, py in people)
            tall = h_min is None or b[4] >= h_min
            tot += 1
            rec += hit
            tot_tall += tall
            rec_tall += hit and tall
            if hit:
                found_heights.append(b[4])
        for _, px, py in people:
            if any(_inside(px, py, b) for b in boxes):
                found += 1
                inside += 1
            elif not any(_inside(px, py, b) for b in ignore):
                found += 1
        # identity: one-to-one, found people to the boxes holding their hips, nearest centres
        if people and boxes:
            cost = np.array(
                [
                    [
                        (b[1] + b[3] / 2 - px) ** 2 + (b[2] + b[4] / 2 - py) ** 2
                        if _inside(px, py, b)
                        else 1e12
                        for b in boxes
                    ]
                    for _, px, py in people
                ]
            )
            for r, c in zip(*linear_sum_assignment(cost), strict=True):
                if cost[r, c] < 1e12:
                    tid, gid = people[r][0], boxes[c][0]
                    switches += tid in last_gt and last_gt[tid] != gid
                    last_gt[tid] = gid
    return {
        "recall": rec / max(1, tot),
        "recall_tall": rec_tall / max(1, tot_tall),
        "tall_share": tot_tall / max(1, tot),
        "precision": inside / max(1, found),
        "found": found,
        "switches_per_100": 100 * switches / max(1, len(frames)),
        "found_heights": found_heights,
    }


def run(preset: str, max_people: int, max_frames: int, out: Path) -> dict[str, Any]:
    env = dict(os.environ, GLOG_minloglevel="2")
    args = [preset, str(SAMPLES / "vtest.avi"), str(max_people), str(max_frames), str(out)]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{preset} max_people={max_people} failed:\n{proc.stderr[-3000:]}")
    stats: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    with np.load(out) as npz:
        stats["arrays"] = {k: npz[k] for k in npz.files}
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", action="append", choices=PRESETS, help="default: all four")
    parser.add_argument("--max-people", type=int, default=8)
    parser.add_argument("--max-frames", type=int, default=0, help="0: every sampled frame")
    args = parser.parse_args()
    gt = ground_truth()
    rows = []
    RESULTS.mkdir(parents=True, exist_ok=True)
    h_min = None
    for preset in args.preset or PRESETS:
        one = run(preset, 1, args.max_frames, RESULTS / "_one.npz")
        many = run(preset, args.max_people, args.max_frames, RESULTS / "_many.npz")
        s1 = score(one["arrays"], gt, None)
        if h_min is None and s1["found_heights"]:  # the first preset's finds define it
            h_min = float(np.floor(np.percentile(s1["found_heights"], 5) / 5) * 5)
            print(f"H_MIN = {h_min:.0f} px (from {preset})", file=sys.stderr)
        s1 = score(one["arrays"], gt, h_min)
        sm = score(many["arrays"], gt, h_min)
        rate = {}
        for label, st, sc in (("1 (single-person)", one, s1), (str(args.max_people), many, sm)):
            person_frames = int((st["arrays"]["track_ids"] >= 0).sum())
            rate[label] = person_frames / st["seconds"]
            ratio = rate[label] / rate["1 (single-person)"]
            rows.append(
                f"| {preset} | {label} | {st['frames']} | {sc['recall']:.3f} | "
                f"{sc['recall_tall']:.3f} | {sc['precision']:.3f} | "
                f"{sc['switches_per_100']:.2f} | {st['frames'] / st['seconds']:.2f} | "
                f"{person_frames / st['seconds']:.2f} | {ratio:.2f} | "
                f"{st['cpu_s'] / st['seconds']:.2f} | {st['peak_mb']:.0f} |"
            )
            print(rows[-1], file=sys.stderr)
    if not os.environ.get("KEEP_ARRAYS"):
        for f in ("_one.npz", "_many.npz"):
            (RESULTS / f).unlink(missing_ok=True)
    table = "\n".join(
        [
            f"vtest.avi against vtest_gt_mot15.txt; {os.cpu_count()} cores; hands off; "
            f"H_MIN = {h_min or 0:.0f} px (5th percentile of the ground-truth heights the "
            "single-person path found).",
            "",
            "| preset | max_people | frames | recall (all) | recall (GT taller than H_MIN) "
            "| precision | ID switches / 100 frames | frames / s | person-frames / s "
            "| person-frames / s vs single-person | cores busy | peak MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    (RESULTS / "landmarks_people.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
