"""`vidpipe frames` with PySceneDetect's conveniences: `-m/--min-scene-len` in frames or a
timecode, `scenes.csv` as `scenedetect list-scenes` writes it, `--start`/`--end`."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vidpipe.cli import app

runner = CliRunner()
COLUMNS = [
    "Scene Number",
    "Start Frame",
    "Start Timecode",
    "Start Time (seconds)",
    "End Frame",
    "End Timecode",
    "End Time (seconds)",
    "Length (frames)",
    "Length (timecode)",
    "Length (seconds)",
]


def _scenedetect(clip: Path, out: Path, *args: str) -> str:
    """The CSV that PySceneDetect's own CLI writes for ``clip`` with ``args``."""
    subprocess.run(
        [sys.executable, "-m", "scenedetect", "-i", str(clip), "-o", str(out), "-q", *args,
         "list-scenes"],
        check=True,
        timeout=300,
    )  # fmt: skip
    return (out / f"{clip.stem}-Scenes.csv").read_text()


def test_scenes_csv_is_the_file_list_scenes_writes(tmp_path, synth_clip):
    clip, cuts = synth_clip
    out = tmp_path / "o"
    result = runner.invoke(app, ["frames", str(clip), "-o", str(out)])
    assert result.exit_code == 0, result.output
    ours = (out / "scenes.csv").read_text()
    assert ours == _scenedetect(clip, tmp_path / "sd", "detect-content")
    rows = list(csv.reader(ours.splitlines()))
    assert rows[0][0] == "Timecode List:" and rows[1] == COLUMNS
    assert [int(r[1]) - 1 for r in rows[2:]] == [0, *cuts]  # Start Frame is 1-based
    # --skip-cuts: no timecode row (RFC 4180), as list-scenes -s
    runner.invoke(app, ["frames", str(clip), "-o", str(out), "--skip-cuts"])
    assert (out / "scenes.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
    runner.invoke(app, ["frames", str(clip), "-o", str(out), "--no-csv"])
    assert not (out / "scenes.csv").exists()


def test_start_end_and_min_scene_len_as_scenedetect_takes_them(tmp_path, synth_clip):
    clip, _ = synth_clip  # cuts at 50, 110, 150, 235 (25 fps)
    out = tmp_path / "o"
    result = runner.invoke(
        app,
        ["frames", str(clip), "-o", str(out), "--start", "3.5s", "--end", "00:00:09.000",
         "--min-scene-len", "0.5s"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["range"] == {"start_frame": 88, "end_frame": 225, "start_s": 3.52, "end_s": 9.0}
    assert manifest["detector"]["min_scene_len_frames"] == 12  # 0.5 s at 25 fps, rounded
    assert [(s["start_frame"], s["end_frame"]) for s in manifest["scenes"]] == [
        (88, 110),
        (110, 150),
        (150, 225),
    ]
    for s in manifest["scenes"]:  # key frames inside their scene, in whole-video frames
        assert s["start_frame"] <= s["keyframe"]["frame"] < s["end_frame"]
        assert s["keyframe"]["time_s"] == pytest.approx(s["keyframe"]["frame"] / 25)
    assert manifest["video"]["frame_count"] == 300
    assert "cuts=[110, 150]" in result.stdout
    assert (out / "scenes.csv").read_text() == _scenedetect(
        clip, tmp_path / "sd", "time", "-s", "3.5s", "-e", "00:00:09.000", "detect-content",
        "-m", "0.5s",
    )  # fmt: skip


@pytest.mark.parametrize(("value", "frames"), [("40", 40), ("1.6s", 40), ("00:00:01.600", 40)])
def test_min_scene_len_in_frames_seconds_or_a_timecode(tmp_path, synth_clip, value, frames):
    clip, cuts = synth_clip
    out = tmp_path / "o"
    result = runner.invoke(app, ["frames", str(clip), "-o", str(out), "-m", value])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["detector"]["min_scene_len_frames"] == frames
    assert [s["start_frame"] for s in manifest["scenes"][1:]] == cuts  # every scene >= 40


def test_a_longer_min_scene_len_merges_short_scenes(tmp_path, synth_clip):
    clip, cuts = synth_clip
    out = tmp_path / "o"
    result = runner.invoke(app, ["frames", str(clip), "-o", str(out), "-m", "2.2s"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    found = [s["start_frame"] for s in manifest["scenes"][1:]]
    assert found != cuts and set(found) < set(cuts)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "soon"], "--min-scene-len 'soon': expected frames (15), seconds"),
        (["--start", "5s", "--end", "4s"], "--end (4s) must come after --start (5s)"),
        (["--start", "60s"], "past the end of the video (300 frames)"),
    ],
)
def test_bad_times_are_one_line_exit_2(tmp_path, synth_clip, args, message):
    clip, _ = synth_clip
    result = runner.invoke(app, ["frames", str(clip), "-o", str(tmp_path / "o"), *args])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
