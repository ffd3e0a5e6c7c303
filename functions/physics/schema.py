"""The physics observation schema: what Gemini reports about a sports clip, sample by sample.

The same pydantic models are exported as JSON Schema (``vidpipe physics schema``) and passed to
Gemini as ``response_schema``, so the model's answer parses straight into them.

Coordinates are normalised to the video frame: ``x`` from 0 (left edge) to 1 (right edge), ``y``
from 0 (top edge) to 1 (bottom edge). The court is split 7 x 7 into **zones 1-49**, numbered in
reading order over the frame: zone ``7 * row + col + 1`` with ``row = floor(7 * y)`` and
``col = floor(7 * x)`` (clamped to 0-6). Zone 1 is the top-left cell, 7 the top-right, 43 the
bottom-left and 49 the bottom-right. The goals are at the left and right edges: the **goal areas**
are the middle three rows (2-4) of the outer columns, zones 15, 22, 29 (left) and 21, 28, 35
(right).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
GRID = 7
LEFT_GOAL_ZONES = frozenset({15, 22, 29})
RIGHT_GOAL_ZONES = frozenset({21, 28, 35})


def zone_of(x: float, y: float) -> int:
    """Zone 1-49 of a normalised position (see the module docstring for the numbering)."""
    col = min(GRID - 1, max(0, int(x * GRID)))
    row = min(GRID - 1, max(0, int(y * GRID)))
    return GRID * row + col + 1


def cell_of(zone: int) -> tuple[int, int]:
    """``(row, col)`` of a zone, both 0-6."""
    return (zone - 1) // GRID, (zone - 1) % GRID


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Ball(_Model):
    """The ball in one sample."""

    x: float = Field(ge=0.0, le=1.0, description="Horizontal position, 0 = left edge, 1 = right.")
    y: float = Field(ge=0.0, le=1.0, description="Vertical position, 0 = top edge, 1 = bottom.")
    zone: int = Field(ge=1, le=49, description="Court zone 1-49 (7 x 7, reading order).")
    holder: int | None = Field(
        None, description="Track id of the player holding the ball, or null when nobody does."
    )
    in_flight: bool = Field(description="True while the ball travels through the air.")


class Player(_Model):
    """One tracked player in one sample."""

    track_id: int = Field(ge=0, description="Stable id of this player for the whole clip.")
    team: Literal["A", "B"] = Field(
        description="Team A or B; the same for a track in every sample."
    )
    role: Literal["player", "goalkeeper"] = "player"
    x: float = Field(ge=0.0, le=1.0)
    y: float = Field(ge=0.0, le=1.0)
    zone: int = Field(ge=1, le=49)


class Sample(_Model):
    """Everything observed at one instant."""

    t_s: float = Field(ge=0.0, description="Time of the sample in seconds from the clip start.")
    ball: Ball | None = Field(None, description="The ball, or null when it is not visible.")
    players: list[Player] = Field(default_factory=list)


class Observation(_Model):
    """A clip's physics observation (schema version :data:`SCHEMA_VERSION`)."""

    schema_version: int = Field(SCHEMA_VERSION, description="Schema version of this document.")
    clip: str = Field(description="The clip's name, e.g. its S3 key.")
    duration_s: float = Field(ge=0.001, description="Clip duration in seconds.")
    sample_fps: float = Field(
        ge=0.001, description="Samples per second the observation was made at."
    )
    samples: list[Sample]


def json_schema() -> dict[str, object]:
    """The observation's JSON Schema (for ``vidpipe physics schema`` and documentation)."""
    return Observation.model_json_schema()
