"""Event shapes beyond the seed's two (docs/events.md): S3 events through EventBridge, full SNS
envelopes, and the refusal of every other kind of event with one clear message."""

from __future__ import annotations

import json

import pytest

from shared.errors import InvalidIdentifierError, InvalidMessageError
from shared.messages import parse_body
from tests.support.helpers import load_event

B = "default-bucket"


def parse(body):
    return parse_body(body if isinstance(body, str) else json.dumps(body), default_bucket=B)


def test_eventbridge_object_created_keeps_the_key_as_stored():
    [job] = parse(load_event("eventbridge_s3_object_created.json")).jobs
    # EventBridge does not URL-encode keys: '+' is a plus and the space a space
    assert (job.platform, job.shortcode, job.bucket, job.key, job.size_bytes, job.source) == (
        "instagram",
        "Cx1",
        "vidpipe-test-videos",
        "instagram/Cx1/my clip+final.mp4",
        2048,
        "s3",
    )


def test_eventbridge_key_outside_the_layout_is_refused():
    event = load_event("eventbridge_s3_object_created.json")
    event["detail"]["object"]["key"] = "instagram/../video.mp4"
    with pytest.raises(InvalidIdentifierError):
        parse(event)


def test_eventbridge_event_without_an_object_key_names_the_missing_field():
    event = load_event("eventbridge_s3_object_created.json")
    del event["detail"]["object"]["key"]
    with pytest.raises(
        InvalidMessageError, match=r"invalid S3 EventBridge event: detail\.object\.key"
    ):
        parse(event)


@pytest.mark.parametrize(
    ("name", "source", "detail_type"),
    [
        ("eventbridge_s3_object_deleted.json", "aws.s3", "Object Deleted"),
        ("eventbridge_ec2_state_change.json", "aws.ec2", "EC2 Instance State-change Notification"),
    ],
)
def test_other_eventbridge_events_are_refused(name, source, detail_type):
    with pytest.raises(InvalidMessageError) as info:
        parse(load_event(name))
    assert str(info.value) == (
        f"unrecognised event: looks like an EventBridge event (source {source!r}, "
        f"detail-type {detail_type!r}); only S3 'Object Created' events start a job"
    )


def test_full_sns_envelope_as_sns_writes_it_to_sqs_is_unwrapped():
    [job] = parse(load_event("sns_envelope_sqs_full.json")).jobs
    assert (job.platform, job.shortcode, job.key) == (
        "youtube",
        "dQw4w9WgXcQ",
        "youtube/dQw4w9WgXcQ/video.webm",
    )


def test_sns_envelope_whose_message_is_not_json():
    envelope = load_event("sns_envelope.json") | {"Message": "hello"}
    with pytest.raises(InvalidMessageError, match="SNS notification Message is not JSON"):
        parse(envelope)


def test_sns_envelope_carrying_an_eventbridge_event_is_unwrapped():
    envelope = load_event("sns_envelope.json")
    envelope["Message"] = json.dumps(load_event("eventbridge_s3_object_created.json"))
    [job] = parse(envelope).jobs
    assert job.key == "instagram/Cx1/my clip+final.mp4"


@pytest.mark.parametrize(
    ("body", "looks_like"),
    [
        (load_event("sns_lambda_event.json"), "an SNS-to-Lambda event (Records[].Sns)"),
        (load_event("apigw_http_request.json"), "an API Gateway request"),
        (
            {"httpMethod": "POST", "path": "/", "requestContext": {}, "body": "{}"},
            "an API Gateway request",
        ),
        (load_event("sqs_direct_job.json"), "a whole SQS Lambda event nested in a message body"),
        ({"Records": [{"eventSource": "aws:kinesis"}]}, "a Kinesis stream event"),
        ({"Type": "SubscriptionConfirmation", "Token": "t"}, "an SNS SubscriptionConfirmation"),
        ({"hello": "world"}, "an unknown JSON object (keys: hello)"),
    ],
)
def test_other_kinds_of_event_are_refused_with_what_they_look_like(body, looks_like):
    with pytest.raises(InvalidMessageError) as info:
        parse(body)
    assert str(info.value).startswith(f"unrecognised event: looks like {looks_like}")
    assert not info.value.retryable
