"""Benchmark: `vidpipe frames` vs the `scenedetect` CLI vs decoding alone, on the same videos.

Each tool runs as its own process, so wall time and peak memory (``ru_maxrss`` from ``wait4``)
are measured the same way for all three:

* ``vidpipe``: ``vidpipe frames VIDEO --out DIR`` (detection + one key frame per scene, one pass);
* ``scenedetect``: ``scenedetect -i VIDEO -o DIR detect-content save-images --num-images 1``
  (PySceneDetect's CLI doing the same job: detection, then a second pass to save the images);
* ``decode``: an OpenCV loop that decodes every frame and does nothing else (the floor).

The main input is a 60 s 1280x720 H.264 clip built from the real samples in ../shared/samples
(looped, scaled to 720p, encoded with libx264 through PyAV); without the samples, from synthetic
shots. The samples themselves are measured too when present.

Usage::

    pip install -e '.[bench]'
    python bench/frame_extract.py [--repeat 3] [--seconds 60]

Prints a table with medians and the ratios, then the time the previews (GIF and contact sheet)
add to extraction on the main clip, and writes both to bench/results/frame_extract.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("VIDPIPE_SAMPLES", ROOT.parent / "shared" / "samples"))
RESULTS = ROOT / "bench" / "results"
SOURCES = ["testvideo.mp4", "goldeneye_10s.mp4", "documentary_cuts.mp4"]
DECODE_ONLY = (
    "import cv2,sys\n"
    "cap=cv2.VideoCapture(sys.argv[1]); n=0\n"
    "while cap.grab():\n"
    "    cap.retrieve(); n+=1\n"
    "print(n)\n"
)


def _fit(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale into ``size`` keeping the aspect, letterboxed (the frame's own pixel aspect)."""
    w, h = size
    scale = min(w / frame.shape[1], h / frame.shape[0])
    nw, nh = int(frame.shape[1] * scale) // 2 * 2, int(frame.shape[0] * scale) // 2 * 2
    small = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((h, w, 3), np.uint8)
    y, x = (h - nh) // 2, (w - nw) // 2
    out[y : y + nh, x : x + nw] = small
    return out


def _frames_from_samples():
    for name in SOURCES:
        cap = cv2.VideoCapture(str(SAMPLES / name))
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield frame
        cap.release()


def _frames_synthetic():
    from vidpipe.synth import scene_frame

    shot = 0
    while True:
        for t in range(300):
            yield scene_frame(shot, t, 1280, 720)
        shot += 1


def build_clip(path: Path, seconds: float, fps: int = 30) -> str:
    """Write a ``seconds`` long 1280x720 H.264 clip; returns where its pictures came from."""
    import av

    have_samples = all((SAMPLES / n).is_file() for n in SOURCES)
    total = int(seconds * fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        stream.codec_context.time_base = Fraction(1, fps)
        n = 0
        while n < total:
            source = _frames_from_samples() if have_samples else _frames_synthetic()
            for frame in source:
                if n >= total:
                    break
                vf = av.VideoFrame.from_ndarray(_fit(frame, (1280, 720)), format="bgr24")
                for packet in stream.encode(vf):
                    container.mux(packet)
                n += 1
        for packet in stream.encode():
            container.mux(packet)
    return "samples (looped, 720p)" if have_samples else "synthetic shots"


# A minimal launcher: Linux carries a process's peak RSS across fork and exec, so a child forked
# from this (large) benchmark process would report this process's memory as its own. The
# launcher imports nothing heavy, forks the tool, and reports the tool's wall time and peak RSS.
LAUNCHER = (
    "import os,subprocess,sys,time\n"
    "t=time.perf_counter()\n"
    "p=subprocess.Popen(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE)\n"
    "_,st,ru=os.wait4(p.pid,0)\n"
    "w=time.perf_counter()-t\n"
    "rc=os.waitstatus_to_exitcode(st)\n"
    "sys.stderr.write(p.stderr.read().decode()[-2000:] if rc else '')\n"
    "print(w, ru.ru_maxrss/1024, rc)\n"
)


def measure(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB) of that process."""
    proc = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *cmd], capture_output=True, text=True, check=True
    )
    wall, peak, rc = proc.stdout.split()
    if rc != "0":
        raise RuntimeError(f"{cmd[0]} failed: {proc.stderr}")
    return float(wall), float(peak)


def tools(video: Path, out: Path) -> dict[str, list[str]]:
    scenedetect = shutil.which("scenedetect") or str(Path(sys.executable).with_name("scenedetect"))
    return {
        "vidpipe": [
            sys.executable,
            "-m",
            "vidpipe.cli",
            "frames",
            str(video),
            "--out",
            str(out / "vidpipe"),
            "--no-progress",
        ],
        "scenedetect": [
            scenedetect,
            "-q",
            "-i",
            str(video),
            "-o",
            str(out / "scenedetect"),
            "detect-content",
            "save-images",
            "--num-images",
            "1",
        ],
        "decode": [sys.executable, "-c", DECODE_ONLY, str(video)],
    }


def preview_overhead(video: Path, repeat: int) -> str:
    """What frame-extract's previews (``preview.gif`` and ``contact_sheet.jpg``, default
    settings) add to its wall time, in this process: median seconds of ``extract_keyframes``
    and of ``keyframe_previews`` on its key frames, and their ratio (one markdown line)."""
    import time

    from functions.frame_extract.extract import ExtractParams, extract_keyframes
    from functions.frame_extract.previews import keyframe_previews

    extract_s, preview_s = [], []
    count = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = extract_keyframes(video, ExtractParams(), platform="bench", shortcode="clip")
        t1 = time.perf_counter()
        keyframe_previews(result.keyframes)
        preview_s.append(time.perf_counter() - t1)
        extract_s.append(t1 - t0)
        count = len(result.keyframes)
    ext, pre = statistics.median(extract_s), statistics.median(preview_s)
    return (
        f"Previews on {video.name} ({count} key frames): extraction {ext:.2f} s, previews "
        f"{pre:.3f} s, **{100 * pre / ext:.1f} %** of extraction (median of {repeat})."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (median reported)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the 720p clip")
    args = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    clip = RESULTS / f"clip_{int(args.seconds)}s_720p.mp4"
    origin = "cached"
    if not clip.exists():
        print(f"building {clip.name} ...", file=sys.stderr)
        origin = build_clip(clip, args.seconds)
    videos = [clip] + [SAMPLES / n for n in SOURCES if (SAMPLES / n).is_file()]

    rows = []
    for video in videos:
        results: dict[str, tuple[float, float]] = {}
        for name in ("vidpipe", "scenedetect", "decode"):
            walls, peaks = [], []
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory() as tmp:
                    wall, peak = measure(tools(video, Path(tmp))[name])
                walls.append(wall)
                peaks.append(peak)
            results[name] = (statistics.median(walls), max(peaks))
            print(
                f"{video.name:28s} {name:12s} {results[name][0]:7.2f} s {results[name][1]:7.0f} MB",
                file=sys.stderr,
            )
        ours, ref, dec = results["vidpipe"], results["scenedetect"], results["decode"]
        rows.append(
            f"| {video.name} | {ours[0]:.2f} | {ref[0]:.2f} | {dec[0]:.2f} | "
            f"**{ours[0] / ref[0]:.2f}x** | **{ours[0] / dec[0]:.2f}x** | "
            f"{ours[1]:.0f} | {ref[1]:.0f} | {dec[1]:.0f} |"
        )
    table = "\n".join(
        [
            f"Clip: {clip.name} ({origin}); {args.repeat} runs each, median wall time, "
            f"max peak RSS; {os.cpu_count()} cores.",
            "",
            "| video | vidpipe s | scenedetect CLI s | decode only s | vidpipe / scenedetect "
            "| vidpipe / decode | vidpipe MB | scenedetect MB | decode MB |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    table += "\n\n" + preview_overhead(clip, args.repeat)
    (RESULTS / "frame_extract.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
