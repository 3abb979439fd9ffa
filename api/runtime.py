"""What a running app holds: settings, the pool, the loaded policies and the clock."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from psycopg_pool import ConnectionPool

from api.config import Settings
from api.events.types import EventType
from api.policy.loader import PolicySet, load_policy_dir
from api.policy.model import Policy
from api.storage import audit, decisions, outbox
from api.storage.database import transaction
from api.storage.preview_log import PreviewLog
from api.storage.registry import RegistrySnapshot


@dataclass
class PolicyHolder:
    """The policy set in force, swapped whole on reload so a request sees one version."""

    current: PolicySet
    loaded_at: datetime
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def active(self) -> Policy:
        return self.current.active

    def swap(self, policies: PolicySet, at: datetime) -> None:
        with self._lock:
            self.current = policies
            self.loaded_at = at


@dataclass
class Runtime:
    settings: Settings
    pool: ConnectionPool
    """Transactions: every durable change, with its audit event."""
    policies: PolicyHolder
    quick: ConnectionPool
    """Autocommit reads and previews: API key lookups, evaluations."""
    registry: RegistrySnapshot
    """Keys and people for the evaluation path, checked by the writes that rely on them."""
    previews: PreviewLog
    """The decision log's group commit for evaluations."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        """The business date: DEALDESK_TODAY when pinned, else today's date in UTC."""
        return self.settings.today or self.now().date()

    def record_policies(
        self, actor: str, event: str = "policy.loaded", force: bool = False
    ) -> None:
        """Keep the bytes of each loaded policy and write an audit event for new ones."""
        with transaction(self.pool) as conn:
            new = [p for p in self.policies.current.all if decisions.store_policy_version(conn, p)]
            if new or force:
                appended = audit.append_event(
                    conn,
                    event,
                    actor,
                    self.policies.active.name,
                    {
                        "policies": [
                            {
                                "name": p.name,
                                "version": p.version,
                                "sha256": p.sha256,
                                "status": p.status.value,
                            }
                            for p in self.policies.current.all
                        ],
                    },
                )
                outbox.emit_for(conn, appended, EventType.POLICY_PUBLISHED, appended.payload)

    def reload(self, actor: str) -> PolicySet:
        """Re-read the policy directory; a bad file raises InvalidPolicy and changes nothing.

        Under `dealdesk serve` the master is then sent SIGHUP, so every worker (not just this
        one) is replaced by one running the new policies.
        """
        policies = load_policy_dir(self.settings.policy_dir)
        self.policies.swap(policies, self.now())
        self.record_policies(actor, "policy.reloaded", force=True)
        master = os.environ.get("DEALDESK_MASTER_PID")
        if master and master.isdigit() and int(master) == os.getppid():
            os.kill(int(master), signal.SIGHUP)
        return policies
