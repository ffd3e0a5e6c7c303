"""Structured logs and EMF metrics through Powertools for AWS Lambda (docs/architecture.md),
quiet by default.

Logs are JSON on stderr with keys such as ``platform``, ``shortcode`` and ``stage``; metrics are
CloudWatch Embedded Metric Format in namespace ``VidPipe``. The CLI turns EMF output off
(``POWERTOOLS_METRICS_DISABLED=true``) unless ``DEBUG`` is set, so its stdout stays readable.

Unless debug is on (``DEBUG=true``, the setting of the same name, or :func:`set_debug` from the
CLI's ``-v``), two kinds of noise are dropped:

* Powertools' ``No application metrics to publish`` warning, which every invocation that records
  no metric raises (an ``s3:TestEvent``, an ignored message): nothing is published either way;
* the native INFO and WARNING lines of MediaPipe's C++ runtime (absl logging, TensorFlow Lite's
  ``Created TensorFlow Lite XNNPACK delegate``), which no environment variable turns off in
  mediapipe 0.10.21. :func:`quiet_native_logs` filters them out of file descriptor 2 while the
  native code runs; every other line (Python logs, native ERROR and FATAL lines) passes through.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "vidpipe")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "VidPipe")
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_debug_override: bool | None = None


def debug_enabled() -> bool:
    """Whether debug output is wanted: :func:`set_debug`, else the ``DEBUG`` variable (the
    ``debug`` setting: ``1``, ``true``, ``yes`` or ``on``, any case)."""
    if _debug_override is not None:
        return _debug_override
    return os.environ.get("DEBUG", "").strip().lower() in _TRUE


def set_debug(on: bool | None) -> None:
    """Force debug output on or off for this process (the CLI's ``-v``); ``None`` goes back to
    the ``DEBUG`` variable."""
    global _debug_override
    _debug_override = on


class _QuietEMFProvider(AmazonCloudWatchEMFProvider):
    """The CloudWatch EMF provider without the empty-flush warning unless debug is on."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if not self.metric_set and not raise_on_empty_metrics and not debug_enabled():
            return  # nothing to publish, and Powertools would only warn about it
        super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)


logger = Logger(service=SERVICE, stream=sys.stderr)
# The provider shares Metrics' class-level sets, as the one Metrics builds for itself does, so
# every Metrics() in the process still adds to the same EMF blob.
metrics = Metrics(
    namespace=NAMESPACE,
    service=SERVICE,
    provider=_QuietEMFProvider(
        namespace=NAMESPACE,
        service=SERVICE,
        metric_set=Metrics._metrics,
        dimension_set=Metrics._dimensions,
        metadata_set=Metrics._metadata,
        default_dimensions=Metrics._default_dimensions,
    ),
)

#: Native log lines dropped by :func:`quiet_native_logs`: absl/glog INFO and WARNING records
#: (``W0000 00:00:1796195586.723424   22667 file.cc:114] ...``) and TensorFlow Lite's and absl's
#: own start-up notices. ERROR (``E``) and FATAL (``F``) records are kept.
NATIVE_NOISE = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\] "
    rb"|INFO: Created TensorFlow Lite "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called)"
)


class _Fd2Filter:
    """Points file descriptor 2 at a pipe whose reader forwards all but :data:`NATIVE_NOISE`."""

    def __init__(self) -> None:
        self.saved = os.dup(2)
        self.read_fd, self.write_fd = os.pipe()
        self.thread = threading.Thread(target=self._pump, name="stderr-filter", daemon=True)
        self.thread.start()
        os.dup2(self.write_fd, 2)

    def _pump(self) -> None:
        pending = b""
        while chunk := os.read(self.read_fd, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            self._forward(lines)
        if pending:
            self._forward([pending], newline=False)

    def _forward(self, lines: list[bytes], newline: bool = True) -> None:
        kept = [line for line in lines if not NATIVE_NOISE.match(line)]
        if kept:
            text = b"\n".join(kept) + (b"\n" if newline else b"")
            with contextlib.suppress(OSError):
                os.write(self.saved, text)

    def close(self) -> None:
        os.dup2(self.saved, 2)
        os.close(self.write_fd)  # the reader drains what is left, then sees end of file
        self.thread.join()
        os.close(self.read_fd)
        os.close(self.saved)


_filter_lock = threading.Lock()
_filter_users = 0
_filter: _Fd2Filter | None = None


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Drop native INFO/WARNING log lines written to stderr inside this block (see
    :data:`NATIVE_NOISE`); a no-op when :func:`debug_enabled`.

    Process-wide (file descriptor 2 is shared by every thread) and re-entrant: concurrent and
    nested blocks share one filter, removed when the last one exits, after every line written
    inside has been forwarded.
    """
    global _filter_users, _filter
    if debug_enabled():
        yield
        return
    with _filter_lock:
        sys.stderr.flush()
        if _filter_users == 0:
            _filter = _Fd2Filter()
        _filter_users += 1
    try:
        yield
    finally:
        with _filter_lock:
            sys.stderr.flush()
            _filter_users -= 1
            if _filter_users == 0 and _filter is not None:
                _filter.close()
                _filter = None


__all__ = [
    "NAMESPACE",
    "SERVICE",
    "MetricUnit",
    "debug_enabled",
    "logger",
    "metrics",
    "quiet_native_logs",
    "set_debug",
]
