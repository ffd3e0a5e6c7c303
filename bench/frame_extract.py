"""Benchmark: `vidpipe frames` vs the `scenedetect` CLI vs decoding alone, and the same job in a
warm process, on the same videos.

Whole process: each tool runs as its own process, so wall time, CPU time (user + system) and
peak memory (``ru_maxrss`` from ``wait4``) are measured the same way for all three:

* ``vidpipe``: ``vidpipe frames VIDEO --out DIR`` (detection + one key frame per scene, one pass,
  plus the previews the CLI writes by default);
* ``scenedetect``: ``scenedetect -i VIDEO -o DIR detect-content save-images --num-images 1``
  (PySceneDetect's CLI doing the same job: detection, then a second pass to save the images);
* ``decode``: PyAV decoding every frame with FFmpeg's threads (``thread_type="AUTO"``) and
  no conversion at all (the floor, like ``ffmpeg -i VIDEO -f null -``).

In-process warm: one interpreter imports both, runs each once on the first video, then
alternates ``extract_keyframes`` and PySceneDetect's ``detect()`` + ``save_images(num_images=1)``
(what a warm Lambda container pays per video).

The three tools (and the two warm functions) run in alternating order in each round, and each
ratio is the median of the per-round ratios, so a noisy shared machine affects both sides alike.

Videos: a 60 s 1280x720 H.264 clip built from the real samples in ../shared/samples (looped,
scaled to 720p, encoded with libx264 through PyAV; without the samples, from synthetic shots),
the samples themselves, and synthetic 10 s 1080p and 4K clips (a cut every 150 frames).

Usage::

    pip install -e '.[bench]'
    python bench/frame_extract.py [--repeat 5] [--seconds 60] [--quick]

Prints both tables with each target's status, a profile of the main clip (where the time goes),
and the time the previews add to extraction, and writes them to bench/results/frame_extract.md.
``--quick``: 2 rounds, no preview timing.
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
    "import av,sys\n"
    "c=av.open(sys.argv[1]); s=c.streams.video[0]; s.thread_type='AUTO'; n=0\n"
    "for f in c.decode(s):\n"
    "    n+=1\n"
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


def build_synthetic(path: Path, width: int, height: int, seconds: float, fps: int = 30) -> None:
    """Write a ``seconds`` long ``width`` x ``height`` H.264 clip of synthetic shots (a cut every
    150 frames, ``vidpipe.synth.scene_frame``)."""
    import av

    from vidpipe.synth import scene_frame

    total = int(seconds * fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "23", "preset": "ultrafast"}
        stream.codec_context.time_base = Fraction(1, fps)
        for n in range(total):
            img = scene_frame(n // 150, n % 150, width, height)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


# A minimal launcher: Linux carries a process's peak RSS across fork and exec, so a child forked
# from this (large) benchmark process would report this process's memory as its own. The
# launcher imports nothing heavy, forks the tool, and reports the tool's wall time, peak RSS and
# CPU time (user + system, all its threads).
LAUNCHER = (
    "import os,subprocess,sys,time\n"
    "t=time.perf_counter()\n"
    "p=subprocess.Popen(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE)\n"
    "_,st,ru=os.wait4(p.pid,0)\n"
    "w=time.perf_counter()-t\n"
    "rc=os.waitstatus_to_exitcode(st)\n"
    "sys.stderr.write(p.stderr.read().decode()[-2000:] if rc else '')\n"
    "print(w, ru.ru_maxrss/1024, ru.ru_utime+ru.ru_stime, rc)\n"
)


def measure(cmd: list[str]) -> tuple[float, float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB, CPU seconds) of that process."""
    proc = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *cmd], capture_output=True, text=True, check=True
    )
    wall, peak, cpu, rc = proc.stdout.split()
    if rc != "0":
        raise RuntimeError(f"{cmd[0]} failed: {proc.stderr}")
    return float(wall), float(peak), float(cpu)


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


def _med(xs: list[float]) -> float:
    return statistics.median(xs)


def _status(value: float, target: float) -> str:
    return "met" if value <= target else f"missed by {value / target - 1:.0%}"


def whole_process(videos: list[Path], repeat: int, main_clip: Path) -> str:
    """Each tool as its own process, the three run back to back in a rotating order per round;
    ratios are the median of the per-round ratios (one markdown table)."""
    rows = []
    names = ("vidpipe", "scenedetect", "decode")
    for video in videos:
        runs: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
        for r in range(repeat):
            order = names[r % 3 :] + names[: r % 3]
            for name in order:
                with tempfile.TemporaryDirectory() as tmp:
                    runs[name].append(measure(tools(video, Path(tmp))[name]))
        ours, ref, dec = runs["vidpipe"], runs["scenedetect"], runs["decode"]
        vs_ref = _med([o[0] / s[0] for o, s in zip(ours, ref, strict=True)])
        vs_dec = _med([o[0] / d[0] for o, d in zip(ours, dec, strict=True)])
        peak = {n: max(x[1] for x in runs[n]) for n in names}
        cpu = {n: _med([x[2] for x in runs[n]]) for n in names}
        wall = {n: _med([x[0] for x in runs[n]]) for n in names}
        dec_status = _status(vs_dec, 1.2) if video == main_clip else "-"
        extra = peak["vidpipe"] - peak["scenedetect"]
        mem_status = f"{extra:+.0f} MB" + (
            (": met" if extra <= 64 else f": missed by {extra - 64:.0f} MB")
            if video == main_clip
            else ""
        )
        rows.append(
            f"| {video.name} | {wall['vidpipe']:.2f} | {wall['scenedetect']:.2f} | "
            f"{wall['decode']:.2f} | **{vs_ref:.2f}x** ({_status(vs_ref, 0.6)}) | "
            f"**{vs_dec:.2f}x** ({dec_status}) | {cpu['vidpipe']:.2f} | {cpu['scenedetect']:.2f} "
            f"| {peak['vidpipe']:.0f} | {peak['scenedetect']:.0f} ({mem_status}) |"
        )
        print(rows[-1], file=sys.stderr)
    return "\n".join(
        [
            "| video | vidpipe s | scenedetect CLI s | decode only s | vidpipe / scenedetect "
            "(target 0.6) | vidpipe / decode (target 1.2) | vidpipe CPU s | scenedetect CPU s "
            "| vidpipe MB | scenedetect MB (vidpipe - scenedetect, target <= +64 MB) |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )


# The in-process benchmark runs in a fresh interpreter so that its peak RSS is its own. It
# imports both libraries, warms up on the first video, then alternates our extraction and
# PySceneDetect's API on each video; it prints one JSON line per video.
WARM = r"""
import json, statistics, sys, tempfile, time
from pathlib import Path
from scenedetect import ContentDetector, detect, open_video, save_images
from functions.frame_extract.extract import ExtractParams, extract_keyframes

PARAMS = ExtractParams()

def ours(video):
    extract_keyframes(video, PARAMS, platform="bench", shortcode="clip")

def theirs(video):
    # the same job and the same detector settings as ours
    detector = ContentDetector(
        threshold=PARAMS.threshold, min_scene_len=PARAMS.min_scene_len_frames
    )
    with tempfile.TemporaryDirectory() as tmp:
        scenes = detect(str(video), detector)
        save_images(scenes, open_video(str(video)), num_images=1, output_dir=tmp)

def reset_peak():
    # Linux >= 4.0: writing 5 to clear_refs resets VmHWM (peak RSS) to the current RSS
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass

def peak_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0

repeat = int(sys.argv[1])
videos = sys.argv[2:]
ours(videos[0]); theirs(videos[0])
for video in videos:
    t = {"ours": [], "theirs": []}
    c = {"ours": [], "theirs": []}
    m = {"ours": [], "theirs": []}
    for r in range(repeat):
        for name in (("ours", "theirs") if r % 2 == 0 else ("theirs", "ours")):
            fn = ours if name == "ours" else theirs
            reset_peak()
            w0, c0 = time.perf_counter(), time.process_time()
            fn(video)
            t[name].append(time.perf_counter() - w0)
            c[name].append(time.process_time() - c0)
            m[name].append(peak_mb())
    ratio = statistics.median(o / s for o, s in zip(t["ours"], t["theirs"]))
    med = statistics.median
    print(json.dumps({"video": Path(video).name, "ours": med(t["ours"]),
        "theirs": med(t["theirs"]), "ratio": ratio,
        "ours_cpu": med(c["ours"]), "theirs_cpu": med(c["theirs"]),
        "ours_mb": max(m["ours"]), "theirs_mb": max(m["theirs"])}), flush=True)
"""


def warm(videos: list[Path], repeat: int) -> str:
    """``extract_keyframes`` vs PySceneDetect's ``detect()`` + ``save_images(num_images=1)`` in
    one warm process, alternating; the median of the per-pair ratios (one markdown table)."""
    import json

    proc = subprocess.run(
        [sys.executable, "-c", WARM, str(repeat), *map(str, videos)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    rows = []
    for line in proc.stdout.splitlines():
        d = json.loads(line)
        rows.append(
            f"| {d['video']} | {d['ours']:.2f} | {d['theirs']:.2f} | **{d['ratio']:.2f}x** "
            f"({_status(d['ratio'], 0.6)}) | {d['ours_cpu']:.2f} | {d['theirs_cpu']:.2f} "
            f"| {d['ours_mb']:.0f} | {d['theirs_mb']:.0f} |"
        )
    return "\n".join(
        [
            "| video | extract_keyframes s | detect + save_images s | ratio (target 0.6) "
            "| ours CPU s | theirs CPU s | ours peak MB | theirs peak MB |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )


def profile(video: Path, rounds: int = 3) -> str:
    """Where the time of ``extract_keyframes`` goes on ``video``, in this process: the same
    decoding with nothing else, then with PySceneDetect's downscale and detector, then the
    whole extraction (medians of ``rounds`` alternating rounds); and the main thread's top
    functions under cProfile (markdown)."""
    import cProfile
    import io
    import pstats
    import time

    from scenedetect import ContentDetector, SceneManager
    from scenedetect.backends.opencv import VideoStreamCv2

    from functions.frame_extract.extract import ExtractParams, extract_keyframes
    from shared.video import single_threaded_opencv

    single_threaded_opencv()

    def decode() -> None:
        stream = VideoStreamCv2(str(video))
        while stream.read() is not False:
            pass

    def detect() -> None:
        manager = SceneManager()
        manager.add_detector(ContentDetector())
        manager.detect_scenes(video=VideoStreamCv2(str(video)))

    def full() -> None:
        extract_keyframes(video, ExtractParams(), platform="bench", shortcode="clip")

    steps: dict[str, list[float]] = {"decode": [], "detect": [], "full": []}
    for r in range(rounds):
        order = list(steps)[r % 3 :] + list(steps)[: r % 3]
        for name in order:
            t0 = time.perf_counter()
            {"decode": decode, "detect": detect, "full": full}[name]()
            steps[name].append(time.perf_counter() - t0)
    decode_s, detect_s, full_s = (_med(steps[n]) for n in ("decode", "detect", "full"))
    prof = cProfile.Profile()
    prof.enable()
    full()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(15)
    top = "\n".join(line for line in buf.getvalue().splitlines() if line.strip() and "/" in line)
    return "\n".join(
        [
            f"Profile of extract_keyframes on {video.name} (median of {rounds} alternating rounds, "
            "one process):",
            "",
            "| step | s | share |",
            "|---|---|---|",
            f"| decode to BGR (OpenCV, the backend we use) | {decode_s:.2f} | "
            f"{decode_s / full_s:.0%} |",
            f"| + downscale and ContentDetector (SceneManager) | {detect_s - decode_s:.2f} | "
            f"{(detect_s - decode_s) / full_s:.0%} |",
            f"| + key-frame selection, JPEG, bookkeeping | {full_s - detect_s:.2f} | "
            f"{(full_s - detect_s) / full_s:.0%} |",
            f"| extract_keyframes total | {full_s:.2f} | 100% |",
            "",
            "Main thread, top 15 functions by cumulative time (cProfile; decoding runs on "
            "SceneManager's thread and shows as waits):",
            "",
            "```",
            top,
            "```",
        ]
    )


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
    parser.add_argument("--repeat", type=int, default=5, help="alternating rounds per video")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the 720p clip")
    parser.add_argument("--quick", action="store_true", help="2 rounds, no preview timing")
    parser.add_argument("--profile-only", action="store_true", help="only the profile")
    args = parser.parse_args()
    repeat = 2 if args.quick else args.repeat

    RESULTS.mkdir(parents=True, exist_ok=True)
    clip = RESULTS / f"clip_{int(args.seconds)}s_720p.mp4"
    origin = "cached"
    if not clip.exists():
        print(f"building {clip.name} ...", file=sys.stderr)
        origin = build_clip(clip, args.seconds)
    synth_s = 10.0
    synthetic = []
    for w, h, label in ((1920, 1080, "1080p"), (3840, 2160, "4k")):
        path = RESULTS / f"synthetic_{int(synth_s)}s_{label}.mp4"
        if not path.exists():
            print(f"building {path.name} ...", file=sys.stderr)
            build_synthetic(path, w, h, synth_s)
        synthetic.append(path)
    videos = [clip] + [SAMPLES / n for n in SOURCES if (SAMPLES / n).is_file()] + synthetic

    if args.profile_only:
        print(profile(clip))
        return
    whole = whole_process(videos, repeat, clip)
    inproc = warm(videos, repeat)
    parts = [
        f"Clip: {clip.name} ({origin}); synthetic clips {synth_s:g} s; {repeat} alternating "
        f"rounds per video, median wall and CPU time, median of per-round ratios, max peak RSS; "
        f"{os.cpu_count()} cores.",
        "",
        "Whole process (`vidpipe frames` vs `scenedetect ... detect-content save-images "
        "--num-images 1` vs PyAV decoding alone, threads AUTO):",
        "",
        whole,
        "",
        "In-process, warm (one interpreter, after a warm-up run of each):",
        "",
        inproc,
    ]
    parts += ["", profile(clip)]
    if not args.quick:
        parts += ["", preview_overhead(clip, repeat)]
    table = "\n".join(parts)
    (RESULTS / "frame_extract.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
