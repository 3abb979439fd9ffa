"""The SLA scan as one more job of the dispatcher process (DESIGN 14), beside deliveries and
checkpoints: every `DEALDESK_SLA_SCAN_S` (0.5 s by default) one short transaction fires the
reminders, overdue notices and escalations that have fallen due.

It decides under the policy set in force, followed from the database like the API's
workers do (the policy directory until something is published)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg_pool import ConnectionPool

from api.config import Settings
from api.errors import DealdeskError, InvalidPolicy
from api.policy.loader import load_policy_dir
from api.runtime import PolicyFollower
from api.service.policy_sets import load_in_force
from api.service.sla import BATCH, Clock, run_pass
from api.storage.database import transaction

log = logging.getLogger("dealdesk.sla")


@dataclass
class SlaJob:
    settings: Settings
    _follower: PolicyFollower | None = None
    _next: float = 0.0
    _failed: bool = field(default=False)

    @property
    def every_s(self) -> float:
        return self.settings.sla_scan_s

    def due(self) -> bool:
        return time.monotonic() >= self._next

    def run_guarded(self, pool: ConnectionPool) -> int:
        """`run`, but a fault in it is logged rather than taking the dispatcher (and so
        webhook delivery) down; database errors go to the loop, which waits and retries."""
        try:
            return self.run(pool)
        except (DealdeskError, psycopg.Error):
            raise
        except Exception:
            log.exception("sla: the scan failed; trying again next pass")
            return 0

    def run(self, pool: ConnectionPool) -> int:
        """One pass (more while full batches come back); how many stages fired."""
        self._next = time.monotonic() + self.every_s
        follower = self._policies(pool)
        if follower is None:
            return 0
        fired = 0
        while True:
            now = datetime.now(UTC)
            with transaction(pool) as conn:
                conn.execute("SET LOCAL synchronous_commit = on")  # a stage is never re-fired
                policy = follower.follow(conn).active
                clock = Clock(now, self.settings.today or now.date())
                claimed, count = run_pass(conn, policy, clock, BATCH)
            fired += count
            if claimed < BATCH:
                return fired

    def _policies(self, pool: ConnectionPool) -> PolicyFollower | None:
        """The set in force: the database's once published, else the policy directory's."""
        if self._follower is not None:
            return self._follower
        with transaction(pool) as conn:
            in_force, published = load_in_force(conn)
        policies = published
        if policies is None:
            try:
                policies = load_policy_dir(self.settings.policy_dir)
            except InvalidPolicy as exc:
                if not self._failed:
                    log.warning("sla: no policy in force or in the directory (%s)", exc)
                self._failed = True
                return None
        self._follower = PolicyFollower(policies, in_force.generation, datetime.now(UTC))
        return self._follower
