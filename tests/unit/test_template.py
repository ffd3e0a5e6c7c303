"""template.yaml: what cfn-lint does not check, and the local mode reading the same shape."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from shared.messages import VIDEO_EXTENSIONS
from shared.stages import STAGES
from vidpipe.template import load_template, stage_queues, video_suffixes

T = load_template()
RESOURCES = T["Resources"]


def of_type(kind: str) -> dict[str, dict]:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def test_every_function_is_an_image_with_a_handler_command():
    for name, fn in of_type("AWS::Serverless::Function").items():
        props = fn["Properties"]
        assert props["PackageType"] == "Image", name
        assert props["ImageUri"] == {"Ref": "ImageUri"}, name
        [command] = props["ImageConfig"]["Command"]
        module, _, attr = command.rpartition(".")
        assert callable(getattr(importlib.import_module(module), attr)), command


@pytest.mark.parametrize("queue", stage_queues(T), ids=lambda q: q.stage)
def test_queue_settings_lint_does_not_check(queue):
    # AWS: set the source queue's visibility timeout to at least 6 x the function timeout
    assert queue.visibility_timeout_s >= 6 * queue.timeout_s
    assert queue.report_batch_item_failures
    assert queue.max_receive_count == 5
    assert queue.raw_delivery
    assert RESOURCES[queue.dlq]["Type"] == "AWS::SQS::Queue"


def test_every_queue_has_a_dlq_and_every_dlq_an_alarm():
    queues = of_type("AWS::SQS::Queue")
    dlqs = {stage.dlq for stage in stage_queues(T)}
    sources = {name for name, q in queues.items() if "RedrivePolicy" in q["Properties"]}
    assert set(queues) == sources | dlqs
    assert sources == {stage.queue for stage in stage_queues(T)}
    alarmed = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in of_type("AWS::CloudWatch::Alarm").values()
    }
    assert alarmed == dlqs


def test_every_sqs_event_reports_batch_item_failures():
    for name, fn in of_type("AWS::Serverless::Function").items():
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
                assert "MaximumConcurrency" in event["Properties"]["ScalingConfig"], name


def test_the_template_deploys_every_registered_stage_with_its_handler():
    deployed = {q.stage: (q.function, q.handler) for q in stage_queues(T)}
    assert deployed == {str(s.stage): (s.function, s.handler) for s in STAGES.values()}


def test_notified_suffixes_are_video_extensions_the_parser_accepts():
    suffixes = video_suffixes(T)
    assert suffixes and {s.lstrip(".") for s in suffixes} <= VIDEO_EXTENSIONS


def test_no_secret_in_the_template():
    env = T["Globals"]["Function"]["Environment"]["Variables"]
    assert "SUPABASE_KEY" not in env
    assert env["SUPABASE_KEY_PARAMETER"] == {"Fn::Sub": "/${SupabaseKeyParameterName}"}
    text = (Path(__file__).parents[2] / "template.yaml").read_text()
    assert "eyJ" not in text  # no JWT-shaped literal
    physics_env = RESOURCES["PhysicsFunction"]["Properties"]["Environment"]["Variables"]
    assert "GEMINI_API_KEY" not in physics_env
    assert physics_env["GEMINI_API_KEY_PARAMETER"] == {"Fn::Sub": "/${GeminiKeyParameterName}"}


def test_the_local_stack_is_built_from_the_template(tmp_path):
    from shared.status import Stage
    from vidpipe.local import local_stack

    deployed = stage_queues(T)
    with local_stack(tmp_path, stages=tuple(Stage(q.stage) for q in deployed)) as stack:
        sqs, s3 = stack.client("sqs"), stack.client("s3")
        for q in deployed:
            attrs = sqs.get_queue_attributes(
                QueueUrl=stack.queue_urls[Stage(q.stage)], AttributeNames=["RedrivePolicy"]
            )["Attributes"]
            assert f'"maxReceiveCount": {q.max_receive_count}' in attrs["RedrivePolicy"]
        notif = s3.get_bucket_notification_configuration(Bucket=stack.videos_bucket)
        local_suffixes = [
            c["Filter"]["Key"]["FilterRules"][0]["Value"] for c in notif["TopicConfigurations"]
        ]
        assert local_suffixes == video_suffixes(T)


def test_every_function_has_the_metadata_sam_build_needs():
    # `sam build` builds an image function only when its Metadata names a DockerContext, and
    # then needs the Dockerfile (relative to that context) and a DockerTag. Identical Metadata
    # everywhere makes sam build the one image once for every function.
    root = Path(__file__).resolve().parents[2]
    metadata = {}
    for name, fn in of_type("AWS::Serverless::Function").items():
        meta = fn.get("Metadata")
        assert meta is not None, f"{name} has no Metadata"
        assert set(meta) >= {"Dockerfile", "DockerContext", "DockerTag"}, name
        context = root / meta["DockerContext"]
        assert context.is_dir(), name
        assert (context / meta["Dockerfile"]).is_file(), name
        assert meta["DockerTag"], name
        metadata[name] = meta
    assert len({tuple(sorted(m.items())) for m in metadata.values()}) == 1
