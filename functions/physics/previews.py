"""physics' pictures: ``physics/court.png`` (the 7 x 7 zone grid with each team's player paths,
the ball's path, and passes, turnovers and shots as arrows) and ``physics/possession.png`` (a
possession timeline per team) (docs/previews.md).

Both are drawn with matplotlib from the ``physics.json`` observation and the ``events.json``
document (plain dicts, as stored), deterministically: the same documents give the same PNG
bytes. Positions are the frame-normalised ``x``, ``y`` of the observation (``y`` downwards).
"""

from __future__ import annotations

from typing import Any

from functions.physics.schema import GRID, LEFT_GOAL_ZONES, RIGHT_GOAL_ZONES, cell_of
from functions.physics.settings import PhysicsSettings
from shared.config import Settings
from shared.layout import PHYSICS_COURT, PHYSICS_POSSESSION
from shared.previews.images import png_bytes, use_matplotlib

#: Team colours.
TEAM_COLORS = {"A": "#1f77b4", "B": "#d62728"}
TURNOVER_COLOR = "#9467bd"
SHOT_COLOR = "#ff9f1c"
BALL_COLOR = "#222222"


def previews_on(settings: Settings, stage: PhysicsSettings) -> bool:
    """``PREVIEWS`` and ``GEMINI_PREVIEWS``."""
    return settings.previews and stage.previews


def zone_centre(zone: int) -> tuple[float, float]:
    """``(x, y)`` of a zone's centre (zones 1-49, 7 x 7 in reading order)."""
    row, col = cell_of(zone)
    return (col + 0.5) / GRID, (row + 0.5) / GRID


def _where(samples: list[dict[str, Any]], track: int | None, t_s: float) -> tuple[float, float]:
    """The position of ``track`` in the sample at ``t_s`` (the nearest sample that has it)."""
    best: tuple[float, tuple[float, float]] | None = None
    for s in samples:
        for p in s.get("players", []):
            if p["track_id"] == track:
                d = abs(s["t_s"] - t_s)
                if best is None or d < best[0]:
                    best = (d, (p["x"], p["y"]))
    if best is None:
        raise KeyError(track)
    return best[1]


def _receipt(samples: list[dict[str, Any]], track: int | None, after_s: float) -> float:
    """When ``track`` next holds the ball after ``after_s`` (else ``after_s``)."""
    for s in samples:
        ball = s.get("ball")
        if s["t_s"] > after_s and ball is not None and ball.get("holder") == track:
            return float(s["t_s"])
    return after_s


def arrows(observation: dict[str, Any], events: dict[str, Any]) -> list[dict[str, Any]]:
    """The court's arrows: ``{"type", "team", "start": (x, y), "end": (x, y)}`` for every
    pass and turnover (from the passer where the spell ended to the receiver where the next
    spell began) and shot (from the shooter to the middle of the goal line it aims at); zone
    centres where a player is missing from the samples."""
    samples = observation.get("samples", [])
    out = []
    for e in events.get("events", []):
        kind = e["type"]
        if kind in ("pass", "turnover"):
            try:
                start = _where(samples, e["from_player"], e["t_s"])
            except KeyError:
                start = zone_centre(e["from_zone"])
            try:
                end = _where(samples, e["to_player"], _receipt(samples, e["to_player"], e["t_s"]))
            except KeyError:
                end = zone_centre(e["to_zone"])
            team = e["team"] if kind == "pass" else e["from_team"]
        elif kind == "shot":
            try:
                start = _where(samples, e["player"], e["t_s"])
            except KeyError:
                start = zone_centre(e["from_zone"])
            end = (0.0 if e["target"] == "left" else 1.0, 0.5)
            team = e["team"]
        else:
            continue
        out.append({"type": kind, "team": team, "start": start, "end": end})
    return out


def court_png(observation: dict[str, Any], events: dict[str, Any]) -> bytes:
    """``court.png``: the zone grid (goal areas shaded, zone numbers), each player's path in
    their team's colour (a dot where the track starts), the ball's path (dashed), and arrows:
    passes in the team's colour, turnovers purple and dashed, shots orange and thick."""
    plt = use_matplotlib()
    from matplotlib.patches import FancyArrowPatch, Rectangle

    fig, ax = plt.subplots(figsize=(8, 6))
    for zone in range(1, GRID * GRID + 1):
        row, col = cell_of(zone)
        goal = zone in LEFT_GOAL_ZONES or zone in RIGHT_GOAL_ZONES
        ax.add_patch(
            Rectangle(
                (col / GRID, row / GRID),
                1 / GRID,
                1 / GRID,
                facecolor="#dff0d8" if goal else "#f4faf2",
                edgecolor="#9bbf8f",
                linewidth=0.8,
            )
        )
        ax.text((col + 0.08) / GRID, (row + 0.2) / GRID, str(zone), fontsize=6, color="#6b8f60")
    samples = observation.get("samples", [])
    tracks: dict[int, tuple[str, list[tuple[float, float]]]] = {}
    for s in samples:
        for p in s.get("players", []):
            tracks.setdefault(p["track_id"], (p["team"], []))[1].append((p["x"], p["y"]))
    seen_team: set[str] = set()
    for track_id in sorted(tracks):
        team, pts = tracks[track_id]
        color = TEAM_COLORS.get(team, "grey")
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        label = f"team {team} paths" if team not in seen_team else None
        seen_team.add(team)
        ax.plot(xs, ys, color=color, linewidth=1.5, alpha=0.8, label=label)
        ax.plot(xs[:1], ys[:1], "o", color=color, markersize=5)
        ax.annotate(str(track_id), (xs[-1], ys[-1]), fontsize=7, color=color)
    ball = [(s["ball"]["x"], s["ball"]["y"]) for s in samples if s.get("ball") is not None]
    if ball:
        ax.plot(
            [b[0] for b in ball],
            [b[1] for b in ball],
            linestyle="--",
            color=BALL_COLOR,
            linewidth=1,
            label="ball",
        )
    styles: dict[str, dict[str, Any]] = {
        "pass": {"linewidth": 1.8, "linestyle": "-"},
        "turnover": {"linewidth": 1.8, "linestyle": "--", "color": TURNOVER_COLOR},
        "shot": {"linewidth": 3.0, "linestyle": "-", "color": SHOT_COLOR},
    }
    labelled: set[str] = set()
    for a in arrows(observation, events):
        style: dict[str, Any] = {"color": TEAM_COLORS.get(a["team"], "grey"), **styles[a["type"]]}
        ax.add_patch(
            FancyArrowPatch(
                a["start"], a["end"], arrowstyle="-|>", mutation_scale=14, zorder=5, **style
            )
        )
        if a["type"] not in labelled:
            labelled.add(a["type"])
            ax.plot([], [], label=a["type"] + ("es" if a["type"] == "pass" else "s"), **style)
    ax.set_xlim(0, 1)
    ax.set_ylim(1, 0)
    ax.set_aspect("auto")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(
        f"{observation.get('clip', '')}: paths, passes, turnovers, shots "
        "(goal areas shaded; left and right edges are the goals)",
        fontsize=9,
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=6, fontsize=8, frameon=False)
    fig.tight_layout()
    return png_bytes(fig)


def possession_png(observation: dict[str, Any], events: dict[str, Any]) -> bytes:
    """``possession.png``: one row per team with a bar for each possession spell (at least one
    sample interval long), and markers for its passes (o), shots (*) and turnovers committed
    (x), against time in seconds."""
    plt = use_matplotlib()
    duration = float(observation.get("duration_s") or 0.0)
    fps = float(observation.get("sample_fps") or 1.0)
    fig, ax = plt.subplots(figsize=(9, 2.4))
    teams = ["A", "B"]
    marks = {"pass": "o", "shot": "*", "turnover": "x"}
    for row, team in enumerate(teams):
        color = TEAM_COLORS[team]
        spans = [
            (e["t_s"], max(e["end_s"] - e["t_s"], 1.0 / fps))
            for e in events.get("events", [])
            if e["type"] == "possession" and e["team"] == team
        ]
        ax.broken_barh(spans, (row - 0.3, 0.6), facecolors=color, alpha=0.6)
        for kind, marker in marks.items():
            ts = [
                e["t_s"]
                for e in events.get("events", [])
                if e["type"] == kind and e.get("team", e.get("from_team")) == team
            ]
            if ts:
                ax.plot(ts, [row] * len(ts), marker, color="black", markersize=7, linestyle="")
    for kind, marker in marks.items():
        ax.plot([], [], marker, color="black", linestyle="", label=kind)
    ax.set_yticks(range(len(teams)), [f"team {t}" for t in teams])
    ax.set_ylim(-0.6, len(teams) - 0.4)
    ax.set_xlim(0, max(duration, 1.0 / fps))
    ax.set_xlabel("time (s)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper right", fontsize=7, ncol=3)
    ax.set_title(f"{observation.get('clip', '')}: possession per team", fontsize=9)
    fig.tight_layout()
    return png_bytes(fig)


def physics_previews(observation: dict[str, Any], events: dict[str, Any]) -> dict[str, bytes]:
    """``{"court.png": ..., "possession.png": ...}``."""
    return {
        PHYSICS_COURT: court_png(observation, events),
        PHYSICS_POSSESSION: possession_png(observation, events),
    }
