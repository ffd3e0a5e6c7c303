"""Which codecs the image decodes (docs/dependencies.md, "Codecs"), and the error for one it
cannot: clips made here with PyAV's bundled encoders, read by OpenCV's bundled FFmpeg (the
decoder every stage uses)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.errors import CorruptVideoError, UnsupportedCodecError
from shared.status import StageStatus
from shared.video import DECODABLE_CODECS, inspect_video
from tests.support.helpers import FRAMES_BUCKET, put_video, sqs_event

av = pytest.importorskip("av")

#: (file name, PyAV encoder, pixel format, the codec inspect_video names)
DECODABLE = [
    ("h264.mp4", "libx264", "yuv420p", "h264"),
    ("h264_10bit.mp4", "libx264", "yuv420p10le", "h264"),
    ("hevc.mp4", "libx265", "yuv420p", "hevc"),
    ("hevc_10bit.mp4", "libx265", "yuv420p10le", "hevc"),
    ("vp9.webm", "libvpx-vp9", "yuv420p", "vp9"),
    ("prores_10bit.mov", "prores", "yuv422p10le", "prores"),
]


def encode(path: Path, codec: str, pix_fmt: str, *, frames: int = 12) -> Path:
    out = av.open(str(path), "w")
    stream = out.add_stream(codec, rate=25)
    stream.width, stream.height, stream.pix_fmt = 160, 96, pix_fmt
    if codec == "libx265":
        stream.options = {"x265-params": "log-level=error"}
    for i in range(frames):
        rgb = np.full((96, 160, 3), (i * 20) % 256, np.uint8)
        for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("codecs")


@pytest.mark.parametrize(("name", "codec", "pix_fmt", "named"), DECODABLE, ids=lambda v: str(v))
def test_the_image_decodes(clips, name, codec, pix_fmt, named):
    path = encode(clips / name, codec, pix_fmt)
    info = inspect_video(path, max_pixels=10**8)
    assert (info.width, info.height, info.frame_count) == (160, 96, 12)
    assert named in DECODABLE_CODECS


def av1_clip(directory: Path, name: str = "av1.mp4") -> Path:
    return encode(directory / name, "libsvtav1", "yuv420p")


def test_av1_is_unsupported_and_named(clips):
    # OpenCV 4.11's bundled FFmpeg has only the hardware AV1 decoder: no frame decodes
    with pytest.raises(UnsupportedCodecError, match="encoded as av1, which this image cannot"):
        inspect_video(av1_clip(clips), max_pixels=10**8)


def test_an_undecodable_stream_in_a_supported_codec_is_still_corrupt(clips, tmp_path):
    good = encode(clips / "cut.mp4", "libx264", "yuv420p", frames=25)
    data = bytearray(good.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 4 :] = b"\0" * (len(data) - mdat - 4)  # every coded picture zeroed
    broken = tmp_path / "zeroed.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(CorruptVideoError):
        inspect_video(broken, max_pixels=10**8)


def test_the_frame_extract_handler_records_the_codec(runtime, context, clips):
    # before: CorruptVideoError "no frame could be decoded", with no hint of why
    from functions.frame_extract.handler import lambda_handler

    put_video(runtime, "demo/av1/video.mp4", av1_clip(clips, "av1_handler.mp4"))
    assert lambda_handler(sqs_event({"platform": "demo", "shortcode": "av1"}), context) == {
        "batchItemFailures": []
    }
    [state] = runtime.status.stages("demo", "av1")
    assert state.status == StageStatus.FAILED
    [err] = runtime.status.errors("demo", "av1")
    assert (err.error_class, err.retryable) == ("UnsupportedCodecError", False)
    assert "av1" in err.message
    assert runtime.storage.list_keys(FRAMES_BUCKET, "") == []
