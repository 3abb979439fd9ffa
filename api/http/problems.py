"""problem+json: the one error shape every response uses, and the mapping from domain errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask, Response, has_request_context, request
from werkzeug.exceptions import HTTPException

from api.errors import (
    Conflict,
    DealdeskError,
    Forbidden,
    Invalid,
    InvalidPolicy,
    NotFound,
    PreconditionFailed,
    Refused,
    Unavailable,
)
from api.identity.scim_error import error_document

log = logging.getLogger("dealdesk.http")

PROBLEM_JSON = "application/problem+json"
SCIM_JSON = "application/scim+json"
SCIM_PREFIX = "/scim/"
# SCIM's scimType for the refusals the shared handlers make (RFC 7644 3.12)
SCIM_TYPES = {"malformed-json": "invalidSyntax", "validation-error": "invalidValue"}
JSON = "application/json"
RETRY_AFTER_S = "5"

DOMAIN_STATUS: dict[type[DealdeskError], tuple[int, str]] = {
    NotFound: (404, "not-found"),
    Invalid: (422, "validation-error"),
    InvalidPolicy: (422, "invalid-policy"),
    Refused: (422, "refused"),
    Forbidden: (403, "forbidden"),
    Conflict: (409, "conflict"),
    PreconditionFailed: (412, "precondition-failed"),
    Unavailable: (503, "unavailable"),
}


class HttpProblem(Exception):
    """An HTTP-level refusal raised by the http layer itself (auth, body parsing)."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        errors: Mapping[str, Sequence[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.errors = {k: list(v) for k, v in (errors or {}).items()}
        self.headers = dict(headers or {})


def problem(
    status: int,
    slug: str,
    detail: str,
    errors: Mapping[str, Sequence[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    if has_request_context() and request.path.startswith(SCIM_PREFIX):
        return scim_problem(status, slug, detail, errors, headers)
    body: dict[str, Any] = {
        "type": f"urn:dealdesk:problem:{slug}",
        "title": _title(status),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = {k: list(v) for k, v in errors.items()}
    return _respond(body, status, problem_media_type(), headers)


def scim_problem(
    status: int,
    slug: str,
    detail: str,
    errors: Mapping[str, Sequence[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The same refusal in SCIM's Error shape: SCIM has no 422, so a body it refuses is 400."""
    if status == 422:
        status = 400
    named = "; ".join(f"{k}: {' '.join(v)}" for k, v in (errors or {}).items())
    body = error_document(status, f"{detail} {named}" if named else detail, SCIM_TYPES.get(slug))
    return _respond(body, status, SCIM_JSON, headers)


def _respond(
    body: dict[str, Any], status: int, mimetype: str, headers: Mapping[str, str] | None
) -> Response:
    """An error document as the response, with the refusal's headers (Allow, Retry-After)."""
    response = Response(json.dumps(body), status=status, mimetype=mimetype)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def problem_media_type() -> str:
    """application/json for a client whose Accept names it and not problem+json (Salesforce
    External Services, some CPQ tools); the body is the same problem document either way."""
    if not has_request_context():
        return PROBLEM_JSON
    named = {kind for kind, quality in request.accept_mimetypes if quality > 0}
    if JSON in named and PROBLEM_JSON not in named:
        return JSON
    return PROBLEM_JSON


def register(app: Flask) -> None:
    """Install the handlers; after this no exception reaches a client as a stack trace."""
    app.register_error_handler(HttpProblem, _http_problem)
    app.register_error_handler(DealdeskError, _domain)
    app.register_error_handler(HTTPException, _werkzeug)
    app.register_error_handler(Exception, _unexpected)


def _http_problem(exc: HttpProblem) -> Response:
    return problem(exc.status, exc.slug, exc.detail, exc.errors, exc.headers)


def _domain(exc: DealdeskError) -> Response:
    status, slug = next(
        (v for k, v in DOMAIN_STATUS.items() if isinstance(exc, k)), (422, "refused")
    )
    headers = {"Retry-After": RETRY_AFTER_S} if status == 503 else None
    return problem(status, slug, exc.detail, exc.errors, headers)


def _werkzeug(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    errors = flatten(data.get("messages", {}), drop_location=True) if data else None
    headers = {}
    if status == 405 and exc.get_response().headers.get("Allow"):
        headers["Allow"] = exc.get_response().headers["Allow"]
    detail = {
        404: f"No resource at {request.path}.",
        405: f"{request.method} is not allowed on {request.path}.",
        413: "The request body is larger than 1 MiB.",
        422: "The request parameters are not valid.",
    }.get(status, exc.description or _title(status))
    # a bad query parameter is a validation error like a bad body field: one `type` for both
    slug = "validation-error" if status == 422 else _slug(status)
    return problem(status, slug, detail, errors, headers)


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _werkzeug(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "internal", "An unexpected error occurred; it has been logged.")


def flatten(messages: Any, prefix: str = "", drop_location: bool = False) -> dict[str, list[str]]:
    """marshmallow's nested messages as {"dotted.path": [messages]}."""
    if drop_location and isinstance(messages, dict):
        merged: dict[str, list[str]] = {}
        for value in messages.values():
            merged.update(flatten(value, prefix))
        return merged
    if isinstance(messages, dict):
        result: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            for sub, texts in flatten(value, path).items():
                result.setdefault(sub, []).extend(texts)
        return result
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "body": list(messages)}
    if isinstance(messages, list):
        return flatten(dict(enumerate(messages)), prefix)
    return {prefix or "body": [str(messages)]}


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _slug(status: int) -> str:
    return _title(status).lower().replace(" ", "-").replace("'", "")
