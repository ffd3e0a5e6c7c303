"""``vidpipe local run``: one video through the emulated S3 -> SNS -> SQS -> Lambda path."""

from __future__ import annotations

import json
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shared.errors import PipelineError
from shared.layout import VideoLayout
from shared.plan import META_STAGES, build_plan
from shared.stages import ENTRY_NAME, STAGES, Stage
from shared.status import PlanState, StageStatus
from vidpipe.cli import common
from vidpipe.cli.app import local_app
from vidpipe.cli.common import StageConfigOpt, err, fail, out, safe_shortcode, use_landmarks_config
from vidpipe.cli.handlers import print_status
from vidpipe.template import TemplateNotFoundError, template_path

if TYPE_CHECKING:
    from shared.batch import Runtime


@local_app.command("run")
def local_run(
    video: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="Video to process. Omitted: a generated 12 s clip with 4 known cuts.",
        ),
    ] = None,
    platform: Annotated[str, typer.Option(help="Platform for the S3 key.")] = "demo",
    shortcode: Annotated[str | None, typer.Option(help="Shortcode (default: file stem).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where results are copied.")] = Path(
        "out"
    ),
    state_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the SQLite status and temp files here (default: a temp dir)."),
    ] = None,
    timeout_s: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 600.0,
    visibility_timeout_s: Annotated[
        int,
        typer.Option(
            min=0,
            help="Local queues' visibility timeout: how soon a failed "
            "record is retried (AWS uses 6 x the function timeout).",
        ),
    ] = 5,
    stages: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            help=f"Stages to run, in order ({', '.join(STAGES)}); "
            "default frame-extract. Rekognition is emulated locally.",
        ),
    ] = None,
    config: StageConfigOpt = None,
) -> None:
    """Upload VIDEO to a local (moto) S3 and let the real event path process it.

    The object lands at {platform}/{shortcode}/video.<ext> with the plan (the --stage names) in
    its metadata; S3's ObjectCreated event goes through SNS (raw delivery) to the pipeline's
    entry queue; pollers invoke the real Lambda handlers, which record the plan and hand off from
    stage to stage (rekognition after frame-extract). When the plan is final, the results are
    copied from the local results bucket to --out and the outcome is printed.
    """
    from shared.messages import validate_platform, validate_shortcode
    from vidpipe.local import local_stack
    from vidpipe.poller import SqsPoller
    from vidpipe.synth import make_clip

    use_landmarks_config(config)
    try:
        template_path()  # before anything is generated or started
    except TemplateNotFoundError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(code=2) from exc
    with ExitStack() as stack:
        state = state_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        state.mkdir(parents=True, exist_ok=True)
        if video is None:
            video = state / "demo.mp4"
            cuts = make_clip(video)
            err.print(f"no video given: generated {video.name} (12 s, cuts at {cuts})")
            shortcode = shortcode or "synthetic"
        try:
            validate_platform(platform)
            code = validate_shortcode(shortcode or safe_shortcode(video.stem))
        except PipelineError as exc:
            raise fail(exc) from exc
        names = list(stages or [str(Stage.FRAME_EXTRACT)])
        for name in names:
            if name not in STAGES:
                _unknown_stage(name)
        plan = build_plan(names, None, source="message")
        wanted = list(plan.stages)
        if Stage.PHYSICS in wanted:
            from functions.physics.job import gemini_api_key
            from functions.physics.settings import PhysicsSettings
            from shared.config import load_stage_settings

            try:
                gemini_api_key(load_stage_settings(PhysicsSettings))
            except PipelineError as exc:
                raise fail(exc) from exc
        stack_ = stack.enter_context(
            local_stack(state, stages=tuple(wanted), visibility_timeout_s=visibility_timeout_s)
        )
        err.print(f"moto S3/SNS/SQS on {stack_.endpoint}; status in SQLite under {state}")
        ext = video.suffix.lower() or ".mp4"
        key = f"{platform}/{code}/video{ext}"
        s3 = stack_.client("s3")
        # the plan travels with the upload, as a presigned or scripted upload would carry it
        s3.upload_file(
            str(video),
            stack_.videos_bucket,
            key,
            ExtraArgs={"Metadata": {META_STAGES: ",".join(names)}},
        )
        err.print(
            f"uploaded s3://{stack_.videos_bucket}/{key} with plan {', '.join(names)}",
            highlight=False,
        )

        from shared.batch import get_runtime

        rt = get_runtime()
        started = time.monotonic()
        sqs = stack_.client("sqs")
        pollers = [
            SqsPoller(
                sqs,
                stack_.queue_urls[name],
                common.load_handler(name),
                batch_size=stack_.deployed[name].batch_size,
                wait_s=0,
                function_timeout_s=stack_.deployed[name].timeout_s,
                function_name=stack_.deployed[name].function,
            )
            for name in (ENTRY_NAME, *map(str, wanted))
        ]

        def finished() -> bool:
            stored = rt.status.get_plan(platform, code)
            if stored is not None and stored.state != PlanState.RUNNING:
                return True
            # a record that kept failing ends in a DLQ after maxReceiveCount receives
            return any(stack_.queue_depth(url) > 0 for url in stack_.dlq_urls.values())

        # each queue's poller takes a batch in turn, as the functions' event sources would
        with err.status("running the plan (S3 event -> SNS -> SQS -> handlers, hand-offs)..."):
            while not finished() and time.monotonic() - started < timeout_s:
                if not sum(p.poll_once() for p in pollers):
                    time.sleep(0.2)
        batches = sum(p.stats.batches for p in pollers)
        elapsed = time.monotonic() - started

        # the pipeline writes the report when the plan finishes; a run that ended in a DLQ
        # (plan still running) gets one here, so what happened can still be looked at
        stored = rt.status.get_plan(platform, code)
        if stored is not None and stored.state != PlanState.RUNNING and rt.settings.previews:
            report_keys = [VideoLayout(platform, code).summary, VideoLayout(platform, code).report]
        else:
            report_keys = _write_report(rt, stack_.frames_bucket, platform, code)
        prefix = f"{platform}/{code}/"
        for k in _finished_outputs(rt, stack_.frames_bucket, platform, code, report_keys):
            target = out_dir / k[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(rt.storage.get_bytes(stack_.frames_bucket, k))
        states = {st.stage: st for st in print_status(platform, code)}
        manifest_path = out_dir / "frames" / "manifest.json"
        if Stage.FRAME_EXTRACT in wanted and manifest_path.exists():
            from shared.manifest import FrameManifest

            m = FrameManifest.parse(manifest_path.read_bytes())
            out.print(
                f"{len(m.scenes)} key frames and manifest.json -> {out_dir / 'frames'}/  "
                f"cuts={m.cuts}  fallback={m.fallback}",
                highlight=False,
                soft_wrap=True,
            )
        analysis_path = out_dir / "rekognition" / "analysis.json"
        if Stage.REKOGNITION in wanted and analysis_path.exists():
            a = json.loads(analysis_path.read_text())
            out.print(
                f"rekognition: {a['metrics']['frames_analyzed']} frames ({a['frame_source']}), "
                f"calls={a['metrics']['api_calls']}, emulated={a['emulated']} -> {analysis_path}",
                highlight=False,
                soft_wrap=True,
            )
        npz_path = out_dir / "landmarks" / "landmarks.npz"
        if Stage.LANDMARKS in wanted and npz_path.exists():
            import numpy as np

            with np.load(npz_path, allow_pickle=False) as arrays:
                shapes = ", ".join(f"{k} {arrays[k].shape}" for k in arrays.files)
            meta = json.loads((out_dir / "landmarks" / "landmarks.json").read_text())
            out.print(
                f"landmarks: {shapes}; pose in {100 * meta['detection_rate']:.0f}% of frames "
                f"-> {npz_path}",
                highlight=False,
                soft_wrap=True,
            )
        if Stage.TRAILER in wanted:
            for edl_path in sorted((out_dir / "trailer").glob("*/edl.json")):
                e = json.loads(edl_path.read_text())
                note = (
                    "  (analysis emulated: labels, no faces)" if e["analysis"]["emulated"] else ""
                )
                out.print(
                    f"trailer {e['profile']['id']}: {len(e['shots'])} shots, "
                    f"{e['duration_s']:.2f} s -> {edl_path.parent / e['output']['file']}{note}",
                    highlight=False,
                    soft_wrap=True,
                )
        dlq = sum(stack_.queue_depth(url) for url in stack_.dlq_urls.values())
        summary = "  ".join(
            f"{stage}={states[stage].status if stage in states else 'none'}" for stage in wanted
        )
        if len(wanted) == 1:
            summary = f"status={states[wanted[0]].status if wanted[0] in states else 'none'}"
        stored = rt.status.get_plan(platform, code)
        events = stack_.finished_events()
        if events:
            e = events[-1]
            out.print(
                f"plan finished: {e['state']} ({', '.join(e['stages'])}), completion event "
                f"published, estimated cost ${e['estimated_cost_usd']:.4f}",
                highlight=False,
                soft_wrap=True,
            )
        out.print(
            f"{summary}  plan={stored.state if stored else 'none'}  batches={batches}  "
            f"dlq={dlq}  {elapsed:.1f} s",
            highlight=False,
            soft_wrap=True,
        )
        if report_keys:
            out.print(f"summary: {out_dir / 'summary.txt'}", highlight=False, soft_wrap=True)
            out.print(f"report: {out_dir / 'report.html'}", highlight=False, soft_wrap=True)
        if any(
            stage not in states or states[stage].status != StageStatus.SUCCEEDED for stage in wanted
        ):
            raise typer.Exit(code=1)


def _write_report(rt: Runtime, bucket: str, platform: str, code: str) -> list[str]:
    """summary.txt and report.html in the local results bucket (none with PREVIEWS off)."""
    from shared.previews.report import write_video_report

    if not rt.settings.previews:
        return []
    return write_video_report(rt.storage, bucket, platform, code, rt.status.stages(platform, code))


def _finished_outputs(
    rt: Runtime, bucket: str, platform: str, code: str, report_keys: list[str]
) -> list[str]:
    """The keys to copy to --out: the folders of the stages that succeeded, and the report.
    A failed or unfinished stage's folder is never copied, so --out holds no partial set
    (docs/reliability.md#nothing-half-written-is-visible)."""
    from shared.layout import VideoLayout

    layout = VideoLayout(platform, code)
    folders = tuple(
        layout.stage(st.stage)
        for st in rt.status.stages(platform, code)
        if st.status == StageStatus.SUCCEEDED
    )
    keys = rt.storage.list_keys(bucket, f"{platform}/{code}/")
    return [k for k in keys if k.startswith(folders) or k in report_keys]


def _unknown_stage(name: str) -> bool:
    raise typer.BadParameter(f"unknown stage {name!r}; choose from {', '.join(STAGES)}")


@local_app.command("serve")
def local_serve(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free port).")
    ] = 8000,
    state_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the SQLite status and temp files here (default: a temp dir)."),
    ] = None,
    visibility_timeout_s: Annotated[
        int,
        typer.Option(min=0, help="Local queues' visibility timeout: how soon a retry comes."),
    ] = 5,
) -> None:
    """Serve the HTTP API and the web console on 127.0.0.1, with the whole pipeline behind it.

    Starts the local stack (moto S3/SNS/SQS, SQLite, a poller per queue, all in this process)
    and the real api handler, each HTTP request translated into an API Gateway HTTP API event.
    Presigned URLs point at the local moto endpoint. Open the printed URL in a browser, or use
    curl (docs/api.md). Stop with Ctrl-C.
    """
    from vidpipe.serve import local_server, wait_forever

    try:
        template_path()
    except TemplateNotFoundError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from exc
    with ExitStack() as stack:
        state = state_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        try:
            server = stack.enter_context(
                local_server(state, port=port, visibility_timeout_s=visibility_timeout_s)
            )
        except OSError as exc:
            err.print(f"[red]error:[/red] cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}")
            raise typer.Exit(code=2) from exc
        out.print(f"console: {server.url}", highlight=False, soft_wrap=True)
        out.print(
            f"API docs: {server.url}docs  OpenAPI: {server.url}openapi.json",
            highlight=False,
            soft_wrap=True,
        )
        err.print(
            f"moto S3/SNS/SQS on {server.stack.endpoint}; status in SQLite under {state}; "
            "Ctrl-C stops",
            highlight=False,
            soft_wrap=True,
        )
        try:
            wait_forever()
        except KeyboardInterrupt:
            err.print("stopping")
