"""Answer supabase-py's HTTP requests from a real PostgreSQL database, as PostgREST would.

No PostgREST server can run here (docs/dependencies.md), so the Supabase adapter's real
requests (through
supabase-py and httpx) go to an ``httpx.MockTransport`` whose handler does what PostgREST does
with them:

* ``POST /rest/v1/rpc/{fn}``: call ``public.{fn}`` with the JSON body as named arguments, cast to
  the types the function declares (read from ``pg_proc``), and answer its JSON result;
* ``GET /rest/v1/{table}?select=*&col=eq.value``: a ``select`` with those equality filters;
* the ``apikey`` header picks the database role: the service key runs as ``service_role``, the
  anon key as ``anon`` (so row-level security applies exactly as on Supabase).

Errors come back in PostgREST's JSON shape (``code``, ``message``, ``details``, ``hint``).
``down`` makes every request fail at the network level; ``status`` forces an HTTP status.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import date, datetime
from typing import Any

import httpx
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

SERVICE_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2VydmljZQ"
ANON_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.YW5vbg"
URL = "https://vidpipe-test.supabase.co"
TABLES = {"videos", "video_stages", "extraction_errors", "video_plans"}


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):  # PostgREST answers uuid columns as text
        return str(value)
    raise TypeError(type(value).__name__)


def _reply(status: int, body: Any) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body, default=_json_default).encode(),
        headers={"content-type": "application/json"},
    )


class FakePostgrest:
    """The handler; ``client()`` gives an ``httpx.Client`` to pass to supabase-py."""

    def __init__(self, conninfo: str) -> None:
        self.con = psycopg.connect(conninfo, autocommit=True, row_factory=dict_row)
        self.lock = threading.Lock()
        self.down = False
        self.status: int | None = None
        self.requests: list[str] = []

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def close(self) -> None:
        self.con.close()

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.status is not None:
            return httpx.Response(self.status, text="<html>upstream error</html>")
        key = request.headers.get("apikey")
        role = {SERVICE_KEY: "service_role", ANON_KEY: "anon"}.get(key or "")
        if role is None:
            return _reply(
                401,
                {"code": "PGRST301", "message": "Invalid API key", "details": None, "hint": None},
            )
        path = request.url.path.removeprefix("/rest/v1/")
        with self.lock:
            try:
                self.con.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
                try:
                    if request.method == "POST" and path.startswith("rpc/"):
                        return self._rpc(path[4:], json.loads(request.content or b"{}"))
                    if request.method == "GET" and path in TABLES:
                        return self._select(path, request.url.params)
                    return _reply(
                        404,
                        {
                            "code": "PGRST125",
                            "message": f"no route {path}",
                            "details": None,
                            "hint": None,
                        },
                    )
                finally:
                    self.con.execute("reset role")
            except psycopg.Error as exc:
                diag = exc.diag
                status = 401 if exc.sqlstate == "42501" else 400
                return _reply(
                    status,
                    {
                        "code": exc.sqlstate,
                        "message": diag.message_primary,
                        "details": diag.message_detail,
                        "hint": diag.message_hint,
                    },
                )

    def _rpc(self, fn: str, args: dict[str, Any]) -> httpx.Response:
        found = self.con.execute(
            """select p.proargnames as names,
                      array(select format_type(t, null) from unnest(p.proargtypes) t) as types
                 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'public' and p.proname = %s""",
            (fn,),
        ).fetchall()
        if not found:
            return _reply(
                404,
                {
                    "code": "PGRST202",
                    "message": f"Could not find the function public.{fn}",
                    "details": None,
                    "hint": None,
                },
            )
        declared = dict(zip(found[0]["names"], found[0]["types"], strict=False))
        unknown = set(args) - set(declared)
        if unknown:
            return _reply(
                404,
                {
                    "code": "PGRST202",
                    "message": f"no {fn} with {sorted(unknown)}",
                    "details": None,
                    "hint": None,
                },
            )
        parts = [
            sql.SQL("{} => {}::{}").format(
                sql.Identifier(name), sql.Placeholder(), sql.SQL(declared[name])
            )
            for name in args
        ]
        values = [Jsonb(v) if isinstance(v, dict | list) else v for v in args.values()]
        query = sql.SQL("select public.{}({}) as r").format(
            sql.Identifier(fn), sql.SQL(", ").join(parts)
        )
        row = self.con.execute(query, values).fetchone()
        return _reply(200, row["r"] if row else None)

    def _select(self, table: str, params: httpx.QueryParams) -> httpx.Response:
        filters, values = [], []
        for column, value in params.multi_items():
            if column in ("select", "order", "limit"):
                continue
            op, _, operand = value.partition(".")
            if op != "eq":
                return _reply(
                    400,
                    {
                        "code": "PGRST100",
                        "message": f"unsupported operator {op}",
                        "details": None,
                        "hint": None,
                    },
                )
            filters.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder()))
            values.append(operand)
        query = sql.SQL("select * from public.{}").format(sql.Identifier(table))
        if filters:
            query += sql.SQL(" where ") + sql.SQL(" and ").join(filters)
        return _reply(200, self.con.execute(query, values).fetchall())
