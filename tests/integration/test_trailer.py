"""The trailer stage on a real sample: recorded Rekognition answers (botocore Stubber, the
shapes the Rekognition API documents) over frame-extract's real scenes of
``documentary_cuts.mp4`` (cuts at 70, 170, 301, 421, 484), rendered with PyAV and read back.

The recorded labels put ``Glass`` and ``Jar`` only in scenes 1 and 3 (close-ups of jars), so a
profile that weighs only those two must cut exactly those scenes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import av
import boto3
import pytest
from botocore.stub import Stubber

from functions.frame_extract.extract import ExtractParams, extract_keyframes
from functions.rekognition.analysis import analyze_video
from functions.trailer.handler import lambda_handler
from functions.trailer.settings import TrailerSettings
from functions.trailer.trailer import make_trailers, run_from
from functions.trailer.translate import Translator, UnsupportedLanguageError
from shared.manifest import FrameManifest
from shared.rekognition import Rekognition
from shared.status import Stage, StageStatus
from shared.storage import TEMP_PREFIX
from tests.support.helpers import FRAMES_BUCKET, VIDEOS_BUCKET, failures, sample, sqs_event
from vidpipe.lambda_context import LocalContext

BOX = {"Width": 0.3, "Height": 0.5, "Left": 0.2, "Top": 0.1}
GLASS = {"id": "glass_lover", "name": "Glass lover", "labels": {"Glass": 3.0, "Jar": 2.0}}


def _label(name: str, conf: float, cats: list[str], parents: tuple[str, ...] = ()) -> dict:
    return {
        "Name": name,
        "Confidence": conf,
        "Instances": [{"BoundingBox": BOX, "Confidence": conf}] if name == "Person" else [],
        "Parents": [{"Name": p} for p in parents],
        "Aliases": [],
        "Categories": [{"Name": c} for c in cats],
    }


PERSON = _label("Person", 99.1, ["Person Description"])
#: DetectLabels per scene of documentary_cuts.mp4, as Rekognition answers them.
HOME, THINGS, BODY = ["Home and Indoors"], ["Everyday Objects"], ["Person Description"]
LABELS = [
    [PERSON, _label("Table", 93.0, HOME), _label("Box", 88.0, THINGS)],
    [_label("Hand", 96.5, BODY), _label("Glass", 94.0, THINGS)],
    [PERSON, _label("Box", 90.5, THINGS), _label("Paper", 81.0, ["Text and Documents"])],
    [_label("Jar", 97.2, ["Kitchen"]), _label("Glass", 91.0, THINGS)],
    [_label("Hand", 95.0, BODY), _label("Finger", 84.0, BODY)],
    [PERSON, _label("Shelf", 86.0, HOME), _label("Indoors", 92.0, HOME)],
]


def _face(*emotions: tuple[str, float]) -> dict:
    return {
        "BoundingBox": BOX,
        "AgeRange": {"Low": 30, "High": 42},
        "Gender": {"Value": "Female", "Confidence": 99.0},
        "Emotions": [{"Type": t, "Confidence": c} for t, c in emotions],
        "Confidence": 99.8,
    }


FACES = {
    0: {"FaceDetails": [_face(("CALM", 81.0), ("HAPPY", 12.0)), _face(("HAPPY", 70.0))]},
    2: {"FaceDetails": [_face(("SURPRISED", 66.0), ("CONFUSED", 20.0))]},
    5: {"FaceDetails": [_face(("CALM", 90.0))]},
}
NO_CELEBS = {"CelebrityFaces": [], "UnrecognizedFaces": []}


@pytest.fixture(scope="module")
def video() -> Path:
    return sample("documentary_cuts.mp4")


@pytest.fixture(scope="module")
def manifest(video: Path) -> FrameManifest:
    result = extract_keyframes(video, ExtractParams(), platform="test", shortcode="doc")
    m = FrameManifest.parse(result.manifest)
    assert m.cuts == [70, 170, 301, 421, 484]
    return m


@pytest.fixture(scope="module")
def analysis(video: Path, manifest: FrameManifest) -> dict[str, Any]:
    client = boto3.client(
        "rekognition", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        # concurrency 1: one frame per scene in order; faces only where a Person was labelled
        for i, labels in enumerate(LABELS):
            stub.add_response("detect_labels", {"Labels": labels, "LabelModelVersion": "3.0"})
            if i in FACES:
                stub.add_response("detect_faces", FACES[i])
                stub.add_response("recognize_celebrities", NO_CELEBS)
        doc = analyze_video(
            video,
            Rekognition(client),
            platform="test",
            shortcode="doc",
            manifest=manifest,
            max_frames=30,
            min_interval_s=2.0,
            long_scene_s=10.0,
            windows=5,
            always_faces=False,
            concurrency=1,
            price_per_image_usd=0.001,
        )
        stub.assert_no_pending_responses()
    assert len(doc["frames"]) == 6
    return doc


def read_back(path: Path) -> dict[str, Any]:
    """What a player sees: container duration, codecs, decoded frame count and size."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = {
            "duration_s": c.duration / 1e6 if c.duration else None,
            "video_codec": v.codec_context.name,
            "audio_codec": c.streams.audio[0].codec_context.name if c.streams.audio else None,
            "width": v.codec_context.width,
            "height": v.codec_context.height,
        }
        info["frames"] = sum(1 for _ in c.decode(v))
    return info


def settings(**kw: Any) -> TrailerSettings:
    return TrailerSettings(**kw)


def test_a_hard_cut_trailer_is_frame_accurate(video, manifest, analysis, tmp_path):
    cfg = settings()
    run = run_from(cfg, {"profiles": [GLASS, "family_viewer"], "max_duration_s": 12})
    result = make_trailers(video, manifest, analysis, run, cfg, tmp_path)
    assert [t.profile_id for t in result.trailers] == ["glass_lover", "family_viewer"]
    glass, family = result.trailers
    # the profile whose labels occur only in scenes 1 and 3 selects those scenes
    assert [s["scene"] for s in glass.edl["shots"]] == [1, 3]
    for t in result.trailers:
        edl = t.edl
        seen = read_back(t.video_path)
        assert (seen["video_codec"], seen["audio_codec"]) == ("h264", "aac")
        # anamorphic 704x576 at 16:11 is shown 1024x576: square pixels at the display size
        assert (seen["width"], seen["height"]) == (1024, 576)
        joins = len(edl["shots"]) - 1
        assert abs(seen["frames"] - edl["duration_frames"]) <= max(1, joins)
        assert seen["frames"] / 25 <= 12.0 and edl["duration_s"] <= 12.0
        assert seen["duration_s"] == pytest.approx(edl["duration_s"], abs=(joins + 1) / 25 + 0.05)
        ins = [s["source"]["in_frame"] for s in edl["shots"]]
        assert ins == sorted(ins)
        for s in edl["shots"]:
            sc = manifest.scenes[s["scene"]]
            assert sc.start_frame <= s["source"]["in_frame"] < s["source"]["out_frame"]
            assert s["source"]["out_frame"] <= sc.end_frame
        # the project's own frame extraction finds the joins as the trailer's cuts (min_frames 1:
        # a two-shot trailer has one cut, not the evenly spaced fallback)
        found = FrameManifest.parse(
            extract_keyframes(
                t.video_path, ExtractParams(min_frames=1), platform="t", shortcode="t"
            ).manifest
        )
        assert not found.fallback
        cuts = found.cuts
        assert len(cuts) == len(edl["joins"]), (cuts, edl["joins"])
        assert all(abs(c - j) <= 1 for c, j in zip(cuts, edl["joins"], strict=True))
    assert family.edl["shots"][0]["reasons"][0]["kind"] in {"emotion", "category", "faces"}
    vtt = glass.files["chapters.vtt"][0].decode()
    assert vtt.startswith("WEBVTT\n\nshot-1\n00:00:00.000 --> 00:00:04.000\nShot 1: ")
    assert "Glass" in vtt
    board = glass.files["storyboard.jpg"][0]
    assert board[:2] == b"\xff\xd8"


def test_the_edl_is_the_same_bytes_twice(video, manifest, analysis, tmp_path):
    cfg = settings()
    run = run_from(cfg, {"profiles": [GLASS]})
    a = make_trailers(video, manifest, analysis, run, cfg, tmp_path / "a")
    b = make_trailers(video, manifest, analysis, run, cfg, tmp_path / "b")
    assert a.trailers[0].files["edl.json"][0] == b.trailers[0].files["edl.json"][0]


@pytest.mark.parametrize(("fmt", "codecs"), [("webm", ("vp9", "opus")), ("mov", ("h264", "aac"))])
def test_webm_and_mov_with_crossfades_play(video, manifest, analysis, tmp_path, fmt, codecs):
    cfg = settings()
    run = run_from(
        cfg,
        {"profiles": ["family_viewer"], "output_format": fmt, "transition": "crossfade"},
    )
    (t,) = make_trailers(video, manifest, analysis, run, cfg, tmp_path).trailers
    assert t.video_path.name == f"trailer.{fmt}"
    edl = t.edl
    x = edl["parameters"]["transition_frames"]
    assert x == 10
    assert edl["duration_frames"] == sum(s["frames"] for s in edl["shots"]) - x * len(edl["joins"])
    seen = read_back(t.video_path)
    assert (seen["video_codec"], seen["audio_codec"]) == codecs
    assert abs(seen["frames"] - edl["duration_frames"]) <= max(1, len(edl["joins"]))
    assert seen["duration_s"] <= 30.0


def test_chapters_are_translated_with_amazon_translate(video, manifest, analysis, tmp_path):
    client = boto3.client(
        "translate", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    cfg = settings()
    run = run_from(cfg, {"profiles": [GLASS], "target_language": "de"})
    with Stubber(client) as stub:
        for text, german in [
            ("Shot 1: Glass, Hand", "Einstellung 1: Glas, Hand"),
            ("Shot 2: Glass, Jar", "Einstellung 2: Glas, Gefäß"),
        ]:
            stub.add_response(
                "translate_text",
                {"TranslatedText": german, "SourceLanguageCode": "en", "TargetLanguageCode": "de"},
                {"Text": text, "SourceLanguageCode": "en", "TargetLanguageCode": "de"},
            )
        translator = Translator(client)
        (t,) = make_trailers(
            video, manifest, analysis, run, cfg, tmp_path, translator=translator
        ).trailers
        stub.assert_no_pending_responses()
    vtt = t.files["chapters.vtt"][0].decode()
    assert "Einstellung 1: Glas, Hand" in vtt and "Gefäß" in vtt
    assert translator.characters == len("Shot 1: Glass, Hand") + len("Shot 2: Glass, Jar")
    assert t.edl["parameters"]["target_language"] == "de"


def test_translate_throttling_is_transient_and_a_refused_pair_permanent():
    from functions.trailer.translate import TranslateUnavailableError

    client = boto3.client(
        "translate", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        stub.add_client_error("translate_text", "ThrottlingException", http_status_code=400)
        stub.add_client_error("translate_text", "UnsupportedLanguagePairException")
        with pytest.raises(TranslateUnavailableError):
            Translator(client).translate(["Shot 1: Glass"], "de")
        with pytest.raises(UnsupportedLanguageError) as info:
            Translator(client).translate(["Shot 1: Glass"], "de")
    assert not info.value.retryable


def test_an_unsupported_language_is_refused_before_any_work():
    with pytest.raises(UnsupportedLanguageError, match="'xx' is not an ISO 639-1 code") as info:
        run_from(settings(), {"target_language": "xx"})
    assert not info.value.retryable


# ---- the handler, on moto ------------------------------------------------------------------


def _put_inputs(runtime, video: Path, manifest: FrameManifest, analysis: dict) -> None:
    s3 = runtime.storage.s3
    s3.upload_file(str(video), VIDEOS_BUCKET, "demo/doc/video.mp4")
    s3.put_object(
        Bucket=FRAMES_BUCKET,
        Key="demo/doc/frames/manifest.json",
        Body=json.dumps(manifest.model_dump(mode="json")),
    )
    s3.put_object(
        Bucket=FRAMES_BUCKET, Key="demo/doc/rekognition/analysis.json", Body=json.dumps(analysis)
    )


def _state(runtime):
    return {s.stage: s for s in runtime.status.stages("demo", "doc")}[Stage.TRAILER]


def test_handler_renders_one_folder_per_profile(runtime, context, video, manifest, analysis):
    _put_inputs(runtime, video, manifest, analysis)
    # an earlier run's trailer in another format and profile goes
    runtime.storage.s3.put_object(
        Bucket=FRAMES_BUCKET, Key="demo/doc/trailer/old_profile/trailer.mp4", Body=b"old"
    )
    body = {
        "platform": "demo",
        "shortcode": "doc",
        "options": {"trailer": {"profiles": [GLASS, "family_viewer"], "output_format": "webm"}},
    }
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    keys = sorted(runtime.storage.list_keys(FRAMES_BUCKET, "demo/doc/trailer/"))
    assert keys == [
        f"demo/doc/trailer/{p}/{f}"
        for p in ("family_viewer", "glass_lover")
        for f in ("chapters.vtt", "edl.json", "storyboard.jpg", "trailer.webm")
    ]
    head = runtime.storage.s3.head_object(
        Bucket=FRAMES_BUCKET, Key="demo/doc/trailer/glass_lover/trailer.webm"
    )
    assert head["ContentType"] == "video/webm"
    st = _state(runtime)
    assert st.status == StageStatus.SUCCEEDED
    assert st.metrics["profiles"] == ["glass_lover", "family_viewer"]
    assert st.metrics["estimated_cost_usd"] == 0
    edl = runtime.storage.get_json(FRAMES_BUCKET, "demo/doc/trailer/glass_lover/edl.json")
    assert [s["scene"] for s in edl["shots"]] == [1, 3]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"target_language": "xx"}, "UnsupportedLanguageError", "'xx' is not an ISO 639-1"),
        (
            {"profiles": [{"id": "cars", "name": "Cars", "labels": {"Car": 5}}]},
            "TooFewScenesError",
            "profile 'cars': 0 usable scene(s), 2 needed",
        ),
        ({"profiles": ["horror_fan"]}, "ProfileError", "unknown profile 'horror_fan'"),
        ({"fps": 3}, "InvalidMessageError", "fps: Extra inputs are not permitted"),
    ],
)
def test_bad_runs_fail_permanently_with_clear_messages(
    runtime, context, video, manifest, analysis, options, error, message
):
    _put_inputs(runtime, video, manifest, analysis)
    body = {"platform": "demo", "shortcode": "doc", "options": {"trailer": options}}
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    st = _state(runtime)
    assert st.status == StageStatus.FAILED
    assert message in (st.last_error or "")
    assert [e.error_class for e in runtime.status.errors("demo", "doc")] == [error]


def test_a_missing_dependency_fails_permanently(runtime, context, video):
    runtime.storage.s3.upload_file(str(video), VIDEOS_BUCKET, "demo/doc/video.mp4")
    body = {"platform": "demo", "shortcode": "doc"}
    assert lambda_handler(sqs_event(body), context) == {"batchItemFailures": []}
    st = _state(runtime)
    assert st.status == StageStatus.FAILED
    assert "frame-extract's s3://" in st.last_error and "did not run or failed" in st.last_error


class Countdown(LocalContext):
    """Plenty of time for the first ``calls`` questions, then almost none."""

    calls = 12

    def get_remaining_time_in_millis(self) -> int:
        self.calls -= 1
        return 900_000 if self.calls > 0 else 5_000


def test_a_render_out_of_time_releases_its_claim_and_its_temp_dir(
    runtime, video, manifest, analysis
):
    _put_inputs(runtime, video, manifest, analysis)
    body = {"platform": "demo", "shortcode": "doc", "options": {"trailer": {"profiles": [GLASS]}}}
    event = sqs_event(body)
    ctx = Countdown(function_name="vidpipe-trailer", timeout_s=900)
    assert failures(lambda_handler(event, ctx)) == {event["Records"][0]["messageId"]}
    st = _state(runtime)
    assert st.status == StageStatus.PENDING
    assert runtime.storage.list_keys(FRAMES_BUCKET, "demo/doc/trailer/") == []
    tmp = runtime.settings.tmp_dir
    assert not [p for p in tmp.iterdir() if p.name.startswith(TEMP_PREFIX)]


# ---- the command line ----------------------------------------------------------------------


def _vidpipe(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "vidpipe.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_local_run_leaves_a_playable_trailer_with_its_deliverables(tmp_path, video):
    proc = _vidpipe(tmp_path, "local", "run", str(video), "--stage", "trailer", "--out", "out")
    assert proc.returncode == 0, proc.stderr
    assert "frame-extract=succeeded  rekognition=succeeded  trailer=succeeded" in proc.stdout
    assert "(analysis emulated: labels, no faces)" in proc.stdout
    folder = tmp_path / "out" / "trailer" / "action_enthusiast"
    assert sorted(p.name for p in folder.iterdir()) == [
        "chapters.vtt",
        "edl.json",
        "storyboard.jpg",
        "trailer.mp4",
    ]
    edl = json.loads((folder / "edl.json").read_text())
    assert edl["analysis"]["emulated"] is True and "no faces" in edl["analysis"]["note"]
    seen = read_back(folder / "trailer.mp4")
    assert (seen["video_codec"], seen["audio_codec"]) == ("h264", "aac")
    assert seen["frames"] == edl["duration_frames"] and edl["duration_s"] <= 30
    summary = (tmp_path / "out" / "summary.txt").read_text()
    shots = len(edl["shots"])
    assert f"1 trailer (action_enthusiast {shots} shots), {edl['duration_s']:.1f} s" in summary


def test_cli_trailer_from_given_outputs(tmp_path, video, manifest, analysis):
    (tmp_path / "manifest.json").write_text(json.dumps(manifest.model_dump(mode="json")))
    (tmp_path / "analysis.json").write_text(json.dumps(analysis))
    (tmp_path / "glass.json").write_text(json.dumps(GLASS))
    args = ["--manifest", "manifest.json", "--analysis", "analysis.json", "--out", "out"]
    proc = _vidpipe(
        tmp_path, "trailer", str(video), "--profile", "glass.json", "--format", "mov", *args
    )
    assert proc.returncode == 0, proc.stderr
    assert "glass_lover: 2 shots, 8.00 s (scenes [1, 3])" in proc.stdout
    assert (tmp_path / "out" / "trailer" / "glass_lover" / "trailer.mov").is_file()
    assert not (tmp_path / "out" / "rekognition").exists()  # given, not run
    # user mistakes: one line on stderr, exit 2, no traceback
    for bad, message in [
        (["--profile", "horror_fan"], "unknown profile 'horror_fan'"),
        (["--language", "xx"], "'xx' is not an ISO 639-1 code"),
        (["--format", "avi"], "--format 'avi'"),
    ]:
        proc = _vidpipe(tmp_path, "trailer", str(video), *bad, *args)
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr


def test_cli_lists_the_profiles():
    proc = _vidpipe(Path.cwd(), "trailer", "profiles", "--json")
    assert proc.returncode == 0, proc.stderr
    ids = [p["id"] for p in json.loads(proc.stdout)]
    assert ids == ["action_enthusiast", "family_viewer", "thriller_buff", "romance_devotee"]


# ---- the sound -----------------------------------------------------------------------------


def _tone_clip(path: Path, *, sound: bool, seconds: int = 4, fps: int = 25) -> Path:
    """Four flat-colour shots of 1 s, with a steady 440 Hz tone when ``sound``."""
    from fractions import Fraction

    import numpy as np

    rate = 48_000
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = 320, 240, "yuv420p"
        v.codec_context.time_base = Fraction(1, fps)
        a = c.add_stream("aac", rate=rate, layout="stereo") if sound else None
        for i in range(seconds * fps):
            img = np.full((240, 320, 3), (60 * (i // fps)) % 256, dtype=np.uint8)
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        if a is not None:
            t = np.arange(seconds * rate) / rate
            tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for i in range(0, len(tone), 1024):
                chunk = np.ascontiguousarray(np.stack([tone[i : i + 1024]] * 2))
                f = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                f.sample_rate, f.pts, f.time_base = rate, i, Fraction(1, rate)
                for p in a.encode(f):
                    c.mux(p)
        for s in (v, a):
            if s is not None:
                for p in s.encode(None):
                    c.mux(p)
    return path


def _samples(path: Path) -> Any:
    import numpy as np

    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        return np.concatenate(
            [f.to_ndarray().reshape(2, -1)[0] for f in c.decode(c.streams.audio[0])]
        )


def test_the_sound_fades_at_hard_cuts_and_lasts_as_long_as_the_picture(tmp_path):
    import numpy as np

    from functions.trailer.render import RenderJob, render

    clip = _tone_clip(tmp_path / "tone.mp4", sound=True)
    job = RenderJob("t", [(0, 25), (50, 75)], 0, tmp_path / "cut.mp4")
    (result,) = render(clip, [job])
    assert result.frames == 50 and result.audio and result.audio_codec == "aac"
    pcm = _samples(result.path)
    # AAC adds its priming and a last partial frame: within 2 x 1024 samples of 2 s
    assert abs(len(pcm) - 2 * 48_000) <= 2048
    # the join is at 1 s: quiet right there, the full tone around it
    join = 48_000 + (len(pcm) - 2 * 48_000) // 2
    near = np.sqrt(np.mean(pcm[join - 240 : join + 240] ** 2))
    away = np.sqrt(np.mean(pcm[join - 12_000 : join - 6_000] ** 2))
    assert away > 0.3 and near < 0.5 * away


def test_a_silent_source_gives_a_silent_trailer(tmp_path):
    from functions.trailer.render import RenderJob, render

    clip = _tone_clip(tmp_path / "mute.mp4", sound=False)
    job = RenderJob("t", [(10, 40), (60, 90)], 5, tmp_path / "x.webm", output_format="webm")
    (result,) = render(clip, [job])
    assert not result.audio and result.audio_codec is None
    assert result.frames == 55
    seen = read_back(result.path)
    assert seen["audio_codec"] is None and seen["frames"] == 55 and seen["video_codec"] == "vp9"
