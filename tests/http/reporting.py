"""Helpers for the report tests: business dates, submissions, actions and report reads."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.http.conftest import deal

WHY = "Competitor matched our price at quarter end."


def on(app: Flask, day: str) -> None:
    """Move the business date (DEALDESK_TODAY) of the running app."""
    runtime = app.extensions["dealdesk"]
    runtime.settings = dataclasses.replace(runtime.settings, today=date.fromisoformat(day))


def submit(
    client: FlaskClient, headers: dict[str, str], deal_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "deal": deal(deal_id=deal_id, **fields),
        "requested_by": fields.get("owner_id", "am.jones"),
    }
    response = client.post("/v1/approval-requests", headers=headers, json=body)
    assert response.status_code == 201, response.json
    return dict(response.json)


def act(
    client: FlaskClient, headers: dict[str, str], rid: str, action: str, approver: str
) -> dict[str, Any]:
    body = {"approver_id": approver, "comment": "Try a longer term before a deeper discount."}
    response = client.post(f"/v1/approval-requests/{rid}/{action}", headers=headers, json=body)
    assert response.status_code == 200, response.json
    return dict(response.json)


def revise(
    client: FlaskClient, headers: dict[str, str], rid: str, deal_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "deal": deal(deal_id=deal_id, **fields),
        "requested_by": fields.get("owner_id", "am.jones"),
    }
    response = client.post(f"/v1/approval-requests/{rid}/revise", headers=headers, json=body)
    assert response.status_code == 200, response.json
    return dict(response.json)


def withdraw(
    client: FlaskClient, headers: dict[str, str], rid: str, reason_code: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"requested_by": "am.jones", "reason": "The customer said no."}
    if reason_code is not None:
        body["reason_code"] = reason_code
    response = client.post(f"/v1/approval-requests/{rid}/withdraw", headers=headers, json=body)
    assert response.status_code == 200, response.json
    return dict(response.json)


def override(
    client: FlaskClient,
    headers: dict[str, str],
    executive: str,
    terms: dict[str, Any],
    **subject: Any,
) -> dict[str, Any]:
    body = {
        "executive_id": executive,
        "terms": terms,
        "reason_code": "competitive_displacement",
        "justification": WHY,
        **subject,
    }
    response = client.post("/v1/overrides", headers=headers, json=body)
    assert response.status_code == 201, response.json
    return dict(response.json)


def report(client: FlaskClient, headers: dict[str, str], path: str) -> dict[str, Any]:
    response = client.get(f"/v1/reports/{path}", headers=headers)
    assert response.status_code == 200, response.json
    assert response.mimetype == "application/json"
    return dict(response.json)


def items(client: FlaskClient, headers: dict[str, str], path: str) -> list[dict[str, Any]]:
    return list(report(client, headers, path)["items"])


def csv_rows(client: FlaskClient, headers: dict[str, str], path: str) -> list[dict[str, str]]:
    response = client.get(f"/v1/reports/{path}", headers={**headers, "Accept": "text/csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def flat(item: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A JSON item as the CSV writes it: nested objects dotted, null empty, booleans lower."""
    row: dict[str, str] = {}
    for name, value in item.items():
        if isinstance(value, dict):
            row.update(flat(value, f"{prefix}{name}."))
        elif value is None:
            row[f"{prefix}{name}"] = ""
        elif isinstance(value, bool):
            row[f"{prefix}{name}"] = "true" if value else "false"
        else:
            row[f"{prefix}{name}"] = str(value)
    return row
