"""The batch runner: concurrency, partial failures, and no BatchProcessingError on all-failed."""

from __future__ import annotations

import threading
import time

import pytest

from shared.batch import ConcurrentBatchProcessor, Runtime, run_batch
from shared.errors import TransientError
from shared.status import Stage
from shared.status.sqlite import SqliteStatusStore
from tests.support.helpers import failures, sqs_event
from vidpipe.lambda_context import LocalContext


@pytest.fixture
def rt(plain_settings) -> Runtime:
    return Runtime(
        # no S3 here, so no report at a plan's end (previews off)
        settings=plain_settings.model_copy(update={"previews": False}),
        storage=None,  # type: ignore[arg-type]  # these jobs never touch S3
        status=SqliteStatusStore(plain_settings.sqlite_path),
    )


def handoffs(rt: Runtime, names: list[str]) -> list[dict[str, str]]:
    """Hand-off bodies for frame-extract, each for a planned upload (as the entry leaves them)."""
    for name in names:
        rt.status.start_plan("p", name, "etag-1", ["frame-extract"], {})
    return [
        {
            "shortcode": name,
            "platform": "p",
            "bucket": rt.settings.s3_bucket_videos,
            "key": f"p/{name}/video.mp4",
            "upload_id": "etag-1",
        }
        for name in names
    ]


def bodies(rt: Runtime, n: int) -> list[dict[str, str]]:
    return handoffs(rt, [f"v{i}" for i in range(n)])


def test_records_run_concurrently_up_to_the_limit(rt):
    from shared.batch import JobOutcome

    running, peak, lock = [0], [0], threading.Lock()
    # two jobs must be inside at once to pass (a serial runner breaks it after 10 s),
    # however slowly the threads start on a loaded machine
    pair = threading.Barrier(2, timeout=10)

    def job(video, ctx):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        pair.wait()
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return JobOutcome(output_prefix="s3://x/")

    response = run_batch(
        sqs_event(*bodies(rt, 4)), LocalContext(), stage=Stage.FRAME_EXTRACT, job=job, runtime=rt
    )
    assert response == {"batchItemFailures": []}
    assert peak[0] == rt.settings.concurrency_limit == 2


def test_every_record_failing_returns_the_full_list_instead_of_raising(rt):
    def job(video, ctx):
        raise TransientError("S3 is down")

    event = sqs_event(*bodies(rt, 3))
    response = run_batch(event, LocalContext(), stage=Stage.FRAME_EXTRACT, job=job, runtime=rt)
    assert failures(response) == {r["messageId"] for r in event["Records"]}
    assert len(rt.status.errors()) == 3


def test_an_unexpected_exception_is_retried_not_acknowledged(rt):
    def job(video, ctx):
        raise KeyError("bug")

    event = sqs_event(*bodies(rt, 1))
    response = run_batch(event, LocalContext(), stage=Stage.FRAME_EXTRACT, job=job, runtime=rt)
    assert failures(response) == {event["Records"][0]["messageId"]}
    [err] = rt.status.errors()
    assert (err.error_class, err.retryable) == ("KeyError", True)


def test_processor_keeps_record_order(rt):
    proc = ConcurrentBatchProcessor(max_workers=3)
    event = sqs_event(*bodies(rt, 6))
    with proc(event["Records"], lambda record: record.body):
        results = proc.process()
    assert [r[1] for r in results] == [r["body"] for r in event["Records"]]


def test_metrics_do_not_pile_up_across_invocations_when_emf_is_off(rt, monkeypatch):
    # the worker mode runs with EMF disabled, so nothing ever flushes the metric set
    from shared.batch import JobOutcome
    from shared.observability import metrics

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")

    def job(video, ctx):
        return JobOutcome(output_prefix="s3://x/")

    for i in range(3):
        event = sqs_event(*handoffs(rt, [f"run{i}-{k}" for k in range(2)]))
        run_batch(event, LocalContext(), stage=Stage.FRAME_EXTRACT, job=job, runtime=rt)
    assert metrics.metric_set["RecordsSucceeded"]["Value"] == [1.0, 1.0]
    assert metrics.dimension_set["stage"] == "frame-extract"
