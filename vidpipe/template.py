"""Read the deployed shape from ``template.yaml`` so the local mode cannot drift from it.

The local mode (:mod:`vidpipe.local`) builds its queues, DLQs, topic subscriptions and bucket
notifications from what this module finds in the SAM template: for each function with an SQS
event, its handler (``ImageConfig.Command``), timeout, batch size and the queue's visibility
timeout, DLQ and ``maxReceiveCount``; for the videos bucket, the suffixes of its
``ObjectCreated`` notifications. CloudFormation's short tags (``!Ref``, ``!GetAtt``, ``!Sub``, …)
are read as plain ``{"Ref": ...}``-style mappings. Each function's stage comes from the stage
registry (:mod:`shared.stages`), by its handler.

Which file: ``--template PATH`` on the command line (it sets ``VIDPIPE_TEMPLATE``), else
``VIDPIPE_TEMPLATE``, else ``template.yaml`` in the current directory, else the one in the
checkout this package runs from. The template is not inside the wheel: an installed ``vidpipe``
outside a checkout needs one of the first two (:class:`TemplateNotFoundError` says so).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.stages import API_HANDLER, ENTRY_HANDLER, ENTRY_NAME, stage_of_handler

#: Where a checkout keeps the template, relative to this package.
CHECKOUT_TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


class TemplateNotFoundError(FileNotFoundError):
    """No ``template.yaml`` was found; the message says where vidpipe looked and what to do."""


def template_path() -> Path:
    """The template to read (see the module docstring for the order).

    Raises:
        TemplateNotFoundError: none of the places has one.
    """
    chosen = os.environ.get("VIDPIPE_TEMPLATE")
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise TemplateNotFoundError(f"VIDPIPE_TEMPLATE={chosen}: no such file")
        return path
    for path in (Path.cwd() / "template.yaml", CHECKOUT_TEMPLATE):
        if path.is_file():
            return path
    raise TemplateNotFoundError(
        "template.yaml not found: vidpipe's local mode builds the deployed shape from the "
        "project's SAM template. Run from a checkout of the project, or pass --template PATH "
        "(or set VIDPIPE_TEMPLATE)."
    )


_TAGS = [
    "Ref",
    "GetAtt",
    "Sub",
    "If",
    "Select",
    "Split",
    "Join",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Base64",
    "Cidr",
    "Condition",
]


class _Loader(yaml.SafeLoader):
    """SafeLoader that turns ``!Tag value`` into ``{"Tag": value}`` (``Fn::`` for functions)."""


def _make_constructor(tag: str) -> Any:
    key = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _tag in _TAGS:
    _Loader.add_constructor(f"!{_tag}", _make_constructor(_tag))


@dataclass(frozen=True)
class StageQueue:
    """One stage as the template deploys it.

    Attributes:
        stage: the stage name the handler serves (``frame-extract``), or ``pipeline`` for the
            pipeline's entry function.
        function: the function's logical id.
        handler: its ``ImageConfig.Command`` entrypoint.
        timeout_s: the function timeout in seconds.
        memory_mb: its memory size in MB.
        queue: the queue's logical id.
        visibility_timeout_s: the queue's visibility timeout in seconds.
        dlq: the DLQ's logical id.
        max_receive_count: receives before a message moves to the DLQ.
        batch_size: the event source mapping's ``BatchSize``.
        report_batch_item_failures: whether ``ReportBatchItemFailures`` is on.
        raw_delivery: whether the SNS subscription uses raw message delivery.
        subscribed: whether the queue is subscribed to the video events topic (only the entry
            queue should be).
        sends_to: logical ids of the queues the function may send messages to.
        publishes_to: logical ids of the topics the function may publish to.
    """

    stage: str
    function: str
    handler: str
    timeout_s: int
    memory_mb: int
    queue: str
    visibility_timeout_s: int
    dlq: str
    max_receive_count: int
    batch_size: int
    report_batch_item_failures: bool
    raw_delivery: bool
    subscribed: bool = False
    sends_to: tuple[str, ...] = ()
    publishes_to: tuple[str, ...] = ()

    @property
    def is_entry(self) -> bool:
        """Whether this is the pipeline's entry function rather than a stage."""
        return self.stage == ENTRY_NAME


def load_template(path: Path | None = None) -> dict[str, Any]:
    """The template as plain data (short tags become intrinsic-function mappings).

    Args:
        path: the file; default :func:`template_path`.

    Raises:
        TemplateNotFoundError: no template was found.
    """
    return yaml.load((path or template_path()).read_text(), Loader=_Loader)


def _logical_id(ref: Any) -> str:
    """``{"Fn::GetAtt": ["Q", "Arn"]}`` or ``{"Ref": "Q"}`` -> ``"Q"``."""
    if isinstance(ref, dict) and "Fn::GetAtt" in ref:
        return str(ref["Fn::GetAtt"][0])
    if isinstance(ref, dict) and "Ref" in ref:
        return str(ref["Ref"])
    raise ValueError(f"not a resource reference: {ref!r}")


def _policy_targets(policies: list[Any], policy: str, field: str) -> tuple[str, ...]:
    """Logical ids named by a SAM policy template (``{SQSSendMessagePolicy: {QueueName:
    !GetAtt Q.QueueName}}`` -> ``Q``)."""
    found = []
    for p in policies:
        if isinstance(p, dict) and policy in p:
            found.append(_logical_id(p[policy][field]))
    return tuple(found)


def stage_queues(template: dict[str, Any] | None = None) -> list[StageQueue]:
    """Every SQS-triggered function of the template, with its queue and DLQ settings."""
    t = template if template is not None else load_template()
    resources = t["Resources"]
    globals_fn = t.get("Globals", {}).get("Function", {})
    raw_by_queue = {
        _logical_id(r["Properties"]["Endpoint"]): bool(r["Properties"].get("RawMessageDelivery"))
        for r in resources.values()
        if r["Type"] == "AWS::SNS::Subscription" and r["Properties"].get("Protocol") == "sqs"
    }
    out = []
    for name, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        for event in props.get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            ev = event["Properties"]
            queue = _logical_id(ev["Queue"])
            qprops = resources[queue]["Properties"]
            redrive = qprops["RedrivePolicy"]
            handler = props["ImageConfig"]["Command"][0]
            policies = props.get("Policies", [])
            out.append(
                StageQueue(
                    stage=ENTRY_NAME
                    if handler == ENTRY_HANDLER
                    else str(stage_of_handler(handler)),
                    function=name,
                    handler=handler,
                    timeout_s=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
                    memory_mb=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
                    queue=queue,
                    visibility_timeout_s=int(qprops.get("VisibilityTimeout", 30)),
                    dlq=_logical_id(redrive["deadLetterTargetArn"]),
                    max_receive_count=int(redrive["maxReceiveCount"]),
                    batch_size=int(ev.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in ev.get("FunctionResponseTypes", []),
                    raw_delivery=raw_by_queue.get(queue, False),
                    subscribed=queue in raw_by_queue,
                    sends_to=_policy_targets(policies, "SQSSendMessagePolicy", "QueueName"),
                    publishes_to=_policy_targets(policies, "SNSPublishMessagePolicy", "TopicName"),
                )
            )
    return out


@dataclass(frozen=True)
class ImageFunction:
    """One function of the template: its logical id, handler, time-out and memory."""

    function: str
    handler: str
    timeout_s: int
    memory_mb: int


def image_functions(template: dict[str, Any] | None = None) -> list[ImageFunction]:
    """Every ``AWS::Serverless::Function`` of the template with its ``ImageConfig.Command``, the
    SQS-triggered ones and the others (the HTTP API's)."""
    t = template if template is not None else load_template()
    globals_fn = t.get("Globals", {}).get("Function", {})
    return [
        ImageFunction(
            function=name,
            handler=res["Properties"]["ImageConfig"]["Command"][0],
            timeout_s=int(res["Properties"].get("Timeout", globals_fn.get("Timeout", 3))),
            memory_mb=int(res["Properties"].get("MemorySize", globals_fn.get("MemorySize", 128))),
        )
        for name, res in t["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    ]


def api_function(template: dict[str, Any] | None = None) -> ImageFunction:
    """The HTTP API's function (its handler is :data:`shared.stages.API_HANDLER`).

    Raises:
        ValueError: the template deploys no function with that handler.
    """
    for fn in image_functions(template):
        if fn.handler == API_HANDLER:
            return fn
    raise ValueError(f"template.yaml deploys no function with the handler {API_HANDLER}")


def video_suffixes(template: dict[str, Any] | None = None) -> list[str]:
    """Key suffixes of the videos bucket's ``ObjectCreated`` notifications (``.mp4`` …)."""
    t = template if template is not None else load_template()
    bucket = t["Resources"]["VideosBucket"]["Properties"]
    suffixes = []
    for conf in bucket["NotificationConfiguration"]["TopicConfigurations"]:
        for rule in conf["Filter"]["S3Key"]["Rules"]:
            if rule["Name"] == "suffix":
                suffixes.append(rule["Value"])
    return suffixes
