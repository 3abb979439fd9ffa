"""A report and their manager provisioned at the same moment: whichever commits second sees
the first (its checks run once it holds the registry generation's lock) and links them."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from api.identity.scim_user import ENTERPRISE, read_user
from api.policy.loader import PolicySet
from api.service import scim as service
from api.storage.database import transaction
from api.storage.scim import get_user
from tests.http.scim_client import user

pytestmark = pytest.mark.usefixtures("db")
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
        with pool.connection() as watcher:
            watcher.autocommit = True
            deadline = time.monotonic() + 10
            while watcher.execute(WAITING).fetchone() != (1,):
                assert time.monotonic() < deadline, "ann's POST never waited for the lock"
                time.sleep(0.01)
        first.commit()
    racer.join()
    assert errors == []
    with transaction(pool) as conn:
        linked = get_user(conn, "ann@example.com")
    assert linked is not None
    assert (linked.manager_id, linked.manager_ref) == ("boss@example.com", None)
