"""The rekognition stage: selection, gating, aggregation, throttling, handler and CLI.

moto answers DetectLabels (always the canned "Mobile Phone" label, never a Person) and has no
DetectFaces or RecognizeCelebrities. Where a Person is needed, botocore's Stubber answers: it
intercepts every operation of the client it wraps, so there it answers DetectLabels too, with
responses in the shapes the Rekognition API documents.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import cv2
import numpy as np
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.stub import Stubber
from moto.core.botocore_stubber import MockRawResponse
from typer.testing import CliRunner

from functions.frame_extract.extract import ExtractParams, extract_keyframes
from functions.rekognition.analysis import aggregate, analyze_video, run_calls
from functions.rekognition.frames import (
    MAX_IMAGE_BYTES,
    MIN_SIDE_PX,
    Pick,
    Window,
    interval_picks,
    manifest_picks,
    prepare_image,
)
from functions.rekognition.handler import lambda_handler
from functions.rekognition.settings import RekognitionSettings
from shared import aws
from shared.errors import ConfigurationError
from shared.manifest import FrameManifest
from shared.rekognition import Rekognition
from shared.status import Stage, StageStatus
from tests.support.helpers import FRAMES_BUCKET, VIDEOS_BUCKET, failures, sample, sqs_event
from vidpipe.cli import app
from vidpipe.synth import make_clip

BOX = {"Width": 0.2, "Height": 0.4, "Left": 0.1, "Top": 0.2}
PERSON_LABELS = {
    "Labels": [
        {
            "Name": "Person",
            "Confidence": 99.2,
            "Instances": [
                {"BoundingBox": BOX, "Confidence": 99.2},
                {"BoundingBox": BOX, "Confidence": 97.0},
                {"BoundingBox": BOX, "Confidence": 95.5},
            ],
            "Parents": [],
            "Categories": [{"Name": "Person Description"}],
        },
        {
            "Name": "Beach",
            "Confidence": 91.0,
            "Instances": [],
            "Parents": [{"Name": "Nature"}],
            "Categories": [{"Name": "Nature and Outdoors"}],
        },
        {
            "Name": "Surfboard",
            "Confidence": 88.5,
            "Instances": [{"BoundingBox": BOX, "Confidence": 88.5}],
            "Parents": [{"Name": "Sport"}],
            "Categories": [{"Name": "Sports"}],
        },
    ],
    "LabelModelVersion": "3.0",
}
NO_PERSON_LABELS = {
    "Labels": [
        {
            "Name": "Surfboard",
            "Confidence": 80.0,
            "Instances": [],
            "Parents": [],
            "Categories": [{"Name": "Sports"}],
        }
    ],
    "LabelModelVersion": "3.0",
}


def face(emotions: list[tuple[str, float]], gender: str = "Female") -> dict[str, Any]:
    return {
        "BoundingBox": BOX,
        "AgeRange": {"Low": 25, "High": 33},
        "Gender": {"Value": gender, "Confidence": 99.1},
        "Emotions": [{"Type": t, "Confidence": c} for t, c in emotions],
        "Confidence": 99.9,
    }


FACES_1 = {
    "FaceDetails": [
        face([("CALM", 20.0), ("HAPPY", 75.0)]),
        face([("SURPRISED", 60.0), ("HAPPY", 30.0)], "Male"),
    ]
}
FACES_2 = {"FaceDetails": [face([("HAPPY", 88.0)])]}
CELEBS_1 = {
    "CelebrityFaces": [
        {
            "Urls": ["www.example.org/jane"],
            "Name": "Jane Example",
            "Id": "1a2B3c",
            "Face": {"BoundingBox": BOX, "Confidence": 99.0},
            "MatchConfidence": 97.5,
        }
    ],
    "UnrecognizedFaces": [],
}
CELEBS_2 = {"CelebrityFaces": [], "UnrecognizedFaces": []}


ANALYZE_DEFAULTS: dict[str, Any] = {
    "platform": "p",
    "shortcode": "s",
    "manifest": None,
    "max_frames": 30,
    "min_interval_s": 2.0,
    "long_scene_s": 10.0,
    "windows": 5,
    "always_faces": False,
    "concurrency": 2,
    "price_per_image_usd": 0.001,
}


def analyze(clip: Any, rek: Rekognition, **overrides: Any) -> dict[str, Any]:
    """analyze_video with the settings' defaults, overridden where a test says so."""
    return analyze_video(clip, rek, **(ANALYZE_DEFAULTS | overrides))


def test_aggregation_follows_the_responses(aws_env):
    client = boto3.client("rekognition", region_name="us-east-1")
    rek = Rekognition(client)
    picks = [Pick(0, 0.0, 0), Pick(50, 2.0, 0), Pick(100, 4.0, 1)]
    images = {p: b"\xff\xd8jpeg" + bytes([i]) for i, p in enumerate(picks)}
    with Stubber(client) as stub:
        # concurrency 1: frames in order; the person-less frame makes no face calls
        stub.add_response("detect_labels", PERSON_LABELS)
        stub.add_response("detect_faces", FACES_1)
        stub.add_response("recognize_celebrities", CELEBS_1)
        stub.add_response("detect_labels", NO_PERSON_LABELS)
        stub.add_response("detect_labels", PERSON_LABELS)
        stub.add_response("detect_faces", FACES_2)
        stub.add_response("recognize_celebrities", CELEBS_2)
        answers, saved = run_calls(images, rek, always_faces=False, concurrency=1)
        stub.assert_no_pending_responses()
    doc = aggregate(
        answers,
        [Window(0, 0.0, 3.0), Window(1, 3.0, 6.0)],
        video={},
        frame_source="interval",
        calls=rek.calls,
        saved=saved,
        price_per_image_usd=0.001,
        seconds=1.0,
        emulated=False,
    )
    f0, f1, f2 = doc["frames"]
    assert [lb["name"] for lb in f0["labels"]] == ["Person", "Beach", "Surfboard"]
    assert f0["labels"][0] == {
        "name": "Person",
        "confidence": 99.2,
        "categories": ["Person Description"],
        "parents": [],
        "instances": 3,
    }
    assert f0["faces"][0]["emotions"][0] == {"type": "HAPPY", "confidence": 75.0}
    assert f0["faces"][1]["gender"] == {"value": "Male", "confidence": 99.1}
    assert f0["faces"][0]["age_range"] == {"low": 25, "high": 33}
    assert f0["celebrities"] == [
        {
            "name": "Jane Example",
            "id": "1a2B3c",
            "confidence": 97.5,
            "urls": ["www.example.org/jane"],
            "bounding_box": BOX,
        }
    ]
    assert (f1["faces_checked"], f1["faces"], f1["celebrities"]) == (False, [], [])
    assert (f2["faces_checked"], len(f2["faces"]), f2["celebrities"]) == (True, 1, [])
    assert f2["faces"][0]["emotions"] == [{"type": "HAPPY", "confidence": 88.0}]
    s0, s1 = doc["scenes"]
    assert s0["frames"] == [0, 50] and s1["frames"] == [100]
    assert s0["dominant_emotions"] == ["HAPPY", "SURPRISED"]
    assert s0["characters"] == ["Jane Example"] and s1["characters"] == []
    assert s0["top_labels"][0] == {"name": "Surfboard", "frames": 2, "max_confidence": 88.5}
    assert (s0["max_faces"], s1["max_faces"]) == (2, 1)
    summary = doc["summary"]
    assert summary["people_count_estimate"] == 3  # three Person instances beat two faces
    assert summary["top_objects"] == ["Surfboard"]
    assert summary["top_places"] == ["Beach"]
    assert summary["top_emotions"] == ["HAPPY", "SURPRISED"]
    assert [c["name"] for c in summary["celebrities"]] == ["Jane Example"]
    assert doc["metrics"]["api_calls"] == {
        "DetectLabels": 3,
        "DetectFaces": 2,
        "RecognizeCelebrities": 2,
    }
    assert doc["metrics"]["calls_saved_by_gating"] == 2
    assert doc["metrics"]["estimated_cost_usd"] == 0.007
    assert doc["schema_version"] == 1


def test_gating_on_moto_labels_makes_no_face_calls(moto, synth_clip):
    clip, _ = synth_clip
    rek = Rekognition(boto3.client("rekognition"))
    doc = analyze(clip, rek, concurrency=4)
    assert doc["metrics"]["frames_analyzed"] == 6  # 12 s clip, one frame every 2 s
    assert doc["metrics"]["api_calls"] == {
        "DetectLabels": 6,
        "DetectFaces": 0,
        "RecognizeCelebrities": 0,
    }
    assert doc["metrics"]["calls_saved_by_gating"] == 12
    assert doc["summary"]["top_objects"] == ["Mobile Phone"]
    assert [f["time_s"] for f in doc["frames"]] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


def test_always_faces_calls_every_frame_and_emulation_is_marked(moto, synth_clip):
    clip, _ = synth_clip
    rek = Rekognition(boto3.client("rekognition"), emulated=True)
    doc = analyze(clip, rek, max_frames=3, always_faces=True)
    assert doc["metrics"]["api_calls"] == {
        "DetectLabels": 3,
        "DetectFaces": 3,
        "RecognizeCelebrities": 3,
    }
    assert doc["metrics"]["calls_saved_by_gating"] == 0
    assert doc["emulated"] is True
    # max_frames=3 over 12 s: the interval grows to 4 s
    assert [f["time_s"] for f in doc["frames"]] == [0.0, 4.0, 8.0]


def _throttle(count: list[int], fail_first: int | None):
    def hook(request: Any, **_: Any) -> AWSResponse | None:
        count[0] += 1
        if fail_first is not None and count[0] > fail_first:
            return None
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return AWSResponse(
            request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"}, MockRawResponse(body)
        )

    return hook


def test_throttled_calls_are_retried_and_complete(moto, synth_clip):
    clip, _ = synth_clip
    client = boto3.client(
        "rekognition", config=Config(retries={"mode": "adaptive", "max_attempts": 3})
    )
    calls = [0]
    client.meta.events.register_first(
        "before-send.rekognition.DetectLabels", _throttle(calls, fail_first=2)
    )
    doc = analyze(clip, Rekognition(client), max_frames=2, concurrency=1)
    assert doc["metrics"]["frames_analyzed"] == 2
    assert calls[0] == 4  # two throttled attempts, then two answers


def test_persistent_throttling_makes_the_record_transient(runtime, context, synth_clip):
    clip, _ = synth_clip
    runtime.storage.s3.upload_file(str(clip), VIDEOS_BUCKET, "instagram/Cx1/video.mp4")
    runtime.stage_settings.override(RekognitionSettings, retries=1, max_frames=2)
    client = aws.client("rekognition", runtime.settings, retries=1)
    calls = [0]
    client.meta.events.register_first(
        "before-send.rekognition.DetectLabels", _throttle(calls, fail_first=None)
    )
    event = sqs_event({"shortcode": "Cx1", "platform": "instagram"})
    response = lambda_handler(event, context)
    assert failures(response) == {event["Records"][0]["messageId"]}
    [state] = runtime.status.stages("instagram", "Cx1")
    assert state.status == StageStatus.PENDING
    assert state.last_error.startswith("RekognitionUnavailableError")
    assert not runtime.storage.exists(FRAMES_BUCKET, "instagram/Cx1/rekognition/analysis.json")


def test_handler_writes_analysis_following_frame_extract_scenes(runtime, context, synth_clip):
    clip, cuts = synth_clip
    runtime.storage.s3.upload_file(str(clip), VIDEOS_BUCKET, "instagram/Cx1/video.mp4")
    from functions.frame_extract.handler import lambda_handler as frames_handler

    body = {"shortcode": "Cx1", "platform": "instagram"}
    assert frames_handler(sqs_event(body), context) == {"batchItemFailures": []}
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    doc = runtime.storage.get_json(FRAMES_BUCKET, "instagram/Cx1/rekognition/analysis.json")
    manifest = runtime.storage.get_json(FRAMES_BUCKET, "instagram/Cx1/frames/manifest.json")
    assert doc["frame_source"] == "manifest"
    assert [f["frame"] for f in doc["frames"]] == [
        s["keyframe"]["frame"] for s in manifest["scenes"]
    ]
    assert [(s["start_s"], s["end_s"]) for s in doc["scenes"]] == [
        (s["start_s"], s["end_s"]) for s in manifest["scenes"]
    ]
    states = {s.stage: s for s in runtime.status.stages("instagram", "Cx1")}
    assert states[Stage.REKOGNITION].status == StageStatus.SUCCEEDED
    assert states[Stage.REKOGNITION].metrics["frames_analyzed"] == len(cuts) + 1


def test_a_large_frame_is_brought_under_5_mb():
    noise = np.random.default_rng(1).integers(0, 256, (4000, 6000, 3), dtype=np.uint8)
    data = prepare_image(noise)
    assert len(data) <= MAX_IMAGE_BYTES
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert min(img.shape[:2]) >= MIN_SIDE_PX
    assert abs(img.shape[1] / img.shape[0] - 1.5) < 0.01


def test_a_tiny_video_still_yields_valid_frames(moto, tmp_path):
    clip = tmp_path / "tiny.mp4"
    make_clip(clip, (30, 30), size=(64, 48))
    client = boto3.client("rekognition")
    sent: list[bytes] = []
    client.meta.events.register(
        "provide-client-params.rekognition.DetectLabels",
        lambda params, **_: sent.append(params["Image"]["Bytes"]),
    )
    doc = analyze(clip, Rekognition(client))
    assert doc["metrics"]["frames_analyzed"] == len(sent) == 2
    for data in sent:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert min(img.shape[:2]) >= MIN_SIDE_PX
        assert img.shape[:2] == (80, 107)  # 64x48 scaled up, aspect kept


def test_interval_rule_matches_the_seed():
    picks, scenes = interval_picks(60.0, 30.0, max_frames=30, min_interval_s=2.0, windows=5)
    assert [p.time_s for p in picks] == [2.0 * k for k in range(30)]
    assert len(scenes) == 5
    picks, _ = interval_picks(300.0, 25.0, max_frames=30, min_interval_s=2.0, windows=5)
    assert [p.time_s for p in picks][:3] == [0.0, 10.0, 20.0] and len(picks) == 30


@pytest.mark.samples
def test_frames_follow_a_real_manifests_scenes():
    result = extract_keyframes(
        sample("documentary_cuts.mp4"), ExtractParams(), platform="s", shortcode="m"
    )
    manifest = result.manifest
    picks, scenes = manifest_picks(FrameManifest.parse(manifest), max_frames=30, long_scene_s=5.0)
    by_scene: dict[int, list[int]] = {}
    for p in picks:
        by_scene.setdefault(p.window, []).append(p.frame)
    for s in manifest["scenes"]:
        frames = by_scene[s["index"]]
        assert all(s["start_frame"] <= f < s["end_frame"] for f in frames)
        length_s = s["end_s"] - s["start_s"]
        assert len(frames) == max(1, -(-length_s // 5.0))  # ceil(length / 5 s)
        if len(frames) == 1:
            assert frames == [s["keyframe"]["frame"]]
    assert [(sc.start_s, sc.end_s) for sc in scenes] == [
        (s["start_s"], s["end_s"]) for s in manifest["scenes"]
    ]
    # a budget smaller than the scene count keeps the longest scenes
    few, _ = manifest_picks(FrameManifest.parse(manifest), max_frames=2, long_scene_s=5.0)
    lengths = sorted(manifest["scenes"], key=lambda s: s["start_frame"] - s["end_frame"])[:2]
    assert sorted(p.window for p in few) == sorted(s["index"] for s in lengths)


def test_cli_writes_analysis(runtime, tmp_path, synth_clip):
    clip, _ = synth_clip
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["rekognition", str(clip), "--out", str(out), "--max-frames", "4"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "analysis.json").read_text())
    assert doc["metrics"]["frames_analyzed"] == 4
    assert "saved=8" in result.stdout


def test_cli_without_credentials_says_so(tmp_path, synth_clip, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = CliRunner().invoke(app, ["rekognition", str(synth_clip[0]), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "no AWS credentials configured" in result.output


def test_access_denied_is_a_configuration_error(aws_env):
    client = boto3.client("rekognition", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("detect_labels", "AccessDeniedException", http_status_code=400)
        with pytest.raises(ConfigurationError, match="AccessDeniedException"):
            Rekognition(client).detect_labels(b"x")
