"""Bearer API keys and scopes: 401 without a valid key, 403 without the view's scope."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from flask import current_app, g, request

from api.http.problems import HttpProblem
from api.runtime import Runtime
from api.storage.database import transaction
from api.storage.keys import ApiKey, find_key

F = TypeVar("F", bound=Callable[..., Any])


class Scope(StrEnum):
    EVALUATE = "evaluate"
    REQUESTS = "requests"
    APPROVALS = "approvals"
    OVERRIDES = "overrides"
    AUDIT_READ = "audit:read"
    AUDIT_REVIEW = "audit:review"
    PEOPLE = "people"
    POLICIES = "policies"
    ADMIN = "admin"


def requires(scope: Scope) -> Callable[[F], F]:
    """Mark a view with the scope its key must carry (admin implies every scope)."""

    def mark(view: F) -> F:
        view.required_scope = scope  # type: ignore[attr-defined]
        return view

    return mark


def has_scope(key: ApiKey, scope: Scope) -> bool:
    return Scope.ADMIN.value in key.scopes or scope.value in key.scopes


def current_key() -> ApiKey:
    key: ApiKey = g.api_key
    return key


def authenticate() -> None:
    """before_request for /v1: find the key, then check the view's scope."""
    if not request.path.startswith("/v1"):
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    runtime: Runtime = current_app.extensions["dealdesk"]
    with transaction(runtime.quick) as conn:
        key = find_key(conn, token.strip())
    if key is None:
        raise _unauthorized("The API key is not valid or has been revoked.")
    g.api_key = key
    view = current_app.view_functions.get(request.endpoint or "")
    scope: Scope | None = getattr(view, "required_scope", None)
    if scope is not None and request.url_rule is not None and not has_scope(key, scope):
        raise HttpProblem(403, "missing-scope", f"This API key lacks the `{scope.value}` scope.")


def _unauthorized(detail: str) -> HttpProblem:
    return HttpProblem(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
