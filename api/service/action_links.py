"""One-click action links (DESIGN section 14): open one (read only, since mail scanners fetch
links) and act through one, as its person, with every check of the API."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import psycopg

from api.errors import NotFound
from api.service import request_actions as actions
from api.service import request_records as records
from api.service.context import Context
from api.storage import action_links as links
from api.storage.action_links import Link
from api.storage.requests import RequestRecord
from api.workflow.machine import current_step
from api.workflow.states import Action

LIFETIME = timedelta(hours=72)
VIA = "email_link"


class Gone(StrEnum):
    USED = "used"
    EXPIRED = "expired"
    NOT_PENDING = "not_pending"


@dataclass(frozen=True, slots=True)
class Opened:
    link: Link
    record: RequestRecord
    gone: Gone | None


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def issue(
    conn: psycopg.Connection,
    notification_id: int | None,
    request_id: uuid.UUID,
    step_seq: int,
    person_id: str,
    issued_for: datetime,
) -> str:
    """A fresh link for one person and step; returns the token (stored only hashed)."""
    token = new_token()
    links.issue(conn, token, notification_id, request_id, step_seq, person_id, issued_for)
    return token


def open_link(conn: psycopg.Connection, token: str, now: datetime, *, lock: bool = False) -> Opened:
    """The link and its request, and why it is dead if it is. Writes nothing."""
    link = links.find(conn, token, lock=lock) if 20 <= len(token) <= 128 else None
    if link is None:
        raise NotFound("This link is not one we sent, or it was mistyped.")
    record = records.find(conn, link.request_id, lock=lock)
    return Opened(link, record, _gone(conn, link, record, now))


def _gone(
    conn: psycopg.Connection, link: Link, record: RequestRecord, now: datetime
) -> Gone | None:
    if link.used_at is not None:
        return Gone.USED
    if now - link.created_at > LIFETIME:
        return Gone.EXPIRED
    if current_step(record.request_state, record.steps) != link.step_seq:
        return Gone.NOT_PENDING
    if links.revised_since(conn, record.id, link.issued_for):
        return Gone.NOT_PENDING
    return None


def act(
    conn: psycopg.Connection,
    ctx: Context,
    opened: Opened,
    action: Action,
    comment: str | None,
    if_match: int | None,
) -> RequestRecord:
    """Act as the link's person (the API's 403, 409 and 412 apply), then spend the link."""
    updated = actions.act_on(
        conn, ctx, opened.record, action, opened.link.person_id, comment, if_match, via=VIA
    )
    links.mark_used(conn, opened.link, ctx.now)
    return updated
