"""What a running app holds: settings, the pools, the policy set it follows and the clock."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import psycopg
from psycopg_pool import ConnectionPool

from api.config import Settings
from api.identity.tokens import Verifier
from api.policy.loader import PolicySet, load_policy_dir, parse_policy
from api.policy.model import Policy
from api.service.policy_sets import Published, load_in_force, publish
from api.storage.database import transaction
from api.storage.key_usage import KeyUsage
from api.storage.policy_sets import current_generation
from api.storage.preview_log import DecisionLog
from api.storage.registry import RegistrySnapshot


@dataclass(frozen=True, slots=True)
class Held:
    """One policy set and the generation it is in force under; read whole, never mixed."""

    policies: PolicySet
    generation: int
    loaded_at: datetime

    @property
    def active(self) -> Policy:
        return self.policies.active


class PolicyFollower:
    """The set this process decides under, following the database's `policy_set`.

    `held` is swapped whole. A decision takes one `Held` and proves its generation current
    in a statement it runs anyway (the evaluation path's guarded insert) or by `follow`,
    which reloads the set from its stored bytes when the database has moved on. Generation 0
    means nothing has been published: the process then decides under the set it was given.
    """

    def __init__(self, policies: PolicySet, generation: int, at: datetime) -> None:
        self.held = Held(policies, generation, at)
        self._lock = threading.Lock()
        self._parsed: dict[str, Policy] = {p.sha256: p for p in policies.all}

    @property
    def current(self) -> PolicySet:
        return self.held.policies

    @property
    def active(self) -> Policy:
        return self.held.policies.active

    def follow(self, conn: psycopg.Connection) -> Held:
        """Confirm the generation held (one cheap read); reload first when it is stale."""
        held = self.held
        if current_generation(conn) == held.generation:
            return held
        return self.reload(conn)

    def reload(self, conn: psycopg.Connection) -> Held:
        """Load the set in force from `policy_versions` (never from a directory)."""
        in_force, policies = load_in_force(conn, self._parse)
        with self._lock:
            held = self.held
            if in_force.generation != held.generation:
                held = Held(policies or held.policies, in_force.generation, datetime.now(UTC))
                self.held = held
        return held

    def adopt(self, published: Published) -> Held:
        """Take a set this process has just published (its transaction has committed)."""
        with self._lock:
            self.held = Held(published.policies, published.generation, datetime.now(UTC))
            for policy in published.policies.all:
                self._parsed[policy.sha256] = policy
            return self.held

    def _parse(self, source: bytes, file: str) -> Policy:
        sha = hashlib.sha256(source).hexdigest()
        policy = self._parsed.get(sha)
        if policy is None:
            policy = self._parsed[sha] = parse_policy(source, file)
        return policy


@dataclass
class Runtime:
    settings: Settings
    pool: ConnectionPool
    """Transactions: every durable change, with its audit event."""
    policies: PolicyFollower
    quick: ConnectionPool
    """Autocommit reads and previews: API key lookups, evaluations."""
    registry: RegistrySnapshot
    """Keys and people for the evaluation path, checked by the writes that rely on them."""
    previews: DecisionLog
    """The decision log's group commit for evaluations (the writer process, or in-process)."""
    reads: ConnectionPool
    """Finance reads that tolerate replica lag (DATABASE_READ_URL); else the primary pool."""
    tokens: Verifier | None = None
    """OAuth 2.0 access tokens on /v1 (DEALDESK_JWT_ISSUER); None: API keys only."""
    usage: KeyUsage | None = field(default=None)
    """Notes each key's use and writes `last_used_at` at most once a minute, off the path."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        """The business date: DEALDESK_TODAY when pinned, else today's date in UTC."""
        return self.settings.today or self.now().date()

    def publish_directory(self, actor: str) -> Published:
        """Publish this instance's policy directory to the deployment; a bad file raises
        InvalidPolicy before anything is written. This process follows it at once."""
        policies = load_policy_dir(self.settings.policy_dir)
        with transaction(self.pool) as conn:
            published = publish(conn, policies, actor)
        self.policies.adopt(published)
        return published
