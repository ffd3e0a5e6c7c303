"""The pictures on real videos: frame-extract's GIF and contact sheet, the landmarks skeleton
overlay, the physics plots, previews off, and the stage commands' --no-previews."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageSequence
from typer.testing import CliRunner

from functions.frame_extract.handler import lambda_handler as frame_extract_handler
from functions.physics.events import derive_events, statistics
from functions.physics.previews import court_png, physics_previews, possession_png
from functions.physics.validate import validate
from shared.layout import PREVIEW_FILES, VideoLayout
from shared.manifest import FrameManifest
from shared.previews.images import timecode
from shared.stages import Stage
from tests.support.helpers import FRAMES_BUCKET, PHYSICS_DATA, put_video, s3_body, sample, sqs_event
from vidpipe.cli import app

runner = CliRunner()


def gif_frames(data: bytes) -> list[Image.Image]:
    return [f.convert("RGB") for f in ImageSequence.Iterator(Image.open(io.BytesIO(data)))]


def test_timecode_is_hours_minutes_seconds_milliseconds():
    assert [timecode(t) for t in (0, 1.4, 22.2405, 3725.0019)] == [
        "00:00:00.000",
        "00:00:01.400",
        "00:00:22.240",
        "01:02:05.002",
    ]
    with pytest.raises(ValueError, match="finite time"):
        timecode(-1)


@pytest.mark.samples
def test_frame_extract_writes_a_six_frame_gif_and_a_contact_sheet_labelled_by_timecode(
    runtime, context
):
    # given documentary_cuts.mp4, six scenes
    put_video(runtime, "demo/doc1/video.mp4", sample("documentary_cuts.mp4"))
    layout = VideoLayout("demo", "doc1")
    # when the real handler runs
    assert frame_extract_handler(sqs_event(s3_body("demo/doc1/video.mp4")), context) == {
        "batchItemFailures": []
    }
    # then the GIF has exactly the 6 key frames, each at most 480 px wide
    manifest = FrameManifest.parse(runtime.storage.get_bytes(FRAMES_BUCKET, layout.frame_manifest))
    gif = runtime.storage.get_bytes(FRAMES_BUCKET, layout.frames_preview_gif)
    frames = gif_frames(gif)
    assert len(manifest.scenes) == len(frames) == 6
    assert all(f.width <= 480 for f in frames) and frames[0].width == 480
    assert Image.open(io.BytesIO(gif)).info["duration"] == 800
    # each GIF frame is its key frame (compared at the GIF's size)
    for scene, frame in zip(manifest.scenes, frames, strict=True):
        jpeg = runtime.storage.get_bytes(FRAMES_BUCKET, layout.frame(scene.index))
        key = Image.open(io.BytesIO(jpeg)).convert("RGB").resize(frame.size)
        assert np.abs(np.asarray(key, float) - np.asarray(frame, float)).mean() < 12
    # the contact sheet's labels follow the manifest's timecodes, scene by scene
    sheet = Image.open(io.BytesIO(runtime.storage.get_bytes(FRAMES_BUCKET, layout.contact_sheet)))
    labels = sheet.info["comment"].decode().splitlines()
    assert labels == [f"scene {s.index}  {timecode(s.keyframe.time_s)}" for s in manifest.scenes]
    assert labels[0] == "scene 0  00:00:01.400"
    assert sheet.width == 3 * 320 + 4 * 4  # 3 columns of 320 px tiles for 6 key frames


@pytest.mark.parametrize("switch", ["PREVIEWS", "FRAMES_PREVIEWS"])
def test_previews_off_writes_none_of_the_new_files_and_removes_old_ones(
    runtime, context, synth_clip, monkeypatch, switch
):
    from shared.batch import get_runtime
    from shared.config import get_settings

    clip, _ = synth_clip
    layout = VideoLayout("demo", "off1")
    put_video(runtime, "demo/off1/video.mp4", clip)
    # a first run with previews on writes them
    assert frame_extract_handler(sqs_event(s3_body("demo/off1/video.mp4")), context)
    listed = set(runtime.storage.list_keys(FRAMES_BUCKET, layout.base))
    assert set(layout.previews(Stage.FRAME_EXTRACT)) <= listed
    # when the same video runs again with previews off
    monkeypatch.setenv(switch, "false")
    get_settings.cache_clear()
    get_runtime.cache_clear()
    rt = get_runtime()
    _forget(rt, layout)
    assert frame_extract_handler(sqs_event(s3_body("demo/off1/video.mp4")), context)
    # then no preview is left and the key frames and manifest are there
    listed = set(rt.storage.list_keys(FRAMES_BUCKET, layout.base))
    assert not listed & set(layout.previews(Stage.FRAME_EXTRACT))
    assert layout.frame_manifest in listed and layout.frame(0) in listed


def _forget(rt, layout):
    """Clear the video's status rows (what an operator does to run a stage again)."""
    import sqlite3

    with sqlite3.connect(rt.settings.sqlite_path) as db:
        for table in ("video_stages", "videos"):
            db.execute(
                f"DELETE FROM {table} WHERE platform = ? AND shortcode = ?",
                (layout.platform, layout.shortcode),
            )


@pytest.mark.parametrize("name", ["pass", "shot", "turnover"])
def test_court_and_possession_plots_are_deterministic(name):
    raw = (PHYSICS_DATA / f"{name}.json").read_bytes()
    obs, problems = validate(raw)
    assert obs is not None, problems
    events = derive_events(obs)
    doc = {"clip": obs.clip, "events": events, "statistics": statistics(obs, events)}
    observation = json.loads(raw)
    first, second = court_png(observation, doc), court_png(observation, doc)
    assert first == second
    court = Image.open(io.BytesIO(first))
    assert court.format == "PNG" and court.size == (800, 600)
    assert possession_png(observation, doc) == possession_png(observation, doc)
    # the arrows are drawn: the picture differs from the same court without events
    assert court_png(observation, {"events": []}) != first
    assert set(physics_previews(observation, doc)) == set(PREVIEW_FILES[Stage.PHYSICS])


def test_physics_events_command_draws_the_plots_unless_told_not_to(tmp_path):
    src = PHYSICS_DATA / "pass.json"
    ok = runner.invoke(app, ["physics", "events", str(src), "-o", str(tmp_path / "e.json")])
    assert ok.exit_code == 0, ok.output
    assert Image.open(tmp_path / "e_court.png").format == "PNG"
    assert Image.open(tmp_path / "e_possession.png").format == "PNG"
    off = tmp_path / "off"
    ok = runner.invoke(
        app, ["physics", "events", str(src), "-o", str(off / "e.json"), "--no-previews"]
    )
    assert ok.exit_code == 0, ok.output
    assert sorted(p.name for p in off.iterdir()) == ["e.json"]


def test_frames_command_writes_previews_and_no_previews_writes_none(tmp_path, synth_clip):
    clip, cuts = synth_clip
    on = runner.invoke(app, ["frames", str(clip), "--out", str(tmp_path / "on")])
    assert on.exit_code == 0, on.output
    assert len(gif_frames((tmp_path / "on" / "preview.gif").read_bytes())) == len(cuts) + 1
    assert Image.open(tmp_path / "on" / "contact_sheet.jpg").format == "JPEG"
    off = runner.invoke(app, ["frames", str(clip), "--out", str(tmp_path / "off"), "--no-previews"])
    assert off.exit_code == 0, off.output
    names = {p.name for p in (tmp_path / "off").iterdir()}
    assert names == {"manifest.json", "scenes.csv", *(f"{i}.jpg" for i in range(len(cuts) + 1))}
