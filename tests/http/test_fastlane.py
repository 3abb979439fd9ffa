"""The fast lane for POST /v1/evaluations answers exactly what Flask answers: the same status,
headers and body for every request in the table, served by the lane when it can vouch for it
and by Flask otherwise; the access line and the metrics match too."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from flask import Flask
from psycopg_pool import ConnectionPool
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Response

from api.app import create_app
from api.config import Settings
from api.http.fastlane import FastLane
from api.http.logs import JsonFormatter
from api.metrics import shared
from api.policy.loader import PolicySet
from api.service.keys import issue_key
from api.storage.database import transaction
from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")
VOLATILE = ("decision_id", "evaluated_at")


class Counted:
    """Flask behind the lane, counting the requests the lane passed to it."""

    def __init__(self, inner: Callable[..., Iterable[bytes]]) -> None:
        self.inner, self.calls = inner, 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.calls += 1
        return self.inner(environ, start_response)


@pytest.fixture()
def both(settings: Settings, pool: ConnectionPool, shipped: PolicySet) -> tuple[Flask, Flask]:
    lane = create_app(settings, pool=pool, policy_set=shipped)
    plain = create_app(
        dataclasses.replace(settings, fast_lane=False), pool=pool, policy_set=shipped
    )
    assert isinstance(lane.wsgi_app, FastLane) and not isinstance(plain.wsgi_app, FastLane)
    lane.wsgi_app.inner = Counted(lane.wsgi_app.inner)
    return lane, plain


@pytest.fixture()
def keys(pool: ConnectionPool) -> dict[str, str]:
    made = {}
    with transaction(pool) as conn:
        for name, scopes, person in (
            ("evaluator", ["evaluate"], None),
            ("reader", ["audit:read"], None),
            ("bound-jones", ["evaluate"], "am.jones"),
            ("revoked", ["evaluate"], None),
        ):
            made[name], _ = issue_key(conn, name, scopes, "test", person)
        conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'revoked'")
    return made


def ask(**fields: Any) -> bytes:
    body = {"deal": deal(**fields), "requested_by": fields.pop("requested_by", "am.jones")}
    return json.dumps(body).encode()


JSON = "application/json"
# (case, headers beyond the key's, body, key name or None, served by the lane)
CASES: list[tuple[str, dict[str, str], bytes, str | None, bool]] = [
    ("approved", {"Content-Type": JSON}, ask(discount_pct="5"), "evaluator", True),
    ("needs approval", {"Content-Type": JSON}, ask(discount_pct="18"), "evaluator", True),
    ("beyond policy", {"Content-Type": JSON}, ask(discount_pct="60"), "evaluator", True),
    (
        "request id and charset",
        {"Content-Type": "application/json; charset=utf-8", "X-Request-Id": "cpq-7.a"},
        ask(discount_pct="18"),
        "evaluator",
        True,
    ),
    (
        "as of a date",
        {"Content-Type": JSON},
        json.dumps(
            {"deal": deal(discount_pct="12"), "requested_by": "am.jones", "as_of": "2026-12-30"}
        ).encode(),
        "evaluator",
        True,
    ),
    ("bound key as its person", {"Content-Type": JSON}, ask(discount_pct="5"), "bound-jones", True),
    (
        "bound key as another",
        {"Content-Type": JSON},
        json.dumps({"deal": deal(discount_pct="5"), "requested_by": "am.kim"}).encode(),
        "bound-jones",
        False,
    ),
    ("no key", {"Content-Type": JSON}, ask(), None, False),
    ("revoked key", {"Content-Type": JSON}, ask(), "revoked", False),
    ("missing scope", {"Content-Type": JSON}, ask(), "reader", False),
    ("not JSON", {"Content-Type": "text/plain"}, ask(), "evaluator", False),
    ("problem accept", {"Content-Type": JSON, "Accept": JSON}, b"{", "evaluator", False),
    ("malformed", {"Content-Type": JSON}, b'{"deal": ', "evaluator", False),
    ("duplicate key", {"Content-Type": JSON}, b'{"deal": {}, "deal": {}}', "evaluator", False),
    (
        "unknown field",
        {"Content-Type": JSON},
        ask(discount_pct="5", colour="red"),
        "evaluator",
        False,
    ),
    ("wrong currency", {"Content-Type": JSON}, ask(currency="EUR"), "evaluator", False),
    ("unknown owner", {"Content-Type": JSON}, ask(owner_id="nobody"), "evaluator", False),
    ("bad decimal", {"Content-Type": JSON}, ask(discount_pct="1e400"), "evaluator", False),
    ("too large", {"Content-Type": JSON}, b" " * (1024 * 1024 + 1), "evaluator", False),
]


def answer(
    app: Flask,
    headers: dict[str, str],
    body: bytes,
    key: str | None,
    method: str = "POST",
    path: str = "/v1/evaluations",
) -> tuple[int, dict[str, str], Any]:
    sent = dict(headers)
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    response = Client(app).open(path, method=method, headers=sent, data=body)
    got = dict(response.headers)
    if "X-Request-Id" not in headers:
        assert len(got.pop("X-Request-Id")) == 32
    content = response.get_data()
    parsed = json.loads(content) if content else None
    if isinstance(parsed, dict):
        for name in VOLATILE:
            parsed.pop(name, None)
    return response.status_code, got, parsed


@pytest.mark.parametrize(
    ("case", "headers", "body", "key", "lane"), CASES, ids=[c[0] for c in CASES]
)
def test_the_lane_answers_what_flask_answers(
    both: tuple[Flask, Flask],
    keys: dict[str, str],
    case: str,
    headers: dict[str, str],
    body: bytes,
    key: str | None,
    lane: bool,
) -> None:
    fast, plain = both
    token = keys[key] if key else None
    expected = answer(plain, headers, body, token)
    got = answer(fast, headers, body, token)
    assert got == expected
    assert fast.wsgi_app.inner.calls == (0 if lane else 1)  # type: ignore[attr-defined]


def test_other_methods_and_paths_go_to_flask(
    both: tuple[Flask, Flask], keys: dict[str, str]
) -> None:
    fast, plain = both
    token = keys["evaluator"]
    for method, path in (
        ("GET", "/v1/evaluations"),
        ("POST", "/v1/evaluations/"),
        ("POST", "/v1/evaluations2"),
    ):
        assert answer(fast, {"Content-Type": JSON}, ask(), token, method, path) == answer(
            plain, {"Content-Type": JSON}, ask(), token, method, path
        )
    assert fast.wsgi_app.inner.calls == 3  # type: ignore[attr-defined]


@contextlib.contextmanager
def sole_handler() -> Iterator[io.StringIO]:
    """Our JSON handler as the only one, as `serve` has it: the one-write path (entered in
    the test itself: pytest adds its capture handlers for the call)."""
    root = logging.getLogger("dealdesk")
    kept = root.handlers[:]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.dealdesk_json = True  # type: ignore[attr-defined]
    root.handlers = [handler]
    try:
        yield stream
    finally:
        root.handlers = kept


@pytest.mark.parametrize("sole", [True, False], ids=["one write", "log record"])
def test_the_access_line_and_the_metrics_match(
    both: tuple[Flask, Flask], keys: dict[str, str], sole: bool
) -> None:
    if sole:
        with sole_handler() as stream:
            _access_line_and_metrics_match(both, keys, stream)
    else:  # beside other handlers, through the logging module, with the same fields
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
        logging.getLogger("dealdesk").addHandler(handler)
        try:
            _access_line_and_metrics_match(both, keys, stream)
        finally:
            logging.getLogger("dealdesk").removeHandler(handler)


def _access_line_and_metrics_match(
    both: tuple[Flask, Flask], keys: dict[str, str], sole_handler: io.StringIO
) -> None:
    fast, plain = both
    series = shared()

    def counts() -> tuple[float, float]:
        requests = series.requests.labels("/v1/evaluations", "POST", "200")._value.get()
        decisions = series.decisions.labels("needs_approval", "evaluation")._value.get()
        return requests, decisions

    before = counts()
    for app in (plain, fast):
        answer(
            app,
            {"Content-Type": JSON, "X-Request-Id": "r-1"},
            ask(discount_pct="18"),
            keys["evaluator"],
        )
    after = counts()
    assert (after[0] - before[0], after[1] - before[1]) == (2, 2)
    lines = [json.loads(line) for line in sole_handler.getvalue().splitlines()]
    access = [e for e in lines if e["logger"] == "dealdesk.access"]
    assert len(access) == 2
    for entry in access:
        assert isinstance(entry.pop("duration_ms"), float)
        entry.pop("ts")
    assert (
        access[0]
        == access[1]
        == {
            "level": "info",
            "logger": "dealdesk.access",
            "message": "request",
            "request_id": "r-1",
            "method": "POST",
            "path": "/v1/evaluations",
            "status": 200,
            "key": "evaluator",
            "remote": None,
        }
    )
    assert list(json.loads(sole_handler.getvalue().splitlines()[-1])) == [
        "ts",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "path",
        "status",
        "duration_ms",
        "key",
        "remote",
    ]


def test_a_body_shorter_than_its_length_is_flasks_to_refuse(
    both: tuple[Flask, Flask], keys: dict[str, str]
) -> None:
    answers = []
    for app in both:
        body = ask(discount_pct="5")
        environ = EnvironBuilder(
            path="/v1/evaluations",
            method="POST",
            headers={"Authorization": f"Bearer {keys['evaluator']}"},
            content_type=JSON,
            input_stream=io.BytesIO(body[:20]),
            content_length=len(body),
        ).get_environ()
        response = Response.from_app(app, environ)
        answers.append((response.status_code, response.get_json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 400
    assert both[0].wsgi_app.inner.calls == 1  # type: ignore[attr-defined]
