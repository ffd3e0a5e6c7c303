"""Shot detection and key frames on real footage from ../shared/samples (skipped when absent)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from functions.frame_extract import extract as extract_mod
from functions.frame_extract.extract import (
    ExtractParams,
    KeyFrame,
    cuts_of,
    extract_keyframes,
    middle_tolerance,
)
from tests.support.helpers import ground_truth, sample

# testvideo.mp4: PySceneDetect's published golden for ContentDetector at defaults
# (tests/resources/goldens/testvideo.mp4.ContentDetector.default.json) is [30, 180, 394].
PUBLISHED_CONTENT_GOLDEN = {"testvideo.mp4": [30, 180, 394]}


def capacity_for(width: int, height: int, params: ExtractParams) -> int:
    lookback = params.make_detector().event_buffer_length
    return max(4, params.buffer_bytes // (width * height * 3) - lookback)


def decode_frames(path, wanted: set[int]) -> dict[int, np.ndarray]:
    """Decode the video independently with OpenCV and keep the wanted 0-based frames."""
    cap = cv2.VideoCapture(str(path))
    frames, i = {}, 0
    while wanted - frames.keys():
        ok, frame = cap.read()
        if not ok:
            break
        if i in wanted:
            frames[i] = frame
        i += 1
    cap.release()
    return frames


def assert_keyframes_are_those_frames(path, keyframes: list[KeyFrame]) -> None:
    decoded = decode_frames(path, {kf.frame for kf in keyframes})
    for kf in keyframes:
        img = cv2.imdecode(np.frombuffer(kf.jpeg, np.uint8), cv2.IMREAD_COLOR)
        ref = decoded[kf.frame]
        if ref.shape != img.shape:
            ref = cv2.resize(ref, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_AREA)
        # JPEG at quality 90 differs from its source by a few grey levels on average; a
        # neighbouring frame in these clips differs by more, a frame of another scene by far more.
        diff = float(np.mean(cv2.absdiff(img, ref)))
        assert diff < 4.0, f"key frame {kf.frame} does not match the decoded frame ({diff:.1f})"


@pytest.mark.samples
@pytest.mark.parametrize("name", ["goldeneye_10s.mp4", "documentary_cuts.mp4"])
def test_cuts_equal_ground_truth(name):
    path = sample(name)
    gt = ground_truth()[name]
    result = extract_keyframes(path, ExtractParams(), platform="samples", shortcode="gt")
    assert cuts_of(result.manifest) == gt["hard_cuts"]
    assert result.manifest["video"]["frame_count"] == gt["frames"]
    assert result.manifest["fallback"] is False


@pytest.mark.samples
def test_testvideo_matches_pyscenedetect_published_golden():
    path = sample("testvideo.mp4")
    result = extract_keyframes(path, ExtractParams(), platform="samples", shortcode="tv")
    assert cuts_of(result.manifest) == PUBLISHED_CONTENT_GOLDEN["testvideo.mp4"]
    # the hard cuts of the ground truth are among them
    assert set(ground_truth()["testvideo.mp4"]["hard_cuts"]) <= set(cuts_of(result.manifest))


@pytest.mark.samples
@pytest.mark.parametrize("name", ["goldeneye_10s.mp4", "documentary_cuts.mp4", "testvideo.mp4"])
def test_each_keyframe_is_its_scenes_middle_frame(name):
    path = sample(name)
    params = ExtractParams()
    result = extract_keyframes(path, params, platform="samples", shortcode="mid")
    m = result.manifest
    # capacity is computed from the stored frame size, as extract_keyframes does
    cap = cv2.VideoCapture(str(path))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    capacity = capacity_for(w, h, params)
    for scene in m["scenes"]:
        n = scene["end_frame"] - scene["start_frame"]
        middle = scene["start_frame"] + n // 2
        assert scene["start_frame"] <= scene["keyframe"]["frame"] < scene["end_frame"]
        assert abs(scene["keyframe"]["frame"] - middle) <= middle_tolerance(n, capacity), scene
    assert_keyframes_are_those_frames(path, result.keyframes)


@pytest.mark.samples
def test_anamorphic_video_gives_square_pixel_keyframes():
    # documentary_cuts.mp4 is 704x576 stored with SAR 16:11: displayed 1024x576 (16:9)
    result = extract_keyframes(
        sample("documentary_cuts.mp4"), ExtractParams(), platform="s", shortcode="a"
    )
    assert (result.manifest["video"]["width"], result.manifest["video"]["height"]) == (1024, 576)
    img = cv2.imdecode(np.frombuffer(result.keyframes[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (576, 1024, 3)


@pytest.mark.samples
def test_the_exposure_jump_inside_a_shot_is_not_a_cut():
    result = extract_keyframes(
        sample("documentary_cuts.mp4"), ExtractParams(), platform="s", shortcode="t"
    )
    assert not any(461 <= c <= 466 for c in cuts_of(result.manifest))


def test_one_decoding_pass(monkeypatch, synth_clip):
    # every frame is read from the decoder exactly once: no second pass, no seeking back
    clip, cuts = synth_clip
    reads: list[int] = []
    original = extract_mod._TappedStream.read

    def counting_read(self, decode=True):
        frame = original(self, decode)
        if frame is not False:
            reads.append(1)
        return frame

    monkeypatch.setattr(extract_mod._TappedStream, "read", counting_read)
    seeks: list[object] = []
    monkeypatch.setattr(extract_mod._TappedStream, "seek", lambda self, t: seeks.append(t))
    result = extract_keyframes(clip, ExtractParams(), platform="s", shortcode="once")
    assert len(reads) == result.decoded_frames == 300
    assert seeks == []
    assert cuts_of(result.manifest) == cuts
    assert_keyframes_are_those_frames(clip, result.keyframes)


def test_keyframes_are_handed_over_as_scenes_close(synth_clip):
    clip, cuts = synth_clip
    seen: list[int] = []
    result = extract_keyframes(
        clip,
        ExtractParams(),
        platform="s",
        shortcode="cb",
        on_keyframe=lambda kf: seen.append(kf.scene_index),
    )
    assert seen == list(range(len(cuts) + 1)) == [kf.scene_index for kf in result.keyframes]


def test_fewer_scenes_than_min_frames_falls_back_to_even_spacing(tmp_path):
    from vidpipe.synth import make_clip

    clip = tmp_path / "one_shot.mp4"
    make_clip(clip, (90,))
    emitted: list[int] = []
    result = extract_keyframes(
        clip,
        ExtractParams(min_frames=3),
        platform="s",
        shortcode="fb",
        on_keyframe=lambda kf: emitted.append(kf.frame),
    )
    m = result.manifest
    assert m["fallback"] is True
    assert [(s["start_frame"], s["end_frame"], s["keyframe"]["frame"]) for s in m["scenes"]] == [
        (0, 30, 15),
        (30, 60, 45),
        (60, 90, 75),
    ]
    assert emitted == [15, 45, 75]  # no stray scene frame was handed out first
    assert_keyframes_are_those_frames(clip, result.keyframes)
