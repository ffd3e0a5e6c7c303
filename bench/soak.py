"""Fault-injection soak on the local stack (docs/reliability.md#fault-injection-soak).

N uploads of short synthetic clips (``vidpipe.synth``) go through the whole plan on the local
stack (``vidpipe.local``: moto S3/SNS/SQS, the real handlers driven by SQS pollers, SQLite),
while faults are injected at configured rates:

* ``s3``: S3 answers 503 (``SlowDown``) to a request, from a botocore ``before-send`` hook on the
  runtime's client (botocore's own retries absorb most; the rest reach the pipeline's errors);
* ``status``: the status store is unreachable for one call (``StatusStoreUnavailableError`` from
  ``claim``, ``get_plan`` or ``stages``);
* ``kill``: the worker dies mid-record: an exception no handler catches escapes from an S3 write
  of a stage's output, the invocation ends without answering (the whole batch is redelivered)
  and its claim is neither completed nor released (the lease must expire);
* ``dup``: a record is delivered twice in its batch (same ``messageId``), or its body is sent
  again as a new message;
* ``deadline``: the invocation's remaining time drops under ``ABORT_REMAINING_MS`` mid-record.

When nothing is left to deliver, the faults stop and the soak does what docs/errors.md asks of
an operator once a cause is fixed: it redrives every DLQ back to its queue (a kill on a message's
last receive, or a batch-mate's, parks it there with its stage still ``processing``) and lets the
redriven messages run. At the end it prints a table and exits 1 if an invariant is broken: every
stage that succeeded was completed exactly once; no object is left in the folder of a stage that
did not succeed and no key frame outside its manifest; no temp file is left; no upload is lost
(every plan reached a final state); no message is left in a DLQ.
Timing is shortened so retries come back in seconds: a 6 s function time-out,
``MIN_REMAINING_MS`` 3000, ``ABORT_REMAINING_MS`` 1500, ``LEASE_MARGIN_S`` 1, an 8 s visibility
timeout (longer than a lease, as on AWS).

Usage::

    .venv/bin/python bench/soak.py --uploads 200 --rate 0.05
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

FUNCTION_TIMEOUT_S = 6.0
#: longer than a lease (the function time-out plus LEASE_MARGIN_S), as on AWS (6 x the time-out),
#: so a redelivery never finds a dead worker's lease still live and burns a receive on it
VISIBILITY_TIMEOUT_S = 8
ENV = {
    "MIN_REMAINING_MS": "3000",
    "ABORT_REMAINING_MS": "1500",
    "LEASE_MARGIN_S": "1",
    "S3_RETRIES": "2",
    "S3_RETRY_DELAY": "0",
    "PREVIEWS": "false",
    "LOG_LEVEL": "ERROR",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
FAULTS = ("s3", "status", "kill", "dup", "deadline")


class WorkerKilled(BaseException):
    """The worker process died: nothing in the pipeline catches a ``BaseException``."""


class Injector:
    """Decides, per opportunity, whether to inject a fault of a kind, and counts them."""

    def __init__(self, rates: dict[str, float], seed: int) -> None:
        self.rates = rates
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.on = True

    def roll(self, kind: str) -> bool:
        with self.lock:
            if not self.on or self.rng.random() >= self.rates.get(kind, 0.0):
                return False
            self.counts[kind] += 1
            return True


def main(argv: list[str] | None = None) -> int:
    """Run the soak; returns the exit code (0: every invariant held)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--uploads", type=int, default=10)
    ap.add_argument("--rate", type=float, default=0.05, help="rate of every fault kind")
    for kind in FAULTS:
        ap.add_argument(f"--{kind}-rate", type=float, default=None)
    ap.add_argument("--stages", default="frame-extract,rekognition")
    ap.add_argument("--seconds", type=float, default=2.0, help="length of each clip")
    ap.add_argument("--timeout", type=float, default=1800.0, help="give up after (s)")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)
    rates = {
        k: (getattr(args, f"{k}_rate") if getattr(args, f"{k}_rate") is not None else args.rate)
        for k in FAULTS
    }
    result = soak(
        uploads=args.uploads,
        rates=rates,
        stages=[s for s in args.stages.split(",") if s],
        seconds=args.seconds,
        timeout_s=args.timeout,
        seed=args.seed,
    )
    print_table(result)
    return 0 if not result["broken"] else 1


def soak(**kwargs: Any) -> dict[str, Any]:
    """Run one soak (:func:`_soak`) with :data:`ENV` set, then restore the environment."""
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    try:
        return _soak(**kwargs)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _soak(
    *,
    uploads: int,
    rates: dict[str, float],
    stages: list[str],
    seconds: float,
    timeout_s: float,
    seed: int,
) -> dict[str, Any]:
    """Run one soak and return its measurements (see :func:`print_table`)."""
    from shared import batch as batch_module
    from shared.errors import StatusStoreUnavailableError
    from shared.layout import VideoLayout
    from shared.manifest import FrameManifest
    from shared.plan import META_STAGES
    from shared.stages import ENTRY_NAME, Stage
    from shared.status import PlanState, StageStatus
    from vidpipe import poller as poller_module
    from vidpipe.cli.common import load_handler
    from vidpipe.lambda_context import LocalContext
    from vidpipe.local import local_stack
    from vidpipe.poller import SqsPoller
    from vidpipe.synth import make_clip

    inject = Injector(rates, seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vidpipe-soak-") as tmp:
        root = Path(tmp)
        clip = root / "clip.mp4"
        third = max(4, int(seconds * 25 / 3))
        make_clip(clip, (third, third, third), fps=25.0, size=(320, 180))
        wanted = tuple(Stage(s) for s in stages)
        state = root / "state"
        with local_stack(state, stages=wanted, visibility_timeout_s=VISIBILITY_TIMEOUT_S) as stack:
            rt = batch_module.get_runtime()
            contexts: list[Any] = []

            class SoakContext(LocalContext):
                expired = False

                def get_remaining_time_in_millis(self) -> int:
                    return 1000 if self.expired else super().get_remaining_time_in_millis()

            def make_context(**kw: Any) -> Any:
                ctx = SoakContext(**kw)
                contexts.append(ctx)
                return ctx

            poller_module.LocalContext = make_context  # type: ignore[misc,assignment]

            # ---- S3 faults, kills and deadlines, on the runtime's S3 client
            def before_send(request: Any, **_: Any) -> Any:
                from botocore.awsrequest import AWSResponse

                url = request.url
                output = stack.frames_bucket in url and request.method == "PUT"
                if output and inject.roll("kill"):
                    raise WorkerKilled(url)
                if output and contexts and inject.roll("deadline"):
                    contexts[-1].expired = True
                if inject.roll("s3"):
                    body = b"<Error><Code>SlowDown</Code><Message>injected</Message></Error>"
                    return AWSResponse(url, 503, {}, _Raw(body))
                return None

            rt.storage.s3.meta.events.register("before-send.s3", before_send)

            # ---- status-store outages and the count of completions
            real = rt.status
            completions: Counter[tuple[str, str, str]] = Counter()

            class FlakyStatus:
                def __getattr__(self, name: str) -> Any:
                    attr = getattr(real, name)
                    if name in ("claim", "get_plan", "stages"):

                        def flaky(*a: Any, **kw: Any) -> Any:
                            if inject.roll("status"):
                                raise StatusStoreUnavailableError(f"injected: {name}")
                            return attr(*a, **kw)

                        return flaky
                    if name == "complete":

                        def counted(key: Any, *a: Any, **kw: Any) -> Any:
                            ok = attr(key, *a, **kw)
                            if ok:
                                completions[(key.platform, key.shortcode, str(key.stage))] += 1
                            return ok

                        return counted
                    return attr

            rt.status = FlakyStatus()  # type: ignore[assignment]

            # ---- the handlers, as the event source mapping invokes them
            sqs = stack.client("sqs")

            def wrap(name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
                url = stack.queue_urls[name]

                def invoke(event: dict[str, Any], context: Any) -> Any:
                    records = list(event["Records"])
                    for r in list(records):
                        if inject.roll("dup"):
                            if inject.rng.random() < 0.5:
                                records.append(dict(r))  # the same messageId in the batch
                            else:
                                sqs.send_message(QueueUrl=url, MessageBody=r["body"])
                    try:
                        return handler({"Records": records}, context)
                    except WorkerKilled as exc:
                        raise RuntimeError("worker killed mid-record") from exc

                return invoke

            names = (ENTRY_NAME, *map(str, wanted))
            pollers = [
                SqsPoller(
                    sqs,
                    stack.queue_urls[n],
                    wrap(n, load_handler(n)),
                    batch_size=min(stack.deployed[n].batch_size, 10),
                    wait_s=0,
                    function_timeout_s=FUNCTION_TIMEOUT_S,
                    function_name=stack.deployed[n].function,
                )
                for n in names
            ]

            # ---- the uploads
            s3 = stack.client("s3")
            videos = [("soak", f"v{i:04d}") for i in range(uploads)]
            for platform, code in videos:
                s3.upload_file(
                    str(clip),
                    stack.videos_bucket,
                    f"{platform}/{code}/video.mp4",
                    ExtraArgs={"Metadata": {META_STAGES: ",".join(stages)}},
                )

            def all_final() -> bool:
                for platform, code in videos:
                    plan = real.get_plan(platform, code)
                    if plan is None or plan.state == PlanState.RUNNING:
                        return False
                return True

            def parked() -> bool:
                """Nothing left to deliver but something in a DLQ: an operator's turn."""
                return not any(stack.queue_depth(u) for u in stack.queue_urls.values()) and any(
                    stack.queue_depth(u) for u in stack.dlq_urls.values()
                )

            def drain(until: float) -> None:
                """Poll until every queue has been quiet for a visibility timeout."""
                idle_since = time.monotonic()
                quiet_s = VISIBILITY_TIMEOUT_S + 1
                while time.monotonic() - idle_since < quiet_s and time.monotonic() < until:
                    if sum(p.poll_once() for p in pollers):
                        idle_since = time.monotonic()
                    else:
                        time.sleep(0.2)

            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and not all_final():
                if not sum(p.poll_once() for p in pollers):
                    if parked():
                        break
                    time.sleep(0.2)
            inject.on = False
            # drain what is left (duplicates, redeliveries), without faults
            drain(deadline + 60)
            # the operator's step once the cause is fixed (docs/errors.md): redrive every DLQ
            # back to its queue, then let the redriven messages run
            redriven = sum(stack.redrive(name) for name in stack.dlq_urls)
            if redriven:
                drain(deadline + 120)
            wall = time.monotonic() - started

            # ---- invariants
            states: dict[str, Counter[str]] = {}
            executions_bad: list[str] = []
            orphans: list[str] = []
            lost: list[str] = []
            per_upload: Counter[int] = Counter()
            for platform, code in videos:
                plan = real.get_plan(platform, code)
                if plan is None or plan.state == PlanState.RUNNING:
                    lost.append(f"{platform}/{code}")
                rows = {st.stage: st for st in real.stages(platform, code)}
                layout = VideoLayout(platform, code)
                succeeded = 0
                for stage in wanted:
                    st = rows.get(stage)
                    status = str(st.status) if st else "none"
                    states.setdefault(str(stage), Counter())[status] += 1
                    done = completions[(platform, code, str(stage))]
                    folder = layout.stage(stage)
                    keys = rt.storage.list_keys(stack.frames_bucket, folder)
                    if st is not None and st.status == StageStatus.SUCCEEDED:
                        succeeded += 1
                        if done != 1:
                            executions_bad.append(f"{platform}/{code} {stage}: {done}")
                        if stage == Stage.FRAME_EXTRACT:
                            m = FrameManifest.parse(
                                rt.storage.get_bytes(stack.frames_bucket, layout.frame_manifest)
                            )
                            named = {folder + s.keyframe.file for s in m.scenes}
                            named.add(layout.frame_manifest)
                            orphans += [k for k in keys if k not in named]
                    else:
                        if done:
                            executions_bad.append(f"{platform}/{code} {stage}: {done}, not final")
                        orphans += keys
                per_upload[succeeded] += 1
            tmp_dir = Path(rt.settings.tmp_dir)
            temp_left = [str(p) for p in tmp_dir.rglob("*")] if tmp_dir.exists() else []
            dlq = sum(stack.queue_depth(u) for u in stack.dlq_urls.values())
            retries = sum(p.stats.failed for p in pollers)
            crashes = sum(p.stats.handler_errors for p in pollers)
            executions = Counter(completions.values())

    broken = []
    if executions_bad:
        broken.append(f"stage executions != 1: {executions_bad[:5]}")
    if orphans:
        broken.append(f"orphaned objects: {orphans[:5]}")
    if temp_left:
        broken.append(f"temp files left: {temp_left[:5]}")
    if lost:
        broken.append(f"uploads lost: {lost[:5]}")
    if dlq:
        broken.append(f"messages left in a DLQ after the redrive: {dlq}")
    return {
        "uploads": uploads,
        "stages": stages,
        "rates": rates,
        "faults": dict(inject.counts),
        "retries": retries,
        "crashed_invocations": crashes,
        "dlq_redriven": redriven,
        "dlq": dlq,
        "states": {k: dict(v) for k, v in states.items()},
        "executions_per_succeeded_stage": dict(executions),
        "orphaned_objects": len(orphans),
        "temp_files_left": len(temp_left),
        "uploads_lost": len(lost),
        "wall_s": round(wall, 1),
        "broken": broken,
    }


class _Raw:
    """A raw body for an ``AWSResponse`` built in a hook (what botocore reads from urllib3)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data

    def read(self, *_: Any, **__: Any) -> bytes:
        data, self._data = self._data, b""
        return data


def print_table(r: dict[str, Any]) -> None:
    """The soak's table (Markdown), then the broken invariants."""
    faults = ", ".join(f"{k} {r['faults'].get(k, 0)}" for k in FAULTS)
    rates = ", ".join(f"{k} {v:g}" for k, v in r["rates"].items())
    states = "; ".join(
        f"{stage}: " + ", ".join(f"{s} {n}" for s, n in sorted(c.items()))
        for stage, c in r["states"].items()
    )
    execs = ", ".join(f"{n}x: {c}" for n, c in sorted(r["executions_per_succeeded_stage"].items()))
    rows = [
        ("uploads", f"{r['uploads']} ({', '.join(r['stages'])})"),
        ("fault rates", rates),
        ("faults injected", faults),
        ("retries (records redelivered)", r["retries"]),
        ("crashed invocations", r["crashed_invocations"]),
        ("DLQ messages redriven (faults off)", r["dlq_redriven"]),
        ("DLQ messages at the end", r["dlq"]),
        ("final stage states", states),
        ("completions per succeeded stage", execs or "none"),
        ("orphaned objects", r["orphaned_objects"]),
        ("temp files left", r["temp_files_left"]),
        ("uploads lost", r["uploads_lost"]),
        ("wall time", f"{r['wall_s']} s"),
    ]
    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    for b in r["broken"]:
        print(f"BROKEN: {b}", file=sys.stderr)
    print(json.dumps({"broken": r["broken"]}), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
