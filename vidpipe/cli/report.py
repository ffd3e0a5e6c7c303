"""``vidpipe report``: rebuild a video's ``summary.txt`` and ``report.html`` from S3."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shared.errors import PipelineError
from vidpipe.cli.app import app
from vidpipe.cli.common import err, fail, out


@app.command()
def report(
    platform: Annotated[str, typer.Argument(help="The video's platform.")],
    shortcode: Annotated[str, typer.Argument(help="The video's shortcode.")],
    out_dir: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder for the report, the summary and the outputs."),
    ],
    bucket: Annotated[
        str | None, typer.Option(help="Results bucket (default: S3_BUCKET_FRAMES).")
    ] = None,
    upload: Annotated[
        bool, typer.Option(help="Also write summary.txt and report.html back to S3.")
    ] = True,
    aws_profile: Annotated[
        str | None, typer.Option("--aws-profile", help="AWS profile for S3.")
    ] = None,
) -> None:
    """Rebuild summary.txt and report.html of PLATFORM/SHORTCODE from its outputs in S3 (and
    its status rows when the status store answers); copy the video's outputs, the summary and
    the report into --out so the report opens there; print the summary, then the report's path.
    """
    from shared.batch import get_runtime
    from shared.config import get_settings
    from shared.layout import VideoLayout
    from shared.messages import validate_platform, validate_shortcode
    from shared.previews.report import collect, render_html, render_summary, write_video_report
    from shared.storage import S3Storage

    try:
        validate_platform(platform)
        validate_shortcode(shortcode)
        settings = get_settings()
        storage = S3Storage.from_settings(settings, profile=aws_profile)
        target = bucket or settings.s3_bucket_frames
        try:
            states = get_runtime().status.stages(platform, shortcode)
        except PipelineError as exc:
            err.print(f"status store not available ({exc}); the report shows outputs only")
            states = []
        layout = VideoLayout(platform, shortcode)
        if upload:
            write_video_report(storage, target, platform, shortcode, states)
        keys = storage.list_keys(target, layout.base)
        if not keys:
            err.print(f"[red]error:[/red] nothing under s3://{target}/{layout.base}")
            raise typer.Exit(code=2)
        out_dir.mkdir(parents=True, exist_ok=True)
        for key in keys:
            path = out_dir / layout.relative(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(storage.get_bytes(target, key))
        built = collect(storage, target, platform, shortcode, states)
        summary = render_summary(built)
        (out_dir / "summary.txt").write_text(summary)
        (out_dir / "report.html").write_text(render_html(built))
    except PipelineError as exc:
        raise fail(exc) from exc
    out.print(summary, highlight=False, soft_wrap=True, end="")
    out.print(f"report: {out_dir / 'report.html'}", highlight=False, soft_wrap=True)
