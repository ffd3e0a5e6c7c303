"""Peak memory of each stage as a function of the frame size, and the MAX_VIDEO_PIXELS bound.

Makes synthetic 40-frame H.264 clips (PyAV's libx264, ``ultrafast``) from 640x360 up to
8000x8000 (the size of the clip in issue 13), then runs, each in a fresh process so that
``ru_maxrss`` is that run's own peak:

* ``inspect``: :func:`shared.video.inspect_video` with the default ``MAX_VIDEO_PIXELS``, the check
  every stage runs first: it accepts the clip or refuses it before a frame is decoded;
* ``frame-extract``: :func:`functions.frame_extract.extract.extract_keyframes`, default settings;
* ``landmarks``: :func:`functions.landmarks.landmarks.extract_landmarks`, the production preset,
  two workers (as deployed);
* ``rekognition``: :func:`functions.rekognition.analysis.analyze_video` with its default 30
  frames, Rekognition answered by moto.

Clips over the bound are not run through a stage unless ``--unbounded`` names it (what the stage
would cost without the bound; 8000x8000 through frame-extract needs several GB).

Usage: ``python bench/memory.py [--sizes 640x360,...] [--frames 40] [--unbounded frame-extract]``
(needs the ``bench`` extra for PyAV and mediapipe for the landmarks column).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = "640x360,1280x720,1920x1080,3840x2160,4096x2160,8000x8000"
STAGES = ("inspect", "frame-extract", "landmarks", "rekognition")

CHILD = r"""
import json, resource, sys, time
stage, path = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
from shared.config import DEFAULT_MAX_VIDEO_PIXELS
from shared.video import inspect_video
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {}
if stage == "inspect":
    import cv2  # the imports every stage pays, so the baseline below is the check alone
    base = peak_mb()
    try:
        inspect_video(path, max_pixels=DEFAULT_MAX_VIDEO_PIXELS)
        out["verdict"] = "accepted"
    except Exception as exc:
        out["verdict"] = type(exc).__name__
    out["base_mb"] = base
elif stage == "frame-extract":
    from functions.frame_extract.extract import ExtractParams, extract_keyframes
    out["base_mb"] = peak_mb()
    r = extract_keyframes(path, ExtractParams(), platform="b", shortcode="m")
    out["detail"] = f"{len(r.keyframes)} key frames"
elif stage == "landmarks":
    from functions.landmarks.config import Preset, preset_config
    from functions.landmarks.landmarks import extract_landmarks
    cfg = preset_config(Preset.PRODUCTION).with_overrides(workers=2)
    out["base_mb"] = peak_mb()
    r = extract_landmarks(path, cfg, platform="b", shortcode="m")
    out["detail"] = f"{r.frames} samples"
elif stage == "rekognition":
    import boto3
    from moto import mock_aws
    from functions.rekognition.analysis import analyze_video
    from functions.rekognition.job import analyze_kwargs
    from functions.rekognition.settings import RekognitionSettings
    from shared.rekognition import Rekognition
    with mock_aws():
        rek = Rekognition(boto3.client("rekognition", region_name="us-east-1"), emulated=True)
        out["base_mb"] = peak_mb()
        doc = analyze_video(path, rek, platform="b", shortcode="m", manifest=None,
                            **analyze_kwargs(RekognitionSettings()))
    out["detail"] = f"{doc['metrics']['frames_analyzed']} frames"
out["peak_mb"] = peak_mb()
print(json.dumps(out))
"""


def make_clip(path: Path, width: int, height: int, frames: int) -> Path:
    import av
    import numpy as np

    out = av.open(str(path), "w")
    stream = out.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = {"preset": "ultrafast", "crf": "30"}
    ys = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    xs = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    for i in range(frames):
        y = ((ys + xs + 8 * i) % 256).astype(np.uint8)
        if i == frames // 2:  # one cut, so frame-extract has two scenes
            y = 255 - y
        u = np.full((height // 2, width // 2), 128, np.uint8)
        frame = av.VideoFrame(width, height, "yuv420p")
        frame.planes[0].update(np.ascontiguousarray(y))
        frame.planes[1].update(u)
        frame.planes[2].update(u)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return path


def run(stage: str, clip: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, stage, str(clip), str(ROOT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"MPLCONFIGDIR": tempfile.gettempdir() + "/mpl-bench", "PATH": "/usr/bin:/bin"},
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:80]}
    result: dict[str, object] = json.loads(lines[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=SIZES)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument(
        "--unbounded",
        default="",
        help="stages (comma-separated) also run on clips over the bound, as if it did not exist",
    )
    args = parser.parse_args()
    from shared.config import DEFAULT_MAX_VIDEO_PIXELS

    stages = args.stages.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            clip = make_clip(Path(tmp) / f"{size}.mp4", w, h, args.frames)
            mb = clip.stat().st_size / 2**20
            over = w * h > DEFAULT_MAX_VIDEO_PIXELS
            row = {"size": size, "mpix": w * h / 1e6, "file_mb": mb}
            for stage in stages:
                if stage != "inspect" and over and stage not in args.unbounded.split(","):
                    row[stage] = "refused"
                    continue
                r = run(stage, clip)
                if "error" in r:
                    row[stage] = f"error: {r['error']}"
                elif stage == "inspect":
                    row[stage] = f"{r['verdict']}, +{float(r['peak_mb']) - float(r['base_mb']):.0f}"
                else:
                    row[stage] = f"{float(r['peak_mb']):.0f}"
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            clip.unlink()
    head = ["frames (WxH)", "Mpixel", "clip MB", *[f"{s} peak MB" for s in stages]]
    head[3] = "inspect (verdict, MB over imports)"
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["size"], f"{r['mpix']:.1f}", f"{r['file_mb']:.1f}", *[r[s] for s in stages]]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
