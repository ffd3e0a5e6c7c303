"""SQLite status store: the embedded default for local runs and single-host workers.

Same tables and claim semantics as the Postgres schema in ``infra/supabase/migrations``:
a claim is one ``BEGIN IMMEDIATE`` transaction (SQLite's write lock), so concurrent claims from
threads or processes on the same file serialise and exactly one wins.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shared.errors import StatusStoreUnavailableError
from shared.status import (
    MAX_LIST_LIMIT,
    Claim,
    ClaimOutcome,
    ErrorReport,
    ErrorRow,
    PlanPosition,
    PlanStart,
    PlanState,
    Stage,
    StageKey,
    StageState,
    StageStatus,
    VideoPlan,
    VideoRow,
    rows,
)

VIDEO_STAGES_COLUMNS = """(
    platform         TEXT NOT NULL,
    shortcode        TEXT NOT NULL,
    stage            TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'succeeded', 'failed', 'skipped')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    worker_id        TEXT,
    lease_expires_at TEXT,
    started_at       TEXT,
    finished_at      TEXT,
    output_prefix    TEXT,
    metrics          TEXT NOT NULL DEFAULT '{}',
    last_error       TEXT,
    updated_at       TEXT NOT NULL,
    lease_token      TEXT,
    PRIMARY KEY (platform, shortcode, stage)
)"""

#: The columns of a version 1 ``video_stages`` table (before ``lease_token``).
V1_STAGE_COLUMNS = (
    "platform, shortcode, stage, status, attempts, worker_id, lease_expires_at, started_at,"
    " finished_at, output_prefix, metrics, last_error, updated_at"
)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS videos (
    platform      TEXT NOT NULL,
    shortcode     TEXT NOT NULL,
    is_downloaded INTEGER NOT NULL DEFAULT 0,
    is_extracted  INTEGER NOT NULL DEFAULT 0,
    frame_count   INTEGER,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (platform, shortcode)
);
CREATE TABLE IF NOT EXISTS video_stages {VIDEO_STAGES_COLUMNS};
CREATE TABLE IF NOT EXISTS extraction_errors (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    platform    TEXT,
    shortcode   TEXT,
    stage       TEXT NOT NULL,
    error_class TEXT NOT NULL,
    message     TEXT NOT NULL,
    retryable   INTEGER NOT NULL,
    attempt     INTEGER,
    request_id  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS extraction_errors_video ON extraction_errors (platform, shortcode);
CREATE TABLE IF NOT EXISTS video_plans (
    platform    TEXT NOT NULL,
    shortcode   TEXT NOT NULL,
    upload_id   TEXT NOT NULL,
    stages      TEXT NOT NULL,
    options     TEXT NOT NULL DEFAULT '{{}}',
    state       TEXT NOT NULL DEFAULT 'running'
                CHECK (state IN ('running', 'succeeded', 'failed', 'partial')),
    notified    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    finished_at TEXT,
    PRIMARY KEY (platform, shortcode)
);
"""

#: ``PRAGMA user_version`` of :data:`SCHEMA`. Version 1 files (no ``skipped`` status) and
#: version 2 files (no ``lease_token``) are migrated by :func:`_migrate`.
SCHEMA_VERSION = 3


def _migrate(con: sqlite3.Connection) -> None:
    """Bring an older database file to :data:`SCHEMA_VERSION` (idempotent)."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return
    ddl = con.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'video_stages'"
    ).fetchone()
    if ddl is not None and "'skipped'" not in ddl[0]:
        # SQLite cannot alter a CHECK constraint: rebuild the table with the new one.
        con.executescript(
            "BEGIN IMMEDIATE;"
            " ALTER TABLE video_stages RENAME TO video_stages_v1;"
            f" CREATE TABLE video_stages {VIDEO_STAGES_COLUMNS};"
            f" INSERT INTO video_stages ({V1_STAGE_COLUMNS})"
            f" SELECT {V1_STAGE_COLUMNS} FROM video_stages_v1;"
            " DROP TABLE video_stages_v1;"
            " COMMIT;"
        )
    con.executescript(SCHEMA)
    columns = {r[1] for r in con.execute("PRAGMA table_info(video_stages)")}
    if "lease_token" not in columns:
        con.execute("ALTER TABLE video_stages ADD COLUMN lease_token TEXT")
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _key(key: StageKey) -> tuple[str, str, str]:
    return key.platform, key.shortcode, str(key.stage)


class SqliteStatusStore:
    """Status store on one SQLite file.

    Args:
        path: database file (``SQLITE_PATH``); its folder is created. ``":memory:"`` is refused
            because every operation opens its own connection.
        clock: returns the current UTC time (injected in tests to expire leases).

    Raises:
        StatusStoreUnavailableError: the file cannot be opened or written.
    """

    def __init__(self, path: Path | str, clock: Callable[[], datetime] | None = None) -> None:
        if str(path) == ":memory:":
            raise ValueError("SqliteStatusStore needs a file path, not ':memory:'")
        self.path = Path(path)
        self._clock = clock or (lambda: datetime.now(UTC))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=30)
            try:
                con.execute("PRAGMA journal_mode=WAL")
                con.executescript(SCHEMA)
                _migrate(con)
            finally:
                con.close()
        except (OSError, sqlite3.Error) as exc:
            raise StatusStoreUnavailableError(f"SQLite status store {self.path}: {exc}") from exc

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One connection and one immediate (write-locked) transaction."""
        try:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise StatusStoreUnavailableError(f"SQLite status store {self.path}: {exc}") from exc
        try:
            con.row_factory = sqlite3.Row
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StatusStoreUnavailableError(f"SQLite status store {self.path}: {exc}") from exc
        finally:
            con.close()

    # ---- videos ------------------------------------------------------------------------------
    def get_video(self, platform: str, shortcode: str) -> VideoRow | None:
        with self._tx() as con:
            row = con.execute(
                "SELECT * FROM videos WHERE platform = ? AND shortcode = ?", (platform, shortcode)
            ).fetchone()
        return None if row is None else rows.video(row)

    def mark_downloaded(self, platform: str, shortcode: str) -> None:
        now = self._now().isoformat()
        with self._tx() as con:
            con.execute(
                """INSERT INTO videos (platform, shortcode, is_downloaded, updated_at)
                   VALUES (?, ?, 1, ?)
                   ON CONFLICT (platform, shortcode)
                   DO UPDATE SET is_downloaded = 1, updated_at = excluded.updated_at""",
                (platform, shortcode, now),
            )

    # ---- stages ------------------------------------------------------------------------------
    def claim(self, key: StageKey, worker_id: str, lease_s: float) -> Claim:
        now = self._now()
        with self._tx() as con:
            row = con.execute(
                "SELECT status, attempts, worker_id, lease_expires_at FROM video_stages"
                " WHERE platform = ? AND shortcode = ? AND stage = ?",
                (key.platform, key.shortcode, str(key.stage)),
            ).fetchone()
            if row is not None:
                if row["status"] == StageStatus.SUCCEEDED:
                    return Claim(ClaimOutcome.ALREADY_SUCCEEDED, row["attempts"])
                lease = rows.timestamp(row["lease_expires_at"])
                if row["status"] == StageStatus.PROCESSING and lease is not None and lease > now:
                    # held whoever asks: the same worker id too (one message twice in a batch)
                    return Claim(ClaimOutcome.HELD, row["attempts"])
            attempts = (row["attempts"] if row is not None else 0) + 1
            token = str(uuid.uuid4())
            con.execute(
                """INSERT INTO video_stages (platform, shortcode, stage, status, attempts,
                       worker_id, lease_token, lease_expires_at, started_at, finished_at,
                       updated_at)
                   VALUES (?, ?, ?, 'processing', ?, ?, ?, ?, ?, NULL, ?)
                   ON CONFLICT (platform, shortcode, stage) DO UPDATE SET
                       status = 'processing', attempts = excluded.attempts,
                       worker_id = excluded.worker_id, lease_token = excluded.lease_token,
                       lease_expires_at = excluded.lease_expires_at,
                       started_at = excluded.started_at, finished_at = NULL,
                       updated_at = excluded.updated_at""",
                (
                    key.platform,
                    key.shortcode,
                    str(key.stage),
                    attempts,
                    worker_id,
                    token,
                    (now + timedelta(seconds=lease_s)).isoformat(),
                    now.isoformat(),
                    now.isoformat(),
                ),
            )
        return Claim(ClaimOutcome.CLAIMED, attempts, token)

    #: The fencing condition: the caller holds the stage's current claim.
    _HOLDER = (
        "platform = ? AND shortcode = ? AND stage = ? AND lease_token = ? AND status = 'processing'"
    )

    def complete(
        self,
        key: StageKey,
        token: str,
        *,
        output_prefix: str,
        metrics: dict[str, Any],
        frame_count: int | None = None,
    ) -> bool:
        now = self._now().isoformat()
        with self._tx() as con:
            cur = con.execute(
                f"""UPDATE video_stages SET status = 'succeeded', lease_expires_at = NULL,
                       lease_token = NULL, finished_at = ?, output_prefix = ?, metrics = ?,
                       last_error = NULL, updated_at = ?
                   WHERE {self._HOLDER}""",
                (now, output_prefix, json.dumps(metrics), now, *_key(key), token),
            )
            if cur.rowcount != 1:
                return False
            if key.stage == Stage.FRAME_EXTRACT:
                con.execute(
                    """INSERT INTO videos (platform, shortcode, is_downloaded, is_extracted,
                           frame_count, updated_at)
                       VALUES (?, ?, 1, 1, ?, ?)
                       ON CONFLICT (platform, shortcode) DO UPDATE SET
                           is_downloaded = 1, is_extracted = 1,
                           frame_count = excluded.frame_count, updated_at = excluded.updated_at""",
                    (key.platform, key.shortcode, frame_count, now),
                )
        return True

    def fail(self, key: StageKey, token: str, report: ErrorReport) -> bool:
        now = self._now().isoformat()
        status = StageStatus.PENDING if report.retryable else StageStatus.FAILED
        with self._tx() as con:
            cur = con.execute(
                f"""UPDATE video_stages SET status = ?, lease_expires_at = NULL,
                       lease_token = NULL, finished_at = ?, last_error = ?, updated_at = ?
                   WHERE {self._HOLDER}""",
                (
                    str(status),
                    now,
                    f"{report.error_class}: {report.message}",
                    now,
                    *_key(key),
                    token,
                ),
            )
            self._insert_error(con, report, now)
        return cur.rowcount == 1

    def release(self, key: StageKey, token: str) -> bool:
        now = self._now().isoformat()
        with self._tx() as con:
            cur = con.execute(
                f"""UPDATE video_stages SET status = 'pending', lease_expires_at = NULL,
                       worker_id = NULL, lease_token = NULL, updated_at = ?
                   WHERE {self._HOLDER}""",
                (now, *_key(key), token),
            )
        return cur.rowcount == 1

    def heartbeat(self, key: StageKey, token: str, lease_s: float) -> bool:
        now = self._now()
        with self._tx() as con:
            cur = con.execute(
                f"""UPDATE video_stages SET lease_expires_at = ?, updated_at = ?
                   WHERE {self._HOLDER}""",
                (
                    (now + timedelta(seconds=lease_s)).isoformat(),
                    now.isoformat(),
                    *_key(key),
                    token,
                ),
            )
        return cur.rowcount == 1

    def record_error(self, report: ErrorReport) -> None:
        with self._tx() as con:
            self._insert_error(con, report, self._now().isoformat())

    @staticmethod
    def _insert_error(con: sqlite3.Connection, report: ErrorReport, now: str) -> None:
        con.execute(
            """INSERT INTO extraction_errors (platform, shortcode, stage, error_class, message,
                   retryable, attempt, request_id, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                report.platform,
                report.shortcode,
                str(report.stage),
                report.error_class,
                report.message,
                int(report.retryable),
                report.attempt,
                report.request_id,
                now,
            ),
        )

    # ---- reads -------------------------------------------------------------------------------
    def stages(self, platform: str, shortcode: str) -> list[StageState]:
        with self._tx() as con:
            result = con.execute(
                "SELECT * FROM video_stages WHERE platform = ? AND shortcode = ? ORDER BY stage",
                (platform, shortcode),
            ).fetchall()
        return [rows.stage(r) for r in result]

    def errors(self, platform: str | None = None, shortcode: str | None = None) -> list[ErrorRow]:
        sql = "SELECT * FROM extraction_errors"
        args: tuple[Any, ...] = ()
        if platform is not None and shortcode is not None:
            sql += " WHERE platform = ? AND shortcode = ?"
            args = (platform, shortcode)
        with self._tx() as con:
            result = con.execute(sql + " ORDER BY id", args).fetchall()
        return [rows.error(r) for r in result]

    # ---- plans -------------------------------------------------------------------------------
    def skip(self, key: StageKey, reason: str) -> bool:
        now = self._now()
        with self._tx() as con:
            row = con.execute(
                "SELECT status, lease_expires_at FROM video_stages"
                " WHERE platform = ? AND shortcode = ? AND stage = ?",
                (key.platform, key.shortcode, str(key.stage)),
            ).fetchone()
            if row is not None:
                lease = rows.timestamp(row["lease_expires_at"])
                live = row["status"] == StageStatus.PROCESSING and lease is not None and lease > now
                if live or StageStatus(row["status"]).final:
                    return False
            con.execute(
                """INSERT INTO video_stages (platform, shortcode, stage, status, finished_at,
                       last_error, updated_at)
                   VALUES (?, ?, ?, 'skipped', ?, ?, ?)
                   ON CONFLICT (platform, shortcode, stage) DO UPDATE SET
                       status = 'skipped', worker_id = NULL, lease_expires_at = NULL,
                       lease_token = NULL,
                       finished_at = excluded.finished_at, last_error = excluded.last_error,
                       updated_at = excluded.updated_at""",
                (
                    key.platform,
                    key.shortcode,
                    str(key.stage),
                    now.isoformat(),
                    reason,
                    now.isoformat(),
                ),
            )
        return True

    def start_plan(
        self,
        platform: str,
        shortcode: str,
        upload_id: str,
        stages: list[str],
        options: dict[str, dict[str, Any]],
    ) -> tuple[PlanStart, VideoPlan]:
        now = self._now().isoformat()
        with self._tx() as con:
            row = con.execute(
                "SELECT * FROM video_plans WHERE platform = ? AND shortcode = ?",
                (platform, shortcode),
            ).fetchone()
            if row is not None and row["upload_id"] == upload_id:
                return PlanStart.EXISTING, rows.plan(row)
            if row is not None:
                con.execute(
                    "DELETE FROM video_stages WHERE platform = ? AND shortcode = ?",
                    (platform, shortcode),
                )
                con.execute(
                    """UPDATE videos SET is_extracted = 0, frame_count = NULL, updated_at = ?
                       WHERE platform = ? AND shortcode = ?""",
                    (now, platform, shortcode),
                )
            con.execute(
                """INSERT INTO video_plans (platform, shortcode, upload_id, stages, options, state,
                       notified, created_at, finished_at)
                   VALUES (?, ?, ?, ?, ?, 'running', 0, ?, NULL)
                   ON CONFLICT (platform, shortcode) DO UPDATE SET
                       upload_id = excluded.upload_id, stages = excluded.stages,
                       options = excluded.options, state = 'running', notified = 0,
                       created_at = excluded.created_at, finished_at = NULL""",
                (platform, shortcode, upload_id, json.dumps(stages), json.dumps(options), now),
            )
            stored = con.execute(
                "SELECT * FROM video_plans WHERE platform = ? AND shortcode = ?",
                (platform, shortcode),
            ).fetchone()
        return (PlanStart.CREATED if row is None else PlanStart.REPLACED), rows.plan(stored)

    def get_plan(self, platform: str, shortcode: str) -> VideoPlan | None:
        with self._tx() as con:
            row = con.execute(
                "SELECT * FROM video_plans WHERE platform = ? AND shortcode = ?",
                (platform, shortcode),
            ).fetchone()
        return None if row is None else rows.plan(row)

    def finish_plan(self, platform: str, shortcode: str, upload_id: str, state: PlanState) -> bool:
        with self._tx() as con:
            cur = con.execute(
                """UPDATE video_plans SET state = ?, finished_at = ?
                   WHERE platform = ? AND shortcode = ? AND upload_id = ? AND state = 'running'""",
                (str(state), self._now().isoformat(), platform, shortcode, upload_id),
            )
            return cur.rowcount == 1

    def mark_notified(self, platform: str, shortcode: str, upload_id: str) -> None:
        with self._tx() as con:
            con.execute(
                """UPDATE video_plans SET notified = 1
                   WHERE platform = ? AND shortcode = ? AND upload_id = ?""",
                (platform, shortcode, upload_id),
            )

    def list_plans(
        self,
        *,
        platform: str | None = None,
        state: PlanState | None = None,
        limit: int = 50,
        after: PlanPosition | None = None,
    ) -> list[VideoPlan]:
        where: list[str] = []
        args: list[Any] = []
        if platform is not None:
            where.append("platform = ?")
            args.append(platform)
        if state is not None:
            where.append("state = ?")
            args.append(str(state))
        if after is not None:
            # created_at is ISO text in UTC, so text order is time order
            where.append("(created_at, platform, shortcode) < (?, ?, ?)")
            args += [after.created_at.astimezone(UTC).isoformat(), after.platform, after.shortcode]
        sql = "SELECT * FROM video_plans"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, platform DESC, shortcode DESC LIMIT ?"
        args.append(max(1, min(int(limit), MAX_LIST_LIMIT)))
        with self._tx() as con:
            found = con.execute(sql, args).fetchall()
        return [rows.plan(r) for r in found]
