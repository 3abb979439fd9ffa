"""Structured logs: JSON lines with the request id echoed in X-Request-Id, and no secrets."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.http.logs import JsonFormatter, log_access
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


@pytest.mark.parametrize(
    ("request_id", "status", "seconds", "key", "remote"),
    [
        ("cpq-123.abc", 200, 0.0012345, "admin", "127.0.0.1"),
        ("r", 503, 0.0, None, None),
        ("r:2", 400, 12.3456789, 'a "quoted" key\\ with é, ✓ and a\ttab\n', "::1"),
        ("0123456789abcdef0123456789abcdef", 201, 1e-7, "\u2028line\u2029sep\x00", "10.0.0.1"),
    ],
    ids=["usual", "nulls", "escapes", "control characters"],
)
def test_the_one_write_access_line_is_the_formatters_line(
    request_id: str, status: int, seconds: float, key: str | None, remote: str | None
) -> None:
    """The preformatted line `serve` writes and the record our formatter writes carry the
    same bytes (the timestamp aside) for any value, quoted and escaped as json.dumps does."""
    from tests.http.test_fastlane import sole_handler

    with sole_handler() as one_write:
        log_access(request_id, "POST", "/v1/evaluations", status, seconds, key, remote)
    through_logging = io.StringIO()
    handler = logging.StreamHandler(through_logging)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("dealdesk")
    logger.addHandler(handler)  # beside pytest's handlers: an ordinary record
    try:
        log_access(request_id, "POST", "/v1/evaluations", status, seconds, key, remote)
    finally:
        logger.removeHandler(handler)
    lines = [one_write.getvalue(), through_logging.getvalue()]
    assert [text.count("\n") for text in lines] == [1, 1]
    stamp = re.compile(r'^\{"ts": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", ')
    assert all(stamp.match(text) for text in lines)
    assert stamp.sub("", lines[0]) == stamp.sub("", lines[1])
    assert json.loads(lines[0])["key"] == key and json.loads(lines[0])["remote"] == remote
    assert json.loads(lines[0])["duration_ms"] == round(seconds * 1000, 2)
