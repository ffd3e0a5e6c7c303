"""Benchmark: two candidate speed-ups of frame extraction, measured before adopting them.

1. **Detection on frames downscaled in the decoder.** Today each frame is decoded to a full-size
   BGR image (OpenCV's FFmpeg backend) and PySceneDetect's ``SceneManager`` then shrinks it with
   ``cv2.resize`` (``INTER_LINEAR``) to about 256 pixels wide for the detector. The alternative
   decodes with PyAV (FFmpeg threads ``AUTO``) and lets one ``sws_scale`` produce the small BGR
   frame directly (``VideoFrame.to_ndarray(width=, height=, interpolation=)``). For each
   ``sws_scale`` interpolation this prints whether ``ContentDetector`` at our defaults finds the
   same cuts as ``extract_keyframes`` on each video (the cut frames must be identical), and the
   decoding thread's time both ways on the main clip (median of alternating rounds): the
   decoding thread is the bottleneck of ``extract_keyframes`` (its main thread waits on it).
2. **Middle-frame candidates held as JPEG** instead of BGR arrays. A candidate could be encoded
   only once it is older than the detector's look-back window and still retained; this counts
   those encodes for the main clip's real cuts and times one full-size encode, i.e. what the
   memory saving would cost per video.

Usage::

    pip install -e '.[bench]'
    python bench/frame_extract.py --quick      # builds bench/results/clip_60s_720p.mp4
    python bench/frame_extract_options.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
from scenedetect import ContentDetector, FrameTimecode
from scenedetect.scene_manager import compute_downscale_factor

from functions.frame_extract.extract import (
    ExtractParams,
    MiddleFrameSelector,
    cuts_of,
    extract_keyframes,
)
from shared.video import encode_jpeg, single_threaded_opencv

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("VIDPIPE_SAMPLES", ROOT.parent / "shared" / "samples"))
RESULTS = ROOT / "bench" / "results"
CLIP = RESULTS / "clip_60s_720p.mp4"
VIDEOS = ["testvideo.mp4", "goldeneye_10s.mp4", "documentary_cuts.mp4"]
INTERPOLATIONS = ["POINT", "FAST_BILINEAR", "BILINEAR", "AREA", "BICUBIC"]


def _small_size(width: int, height: int) -> tuple[int, int]:
    """The detector's frame size, as ``SceneManager`` computes it (auto downscale)."""
    f = compute_downscale_factor(width)
    if f <= 1:
        return width, height
    return max(1, round(width / f)), max(1, round(height / f))


def cuts_pyav(path: Path, interpolation: str) -> tuple[list[int], bool]:
    """Cuts of ``ContentDetector`` (our defaults) on PyAV frames downscaled by ``sws_scale``;
    also whether ``extract_keyframes`` would have fallen back (fewer than ``min_frames``
    scenes), in which case the manifest's scene starts are not cuts."""
    params = ExtractParams()
    detector = ContentDetector(
        threshold=params.threshold, min_scene_len=params.min_scene_len_frames
    )
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = stream.average_rate
        size = _small_size(stream.codec_context.width, stream.codec_context.height)
        cuts: list[int] = []
        n = 0
        for frame in container.decode(stream):
            small = frame.to_ndarray(
                format="bgr24", width=size[0], height=size[1], interpolation=interpolation
            )
            cuts += [c.frame_num for c in detector.process_frame(FrameTimecode(n, fps), small)]
            n += 1
        cuts += [c.frame_num for c in detector.post_process(FrameTimecode(n, fps))]
    return cuts, len(cuts) + 1 < params.min_frames


def same_cuts(videos: list[Path]) -> str:
    """One markdown table: per video and interpolation, identical cuts or the difference."""
    ours = {}
    for v in videos:
        result = extract_keyframes(v, ExtractParams(), platform="bench", shortcode="clip")
        ours[v] = (cuts_of(result.manifest), result.manifest["fallback"])
    rows = []
    for interp in INTERPOLATIONS:
        cells = []
        for v in videos:
            cuts, fallback = cuts_pyav(v, interp)
            want, want_fallback = ours[v]
            if fallback and want_fallback:
                cells.append("same (fallback)")
            elif cuts == want and not want_fallback:
                cells.append("same")
            else:
                cells.append(f"differs: {cuts} vs {want}")
        rows.append(f"| {interp} | " + " | ".join(cells) + " |")
    return "\n".join(
        [
            "| sws_scale interpolation | " + " | ".join(v.name for v in videos) + " |",
            "|---" * (len(videos) + 1) + "|",
            *rows,
        ]
    )


def decode_thread(video: Path, repeat: int) -> str:
    """The decoding thread's work both ways on ``video``, alternating, medians (one line)."""
    single_threaded_opencv()

    def opencv() -> None:
        cap = cv2.VideoCapture(str(video))
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            size = _small_size(frame.shape[1], frame.shape[0])
            cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
        cap.release()

    def pyav() -> None:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            size = _small_size(stream.codec_context.width, stream.codec_context.height)
            for frame in container.decode(stream):
                frame.to_ndarray(
                    format="bgr24", width=size[0], height=size[1], interpolation="POINT"
                )

    times: dict[str, list[float]] = {"opencv": [], "pyav": []}
    for r in range(repeat):
        order = [("opencv", opencv), ("pyav", pyav)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    ratio = statistics.median(p / o for p, o in zip(times["pyav"], times["opencv"], strict=True))
    return (
        f"Decoding thread on {video.name}: OpenCV full-size BGR + cv2.resize "
        f"{statistics.median(times['opencv']):.2f} s, PyAV with the downscale in sws_scale "
        f"{statistics.median(times['pyav']):.2f} s, ratio **{ratio:.2f}x** (median of {repeat} "
        "alternating rounds)."
    )


def jpeg_candidates(video: Path) -> str:
    """What holding candidates as JPEG would cost on ``video`` (one line)."""
    params = ExtractParams()
    result = extract_keyframes(video, params, platform="bench", shortcode="clip")
    cuts = set(cuts_of(result.manifest))
    width, height = result.manifest["video"]["width"], result.manifest["video"]["height"]
    lookback = params.make_detector().event_buffer_length
    frame_bytes = width * height * 3
    selector = MiddleFrameSelector(
        capacity=params.buffer_bytes // frame_bytes - lookback, lookback=lookback
    )
    encodes, held = 0, 0
    for i in range(result.decoded_frames):
        if i in cuts:
            selector.close(i)
        selector.push(i, None)  # type: ignore[arg-type]  # only the indices matter here
        held = max(held, selector.held)
        if selector.held and (i - lookback) in selector._pool:  # a probe of the pool
            encodes += 1
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (height, width, 3), np.uint8)
    img = np.asarray(cv2.GaussianBlur(img, (0, 0), 3), np.uint8)  # photo-like, not noise
    t0 = time.perf_counter()
    for _ in range(20):
        encode_jpeg(img, quality=params.jpeg_quality)
    per = (time.perf_counter() - t0) / 20
    return (
        f"JPEG candidates on {video.name}: {encodes} of {result.decoded_frames} frames would be "
        f"encoded (still retained after the {lookback}-frame look-back), {per * 1000:.1f} ms each "
        f"at {width}x{height}: about {encodes * per:.1f} s added to save at most "
        f"{held * frame_bytes / 2**20:.0f} MB of BGR candidates ({held} held at most)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds")
    args = parser.parse_args()
    if not CLIP.exists():
        sys.exit(f"{CLIP} is missing: run bench/frame_extract.py --quick first")
    videos = [CLIP] + [SAMPLES / n for n in VIDEOS if (SAMPLES / n).is_file()]
    parts = [
        f"{os.cpu_count()} cores.",
        "",
        "Cuts with the downscale in the decoder (`extract_keyframes` today = the reference):",
        "",
        same_cuts(videos),
        "",
        decode_thread(CLIP, args.repeat),
        "",
        jpeg_candidates(CLIP),
    ]
    text = "\n".join(parts)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "frame_extract_options.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
