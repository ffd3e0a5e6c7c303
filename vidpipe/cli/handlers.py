"""``vidpipe invoke``, ``worker`` and ``status``: the real handlers on events and queues, and
what the status store says."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
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
) -> None:
    """Run a stage's real Lambda handler once on an event file and print its JSON response."""
    from vidpipe.lambda_context import LocalContext

    use_landmarks_config(config)
    handler = load_handler(stage)
    payload = _as_sqs_event(json.loads(event.read_text()))
    context = LocalContext(function_name=f"vidpipe-{stage}", timeout_s=timeout_s)
    try:
        response = handler(payload, context)
    except PipelineError as exc:
        raise fail(exc) from exc
    out.print_json(data=response)


@app.command()
def worker(
    stage: StageArg,
    queue_url: Annotated[str, typer.Option(help="The stage's SQS queue URL.")],
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
    err.print(f"polling {queue_url} for {stage} (Ctrl-C to stop)")
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
    """Print a video's stage rows (a table, then each stage's output prefix); return them."""
    from shared.batch import get_runtime

    states = get_runtime().status.stages(platform, shortcode)
    table = Table(title=f"{platform}/{shortcode}")
    for col in ("stage", "status", "attempts", "finished (UTC)"):
        table.add_column(col, no_wrap=True)
    table.add_column("last error", overflow="fold")
    for st in states:
        table.add_row(
            str(st.stage),
            str(st.status),
            str(st.attempts),
            st.finished_at.strftime("%Y-%m-%d %H:%M:%S") if st.finished_at else "",
            st.last_error or "",
        )
    out.print(table)
    for st in states:
        if st.output_prefix:
            out.print(f"{st.stage} output: {st.output_prefix}", highlight=False, soft_wrap=True)
    return states


@app.command()
def status(
    platform: Annotated[str, typer.Argument(help="Platform, e.g. instagram.")],
    shortcode: Annotated[str, typer.Argument(help="Shortcode, e.g. Cx1.")],
) -> None:
    """Print a video's per-stage status from the configured status store."""
    from shared.batch import get_runtime
    from shared.messages import validate_platform, validate_shortcode

    try:
        validate_platform(platform)
        validate_shortcode(shortcode)
        rt = get_runtime()
        video = rt.status.get_video(platform, shortcode)
        print_status(platform, shortcode)
    except PipelineError as exc:
        raise fail(exc) from exc
    if video is not None:
        out.print(
            f"videos: is_downloaded={video.is_downloaded} is_extracted={video.is_extracted} "
            f"frame_count={video.frame_count}"
        )
