"""Shared fixtures: moto, settings, a runtime wired like the real handler, events, samples."""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared import aws
from shared.batch import Runtime, get_runtime
from shared.config import Settings, get_settings, load_settings
from shared.lambda_context import LocalContext
from shared.synth import make_clip

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "tests" / "events"
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


@pytest.fixture(scope="session")
def synth_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """A 12 s 640x360 MP4 with four known hard cuts (no samples needed)."""
    path = tmp_path_factory.mktemp("clips") / "synthetic.mp4"
    return path, make_clip(path)


@pytest.fixture(scope="session")
def no_people_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6 s 640x360 25 fps MP4 of a smooth gradient and a moving disc: nothing person-like."""
    import cv2
    import numpy as np

    path = tmp_path_factory.mktemp("clips") / "no_people.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (640, 360))
    ramp = np.linspace(30, 220, 640, dtype=np.uint8)[None, :, None]
    for t in range(150):
        img = np.broadcast_to(ramp, (360, 640, 3)).copy()
        cv2.circle(img, (100 + 3 * t, 180), 40, (0, 0, 255), -1)
        writer.write(img)
    writer.release()
    return path


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("S3_ENDPOINT_URL", raising=False)


@pytest.fixture
def moto(aws_env: None) -> Iterator[None]:
    from moto import mock_aws

    aws.clear_client_cache()
    with mock_aws():
        yield
    aws.clear_client_cache()


@pytest.fixture
def env_settings(moto: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings from the environment, as the deployed handler reads them (caches cleared)."""
    env = {
        "S3_BUCKET_VIDEOS": VIDEOS_BUCKET,
        "S3_BUCKET_FRAMES": FRAMES_BUCKET,
        "STATUS_BACKEND": "sqlite",
        "SQLITE_PATH": str(tmp_path / "status.sqlite3"),
        "TMP_DIR": str(tmp_path / "lambda-tmp"),
        "S3_RETRIES": "2",
        "S3_RETRY_DELAY": "0",
        "CONCURRENCY_LIMIT": "2",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    (tmp_path / "lambda-tmp").mkdir()
    get_settings.cache_clear()
    get_runtime.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
    get_runtime.cache_clear()


@pytest.fixture
def runtime(env_settings: Settings) -> Runtime:
    """The process runtime the real handler will use, with both buckets created in moto."""
    rt = get_runtime()
    for bucket in (VIDEOS_BUCKET, FRAMES_BUCKET):
        rt.storage.s3.create_bucket(Bucket=bucket)
    return rt


@pytest.fixture
def context() -> LocalContext:
    """A Lambda-like context with 15 minutes left."""
    return LocalContext(function_name="vidpipe-frame-extract", timeout_s=900)


@pytest.fixture
def plain_settings(tmp_path: Path) -> Settings:
    """Settings for unit tests (no environment needed)."""
    return load_settings(sqlite_path=tmp_path / "s.sqlite3", tmp_dir=tmp_path)


# ---------------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster for the session (skips when no server binaries)."""
    from tests.pg import PgServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None and os.environ.get("VIDPIPE_REQUIRE_POSTGRES"):
        pytest.fail("VIDPIPE_REQUIRE_POSTGRES is set but no PostgreSQL server binaries exist")
    if bin_dir is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl); install postgresql or set PG_BIN"
        )
    server = PgServer(bin_dir).start()
    yield server
    server.stop()


@pytest.fixture
def pg_db(pg_server: Any) -> Iterator[str]:
    """A fresh database with Supabase's roles and the migrations applied; its conninfo."""
    with pg_server.database() as conninfo:
        yield conninfo


@pytest.fixture
def fake_supabase(pg_db: str) -> Iterator[Any]:
    """PostgREST's behaviour over the real database, for supabase-py's HTTP requests."""
    from tests.fake_postgrest import FakePostgrest

    fake = FakePostgrest(pg_db)
    yield fake
    fake.close()


def supabase_store(fake: Any, key: str | None = None) -> Any:
    """A SupabaseStatusStore on the real supabase-py client, answered by ``fake``."""
    from shared.status.supabase import SupabaseStatusStore
    from tests.fake_postgrest import SERVICE_KEY, URL

    return SupabaseStatusStore.connect(URL, key or SERVICE_KEY, http_client=fake.client())
