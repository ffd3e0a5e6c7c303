"""template.yaml: what cfn-lint does not check, and the local mode reading the same shape."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from shared.errors import InvalidIdentifierError
from shared.layout import VideoLayout
from shared.messages import VIDEO_EXTENSIONS
from shared.stages import ENTRY_HANDLER, STAGES, spec
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
    assert RESOURCES[queue.dlq]["Type"] == "AWS::SQS::Queue"


def test_uploads_reach_only_the_entry_queue():
    # an unfiltered path from an upload to a stage (a paid one above all) fails here
    subscriptions = [r["Properties"] for r in of_type("AWS::SNS::Subscription").values()]
    from_uploads = [
        p["Endpoint"]["Fn::GetAtt"][0]
        for p in subscriptions
        if p["TopicArn"] == {"Ref": "VideoEventsTopic"}
    ]
    entry = [q for q in stage_queues(T) if q.is_entry]
    assert [q.queue for q in entry] == from_uploads == ["PipelineQueue"]
    assert entry[0].raw_delivery and entry[0].handler == ENTRY_HANDLER
    assert not any(q.subscribed for q in stage_queues(T) if not q.is_entry)


def test_hand_off_grants_follow_the_registry():
    # least privilege: a stage may send only to the queues of the stages that run after it;
    # the entry may send to every stage's queue; all may publish only the completion event
    queue_of = {q.stage: q.queue for q in stage_queues(T)}
    for q in stage_queues(T):
        if q.is_entry:
            expected = {queue_of[str(s)] for s in STAGES}
        else:
            expected = {
                queue_of[str(s.stage)]
                for s in STAGES.values()
                if q.stage in map(str, (*s.depends_on, *s.requires))
            }
        assert set(q.sends_to) == expected, q.stage
        assert q.publishes_to == ("PlanFinishedTopic",), q.stage


def test_functions_know_every_stage_queue_and_the_completion_topic():
    env = T["Globals"]["Function"]["Environment"]["Variables"]
    urls = env["PIPELINE_QUEUE_URLS"]["Fn::Sub"]
    queue_of = {q.stage: q.queue for q in stage_queues(T)}
    for stage in STAGES:
        assert f'"{stage}": "${{{queue_of[str(stage)]}}}"' in urls
    assert env["PIPELINE_COMPLETION_TOPIC_ARN"] == {"Ref": "PlanFinishedTopic"}
    assert env["MAX_RECEIVE_COUNT"] == str(stage_queues(T)[0].max_receive_count)


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
    deployed = {q.stage: (q.function, q.handler) for q in stage_queues(T) if not q.is_entry}
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
    stages = tuple(Stage(q.stage) for q in deployed if not q.is_entry)
    with local_stack(tmp_path, stages=stages) as stack:
        sqs, s3 = stack.client("sqs"), stack.client("s3")
        for q in deployed:
            attrs = sqs.get_queue_attributes(
                QueueUrl=stack.queue_urls[q.stage], AttributeNames=["RedrivePolicy"]
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


# ---------------------------------------------------------------- IAM: confinement (issue 13)

#: SAM policy templates that grant writes, each on a whole bucket.
_WRITE_TEMPLATES = {"S3CrudPolicy", "S3WritePolicy", "S3FullAccessPolicy"}


def _is_s3_write(action: str) -> bool:
    action = action.lower()
    return action in {"s3:*", "*"} or action.startswith(
        ("s3:put", "s3:delete", "s3:abort", "s3:restore", "s3:replicate", "s3:create")
    )


def _resolve(node: Any, params: dict[str, str], separate: bool) -> Any:
    """Fn::If / Ref / Fn::Sub with the given parameter values."""
    if isinstance(node, dict):
        if "Ref" in node:
            return params.get(node["Ref"], node["Ref"])
        if "Fn::If" in node:
            cond, yes, no = node["Fn::If"]
            assert cond == "SeparateFramesBucket"
            return _resolve(yes if separate else no, params, separate)
        if "Fn::Sub" in node:
            sub = node["Fn::Sub"]
            text, variables = (sub, {}) if isinstance(sub, str) else sub
            values = {"AWS::Partition": "aws", **params}
            values |= {k: _resolve(v, params, separate) for k, v in variables.items()}
            return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], text)
        return {k: _resolve(v, params, separate) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, params, separate) for v in node]
    return node


def _matches(pattern: str, arn: str) -> bool:
    """IAM resource matching: ``*`` is any run of characters, ``/`` included."""
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), arn) is not None


def _write_resources(function: str, separate: bool) -> list[str]:
    params = {"VideosBucketName": "videos", "FramesBucketName": "results" if separate else ""}
    out: list[str] = []
    for policy in RESOURCES[function]["Properties"]["Policies"]:
        assert not (set(policy) & _WRITE_TEMPLATES), f"{function}: {policy}"
        for st in _resolve(policy, params, separate).get("Statement", []):
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            if st["Effect"] == "Allow" and any(_is_s3_write(a) for a in actions):
                res = st["Resource"]
                out.extend(res if isinstance(res, list) else [res])
    return out


@pytest.mark.parametrize("separate", [False, True], ids=["one-bucket", "separate-results"])
def test_the_entry_may_delete_only_in_stage_folders(separate):
    # a re-upload clears the earlier upload's outputs, and nothing else
    results = "results" if separate else "videos"
    [entry] = [q for q in stage_queues(T) if q.is_entry]
    writable = _write_resources(entry.function, separate)
    assert sorted(writable) == sorted(
        f"arn:aws:s3:::{results}/*/*/{s.folder}/*" for s in STAGES.values()
    )
    for key in ("instagram/Cx1/video.mp4", "p/s/x/y.mkv"):
        assert not any(_matches(r, f"arn:aws:s3:::videos/{key}") for r in writable), key


@pytest.mark.parametrize("separate", [False, True], ids=["one-bucket", "separate-results"])
@pytest.mark.parametrize(
    "queue", [q for q in stage_queues(T) if not q.is_entry], ids=lambda q: q.stage
)
def test_no_function_can_write_or_delete_a_video(queue, separate):
    results = "results" if separate else "videos"
    writable = _write_resources(queue.function, separate)
    assert writable, queue.function
    folder = spec(queue.stage).folder
    # every write grant is the stage's own folder of some video, in the results bucket
    assert writable == [f"arn:aws:s3:::{results}/*/*/{folder}/*"]
    videos = ["instagram/Cx1/video.mp4", "tiktok/a_b-1/my clip+final.mov", "p/s/x/y.mkv"]
    for key in videos:
        assert not any(_matches(r, f"arn:aws:s3:::videos/{key}") for r in writable), key
    # and the stage can still write its own outputs
    own = VideoLayout("instagram", "Cx1").key(queue.stage, "out.json")
    assert any(_matches(r, f"arn:aws:s3:::{results}/{own}") for r in writable)
    other = VideoLayout("instagram", "Cx1").key(
        next(s for s in STAGES if str(s) != queue.stage), "out.json"
    )
    assert not any(_matches(r, f"arn:aws:s3:::{results}/{other}") for r in writable)


def test_video_keys_can_never_lie_in_a_writable_folder():
    # the write grants rely on it: a video key is {platform}/{shortcode}/{file}, never inside a
    # stage folder (shared/confine.py refuses such keys from direct jobs)
    from shared.confine import output_folders
    from shared.messages import parse_video_key

    for folder in output_folders():
        with pytest.raises(InvalidIdentifierError):
            parse_video_key(f"p/s/{folder}/video.mp4")


# ---------------------------------------------------------------- the HTTP API (docs/api.md)
def _statements(function: str, separate: bool) -> list[dict[str, Any]]:
    params = {"VideosBucketName": "videos", "FramesBucketName": "results" if separate else ""}
    found = []
    for policy in RESOURCES[function]["Properties"]["Policies"]:
        if "Statement" in policy:
            found += _resolve(policy, params, separate)["Statement"]
    return found


def _granted(function: str, action: str, separate: bool) -> list[str]:
    out: list[str] = []
    for st in _statements(function, separate):
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if st["Effect"] == "Allow" and action in actions:
            res = st["Resource"]
            out.extend(res if isinstance(res, list) else [res])
    return out


def test_the_api_function_is_registered_with_its_handler():
    from shared.stages import API_FUNCTION, API_HANDLER
    from vidpipe.template import api_function, image_functions

    # the local server reads the same function (its name and time-out) from the template
    assert api_function(T).function == API_FUNCTION
    assert api_function(T).timeout_s == 29
    assert {f.handler for f in image_functions(T)} == {
        API_HANDLER,
        *(q.handler for q in stage_queues(T)),
    }

    props = RESOURCES[API_FUNCTION]["Properties"]
    assert props["ImageConfig"]["Command"] == [API_HANDLER]
    assert "Events" not in props  # API Gateway invokes it through the integration below
    integration = RESOURCES["HttpApiIntegration"]["Properties"]
    assert integration["IntegrationUri"] == {"Fn::GetAtt": [API_FUNCTION, "Arn"]}
    assert integration["PayloadFormatVersion"] == "2.0"
    assert int(props["Timeout"]) < integration["TimeoutInMillis"] / 1000
    env = props["Environment"]["Variables"]
    assert env["PIPELINE_ENTRY_QUEUE_URL"] == {"Ref": "PipelineQueue"}


def test_the_api_needs_authentication_by_default():
    params = T["Parameters"]
    assert params["ApiAuth"]["Default"] == "IAM"
    assert set(params["ApiAuth"]["AllowedValues"]) == {"IAM", "JWT"}
    assert T["Conditions"]["ApiJwt"] == {"Fn::Equals": [{"Ref": "ApiAuth"}, "JWT"]}
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in of_type("AWS::ApiGatewayV2::Route").values()
    }
    # every request reaches the function through the authenticated default route ...
    default = routes.pop("$default")
    assert default["AuthorizationType"] == {"Fn::If": ["ApiJwt", "JWT", "AWS_IAM"]}
    assert default["AuthorizerId"]["Fn::If"][1] == {"Ref": "HttpApiJwtAuthorizer"}
    # ... except the console's static page and CORS preflights (which carry no credentials)
    assert {k: v["AuthorizationType"] for k, v in routes.items()} == {
        "GET /": "NONE",
        "OPTIONS /{proxy+}": "NONE",
    }
    jwt = RESOURCES["HttpApiJwtAuthorizer"]
    assert jwt["Condition"] == "ApiJwt"
    assert jwt["Properties"]["JwtConfiguration"] == {
        "Issuer": {"Ref": "ApiJwtIssuer"},
        "Audience": {"Ref": "ApiJwtAudience"},
    }
    env = RESOURCES["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert env["API_AUTH"] == {"Fn::If": ["ApiJwt", "jwt", "iam"]}
    assert env["API_PLATFORMS_CLAIM"] == {"Ref": "ApiPlatformsClaim"}


def test_cors_and_throttling_are_parameters():
    api = RESOURCES["HttpApi"]["Properties"]
    assert api["CorsConfiguration"]["AllowOrigins"] == {"Ref": "ApiCorsOrigins"}
    stage = RESOURCES["HttpApiStage"]["Properties"]
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottleRate"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurst"},
    }
    # browsers upload to the videos bucket and read the results bucket from the same origins
    for bucket, method in (("VideosBucket", "POST"), ("FramesBucket", "GET")):
        [rule] = RESOURCES[bucket]["Properties"]["CorsConfiguration"]["CorsRules"]
        assert (
            rule["AllowedOrigins"] == {"Ref": "ApiCorsOrigins"} and method in rule["AllowedMethods"]
        )


@pytest.mark.parametrize("separate", [False, True], ids=["one-bucket", "separate-results"])
def test_the_api_may_presign_only_layout_keys(separate):
    results = "results" if separate else "videos"
    layout = VideoLayout("instagram", "Cx1")
    # uploads: only {platform}/{shortcode}/video.<ext> in the videos bucket; nothing deleted
    writable = _write_resources("ApiFunction", separate)
    assert writable == ["arn:aws:s3:::videos/*/*/video.*"]
    assert _matches(writable[0], f"arn:aws:s3:::videos/{layout.video('mov')}")
    for key in (layout.frame(0), layout.frame_manifest, layout.report, "a/b"):
        assert not any(_matches(r, f"arn:aws:s3:::{results}/{key}") for r in writable), key
    # downloads: the stage folders of the registry, the report and the summary, never a video
    readable = _granted("ApiFunction", "s3:GetObject", separate)
    assert sorted(readable) == sorted(
        [f"arn:aws:s3:::{results}/*/*/{s.folder}/*" for s in STAGES.values()]
        + [f"arn:aws:s3:::{results}/*/*/report.html", f"arn:aws:s3:::{results}/*/*/summary.txt"]
    )
    assert not any(_matches(r, f"arn:aws:s3:::videos/{layout.video()}") for r in readable)
    # messages: only the pipeline's entry queue; no topic
    policies = RESOURCES["ApiFunction"]["Properties"]["Policies"]
    sends = [p["SQSSendMessagePolicy"] for p in policies if "SQSSendMessagePolicy" in p]
    assert sends == [{"QueueName": {"Fn::GetAtt": ["PipelineQueue", "QueueName"]}}]
    assert not any("SNSPublishMessagePolicy" in p for p in policies)
