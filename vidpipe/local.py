"""The embedded local mode (docs/local.md): moto on 127.0.0.1, the deployed shape, the real
handlers.

:class:`LocalStack` starts moto's ``ThreadedMotoServer`` on a free loopback port and builds what
``template.yaml`` deploys, read from the template itself (:mod:`vidpipe.template`): the videos and
results buckets, the SNS topic the bucket's ``ObjectCreated`` events go to (one notification per
suffix the template lists), and per SQS-triggered function a queue subscribed to the topic (raw
delivery as the template says), with a DLQ and the template's ``maxReceiveCount``. The status
store is SQLite. A :class:`~vidpipe.poller.SqsPoller` then invokes the real handler as Lambda would.

Differences from AWS, on purpose: the visibility timeout is short (``visibility_timeout_s``) so a
retried record comes back in seconds, not the template's 6 x function timeout; credentials are
dummies.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared import aws
from shared.batch import get_runtime
from shared.config import get_settings
from shared.status import Stage
from vidpipe.template import StageQueue, stage_queues, video_suffixes

REGION = "us-east-1"
TOPIC_NAME = "vidpipe-video-events"


def queue_name(stage: Stage) -> str:
    """Queue name of a stage (``vidpipe-frame-extract``); its DLQ adds ``-dlq``."""
    return f"vidpipe-{stage}"


@dataclass
class LocalStack:
    """Moto server plus the pipeline's buckets, topic, queues and DLQs.

    Args:
        state_dir: where the SQLite status database lives.
        stages: stages to create queues for.
        videos_bucket: ``S3_BUCKET_VIDEOS``.
        frames_bucket: ``S3_BUCKET_FRAMES``.
        visibility_timeout_s: the queues' visibility timeout (short, for local retries).
    """

    state_dir: Path
    stages: tuple[Stage, ...] = (Stage.FRAME_EXTRACT,)
    videos_bucket: str = "vidpipe-local-videos"
    frames_bucket: str = "vidpipe-local-frames"
    visibility_timeout_s: int = 5
    endpoint: str = ""
    queue_urls: dict[Stage, str] = field(default_factory=dict)
    dlq_urls: dict[Stage, str] = field(default_factory=dict)
    deployed: dict[Stage, StageQueue] = field(default_factory=dict)
    _server: Any = None
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The environment the handlers see while the stack runs."""
        return {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "AWS_DEFAULT_REGION": REGION,
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_BUCKET_VIDEOS": self.videos_bucket,
            "S3_BUCKET_FRAMES": self.frames_bucket,
            "STATUS_BACKEND": "sqlite",
            "SQLITE_PATH": str(self.state_dir / "status.sqlite3"),
            "TMP_DIR": str(self.state_dir / "tmp"),
            # moto has DetectLabels (canned) but no DetectFaces/RecognizeCelebrities
            "REKOGNITION_EMULATED": "true",
        }

    def start(self) -> LocalStack:
        """Start moto on a free 127.0.0.1 port, set the environment, create the resources."""
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        self.state_dir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        # moto keeps its state per process: start every local run from an empty account
        urllib.request.urlopen(
            urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"), timeout=10
        ).close()
        for k, v in self.env().items():
            self._saved_env[k] = os.environ.get(k)
            os.environ[k] = v
        self._reset_caches()
        self._create_resources()
        return self

    def stop(self) -> None:
        """Stop moto and restore the environment."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env.clear()
        self._reset_caches()

    @staticmethod
    def _reset_caches() -> None:
        get_settings.cache_clear()
        get_runtime.cache_clear()
        aws.clear_client_cache()

    def client(self, service: str) -> Any:
        """A client for the local endpoint."""
        return aws.client(service, get_settings())

    def _create_resources(self) -> None:
        s3, sns, sqs = self.client("s3"), self.client("sns"), self.client("sqs")
        for bucket in {self.videos_bucket, self.frames_bucket}:
            s3.create_bucket(Bucket=bucket)
        topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
        by_stage = {Stage(q.stage): q for q in stage_queues()}
        for stage in self.stages:
            if stage not in by_stage:
                raise ValueError(f"template.yaml deploys no SQS-triggered function for {stage}")
            deployed = self.deployed[stage] = by_stage[stage]
            dlq_url = sqs.create_queue(QueueName=f"{queue_name(stage)}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            url = sqs.create_queue(
                QueueName=queue_name(stage),
                Attributes={
                    "VisibilityTimeout": str(self.visibility_timeout_s),
                    "RedrivePolicy": json.dumps(
                        {
                            "deadLetterTargetArn": dlq_arn,
                            "maxReceiveCount": deployed.max_receive_count,
                        }
                    ),
                },
            )["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=arn,
                Attributes={"RawMessageDelivery": str(deployed.raw_delivery).lower()},
            )
            self.queue_urls[stage], self.dlq_urls[stage] = url, dlq_url
        s3.put_bucket_notification_configuration(
            Bucket=self.videos_bucket,
            NotificationConfiguration={
                "TopicConfigurations": [
                    {
                        "Id": f"video{suffix}",
                        "TopicArn": topic_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": suffix}]}},
                    }
                    for suffix in video_suffixes()
                ]
            },
        )

    def queue_depth(self, url: str) -> int:
        """Visible plus in-flight messages in a queue."""
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )


@contextmanager
def local_stack(state_dir: Path, **kwargs: Any) -> Iterator[LocalStack]:
    """Run a :class:`LocalStack` for the ``with`` block."""
    stack = LocalStack(state_dir=state_dir, **kwargs).start()
    try:
        yield stack
    finally:
        stack.stop()
