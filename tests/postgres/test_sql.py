"""The migration and its SQL functions on a real PostgreSQL 15 (skipped without server binaries)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.support.pg import MIGRATIONS, SUPABASE_GRANTS

pytestmark = pytest.mark.postgres

CLAIM = "select public.vidpipe_claim_stage('instagram', 'Cx1', 'frame-extract', %s, %s) as r"


def connect(conninfo: str, role: str = "service_role") -> psycopg.Connection:
    con = psycopg.connect(conninfo, autocommit=True, row_factory=dict_row)
    con.execute(f"set role {role}")
    return con


def test_twenty_concurrent_claims_from_separate_connections_one_wins(pg_db):
    cons = [connect(pg_db) for _ in range(20)]
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def claim(i: int) -> None:
        barrier.wait()
        outcomes.append(cons[i].execute(CLAIM, (f"w{i}", 60)).fetchone()["r"]["outcome"])

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for con in cons:
        con.close()
    assert outcomes.count("claimed") == 1
    assert outcomes.count("held") == 19
    with connect(pg_db) as con:
        row = con.execute("select status, attempts from video_stages").fetchone()
    assert (row["status"], row["attempts"]) == ("processing", 1)


def test_a_claim_after_the_lease_expires_wins(pg_db):
    with connect(pg_db) as con:
        assert con.execute(CLAIM, ("w1", 0.2)).fetchone()["r"]["outcome"] == "claimed"
        assert con.execute(CLAIM, ("w2", 60)).fetchone()["r"]["outcome"] == "held"
        time.sleep(0.3)
        r = con.execute(CLAIM, ("w2", 60)).fetchone()["r"]
        assert (r["outcome"], r["attempts"]) == ("claimed", 2)
        assert r["token"]


def test_a_claim_on_a_succeeded_stage_is_refused(pg_db):
    with connect(pg_db) as con:
        token = con.execute(CLAIM, ("w1", 60)).fetchone()["r"]["token"]
        con.execute(
            "select public.vidpipe_complete_stage('instagram', 'Cx1', 'frame-extract',"
            " %s::uuid, 's3://b/p/', '{}'::jsonb, 3)",
            (token,),
        )
        assert con.execute(CLAIM, ("w2", 60)).fetchone()["r"]["outcome"] == "already_succeeded"
        video = con.execute("select * from videos").fetchone()
    assert (video["is_extracted"], video["frame_count"]) == (True, 3)


def test_anon_can_neither_select_nor_insert_nor_call(pg_db):
    with connect(pg_db) as con:
        con.execute(CLAIM, ("w1", 60))
        con.execute("select public.vidpipe_mark_downloaded('instagram', 'Cx1')")
    with connect(pg_db, role="anon") as anon:
        for table in ("videos", "video_stages", "extraction_errors"):
            assert anon.execute(f"select count(*) as n from {table}").fetchone()["n"] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            anon.execute("insert into videos (platform, shortcode) values ('x', 'y')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            anon.execute(
                "insert into extraction_errors (stage, error_class, message) values ('s', 'e', 'm')"
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            anon.execute(CLAIM, ("intruder", 60))
    with connect(pg_db, role="authenticated") as user:
        assert user.execute("select count(*) as n from videos").fetchone()["n"] == 0


def test_rls_is_enabled_on_every_table(pg_db):
    with connect(pg_db, role="postgres") as con:
        rows = con.execute(
            "select relname, relrowsecurity from pg_class where relname in"
            " ('videos', 'video_stages', 'extraction_errors')"
        ).fetchall()
        policies = con.execute("select count(*) as n from pg_policies").fetchone()["n"]
    assert {r["relname"]: r["relrowsecurity"] for r in rows} == {
        "videos": True,
        "video_stages": True,
        "extraction_errors": True,
    }
    assert policies == 0


def test_migrations_apply_twice_and_over_a_seed_schema(pg_server):
    # the seed's tables: a serial id, no unique key on (platform, shortcode), fewer columns
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute("drop database if exists seedlike with (force)")
        admin.execute("create database seedlike")
    try:
        with psycopg.connect(pg_server.conninfo("seedlike"), autocommit=True) as con:
            con.execute("""
                create table videos (id serial primary key, platform text not null,
                    shortcode text not null, is_downloaded boolean default false,
                    is_extracted boolean default false, frame_count integer, title text);
                insert into videos (platform, shortcode, is_downloaded) values ('ig', 'old', true);
                create table extraction_errors (id serial primary key, platform text,
                    shortcode text, error text, created_at timestamptz default now());
            """)
            for _ in range(2):
                for migration in MIGRATIONS:
                    con.execute(migration.read_text())
            con.execute(SUPABASE_GRANTS)
            con.execute("set role service_role")
            token = con.execute(
                "select public.vidpipe_claim_stage('ig', 'old', 'frame-extract', 'w', 60) as r"
            ).fetchone()[0]["token"]
            con.execute(
                "select public.vidpipe_complete_stage('ig', 'old', 'frame-extract', %s::uuid,"
                " 's3://b/p/', '{}'::jsonb, 9)",
                (token,),
            )
            # only the fenced functions are left (the text worker-id versions are dropped)
            assert con.execute(
                "select count(*) from pg_proc where proname = 'vidpipe_complete_stage'"
            ).fetchone() == (1,)
            row = con.execute(
                "select title, is_extracted, frame_count from videos where shortcode = 'old'"
            ).fetchone()
            assert row == (None, True, 9)
            con.execute("select public.vidpipe_record_error('frame-extract', 'E', 'm', false)")
            assert con.execute("select count(*) from extraction_errors").fetchone() == (1,)
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute("drop database if exists seedlike with (force)")
