"""Supabase status store: the migration's SQL functions through PostgREST with supabase-py.

Configured by ``SUPABASE_URL`` and ``SUPABASE_KEY`` (the **service-role** key: the tables have
row-level security with no policy for ``anon``, so only the service role can read or write).
Writes are ``supabase.rpc("vidpipe_...")`` calls (atomic SQL functions, never check-then-act);
reads are plain table selects.

Errors: network failures, time-outs, 5xx and PostgREST's connection errors (``PGRST0xx``) are
transient (:class:`~shared.errors.StatusStoreUnavailableError`, SQS retries the record). A 4xx
from a schema mismatch (function or table not found, ``PGRST2xx``/``42xxx``) or a bad key
(``PGRST3xx``, 401/403) is a :class:`~shared.errors.ConfigurationError` that says what to fix.
"""

from __future__ import annotations

from typing import Any

import httpx

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
from shared.status.postgres import TRANSIENT_SQLSTATE_CLASSES, valid_token


def translate_api_error(code: str | None, message: str | None, what: str) -> Exception:
    """Map a PostgREST error (code and message) to the pipeline's error tree."""
    code = code or ""
    text = f"Supabase {what}: {code} {message or ''}".strip()
    if code.isdigit() and len(code) == 3:  # a bare HTTP status (gateway or proxy error page)
        status = int(code)
        if status >= 500 or status == 429:
            return StatusStoreUnavailableError(text)
        if status in (401, 403):
            return ConfigurationError(f"{text}: check SUPABASE_KEY (the service-role key)")
        return ConfigurationError(text)
    if code.startswith("PGRST0") or code[:2] in TRANSIENT_SQLSTATE_CLASSES:
        return StatusStoreUnavailableError(text)
    if code.startswith("PGRST3") or code == "42501":
        return ConfigurationError(f"{text}: check SUPABASE_KEY (the service-role key)")
    return ConfigurationError(
        f"{text}: apply infra/supabase/migrations to the project (supabase db push)"
    )


class SupabaseStatusStore:
    """Status store on a Supabase project.

    Args:
        client: a ``supabase.Client`` made with the service-role key.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def connect(
        cls,
        url: str,
        key: str,
        *,
        timeout_s: float = 10.0,
        http_client: httpx.Client | None = None,
    ) -> SupabaseStatusStore:
        """Create the supabase-py client.

        Args:
            url: ``SUPABASE_URL``.
            key: ``SUPABASE_KEY`` (service role).
            timeout_s: PostgREST request time-out in seconds (``SUPABASE_TIMEOUT_S``).
            http_client: an ``httpx.Client`` to send requests with (tests pass one whose
                transport answers in-process).

        Raises:
            ConfigurationError: supabase-py refuses the URL or key.
        """
        from supabase import create_client
        from supabase.lib.client_options import SyncClientOptions

        options = SyncClientOptions(
            postgrest_client_timeout=timeout_s,
            auto_refresh_token=False,
            persist_session=False,
            httpx_client=http_client,
        )
        try:
            return cls(create_client(url, key, options=options))
        except Exception as exc:  # supabase-py raises its own SupabaseException
            raise ConfigurationError(f"Supabase client: {exc}") from exc

    def _execute(self, what: str, builder: Any) -> Any:
        from postgrest.exceptions import APIError

        try:
            return builder.execute().data
        except APIError as exc:
            raise translate_api_error(exc.code, exc.message, what) from exc
        except httpx.HTTPError as exc:
            raise StatusStoreUnavailableError(
                f"Supabase {what}: {type(exc).__name__}: {exc}"
            ) from exc

    def _rpc(self, fn: str, params: dict[str, Any]) -> Any:
        return self._execute(fn, self.client.rpc(fn, params))

    def _select(self, table: str, **eq: str) -> list[dict[str, Any]]:
        query = self.client.table(table).select("*")
        for column, value in eq.items():
            query = query.eq(column, value)
        return list(self._execute(f"select {table}", query) or [])

    def get_video(self, platform: str, shortcode: str) -> VideoRow | None:
        found = self._select("videos", platform=platform, shortcode=shortcode)
        return rows.video(found[0]) if found else None

    def mark_downloaded(self, platform: str, shortcode: str) -> None:
        self._rpc("vidpipe_mark_downloaded", {"p_platform": platform, "p_shortcode": shortcode})

    def _key(self, key: StageKey) -> dict[str, Any]:
        return {"p_platform": key.platform, "p_shortcode": key.shortcode, "p_stage": str(key.stage)}

    def claim(self, key: StageKey, worker_id: str, lease_s: float) -> Claim:
        r = self._rpc(
            "vidpipe_claim_stage",
            {**self._key(key), "p_worker_id": worker_id, "p_lease_seconds": float(lease_s)},
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
        if not valid_token(token):
            return False
        r = self._rpc(
            "vidpipe_complete_stage",
            {
                **self._key(key),
                "p_token": token,
                "p_output_prefix": output_prefix,
                "p_metrics": metrics,
                "p_frame_count": frame_count,
            },
        )
        return bool(r["ok"])

    def fail(self, key: StageKey, token: str, report: ErrorReport) -> bool:
        r = self._rpc(
            "vidpipe_fail_stage",
            {
                **self._key(key),
                "p_token": token if valid_token(token) else None,
                "p_error_class": report.error_class,
                "p_message": report.message,
                "p_retryable": report.retryable,
                "p_attempt": report.attempt,
                "p_request_id": report.request_id,
            },
        )
        return bool(r["ok"])

    def release(self, key: StageKey, token: str) -> bool:
        if not valid_token(token):
            return False
        r = self._rpc("vidpipe_release_stage", {**self._key(key), "p_token": token})
        return bool(r["released"])

    def heartbeat(self, key: StageKey, token: str, lease_s: float) -> bool:
        if not valid_token(token):
            return False
        r = self._rpc(
            "vidpipe_heartbeat_stage",
            {**self._key(key), "p_token": token, "p_lease_seconds": float(lease_s)},
        )
        return bool(r["ok"])

    def record_error(self, report: ErrorReport) -> None:
        self._rpc(
            "vidpipe_record_error",
            {
                "p_stage": str(report.stage),
                "p_error_class": report.error_class,
                "p_message": report.message,
                "p_retryable": report.retryable,
                "p_platform": report.platform,
                "p_shortcode": report.shortcode,
                "p_attempt": report.attempt,
                "p_request_id": report.request_id,
            },
        )

    def stages(self, platform: str, shortcode: str) -> list[StageState]:
        found = self._select("video_stages", platform=platform, shortcode=shortcode)
        return sorted((rows.stage(r) for r in found), key=lambda s: str(s.stage))

    def errors(self, platform: str | None = None, shortcode: str | None = None) -> list[ErrorRow]:
        eq = (
            {}
            if platform is None or shortcode is None
            else {"platform": platform, "shortcode": shortcode}
        )
        found = self._select("extraction_errors", **eq)
        return [rows.error(r) for r in sorted(found, key=lambda r: r["id"])]

    def skip(self, key: StageKey, reason: str) -> bool:
        r = self._rpc(
            "vidpipe_skip_stage",
            {
                "p_platform": key.platform,
                "p_shortcode": key.shortcode,
                "p_stage": str(key.stage),
                "p_reason": reason,
            },
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
        r = self._rpc(
            "vidpipe_start_plan",
            {
                "p_platform": platform,
                "p_shortcode": shortcode,
                "p_upload_id": upload_id,
                "p_stages": stages,
                "p_options": options,
            },
        )
        return PlanStart(r["outcome"]), rows.plan(r["plan"])

    def get_plan(self, platform: str, shortcode: str) -> VideoPlan | None:
        found = self._select("video_plans", platform=platform, shortcode=shortcode)
        return rows.plan(found[0]) if found else None

    def finish_plan(self, platform: str, shortcode: str, upload_id: str, state: PlanState) -> bool:
        r = self._rpc(
            "vidpipe_finish_plan",
            {
                "p_platform": platform,
                "p_shortcode": shortcode,
                "p_upload_id": upload_id,
                "p_state": str(state),
            },
        )
        return bool(r["finished"])

    def mark_notified(self, platform: str, shortcode: str, upload_id: str) -> None:
        self._rpc(
            "vidpipe_mark_notified",
            {"p_platform": platform, "p_shortcode": shortcode, "p_upload_id": upload_id},
        )

    def list_plans(
        self,
        *,
        platform: str | None = None,
        state: PlanState | None = None,
        limit: int = 50,
        after: PlanPosition | None = None,
    ) -> list[VideoPlan]:
        r = self._rpc(
            "vidpipe_list_plans",
            {
                "p_platform": platform,
                "p_state": None if state is None else str(state),
                "p_limit": int(limit),
                "p_after_created_at": None if after is None else after.created_at.isoformat(),
                "p_after_platform": None if after is None else after.platform,
                "p_after_shortcode": None if after is None else after.shortcode,
            },
        )
        return [rows.plan(p) for p in r or []]
