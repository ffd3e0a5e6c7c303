"""The frame-extract handler with the Supabase status store (HTTP answered over real PostgreSQL)."""

from __future__ import annotations

import json

import psycopg
import pytest

from functions.frame_extract.handler import lambda_handler
from shared.config import load_settings
from shared.errors import ConfigurationError, StatusStoreUnavailableError
from shared.status import Stage, StageKey, StageStatus
from shared.status.factory import make_status_store
from shared.status.sqlite import SqliteStatusStore
from tests.support.fake_postgrest import ANON_KEY
from tests.support.helpers import (
    FRAMES_BUCKET,
    VIDEOS_BUCKET,
    failures,
    s3_body,
    sqs_event,
    supabase_store,
)

pytestmark = pytest.mark.postgres
BODY = {"shortcode": "Cx1", "platform": "instagram"}


@pytest.fixture
def on_supabase(runtime, fake_supabase, synth_clip):
    runtime.status = supabase_store(fake_supabase)
    runtime.storage.s3.upload_file(str(synth_clip[0]), VIDEOS_BUCKET, "instagram/Cx1/video.mp4")
    return runtime


def test_a_run_records_the_same_statuses_as_with_sqlite(on_supabase, context, tmp_path):
    # given: the same video processed once with each backend
    event = sqs_event(s3_body("instagram/Cx1/video.mp4"))
    assert lambda_handler(event, context) == {"batchItemFailures": []}
    on_supabase_states = on_supabase.status.stages("instagram", "Cx1")
    on_supabase_video = on_supabase.status.get_video("instagram", "Cx1")
    on_supabase.status = SqliteStatusStore(tmp_path / "other.sqlite3")
    for key in on_supabase.storage.list_keys(FRAMES_BUCKET, "instagram/"):
        on_supabase.storage.s3.delete_object(Bucket=FRAMES_BUCKET, Key=key)
    assert lambda_handler(event, context) == {"batchItemFailures": []}
    sqlite_states = on_supabase.status.stages("instagram", "Cx1")

    def comparable(states):
        return [
            (
                s.stage,
                s.status,
                s.attempts,
                s.output_prefix,
                s.last_error,
                {k: v for k, v in s.metrics.items() if k not in ("seconds", "preview_seconds")},
            )
            for s in states
        ]

    # then
    assert comparable(on_supabase_states) == comparable(sqlite_states)
    assert on_supabase_states[0].status == StageStatus.SUCCEEDED
    assert on_supabase_video == on_supabase.status.get_video("instagram", "Cx1")


def test_supabase_down_makes_the_record_transient(on_supabase, context, fake_supabase):
    fake_supabase.down = True
    event = sqs_event(BODY)
    response = lambda_handler(event, context)
    assert failures(response) == {event["Records"][0]["messageId"]}
    assert on_supabase.storage.list_keys(FRAMES_BUCKET, "instagram/") == []
    fake_supabase.down = False
    assert on_supabase.status.stages("instagram", "Cx1") == []


def test_supabase_going_down_mid_job_is_never_done(on_supabase, context, fake_supabase):
    # the claim goes through; the outage starts while the video downloads
    def outage(**_):
        fake_supabase.down = True

    on_supabase.storage.s3.meta.events.register("after-call.s3.GetObject", outage)
    event = sqs_event(BODY)
    response = lambda_handler(event, context)
    assert failures(response) == {event["Records"][0]["messageId"]}
    fake_supabase.down = False
    [state] = on_supabase.status.stages("instagram", "Cx1")
    assert state.status == StageStatus.PROCESSING  # its lease expires; a redelivery takes over
    video = on_supabase.status.get_video("instagram", "Cx1")
    assert video is None or not video.is_extracted


def test_gateway_503_is_transient(on_supabase, context, fake_supabase):
    fake_supabase.status = 503
    event = sqs_event(BODY)
    assert failures(lambda_handler(event, context)) == {event["Records"][0]["messageId"]}
    with pytest.raises(StatusStoreUnavailableError):
        on_supabase.status.get_video("instagram", "Cx1")


def test_missing_migration_is_a_clear_configuration_error(on_supabase, context, pg_db):
    with psycopg.connect(pg_db, autocommit=True) as con:
        con.execute("drop function public.vidpipe_claim_stage")
    with pytest.raises(ConfigurationError, match="apply infra/supabase/migrations"):
        on_supabase.status.claim(StageKey("instagram", "Cx1", Stage.FRAME_EXTRACT), "w", 60)
    event = sqs_event(BODY)
    assert failures(lambda_handler(event, context)) == {event["Records"][0]["messageId"]}


def test_the_anon_key_sees_nothing_and_cannot_write(fake_supabase):
    service = supabase_store(fake_supabase)
    service.mark_downloaded("instagram", "Cx1")
    anon = supabase_store(fake_supabase, key=ANON_KEY)
    assert anon.get_video("instagram", "Cx1") is None
    with pytest.raises(ConfigurationError, match="SUPABASE_KEY"):
        anon.claim(StageKey("instagram", "Cx1", Stage.FRAME_EXTRACT), "w", 60)


def test_factory_needs_url_and_key(monkeypatch):
    monkeypatch.setenv("STATUS_BACKEND", "supabase")
    monkeypatch.delenv("SUPABASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="SUPABASE_URL and SUPABASE_KEY"):
        load_settings()
    settings = load_settings(supabase_url="ftp://x.supabase.co", supabase_key="k")
    with pytest.raises(ConfigurationError, match="Supabase client: Invalid URL"):
        make_status_store(settings)


def test_the_key_can_come_from_an_ssm_securestring(moto, fake_supabase):
    import boto3

    from shared.status.factory import supabase_key
    from tests.support.fake_postgrest import SERVICE_KEY

    boto3.client("ssm").put_parameter(
        Name="/vidpipe/supabase-service-key", Value=SERVICE_KEY, Type="SecureString"
    )
    settings = load_settings(
        status_backend="supabase",
        supabase_url="https://vidpipe-test.supabase.co",
        supabase_key_parameter="/vidpipe/supabase-service-key",
    )
    assert supabase_key(settings) == SERVICE_KEY
    missing = settings.model_copy(update={"supabase_key_parameter": "/nope"})
    with pytest.raises(ConfigurationError, match="/nope"):
        supabase_key(missing)


def test_a_failed_claim_is_counted_as_a_transient_failure(
    on_supabase, context, fake_supabase, monkeypatch, capsys
):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    fake_supabase.down = True
    lambda_handler(sqs_event(BODY), context)
    [blob] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert blob["RecordsFailedTransient"] == [1.0]
