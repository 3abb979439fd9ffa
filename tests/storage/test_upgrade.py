"""A real upgrade: a database made and filled by the release before partitioning (its
schema.sql kept as a fixture), migrated by `dealdesk db migrate`, keeps every row; its
decision log is partitioned, version 4 ids included; the service works on it; two migrators
at once do the work once; `serve` refuses an old schema when told not to migrate."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg import sql

from api.app import create_app
from api.cli import main
from api.config import Settings
from api.policy.loader import PolicySet
from api.service.keys import issue_key
from api.service.replay import replay
from api.storage import migrate as migration
from api.storage import partitions
from api.storage.database import SCHEMA_FILE, open_pool, transaction
from api.storage.decisions import replay_query
from api.storage.partitions import (
    LEGACY,
    LEGACY_HIGH,
    add_months,
    month_bound,
    month_name,
    parts,
)
from tests.conftest import POLICIES
from tests.storage.planting import (
    in_month,
    months_back,
    plant,
    previous_release,
    scratch_database,
    this_month,
    v4_sorting_at,
    v7_at,
)

OTHER_TABLES = ("people", "api_keys", "policy_versions", "policy_set", "audit_checkpoints")


def test_schema_sql_changes_bump_the_version() -> None:
    found = hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()
    assert found == migration.SCHEMA_SHA256, (
        "schema.sql changed: bump SCHEMA_VERSION in api/storage/migrate.py and set "
        f"SCHEMA_SHA256 = {found!r}"
    )


@pytest.fixture()
def old(server_url: str, shipped: PolicySet) -> Iterator[tuple[str, dict[uuid.UUID, str]]]:
    """A previous-release database: people, a key, a policy, and decisions with version 4
    ids (written before 2026-12-02; two placed where a month ahead and a low range will be)
    and version 7 ids over four months up to now."""
    with scratch_database(server_url, "upgrade") as url:
        previous_release(url)
        now = datetime.now(UTC)
        rows = [(uuid.uuid4(), in_month(months_back(5), day), "4") for day in range(1, 21)]
        rows.append(
            (v4_sorting_at(in_month(add_months(this_month(), 2))), in_month(months_back(5)), "12")
        )
        rows.append(
            (v4_sorting_at(datetime(1999, 3, 1, tzinfo=UTC)), in_month(months_back(4)), "55")
        )
        for back in (3, 2, 1):
            rows += [
                (v7_at(in_month(months_back(back), d)), in_month(months_back(back), d), "8")
                for d in (2, 15)
            ]
        rows.append((v7_at(now), now, "12"))
        with psycopg.connect(url) as conn:
            conn.execute(
                "INSERT INTO people (id, name, tier) "
                "VALUES ('am.jones', 'Jones', 'account_manager')"
            )
            conn.execute(
                "INSERT INTO api_keys (name, key_hash, scopes) VALUES ('old', 'abc', '{admin}')"
            )
            conn.execute(
                "INSERT INTO policy_versions (sha256, name, version, status, file, source) "
                "VALUES (%s, 'deal-authority', '1', 'active', 'x.yaml', 'x')",
                (shipped.active.sha256,),
            )
            plant(conn, shipped.active, rows)
        yield url, {row[0]: row[2] for row in rows}


COLUMNS = "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY 1"


def snapshot(
    url: str, columns: dict[str, list[str]] | None = None
) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables, in the columns they had before the upgrade (later releases
    add columns; the rows' old values must stay as they were)."""
    with psycopg.connect(url) as conn:
        columns = columns or old_columns(url)
        found = {
            t: conn.execute(
                sql.SQL("SELECT {} FROM {} ORDER BY 1").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns[t])), sql.Identifier(t)
                )
            ).fetchall()
            for t in OTHER_TABLES
        }
        found["decisions"] = conn.execute(
            "SELECT id, created_at, as_of, input, output, outcome FROM decisions ORDER BY id"
        ).fetchall()
    return found


def old_columns(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        return {t: [r[0] for r in conn.execute(COLUMNS, (t,))] for t in OTHER_TABLES}


def test_migrate_keeps_every_row_and_partitions_the_log(
    old: tuple[str, dict[uuid.UUID, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, planted = old
    columns = old_columns(url)
    before = snapshot(url, columns)
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["db", "migrate"]) == 0
    assert capsys.readouterr().out == "schema migrated from version 0 to 1\n"
    assert snapshot(url, columns) == before
    assert len(before["decisions"]) == len(planted) == 29
    with psycopg.connect(url) as conn:
        assert conn.execute(
            "SELECT relkind::text FROM pg_class WHERE relname = 'decisions'"
        ).fetchone() == ("p",)
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        found = {p.name: (p.lower, p.upper) for p in parts(conn)}
        ahead = v4_id = next(i for i, d in planted.items() if d == "12" and i.version == 4)
        where = dict(conn.execute("SELECT id, tableoid::regclass::text FROM decisions").fetchall())
    first = add_months(this_month(), 1)
    assert found[LEGACY] == (None, month_bound(first))
    for n in (1, 2, 3):
        month = add_months(this_month(), n)
        assert found[month_name(month)] == (month_bound(month), month_bound(add_months(month, 1)))
    # the version 4 id that reads as two months ahead was moved into that month's partition
    assert where[ahead] == month_name(add_months(this_month(), 2)) and v4_id.version == 4
    assert found[LEGACY_HIGH][1] is None and found[LEGACY_HIGH][0] > month_bound(
        add_months(this_month(), 4)
    )
    assert {where[i] for i in planted if i.version == 7} == {LEGACY}
    assert main(["db", "migrate"]) == 0
    assert capsys.readouterr().out == "schema already at version 1\n"


def test_the_service_works_on_the_upgraded_database(
    old: tuple[str, dict[uuid.UUID, str]], shipped: PolicySet
) -> None:
    url, planted = old
    assert migration.migrate(url) == 0
    pool = open_pool(url, max_size=4)
    try:
        settings = Settings(database_url=url, policy_dir=POLICIES)
        app = create_app(settings, pool=pool, policy_set=shipped)
        with transaction(pool) as conn:
            key, _ = issue_key(conn, "admin", ["admin"], "test")
        client: FlaskClient = app.test_client()
        body = {
            "deal": {"deal_id": "Q-new", "owner_id": "am.jones", "currency": "USD",
                     "list_amount": "1000.00", "discount_pct": "3"},
            "requested_by": "am.jones",
        }  # fmt: skip
        response = client.post(
            "/v1/evaluations", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert (response.status_code, response.json["outcome"]) == (200, "approved")
        with transaction(pool) as conn:
            logged = conn.execute(
                "SELECT count(*) FROM decisions WHERE deal_id = 'Q-new'"
            ).fetchone()
            assert logged == (1,)
            report = replay(conn, shipped.active, None, None)
            assert (report["evaluated"], report["changed"]) == (len(planted) + 1, 0)
            window = months_back(5)
            dated = replay(conn, shipped.active, window, add_months(window, 1))
            assert dated["evaluated"] == 21  # the version 4 rows of that month, by created_at
            query = replay_query(conn, months_back(1), months_back(1))
            plan = "\n".join(r[0] for r in conn.execute(b"EXPLAIN " + query.as_bytes(conn)))
            # version 7 rows: pruned to the range; version 4 ones: where they may be
            assert "decisions_legacy " in plan and "decisions_legacy_high " in plan
            assert month_name(add_months(this_month(), 2)) in plan  # v4 rows moved there
            for n in (1, 3):
                assert month_name(add_months(this_month(), n)) not in plan
    finally:
        pool.close()


def test_two_migrators_at_once_do_the_work_once(old: tuple[str, dict[uuid.UUID, str]]) -> None:
    url, planted = old
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(migration.migrate(url))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM decisions").fetchone() == (len(planted),)
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,)]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_refuses_an_older_schema(
    server_url: str, how: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with scratch_database(server_url, "refuse") as url:
        previous_release(url)
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("DEALDESK_POLICY_DIR", str(POLICIES))
        argv = ["serve", "--port", "1"]
        if how == "flag":
            argv.append("--no-migrate")
        else:
            monkeypatch.setenv("DEALDESK_MIGRATE", "0")
        assert main(argv) == 1
        assert capsys.readouterr().err == (
            "dealdesk: the database schema is version 0, older than the version 1 this server "
            "needs: run `dealdesk db migrate` first\n"
        )
        with psycopg.connect(url) as conn:  # and it changed nothing
            assert conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,)


def test_a_conversion_stopped_after_its_move_is_finished_in_a_later_month(
    old: tuple[str, dict[uuid.UUID, str]],
) -> None:
    url, planted = old
    with psycopg.connect(url) as conn:  # the first step of a run that then stopped
        partitions.convert_move(conn, add_months(this_month(), 1))
    later = add_months(this_month(), 2)  # run again two months on: its legacy range is wider
    assert migration.migrate(url, today=later) == 0
    with psycopg.connect(url) as conn:
        ids = {row[0] for row in conn.execute("SELECT id FROM decisions").fetchall()}
        found = {p.name: (p.lower, p.upper) for p in parts(conn)}
        where = dict(conn.execute("SELECT id, tableoid::regclass::text FROM decisions").fetchall())
    assert ids == set(planted)
    assert found[LEGACY] == (None, month_bound(add_months(later, 1)))
    ahead = next(i for i, d in planted.items() if d == "12" and i.version == 4)
    assert where[ahead] == LEGACY  # moved aside by the first run, back below the new bound
