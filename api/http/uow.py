"""One transaction per request: the idempotency wrapper opens it, views join it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import psycopg
from flask import Response, g, request

from api.http.auth import current_key
from api.http.context import runtime
from api.http.problems import HttpProblem
from api.storage import idempotency
from api.storage.database import transaction

F = TypeVar("F", bound=Callable[..., Any])
REPLAYED_HEADERS = ("Content-Type", "ETag", "Location")
IDEMPOTENCY_PARAM = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Retry-safe key: the first 2xx response is replayed for 48 hours.",
}


@contextmanager
def unit_of_work() -> Iterator[psycopg.Connection]:
    """The request's transaction: the one the idempotency wrapper opened, or a new one."""
    conn = g.get("uow")
    if conn is not None:
        yield conn
        return
    with transaction(runtime().pool) as conn:
        yield conn


@contextmanager
def replica_read() -> Iterator[psycopg.Connection]:
    """A read-only transaction for finance reads that tolerate replica lag (override lists,
    CSV, summary, reports): on DATABASE_READ_URL when set, else on the primary."""
    with transaction(runtime().reads) as conn:
        yield conn


def idempotent(view: F) -> F:
    """Honour `Idempotency-Key`: the first 2xx response is stored in the same transaction as
    the change and replayed exactly; the same key with another body is a 422."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        if not 1 <= len(key) <= 255:
            raise HttpProblem(
                422,
                "validation-error",
                "The Idempotency-Key header is not valid.",
                {"Idempotency-Key": ["Must be 1 to 255 characters."]},
            )
        api_key = current_key()
        with transaction(runtime().pool) as conn:
            fingerprint = _fingerprint()
            first = idempotency.claim(
                conn, api_key.id, key, request.method, request.path, fingerprint
            )
            if first is not None:
                return _replay(first, fingerprint)
            g.uow = conn
            try:
                response = view(*args, **kwargs)
            finally:
                g.uow = None
            if 200 <= response.status_code < 300:
                headers = {
                    h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers
                }
                idempotency.save(
                    conn, api_key.id, key, response.status_code, headers, response.get_data()
                )
            return response

    return wrapper  # type: ignore[return-value]


def _fingerprint() -> str:
    raw = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = raw
    return hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + canonical
    ).hexdigest()


def _replay(first: idempotency.Stored, fingerprint: str) -> Response:
    if first.body_sha256 != fingerprint or first.status is None:
        raise HttpProblem(
            422,
            "idempotency-key-reused",
            "This Idempotency-Key was used with a different request; use a new key.",
            {"Idempotency-Key": ["Already used with a different body or endpoint."]},
        )
    response = Response(first.body, status=first.status)
    for name, value in (first.headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response
