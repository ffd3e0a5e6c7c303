"""Test helpers every suite uses: paths, sample videos, events, SQS records, S3 puts, contexts.

Fixtures stay in ``tests/conftest.py``; everything importable lives here (and the fakes beside
it: :mod:`tests.support.fake_gemini`, :mod:`tests.support.fake_postgrest`, :mod:`tests.support.pg`).
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.batch import Runtime
from vidpipe.lambda_context import LocalContext

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
#: Physics observations (what Gemini answers), not Lambda events.
PHYSICS_DATA = ROOT / "tests" / "data" / "physics"
SAMPLES = Path(os.environ.get("VIDPIPE_SAMPLES", ROOT.parent / "shared" / "samples"))
VIDEOS_BUCKET = "vidpipe-test-videos"
FRAMES_BUCKET = "vidpipe-test-frames"


def sample(name: str) -> Path:
    """Path of a real sample video; skips the test when ../shared/samples is absent."""
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"sample {name} not found under {SAMPLES} (set VIDPIPE_SAMPLES)")
    return path


def require_mediapipe() -> None:
    """Skip when mediapipe is not installed (``requirements-mediapipe.txt``); fail in CI."""
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        if os.environ.get("VIDPIPE_REQUIRE_TOOLS"):
            pytest.fail("VIDPIPE_REQUIRE_TOOLS is set but mediapipe is not installed")
        pytest.skip(
            "mediapipe is not installed: pip install --no-deps -r requirements-mediapipe.txt",
            allow_module_level=True,
        )


def ground_truth() -> dict[str, Any]:
    """``ground_truth.json`` of the samples (skips when absent)."""
    return json.loads(sample("ground_truth.json").read_text())


def load_event(name: str) -> Any:
    """A JSON event from tests/events/."""
    return json.loads((EVENTS / name).read_text())


def sqs_record(body: Any, message_id: str | None = None) -> dict[str, Any]:
    """One SQS record as Lambda delivers it; ``body`` is JSON-encoded unless already a str."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "handle",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:vidpipe-frame-extract",
        "awsRegion": "us-east-1",
    }


def sqs_event(*bodies: Any) -> dict[str, Any]:
    """An SQS event with one record per body."""
    return {"Records": [sqs_record(b) for b in bodies]}


def s3_body(key_in_event: str, bucket: str = VIDEOS_BUCKET) -> dict[str, Any]:
    """The S3 notification body from tests/events with the key as S3 encodes it."""
    body = copy.deepcopy(load_event("s3_object_created.json"))
    body["Records"][0]["s3"]["bucket"]["name"] = bucket
    body["Records"][0]["s3"]["object"]["key"] = key_in_event
    return body


def put_video(rt: Runtime, key: str, path: Path | None = None, data: bytes | None = None) -> None:
    """Put a video (a file, or bytes) into the test videos bucket at ``key``."""
    body = data if data is not None else Path(path).read_bytes()  # type: ignore[arg-type]
    rt.storage.s3.put_object(Bucket=VIDEOS_BUCKET, Key=key, Body=body)


def count_calls(rt: Runtime, operation: str) -> list[str]:
    """Record the key of every ``operation`` request the storage client sends."""
    seen: list[str] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        seen.append(params.get("Key", ""))

    rt.storage.s3.meta.events.register(f"provide-client-params.s3.{operation}", hook)
    return seen


class FadingContext(LocalContext):
    """A context whose clock jumps to almost out of time once ``fade`` is set."""

    fade = False

    def get_remaining_time_in_millis(self) -> int:
        return 5_000 if self.fade else 900_000


def failures(response: dict[str, Any]) -> set[str]:
    """Message ids in a partial batch response."""
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}


def supabase_store(fake: Any, key: str | None = None) -> Any:
    """A SupabaseStatusStore on the real supabase-py client, answered by ``fake``."""
    from shared.status.supabase import SupabaseStatusStore
    from tests.support.fake_postgrest import SERVICE_KEY, URL

    return SupabaseStatusStore.connect(URL, key or SERVICE_KEY, http_client=fake.client())
