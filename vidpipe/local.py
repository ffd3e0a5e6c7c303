"""The embedded local mode (docs/local.md): moto on 127.0.0.1, the deployed shape, the real
handlers.

:class:`LocalStack` starts moto's ``ThreadedMotoServer`` on a free loopback port and builds what
``template.yaml`` deploys, read from the template itself (:mod:`vidpipe.template`): the videos and
results buckets, the SNS topic the bucket's ``ObjectCreated`` events go to (one notification per
suffix the template lists), the pipeline's entry queue and one queue per stage asked for, each
with a DLQ and the template's ``maxReceiveCount`` (only the queues the template subscribes to the
topic are subscribed: the entry's), and the plan-finished topic with a queue subscribed to it so
the completion events can be read back. The status store is SQLite. S3 browser uploads (POST
Object) are checked against their signed policy as S3 does (:mod:`vidpipe.s3post`); moto alone
would store any.
:class:`~vidpipe.poller.SqsPoller` instances then invoke the real handlers as Lambda would.

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
from shared.stages import ENTRY_NAME, Stage
from vidpipe.template import StageQueue, stage_queues, video_suffixes

REGION = "us-east-1"
TOPIC_NAME = "vidpipe-video-events"
FINISHED_TOPIC_NAME = "vidpipe-plan-finished"
FINISHED_QUEUE_NAME = "vidpipe-plan-finished-events"


def _moto_server_class() -> Any:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from vidpipe.s3post import PostPolicyCheck

    class PolicyCheckingMotoServer(ThreadedMotoServer):
        """moto's threaded server with S3's POST policy check in front (:mod:`vidpipe.s3post`):
        moto itself stores any browser upload, S3 refuses one that breaks its policy."""

        def _server_entry(self) -> None:
            app = PostPolicyCheck(
                DomainDispatcherApplication(create_backend_app),
                # the key the handlers sign with (LocalStack.env), whatever the caller's
                # environment held when the server started
                secret=LOCAL_SECRET,
            )
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return PolicyCheckingMotoServer


#: The local stack's credentials are fixed (moto accepts any); S3's POST policy check needs the
#: secret the presigned POSTs were signed with.
LOCAL_SECRET = "local"


def queue_name(stage: Stage | str) -> str:
    """Queue name of a stage or the entry (``vidpipe-frame-extract``); its DLQ adds ``-dlq``."""
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
    queue_urls: dict[str, str] = field(default_factory=dict)
    dlq_urls: dict[str, str] = field(default_factory=dict)
    deployed: dict[str, StageQueue] = field(default_factory=dict)
    finished_topic_arn: str = ""
    finished_queue_url: str = ""
    _server: Any = None
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The environment the handlers see while the stack runs."""
        return {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET,
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
            "PIPELINE_QUEUE_URLS": json.dumps(
                {k: v for k, v in self.queue_urls.items() if k != ENTRY_NAME}
            ),
            "PIPELINE_COMPLETION_TOPIC_ARN": self.finished_topic_arn,
        }

    def start(self) -> LocalStack:
        """Start moto on a free 127.0.0.1 port, set the environment, create the resources."""
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        self.state_dir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self._server = _moto_server_class()(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        # moto keeps its state per process: start every local run from an empty account
        urllib.request.urlopen(
            urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"), timeout=10
        ).close()
        self._set_env()
        self._create_resources()
        self._set_env()  # again, now with the queue URLs and the topic ARN
        return self

    def _set_env(self) -> None:
        for k, v in self.env().items():
            self._saved_env.setdefault(k, os.environ.get(k))
            os.environ[k] = v
        self._reset_caches()

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
        self.finished_topic_arn = sns.create_topic(Name=FINISHED_TOPIC_NAME)["TopicArn"]
        self.finished_queue_url = sqs.create_queue(QueueName=FINISHED_QUEUE_NAME)["QueueUrl"]
        sns.subscribe(
            TopicArn=self.finished_topic_arn,
            Protocol="sqs",
            Endpoint=self._arn(self.finished_queue_url),
            Attributes={"RawMessageDelivery": "true"},
        )
        by_stage = {q.stage: q for q in stage_queues()}
        for name in (ENTRY_NAME, *(str(s) for s in self.stages)):
            if name not in by_stage:
                raise ValueError(f"template.yaml deploys no SQS-triggered function for {name}")
            deployed = self.deployed[name] = by_stage[name]
            dlq_url = sqs.create_queue(QueueName=f"{queue_name(name)}-dlq")["QueueUrl"]
            url = sqs.create_queue(
                QueueName=queue_name(name),
                Attributes={
                    "VisibilityTimeout": str(self.visibility_timeout_s),
                    "RedrivePolicy": json.dumps(
                        {
                            "deadLetterTargetArn": self._arn(dlq_url),
                            "maxReceiveCount": deployed.max_receive_count,
                        }
                    ),
                },
            )["QueueUrl"]
            if deployed.subscribed:
                sns.subscribe(
                    TopicArn=topic_arn,
                    Protocol="sqs",
                    Endpoint=self._arn(url),
                    Attributes={"RawMessageDelivery": str(deployed.raw_delivery).lower()},
                )
            self.queue_urls[name], self.dlq_urls[name] = url, dlq_url
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

    def _arn(self, url: str) -> str:
        attrs = self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attrs["Attributes"]["QueueArn"])

    def finished_events(self) -> list[dict[str, Any]]:
        """The completion events published so far (read and deleted from their queue)."""
        return [json.loads(m["Body"]) for m in self._take_all(self.finished_queue_url)]

    def _take_all(self, url: str, **receive: Any) -> Iterator[dict[str, Any]]:
        """Receive from a queue until it answers empty; each message is deleted once the caller
        has handled it (after the ``yield``), so one the caller fails on stays in the queue."""
        sqs = self.client("sqs")
        while got := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, **receive
        ).get("Messages", []):
            for m in got:
                yield m
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    def queue_depth(self, url: str) -> int:
        """Visible plus in-flight messages in a queue."""
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def redrive(self, name: str) -> int:
        """Move every message in a queue's DLQ back to the queue, as an operator's DLQ redrive
        does on AWS (moto has no ``StartMessageMoveTask``): receive, send the same body and
        message attributes, delete. ``name`` is a stage or the entry (``KeyError`` for a queue the
        stack did not create); returns the count of messages moved.
        """
        sqs = self.client("sqs")
        moved = 0
        for m in self._take_all(self.dlq_urls[name], MessageAttributeNames=["All"]):
            extra = (
                {"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {}
            )
            sqs.send_message(QueueUrl=self.queue_urls[name], MessageBody=m["Body"], **extra)
            moved += 1
        return moved


@contextmanager
def local_stack(state_dir: Path, **kwargs: Any) -> Iterator[LocalStack]:
    """Run a :class:`LocalStack` for the ``with`` block."""
    stack = LocalStack(state_dir=state_dir, **kwargs).start()
    try:
        yield stack
    finally:
        stack.stop()
