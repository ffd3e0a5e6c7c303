"""The stage registry: one entry per stage, and every path in it real."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic_settings import BaseSettings

from shared.layout import VideoLayout
from shared.stages import API_HANDLER, ENTRY_HANDLER, STAGES, Stage, spec, stage_of_handler
from tests.support.helpers import ROOT


def test_every_stage_has_exactly_one_entry():
    assert set(STAGES) == set(Stage)
    assert len({s.folder for s in STAGES.values()}) == len(STAGES)
    assert len({s.function for s in STAGES.values()}) == len(STAGES)


@pytest.mark.parametrize("stage", list(Stage))
def test_handler_and_settings_paths_resolve(stage):
    s = spec(stage)
    assert callable(s.load_handler())
    assert issubclass(s.settings_class(), BaseSettings)
    assert stage_of_handler(s.handler) == stage
    assert all(dep in STAGES for dep in s.depends_on)


def test_unknown_stage_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown stage 'telepathy'; choose from frame-extract"):
        spec("telepathy")


def test_layout_uses_the_registry_folders():
    layout = VideoLayout("instagram", "Cx1")
    assert layout.frame(3) == "instagram/Cx1/frames/3.jpg"
    assert layout.frame_manifest == "instagram/Cx1/frames/manifest.json"
    assert layout.landmarks_npz == "instagram/Cx1/landmarks/landmarks.npz"
    assert layout.rekognition_analysis == "instagram/Cx1/rekognition/analysis.json"
    assert layout.physics_events == "instagram/Cx1/physics/events.json"
    assert layout.video("mov") == "instagram/Cx1/video.mov"


def test_the_image_build_check_imports_every_handler():
    # the Dockerfile runs exactly this; outside the image it must pass too
    proc = subprocess.run(
        [sys.executable, "-m", "shared.stages"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    handlers = [ENTRY_HANDLER, API_HANDLER, *(s.handler for s in STAGES.values())]
    assert proc.stdout.split() == [w for h in handlers for w in ("ok", h)]


def test_the_dockerfile_runs_the_registry_check_and_copies_no_tooling():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "python -m shared.stages" in dockerfile
    copies = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    assert "vidpipe/" not in copies and "shared/" in copies and "functions/" in copies
