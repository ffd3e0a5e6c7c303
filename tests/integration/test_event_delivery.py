"""S3 events as moto really delivers them through EventBridge to SQS (docs/events.md)."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from shared.messages import parse_body


def parse(body: str):
    return parse_body(body, default_bucket="default-bucket")


def test_moto_s3_eventbridge_delivery_to_sqs_is_a_job():
    # given: S3 -> EventBridge -> a rule with an SQS target, as moto delivers it
    with mock_aws():
        region = "us-east-1"
        s3 = boto3.client("s3", region_name=region)
        sqs = boto3.client("sqs", region_name=region)
        events = boto3.client("events", region_name=region)
        s3.create_bucket(Bucket="vids")
        s3.put_bucket_notification_configuration(
            Bucket="vids",
            NotificationConfiguration={"EventBridgeConfiguration": {}},
        )
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="videos",
            EventPattern=json.dumps({"source": ["aws.s3"], "detail-type": ["Object Created"]}),
        )
        events.put_targets(Rule="videos", Targets=[{"Id": "q", "Arn": arn}])
        # when
        s3.put_object(Bucket="vids", Key="tiktok/a_b/clip one.mp4", Body=b"x" * 10)
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    # then
    [message] = messages
    assert json.loads(message["Body"])["detail-type"] == "Object Created"
    [job] = parse(message["Body"]).jobs
    assert (job.bucket, job.key, job.size_bytes) == ("vids", "tiktok/a_b/clip one.mp4", 10)
