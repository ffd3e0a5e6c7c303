"""An SQS poller that does what Lambda's SQS event source mapping does (docs/local.md).

It receives up to ``batch_size`` messages, invokes the real handler with a Lambda-like context
that has a deadline, deletes the messages that succeeded and leaves the ``batchItemFailures`` (or
the whole batch, if the handler raised) to reappear after the visibility timeout. SQS's redrive
policy then moves a message that keeps failing to the DLQ after ``maxReceiveCount`` receives.

The same poller drives the embedded local mode (against moto) and the long-running worker mode
(against real SQS, on EC2 or ECS).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.observability import logger
from vidpipe.lambda_context import LocalContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class PollStats:
    """Counts over a poller's life."""

    batches: int = 0
    received: int = 0
    deleted: int = 0
    failed: int = 0
    handler_errors: int = 0
    last_failures: list[str] = field(default_factory=list)


def to_lambda_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """Turn ``ReceiveMessage`` results into the event Lambda would deliver.

    Args:
        messages: ``ReceiveMessage`` ``Messages`` entries (with ``Attributes``).
        queue_arn: the queue's ARN (``eventSourceARN``).
        region: the queue's region (``awsRegion``).
    """
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class SqsPoller:
    """Polls one queue and invokes ``handler`` like Lambda's event source mapping.

    Args:
        sqs: a boto3 SQS client.
        queue_url: the queue to poll.
        handler: the Lambda handler (``event, context -> {"batchItemFailures": [...]}``).
        batch_size: ``MaxNumberOfMessages`` per receive (1-10, as the mapping's ``BatchSize``).
        wait_s: long-poll ``WaitTimeSeconds`` (0-20).
        function_timeout_s: the deadline each invocation's context counts down from.
        function_name: the context's ``function_name``.
    """

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        *,
        batch_size: int = 10,
        wait_s: int = 20,
        function_timeout_s: float = 900.0,
        function_name: str = "vidpipe-worker",
    ) -> None:
        if not 1 <= batch_size <= 10:
            raise ValueError("batch_size must be 1-10 (SQS ReceiveMessage limit)")
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        self.batch_size = batch_size
        self.wait_s = max(0, min(20, wait_s))
        self.function_timeout_s = function_timeout_s
        self.function_name = function_name
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attrs["Attributes"]["QueueArn"]
        self.region = self.queue_arn.split(":")[3]
        self.stats = PollStats()

    def poll_once(self) -> int:
        """Receive one batch and process it; returns how many messages were received."""
        resp = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = resp.get("Messages", [])
        if not messages:
            return 0
        self.stats.batches += 1
        self.stats.received += len(messages)
        event = to_lambda_event(messages, self.queue_arn, self.region)
        context = LocalContext(function_name=self.function_name, timeout_s=self.function_timeout_s)
        try:
            result = self.handler(event, context) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            # A function error: Lambda returns the whole batch to the queue.
            logger.exception("handler raised; the whole batch will be redelivered")
            self.stats.handler_errors += 1
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        self.stats.deleted += len(done)
        self.stats.failed += len(failed)
        self.stats.last_failures = sorted(failed)
        return len(messages)

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        until: Callable[[], bool] | None = None,
        timeout_s: float | None = None,
    ) -> PollStats:
        """Poll until ``stop`` is set, ``until()`` is true, or ``timeout_s`` passes."""
        stop = stop or threading.Event()
        started = time.monotonic()
        while not stop.is_set():
            if until is not None and until():
                break
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                break
            self.poll_once()
        return self.stats
