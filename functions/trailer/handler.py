"""Lambda entrypoint ``functions.trailer.handler.lambda_handler`` (SQS-triggered)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.trailer.job import trailer_job
from shared.batch import run_batch
from shared.observability import logger, metrics
from shared.stages import Stage


@logger.inject_lambda_context(correlation_id_path="Records[0].messageId")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Render the planned profiles' trailers for every video in an SQS batch; returns
    ``batchItemFailures``."""
    return run_batch(event, context, stage=Stage.TRAILER, job=trailer_job)
