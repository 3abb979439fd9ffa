"""API key management (command line only), each change with its audit event."""

from __future__ import annotations

import psycopg

from api.errors import Invalid
from api.storage import audit
from api.storage.keys import ApiKey, create_key, revoke_key

SCOPES = (
    "evaluate",
    "requests",
    "approvals",
    "overrides",
    "audit:read",
    "audit:review",
    "people",
    "policies",
    "webhooks",
    "metrics",
    "admin",
)


def issue_key(
    conn: psycopg.Connection, name: str, scopes: list[str], actor: str
) -> tuple[str, ApiKey]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise Invalid(
            "Unknown scopes.",
            {
                "scopes": [
                    f"Choose from {', '.join(SCOPES)}; "
                    f"unknown: {', '.join(unknown) or '(none given)'}"
                ]
            },
        )
    if not name.strip():
        raise Invalid("A key needs a name.", {"name": ["Must not be empty."]})
    key, row = create_key(conn, name, sorted(set(scopes)))
    audit.append_event(
        conn, "key.created", actor, f"key:{name}", {"name": name, "scopes": row.scopes}
    )
    return key, row


def withdraw_key(conn: psycopg.Connection, name: str, actor: str) -> ApiKey:
    row = revoke_key(conn, name)
    audit.append_event(conn, "key.revoked", actor, f"key:{name}", {"name": name})
    return row
