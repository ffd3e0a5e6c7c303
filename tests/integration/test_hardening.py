"""Issue 13 (hardening), part A, through the real handlers on moto: confinement of reads and
writes, the frame-size bound in every stage, the key-frame bound, bounded parsing, temp hygiene
(docs/reliability.md)."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.batch import Runtime, get_runtime
from shared.config import get_settings
from shared.errors import ConfinementError, WriteOutsideFolderError
from shared.messages import parse_body
from shared.status import Stage, StageStatus
from shared.storage import TEMP_LOCK, owned_temp_dir, reclaim_temp_dirs
from tests.support.helpers import (
    FRAMES_BUCKET,
    VIDEOS_BUCKET,
    put_video,
    s3_body,
    sqs_event,
)
from vidpipe.synth import make_clip


@pytest.fixture
def make_runtime(env_settings, monkeypatch) -> Callable[..., Runtime]:
    """The process runtime rebuilt with extra environment variables, buckets created."""

    def build(**env: str) -> Runtime:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        get_settings.cache_clear()
        get_runtime.cache_clear()
        rt = get_runtime()
        for bucket in {VIDEOS_BUCKET, FRAMES_BUCKET, rt.settings.s3_bucket_frames}:
            rt.storage.s3.create_bucket(Bucket=bucket)
        return rt

    return build


def frame_extract(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from functions.frame_extract.handler import lambda_handler

    return lambda_handler(event, context)


def all_keys(rt: Runtime, bucket: str) -> list[str]:
    return rt.storage.list_keys(bucket, "")


# ---------------------------------------------------------------- 2. confinement


def test_a_direct_job_cannot_read_another_videos_key(make_runtime, context, synth_clip):
    # the attack: a job for demo/attacker1 naming the victim's video
    rt = make_runtime()
    put_video(rt, "victim/secret1/video.mp4", synth_clip[0])
    body = {"platform": "demo", "shortcode": "attacker1", "key": "victim/secret1/video.mp4"}
    response = frame_extract(sqs_event(body), context)
    assert response == {"batchItemFailures": []}  # permanent: acknowledged
    assert all_keys(rt, FRAMES_BUCKET) == []  # no key frame of the victim's anywhere
    [err] = rt.status.errors()
    assert (err.error_class, err.retryable) == ("ConfinementError", False)
    assert "outside the job's own prefix 'demo/attacker1/'" in err.message


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"platform": "demo", "shortcode": "a1", "bucket": FRAMES_BUCKET}, "the results bucket"),
        ({"platform": "demo", "shortcode": "a1", "bucket": "someone-else"}, "not a video source"),
        (
            {"platform": "demo", "shortcode": "a1", "key": "demo/a1/frames/x.mp4"},
            "inside the stage output folder",
        ),
        (s3_body("demo/a1/video.mp4", bucket="someone-else"), "S3 event from bucket"),
    ],
    ids=["results-bucket", "other-bucket", "stage-folder", "s3-event-other-bucket"],
)
def test_buckets_and_keys_outside_the_videos_own_are_refused(
    make_runtime, context, synth_clip, body, says
):
    rt = make_runtime()
    rt.storage.s3.create_bucket(Bucket="someone-else")
    for bucket in (VIDEOS_BUCKET, FRAMES_BUCKET, "someone-else"):
        rt.storage.s3.put_object(
            Bucket=bucket, Key="demo/a1/video.mp4", Body=synth_clip[0].read_bytes()
        )
    response = frame_extract(sqs_event(body), context)
    assert response == {"batchItemFailures": []}
    [err] = rt.status.errors()
    assert err.error_class == "ConfinementError" and says in err.message
    assert rt.status.stages("demo", "a1") == []  # refused before any claim


def test_an_allow_listed_bucket_is_read(make_runtime, context, synth_clip):
    rt = make_runtime(VIDEO_SOURCE_BUCKETS="partner-videos, other")
    rt.storage.s3.create_bucket(Bucket="partner-videos")
    rt.storage.s3.put_object(
        Bucket="partner-videos", Key="demo/p1/video.mp4", Body=synth_clip[0].read_bytes()
    )
    body = {"platform": "demo", "shortcode": "p1", "bucket": "partner-videos"}
    assert frame_extract(sqs_event(body), context) == {"batchItemFailures": []}
    [state] = rt.status.stages("demo", "p1")
    assert state.status == StageStatus.SUCCEEDED


def test_the_allow_list_may_not_name_the_results_bucket(make_runtime):
    from shared.config import load_settings
    from shared.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="must not name the results bucket"):
        load_settings(video_source_buckets=FRAMES_BUCKET)


def test_confine_unit_rules(plain_settings):
    from shared.confine import confine

    def job(body: dict[str, Any]) -> Any:
        [j] = parse_body(json.dumps(body), default_bucket=plain_settings.s3_bucket_videos).jobs
        return j

    ok = job({"platform": "p", "shortcode": "s", "key": "p/s/raw/clip.mov"})
    assert confine(ok, plain_settings) is ok  # a subfolder of its own that is no stage's
    with pytest.raises(ConfinementError, match="outside the job's own prefix"):
        confine(job({"platform": "p", "shortcode": "s", "key": "p/s2/video.mp4"}), plain_settings)
    with pytest.raises(ConfinementError, match="outside the job's own prefix"):
        confine(job({"platform": "p", "shortcode": "s", "key": "p/video.mp4"}), plain_settings)


def test_a_stage_cannot_write_outside_its_own_folder(make_runtime, context, synth_clip):
    # frame-extract's job is handed a storage confined to s3://results/{p}/{s}/frames/
    from functions.frame_extract import job as fe_job

    rt = make_runtime()
    put_video(rt, "demo/w1/video.mp4", synth_clip[0])
    seen: list[Any] = []
    real = fe_job.extract_job

    def sneaky(job: Any, ctx: Any) -> Any:
        seen.append(ctx.storage.write_scope)
        for bucket, key in [
            (VIDEOS_BUCKET, "demo/w1/video.mp4"),  # the source video
            (FRAMES_BUCKET, "demo/w1/landmarks/landmarks.json"),  # another stage's folder
            (FRAMES_BUCKET, "demo/other/frames/0.jpg"),  # another video's folder
            (FRAMES_BUCKET, "demo/w1/frames/../video.mp4"),
        ]:
            with pytest.raises(WriteOutsideFolderError):
                ctx.storage.put_bytes(bucket, key, b"x", "text/plain")
        with pytest.raises(WriteOutsideFolderError):
            ctx.storage.delete_keys(VIDEOS_BUCKET, ["demo/w1/video.mp4"])
        return real(job, ctx)

    from shared.batch import run_batch

    body = {"platform": "demo", "shortcode": "w1"}
    response = run_batch(sqs_event(body), context, stage=Stage.FRAME_EXTRACT, job=sneaky)
    assert response == {"batchItemFailures": []}
    assert seen == [(FRAMES_BUCKET, "demo/w1/frames/")]
    assert all(k.startswith("demo/w1/frames/") for k in all_keys(rt, FRAMES_BUCKET))
    assert all_keys(rt, VIDEOS_BUCKET) == ["demo/w1/video.mp4"]


# ---------------------------------------------------------------- 1. frame-size bound


def _run_stage(stage: str, rt: Runtime, context: Any, body: dict[str, Any]) -> dict[str, Any]:
    from shared.stages import spec

    return spec(stage).load_handler()(sqs_event(body), context)


@pytest.mark.parametrize("stage", [str(s) for s in Stage])
def test_every_stage_refuses_frames_over_max_video_pixels(make_runtime, context, synth_clip, stage):
    if stage == str(Stage.LANDMARKS):
        from tests.support.helpers import require_mediapipe

        require_mediapipe()
    # synth_clip is 640x360 = 230400 pixels
    rt = make_runtime(
        MAX_VIDEO_PIXELS=str(320 * 240), GEMINI_API_KEY="test-key", REKOGNITION_EMULATED="true"
    )
    put_video(rt, "demo/big1/video.mp4", synth_clip[0])
    response = _run_stage(stage, rt, context, {"platform": "demo", "shortcode": "big1"})
    assert response == {"batchItemFailures": []}  # permanent, acknowledged
    [state] = rt.status.stages("demo", "big1")
    assert state.status == StageStatus.FAILED
    [err] = rt.status.errors("demo", "big1")
    assert (err.error_class, err.retryable) == ("ResolutionTooLargeError", False)
    assert "640x360 = 230400 pixels" in err.message and "MAX_VIDEO_PIXELS=76800" in err.message
    assert all_keys(rt, FRAMES_BUCKET) == []


def test_the_bound_is_checked_before_any_frame_is_decoded(make_runtime, context, synth_clip):
    from functions.frame_extract import job as fe_job

    rt = make_runtime(MAX_VIDEO_PIXELS=str(320 * 240))
    put_video(rt, "demo/big2/video.mp4", synth_clip[0])
    called: list[Path] = []
    original = fe_job.extract_keyframes
    fe_job.extract_keyframes = lambda path, *a, **k: called.append(path)  # type: ignore[assignment]
    try:
        frame_extract(sqs_event({"platform": "demo", "shortcode": "big2"}), context)
    finally:
        fe_job.extract_keyframes = original
    assert called == []


# ---------------------------------------------------------------- 10. key-frame bound


@pytest.fixture(scope="module")
def many_cuts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    path = tmp_path_factory.mktemp("cuts") / "many.mp4"
    return path, make_clip(path, (20,) * 12, size=(320, 180))  # 11 cuts, 12 scenes


def test_cuts_past_max_keyframes_are_ignored(make_runtime, context, many_cuts):
    rt = make_runtime(MAX_KEYFRAMES="5")
    put_video(rt, "demo/k1/video.mp4", many_cuts[0])
    assert frame_extract(sqs_event({"platform": "demo", "shortcode": "k1"}), context) == {
        "batchItemFailures": []
    }
    # key frames only: the contact sheet is a preview beside them
    jpegs = [k for k in all_keys(rt, FRAMES_BUCKET) if re.fullmatch(r"demo/k1/frames/\d+\.jpg", k)]
    assert len(jpegs) == 5
    m = rt.storage.get_json(FRAMES_BUCKET, "demo/k1/frames/manifest.json")
    assert [s["start_frame"] for s in m["scenes"][1:]] == many_cuts[1][:4]
    assert m["scenes"][-1]["end_frame"] == 240  # the last allowed scene runs to the end
    [state] = rt.status.stages("demo", "k1")
    assert state.metrics["cuts_ignored"] == 7


def test_one_jpeg_per_frame_cannot_be_asked_for(make_runtime, context, many_cuts):
    # the amplification: options that make every frame a scene
    rt = make_runtime(MAX_KEYFRAMES="8")
    put_video(rt, "demo/k2/video.mp4", many_cuts[0])
    body = {
        "platform": "demo",
        "shortcode": "k2",
        "options": {"frame-extract": {"threshold": 0.01, "min_scene_len_frames": 1}},
    }
    assert frame_extract(sqs_event(body), context) == {"batchItemFailures": []}
    jpegs = [k for k in all_keys(rt, FRAMES_BUCKET) if re.fullmatch(r"demo/k2/frames/\d+\.jpg", k)]
    assert len(jpegs) == 8


def test_min_frames_over_max_keyframes_is_refused(make_runtime, context, many_cuts):
    rt = make_runtime(MAX_KEYFRAMES="20")
    put_video(rt, "demo/k3/video.mp4", many_cuts[0])
    body = {"platform": "demo", "shortcode": "k3", "options": {"frame-extract": {"min_frames": 21}}}
    assert frame_extract(sqs_event(body), context) == {"batchItemFailures": []}
    [err] = rt.status.errors("demo", "k3")
    assert err.error_class == "InvalidMessageError"
    assert "min_frames 21 is over MAX_KEYFRAMES=20" in err.message
    assert all_keys(rt, FRAMES_BUCKET) == []


def test_the_fallback_is_bounded_too(make_runtime, context, tmp_path):
    # one scene, so the fallback takes min_frames evenly spaced frames: at most MAX_KEYFRAMES
    clip = tmp_path / "one.mp4"
    make_clip(clip, (150,), size=(320, 180))
    rt = make_runtime(MAX_KEYFRAMES="6")
    put_video(rt, "demo/k4/video.mp4", clip)
    body = {"platform": "demo", "shortcode": "k4", "options": {"frame-extract": {"min_frames": 6}}}
    assert frame_extract(sqs_event(body), context) == {"batchItemFailures": []}
    m = rt.storage.get_json(FRAMES_BUCKET, "demo/k4/frames/manifest.json")
    assert m["fallback"] is True and len(m["scenes"]) == 6


def test_min_frames_setting_over_max_keyframes_is_a_configuration_error():
    from functions.frame_extract.settings import FrameExtractSettings
    from shared.config import load_stage_settings
    from shared.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="MIN_FRAMES must not exceed MAX_KEYFRAMES"):
        load_stage_settings(FrameExtractSettings, min_frames=50, max_keyframes=10)


# ---------------------------------------------------------------- 9. bounded parsing


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests deeper than 32"),
        ('{"platform": "p", "shortcode": "s", "options": ' + '{"a": ' * 5000 + "1" + "}" * 5001,
         "nests deeper than 32"),
        (json.dumps({"platform": "p", "shortcode": "s", "pad": "x" * 2**20}), "bytes, over"),
    ],
    ids=["deep-array", "deep-options", "too-large"],
)  # fmt: skip
def test_pathological_json_is_a_recorded_permanent_error(make_runtime, context, body, says):
    rt = make_runtime()
    response = frame_extract(sqs_event(body), context)
    assert response == {"batchItemFailures": []}  # acknowledged, not retried to the DLQ
    [err] = rt.status.errors()
    assert (err.error_class, err.retryable) == ("InvalidMessageError", False)
    assert says in err.message


# ---------------------------------------------------------------- 7. temp hygiene


def test_a_crashed_invocations_temp_dir_is_reclaimed_but_live_ones_are_not(tmp_path):
    # a dir left by a crashed invocation: its lock file exists, nobody holds it
    stale = tmp_path / "vidpipe-crashed"
    stale.mkdir()
    (stale / TEMP_LOCK).touch()
    (stale / "video.mp4").write_bytes(b"\0" * 4096)
    unrelated = tmp_path / "other-tool"
    unrelated.mkdir()
    with owned_temp_dir(tmp_path) as live:  # a record still working in this process
        (live / "video.mp4").write_bytes(b"x")
        assert reclaim_temp_dirs(tmp_path) == [stale]
        assert (live / "video.mp4").exists() and unrelated.exists()
    assert not live.exists()  # its owner removes it on exit


def test_a_live_dir_of_another_process_is_kept(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, time; from pathlib import Path; from shared.storage import owned_temp_dir\n"
        "with owned_temp_dir(Path(sys.argv[1])) as d:\n"
        "    print(d, flush=True); time.sleep(30)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        theirs = Path(proc.stdout.readline().strip())  # type: ignore[union-attr]
        assert theirs.is_dir()
        assert reclaim_temp_dirs(tmp_path) == []
        assert theirs.is_dir()
        proc.kill()  # the owner crashes: the kernel drops its lock, the dir stays behind
        proc.wait()
        assert theirs.is_dir()
        assert reclaim_temp_dirs(tmp_path) == [theirs]
    finally:
        proc.kill()
        proc.wait()


def test_unlocked_dirs_are_reclaimed_only_when_old(tmp_path):
    young, old = tmp_path / "vidpipe-young", tmp_path / ".vidpipe-new-old"
    young.mkdir()
    old.mkdir()
    os.utime(old, (1, 1))
    assert reclaim_temp_dirs(tmp_path) == [old]
    assert young.exists()


def test_each_download_reclaims_what_a_crash_left(make_runtime, context, synth_clip):
    rt = make_runtime()
    tmp = rt.settings.tmp_dir
    stale = tmp / "vidpipe-crashed"
    stale.mkdir()
    (stale / TEMP_LOCK).touch()
    (stale / "video.mp4").write_bytes(b"\0" * 1024)
    put_video(rt, "demo/t1/video.mp4", synth_clip[0])
    assert frame_extract(sqs_event({"platform": "demo", "shortcode": "t1"}), context) == {
        "batchItemFailures": []
    }
    assert not stale.exists()
    assert [p.name for p in tmp.iterdir() if "vidpipe" in p.name] == []


def test_two_concurrent_records_keep_each_others_dirs(make_runtime, tmp_path):
    rt = make_runtime()
    for name in ("a", "b"):
        rt.storage.s3.put_object(Bucket=VIDEOS_BUCKET, Key=f"p/{name}/video.mp4", Body=b"v" * 10)
    inside = threading.Barrier(2, timeout=10)
    seen: dict[str, bool] = {}

    def record(name: str) -> None:
        with rt.storage.download_to_temp(VIDEOS_BUCKET, f"p/{name}/video.mp4", max_bytes=100) as p:
            inside.wait()  # both dirs exist; each download ran a reclaim
            reclaim_temp_dirs(p.parent.parent)
            inside.wait()
            seen[name] = p.exists()

    threads = [threading.Thread(target=record, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": True, "b": True}
