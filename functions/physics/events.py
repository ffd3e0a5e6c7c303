"""Events and statistics derived deterministically from a validated observation.

Definitions (times in seconds, zones 1-49 as in :mod:`functions.physics.schema`):

* **possession spell**: a maximal run of samples in which the ball has the same holder; it
  starts at the first such sample and ends at the last.
* **pass**: a spell followed (after any samples with no holder) by a spell of another player of
  the same team. Time: when the first spell ends.
* **turnover**: a spell followed by a spell of a player of the other team, unless a shot
  happened in between (a shot explains the change). Time: when the first spell ends.
* **shot**: the ball in flight after a spell, moving towards a goal (its ``x`` changes towards
  that side between the flight's first and last samples), and reaching that goal's area
  (zones 15/22/29 on the left, 21/28/35 on the right) while in flight or in the first sample
  after the flight.
* **statistics**, per team: possession share (its spells' summed duration over all spells'),
  passes, turnovers (committed), shots; per player: possession seconds, passes made and
  received, turnovers, shots, and distance covered in **zone steps**: the Chebyshev distance
  between consecutive zones of the track (one step to any of the 8 neighbouring cells), summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.physics.schema import (
    LEFT_GOAL_ZONES,
    RIGHT_GOAL_ZONES,
    Observation,
    cell_of,
)


@dataclass(frozen=True)
class Spell:
    """A run of samples with one holder: sample indices ``first``..``last`` (inclusive)."""

    player: int
    team: str
    first: int
    last: int


def spells(obs: Observation) -> list[Spell]:
    """Possession spells in time order (a sample without a holder ends the current spell)."""
    team_of = {p.track_id: p.team for s in obs.samples for p in s.players}
    out: list[Spell] = []
    current: Spell | None = None
    for i, s in enumerate(obs.samples):
        holder = s.ball.holder if s.ball is not None else None
        if holder is None:
            current = None
        elif current is not None and current.player == holder:
            current = out[-1] = Spell(holder, current.team, current.first, i)
        else:
            current = Spell(holder, team_of[holder], i, i)
            out.append(current)
    return out


def _shot(obs: Observation, after: Spell, before_next: int) -> dict[str, Any] | None:
    """A shot in the flight between ``after`` and sample ``before_next`` (exclusive), if any."""
    flight = [
        i
        for i in range(after.last + 1, before_next)
        if (b := obs.samples[i].ball) is not None and b.in_flight
    ]
    if not flight:
        return None
    # where the ball went: the flight, and the first sample after it (a save, a goal)
    reach = [obs.samples[i].ball for i in [*flight, flight[-1] + 1] if i < len(obs.samples)]
    zones = [b.zone for b in reach if b is not None]
    start = obs.samples[after.last].ball
    last = obs.samples[flight[-1]].ball
    assert start is not None and last is not None
    if last.x < start.x:
        goal, target = LEFT_GOAL_ZONES, "left"
    elif last.x > start.x:
        goal, target = RIGHT_GOAL_ZONES, "right"
    else:
        return None
    end_zone = next((z for z in zones if z in goal), None)
    if end_zone is None:
        return None
    return {
        "type": "shot",
        "t_s": obs.samples[flight[0]].t_s,
        "player": after.player,
        "team": after.team,
        "from_zone": start.zone,
        "target": target,
        "end_zone": end_zone,
    }


def derive_events(obs: Observation) -> list[dict[str, Any]]:
    """Possession spells, passes, turnovers and shots, in time order."""
    runs = spells(obs)
    events: list[dict[str, Any]] = []
    for k, sp in enumerate(runs):
        start, end = obs.samples[sp.first], obs.samples[sp.last]
        events.append(
            {
                "type": "possession",
                "t_s": start.t_s,
                "end_s": end.t_s,
                "player": sp.player,
                "team": sp.team,
                "start_zone": start.ball.zone if start.ball else None,
                "end_zone": end.ball.zone if end.ball else None,
            }
        )
        nxt = runs[k + 1] if k + 1 < len(runs) else None
        shot = _shot(obs, sp, nxt.first if nxt else len(obs.samples))
        if shot is not None:
            events.append(shot)
        if nxt is None or nxt.player == sp.player:
            continue
        received = obs.samples[nxt.first].ball
        base = {
            "t_s": end.t_s,
            "from_player": sp.player,
            "to_player": nxt.player,
            "from_zone": end.ball.zone if end.ball else None,
            "to_zone": received.zone if received else None,
        }
        if nxt.team == sp.team:
            events.append({"type": "pass", "team": sp.team, **base})
        elif shot is None:
            events.append({"type": "turnover", "from_team": sp.team, "to_team": nxt.team, **base})
    return sorted(events, key=lambda e: (e["t_s"], e["type"] != "possession"))


def statistics(obs: Observation, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-team and per-player statistics (see the module docstring)."""
    team_of = {p.track_id: p.team for s in obs.samples for p in s.players}
    teams: dict[str, dict[str, Any]] = {
        t: {"possession_s": 0.0, "passes": 0, "turnovers": 0, "shots": 0}
        for t in sorted(set(team_of.values()))
    }
    players: dict[int, dict[str, Any]] = {
        tid: {
            "team": team,
            "possession_s": 0.0,
            "passes_made": 0,
            "passes_received": 0,
            "turnovers": 0,
            "shots": 0,
            "distance_zone_steps": 0,
        }
        for tid, team in sorted(team_of.items())
    }
    for e in events:
        if e["type"] == "possession":
            held = e["end_s"] - e["t_s"]
            teams[e["team"]]["possession_s"] += held
            players[e["player"]]["possession_s"] += held
        elif e["type"] == "pass":
            teams[e["team"]]["passes"] += 1
            players[e["from_player"]]["passes_made"] += 1
            players[e["to_player"]]["passes_received"] += 1
        elif e["type"] == "turnover":
            teams[e["from_team"]]["turnovers"] += 1
            players[e["from_player"]]["turnovers"] += 1
        elif e["type"] == "shot":
            teams[e["team"]]["shots"] += 1
            players[e["player"]]["shots"] += 1
    last_zone: dict[int, int] = {}
    for s in obs.samples:
        for p in s.players:
            if p.track_id in last_zone:
                (r0, c0), (r1, c1) = cell_of(last_zone[p.track_id]), cell_of(p.zone)
                players[p.track_id]["distance_zone_steps"] += max(abs(r1 - r0), abs(c1 - c0))
            last_zone[p.track_id] = p.zone
    total = sum(t["possession_s"] for t in teams.values())
    for t in teams.values():
        t["possession_share"] = round(t["possession_s"] / total, 4) if total else 0.0
        t["possession_s"] = round(t["possession_s"], 3)
    for stats in players.values():
        stats["possession_s"] = round(stats["possession_s"], 3)
    return {"teams": teams, "players": {str(k): v for k, v in players.items()}}
