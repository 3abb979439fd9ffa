"""The policy set in force (one row, `policy_set`) and the stored bytes it names.

`generation` rises by one at each publish; 0 means nothing has been published yet. Workers
read it with `GENERATION` (or folded into a statement they already run, as
`decisions.GUARDED_INSERT` does) and load a newer set's bytes with `SOURCES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

GENERATION = "SELECT generation FROM policy_set"
IN_FORCE = """
SELECT generation, active_sha256, shadow_sha256s, published_at, published_by FROM policy_set
"""
LOCK = """
SELECT generation, active_sha256, shadow_sha256s, published_at, published_by FROM policy_set
FOR UPDATE
"""
REPLACE = """
UPDATE policy_set
SET generation = generation + 1, active_sha256 = %s, shadow_sha256s = %s,
    published_at = now(), published_by = %s
RETURNING generation, active_sha256, shadow_sha256s, published_at, published_by
"""
SOURCES = """
SELECT sha256, name, version, status, file, source FROM policy_versions
WHERE sha256 = ANY(%s)
"""


@dataclass(frozen=True, slots=True)
class SetInForce:
    generation: int
    active_sha256: str | None
    shadow_sha256s: list[str]
    published_at: datetime | None
    published_by: str | None

    @property
    def sha256s(self) -> list[str]:
        """The active policy first, then its shadows (empty when nothing is published)."""
        return [self.active_sha256, *self.shadow_sha256s] if self.active_sha256 else []


@dataclass(frozen=True, slots=True)
class StoredVersion:
    sha256: str
    name: str
    version: str
    status: str
    file: str
    source: bytes


def current_generation(conn: psycopg.Connection) -> int:
    row = conn.execute(GENERATION).fetchone()
    assert row is not None, "schema.sql seeds policy_set"
    return int(row[0])


def set_in_force(conn: psycopg.Connection, *, lock: bool = False) -> SetInForce:
    """The row; `lock` holds it to the end of the transaction, so publishes serialise."""
    with conn.cursor(row_factory=class_row(SetInForce)) as cur:
        found = cur.execute(LOCK if lock else IN_FORCE).fetchone()
    assert found is not None, "schema.sql seeds policy_set"
    return found


def replace_set(
    conn: psycopg.Connection, active_sha256: str, shadow_sha256s: Sequence[str], actor: str
) -> SetInForce:
    """Put a new set in force (its versions stored first) with the next generation."""
    with conn.cursor(row_factory=class_row(SetInForce)) as cur:
        found = cur.execute(REPLACE, (active_sha256, list(shadow_sha256s), actor)).fetchone()
    assert found is not None, "schema.sql seeds policy_set"
    return found


def stored_versions(conn: psycopg.Connection, sha256s: Sequence[str]) -> list[StoredVersion]:
    """The stored versions with these sha256s, in the order asked for."""
    with conn.cursor(row_factory=class_row(StoredVersion)) as cur:
        rows = {row.sha256: row for row in cur.execute(SOURCES, (list(sha256s),)).fetchall()}
    return [rows[sha] for sha in sha256s if sha in rows]
