"""A throwaway PostgreSQL cluster for tests, plus Supabase's roles and our migrations
(docs/testing.md).

PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres`` OS user
(``runuser``) in a temp dir it owns. Tests that need it skip, with a message, when no server
binaries exist (``PG_BIN`` may point at them).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted((ROOT / "infra" / "supabase" / "migrations").glob("*.sql"))

# The roles Supabase creates in every project; on a plain server the tests create them.
SUPABASE_ROLES = """
do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end $$;
"""
# Supabase's default privileges let anon and authenticated use tables in public; RLS is what
# keeps them out. Grant the same here so the tests exercise RLS, not missing grants.
SUPABASE_GRANTS = """
grant usage on schema public to anon, authenticated, service_role;
grant all on all tables in schema public to anon, authenticated, service_role;
grant all on all sequences in schema public to anon, authenticated, service_role;
"""


def find_bin_dir() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl``, or ``None``."""
    candidates = [os.environ.get("PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for d in candidates:
        if d and (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


class PgServer:
    """A running cluster reachable on a Unix socket in its own temp dir."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="vidpipe-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True)

    def start(self) -> PgServer:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        opts = f"-k {self.socket_dir} -p {self.port} -c listen_addresses='' -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w", "start"
        )
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={dbname}"

    @contextmanager
    def database(self) -> Iterator[str]:
        """A fresh database with Supabase's roles and every migration applied."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.conninfo(), autocommit=True) as con:
            con.execute(SUPABASE_ROLES)
            con.execute(f'create database "{name}"')
        try:
            with psycopg.connect(self.conninfo(name), autocommit=True) as con:
                for migration in MIGRATIONS:
                    con.execute(migration.read_text())
                con.execute(SUPABASE_GRANTS)
            yield self.conninfo(name)
        finally:
            with psycopg.connect(self.conninfo(), autocommit=True) as con:
                con.execute(f'drop database if exists "{name}" with (force)')
