"""``vidpipe invoke``, ``worker`` and ``status``: the real handlers on events and queues, and
what the status store says."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.table import Table

from shared.errors import PipelineError
from vidpipe.cli.app import app
from vidpipe.cli.common import (
    StageArg,
    StageConfigOpt,
    err,
    fail,
    load_handler,
    out,
    use_landmarks_config,
)


def _as_sqs_event(data: Any) -> dict[str, Any]:
    """An event file may hold a full SQS event or one message body; wrap the latter."""
    records = data.get("Records") if isinstance(data, dict) else None
    if isinstance(records, list) and records and records[0].get("eventSource") == "aws:sqs":
        return data
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "local",
                "body": json.dumps(data),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:vidpipe-local",
                "awsRegion": "us-east-1",
            }
        ]
    }


#: Reasons a record is returned to SQS that are not failures: it was not run (yet).
_NOT_FAILURES = ("OutOfTimeError", "ClaimHeldError")


def _read_event(path: Path) -> dict[str, Any]:
    """The SQS event in an event file.

    Raises:
        typer.Exit: (code 2) not readable, not JSON, or not a JSON object.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]error:[/red] --event {path}: cannot read it: {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    except json.JSONDecodeError as exc:
        err.print(
            f"[red]error:[/red] --event {path}: not JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}",
            highlight=False,
        )
        raise typer.Exit(code=2) from None
    if not isinstance(data, dict):
        err.print(
            f"[red]error:[/red] --event {path}: expected a JSON object (an SQS event or a "
            f"message body), not {type(data).__name__}",
            highlight=False,
        )
        raise typer.Exit(code=2)
    return _as_sqs_event(data)


def _record_line(outcome: Any) -> tuple[str, bool]:
    """One line for a record's :class:`~shared.batch.RecordOutcome`, and whether it failed."""
    if outcome.retry is not None:
        kind = outcome.retry.split(":", 1)[0]
        if kind in _NOT_FAILURES:
            return f"returned for retry (not run): {outcome.retry}", False
        return f"failed, returned for retry: {outcome.retry}", True
    failed = any(part.startswith(("failed", "rejected")) for part in outcome.outcome.split("; "))
    return outcome.outcome, failed


@app.command()
def invoke(
    stage: StageArg,
    event: Annotated[
        Path,
        typer.Option(
            "--event",
            "-e",
            exists=True,
            dir_okay=False,
            help="JSON file: an SQS event, or one message body (direct job or S3 notification).",
        ),
    ],
    timeout_s: Annotated[
        float, typer.Option(help="The context's deadline in seconds (the function timeout).")
    ] = 900.0,
    config: StageConfigOpt = None,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="Print only the handler's JSON response and exit 0 whatever became of the "
            "records (as sam local invoke does).",
        ),
    ] = False,
) -> None:
    """Run a stage's real Lambda handler once on an event file: print one line per record on
    stderr (succeeded, skipped and why, failed and why, returned for retry and why), then the
    handler's JSON response on stdout.

    Exit code 1 when any record failed (a permanent error, or a transient one that SQS would
    retry); a record returned unrun (too little time left, another worker's claim) is not a
    failure. With --raw: only the response, exit code 0.
    """
    from shared.batch import record_outcomes
    from vidpipe.lambda_context import LocalContext

    payload = _read_event(event)
    use_landmarks_config(config)
    handler = load_handler(stage)
    context = LocalContext(function_name=f"vidpipe-{stage}", timeout_s=timeout_s)
    try:
        with record_outcomes() as outcomes:
            response = handler(payload, context)
    except PipelineError as exc:
        raise fail(exc) from exc
    if raw:
        out.print_json(data=response)
        return
    order = [str(r.get("messageId", "")) for r in payload["Records"]]
    by_id = {o.message_id: o for o in outcomes}
    failures = 0
    for n, message_id in enumerate(order, 1):
        o = by_id.get(message_id)
        if o is None:
            line, failed = "not processed (not an SQS record the handler read)", False
        else:
            line, failed = _record_line(o)
        failures += failed
        err.print(f"record {n}/{len(order)} {message_id}: {line}", highlight=False, soft_wrap=True)
    out.print_json(data=response)
    if failures:
        err.print(f"{failures} of {len(order)} record(s) failed", highlight=False)
        raise typer.Exit(code=1)


def seed_env(name: str) -> str | None:
    """``name`` from the environment, else from ``./.env`` (where the replaced EC2 pipeline kept
    ``AWS_S3_BUCKET_NAME`` and ``AWS_SQS_QUEUE_URL``); ``None`` when unset or empty."""
    value = os.environ.get(name)
    if not value and Path(".env").is_file():
        from dotenv import dotenv_values

        value = dotenv_values(".env").get(name)
    return value.strip() if value and value.strip() else None


@app.command()
def worker(
    stage: StageArg,
    queue_url: Annotated[
        str | None,
        typer.Option(
            help="The stage's SQS queue URL (default: AWS_SQS_QUEUE_URL, the EC2 pipeline's "
            "setting, from the environment or ./.env)."
        ),
    ] = None,
    bucket: Annotated[
        str | None,
        typer.Option(
            "--bucket",
            help="The videos bucket (default: S3_BUCKET_VIDEOS, else AWS_S3_BUCKET_NAME, the EC2 "
            "pipeline's upload bucket).",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10, help="Messages per batch.")] = 10,
    wait_s: Annotated[int, typer.Option(min=0, max=20, help="Long-poll seconds.")] = 20,
    timeout_s: Annotated[
        float, typer.Option(help="Deadline per batch, as a Lambda function timeout (s).")
    ] = 900.0,
    max_batches: Annotated[
        int | None, typer.Option(help="Stop after this many non-empty batches.")
    ] = None,
    config: StageConfigOpt = None,
) -> None:
    """Poll a real SQS queue and run the stage's handler, as Lambda would (EC2/ECS mode)."""
    import threading

    from vidpipe.cli.common import reset_settings

    queue_url = queue_url or seed_env("AWS_SQS_QUEUE_URL")
    if not queue_url:
        err.print("[red]error:[/red] no queue: pass --queue-url or set AWS_SQS_QUEUE_URL")
        raise typer.Exit(code=2)
    videos_bucket = bucket or (
        None if seed_env("S3_BUCKET_VIDEOS") else seed_env("AWS_S3_BUCKET_NAME")
    )
    if videos_bucket:
        os.environ["S3_BUCKET_VIDEOS"] = videos_bucket
        reset_settings()
    use_landmarks_config(config)
    from shared import aws
    from shared.config import get_settings
    from vidpipe.poller import SqsPoller

    handler = load_handler(stage)
    poller = SqsPoller(
        aws.client("sqs", get_settings()),
        queue_url,
        handler,
        batch_size=batch_size,
        wait_s=wait_s,
        function_timeout_s=timeout_s,
        function_name=f"vidpipe-{stage}",
    )
    err.print(
        f"polling {queue_url} for {stage}, videos in {get_settings().s3_bucket_videos} "
        "(Ctrl-C to stop)"
    )
    stop = threading.Event()
    try:
        poller.run(
            stop,
            until=(lambda: poller.stats.batches >= max_batches) if max_batches else None,
        )
    except KeyboardInterrupt:
        stop.set()
    s = poller.stats
    out.print(
        f"batches={s.batches} received={s.received} deleted={s.deleted} "
        f"failed={s.failed} handler_errors={s.handler_errors}"
    )


def print_status(platform: str, shortcode: str) -> list[Any]:
    """Print a video's plan (when it has one), its stage rows (planned stages that have not
    started show as ``waiting``) and each stage's output prefix; return the stage rows."""
    from shared.batch import get_runtime

    rt = get_runtime()
    states = rt.status.stages(platform, shortcode)
    plan = rt.status.get_plan(platform, shortcode)
    title = f"{platform}/{shortcode}"
    if plan is not None:
        title += f"  plan: {', '.join(plan.stages)}  state: {plan.state}"
    table = Table(title=title)
    for col in ("stage", "status", "attempts", "finished (UTC)"):
        table.add_column(col, no_wrap=True)
    table.add_column("last error", overflow="fold")
    by_stage = {str(st.stage): st for st in states}
    names = list(plan.stages) if plan is not None else []
    names += [n for n in by_stage if n not in names]
    for name in names:
        st = by_stage.get(name)
        if st is None:
            table.add_row(name, "waiting", "0", "", "")
            continue
        table.add_row(
            name,
            str(st.status),
            str(st.attempts),
            st.finished_at.strftime("%Y-%m-%d %H:%M:%S") if st.finished_at else "",
            st.last_error or "",
        )
    out.print(table)
    for st in states:
        if st.output_prefix:
            out.print(f"{st.stage} output: {st.output_prefix}", highlight=False, soft_wrap=True)
    if plan is not None:
        out.print(
            f"upload {plan.upload_id}: {plan.state}"
            + (f" at {plan.finished_at:%Y-%m-%d %H:%M:%S} UTC" if plan.finished_at else "")
            + (", completion event sent" if plan.notified else ""),
            highlight=False,
        )
    return states


@app.command()
def status(
    platform: Annotated[str, typer.Argument(help="Platform, e.g. instagram.")],
    shortcode: Annotated[str, typer.Argument(help="Shortcode, e.g. Cx1.")],
) -> None:
    """Print a video's plan, overall state, per-stage status and output prefixes.

    Exit code 1 when the status store knows nothing of the video.
    """
    from shared.batch import get_runtime
    from shared.messages import validate_platform, validate_shortcode

    try:
        validate_platform(platform)
        validate_shortcode(shortcode)
        rt = get_runtime()
        video = rt.status.get_video(platform, shortcode)
        known = (
            video is not None
            or rt.status.get_plan(platform, shortcode) is not None
            or bool(rt.status.stages(platform, shortcode))
        )
        if not known:
            err.print(f"[red]error:[/red] no status for {platform}/{shortcode}")
            raise typer.Exit(code=1)
        print_status(platform, shortcode)
    except PipelineError as exc:
        raise fail(exc) from exc
    if video is not None:
        out.print(
            f"videos: is_downloaded={video.is_downloaded} is_extracted={video.is_extracted} "
            f"frame_count={video.frame_count}"
        )


@app.command()
def submit(
    video: Annotated[
        str,
        typer.Argument(help="A local video to upload, or s3://bucket/key of one already there."),
    ],
    platform: Annotated[str, typer.Option(help="Platform, e.g. instagram.")],
    shortcode: Annotated[str, typer.Option(help="Shortcode, e.g. Cx1.")],
    stages: Annotated[
        list[str] | None,
        typer.Option("--stage", help="A stage of the plan (repeat); default: the routing rules."),
    ] = None,
    options: Annotated[
        Path | None,
        typer.Option(
            "--options", dir_okay=False, exists=True, help="JSON file: per-stage options."
        ),
    ] = None,
    queue_url: Annotated[
        str | None,
        typer.Option(
            help="The pipeline queue (stack output PipelineQueueUrl) for s3:// videos.",
            envvar="VIDPIPE_PIPELINE_QUEUE_URL",
        ),
    ] = None,
) -> None:
    """Start a plan on AWS: upload VIDEO to {platform}/{shortcode}/video.<ext> with the plan as
    its metadata, or send the pipeline queue a direct job for a video already in S3."""
    from shared import aws
    from shared.config import get_settings
    from shared.messages import validate_platform, validate_shortcode
    from shared.plan import META_OPTIONS, META_STAGES, build_plan

    try:
        validate_platform(platform)
        validate_shortcode(shortcode)
        opts = json.loads(options.read_text()) if options else {}
        if stages:
            build_plan(list(stages), opts, source="message")  # refuse bad names before sending
        settings = get_settings()
        if video.startswith("s3://"):
            from vidpipe.cli.common import split_s3_uri

            bucket, key = split_s3_uri(video)
            if not queue_url:
                err.print("[red]error:[/red] an s3:// video needs --queue-url (PipelineQueueUrl)")
                raise typer.Exit(code=2)
            body: dict[str, Any] = {
                "platform": platform,
                "shortcode": shortcode,
                "bucket": bucket,
                "key": key,
            }
            if stages:
                body["stages"] = list(stages)
            if opts:
                body["options"] = opts
            aws.client("sqs", settings).send_message(
                QueueUrl=queue_url, MessageBody=json.dumps(body)
            )
            out.print(
                f"sent the plan for s3://{bucket}/{key} to {queue_url}",
                highlight=False,
                soft_wrap=True,
            )
            return
        path = Path(video)
        if not path.is_file():
            err.print(f"[red]error:[/red] {video}: no such file")
            raise typer.Exit(code=2)
        key = f"{platform}/{shortcode}/video{path.suffix.lower() or '.mp4'}"
        metadata = {META_STAGES: ",".join(stages)} if stages else {}
        if opts:
            metadata[META_OPTIONS] = json.dumps(opts, separators=(",", ":"))
        aws.client("s3", settings).upload_file(
            str(path), settings.s3_bucket_videos, key, ExtraArgs={"Metadata": metadata}
        )
    except PipelineError as exc:
        raise fail(exc) from exc
    except ValueError as exc:
        err.print(f"[red]error:[/red] --options: {exc}")
        raise typer.Exit(code=2) from exc
    except (BotoCoreError, ClientError) as exc:
        err.print(f"[red]error:[/red] AWS: {exc}")
        raise typer.Exit(code=1) from exc
    out.print(
        f"uploaded s3://{settings.s3_bucket_videos}/{key}"
        + (f" with plan {', '.join(stages)}" if stages else " (plan from the routing rules)"),
        highlight=False,
        soft_wrap=True,
    )
