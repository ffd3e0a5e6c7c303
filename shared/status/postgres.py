"""PostgreSQL status store: the migration's SQL functions called directly with psycopg.

For deployments on a plain PostgreSQL (RDS, Cloud SQL, self-hosted) instead of Supabase
(``STATUS_BACKEND=postgres``, ``DATABASE_URL``). It runs exactly the functions the Supabase
adapter reaches through PostgREST, so the two cannot differ in semantics.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from shared.errors import ConfigurationError, StatusStoreUnavailableError
from shared.status import (
    Claim,
    ErrorReport,
    ErrorRow,
    PlanPosition,
    PlanStart,
    PlanState,
    StageKey,
    StageState,
    VideoPlan,
    VideoRow,
    rows,
)

# SQLSTATE classes that mean "try again later": connection exceptions, insufficient resources,
# operator intervention (shutdown, cancel), transaction rollback (serialisation, deadlock).
TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "40")


def _translate(exc: Exception, what: str) -> Exception:
    import psycopg

    if isinstance(exc, psycopg.OperationalError):
        return StatusStoreUnavailableError(f"PostgreSQL {what}: {exc}")
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES:
        return StatusStoreUnavailableError(f"PostgreSQL {what}: {exc}")
    if isinstance(exc, psycopg.Error):
        return ConfigurationError(
            f"PostgreSQL {what}: {exc} (are infra/supabase/migrations applied?)"
        )
    return exc


def valid_token(token: str | None) -> bool:
    """Whether ``token`` can be a claim's fencing token (a UUID). Anything else cannot match the
    stored token, so the fenced calls answer ``False`` without sending it (the SQL functions take
    a ``uuid`` and would refuse the text as a type error)."""
    if not token:
        return False
    try:
        uuid.UUID(str(token))
    except ValueError:
        return False
    return True


def _key(key: StageKey) -> tuple[str, str, str]:
    return key.platform, key.shortcode, str(key.stage)


class PostgresStatusStore:
    """Status store on a PostgreSQL connection (one connection, serialised by a lock).

    Args:
        conninfo: libpq connection string or URL (``DATABASE_URL``).
        connect_timeout_s: seconds to wait for a connection.

    Raises:
        StatusStoreUnavailableError: the server cannot be reached (on first use).
    """

    def __init__(self, conninfo: str, connect_timeout_s: float = 10.0) -> None:
        self.conninfo = conninfo
        self.connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._con: Any = None

    def _query(self, what: str, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        with self._lock:
            try:
                if self._con is None or self._con.closed:
                    self._con = psycopg.connect(
                        self.conninfo,
                        autocommit=True,
                        row_factory=dict_row,
                        connect_timeout=int(self.connect_timeout_s),
                    )
                cur = self._con.execute(sql, args)
                return list(cur.fetchall()) if cur.description else []
            except psycopg.Error as exc:
                if isinstance(exc, psycopg.OperationalError) and self._con is not None:
                    self._con.close()
                raise _translate(exc, what) from exc

    def _call(self, fn: str, sql_args: str, args: tuple[Any, ...]) -> Any:
        [row] = self._query(fn, f"select public.{fn}({sql_args}) as r", args)
        return row["r"]

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._con is not None:
                self._con.close()

    def get_video(self, platform: str, shortcode: str) -> VideoRow | None:
        found = self._query(
            "get_video",
            "select * from public.videos where platform = %s and shortcode = %s",
            (platform, shortcode),
        )
        return rows.video(found[0]) if found else None

    def mark_downloaded(self, platform: str, shortcode: str) -> None:
        self._call("vidpipe_mark_downloaded", "%s, %s", (platform, shortcode))

    def claim(self, key: StageKey, worker_id: str, lease_s: float) -> Claim:
        r = self._call(
            "vidpipe_claim_stage",
            "%s, %s, %s, %s, %s::float8",
            (key.platform, key.shortcode, str(key.stage), worker_id, float(lease_s)),
        )
        return Claim.from_result(r)

    def complete(
        self,
        key: StageKey,
        token: str,
        *,
        output_prefix: str,
        metrics: dict[str, Any],
        frame_count: int | None = None,
    ) -> bool:
        from psycopg.types.json import Jsonb

        if not valid_token(token):
            return False
        r = self._call(
            "vidpipe_complete_stage",
            "%s, %s, %s, %s::uuid, %s, %s, %s::integer",
            (*_key(key), token, output_prefix, Jsonb(metrics), frame_count),
        )
        return bool(r["ok"])

    def fail(self, key: StageKey, token: str, report: ErrorReport) -> bool:
        r = self._call(
            "vidpipe_fail_stage",
            "%s, %s, %s, %s::uuid, %s, %s, %s, %s::integer, %s",
            (
                *_key(key),
                token if valid_token(token) else None,
                report.error_class,
                report.message,
                report.retryable,
                report.attempt,
                report.request_id,
            ),
        )
        return bool(r["ok"])

    def release(self, key: StageKey, token: str) -> bool:
        if not valid_token(token):
            return False
        r = self._call("vidpipe_release_stage", "%s, %s, %s, %s::uuid", (*_key(key), token))
        return bool(r["released"])

    def heartbeat(self, key: StageKey, token: str, lease_s: float) -> bool:
        if not valid_token(token):
            return False
        r = self._call(
            "vidpipe_heartbeat_stage",
            "%s, %s, %s, %s::uuid, %s::float8",
            (*_key(key), token, float(lease_s)),
        )
        return bool(r["ok"])

    def record_error(self, report: ErrorReport) -> None:
        self._call(
            "vidpipe_record_error",
            "%s, %s, %s, %s, %s, %s, %s::integer, %s",
            (
                str(report.stage),
                report.error_class,
                report.message,
                report.retryable,
                report.platform,
                report.shortcode,
                report.attempt,
                report.request_id,
            ),
        )

    def stages(self, platform: str, shortcode: str) -> list[StageState]:
        found = self._query(
            "stages",
            "select * from public.video_stages where platform = %s and shortcode = %s"
            " order by stage",
            (platform, shortcode),
        )
        return [rows.stage(r) for r in found]

    def errors(self, platform: str | None = None, shortcode: str | None = None) -> list[ErrorRow]:
        sql = "select * from public.extraction_errors"
        args: tuple[Any, ...] = ()
        if platform is not None and shortcode is not None:
            sql, args = sql + " where platform = %s and shortcode = %s", (platform, shortcode)
        return [rows.error(r) for r in self._query("errors", sql + " order by id", args)]

    def skip(self, key: StageKey, reason: str) -> bool:
        r = self._call(
            "vidpipe_skip_stage",
            "%s, %s, %s, %s",
            (key.platform, key.shortcode, str(key.stage), reason),
        )
        return bool(r["skipped"])

    def start_plan(
        self,
        platform: str,
        shortcode: str,
        upload_id: str,
        stages: list[str],
        options: dict[str, dict[str, Any]],
    ) -> tuple[PlanStart, VideoPlan]:
        from psycopg.types.json import Jsonb

        r = self._call(
            "vidpipe_start_plan",
            "%s, %s, %s, %s, %s",
            (platform, shortcode, upload_id, Jsonb(stages), Jsonb(options)),
        )
        return PlanStart(r["outcome"]), rows.plan(r["plan"])

    def get_plan(self, platform: str, shortcode: str) -> VideoPlan | None:
        found = self._query(
            "get_plan",
            "select * from public.video_plans where platform = %s and shortcode = %s",
            (platform, shortcode),
        )
        return rows.plan(found[0]) if found else None

    def finish_plan(self, platform: str, shortcode: str, upload_id: str, state: PlanState) -> bool:
        r = self._call(
            "vidpipe_finish_plan", "%s, %s, %s, %s", (platform, shortcode, upload_id, str(state))
        )
        return bool(r["finished"])

    def mark_notified(self, platform: str, shortcode: str, upload_id: str) -> None:
        self._call("vidpipe_mark_notified", "%s, %s, %s", (platform, shortcode, upload_id))

    def list_plans(
        self,
        *,
        platform: str | None = None,
        state: PlanState | None = None,
        limit: int = 50,
        after: PlanPosition | None = None,
    ) -> list[VideoPlan]:
        r = self._call(
            "vidpipe_list_plans",
            "%s, %s, %s::integer, %s::timestamptz, %s, %s",
            (
                platform,
                None if state is None else str(state),
                int(limit),
                None if after is None else after.created_at,
                None if after is None else after.platform,
                None if after is None else after.shortcode,
            ),
        )
        return [rows.plan(p) for p in r or []]
