"""JSON responses built from plain dicts (decimals already strings), and opaque cursors."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Response

from api.errors import NotFound
from api.http.problems import HttpProblem


def reply(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status=status,
        mimetype="application/json",
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def json_reply(body: bytes, status: int = 200) -> Response:
    """A response whose JSON is already serialised (the bytes the decision log keeps too)."""
    return Response(body, status=status, mimetype="application/json")


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(text: str | None, *kinds: type) -> list[Any] | None:
    """The values behind a cursor, each of the expected type; 422 naming `cursor` otherwise."""
    if text is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != len(kinds)
        or not all(_fits(v, kind) for v, kind in zip(values, kinds, strict=True))
    ):
        raise HttpProblem(
            422,
            "validation-error",
            "The request parameters are not valid.",
            {"cursor": ["Not a cursor returned by this endpoint."]},
        )
    return values


def id_after(query: Mapping[str, Any]) -> int:
    """The id a page of id-ordered rows resumes after: the cursor's, or 0 on the first page."""
    cursor = decode_cursor(query.get("cursor"), int)
    return int(cursor[0]) if cursor else 0


def next_id_cursor(rows: Sequence[Any], limit: int) -> str | None:
    """The cursor after a page read as limit + 1 rows: the last shown row's id, if more follow."""
    return encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None


def _fits(value: Any, kind: type) -> bool:
    if kind is int:
        return type(value) is int and 0 <= value < 2**63
    return isinstance(value, kind) and (not isinstance(value, str) or len(value) <= 256)


def resource_id(text: str, what: str) -> uuid.UUID:
    """A path id; one that is not a UUID names no resource, so it is a 404, not a 422."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(f"No {what} {text!r}.") from None
