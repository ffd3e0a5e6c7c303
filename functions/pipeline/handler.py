"""Lambda entrypoint ``functions.pipeline.handler.lambda_handler`` (SQS-triggered).

S3 ``ObjectCreated`` events (through SNS) and direct jobs with a plan arrive here. For each
upload the runner records its plan and sends the first stages their messages
(:meth:`shared.pipeline.Pipeline.start`); no stage runs in this function.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.batch import run_batch
from shared.observability import logger, metrics


@logger.inject_lambda_context(correlation_id_path="Records[0].messageId")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Start the plan of every upload in an SQS batch; returns ``batchItemFailures``."""
    return run_batch(event, context, stage=None, job=None)
