"""SQLite-only behaviour; the claim protocol itself is in tests/contract/test_status_store.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import StatusStoreUnavailableError
from shared.status import ClaimOutcome, Stage, StageKey
from shared.status.sqlite import SqliteStatusStore

KEY = StageKey("instagram", "Cx1", Stage.FRAME_EXTRACT)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_lease_expiry_follows_the_injected_clock(tmp_path):
    clock = Clock()
    store = SqliteStatusStore(tmp_path / "status.sqlite3", clock=clock)
    assert store.claim(KEY, "a", 60).outcome == ClaimOutcome.CLAIMED
    clock.now += timedelta(seconds=59)
    assert store.claim(KEY, "b", 60).outcome == ClaimOutcome.HELD
    clock.now += timedelta(seconds=2)
    claim = store.claim(KEY, "b", 60)
    assert (claim.outcome, claim.attempts) == (ClaimOutcome.CLAIMED, 2)
    st = store.stages("instagram", "Cx1")[0]
    assert st.lease_expires_at == clock.now + timedelta(seconds=60)


def test_memory_database_is_refused(tmp_path):
    with pytest.raises(ValueError, match="file path"):
        SqliteStatusStore(":memory:")


def test_unwritable_path_is_a_transient_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StatusStoreUnavailableError):
        SqliteStatusStore(blocker / "sub" / "status.sqlite3")


def test_a_version_2_file_gains_the_token_column(tmp_path):
    import sqlite3

    from shared.status.sqlite import SCHEMA, V1_STAGE_COLUMNS

    path = tmp_path / "status.sqlite3"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA.replace("    lease_token      TEXT,\n", ""))
    con.execute(
        f"INSERT INTO video_stages ({V1_STAGE_COLUMNS}) VALUES"
        " ('instagram', 'Cx1', 'frame-extract', 'processing', 1, 'old',"
        " '2000-01-01T00:00:00+00:00', NULL, NULL, NULL, '{}', NULL, '2000-01-01T00:00:00+00:00')"
    )
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()
    store = SqliteStatusStore(path)
    # the old, expired, tokenless claim is taken over, and the new claim is fenced
    claim = store.claim(KEY, "new", 60)
    assert (claim.outcome, claim.attempts) == (ClaimOutcome.CLAIMED, 2)
    assert not store.release(KEY, "")
    assert store.complete(KEY, claim.token, output_prefix="s3://b/p/", metrics={})
