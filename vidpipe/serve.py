"""``vidpipe local serve``: the local stack, its pollers and the real ``api`` handler behind an
HTTP server on 127.0.0.1, all in one process (docs/local.md, "local serve").

* :class:`~vidpipe.local.LocalStack` starts moto (S3, SNS, SQS; with S3's POST policy check,
  :mod:`vidpipe.s3post`), the queues and topics the template deploys, and SQLite;
* one thread polls the entry queue and every stage's queue in turn, as the functions' event
  sources would, and writes each video's ``summary.txt`` and ``report.html`` when its completion
  event arrives (as ``vidpipe local run`` does);
* a standard-library ``ThreadingHTTPServer`` turns each HTTP request into an API Gateway HTTP
  API event (payload 2.0, :mod:`vidpipe.http_events`) for
  :func:`functions.api.handler.lambda_handler`, one request at a time like one Lambda instance.

The API runs with ``API_AUTH=none``: bind it to 127.0.0.1 only. Presigned URLs point at moto's
endpoint, which a browser on the same machine reaches.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from shared.observability import logger
from shared.stages import ENTRY_HANDLER, ENTRY_NAME, STAGES, Stage
from vidpipe.http_events import http_event, http_response
from vidpipe.lambda_context import LocalContext
from vidpipe.local import LocalStack
from vidpipe.poller import SqsPoller
from vidpipe.template import api_function, stage_queues

#: Largest API request body accepted (the API's bodies are small JSON; videos go to S3).
MAX_REQUEST_BYTES = 1024 * 1024


def deployed_stages() -> tuple[Stage, ...]:
    """The registry's stages the template deploys with a queue (all of them, normally)."""
    queued = {q.stage for q in stage_queues()}
    return tuple(s for s in STAGES if str(s) in queued)


@dataclass
class Worker:
    """Polls the entry and stage queues in a thread and writes reports of finished plans."""

    stack: LocalStack
    poll_interval_s: float = 0.3
    reports: list[tuple[str, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Worker:
        import importlib

        module, _, attr = ENTRY_HANDLER.rpartition(".")
        handlers = {ENTRY_NAME: getattr(importlib.import_module(module), attr)}
        handlers |= {str(s): STAGES[s].load_handler() for s in self.stack.stages}
        sqs = self.stack.client("sqs")
        self._pollers = [
            SqsPoller(
                sqs,
                self.stack.queue_urls[name],
                handler,
                batch_size=self.stack.deployed[name].batch_size,
                wait_s=0,
                function_timeout_s=self.stack.deployed[name].timeout_s,
                function_name=self.stack.deployed[name].function,
            )
            for name, handler in handlers.items()
        ]
        self._thread = threading.Thread(target=self._run, name="vidpipe-pollers", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = sum(p.poll_once() for p in self._pollers)
                self._write_reports()
            except Exception:  # a poller error must not end the server; the record comes back
                logger.exception("local serve: polling failed")
                busy = 0
            if not busy:
                self._stop.wait(self.poll_interval_s)

    def _write_reports(self) -> None:
        from shared.batch import get_runtime
        from shared.previews.report import write_video_report

        for event in self.stack.finished_events():
            rt = get_runtime()
            platform, shortcode = event["platform"], event["shortcode"]
            if rt.settings.previews:
                write_video_report(
                    rt.storage,
                    self.stack.frames_bucket,
                    platform,
                    shortcode,
                    rt.status.stages(platform, shortcode),
                )
            self.reports.append((platform, shortcode))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


class _ApiHandler(BaseHTTPRequestHandler):
    """One HTTP request -> one API Gateway v2 event -> the api handler -> the response."""

    protocol_version = "HTTP/1.1"
    server_version = "vidpipe-local"
    lock = threading.Lock()  # one request at a time, like one Lambda instance

    def _handle(self) -> None:
        from functions.api.handler import lambda_handler

        path, _, query = self.path.partition("?")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_REQUEST_BYTES:
            # API Gateway's own answer to a body it will not pass on
            too_large = b'{"message":"Request Entity Too Large"}'
            self.close_connection = True  # the unread body must not be taken for a request
            self._send(413, [("content-type", "application/json")], too_large)
            return
        body = self.rfile.read(length) if length else None
        event = http_event(
            self.command,
            path,
            query=query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
        )
        deployed = api_function()
        with self.lock:
            context: Any = LocalContext(
                function_name=deployed.function, timeout_s=deployed.timeout_s
            )
            try:
                result = lambda_handler(event, context)
            except Exception:  # the function crashed: API Gateway answers 500, so do we
                logger.exception("local serve: the api handler raised")
                result = {
                    "statusCode": 500,
                    "headers": {"content-type": "application/json"},
                    "body": '{"message":"Internal Server Error"}',
                }
        self._send(*http_response(result))

    def _send(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("VIDPIPE_SERVE_ACCESS_LOG"):
            super().log_message(format, *args)


@dataclass
class LocalServer:
    """The running pieces of ``vidpipe local serve``."""

    stack: LocalStack
    worker: Worker
    httpd: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        """The console's (and the API's) URL, ``http://127.0.0.1:<port>/``."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/"


@contextmanager
def local_server(
    state_dir: Path,
    *,
    port: int = 8000,
    host: str = "127.0.0.1",
    stages: tuple[Stage, ...] | None = None,
    visibility_timeout_s: int = 5,
) -> Iterator[LocalServer]:
    """Run the local stack, its pollers and the API server for the ``with`` block.

    Args:
        state_dir: where SQLite and temp files live.
        port: the HTTP port on ``host`` (0: a free one).
        host: the address to bind; the API has no authentication here, keep it on loopback.
        stages: stages to deploy locally (default: every stage the template deploys).
        visibility_timeout_s: the local queues' visibility timeout (retries come back this soon).

    Raises:
        OSError: the port is taken.
    """
    from functions.api import app as api_app

    saved = {k: os.environ.get(k) for k in ("API_AUTH", "PIPELINE_ENTRY_QUEUE_URL")}
    stack = LocalStack(
        state_dir=state_dir,
        stages=stages or deployed_stages(),
        visibility_timeout_s=visibility_timeout_s,
    ).start()
    worker: Worker | None = None
    httpd: ThreadingHTTPServer | None = None
    try:
        os.environ["API_AUTH"] = "none"
        os.environ["PIPELINE_ENTRY_QUEUE_URL"] = stack.queue_urls[ENTRY_NAME]
        api_app.api_settings.cache_clear()
        api_app.clear_health_cache()
        worker = Worker(stack).start()
        httpd = ThreadingHTTPServer((host, port), _ApiHandler)
        httpd.daemon_threads = True
        thread = threading.Thread(target=httpd.serve_forever, name="vidpipe-api", daemon=True)
        thread.start()
        yield LocalServer(stack, worker, httpd, thread)
    finally:
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if worker is not None:
            worker.stop()
        stack.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        api_app.api_settings.cache_clear()
        api_app.clear_health_cache()


def wait_forever() -> None:  # pragma: no cover - interactive
    """Sleep until interrupted (Ctrl-C)."""
    while True:
        time.sleep(3600)
