"""Validation of a physics observation beyond parsing: every problem, one line each.

Checks, in order:

1. the JSON parses into :class:`~functions.physics.schema.Observation` (types, ranges 0-1,
   zones 1-49, teams A/B; every pydantic error becomes one problem);
2. sample times strictly increase and lie within ``[0, duration_s]``;
3. each zone agrees with its position: the point lies in the zone's cell, widened by
   :data:`ZONE_TOLERANCE` (so a position on a cell border may name either neighbour);
4. the ball's holder is one of that sample's players, and a held ball is not in flight;
5. track ids are stable: a track never changes team, and appears at most once per sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from functions.physics.schema import GRID, Observation, cell_of

#: How far (as a share of the frame) a position may lie outside its named zone's cell.
ZONE_TOLERANCE = 0.02
#: How far (seconds) a reported duration may differ from the real clip's.
DURATION_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class Problem:
    """One thing wrong: where (a JSON path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _zone_ok(x: float, y: float, zone: int) -> bool:
    row, col = cell_of(zone)
    lo_x, hi_x = col / GRID - ZONE_TOLERANCE, (col + 1) / GRID + ZONE_TOLERANCE
    lo_y, hi_y = row / GRID - ZONE_TOLERANCE, (row + 1) / GRID + ZONE_TOLERANCE
    return lo_x <= x <= hi_x and lo_y <= y <= hi_y


def parse(data: Any) -> tuple[Observation | None, list[Problem]]:
    """Parse JSON text, bytes or a dict into an Observation, or the problems that prevent it."""
    try:
        raw = json.loads(data) if isinstance(data, str | bytes) else data
    except ValueError as exc:
        return None, [Problem("$", f"not JSON: {exc}")]
    if isinstance(raw, dict) and "analysis" in raw:
        # physics.json carries how it was made (model, tokens, cost) beside the observation
        raw = {k: v for k, v in raw.items() if k != "analysis"}
    try:
        return Observation.model_validate(raw), []
    except ValidationError as exc:
        return None, [
            Problem(
                "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]),
                e["msg"],
            )
            for e in exc.errors()
        ]


def check(obs: Observation) -> list[Problem]:
    """The semantic checks 2-5 of the module docstring on a parsed observation."""
    problems: list[Problem] = []
    teams: dict[int, tuple[str, int]] = {}
    previous: float | None = None
    for i, sample in enumerate(obs.samples):
        at = f"$.samples[{i}]"
        if previous is not None and sample.t_s <= previous:
            problems.append(Problem(f"{at}.t_s", f"{sample.t_s} s is not after {previous} s"))
        if sample.t_s > obs.duration_s:
            problems.append(
                Problem(f"{at}.t_s", f"{sample.t_s} s is past the clip's {obs.duration_s} s")
            )
        previous = sample.t_s
        seen: set[int] = set()
        for j, p in enumerate(sample.players):
            pat = f"{at}.players[{j}]"
            if p.track_id in seen:
                problems.append(Problem(f"{pat}.track_id", f"track {p.track_id} appears twice"))
            seen.add(p.track_id)
            if not _zone_ok(p.x, p.y, p.zone):
                problems.append(
                    Problem(f"{pat}.zone", f"zone {p.zone} does not contain ({p.x}, {p.y})")
                )
            first = teams.setdefault(p.track_id, (p.team, i))
            if first[0] != p.team:
                problems.append(
                    Problem(
                        f"{pat}.team",
                        f"track {p.track_id} is team {p.team} "
                        f"here but team {first[0]} in "
                        f"samples[{first[1]}]",
                    )
                )
        ball = sample.ball
        if ball is None:
            continue
        if not _zone_ok(ball.x, ball.y, ball.zone):
            problems.append(
                Problem(
                    f"{at}.ball.zone", f"zone {ball.zone} does not contain ({ball.x}, {ball.y})"
                )
            )
        if ball.holder is not None:
            if ball.holder not in seen:
                problems.append(
                    Problem(
                        f"{at}.ball.holder",
                        f"holder {ball.holder} is not a tracked player in this sample",
                    )
                )
            if ball.in_flight:
                problems.append(Problem(f"{at}.ball", "a held ball cannot be in flight"))
    return problems


def validate(
    data: Any, *, clip_duration_s: float | None = None
) -> tuple[Observation | None, list[Problem]]:
    """Parse and check; the observation is returned only when there is no problem at all.

    Args:
        data: JSON text or bytes, or a dict.
        clip_duration_s: the real clip's duration in seconds, when known: ``duration_s`` must
            match it within :data:`DURATION_TOLERANCE_S`.
    """
    obs, problems = parse(data)
    if obs is None:
        return None, problems
    problems = check(obs)
    if clip_duration_s is not None and abs(obs.duration_s - clip_duration_s) > DURATION_TOLERANCE_S:
        problems.insert(
            0,
            Problem(
                "$.duration_s",
                f"{obs.duration_s} s does not match the clip's {clip_duration_s:.3f} s",
            ),
        )
    return (obs if not problems else None), problems
