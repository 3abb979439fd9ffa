"""API key management (command line only), each change with its audit event."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import psycopg

from api.errors import Invalid
from api.storage import audit
from api.storage.console import end_key_sessions
from api.storage.keys import ApiKey, create_key, revoke_key
from api.storage.people import get_person

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
    "scim",
    "admin",
)


def issue_key(
    conn: psycopg.Connection,
    name: str,
    scopes: list[str],
    actor: str,
    person_id: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, ApiKey]:
    """A new key; with `person_id` it is bound to that person and may act as no one else;
    with `expires_at` it is refused from then on."""
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
    if person_id is not None and get_person(conn, person_id) is None:
        raise Invalid("Unknown person.", {"person": [f"No person {person_id!r} in the registry."]})
    key, row = create_key(conn, name, sorted(set(scopes)), person_id, expires_at)
    payload: dict[str, object] = {"name": name, "scopes": row.scopes}
    if person_id is not None:
        payload["person_id"] = person_id
    if row.expires_at is not None:
        payload["expires_at"] = row.expires_at.astimezone(UTC).isoformat()
    audit.append_event(conn, "key.created", actor, f"key:{name}", payload)
    return key, row


def withdraw_key(conn: psycopg.Connection, name: str, actor: str) -> ApiKey:
    row = revoke_key(conn, name)
    end_key_sessions(conn, row.id)  # the join on api_keys already stops them; this tidies up
    audit.append_event(conn, "key.revoked", actor, f"key:{name}", {"name": name})
    return row


def expiry(text: str, now: datetime) -> datetime:
    """`--expires`: a number of days (`90d`) from now, or a date (`2027-03-31`: the key stops
    working at the start of that day, UTC). It must lie in the future."""
    text = text.strip()
    days = re.fullmatch(r"([0-9]{1,5})d", text)
    if days:
        at = now + timedelta(days=int(days.group(1)))
    else:
        try:
            at = datetime.combine(date.fromisoformat(text), time(), UTC)
        except ValueError:
            raise Invalid(
                "The expiry is not valid.",
                {"expires": [f"Give days such as 90d, or a date YYYY-MM-DD; not {text!r}."]},
            ) from None
    if at <= now:
        raise Invalid("The expiry is not valid.", {"expires": ["Must lie in the future."]})
    return at
