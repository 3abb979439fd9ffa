"""Every piece of partition DDL for the decision log: monthly RANGE partitions on the id.

`decisions` is `PARTITION BY RANGE (id)` with `PRIMARY KEY (id)` (a key on a table
partitioned by `created_at` would have to include it). Ids are version 7 uuids: their first
48 bits are the Unix time in milliseconds, and PostgreSQL compares uuids byte by byte, so the
month M holds the ids from `month_bound(M)` (that millisecond, all other bits zero) up to
`month_bound(M + 1)`. Partitions are named `decisions_pYYYY_MM`; none is a DEFAULT partition
(one would refuse `DETACH ... CONCURRENTLY` and make every ATTACH scan it). A month is
created as a plain table LIKE the parent with a CHECK equal to its bounds and then ATTACHed:
ATTACH takes SHARE UPDATE EXCLUSIVE on the parent and skips its scan thanks to the CHECK,
where `CREATE TABLE ... PARTITION OF` would take ACCESS EXCLUSIVE.

Converting a database made before partitioning (`convert`), without rewriting its rows:
decisions written before 2026-12-02 carry version 4 ids, 122 random bits spread over the
whole uuid range (read as a time, anywhere from 1970 to the year 10889), so no id range holds
them and some fall in months we will one day need. The old table is therefore kept, renamed
`decisions_legacy`, as the partition `[MINVALUE, bound(F))`, F being the month after the
current one: it keeps in place every version 7 row (and takes this month's new ones until
the month ends) and the version 4 rows that sort below F (about 0.6% of them). The rows that
sort at or above F (the only rows copied: version 4 ones, an era that lasted ten days, and
any id from a clock that ran ahead) move to `decisions_legacy_high`, the partition
`[bound(H), MAXVALUE)`, H being the month of the lowest of them. Months F .. H-1 are made
as usual. When a month at or past H is due, `create_month` splits the high partition: its rows
of that month move into the new month, and it is attached again from the month of its next
lowest id (dropped once empty). The steps are in their own transactions and each can be
rerun: the move, a `CHECK ... NOT VALID` then `VALIDATE` (a scan that blocks no writer), and
the swap (renames, the new parent, ATTACH without a scan), which holds ACCESS EXCLUSIVE only
for catalog changes. Rows of the two legacy partitions are archived with the month of their
`created_at`; version 4 rows a split moved into a month are archived with that month
(and replay looks for version 4 rows in those months too: they carry a comment).

Names are `sql.Identifier`s and bounds `sql.Literal`s: no value is formatted into SQL text.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import psycopg
from psycopg import sql

PARENT = "decisions"
PREFIX = "decisions_p"
LEGACY = "decisions_legacy"
LEGACY_HIGH = "decisions_legacy_high"
LEGACY_CHECK = "decisions_legacy_bound"
VERSION_7 = 7

PARTS = """
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), i.inhdetachpending
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
WHERE p.relname = %s AND p.relnamespace = current_schema()::regnamespace
ORDER BY c.relname
"""
RELKIND = """
SELECT c.relkind::text FROM pg_class c
WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace
"""
MOVED = "holds version 4 ids moved from decisions_legacy_high"
MARKED = """
SELECT c.relname FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
WHERE p.relname = %s AND p.relnamespace = current_schema()::regnamespace
  AND obj_description(c.oid, 'pg_class') = %s
"""
_BOUNDS = re.compile(r"FROM \((.+)\) TO \((.+)\)")


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    lower: uuid.UUID | None  # None: MINVALUE
    upper: uuid.UUID | None  # None: MAXVALUE
    detach_pending: bool = False

    def overlaps(self, lo: uuid.UUID, hi: uuid.UUID) -> bool:
        return (self.lower is None or self.lower < hi) and (self.upper is None or lo < self.upper)


def month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def id_at(moment: datetime) -> uuid.UUID:
    """The lowest uuid of this millisecond: every id made at or after it sorts at or above."""
    ms = int(moment.timestamp() * 1000)
    return uuid.UUID(int=max(ms, 0) << 80)


def month_bound(month: date) -> uuid.UUID:
    return id_at(month_start(month))


def month_of_id(value: uuid.UUID) -> date:
    """The month whose range holds this id (for a version 4 id: a meaningless far month)."""
    moment = datetime.fromtimestamp((value.int >> 80) / 1000, UTC)
    return date(moment.year, moment.month, 1)


def month_name(month: date) -> str:
    return f"{PREFIX}{month.year:04d}_{month.month:02d}"


def name_month(name: str) -> date | None:
    found = re.fullmatch(rf"{PREFIX}(\d{{4}})_(\d{{2}})", name)
    return date(int(found[1]), int(found[2]), 1) if found else None


def _bound(text: str) -> uuid.UUID | None:
    text = text.strip()
    return None if text in ("MINVALUE", "MAXVALUE") else uuid.UUID(text.strip("'"))


def is_partitioned(conn: psycopg.Connection) -> bool:
    row = conn.execute(RELKIND, (PARENT,)).fetchone()
    return row is not None and row[0] == "p"


def exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute(RELKIND, (name,)).fetchone() is not None


def parts(conn: psycopg.Connection) -> list[Part]:
    found = []
    for name, spec, pending in conn.execute(PARTS, (PARENT,)).fetchall():
        bounds = _BOUNDS.search(spec)
        if bounds is None:  # a DEFAULT partition: never made by us
            raise RuntimeError(f"{name} is a DEFAULT partition of decisions; detach it")
        found.append(Part(name, _bound(bounds[1]), _bound(bounds[2]), pending))
    return found


def legacy_parts(conn: psycopg.Connection) -> list[str]:
    return [p.name for p in parts(conn) if p.name in (LEGACY, LEGACY_HIGH)]


def v4_parts(conn: psycopg.Connection) -> list[str]:
    """The partitions that may hold version 4 ids: the legacy ones, and months a split of
    the high legacy partition moved some into (marked by a comment)."""
    marked = conn.execute(MARKED, (PARENT, MOVED)).fetchall()
    return legacy_parts(conn) + [name for (name,) in marked]


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def _make_table(conn: psycopg.Connection, name: str, lo: uuid.UUID, hi: uuid.UUID) -> None:
    conn.execute(
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (LIKE {} INCLUDING ALL)").format(
            _ident(name), _ident(PARENT)
        )
    )
    conn.execute(
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
            _ident(name), _ident(f"{name}_bounds")
        )
    )
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (id >= {} AND id < {})").format(
            _ident(name), _ident(f"{name}_bounds"), sql.Literal(lo), sql.Literal(hi)
        )
    )


def _attach(
    conn: psycopg.Connection, name: str, lo: uuid.UUID | None, hi: uuid.UUID | None
) -> None:
    low = sql.SQL("MINVALUE") if lo is None else sql.Literal(lo)
    high = sql.SQL("MAXVALUE") if hi is None else sql.Literal(hi)
    conn.execute(
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
            _ident(PARENT), _ident(name), low, high
        )
    )


def create_month(conn: psycopg.Connection, month: date) -> bool:
    """Make the month's partition (in the caller's transaction); False when it, or a legacy
    partition holding its whole range, is already there."""
    lo, hi = month_bound(month), month_bound(add_months(month, 1))
    found = [p for p in parts(conn) if p.overlaps(lo, hi)]
    if not found:
        _make_table(conn, month_name(month), lo, hi)
        _attach(conn, month_name(month), lo, hi)
        return True
    high = found[0].lower if [p.name for p in found] == [LEGACY_HIGH] else None
    if high is not None and high >= lo:
        _split_high(conn, month, lo, hi)
        return True
    if any(p.name == month_name(month) or p.name == LEGACY for p in found):
        return False
    raise RuntimeError(f"the range of {month:%Y-%m} overlaps {[p.name for p in found]}")


def _split_high(conn: psycopg.Connection, month: date, lo: uuid.UUID, hi: uuid.UUID) -> None:
    """Move the high legacy partition's rows of this month into the month's own partition,
    and attach the rest again from the month of its next lowest id (or drop it, empty). The
    new CHECK is validated before the parent is locked, so ATTACH need not scan."""
    name, high = month_name(month), _ident(LEGACY_HIGH)
    _make_table(conn, name, lo, hi)
    conn.execute(
        sql.SQL("WITH moved AS (DELETE FROM {} WHERE id < {} RETURNING *) "
                "INSERT INTO {} SELECT * FROM moved").format(high, sql.Literal(hi), _ident(name))
    )  # fmt: skip
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(_ident(name), sql.Literal(MOVED)))
    lower = _high_lower(conn)
    if lower is not None:
        _set_lower_check(conn, lower)
    conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(_ident(PARENT), high))
    _attach(conn, name, lo, hi)
    if lower is None:
        conn.execute(sql.SQL("DROP TABLE {}").format(high))
    else:
        _attach(conn, LEGACY_HIGH, lower, None)


def _high_lower(conn: psycopg.Connection) -> uuid.UUID | None:
    """The bound of the month of the high legacy table's lowest id; None when it is empty."""
    row = conn.execute(
        sql.SQL("SELECT id FROM {} ORDER BY id LIMIT 1").format(_ident(LEGACY_HIGH))
    ).fetchone()
    return None if row is None or row[0] is None else lower_bound(row[0])


def lower_bound(value: uuid.UUID) -> uuid.UUID:
    """The bound of the month holding this id; past the year 9999 (a tenth of version 4 ids
    read so, and no month there will ever be made) the id's own millisecond."""
    try:
        return month_bound(month_of_id(value))
    except (ValueError, OverflowError):
        return uuid.UUID(int=value.int >> 80 << 80)


def _set_lower_check(conn: psycopg.Connection, lower: uuid.UUID) -> None:
    high = _ident(LEGACY_HIGH)
    conn.execute(
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(high, _ident(LEGACY_CHECK))
    )
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (id >= {})").format(
            high, _ident(LEGACY_CHECK), sql.Literal(lower)
        )
    )


# Converting an unpartitioned table: three steps, each its own transaction, each rerunnable.


def convert_move(conn: psycopg.Connection, first: date) -> None:
    """Step 1: move the rows at or above `first`'s bound to the high legacy table (not yet
    attached, CHECKed from its lowest id's month) and forbid them in the old table (NOT VALID:
    no scan under this lock)."""
    old, high, bound = _ident(PARENT), _ident(LEGACY_HIGH), month_bound(first)
    conn.execute(
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(old, _ident(LEGACY_CHECK))
    )
    conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (LIKE {} INCLUDING ALL)").format(high, old))
    # a rerun in a later month: what an earlier run moved there may now belong below
    conn.execute(
        sql.SQL("WITH back AS (DELETE FROM {} WHERE id < {} RETURNING *) "
                "INSERT INTO {} SELECT * FROM back").format(high, sql.Literal(bound), old)
    )  # fmt: skip
    conn.execute(
        sql.SQL("WITH moved AS (DELETE FROM {} WHERE id >= {} RETURNING *) "
                "INSERT INTO {} SELECT * FROM moved ON CONFLICT (id) DO NOTHING").format(
            old, sql.Literal(bound), high)
    )  # fmt: skip
    lower = _high_lower(conn)
    if lower is None:
        conn.execute(sql.SQL("DROP TABLE {}").format(high))
    else:
        _set_lower_check(conn, lower)
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (id < {}) NOT VALID").format(
            old, _ident(LEGACY_CHECK), sql.Literal(bound)
        )
    )


def convert_validate(conn: psycopg.Connection) -> None:
    """Step 2: check the old table's rows against its bound (SHARE UPDATE EXCLUSIVE: a scan
    that blocks no reader or writer)."""
    conn.execute(
        sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
            _ident(PARENT), _ident(LEGACY_CHECK)
        )
    )


def convert_swap(conn: psycopg.Connection, first: date) -> None:
    """Step 3: the old table becomes the legacy partition under a new partitioned parent
    (catalog changes only: both ATTACHes are implied by validated CHECKs)."""
    legacy = _ident(LEGACY)
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(_ident(PARENT), legacy))
    for index in ("pkey", "created_idx"):
        conn.execute(
            sql.SQL("ALTER INDEX IF EXISTS {} RENAME TO {}").format(
                _ident(f"{PARENT}_{index}"), _ident(f"{LEGACY}_{index}")
            )
        )
    conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING STORAGE "
                "INCLUDING COMMENTS) PARTITION BY RANGE (id)").format(_ident(PARENT), legacy)
    )  # fmt: skip
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (id)").format(
            _ident(PARENT), _ident(f"{PARENT}_pkey")
        )
    )
    conn.execute(
        sql.SQL("CREATE INDEX {} ON {} (created_at)").format(
            _ident(f"{PARENT}_created_idx"), _ident(PARENT)
        )
    )
    _attach(conn, LEGACY, None, month_bound(first))
    if exists(conn, LEGACY_HIGH):
        lower = _high_lower(conn)
        _attach(conn, LEGACY_HIGH, lower, None)


def detach_month(conn: psycopg.Connection, name: str, *, concurrently: bool) -> None:
    """Detach a month (CONCURRENTLY only outside a transaction block: autocommit)."""
    how = sql.SQL(" CONCURRENTLY") if concurrently else sql.SQL("")
    conn.execute(
        sql.SQL("ALTER TABLE {} DETACH PARTITION {}{}").format(_ident(PARENT), _ident(name), how)
    )


def finalize_detach(conn: psycopg.Connection, name: str) -> None:
    """Complete a DETACH ... CONCURRENTLY that was interrupted in its second phase."""
    conn.execute(
        sql.SQL("ALTER TABLE {} DETACH PARTITION {} FINALIZE").format(_ident(PARENT), _ident(name))
    )


def drop_table(conn: psycopg.Connection, name: str) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_ident(name)))


def count_rows(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident(name))).fetchone()
    return int(row[0]) if row else 0
