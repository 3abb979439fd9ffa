"""A per-process snapshot of API keys and people, for the evaluation path.

Every change to `people` or `api_keys` bumps `registry_generation.n` in its own transaction
(schema.sql). Rows are cached here under the generation read *before* them, so a cached row is
never older than its tag says. A writer that relied on the snapshot passes that tag to a
guarded statement (see `decisions.GUARDED_INSERT`), which writes nothing when the generation
moved on; the caller then drops the snapshot and starts over from the database. An evaluation
therefore needs no read round trip, and still never acts on a revoked key or an outdated tier.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg_pool import ConnectionPool

from api.storage.database import transaction
from api.storage.keys import ApiKey, find_key_by_hash
from api.storage.people import Person, get_people

GENERATION = "SELECT n FROM registry_generation"


def current_generation(conn: psycopg.Connection) -> int:
    row = conn.execute(GENERATION).fetchone()
    assert row is not None, "schema.sql seeds registry_generation"
    return int(row[0])


@dataclass(frozen=True, slots=True)
class Seen:
    """What a lookup found, and the generation it is known to be current for."""

    generation: int
    key: ApiKey | None = None
    people: dict[str, Person] | None = None


class RegistrySnapshot:
    """Keys (by hash) and people (by id) as of one generation; safe across threads.

    Only rows that exist are kept: an unknown key or person is looked up every time.
    """

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._generation = 0
        self._keys: dict[str, ApiKey] = {}
        self._people: dict[str, Person] = {}

    def key(self, key_hash: str) -> Seen:
        with self._lock:
            key = self._keys.get(key_hash)
            if key is not None:
                return Seen(self._generation, key=key)
        with transaction(self._pool) as conn:
            generation = current_generation(conn)
            key = find_key_by_hash(conn, key_hash)
        with self._lock:
            if self._adopt(generation) and key is not None:
                self._keys[key_hash] = key
        return Seen(generation, key=key)

    def people(self, ids: Iterable[str]) -> Seen:
        wanted = set(ids)
        with self._lock:
            found = {i: self._people[i] for i in wanted if i in self._people}
            if len(found) == len(wanted):
                return Seen(self._generation, people=found)
        with transaction(self._pool) as conn:
            generation = current_generation(conn)
            found = get_people(conn, list(wanted))
        with self._lock:
            if self._adopt(generation):
                self._people.update(found)
        return Seen(generation, people=found)

    def forget(self) -> None:
        """Drop everything: a guarded write found the registry changed."""
        with self._lock:
            self._generation = 0
            self._keys.clear()
            self._people.clear()

    def _adopt(self, generation: int) -> bool:
        """Keep rows read under `generation` only if nothing newer is cached (lock held)."""
        if generation > self._generation:
            self._generation = generation
            self._keys.clear()
            self._people.clear()
        return generation == self._generation
