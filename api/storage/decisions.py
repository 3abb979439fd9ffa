"""The decision log: every evaluation with its input, output and policy sha256 (not chained)."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from api.policy.decision import Decision
from api.policy.model import Policy

INSERT = """
INSERT INTO decisions (id, created_at, as_of, deal_id, requester_id, owner_id, input, output,
                       outcome, policy_sha256)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
POLICY = """
INSERT INTO policy_versions (sha256, name, version, status, file, source)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING
RETURNING sha256
"""


def log_decision(
    conn: psycopg.Connection, decision: Decision, as_of: date, request_body: dict[str, Any]
) -> None:
    """Store a preview. Previews may be lost in a database crash, so this commit need not wait."""
    conn.execute("SET LOCAL synchronous_commit = off")
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
            Jsonb(decision.as_dict()),
            decision.outcome.value,
            decision.policy.sha256,
        ),
    )


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
