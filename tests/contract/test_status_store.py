"""One contract suite for every status-store adapter, so they cannot drift.

Adapters: SQLite (embedded default); PostgreSQL (the migration's functions through psycopg); and
Supabase (the real supabase-py client, its HTTP answered by PostgREST's behaviour over the same
real PostgreSQL). The PostgreSQL-backed ones skip when no server binaries exist.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.status import (
    ClaimOutcome,
    ErrorReport,
    PlanStart,
    PlanState,
    Stage,
    StageKey,
    StageStatus,
    StatusStore,
)
from shared.status.sqlite import SqliteStatusStore
from tests.support.helpers import supabase_store

KEY = StageKey("instagram", "Cx1", Stage.FRAME_EXTRACT)
ADAPTERS = ["sqlite", "postgres", "supabase"]


@pytest.fixture(params=ADAPTERS)
def make_store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Any]:
    """A factory: each call is a new store instance (a new connection) on one database."""
    made: list[Any] = []
    if request.param == "sqlite":
        path = tmp_path / "status.sqlite3"

        def factory() -> StatusStore:
            return SqliteStatusStore(path)
    elif request.param == "postgres":
        from shared.status.postgres import PostgresStatusStore

        conninfo = request.getfixturevalue("pg_db")

        def factory() -> StatusStore:
            store = PostgresStatusStore(conninfo)
            made.append(store)
            return store
    else:
        fake = request.getfixturevalue("fake_supabase")

        def factory() -> StatusStore:
            return supabase_store(fake)

    yield factory
    for store in made:
        store.close()


@pytest.fixture
def store(make_store) -> StatusStore:
    return make_store()


def report(retryable: bool, message: str = "boom") -> ErrorReport:
    return ErrorReport(
        Stage.FRAME_EXTRACT, "XError", message, retryable, "instagram", "Cx1", 1, "req-1"
    )


def test_it_implements_the_port(store):
    assert isinstance(store, StatusStore)


def test_first_claim_wins_others_see_it_held(store):
    first = store.claim(KEY, "w1", 60)
    assert (first.outcome, first.attempts) == (ClaimOutcome.CLAIMED, 1)
    assert first.token
    assert store.claim(KEY, "w2", 60).outcome == ClaimOutcome.HELD
    # the same worker id is held too: one SQS message twice in a batch must not run twice
    again = store.claim(KEY, "w1", 60)
    assert (again.outcome, again.token) == (ClaimOutcome.HELD, None)
    st = store.stages("instagram", "Cx1")[0]
    assert (st.status, st.worker_id, st.attempts) == (StageStatus.PROCESSING, "w1", 1)
    assert st.lease_expires_at is not None and st.started_at is not None


def test_an_expired_lease_is_taken_over(store):
    store.claim(KEY, "w1", 0.2)
    time.sleep(0.4)
    claim = store.claim(KEY, "w2", 60)
    assert (claim.outcome, claim.attempts) == (ClaimOutcome.CLAIMED, 2)
    assert store.stages("instagram", "Cx1")[0].worker_id == "w2"


# ------------------------------------------------------------------------------ fencing
def stale_and_current(store) -> tuple[str, str]:
    """w1 claims with a short lease that expires; w2 takes over. Returns both tokens."""
    old = store.claim(KEY, "w1", 0.2)
    time.sleep(0.4)
    new = store.claim(KEY, "w2", 60)
    assert new.outcome == ClaimOutcome.CLAIMED and old.token != new.token
    return old.token, new.token


def test_every_claim_has_a_new_token(store):
    first = store.claim(KEY, "w1", 60)
    store.release(KEY, first.token)
    second = store.claim(KEY, "w1", 60)
    assert first.token and second.token and first.token != second.token


def test_a_stale_holder_cannot_complete(store):
    old, new = stale_and_current(store)
    assert not store.complete(KEY, old, output_prefix="s3://b/stale/", metrics={}, frame_count=1)
    st = store.stages("instagram", "Cx1")[0]
    assert (st.status, st.worker_id, st.output_prefix) == (StageStatus.PROCESSING, "w2", None)
    assert store.get_video("instagram", "Cx1") is None  # no seed columns from the stale holder
    assert store.complete(KEY, new, output_prefix="s3://b/p/", metrics={}, frame_count=2)
    assert store.stages("instagram", "Cx1")[0].output_prefix == "s3://b/p/"
    # the token is spent: a second complete (or any call) with it changes nothing
    assert not store.complete(KEY, new, output_prefix="s3://b/again/", metrics={})
    assert not store.release(KEY, new)


def test_a_stale_holder_cannot_fail_the_new_holder(store):
    old, new = stale_and_current(store)
    assert not store.fail(KEY, old, report(retryable=True, message="late"))
    st = store.stages("instagram", "Cx1")[0]
    assert (st.status, st.worker_id, st.last_error) == (StageStatus.PROCESSING, "w2", None)
    # the stale attempt's error is still on record, as history
    assert [e.message for e in store.errors("instagram", "Cx1")] == ["late"]
    # so a third delivery cannot claim the stage while w2 holds it
    assert store.claim(KEY, "w3", 60).outcome == ClaimOutcome.HELD
    assert store.fail(KEY, new, report(retryable=False))
    assert store.stages("instagram", "Cx1")[0].status == StageStatus.FAILED


def test_a_stale_holder_cannot_release_or_heartbeat(store):
    old, new = stale_and_current(store)
    assert not store.release(KEY, old)
    assert not store.heartbeat(KEY, old, 600)
    st = store.stages("instagram", "Cx1")[0]
    assert (st.status, st.worker_id) == (StageStatus.PROCESSING, "w2")
    before = st.lease_expires_at
    assert store.heartbeat(KEY, new, 600)
    assert store.stages("instagram", "Cx1")[0].lease_expires_at > before
    assert store.release(KEY, new)
    assert store.stages("instagram", "Cx1")[0].status == StageStatus.PENDING


def test_a_token_that_was_never_issued_is_refused(store):
    claim = store.claim(KEY, "w1", 60)
    for bogus in ("", "not-a-token", "00000000-0000-4000-8000-000000000000"):
        assert not store.heartbeat(KEY, bogus, 60)
        assert not store.release(KEY, bogus)
        assert not store.complete(KEY, bogus, output_prefix="s3://b/x/", metrics={})
    assert store.complete(KEY, claim.token, output_prefix="s3://b/p/", metrics={})


def test_concurrent_claims_from_separate_connections_have_one_winner(make_store):
    stores = [make_store() for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    outcomes: list[ClaimOutcome] = []

    def worker(i: int) -> None:
        barrier.wait()
        outcomes.append(stores[i].claim(KEY, f"w{i}", 60).outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == sorted([ClaimOutcome.CLAIMED] + [ClaimOutcome.HELD] * 7)


def test_complete_sets_the_stage_and_the_seed_columns(store):
    claim = store.claim(KEY, "w1", 60)
    assert store.complete(
        KEY,
        claim.token,
        output_prefix="s3://b/instagram/Cx1/frames/",
        metrics={"frames": 6, "fallback": False},
        frame_count=6,
    )
    st = store.stages("instagram", "Cx1")[0]
    assert (st.status, st.output_prefix, st.metrics, st.lease_expires_at, st.last_error) == (
        StageStatus.SUCCEEDED,
        "s3://b/instagram/Cx1/frames/",
        {"frames": 6, "fallback": False},
        None,
        None,
    )
    assert st.finished_at is not None
    v = store.get_video("instagram", "Cx1")
    assert (v.is_downloaded, v.is_extracted, v.frame_count) == (True, True, 6)
    assert store.claim(KEY, "w2", 60).outcome == ClaimOutcome.ALREADY_SUCCEEDED


def test_completing_another_stage_leaves_the_seed_columns(store):
    key = StageKey("instagram", "Cx1", Stage.LANDMARKS)
    claim = store.claim(key, "w1", 60)
    store.complete(key, claim.token, output_prefix="s3://b/x/", metrics={})
    assert store.get_video("instagram", "Cx1") is None


def test_permanent_failure(store):
    claim = store.claim(KEY, "w1", 60)
    assert store.fail(KEY, claim.token, report(retryable=False))
    st = store.stages("instagram", "Cx1")[0]
    assert (st.status, st.last_error, st.lease_expires_at) == (
        StageStatus.FAILED,
        "XError: boom",
        None,
    )
    [err] = store.errors("instagram", "Cx1")
    assert (
        err.stage,
        err.error_class,
        err.message,
        err.retryable,
        err.attempt,
        err.request_id,
    ) == ("frame-extract", "XError", "boom", False, 1, "req-1")
    # a failed stage can be claimed again (a fixed video re-uploaded)
    assert store.claim(KEY, "w2", 60).outcome == ClaimOutcome.CLAIMED


def test_retryable_failure_goes_back_to_pending(store):
    claim = store.claim(KEY, "w1", 60)
    assert store.fail(KEY, claim.token, report(retryable=True))
    assert store.stages("instagram", "Cx1")[0].status == StageStatus.PENDING
    assert store.errors("instagram", "Cx1")[0].retryable is True
    assert store.claim(KEY, "w2", 60).outcome == ClaimOutcome.CLAIMED


def test_a_late_failure_never_downgrades_success(store):
    claim = store.claim(KEY, "w1", 60)
    store.complete(KEY, claim.token, output_prefix="s3://b/p/", metrics={}, frame_count=2)
    assert not store.fail(KEY, claim.token, report(retryable=True, message="late"))
    assert store.stages("instagram", "Cx1")[0].status == StageStatus.SUCCEEDED
    assert [e.message for e in store.errors("instagram", "Cx1")] == ["late"]


def test_release_is_only_for_the_holder_and_records_nothing(store):
    claim = store.claim(KEY, "w1", 60)
    assert not store.release(KEY, "intruder")
    assert store.stages("instagram", "Cx1")[0].status == StageStatus.PROCESSING
    assert store.release(KEY, claim.token)
    st = store.stages("instagram", "Cx1")[0]
    assert (st.status, st.worker_id, st.lease_expires_at, st.last_error) == (
        StageStatus.PENDING,
        None,
        None,
        None,
    )
    assert store.errors() == []
    assert store.claim(KEY, "w2", 60).outcome == ClaimOutcome.CLAIMED


def test_mark_downloaded_and_get_video(store):
    assert store.get_video("instagram", "Cx1") is None
    store.mark_downloaded("instagram", "Cx1")
    store.mark_downloaded("instagram", "Cx1")
    v = store.get_video("instagram", "Cx1")
    assert (v.is_downloaded, v.is_extracted, v.frame_count) == (True, False, None)


def test_errors_without_identifiers_and_filtering(store):
    store.record_error(ErrorReport(Stage.FRAME_EXTRACT, "InvalidMessageError", "not JSON", False))
    store.record_error(report(retryable=False, message="second"))
    all_errors = store.errors()
    assert [(e.platform, e.error_class) for e in all_errors] == [
        (None, "InvalidMessageError"),
        ("instagram", "XError"),
    ]
    assert [e.message for e in store.errors("instagram", "Cx1")] == ["second"]
    assert all(e.created_at.tzinfo is not None for e in all_errors)


def test_stages_are_listed_in_stage_order(store):
    for stage in (Stage.REKOGNITION, Stage.FRAME_EXTRACT, Stage.LANDMARKS):
        store.claim(StageKey("instagram", "Cx1", stage), "w", 60)
    assert [str(s.stage) for s in store.stages("instagram", "Cx1")] == [
        "frame-extract",
        "landmarks",
        "rekognition",
    ]
    assert store.stages("instagram", "nobody") == []


# ------------------------------------------------------------------------------ plans
def test_a_plan_is_recorded_once_per_upload(store):
    outcome, plan = store.start_plan(
        "instagram", "Cx1", "etag-1", ["frame-extract", "rekognition"], {"rekognition": {}}
    )
    assert outcome == PlanStart.CREATED
    assert (plan.upload_id, plan.stages, plan.state) == (
        "etag-1",
        ("frame-extract", "rekognition"),
        PlanState.RUNNING,
    )
    # the same upload delivered again: the stored plan, unchanged
    again, same = store.start_plan("instagram", "Cx1", "etag-1", ["landmarks"], {})
    assert again == PlanStart.EXISTING
    assert same.stages == ("frame-extract", "rekognition")
    assert store.get_plan("instagram", "Cx1") == same
    assert store.get_plan("instagram", "nope") is None


def test_a_new_upload_replaces_the_plan_and_resets_the_stages(store):
    store.start_plan("instagram", "Cx1", "etag-1", ["frame-extract"], {})
    claim = store.claim(KEY, "w1", 60)
    store.complete(KEY, claim.token, output_prefix="s3://b/p/", metrics={}, frame_count=6)
    assert store.get_video("instagram", "Cx1").is_extracted
    assert store.finish_plan("instagram", "Cx1", "etag-1", PlanState.SUCCEEDED)
    outcome, plan = store.start_plan("instagram", "Cx1", "etag-2", ["frame-extract"], {})
    assert outcome == PlanStart.REPLACED
    assert (plan.upload_id, plan.state, plan.notified) == ("etag-2", PlanState.RUNNING, False)
    assert store.stages("instagram", "Cx1") == []
    video = store.get_video("instagram", "Cx1")
    assert (video.is_extracted, video.frame_count) == (False, None)
    # and the stage runs again for the new upload
    assert store.claim(KEY, "w2", 60).outcome == ClaimOutcome.CLAIMED


def test_a_plan_finishes_exactly_once(make_store):
    first = make_store()
    first.start_plan("instagram", "Cx1", "etag-1", ["frame-extract"], {})
    stores = [make_store() for _ in range(4)]
    results: list[bool] = []
    lock = threading.Lock()

    def finish(s):
        won = s.finish_plan("instagram", "Cx1", "etag-1", PlanState.PARTIAL)
        with lock:
            results.append(won)

    threads = [threading.Thread(target=finish, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    plan = first.get_plan("instagram", "Cx1")
    assert plan.state == PlanState.PARTIAL and plan.finished_at is not None
    # another upload's id never finishes this plan
    assert not first.finish_plan("instagram", "Cx1", "etag-0", PlanState.FAILED)
    assert not plan.notified
    first.mark_notified("instagram", "Cx1", "etag-1")
    assert first.get_plan("instagram", "Cx1").notified


def test_skip_ends_only_a_stage_that_has_not_run(store):
    rek = StageKey("instagram", "Cx1", Stage.REKOGNITION)
    assert store.skip(rek, "skipped: frame-extract failed")
    [row] = store.stages("instagram", "Cx1")
    assert (row.status, row.last_error) == (StageStatus.SKIPPED, "skipped: frame-extract failed")
    assert row.status.final
    assert not store.skip(rek, "again")  # final already
    # a stage processing under a live lease is not skipped, nor a succeeded one
    claim = store.claim(KEY, "w1", 60)
    assert claim.outcome == ClaimOutcome.CLAIMED
    assert not store.skip(KEY, "no")
    store.complete(KEY, claim.token, output_prefix="s3://b/p/", metrics={})
    assert not store.skip(KEY, "no")
    assert {r.stage: r.status for r in store.stages("instagram", "Cx1")} == {
        Stage.FRAME_EXTRACT: StageStatus.SUCCEEDED,
        Stage.REKOGNITION: StageStatus.SKIPPED,
    }


# ------------------------------------------------------------------------------ listing
def test_plans_are_listed_newest_first_in_pages(store):
    from shared.status import PlanPosition

    codes = [f"v{i}" for i in range(5)]
    for i, code in enumerate(codes):
        platform = "instagram" if i % 2 == 0 else "tiktok"
        store.start_plan(platform, code, f"etag-{i}", ["frame-extract"], {})
        time.sleep(0.002)  # distinct created_at, as separate uploads have
    assert store.finish_plan("instagram", "v2", "etag-2", PlanState.SUCCEEDED)

    every = store.list_plans(limit=10)
    assert [p.shortcode for p in every] == list(reversed(codes))
    assert all(p.created_at is not None for p in every)

    first = store.list_plans(limit=2)
    assert [p.shortcode for p in first] == ["v4", "v3"]
    second = store.list_plans(limit=2, after=PlanPosition.of(first[-1]))
    assert [p.shortcode for p in second] == ["v2", "v1"]
    third = store.list_plans(limit=2, after=PlanPosition.of(second[-1]))
    assert [p.shortcode for p in third] == ["v0"]
    assert store.list_plans(limit=2, after=PlanPosition.of(third[-1])) == []

    assert [p.shortcode for p in store.list_plans(platform="instagram")] == ["v4", "v2", "v0"]
    assert [p.shortcode for p in store.list_plans(state=PlanState.SUCCEEDED)] == ["v2"]
    assert [
        p.shortcode for p in store.list_plans(platform="tiktok", state=PlanState.RUNNING, limit=1)
    ] == ["v3"]
    assert store.list_plans(platform="nobody") == []


def test_listing_orders_equal_times_by_platform_and_shortcode(store):
    # a page boundary inside one created_at must neither repeat nor lose a plan
    for code in ("a", "b", "c"):
        store.start_plan("instagram", code, "etag", ["frame-extract"], {})
    seen, after = [], None
    while True:
        page = store.list_plans(limit=1, after=after)
        if not page:
            break
        seen.append(page[0].shortcode)
        from shared.status import PlanPosition

        after = PlanPosition.of(page[0])
    assert sorted(seen) == ["a", "b", "c"] and len(seen) == 3
