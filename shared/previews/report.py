"""The per-video ``summary.txt`` and ``report.html``, built from a video's outputs in S3 (and its
status rows when given) (docs/previews.md).

:func:`write_video_report` is what runs when a video's plan reaches its final state and what
``vidpipe report`` and ``vidpipe local run`` call: it reads every stage's document that exists
under ``{platform}/{shortcode}/`` (the frame manifest, ``landmarks.json``, ``analysis.json``,
``physics.json``, ``events.json``), lists the pictures that are there, and writes

* ``{platform}/{shortcode}/summary.txt``: plain text for a terminal (the video, each stage's
  status, time, counts and cost estimate, the output keys);
* ``{platform}/{shortcode}/report.html``: one self-contained page (inline CSS, no script, relative
  links only, so it works from S3 and after ``aws s3 sync`` alike), rendered by Jinja2 with
  autoescaping on: labels, names and keys are untrusted text.

Callers decide whether to write them (the ``PREVIEWS`` setting turns every picture and these two
files off).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from shared.errors import VideoMissingError
from shared.layout import PREVIEW_FILES, REPORT_HTML, SUMMARY_TXT, VideoLayout, s3_uri
from shared.manifest import FrameManifest
from shared.previews.images import timecode
from shared.stages import STAGES, Stage
from shared.storage import S3Storage

#: The pictures the report shows, in order: (stage, file, caption).
PICTURES: tuple[tuple[Stage, str, str], ...] = (
    (Stage.FRAME_EXTRACT, "preview.gif", "key frames in scene order"),
    (Stage.FRAME_EXTRACT, "contact_sheet.jpg", "contact sheet: scene index and timecode"),
    (Stage.LANDMARKS, "preview.gif", "pose skeleton over the sampled frames"),
    (Stage.LANDMARKS, "trajectories.png", "wrists, ankles and hip midpoint over time"),
    (Stage.REKOGNITION, "storyboard.jpg", "analysed frames: labels, faces, celebrities"),
    (Stage.PHYSICS, "court.png", "zone grid: paths, passes, turnovers, shots"),
    (Stage.PHYSICS, "possession.png", "possession per team"),
)
assert all(name in PREVIEW_FILES[stage] for stage, name, _ in PICTURES)


@dataclass
class StageLine:
    """One row of the stage table.

    Attributes:
        stage: the stage name.
        status: the status row's status, else ``output present`` or ``not run``.
        seconds: the stage's time (status row: finished minus started; else its document's).
        counts: what it found, in words (``6 scenes, 5 cuts``).
        cost_usd: its cost estimate in USD (paid stages), else ``None``.
        attempts: claims won (status row), else ``None``.
        error: the status row's last error.
        outputs: its output keys, relative to the video's prefix.
    """

    stage: str
    status: str
    seconds: float | None = None
    counts: str = ""
    cost_usd: float | None = None
    attempts: int | None = None
    error: str | None = None
    outputs: list[str] = field(default_factory=list)


@dataclass
class VideoReport:
    """Everything the two files show (built by :func:`collect`)."""

    platform: str
    shortcode: str
    bucket: str
    generated_at: str
    video: dict[str, Any]
    stages: list[StageLine]
    keys: list[str]
    keyframes: list[dict[str, Any]]
    pictures: list[dict[str, str]]
    label_scenes: list[dict[str, Any]]
    physics: dict[str, Any] | None

    @property
    def total_cost_usd(self) -> float:
        """The stages' summed cost estimates, USD."""
        return round(sum(s.cost_usd or 0.0 for s in self.stages), 6)


def _get_json(storage: S3Storage, bucket: str, key: str, keys: set[str]) -> Any:
    if key not in keys:
        return None
    try:
        return json.loads(storage.get_bytes(bucket, key))
    except (VideoMissingError, ValueError):
        return None


def _seconds(state: Any) -> float | None:
    if state is None or state.started_at is None or state.finished_at is None:
        return None
    return round((state.finished_at - state.started_at).total_seconds(), 3)


def _video_facts(docs: dict[str, Any]) -> dict[str, Any]:
    """Duration, size and fps from the first document that has them (manifest first: its size is
    the display size)."""
    facts: dict[str, Any] = {}
    for doc in (docs.get("manifest"), docs.get("landmarks"), docs.get("analysis")):
        video = (doc or {}).get("video") or {}
        for k in ("duration_s", "width", "height", "fps", "frame_count"):
            if facts.get(k) is None and video.get(k) is not None:
                facts[k] = video[k]
    if docs.get("physics") and facts.get("duration_s") is None:
        facts["duration_s"] = docs["physics"].get("duration_s")
    return facts


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def collect(
    storage: S3Storage,
    bucket: str,
    platform: str,
    shortcode: str,
    states: Iterable[Any] | None = None,
) -> VideoReport:
    """Read a video's outputs (and status rows) into a :class:`VideoReport`.

    Args:
        storage: S3.
        bucket: the results bucket (``S3_BUCKET_FRAMES``).
        platform, shortcode: validated identifiers.
        states: the video's :class:`~shared.status.StageState` rows, if known.

    Raises:
        StorageUnavailableError: S3 kept failing.
    """
    layout = VideoLayout(platform, shortcode)
    listed = sorted(storage.list_keys(bucket, layout.base))
    keys = set(listed)
    rows = {Stage(s.stage): s for s in states or ()}
    docs = {
        "manifest": _get_json(storage, bucket, layout.frame_manifest, keys),
        "landmarks": _get_json(storage, bucket, layout.landmarks_json, keys),
        "analysis": _get_json(storage, bucket, layout.rekognition_analysis, keys),
        "physics": _get_json(storage, bucket, layout.physics_observation, keys),
        "events": _get_json(storage, bucket, layout.physics_events, keys),
    }
    manifest = None
    if docs["manifest"] is not None:
        try:
            manifest = FrameManifest.parse(docs["manifest"])
        except Exception:  # a broken manifest shows as missing, it does not stop the report
            manifest = None

    lines: list[StageLine] = []
    for stage in STAGES:
        row = rows.get(stage)
        outputs = [layout.relative(k) for k in listed if k.startswith(layout.stage(stage))]
        line = StageLine(
            stage=str(stage),
            status=str(row.status)
            if row is not None
            else ("output present" if outputs else "not run"),
            seconds=_seconds(row),
            attempts=row.attempts if row is not None else None,
            error=row.last_error if row is not None else None,
            outputs=outputs,
        )
        metrics = (row.metrics if row is not None else None) or {}
        if stage == Stage.FRAME_EXTRACT and manifest is not None:
            line.counts = (
                f"{_plural(len(manifest.scenes), 'scene')}, {_plural(len(manifest.cuts), 'cut')}"
            )
            if manifest.fallback:
                line.counts += " (fallback: evenly spaced frames)"
            if line.seconds is None and metrics.get("seconds") is not None:
                line.seconds = float(metrics["seconds"])
        elif stage == Stage.LANDMARKS and docs["landmarks"]:
            m = docs["landmarks"]
            line.counts = (
                f"pose in {m['pose_frames']} of {m['frames_processed']} sampled frames "
                f"({100 * m['detection_rate']:.0f}%)"
            )
            if m.get("hand_frames") is not None:
                line.counts += f", hands in {m['hand_frames']}"
            if line.seconds is None:
                line.seconds = (m.get("timings") or {}).get("total_s")
        elif stage == Stage.REKOGNITION and docs["analysis"]:
            a = docs["analysis"]
            frames = a.get("frames", [])
            labels = {lab["name"] for f in frames for lab in f.get("labels", [])}
            faces = sum(len(f.get("faces", [])) for f in frames)
            celebs = a.get("summary", {}).get("celebrities", [])
            line.counts = (
                f"{_plural(len(frames), 'frame')}, {_plural(len(labels), 'label')}, "
                f"{_plural(faces, 'face')}, {_plural(len(celebs), 'celebrity')}"
                + (" (emulated)" if a.get("emulated") else "")
            ).replace("celebritys", "celebrities")
            line.cost_usd = a.get("metrics", {}).get("estimated_cost_usd")
            if line.seconds is None:
                line.seconds = a.get("metrics", {}).get("analysis_seconds")
        elif stage == Stage.PHYSICS and (docs["physics"] or docs["events"]):
            events = (docs["events"] or {}).get("events", [])
            kinds = {k: sum(e["type"] == k for e in events) for k in ("pass", "turnover", "shot")}
            samples = len((docs["physics"] or {}).get("samples", []))
            line.counts = (
                f"{_plural(samples, 'sample')}, {_plural(kinds['pass'], 'pass')}, "
                f"{_plural(kinds['turnover'], 'turnover')}, {_plural(kinds['shot'], 'shot')}"
            ).replace("passs", "passes")
            line.cost_usd = ((docs["physics"] or {}).get("analysis") or {}).get(
                "estimated_cost_usd"
            )
        elif stage == Stage.TRAILER and metrics.get("profiles"):
            shots = metrics.get("shots") or {}
            line.counts = (
                f"{_plural(len(metrics['profiles']), 'trailer')} ("
                + ", ".join(f"{p} {shots.get(p, 0)} shots" for p in metrics["profiles"])
                + f"), {float(metrics.get('trailer_seconds') or 0):.1f} s"
                + (" (analysis emulated)" if metrics.get("emulated_analysis") else "")
            )
            if metrics.get("estimated_cost_usd"):
                line.cost_usd = float(metrics["estimated_cost_usd"])
        lines.append(line)

    keyframes = []
    if manifest is not None:
        for s in manifest.scenes:
            key = layout.key(Stage.FRAME_EXTRACT, s.keyframe.file)
            keyframes.append(
                {
                    "index": s.index,
                    "src": layout.relative(key),
                    "present": key in keys,
                    "timecode": timecode(s.keyframe.time_s),
                    "frame": s.keyframe.frame,
                    "start": timecode(s.start_s),
                    "end": timecode(s.end_s),
                }
            )
    pictures = [
        {"stage": str(stage), "src": layout.relative(layout.key(stage, name)), "caption": caption}
        for stage, name, caption in PICTURES
        if layout.key(stage, name) in keys
    ]
    label_scenes = []
    for scene in (docs["analysis"] or {}).get("scenes", []):
        label_scenes.append(
            {
                "index": scene.get("index"),
                "start": timecode(float(scene.get("start_s") or 0.0)),
                "end": timecode(float(scene.get("end_s") or 0.0)),
                "labels": [
                    f"{lab['name']} ({lab['max_confidence']:.0f}%)"
                    for lab in scene.get("top_labels", [])
                ],
                "emotions": list(scene.get("dominant_emotions", [])),
                "characters": list(scene.get("characters", [])),
            }
        )
    physics = None
    if docs["events"]:
        stats = docs["events"].get("statistics") or {}
        physics = {
            "teams": stats.get("teams", {}),
            "players": stats.get("players", {}),
            "events": len(docs["events"].get("events", [])),
        }
    return VideoReport(
        platform=platform,
        shortcode=shortcode,
        bucket=bucket,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        video=_video_facts(docs),
        stages=lines,
        keys=[
            layout.relative(k)
            for k in listed
            if layout.relative(k) not in (SUMMARY_TXT, REPORT_HTML)
        ],
        keyframes=keyframes,
        pictures=pictures,
        label_scenes=label_scenes,
        physics=physics,
    )


def video_line(video: dict[str, Any]) -> str:
    """``25.120 s, 1024x576, 25 fps, 628 frames`` (what is known)."""
    parts = []
    if video.get("duration_s") is not None:
        parts.append(f"{float(video['duration_s']):.3f} s")
    if video.get("width") and video.get("height"):
        parts.append(f"{video['width']}x{video['height']}")
    if video.get("fps"):
        parts.append(f"{float(video['fps']):g} fps")
    if video.get("frame_count") is not None:
        parts.append(f"{video['frame_count']} frames")
    return ", ".join(parts) or "unknown (no stage output describes it)"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def render_summary(report: VideoReport) -> str:
    """``summary.txt``: plain text, at most 100 columns but for long keys and errors."""
    prefix = s3_uri(report.bucket, VideoLayout(report.platform, report.shortcode).base)
    out = [
        f"vidpipe summary: {report.platform}/{report.shortcode}",
        f"video:     {video_line(report.video)}",
        f"results:   {prefix}",
        f"written:   {report.generated_at}",
        "",
        f"{'stage':<14} {'status':<15} {'time':>8}  counts",
    ]
    for s in report.stages:
        out.append(f"{s.stage:<14} {s.status:<15} {_secs(s.seconds):>8}  {s.counts}".rstrip())
        if s.error:
            out.append(f"{'':<14} error: {s.error}")
    out.append("")
    costs = [f"{s.stage} ${s.cost_usd:.4f}" for s in report.stages if s.cost_usd is not None]
    out.append(
        "cost estimate: "
        + (
            ", ".join(costs) + f"; total ${report.total_cost_usd:.4f}"
            if costs
            else "none (no paid stage ran)"
        )
    )
    out.append("")
    out.append(f"outputs (under {prefix}):")
    out.extend(f"  {k}" for k in report.keys)
    out.append(f"  {SUMMARY_TXT}")
    out.append(f"  {REPORT_HTML}")
    return "\n".join(out) + "\n"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["secs"] = _secs
    return env


def render_html(report: VideoReport, link: Callable[[str], str] | None = None) -> str:
    """``report.html`` (template ``shared/previews/report.html.j2``, autoescaped).

    Args:
        report: what to show.
        link: turns a path relative to the video's prefix into the URL a link or picture uses;
            default: the relative path itself (the stored report). The API passes one that
            presigns each key.
    """
    return (
        _environment()
        .get_template("report.html.j2")
        .render(r=report, video_line=video_line(report.video), link=link or (lambda k: k))
    )


def write_video_report(
    storage: S3Storage,
    bucket: str,
    platform: str,
    shortcode: str,
    states: Iterable[Any] | None = None,
) -> list[str]:
    """Build ``summary.txt`` and ``report.html`` from the video's outputs in ``bucket`` (and its
    status rows, when given) and write them under ``{platform}/{shortcode}/``.

    Returns:
        The two keys written, summary first.

    Raises:
        StorageUnavailableError: S3 kept failing.
    """
    report = collect(storage, bucket, platform, shortcode, states)
    layout = VideoLayout(platform, shortcode)
    storage.put_bytes(
        bucket, layout.summary, render_summary(report).encode(), "text/plain; charset=utf-8"
    )
    storage.put_bytes(
        bucket, layout.report, render_html(report).encode(), "text/html; charset=utf-8"
    )
    return [layout.summary, layout.report]
