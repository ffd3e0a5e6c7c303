"""Physics observations: zones, validation messages, events and statistics (hand-written files)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from functions.physics.events import derive_events, statistics
from functions.physics.schema import Observation, json_schema, zone_of
from functions.physics.validate import validate
from tests.support.helpers import PHYSICS_DATA
from vidpipe.cli import app

FILES = PHYSICS_DATA


def load(name: str) -> Observation:
    obs, problems = validate((FILES / name).read_bytes())
    assert problems == [], problems
    assert obs is not None
    return obs


@pytest.mark.parametrize(
    ("x", "y", "zone"),
    [
        (0.0, 0.0, 1),
        (0.99, 0.0, 7),
        (0.0, 0.99, 43),
        (1.0, 1.0, 49),
        (0.5, 0.5, 25),
        (0.30, 0.50, 24),
        (0.95, 0.50, 28),
    ],
)
def test_zones_are_numbered_in_reading_order(x, y, zone):
    assert zone_of(x, y) == zone


def test_pass():
    obs = load("pass.json")
    events = derive_events(obs)
    assert [e["type"] for e in events] == ["possession", "pass", "possession"]
    assert events[1] == {
        "type": "pass",
        "team": "A",
        "t_s": 0.25,
        "from_player": 1,
        "to_player": 2,
        "from_zone": 24,
        "to_zone": 26,
    }
    assert events[0] == {
        "type": "possession",
        "t_s": 0.0,
        "end_s": 0.25,
        "player": 1,
        "team": "A",
        "start_zone": 24,
        "end_zone": 24,
    }
    stats = statistics(obs, events)
    assert stats["teams"]["A"] == {
        "possession_s": 0.5,
        "passes": 1,
        "turnovers": 0,
        "shots": 0,
        "possession_share": 1.0,
    }
    assert stats["players"]["1"]["passes_made"] == 1
    assert stats["players"]["2"]["passes_received"] == 1
    assert stats["players"]["7"]["distance_zone_steps"] == 3  # 13 -> 13 -> 20 -> 19 -> 26


def test_turnover():
    obs = load("turnover.json")
    events = derive_events(obs)
    assert [e["type"] for e in events] == ["possession", "turnover", "possession"]
    assert events[1] == {
        "type": "turnover",
        "from_team": "A",
        "to_team": "B",
        "t_s": 0.0,
        "from_player": 1,
        "to_player": 7,
        "from_zone": 24,
        "to_zone": 25,
    }
    stats = statistics(obs, events)
    assert stats["teams"]["A"]["turnovers"] == 1 and stats["teams"]["B"]["turnovers"] == 0
    assert stats["teams"]["B"]["possession_share"] == 1.0
    assert stats["players"]["7"]["distance_zone_steps"] == 2  # 25 -> 25 -> 25 -> 23


def test_shot_explains_the_change_of_team():
    obs = load("shot.json")
    events = derive_events(obs)
    assert [e["type"] for e in events] == ["possession", "shot", "possession"]
    assert events[1] == {
        "type": "shot",
        "t_s": 0.25,
        "player": 2,
        "team": "A",
        "from_zone": 27,
        "target": "right",
        "end_zone": 28,
    }
    stats = statistics(obs, events)
    assert (stats["teams"]["A"]["shots"], stats["teams"]["A"]["turnovers"]) == (1, 0)


def test_a_flight_away_from_the_goal_is_not_a_shot():
    data = json.loads((FILES / "shot.json").read_text())
    data["samples"][1]["ball"] |= {"x": 0.70, "zone": zone_of(0.70, 0.48)}
    obs, problems = validate(data)
    assert problems == [] and obs is not None
    assert [e["type"] for e in derive_events(obs)] == ["possession", "turnover", "possession"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "invalid_times_and_range.json",
            [
                "$.samples[1].t_s: 0.25 s is not after 0.5 s",
                "$.samples[2].t_s: 1.5 s is past the clip's 1.0 s",
            ],
        ),
        (
            "invalid_semantics.json",
            [
                "$.samples[0].players[1].track_id: track 1 appears twice",
                "$.samples[0].ball.zone: zone 3 does not contain (0.3, 0.5)",
                "$.samples[0].ball.holder: holder 5 is not a tracked player in this sample",
                "$.samples[0].ball: a held ball cannot be in flight",
                "$.samples[1].players[0].zone: zone 30 does not contain (0.3, 0.5)",
                "$.samples[1].players[0].team: track 1 is team B here but team A in samples[0]",
            ],
        ),
        (
            "invalid_types.json",
            [
                "$.samples[0].ball.x: Input should be less than or equal to 1",
                "$.samples[0].ball.zone: Input should be less than or equal to 49",
                "$.samples[0].players[0].team: Input should be 'A' or 'B'",
                "$.extra: Extra inputs are not permitted",
            ],
        ),
    ],
)
def test_invalid_files_name_every_problem(name, expected):
    obs, problems = validate((FILES / name).read_bytes())
    assert obs is None
    assert [str(p) for p in problems] == expected


def test_not_json():
    obs, problems = validate(b"{nope")
    assert obs is None and str(problems[0]).startswith("$: not JSON")


def test_schema_export_describes_the_model():
    schema = json_schema()
    assert schema["title"] == "Observation"
    ball = schema["$defs"]["Ball"]["properties"]
    assert ball["zone"]["minimum"] == 1 and ball["zone"]["maximum"] == 49
    assert ball["x"]["maximum"] == 1.0


runner = CliRunner()


def test_cli_validate_prints_each_problem_and_fails():
    result = runner.invoke(app, ["physics", "validate", str(FILES / "invalid_semantics.json")])
    assert result.exit_code == 1
    assert (
        result.stdout.splitlines()[0] == "$.samples[0].players[1].track_id: track 1 appears twice"
    )
    assert len(result.stdout.splitlines()) == 6


def test_cli_validate_accepts_a_valid_file():
    result = runner.invoke(app, ["physics", "validate", str(FILES / "pass.json")])
    assert result.exit_code == 0 and "valid (5 samples over 2 s)" in result.stdout


def test_cli_events_with_stats(tmp_path):
    out = tmp_path / "pass_events.json"
    result = runner.invoke(
        app, ["physics", "events", str(FILES / "pass.json"), "-o", str(out), "--stats"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["clip"] == "pass.mp4"
    assert [e["type"] for e in doc["events"]] == ["possession", "pass", "possession"]
    assert doc["statistics"]["teams"]["A"]["passes"] == 1


def test_cli_events_refuses_an_invalid_file(tmp_path):
    result = runner.invoke(
        app,
        ["physics", "events", str(FILES / "invalid_types.json"), "-o", str(tmp_path / "x.json")],
    )
    assert result.exit_code == 1
    assert not (tmp_path / "x.json").exists()


def test_cli_schema_is_json():
    result = runner.invoke(app, ["physics", "schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "Observation"
