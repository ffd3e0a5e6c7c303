"""Reading the sampled frames: Motion JPEG as packets (only samples decoded) vs FFmpeg decoding."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import functions.landmarks.landmarks as lm
from functions.landmarks.config import preset_config
from functions.landmarks.landmarks import (
    DecodeStats,
    extract_landmarks,
    motion_jpeg_size,
    sample_index,
    sampled_frames,
)
from tests.support.helpers import require_mediapipe, sample
from vidpipe.synth import motion_jpeg_copy

FPS, FRAMES, SIZE = 30, 90, (320, 240)


BITS = 8


def index_of(frame: np.ndarray) -> int:
    """The frame index a frame of :func:`write_index_clip` shows, read from its stripes."""
    width = frame.shape[1] // BITS
    stripes = [frame[40:-40, b * width + 8 : (b + 1) * width - 8].mean() for b in range(BITS)]
    return sum(1 << b for b, v in enumerate(stripes) if v > 128)


def write_index_clip(path: Path, fourcc: str) -> Path:
    """Frame i shows i in binary: stripe b (from the left) is white when bit b of i is set."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, SIZE)
    assert writer.isOpened()
    width = SIZE[0] // BITS
    for i in range(FRAMES):
        img = np.full((SIZE[1], SIZE[0], 3), 25, np.uint8)
        for b in range(BITS):
            if i >> b & 1:
                img[:, b * width : (b + 1) * width] = 230
        writer.write(img)
    writer.release()
    return path


@pytest.fixture(scope="module")
def mjpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3 s 30 fps Motion JPEG AVI whose frame i shows i (:func:`write_index_clip`)."""
    return write_index_clip(tmp_path_factory.mktemp("mjpeg") / "index.avi", "MJPG")


@pytest.fixture(scope="module")
def mpeg4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same frames as MPEG-4 Part 2 in MP4 (inter-coded: P-frames need their references)."""
    return write_index_clip(tmp_path_factory.mktemp("mpeg4") / "index.mp4", "mp4v")


def read(path: Path, k_start: int, k_end: int | None, step: float, packets: bool):
    stats = DecodeStats()
    size = motion_jpeg_size(path) if packets else None
    frames = list(sampled_frames(path, k_start, k_end, step, packet_size=size, stats=stats))
    return [i for i, _ in frames], [index_of(f) for _, f in frames], stats


def test_only_motion_jpeg_is_read_as_packets(mjpeg, mpeg4, synth_clip):
    assert motion_jpeg_size(mjpeg) == SIZE
    assert motion_jpeg_size(mpeg4) is None
    assert motion_jpeg_size(synth_clip[0]) is None


@pytest.mark.parametrize(
    ("k_start", "k_end", "step"),
    [(0, None, 3.0), (1, 9, 3.0), (2, 12, 3.0), (17, 25, 3.0), (0, None, 2.5), (1, 6, 1.0)],
)
def test_packets_decode_only_the_samples_and_give_the_same_frames(mjpeg, k_start, k_end, step):
    expected = [
        sample_index(k, step)
        for k in range(k_start, k_end if k_end is not None else FRAMES)
        if sample_index(k, step) < FRAMES
    ]
    indices, shown, stats = read(mjpeg, k_start, k_end, step, packets=True)
    # each frame is the one its index names, seek or no seek
    assert indices == expected
    assert shown == expected
    assert stats.frames_decoded == stats.packet_samples == len(expected)
    assert stats.fallback is None
    # FFmpeg decoding gives the same frames but decodes every frame in between
    ff_indices, ff_shown, ff_stats = read(mjpeg, k_start, k_end, step, packets=False)
    assert (ff_indices, ff_shown) == (expected, expected)
    # from the seek (none below frame 2: a grab is cheaper) to the last sample, or to the end
    # of the stream when k_end is None
    first = expected[0] if expected[0] >= 2 else 0
    last = FRAMES - 1 if k_end is None else expected[-1]
    assert ff_stats.frames_decoded == last - first + 1
    assert ff_stats.packet_samples == 0


def test_inter_coded_video_decodes_the_frames_between_samples(mpeg4):
    indices, shown, stats = read(mpeg4, 4, 12, 3.0, packets=False)
    assert indices == shown == list(range(12, 36, 3))
    assert stats.frames_decoded == 33 - 12 + 1  # frames 12 to 33, the last sample


def test_a_packet_the_jpeg_decoder_refuses_hands_over_to_ffmpeg(mjpeg, monkeypatch):
    # given a JPEG decoder that cannot read the third packet it is handed
    real = cv2.imdecode
    calls = []

    def imdecode(buf, flags):
        calls.append(1)
        return None if len(calls) == 3 else real(buf, flags)

    monkeypatch.setattr(cv2, "imdecode", imdecode)
    indices, shown, stats = read(mjpeg, 0, 10, 3.0, packets=True)
    # no frame is lost or shifted: FFmpeg decodes from that same frame (index 6) on
    assert indices == shown == list(range(0, 30, 3))
    assert stats.packet_samples == 2
    assert stats.fallback is not None and stats.fallback.startswith("frame 6:")
    assert stats.frames_decoded == 2 + (27 - 6 + 1)


def test_extraction_records_how_it_decoded(mjpeg, mpeg4):
    require_mediapipe()
    cfg = preset_config("fast_processing").with_overrides(target_fps=10, workers=1)
    packets = extract_landmarks(mjpeg, cfg)
    assert packets.frame_index.tolist() == list(range(0, FRAMES, 3))
    assert packets.metadata["decoding"] == {
        "method": "motion_jpeg_packets",
        "frames_decoded": 30,
        "fallbacks": [],
    }
    decoded = extract_landmarks(mpeg4, cfg)
    assert decoded.frame_index.tolist() == list(range(0, FRAMES, 3))
    assert decoded.metadata["decoding"] == {
        "method": "ffmpeg",
        "frames_decoded": 90,  # all of them: the reader looks for a sample after frame 87
        "fallbacks": [],
    }


@pytest.mark.samples
def test_motion_jpeg_packets_give_the_landmarks_ffmpeg_decoding_gives(tmp_path, monkeypatch):
    require_mediapipe()
    # given sports2d_demo.mp4 re-encoded as Motion JPEG (230 frames, 1768x994, 30 fps)
    path = motion_jpeg_copy(sample("sports2d_demo.mp4"), tmp_path / "sports2d_mjpeg.avi")
    cfg = preset_config("development").with_overrides(workers=2)  # 10 fps, pose only
    packets = extract_landmarks(path, cfg)
    monkeypatch.setattr(lm, "MOTION_JPEG_FOURCCS", frozenset())  # FFmpeg decodes every frame
    decoded = extract_landmarks(path, cfg)
    assert packets.metadata["decoding"]["method"] == "motion_jpeg_packets"
    assert decoded.metadata["decoding"]["method"] == "ffmpeg"
    assert packets.frames == decoded.frames == 77
    assert packets.metadata["decoding"]["frames_decoded"] == 77
    assert decoded.metadata["decoding"]["frames_decoded"] > 200
    np.testing.assert_array_equal(packets.frame_index, decoded.frame_index)
    # libjpeg-turbo and FFmpeg's JPEG decoder differ by a few grey levels, not by frames
    found_p = ~np.isnan(packets.pose[:, 0, 0])
    found_d = ~np.isnan(decoded.pose[:, 0, 0])
    assert found_p.mean() >= 0.9 and abs(int(found_p.sum()) - int(found_d.sum())) <= 2
    both = found_p & found_d
    gap = np.abs(packets.pose[both, :, :2] - decoded.pose[both, :, :2])
    assert float(np.median(gap)) < 0.005
