"""Benchmark: the trailer stage's renderer vs the FFmpeg CLI cutting the same EDL.

Input: a 60 s 1280x720 30 fps H.264 clip with AAC sound, its pictures made the way
``bench/frame_extract.py`` makes its clip (the real samples looped, scaled to 720p; synthetic
shots without them), plus a 440/660 Hz stereo tone so both sides also cut and encode sound.
frame-extract finds its scenes and the rekognition stage's local emulation answers its frames;
:func:`functions.trailer.select.build_edl` then picks 30 s trailers (``action_enthusiast``, and
``thriller_buff`` for the two-profile row; on the emulation's canned labels both pick the
same shots).

Each renderer runs in its own process, timed with its peak RSS (``ru_maxrss`` from ``wait4``,
through the same launcher as ``bench/frame_extract.py``):

* ``vidpipe``: :func:`functions.trailer.render.render` on the EDL (PyAV: one decode, libx264
  ``veryfast`` CRF 23 + AAC 128 kbit/s, the stage's defaults; faded sound at each cut);
* ``ffmpeg``: the FFmpeg CLI (the binary in the ``imageio-ffmpeg`` wheel) with the same EDL as
  one ``trim``/``atrim`` + ``concat`` filter graph, the same encoders and settings.

Rows: one profile; two profiles (vidpipe in one run sharing the decode, FFmpeg run once per
EDL). The time per second of trailer and the vidpipe/FFmpeg ratios are printed and written to
``bench/results/trailer.md``.

Usage::

    pip install -e '.[bench]'
    python bench/trailer.py [--repeat 3] [--seconds 60] [--duration 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from frame_extract import (  # noqa: E402  (bench/ is not a package)
    RESULTS,
    SAMPLES,
    SOURCES,
    _fit,
    _frames_from_samples,
    _frames_synthetic,
    measure,
)

RENDER = (
    "import json,sys\n"
    "from pathlib import Path\n"
    "from functions.trailer.render import RenderJob, render\n"
    "src, out, *edls = sys.argv[1:]\n"
    "jobs = [RenderJob.from_edl(json.loads(Path(e).read_text()), Path(out) / (Path(e).stem + "
    "'.mp4'), storyboard_width=320) for e in edls]\n"
    "for r in render(Path(src), jobs):\n"
    "    print(r.name, r.frames)\n"
)


def build_clip(path: Path, seconds: float, fps: int = 30) -> str:
    """A ``seconds`` long 1280x720 H.264 clip with a stereo AAC tone; returns the pictures'
    origin."""
    import av

    have_samples = all((SAMPLES / n).is_file() for n in SOURCES)
    total = int(seconds * fps)
    rate = 48_000
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 1280, 720, "yuv420p"
        video.options = {"crf": "20", "preset": "veryfast"}
        video.codec_context.time_base = Fraction(1, fps)
        audio = container.add_stream("aac", rate=rate, layout="stereo")
        n = 0
        samples = 0
        while n < total:
            source = _frames_from_samples() if have_samples else _frames_synthetic()
            for frame in source:
                if n >= total:
                    break
                vf = av.VideoFrame.from_ndarray(_fit(frame, (1280, 720)), format="bgr24")
                for packet in video.encode(vf):
                    container.mux(packet)
                n += 1
                want = round(n / fps * rate)
                t = (np.arange(samples, want) / rate).astype(np.float32)
                tone = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)]) * 0.2
                af = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(tone, dtype=np.float32), format="fltp", layout="stereo"
                )
                af.sample_rate, af.pts, af.time_base = rate, samples, Fraction(1, rate)
                for packet in audio.encode(af):
                    container.mux(packet)
                samples = want
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    return "samples (looped, 720p)" if have_samples else "synthetic shots"


def edls_for(clip: Path, profiles: list[str], duration: float) -> list[dict[str, Any]]:
    """frame-extract's scenes, the emulated rekognition's answers, one EDL per profile."""
    import boto3
    from moto import mock_aws

    from functions.frame_extract.extract import ExtractParams, extract_keyframes
    from functions.rekognition.analysis import analyze_video
    from functions.trailer.profiles import builtin
    from functions.trailer.render import output_size, probe
    from functions.trailer.select import SelectParams, build_edl
    from shared.manifest import FrameManifest
    from shared.rekognition import Rekognition

    manifest = FrameManifest.parse(
        extract_keyframes(clip, ExtractParams(), platform="bench", shortcode="clip").manifest
    )
    with mock_aws():
        client = boto3.client(
            "rekognition", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        analysis = analyze_video(
            clip,
            Rekognition(client, emulated=True),
            platform="bench",
            shortcode="clip",
            manifest=manifest,
            max_frames=30,
            min_interval_s=2.0,
            long_scene_s=10.0,
            windows=5,
            always_faces=False,
            concurrency=4,
            price_per_image_usd=0.001,
        )
    facts = probe(clip)
    w, h = output_size(facts.display_width, facts.display_height, 720)
    output = {"file": "trailer.mp4", "format": "mp4", "width": w, "height": h}
    params = SelectParams(max_duration_s=duration)
    return [build_edl(manifest, analysis, builtin(p), params, output=output) for p in profiles]


def ffmpeg_cmd(ffmpeg: str, clip: Path, edl: dict[str, Any], out: Path) -> list[str]:
    """The FFmpeg CLI doing ``edl``: trim/atrim per shot, concat, libx264 + AAC."""
    fps = float(edl["video"]["fps"])
    w, h = edl["output"]["width"], edl["output"]["height"]
    parts, labels = [], []
    for i, s in enumerate(edl["shots"]):
        a, b = s["source"]["in_frame"], s["source"]["out_frame"]
        parts.append(
            f"[0:v]trim=start_frame={a}:end_frame={b},setpts=PTS-STARTPTS,"
            f"scale={w}:{h},setsar=1[v{i}]"
        )
        parts.append(f"[0:a]atrim=start={a / fps:.6f}:end={b / fps:.6f},asetpts=PTS-STARTPTS[a{i}]")
        labels.append(f"[v{i}][a{i}]")
    graph = ";".join(parts) + ";" + "".join(labels) + f"concat=n={len(labels)}:v=1:a=1[v][a]"
    return [
        ffmpeg,
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(clip),
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-map",
        "[a]",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-movflags",
        "+faststart",
        str(out),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per renderer (median)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the 720p clip")
    parser.add_argument("--duration", type=float, default=30.0, help="trailer length, seconds")
    args = parser.parse_args()

    import av
    import imageio_ffmpeg

    RESULTS.mkdir(parents=True, exist_ok=True)
    clip = RESULTS / f"clip_{int(args.seconds)}s_720p_sound.mp4"
    origin = "the cached clip"
    if not clip.exists():
        origin = build_clip(clip, args.seconds)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    edls = edls_for(clip, ["action_enthusiast", "thriller_buff"], args.duration)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-trailer-") as tmp:
        work = Path(tmp)
        paths = []
        for edl in edls:
            p = work / f"{edl['profile']['id']}.json"
            p.write_text(json.dumps(edl))
            paths.append(p)
        for label, chosen in (("1 profile", [0]), ("2 profiles", [0, 1])):
            seconds = sum(edls[i]["duration_s"] for i in chosen)
            ours, theirs = [], []
            for _ in range(args.repeat):
                ours.append(
                    measure(
                        [sys.executable, "-c", RENDER, str(clip), str(work)]
                        + [str(paths[i]) for i in chosen]
                    )
                )
                runs = [
                    measure(ffmpeg_cmd(ffmpeg, clip, edls[i], work / f"ffmpeg_{i}.mp4"))
                    for i in chosen
                ]
                # FFmpeg renders one EDL per run: the times add, the peak is the largest
                theirs.append((sum(r[0] for r in runs), max(r[1] for r in runs)))
            o_w = statistics.median(w for w, _ in ours)
            o_m = statistics.median(m for _, m in ours)
            t_w = statistics.median(w for w, _ in theirs)
            t_m = statistics.median(m for _, m in theirs)
            rows.append((label, seconds, o_w, o_m, t_w, t_m))
    ffmpeg_version = imageio_ffmpeg.get_ffmpeg_version()
    lines = [
        f"# Trailer rendering: {clip.name} ({args.seconds:g} s, 1280x720, 30 fps, "
        f"pictures: {origin}), {args.duration:g} s trailers, median of {args.repeat}",
        "",
        f"vidpipe: PyAV {av.__version__}; FFmpeg CLI: imageio-ffmpeg "
        f"{imageio_ffmpeg.__version__} (ffmpeg {ffmpeg_version}); both libx264 veryfast CRF 23, "
        "AAC 128 kbit/s.",
        "",
        "| run | trailer s | vidpipe s | vidpipe s per trailer s | vidpipe peak MB "
        "| ffmpeg s | ffmpeg s per trailer s | ffmpeg peak MB | time ratio vidpipe/ffmpeg "
        "| memory ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, secs, o_w, o_m, t_w, t_m in rows:
        lines.append(
            f"| {label} | {secs:.1f} | {o_w:.2f} | {o_w / secs:.3f} | {o_m:.0f} | {t_w:.2f} | "
            f"{t_w / secs:.3f} | {t_m:.0f} | **{o_w / t_w:.2f}** | {o_m / t_m:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    (RESULTS / "trailer.md").write_text(text)


if __name__ == "__main__":
    main()
