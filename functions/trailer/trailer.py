"""A trailer run for one video: options, EDLs, one render for every profile, the deliverables.

No boto3 and no environment here: the job (:mod:`functions.trailer.job`) and the command line
(``vidpipe trailer``) pass in the settings, the dependency outputs, a work dir and, when the
run translates, a :class:`~functions.trailer.translate.Translator`.

The plan's options, ``options["trailer"]`` (each key optional; the defaults are the
``TRAILER_*`` settings)::

    {"profiles": ["action_enthusiast", {"id": "mine", "name": "Mine", "labels": {...}}],
     "max_duration_s": 30, "output_format": "mp4", "transition": "crossfade",
     "target_language": "en"}
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.trailer.deliverables import chapters_vtt, cue_texts, storyboard_jpeg
from functions.trailer.profiles import Profile, ProfileError, resolve_profile
from functions.trailer.render import (
    CODEC_NAMES,
    FORMATS,
    EncodeParams,
    RenderJob,
    output_size,
    probe,
    render,
)
from functions.trailer.select import SelectParams, build_edl, edl_json
from functions.trailer.settings import OutputFormat, TrailerSettings, Transition
from functions.trailer.translate import Translator, check_language
from shared.errors import InvalidMessageError
from shared.manifest import FrameManifest


class TrailerOptions(BaseModel):
    """``options["trailer"]`` of a plan (module docstring); unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    profiles: list[str | dict[str, Any]] | None = Field(default=None, min_length=1)
    max_duration_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    output_format: OutputFormat | None = None
    transition: Transition | None = None
    target_language: str | None = Field(default=None, min_length=1, max_length=16)


@dataclass(frozen=True)
class TrailerRun:
    """What one run renders: the profiles, the selection rule, the format and the language."""

    profiles: tuple[Profile, ...]
    select: SelectParams
    output_format: str
    target_language: str


def run_from(settings: TrailerSettings, options: dict[str, Any] | None) -> TrailerRun:
    """The run from the stage's settings and a plan's ``options["trailer"]``.

    Raises:
        InvalidMessageError: unknown keys, bad values, too many or duplicate profiles,
            ``max_duration_s`` over ``TRAILER_MAX_DURATION_CAP_S``.
        ProfileError: an unknown built-in or an invalid custom profile.
        UnsupportedLanguageError: ``target_language`` is not supported.
    """
    try:
        opts = TrailerOptions.model_validate(options or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidMessageError(f"invalid trailer options: {problems}") from None
    refs: list[str | dict[str, Any]] = (
        list(opts.profiles)
        if opts.profiles
        else [p.strip() for p in settings.profiles.split(",") if p.strip()]
    )
    profiles = tuple(
        resolve_profile(ref, where=f"trailer options: profiles[{i}]") for i, ref in enumerate(refs)
    )
    if len(profiles) > settings.max_profiles:
        raise InvalidMessageError(
            f"invalid trailer options: {len(profiles)} profiles, at most "
            f"{settings.max_profiles} (TRAILER_MAX_PROFILES) per run"
        )
    ids = [p.id for p in profiles]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ProfileError(f"trailer options: profile {dupes[0]!r} is named twice")
    duration = opts.max_duration_s or settings.max_duration_s
    if duration > settings.max_duration_cap_s:
        raise InvalidMessageError(
            f"invalid trailer options: max_duration_s {duration:g} is over "
            f"TRAILER_MAX_DURATION_CAP_S={settings.max_duration_cap_s:g}"
        )
    return TrailerRun(
        profiles=profiles,
        select=SelectParams(
            max_duration_s=duration,
            min_shot_s=settings.min_shot_s,
            max_shot_s=settings.max_shot_s,
            min_shots=settings.min_shots,
            transition=opts.transition or settings.transition,
            crossfade_s=settings.crossfade_s,
        ),
        output_format=opts.output_format or settings.output_format,
        target_language=check_language((opts.target_language or "en").strip().lower()),
    )


@dataclass
class Trailer:
    """One profile's deliverables: the rendered file in the work dir, and the small files'
    bytes (``edl.json``, ``chapters.vtt``, ``storyboard.jpg``)."""

    profile_id: str
    video_path: Path
    video_name: str
    content_type: str
    edl: dict[str, Any]
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    frames: int = 0
    duration_s: float = 0.0


@dataclass
class RunResult:
    """Every profile's trailer, and what the run did: frames decoded into trailers, seconds
    rendering, characters translated."""

    trailers: list[Trailer]
    render_seconds: float
    translated_characters: int = 0
    translate_calls: int = 0


def make_trailers(
    video: Path,
    manifest: FrameManifest,
    analysis: dict[str, Any],
    run: TrailerRun,
    settings: TrailerSettings,
    workdir: Path,
    *,
    translator: Translator | None = None,
    check_deadline: Callable[[], None] | None = None,
) -> RunResult:
    """Select, caption, render and storyboard every profile of ``run`` (one decode).

    Raises:
        TooFewScenesError, VideoTooShortError: a profile finds too little (permanent).
        CorruptVideoError: the video does not decode.
        UnsupportedLanguageError, TranslateUnavailableError, ConfigurationError: Translate.
        OutOfTimeError: from ``check_deadline``.
    """
    facts = probe(video)
    _, vcodec, acodec, ext, content_type = FORMATS[run.output_format]
    width, height = output_size(facts.display_width, facts.display_height, settings.max_height_px)
    output: dict[str, Any] = {
        "file": f"trailer.{ext}",
        "format": run.output_format,
        "video_codec": CODEC_NAMES[vcodec],
        "audio_codec": CODEC_NAMES[acodec] if facts.has_audio else None,
        "width": width,
        "height": height,
        "fps": float(facts.fps),
    }
    edls = [
        build_edl(
            manifest,
            analysis,
            profile,
            run.select,
            output=output,
            target_language=run.target_language,
        )
        for profile in run.profiles
    ]
    # captions before the render: a Translate failure costs no encoding
    captions = []
    for edl in edls:
        texts = cue_texts(edl)
        if run.target_language != "en":
            if translator is None:
                raise ValueError("a translating run needs a Translator")
            texts = translator.translate(texts, run.target_language)
        captions.append(chapters_vtt(edl, texts))
    if check_deadline is not None:
        check_deadline()
    trailers = []
    jobs = []
    for edl in edls:
        pid = edl["profile"]["id"]
        path = workdir / pid / f"trailer.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        jobs.append(RenderJob.from_edl(edl, path, storyboard_width=settings.storyboard_tile_px))
    started = time.perf_counter()
    results = render(
        video,
        jobs,
        EncodeParams(
            crf=settings.crf,
            preset=settings.x264_preset,
            audio_bitrate_kbps=settings.audio_bitrate_kbps,
            max_height_px=settings.max_height_px,
            audio_fade_ms=settings.audio_fade_ms,
        ),
        check_deadline=check_deadline,
    )
    seconds = time.perf_counter() - started
    for edl, vtt, result in zip(edls, captions, results, strict=True):
        trailers.append(
            Trailer(
                profile_id=edl["profile"]["id"],
                video_path=result.path,
                video_name=output["file"],
                content_type=content_type,
                edl=edl,
                files={
                    "edl.json": (edl_json(edl), "application/json"),
                    "chapters.vtt": (vtt.encode("utf-8"), "text/vtt"),
                    "storyboard.jpg": (storyboard_jpeg(edl, result.stills), "image/jpeg"),
                },
                frames=result.frames,
                duration_s=result.duration_s,
            )
        )
    return RunResult(
        trailers=trailers,
        render_seconds=seconds,
        translated_characters=translator.characters if translator else 0,
        translate_calls=translator.calls if translator else 0,
    )
