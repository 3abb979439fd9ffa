"""Publishing on the real database: a publish that dies before commit changes nothing, a
publish in flight does not hold up readers, and racing publishes serialise."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from api.policy.loader import PolicySet, load_policy_dir
from api.service.policy_sets import load_in_force, publish
from api.storage.database import transaction
from api.storage.policy_sets import current_generation
from tests.conftest import POLICIES

SHIPPED_TEXT = (POLICIES / "deal-authority.yaml").read_text()


def variant(root: Path, version: str) -> PolicySet:
    directory = root / version
    directory.mkdir()
    (directory / "deal-authority.yaml").write_text(
        SHIPPED_TEXT.replace('version: "2026.11.0"', f'version: "{version}"')
    )
    return load_policy_dir(directory)


def state(db: str) -> tuple[int, int, int]:
    """(generation, policy.published events, stored versions)."""
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "SELECT (SELECT generation FROM policy_set),"
            " (SELECT count(*) FROM audit_events WHERE type = 'policy.published'),"
            " (SELECT count(*) FROM policy_versions)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_a_publish_killed_before_commit_changes_nothing(
    db: str, shipped: PolicySet, tmp_path: Path
) -> None:
    with psycopg.connect(db) as conn:
        publish(conn, shipped, "test")
    assert state(db) == (1, 1, 1)
    dying = psycopg.connect(db)
    publish(dying, variant(tmp_path, "2026.12.0"), "test")  # written, not committed
    with psycopg.connect(db, autocommit=True) as admin:
        pid = dying.info.backend_pid
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    with pytest.raises(psycopg.OperationalError):
        dying.commit()
    dying.close()
    assert state(db) == (1, 1, 1)
    with psycopg.connect(db) as conn:
        in_force, policies = load_in_force(conn)
    assert policies is not None
    assert (in_force.generation, policies.active.version) == (1, "2026.11.0")


def test_a_publish_in_flight_does_not_hold_up_readers(
    db: str, pool: ConnectionPool, shipped: PolicySet, tmp_path: Path
) -> None:
    with transaction(pool) as conn:
        publish(conn, shipped, "test")
    with psycopg.connect(db) as publishing:
        publish(publishing, variant(tmp_path, "2026.12.0"), "test")
        with psycopg.connect(db, autocommit=True) as reader:
            reader.execute("SET lock_timeout = '100ms'")
            assert current_generation(reader) == 1  # the old set until the commit
        publishing.commit()
        with psycopg.connect(db, autocommit=True) as reader:
            assert current_generation(reader) == 2


def test_racing_publishes_serialise_into_one_generation_each(
    db: str, shipped: PolicySet, tmp_path: Path
) -> None:
    candidates = [variant(tmp_path, f"2026.12.{i}") for i in range(6)]
    start = threading.Barrier(len(candidates))
    errors: list[BaseException] = []

    def one(policies: PolicySet) -> None:
        try:
            start.wait()
            with psycopg.connect(db) as conn:
                publish(conn, policies, "race")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(c,)) for c in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert state(db) == (6, 6, 6)
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT payload FROM audit_events WHERE type = 'policy.published' ORDER BY id"
        ).fetchall()
        in_force, policies = load_in_force(conn)
    assert [p["generation"] for (p,) in rows] == [1, 2, 3, 4, 5, 6]
    last = rows[-1][0]["policies"][0]["version"]
    assert policies is not None and (in_force.generation, policies.active.version) == (6, last)
