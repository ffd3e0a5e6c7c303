"""Which stages an upload runs, and in what order (docs/plans.md).

A plan comes from the first of these that says anything:

1. a direct job's ``"stages"`` (with its per-stage ``"options"``);
2. the video object's user metadata: ``x-amz-meta-vidpipe-stages: frame-extract,landmarks``;
   ``x-amz-meta-vidpipe-options: {"landmarks": {...}}`` (JSON) gives options to whichever plan
   is chosen when the message gives none;
3. ``PIPELINE_ROUTES`` for the video's platform;
4. ``PIPELINE_DEFAULT_STAGES`` (``frame-extract``).

A message that reaches one stage's own queue (an S3 event wired straight to it) plans that
stage alone unless the message or the object's metadata names stages; a direct job without
``"stages"`` sent to a stage's queue (the seed's way to ask one stage for one video) runs that
stage outside any plan (:func:`shared.batch.run_batch`).

The registry (:mod:`shared.stages`) orders the plan: a stage runs after the stages it
``depends_on`` that are in the plan too, and a stage's ``requires`` are added to the plan.
Unknown stage names, and options for a stage that is not in the plan, are permanent errors that
name them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.errors import InvalidMessageError
from shared.stages import STAGES, Stage

#: User-metadata keys (S3 lower-cases them and drops the ``x-amz-meta-`` prefix).
META_STAGES = "vidpipe-stages"
META_OPTIONS = "vidpipe-options"


@dataclass(frozen=True)
class Plan:
    """The stages of one upload in run order, their options, and where the plan came from.

    Attributes:
        stages: stage names, dependencies before dependents.
        options: per-stage options, ``{stage: {...}}``, only for planned stages.
        source: ``message``, ``metadata``, ``route``, ``default`` or ``stage``.
    """

    stages: tuple[Stage, ...]
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "default"

    def deps(self, stage: Stage) -> tuple[Stage, ...]:
        """The planned stages ``stage`` waits for."""
        spec = STAGES[stage]
        wanted = set(spec.depends_on) | set(spec.requires)
        return tuple(s for s in self.stages if s in wanted)

    def roots(self) -> tuple[Stage, ...]:
        """The stages that wait for nothing: where the plan starts."""
        return tuple(s for s in self.stages if not self.deps(s))

    def dependents(self, stage: Stage) -> tuple[Stage, ...]:
        """The planned stages that wait for ``stage``."""
        return tuple(s for s in self.stages if stage in self.deps(s))


def _names(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(v, str) for v in value)
    ):
        raise InvalidMessageError(f"{where}: expected a non-empty list of stage names")
    unknown = [v for v in value if v not in STAGES]
    if unknown:
        raise InvalidMessageError(
            f"{where}: unknown stage {unknown[0]!r}; choose from {', '.join(STAGES)}"
        )
    return list(value)


def build_plan(names: list[str], options: dict[str, dict[str, Any]] | None, *, source: str) -> Plan:
    """Order ``names`` (plus their ``requires``) by the registry and check ``options``.

    Raises:
        InvalidMessageError: an unknown stage, options for a stage that is not planned, or
            options that are not an object.
    """
    wanted: list[Stage] = []

    def add(stage: Stage) -> None:
        if stage in wanted:
            return
        for need in STAGES[stage].requires:
            add(need)
        wanted.append(stage)

    for name in _names(names, "stages"):
        add(Stage(name))
    opts = dict(options or {})
    for name, value in opts.items():
        if name not in STAGES:
            raise InvalidMessageError(
                f"options: unknown stage {name!r}; choose from {', '.join(STAGES)}"
            )
        if Stage(name) not in wanted:
            raise InvalidMessageError(
                f"options for {name!r}, which is not in the plan ({', '.join(wanted)})"
            )
        if not isinstance(value, dict):
            raise InvalidMessageError(f"options for {name!r} must be an object")
    # dependencies first, otherwise in the order asked for (a stable topological sort)
    ordered: list[Stage] = []
    while len(ordered) < len(wanted):
        for stage in wanted:
            deps = set(STAGES[stage].depends_on) | set(STAGES[stage].requires)
            if stage not in ordered and all(d in ordered for d in deps if d in wanted):
                ordered.append(stage)
                break
        else:  # pragma: no cover - the registry has no cycles (tests/unit/test_stages.py)
            raise InvalidMessageError("the stage registry has a dependency cycle")
    return Plan(stages=tuple(ordered), options=opts, source=source)


def resolve_plan(
    *,
    message_stages: tuple[str, ...] | None,
    message_options: dict[str, dict[str, Any]],
    metadata: dict[str, str],
    platform: str,
    routes: dict[str, list[str]],
    default: list[str],
    entry_stage: Stage | None = None,
) -> Plan:
    """The plan of one upload: the first source that names stages (module docstring).

    Args:
        message_stages: a direct job's ``stages`` (``None`` when it gave none).
        message_options: a direct job's ``options``.
        metadata: the video object's user metadata (lower-case keys, no ``x-amz-meta-``).
        platform: the video's platform (for ``routes``).
        routes: ``PIPELINE_ROUTES``.
        default: ``PIPELINE_DEFAULT_STAGES``.
        entry_stage: the stage whose own queue the message reached (``None``: the entry).

    Raises:
        InvalidMessageError: unknown stages, options for unplanned stages, bad metadata JSON.
    """
    if message_stages is not None:
        return build_plan(list(message_stages), message_options, source="message")
    options = message_options
    raw = metadata.get(META_OPTIONS)
    if raw and not options:
        try:
            options = json.loads(raw)
        except ValueError as exc:
            raise InvalidMessageError(f"metadata {META_OPTIONS} is not JSON: {exc}") from exc
        if not isinstance(options, dict):
            raise InvalidMessageError(f"metadata {META_OPTIONS} must be a JSON object")
    if metadata.get(META_STAGES):
        names = _names(metadata[META_STAGES], f"metadata {META_STAGES}")
        return build_plan(names, options, source="metadata")
    if entry_stage is not None:
        return build_plan([str(entry_stage)], options, source="stage")
    if platform in routes:
        return build_plan(routes[platform], options, source="route")
    return build_plan(default, options, source="default")
