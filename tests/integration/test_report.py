"""The per-video summary.txt and report.html: built from S3 outputs, shown in a real headless
browser (Debian's chromium through its chromedriver), untrusted text escaped."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from functions.frame_extract.handler import lambda_handler as frame_extract_handler
from functions.physics.events import derive_events, statistics
from functions.physics.previews import physics_previews
from functions.physics.validate import validate
from functions.rekognition.previews import storyboard_jpeg
from shared.batch import Runtime
from shared.layout import VideoLayout
from shared.previews.report import collect, render_summary, write_video_report
from shared.stages import STAGES, Stage
from tests.support.browser import chromium
from tests.support.helpers import FRAMES_BUCKET, PHYSICS_DATA, put_video, s3_body, sqs_event

EVIL = "<script>window.__pwned = 1</script>"


def analysis_doc(manifest: dict[str, Any]) -> dict[str, Any]:
    """A rekognition analysis of the key frames with an untrusted label and celebrity name."""
    frames = []
    for s in manifest["scenes"]:
        kf = s["keyframe"]
        frames.append(
            {
                "frame": kf["frame"],
                "time_s": kf["time_s"],
                "scene": s["index"],
                "faces_checked": True,
                "labels": [
                    {
                        "name": EVIL,
                        "confidence": 99.0,
                        "categories": [],
                        "parents": [],
                        "instances": 0,
                    },
                    {
                        "name": "Person",
                        "confidence": 90.0,
                        "categories": [],
                        "parents": [],
                        "instances": 1,
                    },
                ],
                "faces": [
                    {
                        "bounding_box": {"Width": 0.2, "Height": 0.3, "Left": 0.4, "Top": 0.2},
                        "confidence": 99.0,
                        "age_range": {"low": 20, "high": 30},
                        "gender": {"value": "Female", "confidence": 90.0},
                        "emotions": [{"type": "HAPPY", "confidence": 91.0}],
                    }
                ],
                "celebrities": [
                    {
                        "name": '<img src=x onerror="window.__pwned=2">',
                        "id": "c1",
                        "confidence": 95.0,
                        "urls": [],
                        "bounding_box": {"Width": 0.2, "Height": 0.3, "Left": 0.4, "Top": 0.2},
                    }
                ],
            }
        )
    return {
        "schema_version": 1,
        "emulated": True,
        "frame_source": "manifest",
        "video": manifest["video"],
        "frames": frames,
        "scenes": [
            {
                "index": s["index"],
                "start_s": s["start_s"],
                "end_s": s["end_s"],
                "frames": [s["keyframe"]["frame"]],
                "top_labels": [{"name": EVIL, "frames": 1, "max_confidence": 99.0}],
                "dominant_emotions": ["HAPPY"],
                "characters": [],
                "max_faces": 1,
            }
            for s in manifest["scenes"]
        ],
        "summary": {
            "people_count_estimate": 1,
            "top_objects": [],
            "top_places": [],
            "top_emotions": [],
            "celebrities": [],
        },
        "metrics": {
            "frames_analyzed": len(frames),
            "api_calls": {},
            "calls_saved_by_gating": 0,
            "estimated_cost_usd": 0.012,
            "price_per_image_usd": 0.001,
            "analysis_seconds": 1.5,
        },
    }


@pytest.fixture
def reported(runtime: Runtime, context, synth_clip, tmp_path) -> tuple[Path, list[str]]:
    """A video with frame-extract run by its handler, a rekognition analysis and physics
    results in S3, its report written and the prefix synced to a folder."""
    clip, _ = synth_clip
    put_video(runtime, "demo/rep1/video.mp4", clip)
    assert frame_extract_handler(sqs_event(s3_body("demo/rep1/video.mp4")), context) == {
        "batchItemFailures": []
    }
    layout = VideoLayout("demo", "rep1")
    s3 = runtime.storage
    manifest = s3.get_json(FRAMES_BUCKET, layout.frame_manifest)
    analysis = analysis_doc(manifest)
    s3.put_json(FRAMES_BUCKET, layout.rekognition_analysis, analysis)
    tiles = {
        s["keyframe"]["frame"]: Image.open(
            io.BytesIO(s3.get_bytes(FRAMES_BUCKET, layout.frame(s["index"])))
        ).convert("RGB")
        for s in manifest["scenes"]
    }
    s3.put_bytes(
        FRAMES_BUCKET,
        layout.rekognition_storyboard,
        storyboard_jpeg(analysis, tiles) or b"",
        "image/jpeg",
    )
    raw = (PHYSICS_DATA / "pass.json").read_bytes()
    obs, _ = validate(raw)
    assert obs is not None
    events = derive_events(obs)
    doc = {"clip": obs.clip, "events": events, "statistics": statistics(obs, events)}
    s3.put_json(FRAMES_BUCKET, layout.physics_observation, json.loads(raw))
    s3.put_json(FRAMES_BUCKET, layout.physics_events, doc)
    for name, data in physics_previews(json.loads(raw), doc).items():
        s3.put_bytes(FRAMES_BUCKET, layout.key(Stage.PHYSICS, name), data, "image/png")
    keys = write_video_report(
        s3, FRAMES_BUCKET, "demo", "rep1", runtime.status.stages("demo", "rep1")
    )
    out = tmp_path / "synced"
    for key in s3.list_keys(FRAMES_BUCKET, layout.base):
        target = out / layout.relative(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_bytes(FRAMES_BUCKET, key))
    return out, keys


def test_write_video_report_writes_summary_and_report_beside_the_stage_folders(reported):
    out, keys = reported
    assert keys == ["demo/rep1/summary.txt", "demo/rep1/report.html"]
    summary = (out / "summary.txt").read_text()
    lines = summary.splitlines()
    assert lines[0] == "vidpipe summary: demo/rep1"
    assert lines[1] == "video:     12.000 s, 640x360, 25 fps, 300 frames"
    by_stage = {
        line.split()[0]: line for line in lines if line.split()[:1] and line.split()[0] in STAGES
    }
    assert (
        "succeeded" in by_stage["frame-extract"] and "5 scenes, 4 cuts" in by_stage["frame-extract"]
    )
    assert "not run" in by_stage["landmarks"]
    assert (
        "output present" in by_stage["rekognition"]
        and "5 frames, 2 labels, 5 faces" in by_stage["rekognition"]
    )
    assert (
        "9 samples, 1 pass, 0 turnovers, 0 shots" in by_stage["physics"]
        or "1 pass" in by_stage["physics"]
    )
    assert "cost estimate: rekognition $0.0120" in summary
    assert "  frames/preview.gif" in lines and "  report.html" in lines
    html = (out / "report.html").read_text()
    assert EVIL not in html and "&lt;script&gt;" in html
    assert 'src="frames/0.jpg"' in html and "s3://" not in html.split("<body>")[1].split("</p>")[1]


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path / "chromium-profile") as driver:
        yield driver


def test_the_report_loads_every_image_without_console_errors_in_a_real_browser(reported, browser):
    out, _ = reported
    browser.get((out / "report.html").as_uri())
    browser.execute_script(
        "return Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))"
    )
    images = browser.execute_script(
        "return Array.from(document.images)"
        ".map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
    )
    srcs = [src for src, _, _ in images]
    # 5 key frames, the two frame previews, the storyboard and the two physics plots
    assert len(images) == 5 + 2 + 1 + 2
    assert {
        "frames/preview.gif",
        "frames/contact_sheet.jpg",
        "rekognition/storyboard.jpg",
        "physics/court.png",
        "physics/possession.png",
    } <= set(srcs)
    assert all(complete and width > 0 for _, complete, width in images), images
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('#stages tr[data-stage]'))"
        ".map(r => r.dataset.stage)"
    )
    assert rows == list(STAGES)
    # untrusted text is shown as text and never runs
    assert browser.execute_script("return window.__pwned === undefined")
    labels = browser.execute_script("return document.querySelector('#labels').innerText")
    assert EVIL in labels
    assert browser.execute_script("return document.querySelectorAll('script').length") == 0


def test_collect_without_outputs_says_not_run(runtime):
    report = collect(runtime.storage, FRAMES_BUCKET, "demo", "nothing")
    assert [s.status for s in report.stages] == ["not run"] * len(STAGES)
    assert "unknown" in render_summary(report)
