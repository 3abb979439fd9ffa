"""Structured logs: JSON lines with the request id echoed in X-Request-Id, and no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.http.logs import JsonFormatter
from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")
SECRET_REASON = "Confidential: the customer threatened to walk at renewal."


@pytest.fixture()
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("dealdesk")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_request_id_is_echoed_and_logged(
    client: FlaskClient, admin: dict[str, str], log_lines: io.StringIO
) -> None:
    given = client.get("/v1/people", headers={**admin, "X-Request-Id": "cpq-123.abc"})
    assert given.headers["X-Request-Id"] == "cpq-123.abc"
    made = client.get("/v1/people", headers={**admin, "X-Request-Id": "bad id with spaces"})
    assert (
        len(made.headers["X-Request-Id"]) == 32
        and made.headers["X-Request-Id"] != "bad id with spaces"
    )
    lines = [e for e in entries(log_lines) if e["logger"] == "dealdesk.access"]
    assert [(e["request_id"], e["method"], e["path"], e["status"], e["key"]) for e in lines] == [
        ("cpq-123.abc", "GET", "/v1/people", 200, "admin"),
        (made.headers["X-Request-Id"], "GET", "/v1/people", 200, "admin"),
    ]
    assert all(isinstance(e["duration_ms"], float) and e["level"] == "info" for e in lines)


def test_secrets_and_justifications_never_reach_the_log(
    client: FlaskClient, admin: dict[str, str], log_lines: io.StringIO
) -> None:
    key = admin["Authorization"].split()[1]
    client.post(
        "/v1/overrides",
        headers=admin,
        json={
            "executive_id": "vp.garcia",
            "deal": deal(),
            "terms": {"discount_pct": "35"},
            "reason_code": "customer_retention",
            "justification": SECRET_REASON,
        },
    )
    client.get("/v1/people", headers={"Authorization": "Bearer ddk_wrong-key"})
    text = log_lines.getvalue()
    assert text.count('"logger": "dealdesk.access"') == 2
    for secret in (key, "ddk_wrong-key", "Bearer", SECRET_REASON):
        assert secret not in text


def test_errors_carry_the_request_id(client: FlaskClient, log_lines: io.StringIO) -> None:
    response = client.get("/v1/people", headers={"X-Request-Id": "r-401"})
    assert (response.status_code, response.headers["X-Request-Id"]) == (401, "r-401")
    assert entries(log_lines)[-1]["status"] == 401
