"""``vidpipe trailer``: profile-driven trailers for one video, and the built-in profiles."""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shared.errors import PipelineError
from vidpipe.cli.app import trailer_app
from vidpipe.cli.common import err, fail, out, resolve_video

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.manifest import FrameManifest


@trailer_app.command("profiles")
def trailer_profiles(
    as_json: Annotated[bool, typer.Option("--json", help="Print the profiles as JSON.")] = False,
) -> None:
    """List the built-in viewer profiles and their heaviest weights."""
    from rich.table import Table

    from functions.trailer.profiles import builtin_profiles, describe

    profiles = builtin_profiles()
    if as_json:
        out.print_json(json.dumps([describe(p) for p in profiles]))
        return
    table = Table("id", "name", "prefers", "emotions")
    for p in profiles:
        weights = sorted({**p.labels, **p.categories}.items(), key=lambda kv: (-kv[1], kv[0]))
        emotions = ", ".join(f"{k} {v:+g}" for k, v in sorted(p.emotions.items()))
        table.add_row(p.id, p.name, ", ".join(k for k, _ in weights[:6]), emotions)
    out.print(table)


@trailer_app.command("make")
def trailer_make(
    video: Annotated[str, typer.Argument(help="A local video path or an s3://bucket/key URI.")],
    out_dir: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder: trailer/{profile}/ (and frames/, rekognition/)."),
    ],
    profiles: Annotated[
        list[str] | None,
        typer.Option(
            "--profile",
            "-p",
            help="A built-in profile id (vidpipe trailer profiles) or a custom profile's JSON "
            "file; repeat for several (default: TRAILER_PROFILES).",
        ),
    ] = None,
    max_duration: Annotated[
        float | None,
        typer.Option("--max-duration", min=0.1, help="Longest trailer, seconds (default 30)."),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="frame-extract's manifest.json (else it is run)."
        ),
    ] = None,
    analysis: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="rekognition's analysis.json (else it is run)."
        ),
    ] = None,
    output_format: Annotated[
        str | None, typer.Option("--format", help="mp4 (default), mov or webm.")
    ] = None,
    transition: Annotated[
        str | None, typer.Option("--transition", help="cut (default) or crossfade.")
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--language", help="Chapters' language, ISO 639-1; not en uses Amazon Translate."
        ),
    ] = None,
    emulate_rekognition: Annotated[
        bool,
        typer.Option(
            "--emulate-rekognition",
            help="Without --analysis: answer Rekognition locally (moto's canned labels, no faces; "
            "the EDL says so) instead of calling AWS. Also REKOGNITION_EMULATED=true.",
        ),
    ] = False,
    platform: Annotated[str, typer.Option(help="Platform recorded in the outputs.")] = "local",
    shortcode: Annotated[
        str | None, typer.Option(help="Shortcode for the outputs (default: the file's stem).")
    ] = None,
) -> None:
    """Cut VIDEO into one trailer per --profile (edl.json, chapters.vtt, storyboard.jpg too).

    The files go to --out/trailer/{profile}/.

    Without --manifest and --analysis, frame-extract and rekognition run first (their outputs
    go to --out/frames/manifest.json and --out/rekognition/analysis.json); rekognition needs AWS
    credentials unless --emulate-rekognition.
    """
    from functions.rekognition.settings import RekognitionSettings
    from functions.trailer.profiles import load_profile_file
    from functions.trailer.settings import TrailerSettings
    from functions.trailer.trailer import make_trailers, run_from
    from shared.config import get_settings, load_stage_settings
    from shared.manifest import FrameManifest
    from shared.messages import validate_platform, validate_shortcode

    if output_format not in (None, "mp4", "mov", "webm"):
        raise typer.BadParameter(f"--format {output_format!r}: choose mp4, mov or webm")
    if transition not in (None, "cut", "crossfade"):
        raise typer.BadParameter(f"--transition {transition!r}: choose cut or crossfade")
    try:
        settings = get_settings()
        cfg = load_stage_settings(TrailerSettings)
        rek_settings = load_stage_settings(RekognitionSettings)
        refs: list[Any] = []
        for p in profiles or []:
            path = Path(p)
            refs.append(load_profile_file(path).model_dump() if path.suffix == ".json" else p)
        options: dict[str, Any] = {
            k: v
            for k, v in {
                "profiles": refs or None,
                "max_duration_s": max_duration,
                "output_format": output_format,
                "transition": transition,
                "target_language": language,
            }.items()
            if v is not None
        }
        run = run_from(cfg, options)
        scenes = FrameManifest.parse(manifest.read_bytes()) if manifest else None
        doc = json.loads(analysis.read_text()) if analysis else None
    except PipelineError as exc:
        raise fail(exc) from exc
    except ValueError as exc:
        err.print(f"[red]error:[/red] {analysis}: not JSON: {exc}")
        raise typer.Exit(code=2) from exc
    emulate = emulate_rekognition or rek_settings.emulated
    if doc is None and not emulate and not _has_credentials():
        err.print(
            "[red]error:[/red] rekognition needs AWS credentials (aws configure, AWS_PROFILE); "
            "or pass --analysis FILE, or --emulate-rekognition for canned labels"
        )
        raise typer.Exit(code=1)
    translator = None
    if run.target_language != "en":
        if not _has_credentials():
            err.print("[red]error:[/red] --language other than en needs AWS credentials")
            raise typer.Exit(code=1)
        from functions.trailer.translate import Translator
        from shared import aws

        translator = Translator(aws.client("translate", settings, retries=cfg.translate_retries))
    try:
        with ExitStack() as stack:
            path, key_platform, default_code = resolve_video(video, settings, stack)
            plat = validate_platform(key_platform or platform)
            code = validate_shortcode(shortcode or default_code)
            if scenes is None:
                scenes = _frame_extract(path, plat, code, out_dir)
            if doc is None:
                doc = _rekognition(path, plat, code, scenes, settings, emulate, out_dir)
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vidpipe-trailer-")))
            with err.status(f"rendering {len(run.profiles)} trailer(s)..."):
                result = make_trailers(path, scenes, doc, run, cfg, work, translator=translator)
            for t in result.trailers:
                folder = out_dir / "trailer" / t.profile_id
                folder.mkdir(parents=True, exist_ok=True)
                for stale in folder.glob("trailer.*"):
                    stale.unlink()
                shutil.move(str(t.video_path), folder / t.video_name)
                for name, (data, _) in t.files.items():
                    (folder / name).write_bytes(data)
                note = "  (analysis emulated: labels, no faces)" if doc.get("emulated") else ""
                out.print(
                    f"{t.profile_id}: {len(t.edl['shots'])} shots, {t.duration_s:.2f} s "
                    f"(scenes {[s['scene'] for s in t.edl['shots']]}) -> "
                    f"{folder / t.video_name}{note}",
                    highlight=False,
                    soft_wrap=True,
                )
    except PipelineError as exc:
        raise fail(exc) from exc
    if translator is not None:
        out.print(
            f"Amazon Translate: {translator.characters} characters, "
            f"~${translator.characters * cfg.translate_price_per_char_usd:.4f}",
            highlight=False,
        )
    out.print(f"render {result.render_seconds:.1f} s", highlight=False)


def _has_credentials() -> bool:
    import boto3

    return boto3.session.Session().get_credentials() is not None


def _frame_extract(path: Path, platform: str, code: str, out_dir: Path) -> FrameManifest:
    from functions.frame_extract.extract import extract_keyframes
    from functions.frame_extract.params import params_from
    from functions.frame_extract.settings import FrameExtractSettings
    from shared.config import load_stage_settings
    from shared.manifest import FrameManifest

    params = params_from(load_stage_settings(FrameExtractSettings))
    with err.status("frame-extract: finding the scenes..."):
        result = extract_keyframes(path, params, platform=platform, shortcode=code)
    m = FrameManifest.parse(result.manifest)
    target = out_dir / "frames" / "manifest.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(m.model_dump(mode="json"), indent=2) + "\n")
    err.print(f"frame-extract: {len(m.scenes)} scenes, cuts {m.cuts} -> {target}", highlight=False)
    return m


def _rekognition(
    path: Path,
    platform: str,
    code: str,
    scenes: FrameManifest,
    settings: Settings,
    emulate: bool,
    out_dir: Path,
) -> dict[str, Any]:
    from functions.rekognition.analysis import analyze_video
    from functions.rekognition.job import analyze_kwargs, make_rekognition
    from functions.rekognition.settings import RekognitionSettings
    from shared.config import load_stage_settings
    from shared.rekognition import Rekognition

    stage = load_stage_settings(RekognitionSettings)
    with ExitStack() as stack:
        if emulate:
            # moto in-process: its canned DetectLabels, and the adapter's "no faces"
            import boto3
            from moto import mock_aws

            stack.enter_context(mock_aws())
            client = boto3.client(
                "rekognition",
                region_name="us-east-1",
                aws_access_key_id="local",
                aws_secret_access_key="local",
            )
            rek = Rekognition(
                client,
                max_labels=stage.max_labels,
                min_confidence=stage.min_confidence,
                emulated=True,
            )
        else:
            rek = make_rekognition(settings, stage)
        with err.status("rekognition: analysing the scenes' frames..."):
            doc = analyze_video(
                path,
                rek,
                platform=platform,
                shortcode=code,
                manifest=scenes,
                **analyze_kwargs(stage),
            )
    target = out_dir / "rekognition" / "analysis.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, indent=2) + "\n")
    m = doc["metrics"]
    err.print(
        f"rekognition: {m['frames_analyzed']} frames, calls {m['api_calls']}, "
        f"~${m['estimated_cost_usd']:.3f}"
        + (" (emulated)" if doc["emulated"] else "")
        + f" -> {target}",
        highlight=False,
    )
    return doc
