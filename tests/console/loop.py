"""Shared steps of the people-in-the-loop console tests: a submitted request, sign-ins as
people, and reading rows out of the pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from typing import Any

import psycopg
from flask import Flask
from flask.testing import FlaskClient
from psycopg.types.json import Jsonb

from tests.console.conftest import csrf_of, sign_in
from tests.http.conftest import deal

CELL = re.compile(r'<(?:td|th)[^>]*data-label="([^"]+)"[^>]*>(.*?)</(?:td|th)>', re.S)
TAG = re.compile(r"<[^>]+>")


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def plain(html: str) -> str:
    """Cell text without tags, <wbr> hints or doubled spaces."""
    return " ".join(unescape(TAG.sub("", html)).replace("\u200b", "").split())


def rows(html: str, table_id: str) -> list[dict[str, str]]:
    """The body rows of a card table as {column label: cell text}."""
    match = re.search(rf'<table[^>]* id="{table_id}"[^>]*>(.*?)</table>', html, re.S)
    assert match, f"no table #{table_id}"
    body = match.group(1).split("<tbody>", 1)[1]
    found = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = {label: plain(cell) for label, cell in CELL.findall(row)}
        if cells:
            found.append(cells)
    return found


def submit(
    client: FlaskClient, admin: dict[str, str], deal_id: str = "Q-1", **fields: Any
) -> dict[str, Any]:
    """am.jones asks for 18% (needs sales_director: sd.patel), unless told otherwise."""
    terms = {"discount_pct": "18", **fields}
    body = {"deal": deal(deal_id=deal_id, **terms), "requested_by": "am.jones"}
    response = client.post("/v1/approval-requests", json=body, headers=admin)
    assert response.status_code == 201, response.json
    return dict(response.json)


def person_client(app: Flask, key: str) -> FlaskClient:
    """A browser of its own (its own cookie jar), signed in with `key`."""
    client = app.test_client()
    response = sign_in(client, key)
    assert response.status_code == 302, text(response)
    return client


def post_form(client: FlaskClient, page_url: str, action_url: str, **form: str) -> Any:
    """POST a page's form as a browser does: with the CSRF token the page carries."""
    html = text(client.get(page_url))
    return client.post(action_url, data={"csrf_token": csrf_of(html), **form})


def plant(db: str, rid: str, due: datetime | None, escalated_to: str | None = None) -> None:
    """A step's due time, and an escalation written as the SLA scan writes it."""
    at = (due or datetime.now(UTC)).isoformat()
    escalations = [{"person_id": escalated_to, "at": at}] if escalated_to else []
    with psycopg.connect(db) as conn:
        conn.execute(
            "UPDATE approval_steps SET due_at = %s, escalations = %s WHERE request_id = %s",
            (due, Jsonb(escalations), rid),
        )
