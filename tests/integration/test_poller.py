"""The SQS poller on moto: deletes successes, leaves failures, DLQ after maxReceiveCount."""

from __future__ import annotations

import json

from vidpipe.poller import SqsPoller


def make_queues(sqs, max_receive: int = 2):
    dlq = sqs.create_queue(QueueName="q-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    q = sqs.create_queue(
        QueueName="q",
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive}
            ),
        },
    )["QueueUrl"]
    return q, dlq


def depth(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(a["Attributes"]["ApproximateNumberOfMessages"])


def test_partial_failures_are_redelivered_and_poison_ends_in_the_dlq(moto):
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    q, dlq = make_queues(sqs)
    sqs.send_message(QueueUrl=q, MessageBody="good")
    sqs.send_message(QueueUrl=q, MessageBody="poison")
    seen: list[tuple[str, float]] = []

    def handler(event, context):
        seen.extend((r["body"], context.get_remaining_time_in_millis()) for r in event["Records"])
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]}
                for r in event["Records"]
                if r["body"] == "poison"
            ]
        }

    poller = SqsPoller(sqs, q, handler, batch_size=10, wait_s=0, function_timeout_s=30)
    for _ in range(4):
        poller.poll_once()
    assert [b for b, _ in seen].count("good") == 1
    assert [b for b, _ in seen].count("poison") == 2  # maxReceiveCount
    assert all(0 < ms <= 30_000 for _, ms in seen)
    assert depth(sqs, q) == 0
    assert depth(sqs, dlq) == 1
    assert poller.stats.deleted == 1


def test_a_raising_handler_leaves_the_whole_batch(moto):
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    q, _ = make_queues(sqs, max_receive=5)
    sqs.send_message(QueueUrl=q, MessageBody="a")

    def handler(event, context):
        raise RuntimeError("crash")

    poller = SqsPoller(sqs, q, handler, wait_s=0)
    assert poller.poll_once() == 1
    assert poller.stats.handler_errors == 1 and poller.stats.deleted == 0
    assert depth(sqs, q) == 1


def test_the_local_stack_redrives_a_dlq_like_an_operator(tmp_path):
    # bench/soak.py redrives the DLQs once the faults stop; moto has no StartMessageMoveTask
    from shared.status import Stage
    from vidpipe.local import local_stack

    with local_stack(tmp_path / "state") as stack:
        sqs = stack.client("sqs")
        name = Stage.FRAME_EXTRACT
        for i in range(12):  # more than one receive's worth
            sqs.send_message(
                QueueUrl=stack.dlq_urls[name],
                MessageBody=json.dumps({"platform": "demo", "shortcode": f"d{i}"}),
                MessageAttributes={"origin": {"DataType": "String", "StringValue": f"t{i}"}},
            )
        assert stack.redrive(name) == 12
        assert stack.queue_depth(stack.dlq_urls[name]) == 0
        got: dict[str, str] = {}
        while msgs := sqs.receive_message(
            QueueUrl=stack.queue_urls[name], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", []):
            for m in msgs:
                origin = m["MessageAttributes"]["origin"]["StringValue"]
                got[json.loads(m["Body"])["shortcode"]] = origin
                sqs.delete_message(
                    QueueUrl=stack.queue_urls[name], ReceiptHandle=m["ReceiptHandle"]
                )
        assert got == {f"d{i}": f"t{i}" for i in range(12)}
        assert stack.redrive(name) == 0
