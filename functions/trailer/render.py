"""Render EDLs to trailers with PyAV (FFmpeg's libraries inside the ``av`` wheel; no binary).

One pass over the source serves every profile of a run: the video is decoded once, frame by
frame in presentation order (0-based indices, as frame-extract counts them), and each decoded
frame is handed to every output whose shots contain it, so the trims are frame-accurate. The
sound is read first, in one pass over the audio stream, keeping only the samples the shots
need (resampled to 48 kHz stereo float).

Joins (docs/stages/trailer.md):

* ``cut``: the next shot's first frame follows the last one's; the sound fades out and in over
  ``audio_fade_ms`` on either side of the join (no click);
* ``crossfade``: the last ``X`` frames of a shot and the first ``X`` of the next are mixed
  linearly (``X`` from the EDL's ``transition_frames``), and so is their sound.

Outputs: ``mp4`` and ``mov`` are H.264 (libx264, ``yuv420p``) + AAC; ``webm`` is VP9 (libvpx) +
Opus. Frames are scaled to the source's display size (non-square pixels made square), capped
at ``max_height_px`` high, both sides even. A source without sound gives a trailer without
sound.

Run ``python -m functions.trailer.render`` to check that the image's PyAV has the encoders
(the Dockerfile does).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import ConfigurationError, CorruptVideoError

#: format -> (container format, video encoder, audio encoder, file extension, content type).
FORMATS: dict[str, tuple[str, str, str, str, str]] = {
    "mp4": ("mp4", "libx264", "aac", "mp4", "video/mp4"),
    "mov": ("mov", "libx264", "aac", "mov", "video/quicktime"),
    "webm": ("webm", "libvpx-vp9", "libopus", "webm", "video/webm"),
}
#: The public codec names recorded in the EDL.
CODEC_NAMES = {"libx264": "h264", "aac": "aac", "libvpx-vp9": "vp9", "libopus": "opus"}
AUDIO_RATE = 48_000
#: Frames decoded between two deadline checks.
CHECK_EVERY = 12


def check_codecs() -> list[str]:
    """The encoders every output format needs, checked against the installed PyAV.

    Raises:
        ConfigurationError: PyAV is missing or lacks an encoder (the image is broken).
    """
    try:
        import av
    except ImportError as exc:  # pragma: no cover - av is a runtime dependency
        raise ConfigurationError("PyAV (av) is not installed: the trailer stage needs it") from exc
    wanted = sorted({c for f in FORMATS.values() for c in f[1:3]})
    missing = [c for c in wanted if c not in av.codecs_available]
    if missing:
        raise ConfigurationError(f"PyAV {av.__version__} lacks the encoders {missing}")
    return wanted


@dataclass(frozen=True)
class SourceFacts:
    """The source's stream facts: frame rate, stored size, display size and sound."""

    fps: Fraction
    width: int
    height: int
    display_width: int
    display_height: int
    has_audio: bool


def probe(path: Path) -> SourceFacts:
    """Frame rate, sizes and whether there is an audio stream.

    Raises:
        CorruptVideoError: not a readable video.
    """
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise CorruptVideoError(f"{path.name}: no video stream")
            v = c.streams.video[0]
            rate = v.average_rate or v.guessed_rate or v.base_rate
            if not rate:
                raise CorruptVideoError(f"{path.name}: no frame rate")
            w, h = v.codec_context.width, v.codec_context.height
            sar = v.sample_aspect_ratio or v.codec_context.sample_aspect_ratio or Fraction(1)
            return SourceFacts(
                fps=Fraction(rate),
                width=w,
                height=h,
                display_width=max(2, round(w * float(sar))),
                display_height=h,
                has_audio=bool(c.streams.audio),
            )
    except av.error.FFmpegError as exc:
        raise CorruptVideoError(f"{path.name}: not a readable video: {exc}") from exc


def output_size(display_width: int, display_height: int, max_height_px: int) -> tuple[int, int]:
    """``(width, height)``: the display size capped at ``max_height_px`` high (aspect kept,
    never upscaled), both even (what ``yuv420p`` needs)."""
    h = min(display_height, max_height_px)
    w = display_width * h / display_height

    def even(x: float) -> int:
        return max(2, 2 * round(x / 2))

    return even(w), even(h)


@dataclass
class RenderJob:
    """One trailer to write: its EDL's shots and transition, where, and how.

    Attributes:
        name: a label (the profile id).
        shots: source ``(in_frame, out_frame)`` pairs, in source order, end exclusive.
        transition_frames: crossfade frames per join (0: hard cuts).
        path: the output file.
        output_format: a key of :data:`FORMATS`.
        storyboard_width: width of the middle frame kept per shot for the storyboard (pixels);
            0 keeps none.
    """

    name: str
    shots: list[tuple[int, int]]
    transition_frames: int
    path: Path
    output_format: str = "mp4"
    storyboard_width: int = 320

    @classmethod
    def from_edl(cls, edl: dict[str, Any], path: Path, *, storyboard_width: int) -> RenderJob:
        """The job of an EDL (:func:`functions.trailer.select.build_edl`)."""
        return cls(
            name=str(edl["profile"]["id"]),
            shots=[(s["source"]["in_frame"], s["source"]["out_frame"]) for s in edl["shots"]],
            transition_frames=int(edl["parameters"]["transition_frames"]),
            path=path,
            output_format=str(edl["output"]["format"]),
            storyboard_width=storyboard_width,
        )

    @property
    def total_frames(self) -> int:
        """Output frames: the shots' frames less the crossfades."""
        return sum(b - a for a, b in self.shots) - self.transition_frames * max(
            0, len(self.shots) - 1
        )

    def output_starts(self) -> list[int]:
        """Each shot's first output frame."""
        starts, cursor = [], 0
        for a, b in self.shots:
            starts.append(cursor)
            cursor += (b - a) - self.transition_frames
        return starts


@dataclass
class RenderResult:
    """What one job wrote: frames and seconds of video, whether it has sound, the storyboard
    pictures (one ``(H, W, 3)`` RGB array per shot) and the codecs."""

    name: str
    path: Path
    frames: int
    duration_s: float
    width: int
    height: int
    audio: bool
    video_codec: str
    audio_codec: str | None
    stills: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class EncodeParams:
    """Encoder settings: ``crf`` (x264 0-51, VP9 0-63), x264 ``preset``, audio kbit/s, the
    height cap (pixels) and the sound fade at hard cuts (milliseconds)."""

    crf: int = 23
    preset: str = "veryfast"
    audio_bitrate_kbps: int = 128
    max_height_px: int = 720
    audio_fade_ms: int = 30


def _read_audio(
    path: Path, ranges: list[tuple[int, int]], video_start_s: float
) -> dict[tuple[int, int], np.ndarray]:
    """The samples ``[a, b)`` (48 kHz, from the video's first frame) of each range, as
    ``(2, b - a)`` float32; silence where the source has none."""
    import av

    out = {r: np.zeros((2, r[1] - r[0]), dtype=np.float32) for r in set(ranges)}
    if not out:
        return out
    last = max(b for _, b in out)
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        cursor: int | None = None

        def take(chunk: np.ndarray) -> None:
            nonlocal cursor
            assert cursor is not None
            c0, c1 = cursor, cursor + chunk.shape[1]
            for (a, b), buf in out.items():
                lo, hi = max(a, c0), min(b, c1)
                if lo < hi:
                    buf[:, lo - a : hi - a] = chunk[:, lo - c0 : hi - c0]
            cursor = c1

        for frame in c.decode(stream):
            for rs in resampler.resample(frame):
                if cursor is None:
                    t = float(rs.time if rs.time is not None else 0.0)
                    cursor = round((t - video_start_s) * AUDIO_RATE)
                take(rs.to_ndarray().reshape(2, -1).astype(np.float32, copy=False))
            if cursor is not None and cursor >= last:
                break
        else:
            for rs in resampler.resample(None):
                if cursor is None:
                    cursor = 0
                take(rs.to_ndarray().reshape(2, -1).astype(np.float32, copy=False))
    return out


def _mix_audio(
    job: RenderJob, pieces: dict[tuple[int, int], np.ndarray], fps: Fraction, fade_ms: int
) -> np.ndarray:
    """The trailer's sound, ``(2, n)`` float32: the shots' samples at their output places,
    faded at hard cuts, crossfaded with crossfades; exactly the video's length."""
    total = round(job.total_frames / fps * AUDIO_RATE)
    mix = np.zeros((2, total), dtype=np.float32)
    n = len(job.shots)
    for k, ((a, b), start) in enumerate(zip(job.shots, job.output_starts(), strict=True)):
        seg = pieces[_sample_range(a, b, fps)].copy()
        length = seg.shape[1]
        ramp_n = (
            round(job.transition_frames / fps * AUDIO_RATE)
            if job.transition_frames
            else round(fade_ms * AUDIO_RATE / 1000)
        )
        ramp_n = min(ramp_n, length // 2)
        if ramp_n > 0:
            ramp = (np.arange(ramp_n, dtype=np.float32) + 1) / (ramp_n + 1)
            if k > 0:
                seg[:, :ramp_n] *= ramp
            if k < n - 1:
                seg[:, length - ramp_n :] *= ramp[::-1]
        o = round(start / fps * AUDIO_RATE)
        end = min(total, o + length)
        if end > o:
            mix[:, o:end] += seg[:, : end - o]
    np.clip(mix, -1.0, 1.0, out=mix)
    return mix


def _sample_range(a: int, b: int, fps: Fraction) -> tuple[int, int]:
    return round(a / fps * AUDIO_RATE), round(b / fps * AUDIO_RATE)


class _Output:
    """One open output: its container, streams, pending audio packets and crossfade tail."""

    def __init__(
        self,
        job: RenderJob,
        fps: Fraction,
        size: tuple[int, int],
        params: EncodeParams,
        audio: np.ndarray | None,
    ) -> None:
        import av

        fmt, vcodec, acodec, _, _ = FORMATS[job.output_format]
        self.job, self.fps = job, fps
        self.width, self.height = size
        options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
        self.container = av.open(str(job.path), mode="w", format=fmt, options=options)
        if vcodec == "libx264":
            vopts = {"crf": str(params.crf), "preset": params.preset}
        else:
            vopts = {
                "crf": str(min(63, params.crf + 10)),
                "b": "0",
                "deadline": "realtime",
                "cpu-used": "8",
                "row-mt": "1",
            }
        video: Any = self.container.add_stream(vcodec, rate=fps, options=vopts)
        self.video = video
        self.video.width, self.video.height = size
        self.video.pix_fmt = "yuv420p"
        self.video.codec_context.time_base = Fraction(1) / fps
        # frame threads, as the FFmpeg CLI uses (PyAV's default, slice threads, encodes slower)
        self.video.codec_context.thread_type = "FRAME"
        self.vcodec, self.acodec = vcodec, (acodec if audio is not None else None)
        self.audio_packets: list[Any] = []
        self.written = 0
        self.tail: list[np.ndarray] = []
        self.stills: list[np.ndarray] = []
        self.shot = 0
        self.starts = job.output_starts()
        self.pending_audio = audio
        if audio is not None:
            audio_stream: Any = self.container.add_stream(acodec, rate=AUDIO_RATE, layout="stereo")
            self.audio = audio_stream
            self.audio.bit_rate = params.audio_bitrate_kbps * 1000

    def encode_audio(self) -> None:
        """Encode the whole sound now; its packets are muxed as the video reaches them."""
        import av

        if self.pending_audio is None:
            return
        samples = self.pending_audio
        self.pending_audio = None
        step = 1024
        for i in range(0, samples.shape[1], step):
            chunk = np.ascontiguousarray(samples[:, i : i + step])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = AUDIO_RATE
            frame.pts = i
            frame.time_base = Fraction(1, AUDIO_RATE)
            self.audio_packets.extend(self.audio.encode(frame))
        self.audio_packets.extend(self.audio.encode(None))
        self.audio_packets.reverse()  # pop() from the end gives them in order

    def _mux_video(self, packets: list[Any]) -> None:
        for p in packets:
            t = float(p.pts * p.time_base) if p.pts is not None else math.inf
            while self.audio_packets and _ptime(self.audio_packets[-1]) <= t:
                self.container.mux(self.audio_packets.pop())
            self.container.mux(p)

    def write(self, frame: Any) -> None:
        """Encode one output frame (a ``yuv420p`` ``VideoFrame`` of the output size)."""
        frame.pts = self.written
        frame.time_base = self.video.codec_context.time_base
        self.written += 1
        self._mux_video(self.video.encode(frame))

    def close(self) -> None:
        """Flush the encoders and write the trailer."""
        self._mux_video(self.video.encode(None))
        while self.audio_packets:
            self.container.mux(self.audio_packets.pop())
        self.container.close()


def _ptime(packet: Any) -> float:
    return float(packet.pts * packet.time_base) if packet.pts is not None else -math.inf


def render(
    source: Path,
    jobs: list[RenderJob],
    params: EncodeParams | None = None,
    *,
    check_deadline: Callable[[], None] | None = None,
) -> list[RenderResult]:
    """Render every job from one decode of ``source`` (module docstring).

    Returns:
        One result per job, in order.

    Raises:
        CorruptVideoError: the source does not decode.
        OutOfTimeError: from ``check_deadline`` (checked every :data:`CHECK_EVERY` frames); the
            caller's temp dir holds the partial files.
        ValueError: a job's shots are not in source order, overlap, or are shorter than two
            crossfades.
    """
    import av

    params = params or EncodeParams()
    for job in jobs:
        last = 0
        for a, b in job.shots:
            if a < last or b <= a or b - a < 2 * job.transition_frames:
                raise ValueError(f"{job.name}: shots must be in source order, apart, long enough")
            last = b
    facts = probe(source)
    fps = facts.fps
    size = output_size(facts.display_width, facts.display_height, params.max_height_px)
    video_start = _video_start(source)
    sounds: dict[int, np.ndarray | None] = {}
    if facts.has_audio:
        ranges = [_sample_range(a, b, fps) for job in jobs for a, b in job.shots]
        try:
            pieces = _read_audio(source, ranges, video_start)
        except av.error.FFmpegError as exc:
            raise CorruptVideoError(f"{source.name}: the sound does not decode: {exc}") from exc
        for i, job in enumerate(jobs):
            sounds[i] = _mix_audio(job, pieces, fps, params.audio_fade_ms)
    outputs = [_Output(job, fps, size, params, sounds.get(i)) for i, job in enumerate(jobs)]
    try:
        for o in outputs:
            o.encode_audio()
        _decode_into(source, outputs, size, check_deadline)
        for o in outputs:
            o.close()
    except BaseException:
        for o in outputs:
            # the original error is the one to report
            with contextlib.suppress(Exception):
                o.container.close()
        raise
    results = []
    for o in outputs:
        if o.written != o.job.total_frames:
            raise CorruptVideoError(
                f"{source.name}: the video ended after {o.written} of "
                f"{o.job.total_frames} frames of {o.job.name}'s trailer"
            )
        results.append(
            RenderResult(
                name=o.job.name,
                path=o.job.path,
                frames=o.written,
                duration_s=round(float(o.written / fps), 6),
                width=size[0],
                height=size[1],
                audio=o.acodec is not None,
                video_codec=CODEC_NAMES[o.vcodec],
                audio_codec=CODEC_NAMES[o.acodec] if o.acodec else None,
                stills=o.stills,
            )
        )
    return results


def _video_start(source: Path) -> float:
    import av

    with av.open(str(source)) as c:
        v = c.streams.video[0]
        if v.start_time is not None and v.time_base is not None:
            return float(v.start_time * v.time_base)
    return 0.0


def _decode_into(
    source: Path,
    outputs: list[_Output],
    size: tuple[int, int],
    check_deadline: Callable[[], None] | None,
) -> None:
    """Decode ``source`` once and hand each frame to the outputs whose shots contain it."""
    import av

    last = max((o.job.shots[-1][1] for o in outputs if o.job.shots), default=0)
    width, height = size
    try:
        with av.open(str(source)) as c:
            stream = c.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(c.decode(stream)):
                if index >= last:
                    break
                if check_deadline is not None and index % CHECK_EVERY == 0:
                    check_deadline()
                scaled = None
                for o in outputs:
                    shots = o.job.shots
                    while o.shot < len(shots) and index >= shots[o.shot][1]:
                        o.shot += 1
                    if o.shot >= len(shots) or index < shots[o.shot][0]:
                        continue
                    if scaled is None:
                        scaled = frame.reformat(
                            width=width, height=height, format="yuv420p", interpolation="AREA"
                        )
                    _feed(o, scaled, index)
    except av.error.FFmpegError as exc:
        raise CorruptVideoError(f"{source.name}: the video does not decode: {exc}") from exc


def _feed(o: _Output, frame: Any, index: int) -> None:
    """One source frame into one output: direct, into the crossfade tail, or blended."""
    import av

    k = o.shot
    a, b = o.job.shots[k]
    pos, length, x = index - a, b - a, o.job.transition_frames
    if o.job.storyboard_width and index == (a + b) // 2:
        w = o.job.storyboard_width
        h = max(2, round(w * frame.height / frame.width))
        o.stills.append(frame.reformat(width=w, height=h, format="rgb24").to_ndarray())
    if x and k > 0 and pos < x:
        alpha = (pos + 1) / (x + 1)
        prev = o.tail[pos].astype(np.float32)
        cur = frame.to_ndarray().astype(np.float32)
        mixed = np.rint(prev * (1 - alpha) + cur * alpha).astype(np.uint8)
        o.write(av.VideoFrame.from_ndarray(mixed, format="yuv420p"))
        if pos == x - 1:
            o.tail = []
    elif x and k < len(o.job.shots) - 1 and pos >= length - x:
        o.tail.append(frame.to_ndarray())
    else:
        o.write(frame)


if __name__ == "__main__":  # pragma: no cover - the Dockerfile's build check
    for name in check_codecs():
        print("ok", name)
