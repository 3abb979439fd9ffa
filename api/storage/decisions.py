"""The decision log: every evaluation and submission with its input, output, policy sha256
and the shadow policies' results beside it (not chained), plus the bytes of every policy."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

import orjson
import psycopg
from psycopg import pq, sql
from psycopg.types.json import Jsonb

from api.policy.decision import Decision
from api.policy.model import Policy
from api.storage import partitions

INSERT = """
INSERT INTO decisions (id, created_at, as_of, deal_id, requester_id, owner_id, input, output,
                       outcome, policy_sha256, kind, shadow)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
# Previews written in groups: one statement for many requests, the batch sent as one JSON
# document (no per-value escaping on our side). Read as jsonb, the document is parsed once:
# as json it was checked, split, and each row's input, output and shadow parsed again
# (bench/log_insert.py). A row is written only if the registry
# generation its evaluation relied on (see storage/registry.py) and the policy set's
# generation it was decided under (see storage/policy_sets.py) are both still current.
GUARDED_INSERT = """
INSERT INTO decisions (id, created_at, as_of, deal_id, requester_id, owner_id, input, output,
                       outcome, policy_sha256, kind, shadow)
SELECT d.id, d.created_at, d.as_of, d.deal_id, d.requester_id, d.owner_id, d.input, d.output,
       d.outcome, d.policy_sha256, 'evaluation', d.shadow
FROM jsonb_to_recordset(%s::jsonb) AS d(
    id uuid, created_at timestamptz, as_of date, deal_id text, requester_id text,
    owner_id text, input jsonb, output jsonb, outcome text, policy_sha256 text, shadow jsonb,
    generation bigint, policy_generation bigint)
WHERE d.generation = (SELECT n FROM registry_generation)
  AND d.policy_generation = (SELECT generation FROM policy_set)
RETURNING id
"""
# The bench's side-by-side run only (DEALDESK_BENCH_SKIP_POLICY_CHECK=1): no policy guard.
UNCHECKED_POLICY_INSERT = """
INSERT INTO decisions (id, created_at, as_of, deal_id, requester_id, owner_id, input, output,
                       outcome, policy_sha256, kind, shadow)
SELECT d.id, d.created_at, d.as_of, d.deal_id, d.requester_id, d.owner_id, d.input, d.output,
       d.outcome, d.policy_sha256, 'evaluation', d.shadow
FROM jsonb_to_recordset(%s::jsonb) AS d(
    id uuid, created_at timestamptz, as_of date, deal_id text, requester_id text,
    owner_id text, input jsonb, output jsonb, outcome text, policy_sha256 text, shadow jsonb,
    generation bigint, policy_generation bigint)
WHERE d.generation = (SELECT n FROM registry_generation)
RETURNING id
"""
POLICY = """
INSERT INTO policy_versions (sha256, name, version, status, file, source)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING
RETURNING sha256
"""
REPLAYABLE = "SELECT id, as_of, input, output, created_at FROM {} WHERE {}"
# Version 7 ids carry their time: a window's rows lie between two ids, and bounding the id
# prunes the scan to the window's monthly partitions. The margin covers a created_at that is
# not the id's millisecond (the session's time zone, a clock that moved). Version 4 ids (only
# in the legacy partitions) carry none and are found by created_at alone.
ID_MARGIN = timedelta(days=1)
IS_V7 = "get_byte(uuid_send(id), 6) >> 4 = 7"
AGREEMENT = """
SELECT s->>'sha256', count(*), count(*) FILTER (WHERE (s->>'agrees')::boolean)
FROM decisions, jsonb_array_elements(shadow) AS s
WHERE s->>'sha256' = ANY(%s)
GROUP BY 1
"""


def log_decision(
    conn: psycopg.Connection,
    decision: Decision,
    output: dict[str, Any],
    as_of: date,
    request_body: dict[str, Any],
    *,
    kind: str = "evaluation",
    shadow: list[dict[str, Any]] | None = None,
) -> None:
    """Log a decision; `output` is decision.as_dict(), built once by the caller, who also
    returns it."""
    conn.execute(
        INSERT,
        (
            decision.decision_id,
            decision.evaluated_at,
            as_of,
            request_body["deal"]["deal_id"],
            decision.requester.id,
            decision.owner.id,
            Jsonb(request_body),
            Jsonb(output),
            decision.outcome.value,
            decision.policy.sha256,
            kind,
            Jsonb(shadow or []),
        ),
    )


class Preview(NamedTuple):
    """One logged evaluation, its JSON already serialised (the response's own bytes)."""

    id: uuid.UUID
    created_at: datetime
    as_of: date
    deal_id: str
    requester_id: str
    owner_id: str
    input: bytes
    output: bytes
    outcome: str
    policy_sha256: str
    shadow: bytes
    generation: int
    policy_generation: int


def insert_previews(
    conn: psycopg.Connection, previews: Sequence[Preview], *, check_policy: bool = True
) -> set[uuid.UUID]:
    """Insert previews in one statement; returns the ids written (a row whose registry or
    policy generation is no longer current is not)."""
    return insert_rows(conn, [preview_row(p) for p in previews], check_policy=check_policy)


def preview_row(preview: Preview) -> bytes:
    """One preview as the JSON object the guarded insert reads (what the decision-log writer
    process receives from a worker)."""
    return orjson.dumps(
        {
            **preview._asdict(),
            "input": orjson.Fragment(preview.input),
            "output": orjson.Fragment(preview.output),
            "shadow": orjson.Fragment(preview.shadow),
        }
    )


def insert_rows(
    conn: psycopg.Connection, rows: Sequence[bytes], *, check_policy: bool = True
) -> set[uuid.UUID]:
    """`insert_previews` for rows already serialised by `preview_row`."""
    statement = GUARDED_INSERT if check_policy else UNCHECKED_POLICY_INSERT
    return {row[0] for row in conn.execute(statement, (_document(rows).decode(),)).fetchall()}


def _document(rows: Sequence[bytes]) -> bytes:
    """The JSON array the guarded insert reads its rows from (one document, no escaping)."""
    return b"[" + b",".join(rows) + b"]"


PREPARED = b"dealdesk_insert_rows"


def prepare_rows(conn: psycopg.Connection, *, check_policy: bool = True) -> None:
    """Prepare the guarded insert on this connection for `insert_rows_prepared`."""
    statement = GUARDED_INSERT if check_policy else UNCHECKED_POLICY_INSERT
    _check(conn.pgconn.prepare(PREPARED, statement.replace("%s", "$1").encode()), conn)


def insert_rows_prepared(conn: psycopg.Connection, rows: Sequence[bytes]) -> set[uuid.UUID]:
    """`insert_rows` through libpq directly, on an autocommit connection `prepare_rows` has
    prepared: the decision-log writer's path, where psycopg's per-statement work (cursor,
    adaptation, a row object per id) costs more than the statement itself."""
    result = _check(conn.pgconn.exec_prepared(PREPARED, [_document(rows)]), conn)
    return {uuid.UUID(result.get_value(i, 0).decode()) for i in range(result.ntuples)}


def _check(result: Any, conn: psycopg.Connection) -> Any:
    """Raise what psycopg would for a failed libpq call (DataError for a value PostgreSQL
    refused, OperationalError for a lost connection)."""
    if result.status in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        return result
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    message = (result.error_message or conn.pgconn.error_message).decode(errors="replace")
    if state is None:
        raise psycopg.OperationalError(message.strip() or "the connection failed")
    raise psycopg.errors.lookup(state.decode())(message.strip())


def replayable(
    conn: psycopg.Connection, start: date | None, end: date | None
) -> Iterator[tuple[Any, ...]]:
    """(id, as_of, input, output) of logged decisions, oldest first, streamed."""
    with conn.cursor(name="decision_replay") as cur:
        cur.itersize = 2000
        cur.execute(replay_query(conn, start, end))
        for row in cur:
            yield row[:4]


def replay_query(conn: psycopg.Connection, start: date | None, end: date | None) -> sql.Composed:
    """The window's decisions: version 7 rows by id bounds (pruned), legacy version 4 rows by
    created_at in the legacy partitions only."""
    window: list[sql.Composable] = [sql.SQL("true")]
    if start is not None:
        window.append(sql.SQL("created_at >= {}::date").format(sql.Literal(start)))
    if end is not None:
        window.append(sql.SQL("created_at < {}::date + 1").format(sql.Literal(end)))
    if start is None and end is None:
        return sql.SQL(REPLAYABLE + " ORDER BY created_at, id").format(
            sql.Identifier("decisions"), sql.SQL("true")
        )
    bounded = [*window, sql.SQL(IS_V7)]
    if start is not None:
        low = datetime.combine(start, time(), UTC) - ID_MARGIN
        bounded.append(sql.SQL("id >= {}").format(sql.Literal(partitions.id_at(low))))
    if end is not None:
        high = datetime.combine(end, time(), UTC) + timedelta(days=1) + ID_MARGIN
        bounded.append(sql.SQL("id < {}").format(sql.Literal(partitions.id_at(high))))
    branches = [
        sql.SQL(REPLAYABLE).format(sql.Identifier("decisions"), sql.SQL(" AND ").join(bounded))
    ]
    old = [*window, sql.SQL("NOT " + IS_V7)]
    for legacy in partitions.v4_parts(conn):
        branches.append(
            sql.SQL(REPLAYABLE).format(sql.Identifier(legacy), sql.SQL(" AND ").join(old))
        )
    return sql.SQL(" UNION ALL ").join(branches) + sql.SQL(" ORDER BY 5, 1")


def agreement(conn: psycopg.Connection, shas: list[str]) -> dict[str, tuple[int, int]]:
    """sha256 -> (decisions seen beside the active policy, of which agreed)."""
    return {row[0]: (row[1], row[2]) for row in conn.execute(AGREEMENT, (shas,)).fetchall()}


def store_policy_version(conn: psycopg.Connection, policy: Policy) -> bool:
    """Keep the exact bytes of a policy; True when this sha256 is new."""
    row = conn.execute(
        POLICY,
        (
            policy.sha256,
            policy.name,
            policy.version,
            policy.status.value,
            policy.file,
            policy.source,
        ),
    ).fetchone()
    return row is not None
