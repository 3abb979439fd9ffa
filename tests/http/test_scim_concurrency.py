"""A report and their manager provisioned at the same moment: whichever commits second sees
the first (its checks run once it holds the registry generation's lock) and links them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from api.identity.scim_error import ScimError
from api.identity.scim_user import ENTERPRISE, read_user
from api.policy.loader import PolicySet
from api.service import scim as service
from api.storage.database import transaction
from api.storage.scim import get_user
from tests.http.scim_client import user

WAITING = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"


ANN = user("ann@example.com", **{ENTERPRISE: {"manager": "boss@example.com"}})
BOSS = user("boss@example.com")


@pytest.mark.parametrize(
    ("first_body", "second_body"),
    [(BOSS, ANN), (ANN, BOSS)],
    ids=["manager commits while the report waits", "report commits while the manager waits"],
)
def test_whoever_commits_second_links_the_pair(
    pool: ConnectionPool,
    db: str,
    shipped: PolicySet,
    first_body: dict[str, Any],
    second_body: dict[str, Any],
) -> None:
    policy = shipped.active
    errors: list[BaseException] = []

    def provision_second() -> None:
        try:
            with transaction(pool) as conn:
                service.create_user(conn, policy, read_user(second_body), "scim:t")
        except BaseException as exc:  # reported below
            errors.append(exc)

    with pool.connection() as first:
        service.create_user(first, policy, read_user(first_body), "scim:t")
        # the second POST starts now: it cannot see the first, and waits for the registry lock
        racer = threading.Thread(target=provision_second)
        racer.start()
        wait_for_lock(db)
        first.commit()
    racer.join()
    assert errors == []
    with transaction(pool) as conn:
        linked = get_user(conn, "ann@example.com")
    assert linked is not None
    assert (linked.manager_id, linked.manager_ref) == ("boss@example.com", None)


def test_two_managers_named_the_other_way_round_at_once_make_no_cycle(
    pool: ConnectionPool, db: str, shipped: PolicySet
) -> None:
    policy = shipped.active
    with transaction(pool) as conn:
        for body in (user("ann@example.com"), user("bob@example.com")):
            service.create_user(conn, policy, read_user(body), "scim:t")
    errors: list[ScimError] = []

    def bob_reports_to_ann() -> None:
        try:
            with transaction(pool) as conn:
                service.patch_user(conn, policy, "bob@example.com", manager("ann@example.com"), "t")
        except ScimError as exc:
            errors.append(exc)

    with pool.connection() as first:
        service.patch_user(first, policy, "ann@example.com", manager("bob@example.com"), "t")
        racer = threading.Thread(target=bob_reports_to_ann)
        racer.start()
        wait_for_lock(db)
        first.commit()
    racer.join()
    assert [(e.status, e.scim_type, e.detail) for e in errors] == [
        (
            400,
            "invalidValue",
            "'ann@example.com' reports to 'bob@example.com': that would make a cycle.",
        )
    ]
    with transaction(pool) as conn:
        ann, bob = get_user(conn, "ann@example.com"), get_user(conn, "bob@example.com")
    assert ann is not None and bob is not None
    assert (ann.manager_id, bob.manager_id) == ("bob@example.com", None)


def manager(ref: str) -> Callable[[], dict[str, Any]]:
    return lambda: {"Operations": [{"op": "Add", "path": f"{ENTERPRISE}:manager", "value": ref}]}


def wait_for_lock(db: str) -> None:
    """Until one session waits for a lock (its own connection: never a pool's, whose
    connections must not be left in autocommit)."""
    with psycopg.connect(db, autocommit=True) as watcher:
        deadline = time.monotonic() + 10
        while watcher.execute(WAITING).fetchone() != (1,):
            assert time.monotonic() < deadline, "the second change never waited for the lock"
            time.sleep(0.01)
