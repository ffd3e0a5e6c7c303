"""Shared fixtures: moto, settings, a runtime wired like the real handler, clips, PostgreSQL.

Helpers to import are in :mod:`tests.support.helpers`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared import aws
from shared.batch import Runtime, get_runtime
from shared.config import Settings, get_settings, load_settings
from tests.support.helpers import FRAMES_BUCKET, VIDEOS_BUCKET
from vidpipe.lambda_context import LocalContext
from vidpipe.synth import make_clip


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
    from tests.support.pg import PgServer, find_bin_dir

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
    from tests.support.fake_postgrest import FakePostgrest

    fake = FakePostgrest(pg_db)
    yield fake
    fake.close()
