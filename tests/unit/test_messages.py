"""SQS body parsing and identifier validation (docs/messages.md)."""

from __future__ import annotations

import json

import pytest

from shared.errors import InvalidIdentifierError, InvalidMessageError
from shared.messages import parse_body
from tests.support.helpers import load_event, s3_body

B = "default-bucket"


def parse(body):
    return parse_body(body if isinstance(body, str) else json.dumps(body), default_bucket=B)


def test_direct_job_uses_the_canonical_key_in_the_default_bucket():
    [job] = parse(load_event("direct_job.json")).jobs
    assert (job.platform, job.shortcode, job.bucket, job.key, job.source) == (
        "instagram",
        "Cx1",
        B,
        "instagram/Cx1/video.mp4",
        "direct",
    )


def test_direct_job_with_bucket_key_and_options():
    [job] = parse(
        {
            "shortcode": "a-b_1",
            "platform": "tiktok",
            "bucket": "my-bucket",
            "key": "raw uploads/clip 1.mov",
            "options": {"frame-extract": {"min_frames": 5}},
        }
    ).jobs
    assert (job.bucket, job.key, job.options) == (
        "my-bucket",
        "raw uploads/clip 1.mov",
        {"frame-extract": {"min_frames": 5}},
    )


def test_s3_event_key_is_url_decoded():
    [job] = parse(s3_body("instagram/Cx1/my+clip%2Bfinal.mp4", bucket="vids")).jobs
    assert (job.platform, job.shortcode, job.key, job.bucket, job.source, job.size_bytes) == (
        "instagram",
        "Cx1",
        "instagram/Cx1/my clip+final.mp4",
        "vids",
        "s3",
        1024,
    )


def test_s3_event_with_several_records():
    body = s3_body("a/one/video.mp4")
    body["Records"].append(s3_body("b/two/video.webm")["Records"][0])
    assert [(j.platform, j.shortcode) for j in parse(body).jobs] == [("a", "one"), ("b", "two")]


def test_sns_envelope_is_unwrapped():
    [job] = parse(load_event("sns_envelope.json")).jobs
    assert (job.platform, job.shortcode, job.key) == (
        "tiktok",
        "abc_123",
        "tiktok/abc_123/video.mov",
    )


def test_s3_test_event_holds_no_job():
    parsed = parse(load_event("s3_test_event.json"))
    assert parsed.jobs == [] and parsed.ignored == "s3:TestEvent"


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        ("{not json", InvalidMessageError, "not JSON"),
        ("[1, 2]", InvalidMessageError, "JSON object"),
        ({"shortcode": "a"}, InvalidMessageError, "platform"),
        ({"shortcode": "a", "platform": "p", "extra": 1}, InvalidMessageError, "extra"),
        ({"shortcode": 12, "platform": "p"}, InvalidMessageError, "shortcode"),
        ({"shortcode": "../../etc", "platform": "p"}, InvalidIdentifierError, "shortcode"),
        ({"shortcode": "a/b", "platform": "p"}, InvalidIdentifierError, "shortcode"),
        ({"shortcode": "a", "platform": "P"}, InvalidIdentifierError, "platform"),
        ({"shortcode": "a", "platform": "-x"}, InvalidIdentifierError, "platform"),
        ({"shortcode": "a" * 129, "platform": "p"}, InvalidIdentifierError, "shortcode"),
        (
            {"shortcode": "a", "platform": "p", "bucket": "Bad_Bucket"},
            InvalidIdentifierError,
            "bucket",
        ),
        (
            {"shortcode": "a", "platform": "p", "key": "../x/video.mp4"},
            InvalidIdentifierError,
            "key",
        ),
        (
            {"shortcode": "a", "platform": "p", "key": "/abs/video.mp4"},
            InvalidIdentifierError,
            "key",
        ),
        (
            {"shortcode": "a", "platform": "p", "key": "a/b/notes.txt"},
            InvalidIdentifierError,
            "must end",
        ),
        ({"Records": []}, InvalidMessageError, "no Records"),
        (
            {"Records": [{"eventName": "ObjectRemoved:Delete"}]},
            InvalidMessageError,
            "ObjectCreated",
        ),
        ({"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}]}, InvalidMessageError, "lacks"),
    ],
)
def test_bad_bodies_are_refused_with_a_clear_error(body, error, match):
    with pytest.raises(error, match=match):
        parse(body)


@pytest.mark.parametrize(
    "key",
    [
        "instagram/Cx1/extra/video.mp4",  # too deep
        "instagram/video.mp4",  # too shallow
        "instagram/../video.mp4",
        "instagram/Cx1/..",
        "instagram/Cx1/.hidden.mp4",
        "instagram/Cx1/video.txt",
        "Instagram/Cx1/video.mp4",
        "instagram/C%20x/video.mp4",  # decodes to a space in the shortcode
    ],
)
def test_keys_outside_the_layout_are_permanent_errors(key):
    with pytest.raises(InvalidIdentifierError):
        parse(s3_body(key))


# ---------------------------------------------------------------- bounded parsing (issue 13)


@pytest.mark.parametrize(
    "body",
    ["[" * 200_000, '{"a": ' * 100_000, '{"Records": [' + "[" * 50 + "]" * 50 + "]}"],
    ids=["deep-array", "deep-object", "deep-records"],
)
def test_deep_nesting_is_a_permanent_error_not_a_recursion_error(body):
    # before: json.loads raised RecursionError, which was retried to the DLQ unrecorded
    with pytest.raises(InvalidMessageError, match="nests deeper than 32"):
        parse_body(body, default_bucket="b")


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = json.dumps({"shortcode": "a", "platform": "p", "options": {"x": {"k": "[[[[" * 40}}})
    [job] = parse_body(body, default_bucket="b").jobs
    assert job.options == {"x": {"k": "[[[[" * 40}}


def test_an_oversized_body_is_refused_before_parsing():
    body = json.dumps({"shortcode": "a", "platform": "p", "x": "y" * (1024 * 1024)})
    with pytest.raises(InvalidMessageError, match="over the limit of 1048576"):
        parse_body(body, default_bucket="b")


def test_an_envelope_is_unwrapped_once_only():
    inner = json.dumps({"Type": "Notification", "Message": json.dumps({"shortcode": "a"})})
    outer = json.dumps({"Type": "Notification", "Message": inner})
    with pytest.raises(InvalidMessageError, match="inside an SNS notification"):
        parse_body(outer, default_bucket="b")
