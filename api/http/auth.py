"""Bearer API keys and scopes: 401 without a valid key, 403 without the view's scope."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from flask import Response, current_app, g, request

from api.errors import Unavailable
from api.http.problems import HttpProblem, problem
from api.runtime import Runtime
from api.storage.database import transaction
from api.storage.keys import ApiKey, find_key, hash_key

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
    WEBHOOKS = "webhooks"
    METRICS = "metrics"
    SCIM = "scim"
    ADMIN = "admin"


def requires(scope: Scope, *, snapshot: bool = False) -> Callable[[F], F]:
    """Mark a view with the scope its key must carry (admin implies every scope).

    `snapshot=True` lets the key come from the registry snapshot, for a view whose write is
    guarded by the generation in `g.key_generation` (see storage/registry.py)."""

    def mark(view: F) -> F:
        view.required_scope = scope  # type: ignore[attr-defined]
        view.snapshot_auth = snapshot  # type: ignore[attr-defined]
        return view

    return mark


def has_scope(key: ApiKey, scope: Scope) -> bool:
    return Scope.ADMIN.value in key.scopes or scope.value in key.scopes


def current_key() -> ApiKey:
    key: ApiKey = g.api_key
    return key


def authenticate() -> None:
    """before_request for /v1, /scim and /metrics: find the key, then the view's scope."""
    if not (request.path.startswith(("/v1", "/scim/")) or request.path == "/metrics"):
        return
    token = _token()
    runtime: Runtime = current_app.extensions["dealdesk"]
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "snapshot_auth", False):
        seen = runtime.registry.key(hash_key(token))
        key = seen.key
        g.key_generation = seen.generation
    else:
        key = _key_from_database(runtime, token)
    if key is None:
        raise _unauthorized("The API key is not valid or has been revoked.")
    g.api_key = key
    scope: Scope | None = getattr(view, "required_scope", None)
    if scope is not None and request.url_rule is not None and not has_scope(key, scope):
        raise HttpProblem(403, "missing-scope", f"This API key lacks the `{scope.value}` scope.")


def reauthenticate() -> None:
    """Check the key against the database itself: the snapshot it came from is outdated."""
    g.pop("key_generation", None)
    key = _key_from_database(current_app.extensions["dealdesk"], _token())
    if key is None:
        raise _unauthorized("The API key is not valid or has been revoked.")
    g.api_key = key


def confirm_snapshot_key(response: Response) -> Response:
    """after_request: an error answered to a key seen only in the snapshot wrote nothing that
    could prove the key current, so confirm it before refusing for another reason."""
    if (
        "key_generation" not in g
        or not request.path.startswith("/v1")
        or response.status_code < 400
        or response.status_code in (401, 503)
    ):
        return response
    try:
        reauthenticate()
    except HttpProblem as exc:
        return problem(exc.status, exc.slug, exc.detail, headers=exc.headers)
    except Unavailable:
        pass  # the database is gone since: the refusal already made stands
    return response


def _token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    return token.strip()


def _key_from_database(runtime: Runtime, token: str) -> ApiKey | None:
    with transaction(runtime.quick) as conn:
        return find_key(conn, token)


def _unauthorized(detail: str) -> HttpProblem:
    return HttpProblem(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
