"""SQLite status store: claim protocol, leases, seed columns, errors."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.status import ClaimOutcome, ErrorReport, Stage, StageKey, StageStatus
from shared.status.sqlite import SqliteStatusStore

KEY = StageKey("instagram", "Cx1", Stage.FRAME_EXTRACT)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock) -> SqliteStatusStore:
    return SqliteStatusStore(tmp_path / "status.sqlite3", clock=clock)


def report(retryable: bool) -> ErrorReport:
    return ErrorReport(Stage.FRAME_EXTRACT, "X", "boom", retryable, "instagram", "Cx1", 1, "r")


def test_concurrent_claims_one_winner(tmp_path):
    path = tmp_path / "status.sqlite3"
    SqliteStatusStore(path)
    barrier = threading.Barrier(20)
    outcomes: list[ClaimOutcome] = []

    def worker(i: int) -> None:
        s = SqliteStatusStore(path)
        barrier.wait()
        outcomes.append(s.claim(KEY, f"w{i}", 60).outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(ClaimOutcome.CLAIMED) == 1
    assert outcomes.count(ClaimOutcome.HELD) == 19


def test_expired_lease_is_taken_over(store, clock):
    assert store.claim(KEY, "a", 60).outcome == ClaimOutcome.CLAIMED
    assert store.claim(KEY, "b", 60).outcome == ClaimOutcome.HELD
    clock.now += timedelta(seconds=61)
    claim = store.claim(KEY, "b", 60)
    assert (claim.outcome, claim.attempts) == (ClaimOutcome.CLAIMED, 2)
    assert store.stages("instagram", "Cx1")[0].worker_id == "b"


def test_succeeded_stage_is_not_claimed_again(store):
    store.claim(KEY, "a", 60)
    store.complete(KEY, "a", output_prefix="s3://b/p/", metrics={"frames": 4}, frame_count=4)
    assert store.claim(KEY, "b", 60).outcome == ClaimOutcome.ALREADY_SUCCEEDED
    st = store.stages("instagram", "Cx1")[0]
    assert (st.status, st.metrics, st.output_prefix) == (
        StageStatus.SUCCEEDED,
        {"frames": 4},
        "s3://b/p/",
    )
    v = store.get_video("instagram", "Cx1")
    assert (v.is_downloaded, v.is_extracted, v.frame_count) == (True, True, 4)


def test_permanent_failure_is_failed_and_can_be_claimed_again(store):
    store.claim(KEY, "a", 60)
    store.fail(KEY, "a", report(retryable=False))
    st = store.stages("instagram", "Cx1")[0]
    assert (st.status, st.last_error, st.lease_expires_at) == (StageStatus.FAILED, "X: boom", None)
    assert store.claim(KEY, "b", 60).outcome == ClaimOutcome.CLAIMED


def test_retryable_failure_goes_back_to_pending(store):
    store.claim(KEY, "a", 60)
    store.fail(KEY, "a", report(retryable=True))
    assert store.stages("instagram", "Cx1")[0].status == StageStatus.PENDING
    [err] = store.errors("instagram", "Cx1")
    assert (err.error_class, err.retryable, err.attempt, err.request_id) == ("X", True, 1, "r")


def test_release_only_by_the_holder_and_counts_no_error(store):
    store.claim(KEY, "a", 60)
    store.release(KEY, "someone-else")
    assert store.stages("instagram", "Cx1")[0].status == StageStatus.PROCESSING
    store.release(KEY, "a")
    st = store.stages("instagram", "Cx1")[0]
    assert (st.status, st.worker_id, st.last_error) == (StageStatus.PENDING, None, None)
    assert store.errors() == []
    assert store.claim(KEY, "b", 60).outcome == ClaimOutcome.CLAIMED


def test_errors_without_identifiers_are_recorded(store):
    store.record_error(ErrorReport(Stage.FRAME_EXTRACT, "InvalidMessageError", "bad", False))
    [err] = store.errors()
    assert (err.platform, err.shortcode, err.retryable) == (None, None, False)


def test_unwritable_path_is_a_transient_error(tmp_path):
    from shared.errors import StatusStoreUnavailableError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StatusStoreUnavailableError):
        SqliteStatusStore(blocker / "sub" / "status.sqlite3")
