"""Structured logs and EMF metrics through Powertools for AWS Lambda (docs/architecture.md).

Logs are JSON on stderr with keys such as ``platform``, ``shortcode`` and ``stage``; metrics are
CloudWatch Embedded Metric Format in namespace ``VidPipe``. The CLI turns EMF output off
(``POWERTOOLS_METRICS_DISABLED=true``) unless ``DEBUG`` is set, so its stdout stays readable.
"""

from __future__ import annotations

import os
import sys

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "vidpipe")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "VidPipe")

logger = Logger(service=SERVICE, stream=sys.stderr)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

__all__ = ["NAMESPACE", "SERVICE", "MetricUnit", "logger", "metrics"]
