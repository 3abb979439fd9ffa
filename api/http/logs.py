"""Structured JSON logs: one access line per request and the app's own lines, each carrying
the request id that is echoed in `X-Request-Id`. Keys, Authorization headers and request
bodies (justifications, notes) are never logged."""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access = logging.getLogger("dealdesk.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return _dumps(entry)


def _dumps(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False)


def configure() -> None:
    """JSON lines on stderr for every dealdesk logger (idempotent)."""
    root = logging.getLogger("dealdesk")
    if any(getattr(h, "dealdesk_json", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.dealdesk_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False


def install(app: Flask) -> None:
    configure()
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    g.request_id = request_id_of(request.headers.get("X-Request-Id", ""))
    g.started = time.perf_counter()


def _finish(response: Response) -> Response:
    request_id = g.get("request_id") or request_id_of("")
    response.headers["X-Request-Id"] = request_id
    key = g.get("api_key")
    log_access(
        request_id,
        request.method,
        request.path,
        response.status_code,
        time.perf_counter() - g.get("started", time.perf_counter()),
        key.name if key is not None else None,
        request.remote_addr,
    )
    return response


def request_id_of(incoming: str) -> str:
    """The client's X-Request-Id when it is a sane one, else a new id."""
    return incoming if REQUEST_ID.match(incoming) else secrets.token_hex(16)


def log_access(
    request_id: str,
    method: str,
    path: str,
    status: int,
    seconds: float,
    key: str | None,
    remote: str | None,
) -> None:
    """The access line. With only our own stderr handler in place (how `serve` runs), it is
    one preformatted write, without a LogRecord and the logging module's walk; any other
    arrangement (a test's handler, an operator's config) gets an ordinary log record."""
    if not access.isEnabledFor(logging.INFO):
        return
    duration_ms = round(seconds * 1000, 2)
    handler = _sole_handler()
    if handler is None:
        fields = {
            "request_id": request_id,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "key": key,
            "remote": remote,
        }
        access.info("request", extra={"fields": fields})
        return
    line = _ACCESS_LINE % (
        datetime.now(UTC).isoformat(timespec="milliseconds"),
        _quote(request_id),
        _quote(method),
        _quote(path),
        status,
        duration_ms,
        "null" if key is None else _quote(key),
        "null" if remote is None else _quote(remote),
    )
    with handler.lock:  # type: ignore[union-attr]
        handler.stream.write(line)
        handler.stream.flush()


_ACCESS_LINE = (
    '{"ts": "%s", "level": "info", "logger": "dealdesk.access", "message": "request", '
    '"request_id": %s, "method": %s, "path": %s, "status": %d, "duration_ms": %r, '
    '"key": %s, "remote": %s}\n'
)
"""What `JsonFormatter` writes for an access record, with the strings quoted as `json.dumps`
quotes them and the float as its repr (json's own rule): tests/http/test_logs.py holds the
two to the same bytes."""
_quote: Callable[[str], str] = encode_basestring  # json.dumps(text, ensure_ascii=False)


def _sole_handler() -> logging.StreamHandler | None:  # type: ignore[type-arg]
    """Our JSON stderr handler, when it is the only place an access record would go."""
    root = access.parent
    if access.handlers or root is None or root.propagate or len(root.handlers) != 1:
        return None
    handler = root.handlers[0]
    if not getattr(handler, "dealdesk_json", False) or handler.filters or root.filters:
        return None
    if handler.level > logging.INFO:
        return None
    return handler  # type: ignore[return-value]
